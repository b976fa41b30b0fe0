--[[
  Compare-and-set of a JSON string: of several processes that read the same value and computed
  their change from it, only one writes; the others read again (used by the crash-loop store).

  Input:
    KEYS[1] the value (string, missing = "")

    ARGV[1] the value the caller read ("" when it was missing)
    ARGV[2] the value to write
    ARGV[3] how long the written value is kept, in ms

  Output:
    1 when written, 0 when the value had changed (nothing written)
]]
local current = redis.call("GET", KEYS[1]) or ""
if current ~= ARGV[1] then return 0 end
redis.call("SET", KEYS[1], ARGV[2], "PX", ARGV[3])
return 1
