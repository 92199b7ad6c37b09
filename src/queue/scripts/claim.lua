-- Takes a job delivered to this worker (by XREADGROUP or XAUTOCLAIM) and marks it running
-- under a fresh lease token. KEYS[9] the record, KEYS[10] the stream.
-- ARGV[1] now, ARGV[2] stream entry id, ARGV[3] group, ARGV[4] token, ARGV[5] worker,
-- ARGV[6] '1' when the entry was reclaimed from a worker that stopped heart-beating.
-- Returns {'skip'} for an entry whose job is gone or finished (the entry is acknowledged),
-- else {'run', payload, attempts, children, crashes, kind}.
local job = KEYS[9]
local f = redis.call('HMGET', job, 'state', 'payload', 'attempts', 'children', 'crashes', 'id', 'kind')
local state = f[1]
if not state or is_final(state) then
  redis.call('XACK', KEYS[10], ARGV[3], ARGV[2])
  redis.call('XDEL', KEYS[10], ARGV[2])
  return {'skip'}
end
local crashes = tonumber(f[5] or '0')
-- A reclaimed job counts a crash only if it had been claimed (started) before: one that
-- merely waited in a dead worker's read buffer did nothing wrong.
if ARGV[6] == '1' and state == 'running' then
  crashes = redis.call('HINCRBY', job, 'crashes', 1)
end
redis.call('HSET', job, 'token', ARGV[4], 'worker', ARGV[5], 'started_at', ARGV[1])
redis.call('HDEL', job, 'next_attempt_at')
move_state(job, f[6], state, 'running', ARGV[1])
return {'run', f[2] or 'null', f[3] or '0', f[4] or '', tostring(crashes), f[7] or ''}
