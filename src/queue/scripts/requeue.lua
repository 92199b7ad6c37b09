-- Operator retry of a job in the dead set: a fresh start with a full retry budget, unless
-- the retry could make the vendor do something twice.
--
-- KEYS[OWN] the record, KEYS[OWN+1] its kind's stream, KEYS[OWN+2] its batch's record (when
-- it is a member; else any key), KEYS[OWN+3] its members' stream (when it is a batch; else
-- any key), then the record keys of its members.
-- ARGV[1] now, ARGV[2] '1' when the operator checked the vendor (an ambiguous job may go),
-- ARGV[3] '1' when a member may leave its batch and travel alone under a new key (a retry
-- of that one job), '0' when it is left for its batch (a retry of the whole dead set).
--
-- Returns {'ok'}, {'released', n} (an ambiguous batch, checked by the operator, whose n
-- members went back to be batched anew under new keys), {'missing'}, {'not_dead'},
-- {'ambiguous'} (the vendor may have carried it out, see ErrorDetail::ambiguous, and a retry
-- would use a new key) or {'in_batch', batch id} (a member retries with its batch, under the
-- batch's key).
local job = KEYS[OWN]
local f = redis.call('HMGET', job, 'state', 'id', 'last_error', 'batch')
if not f[1] then
  return {'missing'}
end
if f[1] ~= 'failed' and f[1] ~= 'dead' then
  return {'not_dead'}
end
local checked, may_leave = ARGV[2] == '1', ARGV[3] == '1'
local ambiguous = false
if f[3] then
  local ok, detail = pcall(cjson.decode, f[3])
  ambiguous = ok and type(detail) == 'table' and detail.ambiguous == true
end
if f[4] and f[4] ~= '' and not may_leave and redis.call('EXISTS', KEYS[OWN + 2]) == 1 then
  -- Left for its batch, which sends it again under the same key.
  return {'in_batch', f[4]}
end

local is_batch = #KEYS > OWN + 3
-- A batch retried as it is goes under its own key, which the vendor replays rather than
-- repeats (and which its handler refuses to send once too old): safe without a check.
-- Anything else that is ambiguous would go under a new key.
if ambiguous and not checked and not is_batch then
  return {'ambiguous'}
end
-- Back to queued from scratch. A member retried on its own leaves its batch: it will
-- travel in a new one, under a new key.
local function restart(key, id, old, stream)
  redis.call('HSET', key, 'attempts', 0, 'crashes', 0, 'token', '')
  redis.call('HDEL', key, 'finished_at', 'next_attempt_at', 'batch')
  redis.call('PERSIST', key)
  move_state(key, id, old, 'queued', ARGV[1])
  redis.call('XADD', stream, '*', 'id', id)
end

if ambiguous and checked and is_batch then
  -- A batch whose call may have executed, checked by the operator: its key must not be
  -- used again (it replays a stored error, has expired, or belongs to another body), so
  -- its members go back to be batched anew and the batch is done with.
  local released = 0
  for i = OWN + 4, #KEYS do
    local c = redis.call('HMGET', KEYS[i], 'batch', 'state', 'id')
    if c[1] == f[2] and (c[2] == 'failed' or c[2] == 'dead') then
      restart(KEYS[i], c[3], c[2], KEYS[OWN + 3])
      released = released + 1
    end
  end
  forget(job, f[2])
  return {'released', released}
end

restart(job, f[2], f[1], KEYS[OWN + 1])
for i = OWN + 4, #KEYS do
  local c = redis.call('HMGET', KEYS[i], 'batch', 'state', 'id')
  if c[1] == f[2] and (c[2] == 'failed' or c[2] == 'dead') then
    redis.call('HDEL', KEYS[i], 'finished_at')
    redis.call('PERSIST', KEYS[i])
    move_state(KEYS[i], c[3], c[2], 'running', ARGV[1])
  end
end
return {'ok'}
