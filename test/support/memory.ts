import v8 from 'node:v8';
import vm from 'node:vm';

// The test runner starts files without --expose-gc; this flag turns the collector's global on for
// contexts created afterwards, so memory tests can measure what is live rather than what is garbage.
v8.setFlagsFromString('--expose-gc');
const collectGarbage = vm.runInNewContext('gc') as () => void;

export interface MemorySample {
  rssMb: number;
  heapUsedMb: number;
}

/** Memory after a full collection: what the process still holds, not what it has yet to free. */
export function settledMemory(): MemorySample {
  collectGarbage();
  const { rss, heapUsed } = process.memoryUsage();
  return { rssMb: rss / 2 ** 20, heapUsedMb: heapUsed / 2 ** 20 };
}
