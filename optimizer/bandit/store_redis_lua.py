"""The Lua scripts of the Redis bandit store (see :mod:`optimizer.bandit.store_redis`).

Each runs atomically inside redis-server, so one script is one round trip and one atomic step.
Keys follow the layout in ``store_redis.py``; campaign keys use the hex of the name (the read
script rebuilds it with ``string.format('%02x')``, matching :func:`store_redis.campaign_key`).
"""

# choose, round trip 1: reserve k decision numbers; return the state too when the caller's cached
# version (ARGV[2]) is behind and it wants the newest state (ARGV[3] == "1")
RESERVE = """
if redis.call('HEXISTS', KEYS[1], 'state_version') == 0 then return false end
local last = redis.call('HINCRBY', KEYS[1], 'seq', ARGV[1])
local v = redis.call('HGET', KEYS[1], 'state_version')
local state = false
if ARGV[3] == '1' and v ~= ARGV[2] then state = redis.call('HGET', KEYS[1], 'state') end
return {last, v, state}
"""

# choose, round trip 2: write the decisions (ARGV[2], JSON [[id, seq, arm, expires_at, [field, value,
# ...]], ...]) under ARGV[1] .. id, count them per arm and in the campaign, log and mark them pending
WRITE_DECISIONS = """
local ds = cjson.decode(ARGV[2])
for _, d in ipairs(ds) do
  redis.call('HSET', ARGV[1] .. d[1], unpack(d[5]))
  redis.call('HINCRBY', KEYS[2], d[3] .. '|n_decisions', 1)
  redis.call('ZADD', KEYS[3], d[2], d[1])
  redis.call('ZADD', KEYS[4], d[4], d[1])
end
redis.call('HINCRBY', KEYS[1], 'n_decisions', #ds)
return #ds
"""

# reward, round trip 1: the decision, its campaign's version, the arm's sums, and the state when the
# caller's cached version of that campaign (ARGV[2], a JSON object name -> version) is not current
REWARD_READ = """
local d = redis.call('HGETALL', KEYS[1])
if #d == 0 then return false end
local f = {}
for i = 1, #d, 2 do f[d[i]] = d[i + 1] end
local name = f['campaign']
local ckey = ARGV[1] .. 'c:' .. string.gsub(name, '.', function(ch) return string.format('%02x', string.byte(ch)) end)
local v = redis.call('HGET', ckey, 'state_version')
local sums = redis.call('HMGET', ckey .. ':arms', f['arm'] .. '|reward_sum', f['arm'] .. '|cost_sum')
local known = cjson.decode(ARGV[2])
local state = false
if tostring(known[name]) ~= v then state = redis.call('HGET', ckey, 'state') end
return {d, v, sums[1], sums[2], state}
"""

# reward, round trip 2: commit if the decision is still unrewarded and the campaign still at the
# version the new state was computed from; else report why (the caller re-reads and retries)
REWARD_COMMIT = """
if redis.call('HEXISTS', KEYS[1], 'reward') == 1 then return 'rewarded' end
if redis.call('HGET', KEYS[2], 'state_version') ~= ARGV[1] then return 'conflict' end
redis.call('HSET', KEYS[2], 'state', ARGV[2], 'state_version', ARGV[3])
redis.call('HINCRBY', KEYS[2], 'n_rewards', 1)
redis.call('HSET', KEYS[1], 'reward', ARGV[4], 'cost', ARGV[5], 'is_default', ARGV[6], 'rewarded_at', ARGV[7],
           'reward_state_version', ARGV[3])
redis.call('ZREM', KEYS[4], ARGV[11])
redis.call('HINCRBY', KEYS[3], ARGV[8] .. '|n_rewards', 1)
redis.call('HINCRBY', KEYS[3], ARGV[8] .. '|n_default_rewards', tonumber(ARGV[6]))
redis.call('HSET', KEYS[3], ARGV[8] .. '|reward_sum', ARGV[9], ARGV[8] .. '|cost_sum', ARGV[10])
return 'ok'
"""

# close a still unrewarded decision without a reward (crash_pending=expire)
CLOSE = """
if redis.call('HEXISTS', KEYS[1], 'reward') == 1 then return 0 end
redis.call('HSET', KEYS[1], 'closed', 1)
return redis.call('ZREM', KEYS[2], ARGV[1])
"""
