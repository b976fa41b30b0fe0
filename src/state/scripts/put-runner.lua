--[[
  Writes a runner record and indexes it among the live runners and, while it can take a job, its
  pool's free runners (RunnerStore.put); a script rather than a MULTI for the reason given in
  record-queued.lua.

  Input:
    KEYS[1] the runner record (string, JSON RunnerRecord)
    KEYS[2] the live runners (set of names)
    KEYS[3] the free runners of the record's pool (set of names: not busy, not retiring)

    ARGV[1] the record as JSON
    ARGV[2] the runner's name
    ARGV[3] "absent": write only where there is no record yet (adopting a container); "" always

  Output:
    1 when written, 0 when "absent" found a record (nothing written)
]]
if ARGV[3] == "absent" and redis.call("EXISTS", KEYS[1]) == 1 then return 0 end
redis.call("SET", KEYS[1], ARGV[1])
redis.call("SADD", KEYS[2], ARGV[2])
-- The rule of freeRunners (src/pools/supply.ts), kept in step with every write of the record.
local record = cjson.decode(ARGV[1])
if record.state ~= "busy" and (record.retiring == nil or record.retiring == cjson.null or record.retiring == "") then
  redis.call("SADD", KEYS[3], ARGV[2])
else
  redis.call("SREM", KEYS[3], ARGV[2])
end
return 1
