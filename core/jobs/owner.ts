import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { JobRecord } from '../store/index.js';

/** Who holds a running job: host, process id and a token for this runner. */
export function newOwnerId(): string {
  return `${os.hostname()}:${process.pid}:${randomBytes(6).toString('hex')}`;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A running job nobody works on any more: its process on this host is gone (killed, crashed), or
 *  its heartbeat is older than the lease (a runner on another host, or a hung one). The process
 *  check lets a restarted server resume at once instead of waiting out the lease. */
export function isAbandoned(job: JobRecord, self: string, now: number, leaseMs: number): boolean {
  if (job.owner === self) return false;
  if (job.owner === null || job.heartbeatAt === null || now - job.heartbeatAt > leaseMs) return true;
  return ownerProcessGone(job.owner);
}

/** Whether an owner id (newOwnerId) names a process of this host that no longer runs: what it
 *  holds can be taken over at once, without waiting for its lease. Only this host's processes can
 *  be checked; another host's owner is never called gone here (its lease runs out instead). */
export function ownerProcessGone(owner: string): boolean {
  const [host, pid] = owner.split(':');
  const ownPid = Number(pid);
  return host === os.hostname() && ownPid !== process.pid && Number.isInteger(ownPid) && ownPid > 0 && !processAlive(ownPid);
}
