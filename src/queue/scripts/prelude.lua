-- Shared by every state-changing script (prepended by scripts.rs).
-- KEYS[1..STATES] the state indexes, in the order of STATE_INDEX (which is JobState::ALL's:
-- a unit test of scripts.rs checks it), then idx:all and the dead set. A script's own keys
-- start at KEYS[OWN], and scripts count from there, so that a new state moves no script's
-- keys.
local STATE_INDEX = {queued = 1, running = 2, retrying = 3, snoozed = 4, succeeded = 5,
  failed = 6, dead = 7, expired = 8}
local STATES = 8
local IDX_ALL = STATES + 1
local DEAD = STATES + 2
local OWN = STATES + 3

-- `expired` is final but not dead: it is not in the dead set, and no operator retries it.
local function is_final(state)
  return state == 'succeeded' or state == 'failed' or state == 'dead' or state == 'expired'
end

-- Moves a job between states, keeping the indexes and the dead set in step with the record.
-- `fields` (optional: {name, value, ...}) are written in the same HSET as the state.
local function move_state(job_key, id, old, new, now, fields)
  if old and STATE_INDEX[old] then
    redis.call('ZREM', KEYS[STATE_INDEX[old]], id)
  elseif old then
    -- A state we never write (a hand-edited record): it may be in any index.
    for i = 1, STATES do
      redis.call('ZREM', KEYS[i], id)
    end
  end
  redis.call('ZADD', KEYS[STATE_INDEX[new]], now, id)
  redis.call('HSET', job_key, 'state', new, 'updated_at', now, unpack(fields or {}))
  if new == 'failed' or new == 'dead' then
    redis.call('ZADD', KEYS[DEAD], now, id)
  elseif old == 'failed' or old == 'dead' then
    redis.call('ZREM', KEYS[DEAD], id)
  end
end

-- Adds 1 to a counter of a record and returns it. A counter that is not a number (a record
-- written by something other than underwrite) starts again from 1 instead of failing the
-- script, which would leave the job stuck mid-settlement.
local function bump(job_key, field)
  local n = (tonumber(redis.call('HGET', job_key, field)) or 0) + 1
  redis.call('HSET', job_key, field, n)
  return n
end

-- Removes every trace of a job: record, indexes, dead set.
local function forget(job_key, id)
  redis.call('DEL', job_key)
  for i = 1, DEAD do
    redis.call('ZREM', KEYS[i], id)
  end
end

-- Creates a job record and queues it, unless a record with that key exists already
-- (replaying a step creates nothing). Returns whether it created the job. `traceparent`
-- ('' or nil: none) is the W3C trace the job belongs to (src/trace_context.rs). `app` is
-- the upstream app it belongs to, '' for an internal job (src/queue/app.rs); it must be
-- given: a record without the field would read as the default app's.
local function create_job(job_key, stream, kinds, now, id, kind, payload, reference, metadata,
    children, traceparent, app)
  if type(app) ~= 'string' then
    error('create_job: no app given for job ' .. id)
  end
  if redis.call('EXISTS', job_key) == 1 then
    return false
  end
  redis.call('HSET', job_key, 'id', id, 'kind', kind, 'payload', payload,
    'reference', reference, 'metadata', metadata, 'children', children,
    'attempts', 0, 'crashes', 0, 'enqueued_at', now, 'app', app)
  if traceparent and traceparent ~= '' then
    redis.call('HSET', job_key, 'traceparent', traceparent)
  end
  redis.call('ZADD', KEYS[IDX_ALL], now, id)
  move_state(job_key, id, nil, 'queued', now)
  redis.call('XADD', stream, '*', 'id', id)
  redis.call('SADD', kinds, kind)
  return true
end
