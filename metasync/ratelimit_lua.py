"""The rate governor's Lua scripts: each check and the recording of its call run in one script,
so concurrent workers cannot both take the last slot, and times come from Redis's clock."""

from __future__ import annotations

__all__ = [
    "ACQUIRE_ACCOUNT",
    "ACQUIRE_PLATFORM",
    "ACQUIRE_UNCOUNTED",
    "BLOCK",
    "PACE",
]

CHECK_SCOPES = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local first = tonumber(ARGV[1])
local wait, reason = 0, ''
for i = first, #KEYS, 2 do
  local until_ms = tonumber(redis.call('GET', KEYS[i]) or '0')
  if until_ms - now > wait then wait = until_ms - now; reason = KEYS[i] end
  local next_ms = tonumber(redis.call('HGET', KEYS[i + 1], 'next') or '0')
  if next_ms - now > wait then wait = next_ms - now; reason = KEYS[i + 1] end
end
local function start_pacing()
  for i = first, #KEYS, 2 do
    local interval = tonumber(redis.call('HGET', KEYS[i + 1], 'interval') or '0')
    if interval > 0 then redis.call('HSET', KEYS[i + 1], 'next', now + interval) end
  end
end
"""

# The user's platform budget: a sliding-window log (one member per call, at most the budget).
# KEYS: log, warned, then (blocked, pace) pairs. ARGV: first pair index, window, budget,
# warn_at, cost, member.
ACQUIRE_PLATFORM = (
    CHECK_SCOPES
    + """
if wait > 0 then return {0, wait, reason, 0, 0, 0} end
local window, budget = tonumber(ARGV[2]), tonumber(ARGV[3])
local warn_at, cost, member = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local used = redis.call('ZCARD', KEYS[1])
if cost > budget then return {0, window, 'cost exceeds the whole budget', 0, used, budget} end
if used + cost > budget then
  local index = used + cost - budget - 1
  local oldest = redis.call('ZRANGE', KEYS[1], index, index, 'WITHSCORES')
  return {0, math.max(1, tonumber(oldest[2]) + window - now), KEYS[1], 0, used, budget}
end
for j = 1, cost do redis.call('ZADD', KEYS[1], now, member .. ':' .. j) end
redis.call('PEXPIRE', KEYS[1], window)
start_pacing()
local warn = 0
if used + cost >= warn_at and redis.call('SET', KEYS[2], '1', 'NX', 'PX', window) then
  warn = 1
end
return {1, 0, '', warn, used + cost, budget}
"""
)

# An ad account's use-case budget: calls counted in BUCKETS buckets of window/BUCKETS (a call
# leaves the count when its whole bucket has left the window: a little early counting, never
# late), the budget from Meta's formula and the account's active ads, and Meta's own latest
# percentage, when fresh, in place of the estimate (plus the calls made since it came).
# KEYS: buckets hash, meta usage hash, active-ads hash, then (blocked, pace) pairs.
# ARGV: first pair index, window, base, per ad, account, share, cost, buckets, meta wait.
ACQUIRE_ACCOUNT = (
    CHECK_SCOPES
    + """
if wait > 0 then return {0, wait, reason, 0, 0, 0} end
local window, base, per_ad = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local share, cost, buckets = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local ads = tonumber(redis.call('HGET', KEYS[3], ARGV[5]) or '0')
local budget = math.floor((base + per_ad * ads) * share)
local width = math.floor(window / buckets)
local current = math.floor(now / width)
local used, oldest = 0, current
local stored = redis.call('HGETALL', KEYS[1])
for i = 1, #stored, 2 do
  local bucket = tonumber(stored[i])
  if bucket <= current - buckets then
    redis.call('HDEL', KEYS[1], stored[i])
  else
    used = used + tonumber(stored[i + 1])
    if bucket < oldest then oldest = bucket end
  end
end
local meta_wait = 0
local pct = redis.call('HGET', KEYS[2], 'pct')
if pct then
  local after = tonumber(redis.call('HGET', KEYS[2], 'after') or '0')
  used = math.ceil(tonumber(pct) * budget / 100) + after
  meta_wait = tonumber(ARGV[9])
end
if used + cost > budget then
  local free_at = (oldest + 1) * width + window
  if meta_wait > 0 then free_at = now + meta_wait end
  return {0, math.max(1, free_at - now), KEYS[1], 0, used, budget}
end
redis.call('HINCRBY', KEYS[1], tostring(current), cost)
redis.call('PEXPIRE', KEYS[1], window + width)
if pct then redis.call('HINCRBY', KEYS[2], 'after', cost) end
start_pacing()
return {1, 0, '', 0, used + cost, budget}
"""
)

# Calls no budget of ours counts (an object read that names no ad account): blocks and pacing.
ACQUIRE_UNCOUNTED = (
    CHECK_SCOPES
    + """
if wait > 0 then return {0, wait, reason, 0, 0, 0} end
start_pacing()
return {1, 0, '', 0, 0, 0}
"""
)

BLOCK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local until_ms = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ms > current then
  redis.call('SET', KEYS[1], until_ms, 'PX', tonumber(ARGV[1]))
  return until_ms - now
end
return current - now
"""

PACE = """
local interval = tonumber(ARGV[1])
if interval <= 0 then redis.call('DEL', KEYS[1]) return 0 end
redis.call('HSET', KEYS[1], 'interval', interval)
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
return interval
"""
