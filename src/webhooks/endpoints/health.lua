-- Records how a delivery attempt to an endpoint went, atomically: many run at once.
--
-- KEYS[1] the endpoint's hash.
-- ARGV[1] 'success' or 'failure'; ARGV[2] when the attempt was made (ms).
-- For a failure: ARGV[3] how long (ms) an endpoint may fail without a single success
-- before it is disabled; ARGV[4] the reason recorded when this failure disables it.
--
-- Attempts count in the order they were made, not the order they are recorded in:
-- - a success moves `last_success_at` forward and ends a failing streak that began at or
--   before it (clears `failing_since`);
-- - a failure made before the last success, or before the endpoint was last enabled
--   (`enabled_at`), is stale and changes nothing; any other starts the streak (or moves
--   its start back), and disables the endpoint once the streak has lasted the limit.
--
-- Answers -1 when there is no such endpoint, 1 when this very failure disabled it, else 0.
local hash, outcome, at = KEYS[1], ARGV[1], tonumber(ARGV[2])

if redis.call('EXISTS', hash) == 0 then return -1 end
local function ms(field)
  return tonumber(redis.call('HGET', hash, field) or '')
end
local last_success, failing_since = ms('last_success_at'), ms('failing_since')

if outcome == 'success' then
  if not last_success or at > last_success then
    redis.call('HSET', hash, 'last_success_at', ARGV[2])
  end
  if failing_since and failing_since <= at then
    redis.call('HDEL', hash, 'failing_since')
  end
  return 0
end

if (last_success and at < last_success) or at < (ms('enabled_at') or 0) then
  return 0
end
if not failing_since or at < failing_since then
  failing_since = at
  redis.call('HSET', hash, 'failing_since', ARGV[2])
end
if redis.call('HGET', hash, 'enabled') == '1' and at - failing_since >= tonumber(ARGV[3]) then
  redis.call('HSET', hash, 'enabled', '0', 'disabled_reason', ARGV[4])
  return 1
end
return 0
