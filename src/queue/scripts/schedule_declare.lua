-- Declares a schedule (a scheduler loop starting): records what it is, and where its ticks
-- start, unless it is known with the same interval already: then its next tick is kept, so
-- a restart neither loses nor repeats one.
-- KEYS[1] the schedule's hash, KEYS[2] the set of schedule names.
-- ARGV[1] name, ARGV[2] kind, ARGV[3] every (ms), ARGV[4] jitter (ms), ARGV[5] now,
-- ARGV[6] its first tick, ARGV[7] when that tick runs (the tick plus its jitter).
-- Returns 'kept' or 'started'.
redis.call('SADD', KEYS[2], ARGV[1])
local f = redis.call('HMGET', KEYS[1], 'every_ms', 'tick')
redis.call('HSET', KEYS[1], 'name', ARGV[1], 'kind', ARGV[2], 'jitter_ms', ARGV[4],
  'declared_at', ARGV[5])
if f[1] == ARGV[3] and f[2] then
  return 'kept'
end
-- New, or its interval changed: the old ticks mean nothing on the new grid.
redis.call('HSET', KEYS[1], 'every_ms', ARGV[3], 'tick', ARGV[6], 'next_run_at', ARGV[7])
return 'started'
