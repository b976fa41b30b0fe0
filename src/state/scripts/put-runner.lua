--[[
  Writes a runner record and indexes it among the live runners and its pool's (RunnerStore.put);
  a script rather than a MULTI for the reason given in record-queued.lua.

  Input:
    KEYS[1] the runner record (string, JSON RunnerRecord)
    KEYS[2] the live runners (set of names)
    KEYS[3] the live runners of the record's pool (set of names)

    ARGV[1] the record as JSON
    ARGV[2] the runner's name

  Output:
    nil
]]
redis.call("SET", KEYS[1], ARGV[1])
redis.call("SADD", KEYS[2], ARGV[2])
redis.call("SADD", KEYS[3], ARGV[2])
return false
