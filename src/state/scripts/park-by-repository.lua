--[[
  Parks a provision entry of a pool with perRepository on its repository's parked set (Slots.park),
  and puts the repository at the end of the pool's rotation when it had nothing parked, in one step
  with wake-fair.lua's removals: a repository is in the rotation exactly while it has demand parked.

  Input:
    KEYS[1] the pool's rotation (list of repositories with parked demand, next to serve first)
    KEYS[2] the prefix of the pool's per-repository parked sets (sorted sets; the repository is appended)

    ARGV[1] the repository (owner/repo, lower case)
    ARGV[2] the BullMQ id of the provision entry
    ARGV[3] its job's queuedAt (ms), the score: oldest first within a repository

  Output:
    1 when the repository joined the rotation, else 0
]]
local parked = KEYS[2] .. ARGV[1]
local joined = 0
if redis.call("ZCARD", parked) == 0 then
  redis.call("LREM", KEYS[1], 0, ARGV[1])
  redis.call("RPUSH", KEYS[1], ARGV[1])
  joined = 1
end
redis.call("ZADD", parked, tonumber(ARGV[3]), ARGV[2])
return joined
