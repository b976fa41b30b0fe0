--[[
  Lists the engines whose heartbeat has been silent past the timeout (used by Heartbeats.silent).
  Engines that hold runner records but never beat (records written before heartbeats existed)
  get a heartbeat of unknown ID dated now, so they count as silent only after a full timeout.

  Input:
    KEYS[1] the heartbeats (hash: engine name -> JSON {engineId, at}; at in ms on Redis' clock)

    ARGV[1] silence after which an engine counts as lost, in ms
    ARGV[2..] engine names seen in runner records

  Output:
    a flat list: engine name, its heartbeat as stored (for forget-engine), … for each silent engine
]]
local heartbeats, timeoutMs = KEYS[1], tonumber(ARGV[1])
local time = redis.call("TIME")
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
for i = 2, #ARGV do
  redis.call("HSETNX", heartbeats, ARGV[i], cjson.encode({ engineId = "", at = now }))
end
local silent = {}
local entries = redis.call("HGETALL", heartbeats)
for i = 1, #entries, 2 do
  if now - cjson.decode(entries[i + 1]).at >= timeoutMs then
    table.insert(silent, entries[i])
    table.insert(silent, entries[i + 1])
  end
end
return silent
