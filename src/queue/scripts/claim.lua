-- Takes jobs delivered to this worker (by XREADGROUP or XAUTOCLAIM) and marks each running
-- under a fresh lease token. KEYS[OWN] the stream, then one record key per job.
-- ARGV[1] now, ARGV[2] group, ARGV[3] worker, then 3 per job: stream entry id, token,
-- '1' when the entry was reclaimed from a worker that stopped heart-beating.
-- Returns one answer per job: {'skip'} for an entry whose job is gone or finished (the
-- entry is acknowledged), else {'run', payload, attempts, children, crashes, enqueued_at,
-- due (when it became due: its retry or snooze time, else ''), rescued ('1' when it was
-- taken over from a worker that died running it), traceparent (or '')}.
local now, group, worker = ARGV[1], ARGV[2], ARGV[3]
local answers = {}
for i = 0, #KEYS - OWN - 1 do
  local job = KEYS[OWN + 1 + i]
  local entry, token, reclaimed = ARGV[4 + 3 * i], ARGV[5 + 3 * i], ARGV[6 + 3 * i]
  local f = redis.call('HMGET', job, 'state', 'payload', 'attempts', 'children', 'crashes', 'id',
    'next_attempt_at', 'enqueued_at', 'traceparent')
  local state = f[1]
  if not state or is_final(state) then
    redis.call('XACK', KEYS[OWN], group, entry)
    redis.call('XDEL', KEYS[OWN], entry)
    answers[#answers + 1] = {'skip'}
  else
    local crashes = tonumber(f[5]) or 0
    local rescued = '0'
    -- A reclaimed job counts a crash only if it had been claimed (started) before: one
    -- that merely waited in a dead worker's read buffer did nothing wrong.
    if reclaimed == '1' and state == 'running' then
      crashes = bump(job, 'crashes')
      rescued = '1'
    end
    if f[7] then
      redis.call('HDEL', job, 'next_attempt_at')
    end
    move_state(job, f[6], state, 'running', now, {'token', token, 'worker', worker, 'started_at', now})
    answers[#answers + 1] = {'run', f[2] or 'null', f[3] or '0', f[4] or '', tostring(crashes),
      f[8] or '', f[7] or '', rescued, f[9] or ''}
  end
end
return answers
