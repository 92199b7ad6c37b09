-- Fires a schedule's tick: enqueues its job and moves the schedule to its next tick, in one
-- step, only if the tick is still the one the caller read (a compare-and-set: of two
-- processes that read the same tick, the second finds it moved and does nothing).
-- KEYS[OWN] the schedule's hash, KEYS[OWN+1] the job's record, KEYS[OWN+2] its kind's
-- stream, KEYS[OWN+3] the kinds set.
-- ARGV[1] now, ARGV[2] the tick read, ARGV[3] the next tick, ARGV[4] when that one runs,
-- then the job's 8 arguments (prelude's create_job): id, kind, payload, reference,
-- metadata, children, traceparent, app ('': a scheduled job is internal).
-- Returns {'fired' | 'existed' | 'moved' | 'not_due' | 'missing', next run time or ''}:
-- 'existed' when the tick's job was there already (nothing enqueued, the schedule moved on).
local now = ARGV[1]
local f = redis.call('HMGET', KEYS[OWN], 'tick', 'next_run_at')
if not f[1] then
  return {'missing', ''}
end
if f[1] ~= ARGV[2] then
  return {'moved', f[2] or ''}
end
if tonumber(f[2] or now) > tonumber(now) then
  return {'not_due', f[2]}
end
local created = create_job(KEYS[OWN + 1], KEYS[OWN + 2], KEYS[OWN + 3], now, ARGV[5], ARGV[6],
  ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11], ARGV[12])
redis.call('HSET', KEYS[OWN], 'tick', ARGV[3], 'next_run_at', ARGV[4], 'last_tick', ARGV[2],
  'last_run_at', now, 'last_job', ARGV[5])
return {created and 'fired' or 'existed', ARGV[4]}
