/** The Redis limiter's one Lua script. Redis runs a script atomically, so every check and the
 *  reservation that follows it are one step across all nodes, as they are one synchronous step in
 *  the in-process limiter; and every time is Redis's TIME, so nodes whose clocks differ still
 *  share one window. The first argument picks the operation.
 *
 *  KEYS (one API key's, all with the same hash tag):
 *   1 rq     sorted set: admitted requests of the last minute (member: admission id, score: time)
 *   2 slots  sorted set: concurrency slots (member: admission id, score: lease deadline)
 *   3 tk     sorted set: token entries of the last minute (member: reservation id, score: time)
 *   4 tkv    hash: reservation id → its tokens in the window
 *   5 tks    string: the sum of tkv (kept as entries come, settle and leave: O(1) checks)
 *   6 res    sorted set: reservations of running requests (member: reservation id, score: lease deadline)
 *   7 resv   hash: reservation id → tokens reserved
 *   8 ress   string: the sum of resv (what the quotas count beside the usage table)
 *
 *  Every reply: { status, detail, now, requests, oldestRequestAt, tokens, oldestTokenAt } with
 *  status 0 ok, 1 RPM full, 2 concurrency full, 3 TPM, 4 daily quota, 5 monthly quota; detail is
 *  the used or committed tokens of a refusal; an oldest time is -1 when its window is empty. */
export const limiterScript = `
local rq, slots, tk, tkv, tks, res, resv, ress = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local window = 60000
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

-- Removes the members of sorted set z scored at or below upTo, and their values in hash h from the sum s.
local function drop(z, h, s, upTo)
  local ids = redis.call('ZRANGEBYSCORE', z, '-inf', upTo)
  if #ids == 0 then return end
  local total = 0
  for i = 1, #ids, 500 do
    local chunk = { unpack(ids, i, math.min(i + 499, #ids)) }
    local values = redis.call('HMGET', h, unpack(chunk))
    for j = 1, #values do total = total + (tonumber(values[j]) or 0) end
    redis.call('HDEL', h, unpack(chunk))
  end
  redis.call('ZREMRANGEBYSCORE', z, '-inf', upTo)
  redis.call('DECRBY', s, total)
end

-- Keys expire once their newest entry would have left: nothing is kept for a key gone idle.
local function expireAfterLast(z, extraMs, companions)
  local last = redis.call('ZRANGE', z, -1, -1, 'WITHSCORES')
  if #last == 0 then return end
  local ttl = math.max(1, tonumber(last[2]) + extraMs - now + 1000)
  redis.call('PEXPIRE', z, ttl)
  for _, key in ipairs(companions) do redis.call('PEXPIRE', key, ttl) end
end

redis.call('ZREMRANGEBYSCORE', rq, '-inf', now - window)
drop(tk, tkv, tks, now - window)
drop(res, resv, ress, now)
redis.call('ZREMRANGEBYSCORE', slots, '-inf', now)

local function reply(status, detail)
  local first = redis.call('ZRANGE', rq, 0, 0, 'WITHSCORES')
  local firstToken = redis.call('ZRANGE', tk, 0, 0, 'WITHSCORES')
  return { status, detail, now, redis.call('ZCARD', rq), tonumber(first[2] or -1), tonumber(redis.call('GET', tks) or 0), tonumber(firstToken[2] or -1) }
end

-- ARGV from a: tokens, reservation id, tpm, daily, monthly (-1: none), used today, used this month, lease ms.
local function reserve(a)
  local tokens, id, tpm = tonumber(ARGV[a]), ARGV[a + 1], tonumber(ARGV[a + 2])
  local daily, monthly = tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
  local usedDay, usedMonth, lease = tonumber(ARGV[a + 5]), tonumber(ARGV[a + 6]), tonumber(ARGV[a + 7])
  if tpm >= 0 then
    local used = tonumber(redis.call('GET', tks) or 0)
    -- A request whose size is not known up front (tokens = 0) is refused only when the window is full.
    if used + tokens > tpm or (tokens == 0 and used >= tpm) then return 3, used end
  end
  if daily >= 0 or monthly >= 0 then
    local reserved = tonumber(redis.call('GET', ress) or 0)
    local checks = { { daily, usedDay, 4 }, { monthly, usedMonth, 5 } }
    for _, check in ipairs(checks) do
      if check[1] >= 0 then
        local committed = check[2] + reserved
        if committed + tokens > check[1] or (tokens == 0 and committed >= check[1]) then return check[3], committed end
      end
    end
  end
  redis.call('ZADD', tk, now, id)
  redis.call('HSET', tkv, id, tokens)
  redis.call('INCRBY', tks, tokens)
  expireAfterLast(tk, window, { tkv, tks })
  redis.call('ZADD', res, now + lease, id)
  redis.call('HSET', resv, id, tokens)
  redis.call('INCRBY', ress, tokens)
  expireAfterLast(res, 0, { resv, ress })
  return 0, 0
end

local op = ARGV[1]
if op == 'admit' then
  -- ARGV: rpm, max concurrent (-1: none), admission id, lease ms, then 1 and reserve's arguments, or 0.
  local rpm, maxConcurrent, id, lease = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])
  if rpm >= 0 and redis.call('ZCARD', rq) >= rpm then return reply(1, 0) end
  if maxConcurrent >= 0 and redis.call('ZCARD', slots) >= maxConcurrent then return reply(2, 0) end
  redis.call('ZADD', rq, now, id)
  expireAfterLast(rq, window, {})
  redis.call('ZADD', slots, now + lease, id)
  expireAfterLast(slots, 0, {})
  if ARGV[6] == '1' then return reply(reserve(7)) end
  return reply(0, 0)
elseif op == 'reserve' then
  return reply(reserve(2))
elseif op == 'end' then
  -- ARGV: admission id whose slot to free ('' for none), then pairs of reservation id and tokens used.
  if ARGV[2] ~= '' then redis.call('ZREM', slots, ARGV[2]) end
  for i = 3, #ARGV, 2 do
    local id, actual = ARGV[i], tonumber(ARGV[i + 1])
    local old = redis.call('HGET', tkv, id)
    -- Only while the entry is in the window: one that left it no longer counts.
    if old then
      redis.call('INCRBY', tks, actual - tonumber(old))
      redis.call('HSET', tkv, id, actual)
    end
    local reserved = redis.call('HGET', resv, id)
    if reserved then
      redis.call('DECRBY', ress, tonumber(reserved))
      redis.call('HDEL', resv, id)
      redis.call('ZREM', res, id)
    end
  end
  return reply(0, 0)
elseif op == 'refresh' then
  -- ARGV: lease ms, then the ids of slots and reservations still held by running requests.
  local deadline = now + tonumber(ARGV[2])
  for i = 3, #ARGV do
    redis.call('ZADD', slots, 'XX', deadline, ARGV[i])
    redis.call('ZADD', res, 'XX', deadline, ARGV[i])
  end
  expireAfterLast(slots, 0, {})
  expireAfterLast(res, 0, { resv, ress })
  return reply(0, 0)
end
return redis.error_reply('unknown limiter operation ' .. tostring(op))
`;
