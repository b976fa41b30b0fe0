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

    ARGV[1] pool name
    ARGV[2] the pool file's maxRunners
    ARGV[3] the engine's capacity, -1 for no limit
    ARGV[4] runner name
    ARGV[5] lease in ms (for "reserve")
    ARGV[6] mode: "reserve" takes a lease; "check" only answers; "confirm" makes the slot
            permanent, and takes it afresh (if there is room) when the lease ran out while the
            container was being made

  Output:
    "ok", "pool-full" or "engine-full" (nothing is written unless "ok")
]]
local poolSlots, engineSlots, overrides = KEYS[1], KEYS[2], KEYS[3]
local pool, fileMax, capacity, runner, leaseMs, mode = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5]), ARGV[6]
local time = redis.call("TIME")
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call("ZREMRANGEBYSCORE", poolSlots, "-inf", "(" .. now)
redis.call("ZREMRANGEBYSCORE", engineSlots, "-inf", "(" .. now)
local held = redis.call("ZSCORE", poolSlots, runner)
if not held then
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
if mode == "confirm" then
  redis.call("ZADD", poolSlots, "+inf", runner)
  redis.call("ZADD", engineSlots, "+inf", runner)
elseif not held then
  redis.call("ZADD", poolSlots, now + leaseMs, runner)
  redis.call("ZADD", engineSlots, now + leaseMs, runner)
end
return "ok"
