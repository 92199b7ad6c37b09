-- Pauses every call to a vendor (after a 429): nobody is granted a request until it ends.
-- A pause never shortens one already set. Reads Redis's clock, like rate_acquire.lua.
-- KEYS[1] the vendor's pause key. ARGV[1] how long (ms).
-- Returns when the pause ends (unix ms).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local wanted = tonumber(ARGV[1])
local left = redis.call('PTTL', KEYS[1])
if left < wanted then
  redis.call('SET', KEYS[1], now + wanted, 'PX', wanted)
  return now + wanted
end
return now + left
