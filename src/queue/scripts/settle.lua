-- Records the answers of attempts, in one atomic step per job with the member jobs it
-- carries and the follow-up jobs it causes (webhook deliveries): no crash can leave a
-- finished job without them. Several jobs may be settled by one call (a group commit: the
-- workers' answers that are ready together share one round trip); each is independent.
--
-- KEYS[1..OWN-1] the state indexes and dead set (prelude), then for each job in turn: its
-- record, its stream, its kind's delayed set, the kinds set, one record key per member
-- job, then 3 per follow-up: its record, its kind's stream, a sorted set to index it in
-- (used only when its score is not '').
-- ARGV, for each job in turn: now, lease token, stream entry id, group, new state
-- (succeeded | retrying | deferred | snoozed | failed | dead | expired), result JSON, error
-- JSON (for a success: why it needs an operator's attention, or ''; for a snooze: its
-- reason), due time of
-- the retry (ms), how long a final record is kept (ms), number of members, number of
-- follow-ups, then 3 per member: id, new state, result or error JSON; then 9 per
-- follow-up: id, kind, payload, reference, metadata, children, traceparent, app, index
-- score.
-- Returns one answer per job: 'ok', or 'stale' for a settle from a worker that lost its
-- lease (another worker reclaimed the job), which changes nothing: the job belongs to the
-- new holder.

-- Settles the job whose keys start at KEYS[k] and arguments at ARGV[a + 1].
local function settle(k, a)
  local job = KEYS[k]
  local f = redis.call('HMGET', job, 'token', 'state', 'id', 'attempts', 'next_attempt_at',
    'snoozes', 'wake_requested')
  if not f[1] or f[1] ~= ARGV[a + 2] then
    return 'stale'
  end
  local now, new = ARGV[a + 1], ARGV[a + 5]
  -- Everything the record gets is written by one HSET, with its new state.
  local fields = {'token', ''}
  local function set(name, value)
    fields[#fields + 1] = name
    fields[#fields + 1] = value
  end
  if new == 'deferred' then
    -- Not its turn yet (a busy endpoint, an earlier event first): wait without using up
    -- an attempt.
    new = 'retrying'
    set('next_attempt_at', ARGV[a + 8])
    redis.call('ZADD', KEYS[k + 2], ARGV[a + 8], f[3])
  elseif new == 'snoozed' then
    -- The vendor is not done yet: look again at the due time. Not a failure: no attempt
    -- used, `last_error` left as it was; the record says why and how often it waited.
    -- A wake that came while this attempt ran (wake.lua) makes the snooze due at once.
    local due = f[7] and now or ARGV[a + 8]
    set('next_attempt_at', due)
    set('snooze_reason', ARGV[a + 7])
    set('snoozes', (tonumber(f[6]) or 0) + 1)
    redis.call('ZADD', KEYS[k + 2], due, f[3])
  else
    -- An expiry answers a snooze, which uses no attempt. A counter that is not a number
    -- (written by something else) starts again from 1.
    if new ~= 'expired' then
      set('attempts', (tonumber(f[4]) or 0) + 1)
    end
    if new == 'retrying' then
      set('last_error', ARGV[a + 7])
      set('next_attempt_at', ARGV[a + 8])
      redis.call('ZADD', KEYS[k + 2], ARGV[a + 8], f[3])
    else
      if new == 'succeeded' then
        set('result', ARGV[a + 6])
        if ARGV[a + 7] ~= '' then
          set('attention', ARGV[a + 7])
        end
      else
        set('last_error', ARGV[a + 7])
      end
      set('finished_at', now)
      if f[5] then
        redis.call('HDEL', job, 'next_attempt_at')
      end
      redis.call('PEXPIRE', job, ARGV[a + 9])
    end
  end
  move_state(job, f[3], f[2], new, now, fields)
  if f[7] then
    -- Honoured by this settle (a snooze due now), or moot (the attempt ended otherwise).
    redis.call('HDEL', job, 'wake_requested')
  end
  redis.call('XACK', KEYS[k + 1], ARGV[a + 4], ARGV[a + 3])
  redis.call('XDEL', KEYS[k + 1], ARGV[a + 3])

  local members, follow_ups = tonumber(ARGV[a + 10]), tonumber(ARGV[a + 11])
  -- Members follow only while they still belong to this job (an operator may have moved
  -- one).
  for i = 0, members - 1 do
    local child = KEYS[k + 4 + i]
    local m = a + 11 + 3 * i
    local cid, cnew, data = ARGV[m + 1], ARGV[m + 2], ARGV[m + 3]
    local c = redis.call('HMGET', child, 'batch', 'state', 'attempts', 'next_attempt_at')
    if c[1] == f[3] and c[2] and not is_final(c[2]) then
      local cfields = {}
      if cnew == 'deferred' then
        cnew = 'retrying'
      elseif cnew ~= 'expired' then
        cfields = {'attempts', (tonumber(c[3]) or 0) + 1}
      end
      if cnew == 'retrying' then
        cfields[#cfields + 1] = 'last_error'
        cfields[#cfields + 1] = data
        cfields[#cfields + 1] = 'next_attempt_at'
        cfields[#cfields + 1] = ARGV[a + 8]
      else
        cfields[#cfields + 1] = cnew == 'succeeded' and 'result' or 'last_error'
        cfields[#cfields + 1] = data
        if cnew == 'succeeded' and new == 'succeeded' and ARGV[a + 7] ~= '' then
          cfields[#cfields + 1] = 'attention'
          cfields[#cfields + 1] = ARGV[a + 7]
        end
        cfields[#cfields + 1] = 'finished_at'
        cfields[#cfields + 1] = now
        if c[4] then
          redis.call('HDEL', child, 'next_attempt_at')
        end
        redis.call('PEXPIRE', child, ARGV[a + 9])
      end
      move_state(child, cid, c[2], cnew, now, cfields)
    end
  end

  -- Follow-ups are created once: a record that exists already is left alone.
  local k0, a0 = k + 4 + members, a + 11 + 3 * members
  for i = 0, follow_ups - 1 do
    local fkey, fstream, findex = KEYS[k0 + 3 * i], KEYS[k0 + 3 * i + 1], KEYS[k0 + 3 * i + 2]
    local u = a0 + 9 * i
    local id, kind = ARGV[u + 1], ARGV[u + 2]
    if create_job(fkey, fstream, KEYS[k + 3], now, id, kind, ARGV[u + 3], ARGV[u + 4],
        ARGV[u + 5], ARGV[u + 6], ARGV[u + 7], ARGV[u + 8]) and ARGV[u + 9] ~= '' then
      redis.call('ZADD', findex, ARGV[u + 9], id)
    end
  end
  return 'ok'
end

local answers = {}
local k, a = OWN, 0
while a < #ARGV do
  local members, follow_ups = tonumber(ARGV[a + 10]), tonumber(ARGV[a + 11])
  answers[#answers + 1] = settle(k, a)
  k = k + 4 + members + 3 * follow_ups
  a = a + 11 + 3 * members + 9 * follow_ups
end
return answers
