import { after, before } from 'node:test';
import { getLlama, type Llama, type LlamaModel } from 'node-llama-cpp';
import { tinyModelPath } from './server.js';

/** The tiny model loaded in this test process (CPU, prebuilt binary) for the file's tests, and
 *  disposed of after them. Read `.model` inside a test, once `before` has run. */
export function useTinyModel(): { readonly llama: Llama; readonly model: LlamaModel } {
  const loaded = {} as { llama: Llama; model: LlamaModel };
  before(async () => {
    loaded.llama = await getLlama({ build: 'never', gpu: false });
    loaded.model = await loaded.llama.loadModel({ modelPath: tinyModelPath });
  });
  after(async () => {
    await loaded.model.dispose();
    await loaded.llama.dispose();
  });
  return loaded;
}
