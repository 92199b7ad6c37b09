-- Splits a batch into one batch per member, once. Used when the vendor refused a whole
-- batch for a reason that may concern only one member: each member then travels alone,
-- so one bad member cannot sink the others. New batch ids are derived from the parent's,
-- so replaying the split after a crash creates nothing new.
-- KEYS[9] the kinds set, KEYS[10] the batch kind's stream, then pairs
-- (new batch record, member record). ARGV[1] now, ARGV[2] parent id, ARGV[3] batch kind,
-- then pairs (new batch id, member id).
local now, parent = ARGV[1], ARGV[2]
local moved = 0
for i = 0, (#ARGV - 3) / 2 - 1 do
  local batch_key, member_key = KEYS[11 + 2 * i], KEYS[12 + 2 * i]
  local batch_id, member_id = ARGV[4 + 2 * i], ARGV[5 + 2 * i]
  if redis.call('HGET', member_key, 'batch') == parent then
    if redis.call('EXISTS', batch_key) == 0 then
      local list = cjson.encode({member_id})
      redis.call('HSET', batch_key, 'id', batch_id, 'kind', ARGV[3], 'payload', list,
        'children', list, 'attempts', 0, 'crashes', 0, 'enqueued_at', now)
      redis.call('ZADD', KEYS[IDX_ALL], now, batch_id)
      move_state(batch_key, batch_id, nil, 'queued', now)
      redis.call('XADD', KEYS[10], '*', 'id', batch_id)
      redis.call('SADD', KEYS[9], ARGV[3])
    end
    redis.call('HSET', member_key, 'batch', batch_id)
    moved = moved + 1
  end
end
return moved
