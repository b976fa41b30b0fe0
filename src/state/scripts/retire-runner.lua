--[[
  Removes a live runner record, frees its capacity slots and keeps what happened to it for a while
  (RunnerStore.retire), in one step, so no reader sees the runner in an index without its record
  or the other way round, nor a runner whose record is gone still holding a slot of its pool or
  engine. (Freeing the slot in a second call left such a window: a reader between the two calls
  counted a slot for a runner that no longer existed.) Waking the demand parked on the freed slot
  stays with the caller (Slots), which needs the queue.

  Input:
    KEYS[1] the runner record (string, JSON RunnerRecord)
    KEYS[2] the live runners (set of names)
    KEYS[3] the exit record (string, JSON RunnerExitRecord)
    KEYS[4] the prefix of the per-pool sets of free runners (the pool's name is appended)
    KEYS[5] the runner's last log lines (string)
    KEYS[6] the prefix of the per-pool slots (sorted sets; the record's pool is appended)
    KEYS[7] the prefix of the per-engine slots (sorted sets; the record's engine is appended)
    KEYS[8] the prefix of the per-pool slot repositories (hashes; the record's pool is appended)
    KEYS[9] the prefix of the per-repository slots (sorted sets; pool, ":" and repository are appended)

    ARGV[1] the runner's name
    ARGV[2] the exit fields as JSON (exitedAt, exitCode, oomKilled, reason), merged over the record
    ARGV[3] seconds the exit record (and the log lines) are kept
    ARGV[4] optional: the runner's last log lines, masked

  Output:
    the exit record as JSON, or nil when there was no live record (the indexes are cleaned anyway)
]]
local text = redis.call("GET", KEYS[1])
redis.call("SREM", KEYS[2], ARGV[1])
if not text then return false end
local record = cjson.decode(text)
redis.call("SREM", KEYS[4] .. record.pool, ARGV[1])
redis.call("ZREM", KEYS[6] .. record.pool, ARGV[1])
if type(record.engine) == "string" then redis.call("ZREM", KEYS[7] .. record.engine, ARGV[1]) end
local repo = redis.call("HGET", KEYS[8] .. record.pool, ARGV[1])
if repo then
  redis.call("ZREM", KEYS[9] .. record.pool .. ":" .. repo, ARGV[1])
  redis.call("HDEL", KEYS[8] .. record.pool, ARGV[1])
end
for key, value in pairs(cjson.decode(ARGV[2])) do record[key] = value end
local history = cjson.encode(record)
redis.call("DEL", KEYS[1])
redis.call("SET", KEYS[3], history, "EX", tonumber(ARGV[3]))
if ARGV[4] then redis.call("SET", KEYS[5], ARGV[4], "EX", tonumber(ARGV[3])) end
return history
