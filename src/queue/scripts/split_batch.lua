-- Splits a batch into one batch per member, once. Used when the vendor refused a whole
-- batch for a reason that may concern only one member: each member then travels alone,
-- so one bad member cannot sink the others. New batch ids are derived from the parent's,
-- so replaying the split after a crash creates nothing new.
-- KEYS[OWN] the kinds set, KEYS[OWN+1] the batch kind's stream, then pairs
-- (new batch record, member record). ARGV[1] now, ARGV[2] parent id, ARGV[3] batch kind,
-- then pairs (new batch id, member id).
local now, parent = ARGV[1], ARGV[2]
local moved = 0
for i = 0, (#ARGV - 3) / 2 - 1 do
  local batch_key, member_key = KEYS[OWN + 2 + 2 * i], KEYS[OWN + 3 + 2 * i]
  local batch_id, member_id = ARGV[4 + 2 * i], ARGV[5 + 2 * i]
  local m = redis.call('HMGET', member_key, 'batch', 'traceparent')
  if m[1] == parent then
    local list = cjson.encode({member_id})
    -- Alone in its batch, the member's vendor call carries its own trace. A batch is
    -- internal: it belongs to no app (its members keep theirs).
    create_job(batch_key, KEYS[OWN + 1], KEYS[OWN], now, batch_id, ARGV[3], list, '', '', list,
      m[2] or '', '')
    redis.call('HSET', member_key, 'batch', batch_id)
    moved = moved + 1
  end
end
return moved
