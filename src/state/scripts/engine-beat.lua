--[[
  Writes a worker's heartbeat for its Docker engine, on Redis' own clock, unless another live
  engine already beats under the same name (used by Heartbeats.beat). Two engines sharing a name
  would share records, slots and queues; the second one must not start, and a worker that finds
  its name taken at run time must stop.

  A beat says two things: the worker lives (at), and when its engine last answered (answeredAt).
  A worker whose engine stopped answering keeps beating with the old answeredAt, so the other
  workers can give that engine up while its worker still runs.

  Input:
    KEYS[1] the heartbeats (hash: engine name -> JSON {engineId, at, answeredAt}; ms on Redis' clock)

    ARGV[1] engine name
    ARGV[2] the engine's own ID (`docker info` ID)
    ARGV[3] silence after which a heartbeat no longer counts, in ms
    ARGV[4] "1" when the engine answered just now, "0" when it did not

  Output:
    {"ok", ""} when written over a beat of the same engine; {"new", ""} when there was none (a
    first start, a Redis that lost its data, or an engine other workers gave up for lost), or when
    the engine answers again after being silent past the timeout (others may have given its runners
    up); {"taken", other engine ID} when another engine beat under this name within the timeout
    (nothing written)
]]
local heartbeats, engine, engineId, timeoutMs = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3])
local answered = ARGV[4] == "1"
local time = redis.call("TIME")
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local text = redis.call("HGET", heartbeats, engine)
local previous = text and cjson.decode(text)
local other = previous and previous.engineId ~= "" and previous.engineId ~= engineId
if other and now - previous.at < timeoutMs then return { "taken", previous.engineId } end
-- Unanswered: the last answer stands; with no beat of this engine to take it from (given up, or
-- Redis lost it), the engine counts as silent since a whole timeout ago.
local answeredAt = now
if not answered then
  if previous and not other then
    answeredAt = previous.answeredAt or previous.at
  else
    answeredAt = now - timeoutMs
  end
end
redis.call("HSET", heartbeats, engine, cjson.encode({ engineId = engineId, at = now, answeredAt = answeredAt }))
if not previous or other then return { "new", "" } end
local lastAnswer = previous.answeredAt or previous.at
if answered and now - lastAnswer >= timeoutMs then return { "new", "" } end
return { "ok", "" }
