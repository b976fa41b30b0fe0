--[[
  Spends one GitHub call's points (GitHubBudget): from the token bucket every installation and
  process shares, in GitHub's secondary-limit points, refilled continuously; and, for an
  installation GitHub paused with a rate limit, from that installation's own bucket too, which
  starts empty when the pause ends and refills at the same rate (so its calls do not all fire at
  once afterwards). A pause holds the calls of its installation only. Time is Redis' own clock,
  so every host agrees.

  Input:
    KEYS[1] the shared bucket (hash: points = what is left, at = ms on Redis' clock of that figure)
    KEYS[2] the installation's pause (string: ms on Redis' clock at which it ends)
    KEYS[3] the installation's own bucket (hash: points, at; exists only after a pause)

    ARGV[1] a bucket's size (burst), in points
    ARGV[2] the refill, in points per ms
    ARGV[3] the call's cost, in points
    ARGV[4] the floor: points that must remain after this call (0 for runner registrations and
            deletions, the reserve for everything else)

  Output:
    0 when the points were spent, else the ms to wait before asking again (nothing is spent)
]]
local burst, perMs, cost, floor = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local time = redis.call("TIME")
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local pausedUntil = tonumber(redis.call("GET", KEYS[2]) or "0")
if pausedUntil > now then return pausedUntil - now end

-- A bucket's points now, the time its figure is of, and the ms until it holds floor + cost.
local function level(key, default)
  local state = redis.call("HMGET", key, "points", "at")
  if state[1] == false and default == nil then return nil end
  local points, at = tonumber(state[1]) or default, tonumber(state[2]) or now
  points = math.min(burst, points + math.max(0, now - at) * perMs)
  local wait = 0
  if points - cost < floor then wait = math.ceil((floor + cost - points) / perMs) + math.max(0, at - now) end
  return { points = points, at = math.max(at, now), wait = wait }
end

local shared = level(KEYS[1], burst)
local own = level(KEYS[3], nil)
local wait = shared.wait
if own and own.wait > wait then wait = own.wait end
-- A bucket left alone this long is full again, which is what a missing key means.
local fullAfter = math.ceil(burst / perMs) + 60000
for key, bucket in pairs({ [KEYS[1]] = shared, [KEYS[3]] = own }) do
  if wait == 0 then bucket.points = bucket.points - cost end
  redis.call("HSET", key, "points", tostring(bucket.points), "at", bucket.at)
  redis.call("PEXPIRE", key, fullAfter)
end
return wait
