--[[
  Pauses one installation's GitHub calls in every process (GitHubBudget) after GitHub answered
  that installation with a rate limit; other installations go on. A pause only ever grows, and
  the installation's bucket is empty when it ends, so its calls do not all fire at once
  afterwards (take-github-budget.lua refills it from then on).

  Input:
    KEYS[1] the installation's bucket (hash: points, at; see take-github-budget.lua)
    KEYS[2] the installation's pause (string: ms on Redis' clock at which it ends)

    ARGV[1] the pause, in ms from now
    ARGV[2] a bucket's size (burst), in points
    ARGV[3] the refill, in points per ms

  Output:
    the ms the pause still lasts
]]
local time = redis.call("TIME")
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local pauseMs, burst, perMs = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local current = tonumber(redis.call("GET", KEYS[2]) or "0")
if current >= now + pauseMs then return current - now end
redis.call("SET", KEYS[2], now + pauseMs, "PX", pauseMs)
redis.call("HSET", KEYS[1], "points", "0", "at", now + pauseMs)
redis.call("PEXPIRE", KEYS[1], pauseMs + math.ceil(burst / perMs) + 60000)
return pauseMs
