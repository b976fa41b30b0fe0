--[[
  Removes a lost engine's heartbeat once its records and slots are cleaned up, unless it beat
  again meanwhile (used by Heartbeats.forget).

  Input:
    KEYS[1] the heartbeats (hash: engine name -> JSON {engineId, at, answeredAt})

    ARGV[1] engine name
    ARGV[2] its heartbeat as read-heartbeats read it

  Output:
    1 when removed, 0 when the heartbeat changed (the engine is back; nothing written)
]]
if redis.call("HGET", KEYS[1], ARGV[1]) == ARGV[2] then return redis.call("HDEL", KEYS[1], ARGV[1]) end
return 0
