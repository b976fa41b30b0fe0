--[[
  Compare-and-increment of an event's redelivery count: of several processes that read the same
  count, only one redelivers (used by the delivery recovery).

  Input:
    KEYS[1] the event's redelivery count (string integer, missing = 0)

    ARGV[1] the count the caller read
    ARGV[2] how long the count is kept, in ms (renewed on each claim)

  Output:
    1 when claimed (the count is now ARGV[1] + 1), 0 when the count had changed (nothing written)
]]
local current = tonumber(redis.call("GET", KEYS[1]) or "0")
if current ~= tonumber(ARGV[1]) then return 0 end
redis.call("SET", KEYS[1], current + 1, "PX", ARGV[2])
return 1
