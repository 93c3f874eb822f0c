// `npm run bench [-- --quick]`: runs every benchmark of this folder in turn, each in its own process
// (so one's loaded models and children never skew the next), passing the arguments on.
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const benchmarks = ['foundation.ts', 'scaling.ts', 'vectors.ts', 'gateway.ts', 'scaleOut.ts', 'console.ts', 'lifecycle.ts', 'embeddings.ts'];

let failed = 0;
for (const file of benchmarks) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, file), ...process.argv.slice(2)], { stdio: 'inherit' });
  if (result.status !== 0) {
    failed++;
    process.stderr.write(`bench: ${file} failed (${result.signal ?? `exit ${result.status}`})\n`);
  }
}
process.exitCode = failed > 0 ? 1 : 0;
