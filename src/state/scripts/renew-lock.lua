--[[
  Extends a lock's lease only if the caller still holds it, so a holder that lost its lock (the
  lease ran out) never takes it back from the process that holds it now (used by image pulls and
  by underLock while its work runs).

  Input:
    KEYS[1] the lock (string holding its owner's token)

    ARGV[1] the caller's token
    ARGV[2] the new lease, in ms

  Output:
    1 when renewed, 0 when the lock is gone or held by another token
]]
if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("PEXPIRE", KEYS[1], ARGV[2]) end
return 0
