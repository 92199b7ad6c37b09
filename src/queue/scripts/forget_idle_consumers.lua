-- Removes consumers (dead worker processes' names) that hold nothing and have been idle
-- longer than ARGV[2] ms. A consumer with pending entries is never removed: deleting it
-- would delete its pending entries, and with them the only trace of jobs to reclaim.
-- A live worker that happens to be removed is re-created by its next read.
-- KEYS[1] the stream. ARGV[1] group, ARGV[2] idle threshold (ms).
local ok, consumers = pcall(redis.call, 'XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
if not ok then
  return 0
end
local removed = 0
for _, consumer in ipairs(consumers) do
  local info = {}
  for i = 1, #consumer, 2 do
    info[consumer[i]] = consumer[i + 1]
  end
  if info['pending'] == 0 and info['idle'] > tonumber(ARGV[2]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], info['name'])
    removed = removed + 1
  end
end
return removed
