--[[
  Takes a job out of the demand ledger once a runner took it or it ended (DemandLedger.settled),
  and marks it settled for a while so a late `queued` for it is ignored (record-queued.lua); a
  script rather than a MULTI for the reason given in record-queued.lua.

  Input:
    KEYS[1] the pool's waiting jobs (sorted set of GitHub job ids)
    KEYS[2] the pool's waiting demand (hash: job id -> ProvisionRequest as JSON)
    KEYS[3] the job's settled mark (string "1")
    KEYS[4] the job's overflow mark (string: the pool it overflowed to; overflow-demand.lua)

    ARGV[1] GitHub job id
    ARGV[2] how long the mark is kept, in seconds

  Output:
    a pair: the demand the job stood for (ProvisionRequest as JSON) if it was still waiting in
    this pool, else false; and, when it was not, the pool it overflowed to if it did, else false
    (the caller settles it there: that pool's keys are not known before the mark is read)
]]
local request = redis.call("HGET", KEYS[2], ARGV[1])
redis.call("ZREM", KEYS[1], ARGV[1])
redis.call("HDEL", KEYS[2], ARGV[1])
redis.call("SET", KEYS[3], "1", "EX", ARGV[2])
if request then return { request, false } end
return { false, redis.call("GET", KEYS[4]) }
