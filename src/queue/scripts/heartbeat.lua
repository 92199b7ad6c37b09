-- Keeps this consumer's leases fresh: resets the idle time of the entries it still owns.
-- An entry already reclaimed by another consumer is left alone (no stealing it back).
-- KEYS[1] the stream. ARGV[1] group, ARGV[2] consumer, ARGV[3..] entry ids.
local renewed = 0
for i = 3, #ARGV do
  local owned = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1, ARGV[2])
  if #owned > 0 then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
    renewed = renewed + 1
  end
end
return renewed
