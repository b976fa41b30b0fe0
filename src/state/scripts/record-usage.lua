--[[
  Raises a runner's recorded resource use to a new Docker stats reading (used by
  RunnerStore.recordUsage). Readings only ever raise the figures: several processes may sample one
  runner, and their readings may arrive in any order.

  Input:
    KEYS[1] the runner record (string, JSON RunnerRecord)

    ARGV[1] peak memory of the reading, in bytes
    ARGV[2] CPU time used so far, in seconds

  Output:
    1 when the record was updated, 0 when there is no such record (nothing is written)
]]
local text = redis.call("GET", KEYS[1])
if not text then return 0 end
local record = cjson.decode(text)
local usage = record.usage or { peakMemoryBytes = 0, cpuSeconds = 0 }
usage.peakMemoryBytes = math.max(usage.peakMemoryBytes or 0, tonumber(ARGV[1]))
usage.cpuSeconds = math.max(usage.cpuSeconds or 0, tonumber(ARGV[2]))
record.usage = usage
redis.call("SET", KEYS[1], cjson.encode(record))
return 1
