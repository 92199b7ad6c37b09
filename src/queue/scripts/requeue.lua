-- Operator retry of a job in the dead set: a fresh start with a full retry budget.
-- KEYS[9] the record, KEYS[10] its kind's stream, then the record keys of its members.
-- ARGV[1] now. Returns 'ok', 'missing' or 'not_dead'.
local job = KEYS[9]
local f = redis.call('HMGET', job, 'state', 'id')
if not f[1] then
  return 'missing'
end
if f[1] ~= 'failed' and f[1] ~= 'dead' then
  return 'not_dead'
end
redis.call('HSET', job, 'attempts', 0, 'crashes', 0, 'token', '')
-- A member retried on its own leaves its batch: it will travel in a new one.
redis.call('HDEL', job, 'finished_at', 'next_attempt_at', 'batch')
redis.call('PERSIST', job)
move_state(job, f[2], f[1], 'queued', ARGV[1])
redis.call('XADD', KEYS[10], '*', 'id', f[2])
for i = 11, #KEYS do
  local c = redis.call('HMGET', KEYS[i], 'batch', 'state', 'id')
  if c[1] == f[2] and (c[2] == 'failed' or c[2] == 'dead') then
    redis.call('HDEL', KEYS[i], 'finished_at')
    redis.call('PERSIST', KEYS[i])
    move_state(KEYS[i], c[3], c[2], 'running', ARGV[1])
  end
end
return 'ok'
