-- Wakes a snoozed job early: its look-again time becomes now, so the promoter moves it
-- into its kind's stream at once. Anything but a snoozed job that waits in its delayed
-- set is left alone (a job already running, retrying or finished is not woken).
-- KEYS[1] the job's record, KEYS[2] its kind's delayed set. ARGV[1] now, ARGV[2] the id.
-- Returns 1 when the job was woken, 0 otherwise.
if redis.call('HGET', KEYS[1], 'state') ~= 'snoozed' then
  return 0
end
if not redis.call('ZSCORE', KEYS[2], ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[2], 'XX', ARGV[1], ARGV[2])
redis.call('HSET', KEYS[1], 'next_attempt_at', ARGV[1])
return 1
