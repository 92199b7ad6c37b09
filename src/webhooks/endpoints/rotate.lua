-- Gives an endpoint a new secret, atomically; the current one keeps signing for a while.
--
-- KEYS[1] the endpoint's hash; KEYS[2] its rotation counter (a string with a TTL).
-- ARGV[1] the new secret; ARGV[2] now (ms); ARGV[3] until when (ms) the current secret
-- keeps signing; ARGV[4] '1' to refuse an endpoint declared in the config file (its secret
-- comes from the environment); ARGV[5] the most rotations per window (0: no limit);
-- ARGV[6] the window (ms); ARGV[7] the app the endpoint must belong to ('': any, the
-- operator's): another app's endpoint answers {'missing'}, as if it did not exist.
--
-- At most ONE previous secret is kept: the current one becomes `previous_secrets`
-- (`<expires ms>:<whsec_...>`) unless its grace is already over, and whatever was there
-- before goes, in its grace or not. So a delivery carries at most two signatures, however
-- often the secret is rotated.
--
-- The limit is a fixed window that starts with the first rotation counted: the counter
-- expires one window after it. A refused rotation changes nothing.
--
-- Answers {'ok'}, {'missing'}, {'config'} or {'limited', <ms until a rotation is allowed>}.
local hash, counter = KEYS[1], KEYS[2]

if redis.call('EXISTS', hash) == 0 then return {'missing'} end
if ARGV[7] ~= '' and (redis.call('HGET', hash, 'app') or 'default') ~= ARGV[7] then
  return {'missing'}
end
if ARGV[4] == '1' and redis.call('HGET', hash, 'source') == 'config' then return {'config'} end

local now, until_ms = tonumber(ARGV[2]), tonumber(ARGV[3])
local limit, window = tonumber(ARGV[5]), tonumber(ARGV[6])
if limit > 0 then
  local count = tonumber(redis.call('GET', counter) or '0')
  if count >= limit then
    local ttl = redis.call('PTTL', counter)
    if ttl < 0 then
      -- A counter without expiry would refuse forever: give it its window.
      redis.call('PEXPIRE', counter, window)
      ttl = window
    end
    return {'limited', tostring(ttl)}
  end
  if redis.call('INCR', counter) == 1 then redis.call('PEXPIRE', counter, window) end
end

local previous = ''
if until_ms > now then
  previous = ARGV[3] .. ':' .. redis.call('HGET', hash, 'secret')
end
redis.call('HSET', hash, 'secret', ARGV[1], 'previous_secrets', previous, 'updated_at', ARGV[2])
return {'ok'}
