-- Moves delayed jobs that are due into their kind's stream.
-- KEYS[1] the kind's delayed set, KEYS[2] its stream. ARGV[1] now, ARGV[2] batch size.
-- Returns {moved, due time of the next delayed job or ''}.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, id in ipairs(due) do
  redis.call('XADD', KEYS[2], '*', 'id', id)
  redis.call('ZREM', KEYS[1], id)
end
local nxt = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {#due, nxt[2] or ''}
