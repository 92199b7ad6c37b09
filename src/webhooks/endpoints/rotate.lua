-- Gives an endpoint a new secret, atomically; the current one keeps signing for a while.
--
-- KEYS[1] the endpoint's hash.
-- ARGV[1] the new secret; ARGV[2] now (ms); ARGV[3] until when (ms) the current secret
-- keeps signing; ARGV[4] '1' to refuse an endpoint declared in the config file (its secret
-- comes from the environment).
--
-- The current secret joins `previous_secrets` (`<expires ms>:<whsec_...>`, separated by
-- spaces) unless its grace is already over; previous secrets that have expired are dropped.
--
-- Answers 'ok', 'missing' or 'config'.
local hash = KEYS[1]

if redis.call('EXISTS', hash) == 0 then return 'missing' end
if ARGV[4] == '1' and redis.call('HGET', hash, 'source') == 'config' then return 'config' end

local now, until_ms = tonumber(ARGV[2]), tonumber(ARGV[3])
local kept = {}
for token in string.gmatch(redis.call('HGET', hash, 'previous_secrets') or '', '%S+') do
  local expires = tonumber(string.match(token, '^(%d+):'))
  if expires and expires > now then kept[#kept + 1] = token end
end
if until_ms > now then
  kept[#kept + 1] = ARGV[3] .. ':' .. redis.call('HGET', hash, 'secret')
end
redis.call('HSET', hash, 'secret', ARGV[1], 'previous_secrets', table.concat(kept, ' '),
  'updated_at', ARGV[2])
return 'ok'
