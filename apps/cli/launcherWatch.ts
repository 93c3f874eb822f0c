import fs from 'node:fs';

/** The parent of a process, from /proc (Linux); undefined once it is gone or elsewhere. */
function parentOf(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid …": comm may hold spaces and parentheses, so read after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return Number.isInteger(ppid) ? ppid : undefined;
  } catch {
    return undefined;
  }
}

function commandLine(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

/** The processes between this one and its launcher, launcher last. `npx llmsvc serve` runs
 *  npm → sh -c → node: npm forwards SIGTERM to the shell only, and a SIGKILLed npm leaves the
 *  shell behind, so the launcher is the nearest npm ancestor, not only the parent. */
export function launcherChain(launchedByNpm: boolean): number[] {
  const chain = [process.ppid];
  if (!launchedByNpm) return chain;
  const isNpm = (pid: number) => /\bnpm\b|npm-cli\.js|npx-cli\.js/.test(commandLine(pid));
  for (let depth = 0; depth < 3 && !isNpm(chain.at(-1)!); depth++) {
    const next = parentOf(chain.at(-1)!);
    if (next === undefined || next <= 1) break;
    chain.push(next);
  }
  // No npm within reach (an npm_* variable inherited by something npm did not start directly, as
  // under `npm test`): only the direct parent is watched.
  return isNpm(chain.at(-1)!) ? chain : [process.ppid];
}

/** Calls `onGone` once, when the launcher (or a process between it and this one) has exited: each
 *  process of the chain keeps the parent it had. Node cannot ask the kernel for a parent-death
 *  signal (prctl PR_SET_PDEATHSIG), so it looks once a second; the timer does not keep the
 *  process alive. A process started by init or a service manager (parent pid 1) is never stopped. */
export function watchLauncher(chain: number[], onGone: () => void, intervalMs = 1000): () => void {
  const expected = [process.pid, ...chain];
  const alive = () => {
    if (process.ppid !== expected[1]) return false;
    for (let index = 1; index < expected.length - 1; index++) if (parentOf(expected[index]!) !== expected[index + 1]) return false;
    return true;
  };
  if (chain[0]! <= 1) return () => {};
  const timer = setInterval(() => {
    if (alive()) return;
    clearInterval(timer);
    onGone();
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
