-- Gives back a job this worker took but never started (graceful shutdown): it goes back
-- to the stream at once instead of waiting for its lease to run out.
-- KEYS[OWN] the record, KEYS[OWN+1] the stream. ARGV[1] now, ARGV[2] token ('' for an entry that
-- was delivered but never claimed), ARGV[3] entry id, ARGV[4] group.
local job = KEYS[OWN]
local f = redis.call('HMGET', job, 'token', 'state', 'id')
redis.call('XACK', KEYS[OWN + 1], ARGV[4], ARGV[3])
redis.call('XDEL', KEYS[OWN + 1], ARGV[3])
if not f[2] or is_final(f[2]) then
  return 'gone'
end
if ARGV[2] ~= '' and f[1] ~= ARGV[2] then
  -- Another worker holds it now; it owns the job's next step.
  return 'stale'
end
redis.call('HSET', job, 'token', '')
move_state(job, f[3], f[2], 'queued', ARGV[1])
redis.call('XADD', KEYS[OWN + 1], '*', 'id', f[3])
return 'ok'
