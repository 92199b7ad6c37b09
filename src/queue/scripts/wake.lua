-- Wakes a snoozed job early: its look-again time becomes now, so the promoter moves it
-- into its kind's stream at once. A job that is running when the wake comes is marked
-- (`wake_requested`): should this attempt end in a snooze, the snooze is due at once
-- (settle.lua), so a wake that raced the attempt is not lost. Anything else (queued,
-- retrying, finished, gone) is left alone: it will run, or has run, anyway.
-- KEYS[1] the job's record, KEYS[2] its kind's delayed set. ARGV[1] now, ARGV[2] the id.
-- Returns 1 when the job was woken, 2 when it was marked, 0 otherwise.
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'running' then
  redis.call('HSET', KEYS[1], 'wake_requested', ARGV[1])
  return 2
end
if state ~= 'snoozed' then
  return 0
end
if not redis.call('ZSCORE', KEYS[2], ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[2], 'XX', ARGV[1], ARGV[2])
redis.call('HSET', KEYS[1], 'next_attempt_at', ARGV[1])
return 1
