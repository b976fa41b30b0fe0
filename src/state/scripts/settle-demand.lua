--[[
  Takes a job out of the demand ledger once a runner took it or it ended (DemandLedger.settled),
  and marks it settled for a while so a late `queued` for it is ignored (record-queued.lua); a
  script rather than a MULTI for the reason given in record-queued.lua.

  Input:
    KEYS[1] the pool's waiting jobs (sorted set of GitHub job ids)
    KEYS[2] the pool's waiting demand (hash: job id -> ProvisionRequest as JSON)
    KEYS[3] the job's settled mark (string "1")

    ARGV[1] GitHub job id
    ARGV[2] how long the mark is kept, in seconds

  Output:
    the demand the job stood for (ProvisionRequest as JSON) if it was still waiting, else nil
]]
local request = redis.call("HGET", KEYS[2], ARGV[1])
redis.call("ZREM", KEYS[1], ARGV[1])
redis.call("HDEL", KEYS[2], ARGV[1])
redis.call("SET", KEYS[3], "1", "EX", ARGV[2])
return request
