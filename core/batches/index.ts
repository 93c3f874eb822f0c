export { BatchWorker, type BatchWorkerOptions, type LineExecutor, type LineRequest, type LineResponse } from './worker.js';
export { BatchService, createAnthropicBatchSchema, createOpenAiBatchSchema, listBatchJobs, type BatchCaller } from './service.js';
export { createBatchMetrics, type BatchMetrics } from './metrics.js';
export { batchEndpoints, InputValidator } from './validate.js';
