-- The named baseline for MTOKEN.EXPIREALL (log a user out everywhere), in
-- the same layout as create.lua: delete every token entry the user's index
-- names, then the index. Token keys are built here from the index members;
-- they share the index's hash tag, so they live on its slot.
--
-- KEYS[1] user index   mtoken:{<user>}:u:<user>
-- ARGV[1] token key prefix  mtoken:{<user>}:t:
-- Returns the number of token entries removed.
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
local removed = 0
local batch = {}
for i = 1, #members do
  batch[#batch + 1] = ARGV[1] .. members[i]
  if #batch == 1000 then
    removed = removed + redis.call('DEL', unpack(batch))
    batch = {}
  end
end
if #batch > 0 then
  removed = removed + redis.call('DEL', unpack(batch))
end
redis.call('DEL', KEYS[1])
return removed
