--[[
  Releases a lock only if the caller still holds it, so a pass that outlived its lock never
  frees the lock another process took since (used by the reconciler and image pulls).

  Input:
    KEYS[1] the lock (string holding its owner's token)

    ARGV[1] the caller's token

  Output:
    1 when released, 0 when the lock is gone or held by another token
]]
if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end
return 0
