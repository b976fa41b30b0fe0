--[[
  Spends one GitHub call's points (GitHubBudget) from its installation's token bucket, in GitHub's
  secondary-limit points, refilled continuously. GitHub keeps its limits per installation token
  (the app's JWT has its own), so each installation has its own bucket shared by every process,
  and one installation's spent bucket or pause never holds another's calls. A pause
  (pause-github-budget.lua) leaves the bucket empty as of the pause's end, so its calls do not all
  fire at once afterwards. Time is Redis' own clock, so every host agrees.

  Input:
    KEYS[1] the installation's bucket (hash: points = what is left, at = ms on Redis' clock of
            that figure; a missing key is a full bucket)
    KEYS[2] the installation's pause (string: ms on Redis' clock at which it ends)

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
at = math.max(at, now)
local wait = 0
if points - cost < floor then wait = math.ceil((floor + cost - points) / perMs) + (at - now) end
if wait == 0 then points = points - cost end
redis.call("HSET", KEYS[1], "points", tostring(points), "at", at)
-- A bucket left alone this long is full again, which is what a missing key means.
redis.call("PEXPIRE", KEYS[1], math.ceil(burst / perMs) + 60000)
return wait
