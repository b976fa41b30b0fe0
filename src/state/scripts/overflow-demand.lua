--[[
  Moves a waiting job from the pool that cannot start it to the pool it overflows to
  (DemandLedger.overflow): the job keeps its GitHub id, its place in time (queuedAt) and its one
  ledger entry, now in the other pool, and a mark says where it went, so a redelivered `queued`
  does not bring it back to the first pool (record-queued.lua) and `in_progress` / `completed`
  settle it where it is (settle-demand.lua). Nothing moves when the job no longer waits in the
  first pool (settled, or moved already by another process).

  Input:
    KEYS[1] the first pool's waiting jobs (sorted set of GitHub job ids scored by queuedAt)
    KEYS[2] the first pool's waiting demand (hash: job id -> ProvisionRequest as JSON)
    KEYS[3] the other pool's waiting jobs
    KEYS[4] the other pool's waiting demand
    KEYS[5] the job's overflow mark (string: the other pool's name)

    ARGV[1] GitHub job id
    ARGV[2] the ProvisionRequest as it stands in the other pool, as JSON
    ARGV[3] the other pool's name
    ARGV[4] how long the mark is kept, in seconds

  Output:
    1 when the job moved, 0 when it was not waiting in the first pool (nothing written)
]]
local score = redis.call("ZSCORE", KEYS[1], ARGV[1])
if not score then return 0 end
redis.call("ZREM", KEYS[1], ARGV[1])
redis.call("HDEL", KEYS[2], ARGV[1])
redis.call("ZADD", KEYS[3], score, ARGV[1])
redis.call("HSET", KEYS[4], ARGV[1], ARGV[2])
redis.call("SET", KEYS[5], ARGV[3], "EX", ARGV[4])
return 1
