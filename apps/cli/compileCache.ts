// Node 22.1+ can keep V8's compiled code of the modules it loads on disk, so that later starts skip
// compiling them; `serve` loads a few thousand modules (fastify, zod, pino, the SDKs…) as it starts.
// Imported first by main.ts, so it covers every module loaded after main's own few imports; the
// folder goes into NODE_COMPILE_CACHE so the runtime thread (a worker) uses the cache too. Node 20
// has no such cache: there this does nothing. Node's own NODE_DISABLE_COMPILE_CACHE=1 turns it off,
// and NODE_COMPILE_CACHE picks the folder (default: node-compile-cache in the OS temp folder).
import module from 'node:module';

type EnableCompileCache = () => { directory?: string } | undefined;
const enableCompileCache = (module as { enableCompileCache?: EnableCompileCache }).enableCompileCache;
try {
  const directory = enableCompileCache?.()?.directory;
  if (directory && !process.env.NODE_COMPILE_CACHE) process.env.NODE_COMPILE_CACHE = directory;
} catch {
  // An optimisation only: a start never fails for want of it.
}
