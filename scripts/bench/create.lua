-- The named baseline for MTOKEN.CREATE: what a team without the module
-- would write. The client draws the token and computes its SHA-256; this
-- script keeps the hashed entry and the user's index in step, atomically,
-- in mtoken's key layout (SPEC, "Keys"), with the hex hash in key names.
--
-- KEYS[1] token entry  mtoken:{<user>}:t:<sha256 hex>
-- KEYS[2] user index   mtoken:{<user>}:u:<user>   (zset: hash -> expiry ms)
-- ARGV[1] user id, ARGV[2] sha256 hex (the index member), ARGV[3] TTL s (0: none)
-- Returns 1 when the user had no live token before (MTOKEN.CREATE's `first`).
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local ttl = tonumber(ARGV[3])
local value = ARGV[1] .. '|' .. string.format('%d', now)
local score = '+inf'
if ttl > 0 then
  score = string.format('%d', now + ttl * 1000)
  redis.call('SET', KEYS[1], value, 'PXAT', score)
else
  redis.call('SET', KEYS[1], value)
end
-- Prune index members whose tokens have expired (their entries went with them).
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. string.format('%d', now))
local first = redis.call('ZCARD', KEYS[2]) == 0
redis.call('ZADD', KEYS[2], score, ARGV[2])
-- The index lives as long as its longest-lived token.
local top = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
if top[2] == 'inf' then
  redis.call('PERSIST', KEYS[2])
else
  redis.call('PEXPIREAT', KEYS[2], top[2])
end
if first then return 1 end
return 0
