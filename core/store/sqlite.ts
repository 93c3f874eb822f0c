import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';

// better-sqlite3 in the build that is safe on this Node.js (both are dependencies; same API):
// - 12 is compiled against Node's C++ API. From Node 24.19, node::ObjectWrap registers an
//   environment cleanup hook per object, and a statement the GC collects at the wrong moment aborts
//   the process ("Assertion failed: (env) != nullptr" in RemoveEnvironmentCleanupHook).
// - 13 is built on Node-API and ships prebuilt, but needs Node 22: on Node 20 it segfaults.
const nodeMajor = Number(process.versions.node.split('.')[0]);
const sqlitePackage = nodeMajor >= 22 ? 'better-sqlite3-napi' : 'better-sqlite3';

export const Database = createRequire(import.meta.url)(sqlitePackage) as typeof BetterSqlite3;
export type Database = BetterSqlite3.Database;
