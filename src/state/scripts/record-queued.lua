--[[
  Records a queued job in the demand ledger (DemandLedger.queued), unless the job was already
  taken or finished: a `queued` processed after the job's `in_progress` or `completed`
  (redelivered late, or overtaken) must not bring back settled demand. One script instead of a
  MULTI, because on the connection BullMQ shares every MULTI first copies BullMQ's dozens of
  scripts (ioredis builds a pipeline per MULTI; docs/benchmarks.md).

  Input:
    KEYS[1] the pool's waiting jobs (sorted set of GitHub job ids scored by queuedAt)
    KEYS[2] the pool's waiting demand (hash: job id -> ProvisionRequest as JSON)
    KEYS[3] the targets (hash: targetKey -> {installationId, scope, seenAt} as JSON)
    KEYS[4] the job's settled mark (string, written by settle-demand.lua)
    KEYS[5] the event feed (stream, capped like RedisEventFeed.record caps it)
    KEYS[6] the job's overflow mark (string, written by overflow-demand.lua): the job waits in
            the pool it overflowed to, so it is not recorded in this one again

    ARGV[1] queuedAt (ms)
    ARGV[2] GitHub job id
    ARGV[3] the ProvisionRequest as JSON
    ARGV[4] targetKey
    ARGV[5] {installationId, scope, seenAt} as JSON
    ARGV[6] the feed entry (FeedEvent as JSON) added when the job was not waiting yet; "" for none.
            Here rather than a separate XADD: it saves every queued webhook a Redis round trip.
    ARGV[7] the feed's approximate maximum length

  Output:
    1 when the job was not waiting yet, 0 when it was (a redelivered webhook; also when it waits in
    the pool it overflowed to, and then nothing is written), -1 when the job is settled (nothing written)
]]
if redis.call("EXISTS", KEYS[4]) == 1 then return -1 end
if redis.call("EXISTS", KEYS[6]) == 1 then return 0 end
local added = redis.call("ZADD", KEYS[1], ARGV[1], ARGV[2])
redis.call("HSET", KEYS[2], ARGV[2], ARGV[3])
redis.call("HSET", KEYS[3], ARGV[4], ARGV[5])
if added == 1 and ARGV[6] ~= "" then
  redis.call("XADD", KEYS[5], "MAXLEN", "~", ARGV[7], "*", "event", ARGV[6])
end
return added
