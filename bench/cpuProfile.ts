// Reads a V8 .cpuprofile (as written by `node --cpu-prof`) and says where the main thread's CPU went
// during a time window: by owner (the package or llmsvc module that caused the work) and by function
// (inclusive time). Used by bench/gateway.ts to name the per-request costs of the gateway path.
import fs from 'node:fs';
import path from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  /** Sampled µs in the window that were not idle. */
  busyUs: number;
  idleUs: number;
  /** Samples in the window (all kinds). */
  samples: number;
  /** Owner → self µs, summing to busyUs. */
  owners: Map<string, number>;
  /** "function (file:line)" → inclusive µs (each frame counted once per sample). */
  inclusive: Map<string, number>;
  /** Frames of llmsvc's own files only, same measure. */
  projectInclusive: Map<string, number>;
  /** "function (file:line)" of the sampled frame → self µs. */
  self: Map<string, number>;
}

/** Packages grouped into the costs the gateway benchmark asks about. */
const packageGroups: [RegExp, string][] = [
  [/^better-sqlite3$/, 'SQLite (better-sqlite3 + core/store)'],
  [/^(pino|pino-std-serializers|sonic-boom|fast-redact|@pinojs\/.*|thread-stream|fast-safe-stringify|quick-format-unescaped|atomic-sleep|on-exit-leak-free|safe-stable-stringify)$/, 'pino logging'],
  [/^(fastify|@fastify\/.*|find-my-way|avvio|fast-json-stringify|light-my-request|secure-json-parse|toad-cache|fast-querystring|fast-decode-uri-component|rfdc|abstract-logging|process-warning|ret|safe-regex2|fast-uri|ajv|json-schema-ref-resolver|content-type|proxy-addr|forwarded|ipaddr\.js|cookie|set-cookie-parser|semver)$/, 'fastify (routing, hooks, reply)'],
  [/^openai$/, 'openai SDK (request build, SSE parse)'],
  [/^undici$/, 'undici (upstream HTTP client)'],
  [/^zod$/, 'zod (validation)'],
  [/^(prom-client|tdigest|bintrees)$/, 'prom-client (metrics)'],
  [/^(tsx|esbuild|get-tsconfig)$/, 'tsx loader'],
];

function packageOf(url: string): string | undefined {
  const at = url.lastIndexOf('/node_modules/');
  if (at < 0) return undefined;
  const rest = url.slice(at + '/node_modules/'.length).split('/');
  return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
}

/** The owner of one frame, or undefined for native and node-internal frames (the caller decides). */
function ownerOfFrame(frame: CallFrame, projectRoot: string): string | undefined {
  const { url } = frame;
  if (!url || url.startsWith('node:')) return undefined;
  const pkg = packageOf(url);
  if (pkg) return packageGroups.find(([pattern]) => pattern.test(pkg))?.[1] ?? `other package: ${pkg}`;
  const file = url.startsWith('file://') ? decodeURIComponent(new URL(url).pathname) : url;
  // The build (dist/core/x.js) and the sources (core/x.ts) are the same modules.
  const relative = path.relative(projectRoot, file).replace(/^dist\//, '');
  if (relative.startsWith('core/store/')) return 'SQLite (better-sqlite3 + core/store)';
  if (relative.startsWith('core/') || relative.startsWith('apps/')) {
    const parts = relative.split('/');
    return `llmsvc ${parts.slice(0, parts.length > 3 ? 3 : 2).join('/').replace(/\.(ts|js)$/, '')}`;
  }
  return `other: ${relative}`;
}

function frameLabel(frame: CallFrame, projectRoot: string): string {
  const name = frame.functionName || '(anonymous)';
  if (!frame.url) return `${name} (native)`;
  let where = frame.url;
  const pkg = packageOf(where);
  if (pkg) where = `${pkg}/${where.slice(where.lastIndexOf('/') + 1)}`;
  else if (where.startsWith('file://')) {
    // Sources run through tsx report line 1 for every function (no source map here): the name says enough.
    return `${name} (${path.relative(projectRoot, decodeURIComponent(new URL(where).pathname))})`;
  }
  return `${name} (${where}:${frame.lineNumber + 1})`;
}

/** Summarizes the samples taken between `fromUs` and `toUs` (V8's monotonic clock, µs — on Linux
 *  the same clock as process.hrtime in any process). Without a window, the whole profile. */
export function summarizeProfile(file: string, projectRoot: string, window?: { fromUs: number; toUs: number }): ProfileSummary {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

  // Per node: its owner (innermost frame that has one; node internals and natives inherit their
  // caller's) and the labels of its stack, computed once.
  const ownerCache = new Map<number, string>();
  const ownerOf = (id: number): string => {
    const cached = ownerCache.get(id);
    if (cached) return cached;
    const node = byId.get(id)!;
    const name = node.callFrame.functionName;
    let owner: string;
    if (name === '(garbage collector)') owner = 'GC';
    else if (name === '(program)') owner = 'V8 / native, no JS stack (program)';
    else if (name === '(idle)') owner = '(idle)';
    else if (name === '(root)') owner = 'node core (HTTP, net, streams, timers)';
    else {
      const own = ownerOfFrame(node.callFrame, projectRoot);
      const up = parent.get(id);
      owner = own ?? (up === undefined ? 'node core (HTTP, net, streams, timers)' : ownerOf(up));
    }
    ownerCache.set(id, owner);
    return owner;
  };

  const summary: ProfileSummary = { busyUs: 0, idleUs: 0, samples: 0, owners: new Map(), inclusive: new Map(), projectInclusive: new Map(), self: new Map() };
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i]!;
    if (window && (t < window.fromUs || t > window.toUs)) continue;
    // A sample stands for the time until the next one.
    const weight = profile.timeDeltas[i + 1] ?? 0;
    const id = profile.samples[i]!;
    summary.samples++;
    const owner = ownerOf(id);
    if (owner === '(idle)') {
      summary.idleUs += weight;
      continue;
    }
    summary.busyUs += weight;
    summary.owners.set(owner, (summary.owners.get(owner) ?? 0) + weight);
    const leaf = byId.get(id)!.callFrame;
    const leafLabel = leaf.functionName.startsWith('(') ? leaf.functionName : frameLabel(leaf, projectRoot);
    summary.self.set(leafLabel, (summary.self.get(leafLabel) ?? 0) + weight);
    const seen = new Set<string>();
    for (let node: number | undefined = id; node !== undefined; node = parent.get(node)) {
      const frame = byId.get(node)!.callFrame;
      if (frame.functionName.startsWith('(')) continue;
      const label = frameLabel(frame, projectRoot);
      if (seen.has(label)) continue;
      seen.add(label);
      summary.inclusive.set(label, (summary.inclusive.get(label) ?? 0) + weight);
      if (frame.url.startsWith('file://') && !frame.url.includes('/node_modules/')) {
        summary.projectInclusive.set(label, (summary.projectInclusive.get(label) ?? 0) + weight);
      }
    }
  }
  return summary;
}

export function topEntries(map: ReadonlyMap<string, number>, count: number): [string, number][] {
  return [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, count);
}
