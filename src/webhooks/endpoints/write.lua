-- Writes an endpoint's hash under a condition, atomically.
--
-- KEYS[1] the endpoint's hash, KEYS[2] the set of endpoint ids.
-- ARGV[1] the endpoint's id.
-- ARGV[2] the operation:
--   'create': only when the hash does not exist yet; adds the id to the set.
--   'update': only when the hash exists.
--   'delete': only when the hash exists; deletes it and takes the id out of the set.
-- ARGV[3] '1' to refuse an endpoint declared in the config file (its definition is
--   rewritten from the file at every start, so the API may not change it).
-- ARGV[4] the app the endpoint must belong to for an update or a delete ('': any, the
--   operator's); another app's endpoint answers {'missing'}, as if it did not exist, so an
--   app learns nothing of another's endpoints. A hash without `app` is the default app's.
-- ARGV[5] n, then n field/value pairs to set; every ARGV after them is a field to delete.
--
-- Answers {'ok', <field>, <value>, ...}: the hash after the write (no fields after a
-- delete); or {'missing'}, {'exists'} or {'config'} when the condition does not hold.
local hash, ids, id, op, owner = KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[4]

local exists = redis.call('EXISTS', hash) == 1
if op == 'create' then
  if exists then return {'exists'} end
else
  if not exists then return {'missing'} end
  if owner ~= '' and (redis.call('HGET', hash, 'app') or 'default') ~= owner then
    return {'missing'}
  end
  if ARGV[3] == '1' and redis.call('HGET', hash, 'source') == 'config' then
    return {'config'}
  end
end

if op == 'delete' then
  redis.call('DEL', hash)
  redis.call('SREM', ids, id)
  return {'ok'}
end

local n = tonumber(ARGV[5])
if n > 0 then
  local set = {}
  for i = 6, 5 + 2 * n do set[#set + 1] = ARGV[i] end
  redis.call('HSET', hash, unpack(set))
end
local removed = {}
for i = 6 + 2 * n, #ARGV do removed[#removed + 1] = ARGV[i] end
if #removed > 0 then redis.call('HDEL', hash, unpack(removed)) end
if op == 'create' then redis.call('SADD', ids, id) end

local answer = redis.call('HGETALL', hash)
table.insert(answer, 1, 'ok')
return answer
