--[[
  Merges a change into a runner record, so read-modify-write stays atomic when several processes
  update one runner (used by RunnerStore.update), and keeps the record in or out of its pool's
  free runners as the merged state says.

  Input:
    KEYS[1] the runner record (string, JSON RunnerRecord)
    KEYS[2] the prefix of the per-pool sets of free runners (the record's pool name is appended)

    ARGV[1] the change: a JSON object whose fields replace the record's
    ARGV[2] "keep-busy": a busy record stays busy whatever state the change carries (a state read
            from an older snapshot never overwrites the busy state a webhook set); "" otherwise

  Output:
    the merged record as JSON, or nil when there is no such record (nothing is written)
]]
local text = redis.call("GET", KEYS[1])
if not text then return false end
local record = cjson.decode(text)
local busy = record.state == "busy"
for key, value in pairs(cjson.decode(ARGV[1])) do record[key] = value end
if busy and ARGV[2] == "keep-busy" then record.state = "busy" end
local merged = cjson.encode(record)
redis.call("SET", KEYS[1], merged)
-- The rule of freeRunners (src/pools/supply.ts), as in put-runner.lua.
if record.state ~= "busy" and (record.retiring == nil or record.retiring == cjson.null or record.retiring == "") then
  redis.call("SADD", KEYS[2] .. record.pool, record.name)
else
  redis.call("SREM", KEYS[2] .. record.pool, record.name)
end
return merged
