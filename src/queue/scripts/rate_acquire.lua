-- Takes one request from a vendor's shared budget, if there is one: a sliding-window log
-- (rate_limit.rs says why). Reads Redis's own clock, the one clock every process shares.
-- KEYS[1] the vendor's grant log (zset: one member per request granted, scored by when, ms),
-- KEYS[2] its pause (a string that exists while nobody may call the vendor).
-- ARGV[1] the window (ms), ARGV[2] how many grants this priority may find in the window and
-- still be granted (its cap), ARGV[3] a member unique to this request.
-- Returns {'granted', grants in the window with this one, now}, {'throttled', ms until this
-- priority has room, grants in the window} or {'paused', ms until the pause ends, 0}.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window, cap = tonumber(ARGV[1]), tonumber(ARGV[2])
local paused = redis.call('PTTL', KEYS[2])
if paused > 0 then
  return {'paused', paused, 0}
end
-- The window is (now - window, now]: a grant leaves it `window` ms after it was made.
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local used = redis.call('ZCARD', KEYS[1])
if used < cap then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return {'granted', used + 1, now}
end
-- Room comes when the grant that puts this priority over its cap leaves the window: the
-- (used - cap + 1)-th oldest.
local oldest = redis.call('ZRANGE', KEYS[1], used - cap, used - cap, 'WITHSCORES')
local wait = tonumber(oldest[2]) + window - now
return {'throttled', math.max(wait, 1), used}
