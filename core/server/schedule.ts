import type { FastifyRequest } from 'fastify';
import { ApiError } from '../errors/index.js';
import type { ScheduleInfo } from '../providers/index.js';

const priorities = ['interactive', 'background'] as const;

/** The scheduler's view of a request: the caller is the API key (the client address when auth
 *  is off), the user is what the client names (OpenAI's `user`, Anthropic's metadata.user_id),
 *  and the priority comes from the `x-llmsvc-priority` header (interactive unless it says
 *  background). */
export function scheduleOf(request: FastifyRequest, user: string | undefined): ScheduleInfo {
  const header = request.headers['x-llmsvc-priority'];
  const priority = header === undefined ? 'interactive' : header;
  if (typeof priority !== 'string' || !(priorities as readonly string[]).includes(priority)) {
    throw new ApiError('LLMSVC_ERR_INVALID_PARAM', `The x-llmsvc-priority header must be one of: ${priorities.join(', ')}.`, 'x-llmsvc-priority');
  }
  return {
    caller: request.apiKey ? `key:${request.apiKey.id}` : `address:${request.ip}`,
    user: user || undefined,
    priority: priority as ScheduleInfo['priority'],
  };
}
