/** Pools of OpenAI-compatible engines behind one provider id: health checks, least-outstanding
 *  balancing, a sticky member per conversation prefix; the router runs each member as a target
 *  of its own, with its own retries and circuit breaker. */
export { EnginePool, type EnginePoolOptions, type PoolMember, type PoolMemberSpec, type PoolObserver } from './enginePool.js';
export { checkUrl, type HealthCheckSettings } from './healthCheck.js';
export { orderMembers, type MemberLoad, type OrderOptions } from './memberOrder.js';
export { conversationPrefixHash, fnv1a, rendezvousScore } from './stickyKey.js';
