--[[
  Reads every engine's heartbeat and whether it is silent (used by Heartbeats.read). An engine is
  silent when its worker has not beaten, or its engine has not answered, within the timeout.
  Engines that hold runner records but never beat (records written before heartbeats existed)
  get a heartbeat of unknown ID dated now, so they count as silent only after a full timeout.

  Input:
    KEYS[1] the heartbeats (hash: engine name -> JSON {engineId, at, answeredAt}; ms on Redis' clock)

    ARGV[1] silence after which an engine counts as lost, in ms
    ARGV[2..] engine names seen in runner records

  Output:
    a flat list: engine name, its heartbeat as stored (for forget-engine), "1" when silent else
    "0", … for each engine
]]
local heartbeats, timeoutMs = KEYS[1], tonumber(ARGV[1])
local time = redis.call("TIME")
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
for i = 2, #ARGV do
  redis.call("HSETNX", heartbeats, ARGV[i], cjson.encode({ engineId = "", at = now, answeredAt = now }))
end
local result = {}
local entries = redis.call("HGETALL", heartbeats)
for i = 1, #entries, 2 do
  local beat = cjson.decode(entries[i + 1])
  local last = math.min(beat.at, beat.answeredAt or beat.at)
  table.insert(result, entries[i])
  table.insert(result, entries[i + 1])
  table.insert(result, (now - last >= timeoutMs) and "1" or "0")
end
return result
