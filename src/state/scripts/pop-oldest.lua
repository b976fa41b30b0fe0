--[[
  Takes the lowest-scored member of a sorted set: the oldest demand parked on a pool or engine
  (used by Capacity.popParked).

  Input:
    KEYS[1] the parked entries (sorted set of BullMQ job ids scored by queuedAt)

  Output:
    the member removed, or nil when the set is empty
]]
local popped = redis.call("ZPOPMIN", KEYS[1])
if #popped == 0 then return false end
return popped[1]
