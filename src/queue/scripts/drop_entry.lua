-- Acknowledges and deletes a stream entry that carries no usable job (corrupt or gone).
-- KEYS[1] the stream. ARGV[1] group, ARGV[2] entry id.
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return redis.call('XDEL', KEYS[1], ARGV[2])
