-- Deletes jobs for good (retention, dead-set bounds, purge). KEYS[OWN..] the records,
-- ARGV the matching ids. Only finished jobs are deleted; returns how many were.
local n = 0
for i = OWN, #KEYS do
  local state = redis.call('HGET', KEYS[i], 'state')
  if not state or is_final(state) then
    forget(KEYS[i], ARGV[i - OWN + 1])
    n = n + 1
  end
end
return n
