export * from './types.js';
export { SqliteVectorIndex, loadSqliteVec, validateIndexOptions, type SqliteVectorIndexOptions } from './SqliteVectorIndex.js';
export { reciprocalRankFusion, rrfK } from './fusion.js';
export { SqliteVectorIndexAccess } from './sqliteAsync.js';
