//! The Lua scripts of the Redis store: each operation is one script, so that it is atomic
//! across replicas. They mirror the memory store (`../memory.rs`, `../revocations.rs`), and the
//! same test suite runs against both.
//!
//! Keys, under the store's prefix `P`:
//!
//! | key | type | holds | expires |
//! | --- | --- | --- | --- |
//! | `P t:<hash>` | hash `n`, `t` | a throttling counter: attempts, last attempt (ms) | a window after the last attempt |
//! | `P fam:<family>` | hash `sub`, `cur`, `prev`, `at` | a login's refresh tokens: current and previous generation (space-separated `jti`s), when it last rotated (ms) | with its newest refresh token |
//! | `P sess:<sub>` | sorted set | the user's live families, scored by the order of their last login or refresh | with the newest |
//! | `P seq` | integer | that order: incremented on every login and refresh | |
//! | `P rv:<sub>` | hash | the user's revocations: id -> `"iat until"`, and `!` -> the watermark `"iat until"` | with the last |
//! | `P rvx:<sub>` | sorted set | the same ids (and `!`), scored by `until`: expired ones are found first | with the last |
//! | `P rvsubs` | set | the users with revocations, for a replica that (re)loads them all | |
//!
//! Times in seconds come from the caller; what depends on the order of concurrent calls
//! (throttling, the reuse grace) reads Redis's own clock (`TIME`), the one clock all replicas
//! share.

use std::sync::LazyLock;

use redis::Script;

/// Redis's clock in milliseconds, and raising a key's expiry (never lowering it).
const PRELUDE: &str = r"
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function next_use(prefix)
  return redis.call('INCR', prefix .. 'seq')
end
local function expire_at_least(key, at)
  local current = redis.call('EXPIRETIME', key)
  if current == -1 or current < at then redis.call('EXPIREAT', key, at) end
end
";

/// KEYS: the pair's and the client's counters. ARGV: pair limit, client limit, base, cap, ttl
/// (ms). Counts on both keys unless either is locked out; answers the milliseconds left to
/// wait, 0 when counted. Mirrors `MemoryStore::attempt_at` and `Limits::lockout_ms`.
const ATTEMPT: &str = r"
local now = now_ms()
local base, cap, ttl = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local function wait(key, limit)
  local v = redis.call('HMGET', key, 'n', 't')
  local n = tonumber(v[1])
  if not n or n < limit then return 0 end
  local lockout = math.min(base * 2 ^ math.min(n - limit, 40), cap)
  return tonumber(v[2]) + lockout - now
end
local w = math.max(wait(KEYS[1], tonumber(ARGV[1])), wait(KEYS[2], tonumber(ARGV[2])))
if w > 0 then return w end
for i = 1, 2 do
  redis.call('HINCRBY', KEYS[i], 'n', 1)
  redis.call('HSET', KEYS[i], 't', now)
  redis.call('PEXPIRE', KEYS[i], ttl)
end
return 0
";

/// KEYS: the pair's and the client's counters.
const FORGIVE: &str = r"
redis.call('DEL', KEYS[1])
if redis.call('EXISTS', KEYS[2]) == 1 and redis.call('HINCRBY', KEYS[2], 'n', -1) <= 0 then
  redis.call('DEL', KEYS[2])
end
return 1
";

/// KEYS: fam:<family>, sess:<sub>. ARGV: prefix, family, sub, jti, exp, max sessions. Past
/// the bound, the user's least recently used families go (expired ones, the least recently used
/// of all, first).
const START_FAMILY: &str = r"
local exp, max = tonumber(ARGV[5]), tonumber(ARGV[6])
while redis.call('ZCARD', KEYS[2]) >= max do
  local oldest = redis.call('ZPOPMIN', KEYS[2])
  if #oldest == 0 then break end
  redis.call('DEL', ARGV[1] .. 'fam:' .. oldest[1])
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'sub', ARGV[3], 'cur', ARGV[4], 'prev', '', 'at', 0)
redis.call('EXPIREAT', KEYS[1], exp)
redis.call('ZADD', KEYS[2], next_use(ARGV[1]), ARGV[2])
expire_at_least(KEYS[2], exp)
return 1
";

/// KEYS: fam:<family>, sess:<sub>. ARGV: family, sub, presented jti, new jti, new exp, grace
/// (ms), most tokens per generation, prefix. 1 rotated, 2 reused (the family is gone), 0 revoked or
/// unknown. Mirrors `MemoryStore::rotate_at`.
const ROTATE: &str = r"
local f = redis.call('HMGET', KEYS[1], 'sub', 'cur', 'prev', 'at')
if not f[1] or f[1] ~= ARGV[2] then return 0 end
local function tokens(list)
  local all = {}
  for token in string.gmatch(list, '%S+') do table.insert(all, token) end
  return all
end
local function has(list, jti)
  for _, token in ipairs(tokens(list)) do if token == jti then return true end end
  return false
