export type * from './types.js';
export { LlamaProvider } from './llama/index.js';
export { generationStream } from './generationStream.js';
