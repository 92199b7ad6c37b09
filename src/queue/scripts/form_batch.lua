-- Forms a batch job out of member jobs waiting in a stream, once: the batch is persisted
-- with its members before any vendor call, so every retry of it sends the same members
-- under the same idempotency key. KEYS[9] the batch record, KEYS[10] the batch kind's
-- stream, KEYS[11] the kinds set, KEYS[12] the members' stream, then the member records.
-- ARGV[1] now, ARGV[2] batch id, ARGV[3] batch kind, ARGV[4] group, then 2 per member:
-- id, stream entry id. Members already in a batch (a replay after a crash) are skipped.
local now, batch_id = ARGV[1], ARGV[2]
local members = {}
for i = 0, (#ARGV - 4) / 2 - 1 do
  local job = KEYS[13 + i]
  local id, entry = ARGV[5 + 2 * i], ARGV[6 + 2 * i]
  local f = redis.call('HMGET', job, 'state', 'batch')
  if f[1] and not is_final(f[1]) and not f[2] then
    redis.call('HSET', job, 'batch', batch_id, 'started_at', now)
    move_state(job, id, f[1], 'running', now)
    members[#members + 1] = id
  end
  redis.call('XACK', KEYS[12], ARGV[4], entry)
  redis.call('XDEL', KEYS[12], entry)
end
if #members == 0 then
  return 0
end
local list = cjson.encode(members)
create_job(KEYS[9], KEYS[10], KEYS[11], now, batch_id, ARGV[3], list, '', '', list)
return #members
