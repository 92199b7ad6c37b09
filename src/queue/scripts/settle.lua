-- Records the answer of an attempt, in one atomic step with the member jobs it carries and
-- the follow-up jobs it causes (webhook deliveries): no crash can leave a finished job
-- without them.
-- KEYS[9] the record, KEYS[10] the stream, KEYS[11] the kind's delayed set, KEYS[12] the
-- kinds set, then one record key per member job, then 3 per follow-up: its record, its
-- kind's stream, a sorted set to index it in (used only when its score is not '').
-- ARGV[1] now, ARGV[2] lease token, ARGV[3] stream entry id, ARGV[4] group,
-- ARGV[5] new state (succeeded | retrying | deferred | failed | dead), ARGV[6] result JSON,
-- ARGV[7] error JSON, ARGV[8] due time of the retry (ms), ARGV[9] how long a final record
-- is kept (ms), ARGV[10] number of members, ARGV[11] number of follow-ups, then 3 per
-- member: id, new state, result or error JSON; then 7 per follow-up: id, kind, payload,
-- reference, metadata, children, index score.
-- A settle from a worker that lost its lease (another worker reclaimed the job) is 'stale'
-- and changes nothing: the job belongs to the new holder.
local job = KEYS[9]
local f = redis.call('HMGET', job, 'token', 'state', 'id')
if not f[1] or f[1] ~= ARGV[2] then
  return 'stale'
end
local now, new = ARGV[1], ARGV[5]
redis.call('HSET', job, 'token', '')
if new == 'deferred' then
  -- Not its turn yet (a busy endpoint, an earlier event first): wait without using up an
  -- attempt.
  new = 'retrying'
  redis.call('HSET', job, 'next_attempt_at', ARGV[8])
  redis.call('ZADD', KEYS[11], ARGV[8], f[3])
else
  bump(job, 'attempts')
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
end
move_state(job, f[3], f[2], new, now)
redis.call('XACK', KEYS[10], ARGV[4], ARGV[3])
redis.call('XDEL', KEYS[10], ARGV[3])

local members, follow_ups = tonumber(ARGV[10]), tonumber(ARGV[11])
-- Members follow only while they still belong to this job (an operator may have moved one).
for i = 0, members - 1 do
  local child = KEYS[13 + i]
  local a = 11 + 3 * i
  local cid, cnew, data = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
  local c = redis.call('HMGET', child, 'batch', 'state')
  if c[1] == f[3] and c[2] and not is_final(c[2]) then
    if cnew == 'deferred' then
      cnew = 'retrying'
    else
      bump(child, 'attempts')
    end
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

-- Follow-ups are created once: a record that exists already is left alone.
local k0, a0 = 13 + members, 11 + 3 * members
for i = 0, follow_ups - 1 do
  local fkey, fstream, findex = KEYS[k0 + 3 * i], KEYS[k0 + 3 * i + 1], KEYS[k0 + 3 * i + 2]
  local a = a0 + 7 * i
  local id, kind = ARGV[a + 1], ARGV[a + 2]
  if create_job(fkey, fstream, KEYS[12], now, id, kind, ARGV[a + 3], ARGV[a + 4],
      ARGV[a + 5], ARGV[a + 6]) and ARGV[a + 7] ~= '' then
    redis.call('ZADD', findex, ARGV[a + 7], id)
  end
end
return 'ok'
