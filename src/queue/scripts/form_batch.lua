-- Forms a batch job out of member jobs waiting in a stream, once: the batch is persisted
-- with its members before any vendor call, so every retry of it sends the same members
-- under the same idempotency key. KEYS[OWN] the batch record, KEYS[OWN+1] the batch kind's
-- stream, KEYS[OWN+2] the kinds set, KEYS[OWN+3] the members' stream, then the member
-- records.
-- ARGV[1] now, ARGV[2] batch id, ARGV[3] batch kind, ARGV[4] group, then 2 per member:
-- id, stream entry id. Members already in a batch (a replay after a crash) are skipped.
-- The batch carries the trace of its first member that has one (its vendor call can name
-- only one). A batch belongs to no app: its members may be of several (each keeps its own).
local now, batch_id = ARGV[1], ARGV[2]
local members = {}
local traceparent = ''
for i = 0, (#ARGV - 4) / 2 - 1 do
  local job = KEYS[OWN + 4 + i]
  local id, entry = ARGV[5 + 2 * i], ARGV[6 + 2 * i]
  local f = redis.call('HMGET', job, 'state', 'batch', 'traceparent')
  if f[1] and not is_final(f[1]) and not f[2] then
    if traceparent == '' and f[3] then
      traceparent = f[3]
    end
    redis.call('HSET', job, 'batch', batch_id, 'started_at', now)
    move_state(job, id, f[1], 'running', now)
    members[#members + 1] = id
  end
  redis.call('XACK', KEYS[OWN + 3], ARGV[4], entry)
  redis.call('XDEL', KEYS[OWN + 3], entry)
end
if #members == 0 then
  return 0
end
local list = cjson.encode(members)
create_job(KEYS[OWN], KEYS[OWN + 1], KEYS[OWN + 2], now, batch_id, ARGV[3], list, '', '', list,
  traceparent, '')
return #members
