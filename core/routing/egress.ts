import { ApiError } from '../errors/index.js';

export interface EgressSettings {
  /** Air-gapped: no request leaves the machine. */
  offline: boolean;
  /** When given, upstream base URLs must be on one of these hosts ("host" or "host:port"). */
  allowlist?: readonly string[];
}

/** Why a request to this base URL may not leave the machine, or undefined when it may. */
export function egressRefusal(baseUrl: string, settings: EgressSettings): string | undefined {
  if (settings.offline) return 'llmsvc runs offline (--offline), so only local models are served';
  if (!settings.allowlist) return undefined;
  const url = new URL(baseUrl);
  const allowed = settings.allowlist.some((entry) => entry.toLowerCase() === url.hostname.toLowerCase() || entry.toLowerCase() === url.host.toLowerCase());
  return allowed ? undefined : `${url.host} is not on the egress allowlist (${settings.allowlist.join(', ') || 'empty'})`;
}

/** The error a request gets when every target of its model is refused by the egress policy. */
export function egressBlocked(model: string, reasons: string[]): ApiError {
  return new ApiError(
    'LLMSVC_ERR_EGRESS_BLOCKED',
    `Model "${model}" is served only by upstream providers this server may not reach: ${[...new Set(reasons)].join('; ')}. Use a local model, or ask the operator to allow the upstream.`,
    'model',
  );
}
