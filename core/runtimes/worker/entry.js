// The first module of every runtime worker thread. Plain JavaScript so that it loads the same way
// from the sources (tests run TypeScript through tsx) and from dist/: when the worker module is a
// .ts file, tsx is registered in this thread first (Node 20 does not pass the parent's loader
// hooks on to worker threads).
import { workerData } from 'node:worker_threads';

if (workerData.module.endsWith('.ts')) {
  const { register } = await import('tsx/esm/api');
  register();
}
const workerModule = await import(workerData.module);
export default workerModule.default;