end
local now = now_ms()
if has(f[2], ARGV[3]) then
  redis.call('HSET', KEYS[1], 'cur', ARGV[4], 'prev', f[2], 'at', now)
elseif has(f[3], ARGV[3]) and now - tonumber(f[4]) < tonumber(ARGV[6]) then
  local current = tokens(f[2])
  while #current >= tonumber(ARGV[7]) do table.remove(current, 1) end
  table.insert(current, ARGV[4])
  redis.call('HSET', KEYS[1], 'cur', table.concat(current, ' '))
else
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 2
end
local exp = tonumber(ARGV[5])
expire_at_least(KEYS[1], exp)
redis.call('ZADD', KEYS[2], next_use(ARGV[8]), ARGV[1])
expire_at_least(KEYS[2], exp)
return 1
";

/// KEYS: rv:<sub>. ARGV: jti, family, iat. 1 if a revocation refuses the token.
const IS_REVOKED: &str = r"
local v = redis.call('HMGET', KEYS[1], ARGV[1], ARGV[2], '!')
if v[1] or v[2] then return 1 end
if v[3] and tonumber(ARGV[3]) <= tonumber(string.match(v[3], '^(%S+)')) then return 1 end
return 0
";

/// KEYS: rv:<sub>, rvx:<sub>, rvsubs. ARGV: prefix, sub, id, family (1 or 0), iat, until,
/// watermark until, now, max per user, channel. Records the revocation (past the bound, the
/// user's ids become a watermark), forgets a revoked family's rotation record, and publishes
/// what every replica must hold, which it also answers. Mirrors `Revocations::insert`.
const REVOKE: &str = r"
local sub, id = ARGV[2], ARGV[3]
local iat, till, wtill = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local now, max = tonumber(ARGV[8]), tonumber(ARGV[9])
if ARGV[4] == '1' then
  redis.call('DEL', ARGV[1] .. 'fam:' .. id)
  redis.call('ZREM', ARGV[1] .. 'sess:' .. sub, id)
end
for _, old in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 8)) do
  redis.call('HDEL', KEYS[1], old)
  redis.call('ZREM', KEYS[2], old)
end
local function parse(value)
  local a, b = string.match(value, '^(%S+) (%S+)$')
  return tonumber(a), tonumber(b)
end
local function watermark(before, kept)
  redis.call('HSET', KEYS[1], '!', before .. ' ' .. kept)
  redis.call('ZADD', KEYS[2], kept, '!')
  return cjson.encode({sub = sub, iat = before, ['until'] = kept})
end
local message
local w = redis.call('HGET', KEYS[1], '!')
local wiat, wtill_old
if w then wiat, wtill_old = parse(w) end
local held = redis.call('HGET', KEYS[1], id)
if w and iat <= wiat then
  message = watermark(wiat, math.max(wtill_old, till))
elseif held then
  local hiat, htill = parse(held)
  iat, till = math.max(iat, hiat), math.max(till, htill)
  redis.call('HSET', KEYS[1], id, iat .. ' ' .. till)
  redis.call('ZADD', KEYS[2], till, id)
  message = cjson.encode({sub = sub, id = id, iat = iat, ['until'] = till})
elseif redis.call('HLEN', KEYS[1]) - (w and 1 or 0) < max then
  redis.call('HSET', KEYS[1], id, iat .. ' ' .. till)
  redis.call('ZADD', KEYS[2], till, id)
  message = cjson.encode({sub = sub, id = id, iat = iat, ['until'] = till})
else
  local newest, kept = iat, math.max(till, wtill)
  local all = redis.call('HGETALL', KEYS[1])
  for i = 1, #all, 2 do
    local a, b = parse(all[i + 1])
    newest, kept = math.max(newest, a), math.max(kept, b)
  end
  redis.call('DEL', KEYS[1], KEYS[2])
  message = watermark(newest, kept)
end
local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
expire_at_least(KEYS[1], tonumber(last[2]))
expire_at_least(KEYS[2], tonumber(last[2]))
redis.call('SADD', KEYS[3], sub)
redis.call('PUBLISH', ARGV[10], message)
return message
";

fn script(body: &str) -> Script {
    Script::new(&format!("{PRELUDE}{body}"))
}

// Each hashed once (`Script::new` computes the SHA-1 that `EVALSHA` uses), not on every call.
pub(super) static ATTEMPT_SCRIPT: LazyLock<Script> = LazyLock::new(|| script(ATTEMPT));
pub(super) static FORGIVE_SCRIPT: LazyLock<Script> = LazyLock::new(|| script(FORGIVE));
pub(super) static START_FAMILY_SCRIPT: LazyLock<Script> = LazyLock::new(|| script(START_FAMILY));
pub(super) static ROTATE_SCRIPT: LazyLock<Script> = LazyLock::new(|| script(ROTATE));
pub(super) static IS_REVOKED_SCRIPT: LazyLock<Script> = LazyLock::new(|| script(IS_REVOKED));
pub(super) static REVOKE_SCRIPT: LazyLock<Script> = LazyLock::new(|| script(REVOKE));
