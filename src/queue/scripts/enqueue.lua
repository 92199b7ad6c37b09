-- Enqueues jobs, optionally under an idempotency key, in one atomic step.
-- KEYS[OWN] idempotency key (ignored when ARGV[2] is 0), KEYS[OWN+1] the kinds set,
-- then for each job: KEYS[OWN+2+2i] its record, KEYS[OWN+3+2i] its kind's stream.
-- ARGV[1] now (ms), ARGV[2] idempotency TTL (ms, 0 = none), ARGV[3] request hash,
-- ARGV[4] the job ids to remember for the key, then 8 per job:
-- id, kind, payload, reference, metadata, children, traceparent, app.
-- A job whose record already exists is left alone (replaying an enqueue creates nothing).
local now = ARGV[1]
if tonumber(ARGV[2]) > 0 then
  local existing = redis.call('GET', KEYS[OWN])
  if existing then
    local sep = string.find(existing, '|', 1, true)
    if string.sub(existing, 1, sep - 1) ~= ARGV[3] then
      return {'mismatch'}
    end
    return {'existing', string.sub(existing, sep + 1)}
  end
  redis.call('SET', KEYS[OWN], ARGV[3] .. '|' .. ARGV[4], 'PX', ARGV[2])
end
local created = 0
local jobs = (#ARGV - 4) / 8
for i = 0, jobs - 1 do
  local job_key, stream = KEYS[OWN + 2 + 2 * i], KEYS[OWN + 3 + 2 * i]
  local a = 4 + 8 * i
  local id, kind = ARGV[a + 1], ARGV[a + 2]
  if create_job(job_key, stream, KEYS[OWN + 1], now, id, kind, ARGV[a + 3], ARGV[a + 4],
      ARGV[a + 5], ARGV[a + 6], ARGV[a + 7], ARGV[a + 8]) then
    created = created + 1
  end
end
return {'created', tostring(created)}
