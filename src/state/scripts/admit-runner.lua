--[[
  Admits a runner to an engine by its resources, and places it (used by EngineAdmission). Runs
  after take-slot.lua gave the runner a slot of this engine: it sums what the live runners of each
  candidate engine reserve, checks that this runner fits here, and, unless placement is "any",
  that no candidate suits it better (spread: the most room; pack: the least room that still fits,
  ties to the first candidate). Reading and reserving in one script keeps two processes from
  taking the same memory or both choosing the engine that was the best a moment ago.

  Room is counted in runners of this size: the least of the slots the engine's capacity leaves,
  its free memory over the runner's memory, and its free CPUs over the runner's CPUs (a dimension
  with no limit does not bound it).

  Input:
    KEYS[2i-1] candidate i's slots (sorted set, as take-slot.lua keeps them)
    KEYS[2i]   candidate i's reserved resources (hash: runner -> "memoryBytes milliCpus")

    ARGV[1] runner name
    ARGV[2] the runner's memory in bytes
    ARGV[3] the runner's CPUs in thousandths (0: none reserved)
    ARGV[4] placement: "spread", "pack" or "any" (this engine, if it fits)
    ARGV[5] which candidate is this engine (1-based)
    then per candidate i, in KEYS order: ARGV[4i+2] name, ARGV[4i+3] capacity in runners,
    ARGV[4i+4] memory in bytes, ARGV[4i+5] CPUs in thousandths (each -1 for no limit)

  Output:
    {"ok", ""} reserved here (also when the runner already had its reservation); {"elsewhere",
    name} another candidate suits it better; {"engine-full", ""} it fits on no candidate now
    (nothing is written unless "ok")
]]
local runner, memory, milliCpus, placement, self = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])
local NO_LIMIT = 1000000000
local time = redis.call("TIME")
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)

if redis.call("HEXISTS", KEYS[2 * self], runner) == 1 then return { "ok", "" } end

local function room(i)
  local base = 4 * i + 2
  local capacity, memoryTotal, cpuTotal = tonumber(ARGV[base + 1]), tonumber(ARGV[base + 2]), tonumber(ARGV[base + 3])
  local live = redis.call("ZRANGEBYSCORE", KEYS[2 * i - 1], now, "+inf")
  local held, usedMemory, usedCpus = 0, 0, 0
  for _, name in ipairs(live) do
    if name ~= runner then
      held = held + 1
      local entry = redis.call("HGET", KEYS[2 * i], name)
      if entry then
        local m, c = string.match(entry, "^(%d+) (%d+)$")
        usedMemory = usedMemory + tonumber(m)
        usedCpus = usedCpus + tonumber(c)
      end
    end
  end
  local fits = NO_LIMIT
  if capacity >= 0 then fits = math.min(fits, capacity - held) end
  if memoryTotal >= 0 and memory > 0 then fits = math.min(fits, math.floor((memoryTotal - usedMemory) / memory)) end
  if cpuTotal >= 0 and milliCpus > 0 then fits = math.min(fits, math.floor((cpuTotal - usedCpus) / milliCpus)) end
  return fits
end

local candidates = (#ARGV - 5) / 4
local mine = room(self)
local best, bestRoom = nil, nil
if placement ~= "any" then
  for i = 1, candidates do
    local r = i == self and mine or room(i)
    if r >= 1 then
      local better = bestRoom == nil or (placement == "spread" and r > bestRoom) or (placement == "pack" and r < bestRoom)
      -- Spread: a tie keeps this engine (no reason to hand the runner on); pack: the first one.
      if placement == "spread" and i == self and r == bestRoom then better = true end
      if better then best, bestRoom = i, r end
    end
  end
end
if mine >= 1 and (placement == "any" or best == self) then
  redis.call("HSET", KEYS[2 * self], runner, string.format("%d %d", memory, milliCpus))
  -- Entries of runners that no longer hold a slot here are dropped as they are met.
  for _, name in ipairs(redis.call("HKEYS", KEYS[2 * self])) do
    local score = redis.call("ZSCORE", KEYS[2 * self - 1], name)
    if not score or (score ~= "inf" and tonumber(score) < now) then redis.call("HDEL", KEYS[2 * self], name) end
  end
  return { "ok", "" }
end
if best ~= nil then return { "elsewhere", ARGV[4 * best + 2] } end
return { "engine-full", "" }
