--[[
  Spends one GitHub call's points from the budget every process shares (GitHubBudget): a token
  bucket in GitHub's secondary-limit points that refills continuously, plus a pause set when
  GitHub answered with a rate limit. Time is Redis' own clock, so every host agrees.

  Input:
    KEYS[1] the bucket (hash: points = what is left, at = ms on Redis' clock of that figure)
    KEYS[2] the pause (string: ms on Redis' clock at which it ends)

    ARGV[1] the bucket's size (burst), in points
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
local state = redis.call("HMGET", KEYS[1], "points", "at")
local points, at = tonumber(state[1]) or burst, tonumber(state[2]) or now
points = math.min(burst, points + math.max(0, now - at) * perMs)
local wait = 0
if points - cost >= floor then points = points - cost else wait = math.ceil((floor + cost - points) / perMs) end
redis.call("HSET", KEYS[1], "points", tostring(points), "at", math.max(at, now))
-- A bucket left alone this long is full again, which is what a missing key means.
redis.call("PEXPIRE", KEYS[1], math.ceil(burst / perMs) + 60000)
return wait
