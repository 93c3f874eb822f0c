export { VectorStoreService, notFound, type VectorStoreServiceDeps } from './vectorStoreService.js';
export { FileService, type Upload } from './fileService.js';
export { ingestFile, ingestionJobKind, recordIngestionFailure, type IngestionDeps, type IngestionPayload, type IngestionOutcome } from './ingestion.js';
export { UnreadableFileError, type DocumentReader } from './documents.js';
export { documentReader, defaultDocumentReader, extractedText, type TextExtractor } from './documentReader.js';
export { approximateTokenizer } from './approximateTokenizer.js';
export type { EmbedFunction, EmbedResult } from './embedding.js';
export * from './requests.js';
export { toAttributeFilter } from './filters.js';
