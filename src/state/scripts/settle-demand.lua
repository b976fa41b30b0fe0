--[[
  Takes a job out of the demand ledger once a runner took it or it ended (DemandLedger.settled);
  a script rather than a MULTI for the reason given in record-queued.lua.

  Input:
    KEYS[1] the pool's waiting jobs (sorted set of GitHub job ids)
    KEYS[2] the pool's waiting demand (hash: job id -> ProvisionRequest as JSON)

    ARGV[1] GitHub job id

  Output:
    the demand the job stood for (ProvisionRequest as JSON) if it was still waiting, else nil
]]
local request = redis.call("HGET", KEYS[2], ARGV[1])
redis.call("ZREM", KEYS[1], ARGV[1])
redis.call("HDEL", KEYS[2], ARGV[1])
return request
