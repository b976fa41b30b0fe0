--[[
  Gives back a claim whose redelivery request failed, unless another process has claimed since
  (used by the delivery recovery).

  Input:
    KEYS[1] the event's redelivery count (string integer, missing = 0)

    ARGV[1] the count the caller's claim set

  Output:
    1 when given back (decremented, deleted at 0), 0 when the count had changed (nothing written)
]]
local current = tonumber(redis.call("GET", KEYS[1]) or "0")
if current ~= tonumber(ARGV[1]) then return 0 end
if current <= 1 then redis.call("DEL", KEYS[1]) else redis.call("DECR", KEYS[1]) end
return 1
