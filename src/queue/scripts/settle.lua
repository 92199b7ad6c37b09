-- Records the answer of an attempt, in one atomic step with the member jobs it carries.
-- KEYS[9] the record, KEYS[10] the stream, KEYS[11] the kind's delayed set,
-- then one record key per member job.
-- ARGV[1] now, ARGV[2] lease token, ARGV[3] stream entry id, ARGV[4] group,
-- ARGV[5] new state (succeeded | retrying | failed | dead), ARGV[6] result JSON,
-- ARGV[7] error JSON, ARGV[8] due time of the retry (ms), ARGV[9] how long a final record
-- is kept (ms), then 3 per member: id, new state, result or error JSON.
-- A settle from a worker that lost its lease (another worker reclaimed the job) is 'stale'
-- and changes nothing: the job belongs to the new holder.
local job = KEYS[9]
local f = redis.call('HMGET', job, 'token', 'state', 'id')
if not f[1] or f[1] ~= ARGV[2] then
  return 'stale'
end
local now, new = ARGV[1], ARGV[5]
redis.call('HINCRBY', job, 'attempts', 1)
redis.call('HSET', job, 'token', '')
if new == 'succeeded' then
  redis.call('HSET', job, 'result', ARGV[6], 'finished_at', now)
  redis.call('HDEL', job, 'next_attempt_at')
  redis.call('PEXPIRE', job, ARGV[9])
elseif new == 'retrying' then
  redis.call('HSET', job, 'last_error', ARGV[7], 'next_attempt_at', ARGV[8])
  redis.call('ZADD', KEYS[11], ARGV[8], f[3])
else
  redis.call('HSET', job, 'last_error', ARGV[7], 'finished_at', now)
  redis.call('HDEL', job, 'next_attempt_at')
  redis.call('PEXPIRE', job, ARGV[9])
end
move_state(job, f[3], f[2], new, now)
redis.call('XACK', KEYS[10], ARGV[4], ARGV[3])
redis.call('XDEL', KEYS[10], ARGV[3])

-- Members follow only while they still belong to this job (an operator may have moved one).
for i = 0, (#ARGV - 9) / 3 - 1 do
  local child = KEYS[12 + i]
  local a = 9 + 3 * i
  local cid, cnew, data = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
  local c = redis.call('HMGET', child, 'batch', 'state')
  if c[1] == f[3] and c[2] and not is_final(c[2]) then
    redis.call('HINCRBY', child, 'attempts', 1)
    if cnew == 'succeeded' then
      redis.call('HSET', child, 'result', data, 'finished_at', now)
      redis.call('HDEL', child, 'next_attempt_at')
      redis.call('PEXPIRE', child, ARGV[9])
    elseif cnew == 'retrying' then
      redis.call('HSET', child, 'last_error', data, 'next_attempt_at', ARGV[8])
    else
      redis.call('HSET', child, 'last_error', data, 'finished_at', now)
      redis.call('HDEL', child, 'next_attempt_at')
      redis.call('PEXPIRE', child, ARGV[9])
    end
    move_state(child, cid, c[2], cnew, now)
  end
end
return 'ok'
