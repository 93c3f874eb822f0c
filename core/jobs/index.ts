export { JobRunner, PermanentJobError, type JobContext, type JobHandler, type JobRunnerOptions } from './runner.js';
export { isAbandoned, newOwnerId } from './owner.js';
export { ingestionHandler } from './ingestionHandler.js';
export { createRetrieval, type Retrieval, type RetrievalOptions } from './retrieval.js';
