--[[
  Writes a worker's heartbeat for its Docker engine, on Redis' own clock, unless another live
  engine already beats under the same name (used by Heartbeats.beat). Two engines sharing a name
  would share records, slots and queues; the second one must not start.

  Input:
    KEYS[1] the heartbeats (hash: engine name -> JSON {engineId, at}; at in ms on Redis' clock)

    ARGV[1] engine name
    ARGV[2] the engine's own ID (`docker info` ID)
    ARGV[3] silence after which a heartbeat no longer counts, in ms

  Output:
    {"ok", ""} when written over a beat of the same engine; {"new", ""} when there was none (a
    first start, a Redis that lost its data, or an engine other workers gave up for lost);
    {"taken", other engine ID} when another engine beat under this name within the timeout
    (nothing written)
]]
local heartbeats, engine, engineId, timeoutMs = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3])
local time = redis.call("TIME")
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local text = redis.call("HGET", heartbeats, engine)
local previous = text and cjson.decode(text)
if previous and previous.engineId ~= "" and previous.engineId ~= engineId and now - previous.at < timeoutMs then
  return { "taken", previous.engineId }
end
redis.call("HSET", heartbeats, engine, cjson.encode({ engineId = engineId, at = now }))
if previous then return { "ok", "" } end
return { "new", "" }
