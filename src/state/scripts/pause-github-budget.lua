--[[
  Pauses every process's GitHub calls (GitHubBudget) after GitHub answered with a rate limit.
  A pause only ever grows, and the bucket is empty when it ends, so the processes do not all
  fire at once afterwards.

  Input:
    KEYS[1] the bucket (hash: points, at; see take-github-budget.lua)
    KEYS[2] the pause (string: ms on Redis' clock at which it ends)

    ARGV[1] the pause, in ms from now

  Output:
    the ms the pause still lasts
]]
local time = redis.call("TIME")
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local pauseMs = tonumber(ARGV[1])
local current = tonumber(redis.call("GET", KEYS[2]) or "0")
if current >= now + pauseMs then return current - now end
redis.call("SET", KEYS[2], now + pauseMs, "PX", pauseMs)
redis.call("HSET", KEYS[1], "points", "0", "at", now + pauseMs)
return pauseMs
