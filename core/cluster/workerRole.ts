import { AggregatorRegistry, type Registry } from 'prom-client';
import { LiveStats, type LiveStatsExport } from '../server/liveStats.js';
import type { WorkerRole } from '../server/buildServer.js';
import type { PrimaryChannel } from './channel.js';

/** An HTTP worker's part in the box (`llmsvc serve --workers N`): /metrics and /admin/v1/stats
 *  ask the primary, which gathers every worker's figures; `background` says whether this worker
 *  is the one that runs the once-per-box work. */
export function workerRole(channel: PrimaryChannel, registry: Registry, background: boolean): WorkerRole {
  // prom-client answers the primary's metric requests (its own IPC messages) from this registry.
  AggregatorRegistry.setRegistries([registry]);
  new AggregatorRegistry(); // installs that listener
  let live: LiveStats | undefined;
  channel.answer((request) => {
    if (request.op === 'live') return live?.export();
    throw new Error(`unknown request ${String(request.op)}`);
  });
  return {
    background,
    boxMetrics: () => channel.ask<string>({ op: 'metrics' }),
    liveAcrossWorkers: async () => LiveStats.merge(await channel.ask<LiveStatsExport[]>({ op: 'live' })),
    shareLive: (own) => (live = own),
  };
}
