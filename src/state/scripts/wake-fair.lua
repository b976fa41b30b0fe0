--[[
  Takes the next parked provision entry of a pool off its parked sets (Slots.wake): for a pool with
  perRepository, round-robin by repository (the first repository of the rotation that is below its
  ceiling gives its oldest entry and moves to the end; repositories at their ceiling keep their
  place), else, and once no repository can take a slot, the oldest entry of the pool's own set.
  One script, so two processes never take the same entry nor skip a repository's turn.

  Input:
    KEYS[1] the pool's parked set (sorted set of entry ids by queuedAt)
    KEYS[2] the pool's rotation (list of repositories with parked demand)
    KEYS[3] the prefix of the pool's per-repository parked sets (the repository is appended)
    KEYS[4] the prefix of the pool's per-repository slots (sorted sets by lease expiry; the repository is appended)

    ARGV[1] the pool's perRepository.maxRunners, -1 for none

  Output:
    { entry id, repository } ("" for the pool's own set), or nil when nothing is parked that may start
]]
local rotation, repoMax = KEYS[2], tonumber(ARGV[1])
local time = redis.call("TIME")
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local repos = redis.call("LRANGE", rotation, 0, -1)
for _, repo in ipairs(repos) do
  local parked = KEYS[3] .. repo
  local running = redis.call("ZCOUNT", KEYS[4] .. repo, now, "+inf")
  if repoMax < 0 or running < repoMax then
    local popped = redis.call("ZPOPMIN", parked)
    redis.call("LREM", rotation, 1, repo)
    if redis.call("ZCARD", parked) > 0 then redis.call("RPUSH", rotation, repo) end
    if popped[1] then return { popped[1], repo } end
  end
end
local popped = redis.call("ZPOPMIN", KEYS[1])
if popped[1] then return { popped[1], "" } end
return nil
