--[[
  Takes, checks or confirms a runner's slot under the per-pool and per-engine ceilings (used by
  Slots). Slots are sorted sets of runner names scored by lease expiry: a reservation holds a
  lease until its container has started, then +inf until the container is gone. Pruning expired
  leases and counting happen inside this one script, so no two processes can take the last slot.
  Time is Redis' own clock, so hosts with skewed clocks cannot prune each other's live leases.

  Input:
    KEYS[1] the pool's slots (sorted set)
    KEYS[2] the engine's slots (sorted set)
    KEYS[3] the pool overrides (hash: pool name -> JSON); a maxRunners there beats ARGV[2]
    KEYS[4] the pool's slot repositories (hash: runner name -> repository), for pools with perRepository
    KEYS[5] the prefix of the pool's per-repository slots (sorted sets like KEYS[1]; the repository is appended)

    ARGV[1] pool name
    ARGV[2] the pool file's maxRunners
    ARGV[3] the engine's capacity, -1 for no limit
    ARGV[4] runner name
    ARGV[5] lease in ms (for "reserve")
    ARGV[6] mode: "reserve" takes a lease; "check" only answers; "confirm" makes the slot
            permanent, and takes it afresh (if there is room) when the lease ran out while the
            container was being made
    ARGV[7] the runner's repository (owner/repo, lower case), "" when the pool has no perRepository
    ARGV[8] the pool's perRepository.maxRunners, -1 for none: a third ceiling, per repository

  Output:
    "ok", "repo-full", "pool-full" or "engine-full" (nothing is written unless "ok"); the
    repository's ceiling is answered first: a job at it cannot start however many slots free
]]
local poolSlots, engineSlots, overrides, slotRepos, repoSlotsPrefix = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local pool, fileMax, capacity, runner, leaseMs, mode = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5]), ARGV[6]
local repository, repoMax = ARGV[7], tonumber(ARGV[8])
local time = redis.call("TIME")
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
-- An expired lease leaves its repository's set with it.
for _, expired in ipairs(redis.call("ZRANGEBYSCORE", poolSlots, "-inf", "(" .. now)) do
  local repo = redis.call("HGET", slotRepos, expired)
  if repo then
    redis.call("ZREM", repoSlotsPrefix .. repo, expired)
    redis.call("HDEL", slotRepos, expired)
  end
end
redis.call("ZREMRANGEBYSCORE", poolSlots, "-inf", "(" .. now)
redis.call("ZREMRANGEBYSCORE", engineSlots, "-inf", "(" .. now)
local repoSlots = repoSlotsPrefix .. repository
if repository ~= "" then redis.call("ZREMRANGEBYSCORE", repoSlots, "-inf", "(" .. now) end
local held = redis.call("ZSCORE", poolSlots, runner)
if not held then
  if repository ~= "" and repoMax >= 0 and redis.call("ZCARD", repoSlots) >= repoMax then return "repo-full" end
  local max = fileMax
  local override = redis.call("HGET", overrides, pool)
  if override then
    local decoded = cjson.decode(override)
    if type(decoded.maxRunners) == "number" then max = decoded.maxRunners end
  end
  if redis.call("ZCARD", poolSlots) >= max then return "pool-full" end
  if capacity >= 0 and redis.call("ZCARD", engineSlots) >= capacity then return "engine-full" end
  if mode == "check" then return "ok" end
end
local score = "+inf"
if mode ~= "confirm" then
  if held then return "ok" end
  score = now + leaseMs
end
redis.call("ZADD", poolSlots, score, runner)
redis.call("ZADD", engineSlots, score, runner)
if repository ~= "" then
  redis.call("ZADD", repoSlots, score, runner)
  redis.call("HSET", slotRepos, runner, repository)
end
return "ok"
