export { KeyService, keyView, adminKeyId, adminKeyFile } from './keyService.js';
export { createKeySchema, updateKeySchema, type CreateKeyInput, type UpdateKeyInput } from './keyInput.js';
export { Limiter, formatReset, hasNoLimits, hasTokenQuota, type QuotaUsage, type TokenReservation } from './limiter.js';
export { createRateLimiter, limitsInRedis, MemoryRateLimiter, unlimitedAdmission, type Admitted, type RateLimiter } from './rateLimiter.js';
export { AuthThrottle, createAuthThrottle, type FailureThrottle } from './authThrottle.js';
export { modelAllowed } from './modelPatterns.js';
export { systemClock, utcDay, utcMonthStartDay, msUntilNextUtcDay, msUntilNextUtcMonth, type Clock } from './clock.js';
export { generateSecret, hashSecret, secretPrefix } from './secrets.js';
