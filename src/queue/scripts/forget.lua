-- Deletes jobs for good (retention, dead-set bounds, purge). KEYS[9..] the records,
-- ARGV the matching ids. Only finished jobs are deleted; returns how many were.
local n = 0
for i = 9, #KEYS do
  local state = redis.call('HGET', KEYS[i], 'state')
  if not state or is_final(state) then
    forget(KEYS[i], ARGV[i - 8])
    n = n + 1
  end
end
return n
