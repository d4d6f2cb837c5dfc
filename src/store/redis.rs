//! The Redis store: one store shared by every replica (feature `redis`).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use redis::Client;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::{
    Attempt, Backend, Limits, RevokedAccess, Rotation, StoreError, StoreFuture, ThrottleKeys,
};
use crate::error::BuildError;
use crate::observe::LogLimiter;

/// A store in Redis, shared by several replicas of a service (feature `redis`).
///
/// What it shares, and what stays in each process:
///
/// - **Throttling counters** live in Redis: failed logins count across every replica.
/// - **Refresh-token families** (rotation) and **revoked refresh tokens** live in Redis: a token
///   rotated or revoked through one replica is refused by all.
/// - **Revoked access tokens** are written to Redis and published on a channel; every replica
///   keeps them in a set in its own memory, fed by a background subscription (and reloaded in
///   full on every reconnection), so a protected request never makes a network round trip.
///   A revocation reaches the other replicas within the pub/sub delay (milliseconds on a LAN).
///
/// Every key expires with the token or the counter it concerns (Redis TTLs). Keys are prefixed
/// (default `tower-jwt-login:`) so that the store can share a Redis with other data. The store
/// needs a standalone Redis 7 or later (or a primary with replicas; not Redis Cluster).
///
/// # When Redis is unreachable or slow
///
/// Every call is time-boxed ([`RedisStoreBuilder::timeout`], default 1 second). When Redis does
/// not answer in time, login, refresh and logout answer **503** with `Retry-After` rather than
/// skipping their checks (fail closed), and recover on their own once Redis is back (the
/// connection is re-established in the background). Protected routes keep working: they only
/// read the local set of revoked access tokens, which keeps what it had. Revocations are only as
/// durable as Redis is: run it with persistence if they must survive a Redis restart.
///
/// # Example
///
/// ```no_run
/// use tower_jwt_login::{JwtLoginLayer, Password, RedisStore};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), tower_jwt_login::BuildError> {
/// let layer = JwtLoginLayer::builder()
///     .user("admin", Password::plain("correct horse battery staple"))
///     .secret("the same secret on every replica, 32+ bytes")
///     .store(RedisStore::connect("redis://redis.internal:6379/")?)
///     .refresh_token_rotation(true)
///     .build()?;
/// # Ok(())
/// # }
/// ```
pub struct RedisStore {
    manager: ConnectionManager,
    keys: KeyNames,
    timeout: Duration,
    revoked: Arc<RevokedAccess>,
    subscriber: tokio::task::AbortHandle,
}

/// Builds a [`RedisStore`]; start from [`RedisStore::builder`].
#[must_use]
pub struct RedisStoreBuilder {
    url: String,
    prefix: String,
    timeout: Duration,
    max_revoked: usize,
}

#[derive(Clone)]
struct KeyNames {
    prefix: Arc<str>,
    revoked: Arc<str>,
}

impl KeyNames {
    fn throttle(&self, hash: &[u8; 32]) -> String {
        let mut key = format!("{}t:", self.prefix);
        for byte in hash {
            key.push_str(&format!("{byte:02x}"));
        }
        key
    }

    fn refresh(&self, jti: &str) -> String {
        format!("{}rt:{jti}", self.prefix)
    }

    fn family(&self, family: &str) -> String {
        format!("{}fam:{family}", self.prefix)
    }
}

impl RedisStore {
    /// Starts a configuration for the Redis server at `url` (`redis://host:port/db`, or
    /// `rediss://` for TLS if the `redis` crate is built with it).
    pub fn builder(url: impl Into<String>) -> RedisStoreBuilder {
        RedisStoreBuilder {
            url: url.into(),
            prefix: "tower-jwt-login:".to_owned(),
            timeout: Duration::from_secs(1),
            max_revoked: 100_000,
        }
    }

    /// A store at `url` with the default settings; see [`RedisStoreBuilder::build`].
    ///
    /// # Errors
    ///
    /// As [`RedisStoreBuilder::build`].
    pub fn connect(url: &str) -> Result<Self, BuildError> {
        Self::builder(url).build()
    }

    /// Runs `future` within the time box; any failure is the store being unavailable.
    async fn call<T>(
        &self,
        what: &'static str,
        future: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, StoreError> {
        // While Redis is down every call fails alike: one line per interval says it.
        static LOG: LogLimiter = LogLimiter::new(crate::observe::REPEATED_LOG_INTERVAL);
        match tokio::time::timeout(self.timeout, future).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => {
                if let Some(suppressed) = LOG.allow() {
                    tracing::warn!(operation = what, %error, suppressed, "Redis call failed");
                }
                Err(StoreError)
            }
            Err(_) => {
                if let Some(suppressed) = LOG.allow() {
                    tracing::warn!(operation = what, suppressed, "Redis call timed out");
                }
                Err(StoreError)
            }
        }
    }
}

impl RedisStoreBuilder {
    /// The prefix of every key and channel name. Default is `"tower-jwt-login:"`.
    ///
    /// Give each independent deployment sharing one Redis its own prefix.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long any Redis call may take, connecting included, before the route that made it
    /// answers 503. Default is 1 second.
    pub const fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The most revoked access tokens each replica holds in memory. Default is 100 000.
    ///
    /// When the set is full of unexpired revocations, a logout with an access token answers
    /// 503 rather than forgetting another revocation.
    pub fn max_revoked_access_tokens(mut self, max: usize) -> Self {
        self.max_revoked = max.max(1);
        self
    }

    /// Sets up the store. It connects lazily: a Redis that is down now makes logins answer 503
    /// until it is up, not this call fail.
    ///
    /// # Errors
    ///
    /// [`BuildError::InvalidRedis`] if the URL is not a Redis URL, the timeout is zero, or the
    /// call is not made within a Tokio runtime (the store runs a background task that keeps the
    /// revocations of other replicas up to date).
    pub fn build(self) -> Result<RedisStore, BuildError> {
        let invalid = |reason: String| BuildError::InvalidRedis { reason };
        if self.timeout.is_zero() {
            return Err(invalid("the timeout must not be zero".to_owned()));
        }
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| invalid("must be built within a Tokio runtime".to_owned()))?;
        // The URL may hold a password: the error says what kind of problem, never the URL.
        let client = Client::open(self.url.as_str())
            .map_err(|error| invalid(format!("invalid URL ({:?})", error.kind())))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let manager = {
            let _guard = runtime.enter();
            ConnectionManager::new_lazy_with_config(client.clone(), config)
                .map_err(|error| invalid(format!("{:?}", error.kind())))?
        };
        let keys = KeyNames {
            revoked: format!("{}revoked", self.prefix).into(),
            prefix: self.prefix.into(),
        };
        let revoked = Arc::new(RevokedAccess::new(self.max_revoked));
        let subscriber = runtime
            .spawn(follow_revocations(
                client,
                manager.clone(),
                keys.clone(),
                Arc::clone(&revoked),
                self.timeout,
            ))
            .abort_handle();
        Ok(RedisStore {
            manager,
            keys,
            timeout: self.timeout,
            revoked,
            subscriber,
        })
    }
}

impl Drop for RedisStore {
    fn drop(&mut self) {
        self.subscriber.abort();
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("key_prefix", &self.keys.prefix)
            .field("timeout", &self.timeout)
            .field("revoked_access", &self.revoked)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for RedisStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may carry a password.
        f.debug_struct("RedisStoreBuilder")
            .field("url", &"[redacted]")
            .field("key_prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("max_revoked_access_tokens", &self.max_revoked)
            .finish()
    }
}

/// Seconds from `now` to `until`, at least 1: a Redis TTL.
fn ttl(until: i64, now: i64) -> i64 {
    (until - now).max(1)
}

/// The Lua scripts, each hashed once (`Script::new` computes the SHA-1 that `EVALSHA` uses)
/// rather than on every call.
mod scripts {
    use std::sync::LazyLock;

    use redis::Script;

    pub(super) static ATTEMPT: LazyLock<Script> = LazyLock::new(|| Script::new(super::ATTEMPT));
    pub(super) static FORGIVE: LazyLock<Script> = LazyLock::new(|| Script::new(super::FORGIVE));
    pub(super) static ROTATE: LazyLock<Script> = LazyLock::new(|| Script::new(super::ROTATE));
    pub(super) static IS_FAMILY_REVOKED: LazyLock<Script> =
        LazyLock::new(|| Script::new(super::IS_FAMILY_REVOKED));
    pub(super) static REVOKE_FAMILY: LazyLock<Script> =
        LazyLock::new(|| Script::new(super::REVOKE_FAMILY));
    pub(super) static REVOKE_ACCESS: LazyLock<Script> =
        LazyLock::new(|| Script::new(super::REVOKE_ACCESS));
}

/// Counts an attempt on both keys unless either is locked out; mirrors
/// `MemoryStore::attempt_now` and `Limits::lockout_ms`. Answers the milliseconds left to wait,
/// 0 when the attempt was counted.
const ATTEMPT: &str = r"
local now = tonumber(ARGV[1])
local base, cap, ttl = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local function wait(key, limit)
  local v = redis.call('HMGET', key, 'n', 't')
  local n = tonumber(v[1])
  if not n or n < limit then return 0 end
  local lockout = math.min(base * 2 ^ math.min(n - limit, 40), cap)
  return tonumber(v[2]) + lockout - now
end
local w = math.max(wait(KEYS[1], tonumber(ARGV[2])), wait(KEYS[2], tonumber(ARGV[3])))
if w > 0 then return w end
for i = 1, 2 do
  redis.call('HINCRBY', KEYS[i], 'n', 1)
  redis.call('HSET', KEYS[i], 't', ARGV[1])
  redis.call('PEXPIRE', KEYS[i], ttl)
end
return 0
";

const FORGIVE: &str = r"
redis.call('DEL', KEYS[1])
if redis.call('EXISTS', KEYS[2]) == 1 and redis.call('HINCRBY', KEYS[2], 'n', -1) <= 0 then
  redis.call('DEL', KEYS[2])
end
return 1
";

/// KEYS: rt:old. ARGV: prefix, old, new, ttl. 1 rotated, 2 reused (family revoked), 0 revoked
/// or unknown. A family's value is its current refresh token's jti, or `!` once revoked.
const ROTATE: &str = r"
local family = redis.call('GET', KEYS[1])
if not family then return 0 end
local family_key = ARGV[1] .. 'fam:' .. family
local current = redis.call('GET', family_key)
if not current or current == '!' then return 0 end
if current ~= ARGV[2] then
  redis.call('SET', family_key, '!', 'KEEPTTL')
  return 2
end
redis.call('SET', family_key, ARGV[3], 'KEEPTTL')
redis.call('EXPIRE', family_key, ARGV[4], 'GT')
redis.call('SET', ARGV[1] .. 'rt:' .. ARGV[3], family, 'EX', ARGV[4])
return 1
";

/// KEYS: rt:jti. ARGV: prefix, jti. A token without a record is its own family.
const IS_FAMILY_REVOKED: &str = r"
local family = redis.call('GET', KEYS[1]) or ARGV[2]
if redis.call('GET', ARGV[1] .. 'fam:' .. family) == '!' then return 1 end
return 0
";

/// KEYS: rt:jti. ARGV: prefix, jti, ttl.
const REVOKE_FAMILY: &str = r"
local family = redis.call('GET', KEYS[1]) or ARGV[2]
local family_key = ARGV[1] .. 'fam:' .. family
if redis.call('EXISTS', family_key) == 1 then
  redis.call('SET', family_key, '!', 'KEEPTTL')
  redis.call('EXPIRE', family_key, ARGV[3], 'GT')
else
  redis.call('SET', family_key, '!', 'EX', ARGV[3])
end
return 1
";

/// KEYS: the sorted set of revoked access tokens (score: until). ARGV: channel, jti, until,
/// now, ttl. Adds, drops what expired, keeps the set's own TTL at its latest entry, publishes.
const REVOKE_ACCESS: &str = r"
redis.call('ZADD', KEYS[1], 'GT', ARGV[3], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5], 'NX')
redis.call('EXPIRE', KEYS[1], ARGV[5], 'GT')
redis.call('PUBLISH', ARGV[1], ARGV[3] .. ' ' .. ARGV[2])
return 1
";

impl Backend for RedisStore {
    fn attempt<'a>(
        &'a self,
        keys: &'a ThrottleKeys,
        limits: Limits,
        now_ms: i64,
    ) -> StoreFuture<'a, Attempt> {
        Box::pin(async move {
            let mut connection = self.manager.clone();
            let script = &*scripts::ATTEMPT;
            let mut invocation = script.prepare_invoke();
            invocation
                .key(self.keys.throttle(&keys.pair))
                .key(self.keys.throttle(&keys.client))
                .arg(now_ms)
                .arg(limits.pair)
                .arg(limits.client)
                .arg(limits.base_ms)
                .arg(limits.cap_ms)
                .arg(limits.ttl_ms());
            let wait: i64 = self
                .call("attempt", invocation.invoke_async(&mut connection))
                .await?;
            Ok(if wait > 0 {
                Attempt::Locked {
                    retry_after_ms: wait,
                }
            } else {
                Attempt::Allowed
            })
        })
    }

    fn forgive<'a>(&'a self, keys: &'a ThrottleKeys) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut connection = self.manager.clone();
            let script = &*scripts::FORGIVE;
            let mut invocation = script.prepare_invoke();
            invocation
                .key(self.keys.throttle(&keys.pair))
                .key(self.keys.throttle(&keys.client));
            let _: i64 = self
                .call("forgive", invocation.invoke_async(&mut connection))
                .await?;
            Ok(())
        })
    }

    fn start_family<'a>(&'a self, jti: &'a str, exp: i64, now: i64) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut connection = self.manager.clone();
            let ttl = ttl(exp, now);
            let mut pipe = redis::pipe();
            pipe.atomic()
                .cmd("SET")
                .arg(self.keys.refresh(jti))
                .arg(jti)
                .arg("EX")
                .arg(ttl)
                .ignore()
                .cmd("SET")
                .arg(self.keys.family(jti))
                .arg(jti)
                .arg("EX")
                .arg(ttl)
                .ignore();
            self.call("start_family", pipe.query_async::<()>(&mut connection))
                .await
        })
    }

    fn rotate<'a>(
        &'a self,
        old: &'a str,
        new: &'a str,
        exp: i64,
        now: i64,
    ) -> StoreFuture<'a, Rotation> {
        Box::pin(async move {
            let mut connection = self.manager.clone();
            let script = &*scripts::ROTATE;
            let mut invocation = script.prepare_invoke();
            invocation
                .key(self.keys.refresh(old))
                .arg(&*self.keys.prefix)
                .arg(old)
                .arg(new)
                .arg(ttl(exp, now));
            let outcome: i64 = self
                .call("rotate", invocation.invoke_async(&mut connection))
                .await?;
            Ok(match outcome {
                1 => Rotation::Rotated,
                2 => Rotation::Reused,
                _ => Rotation::Revoked,
            })
        })
    }

    fn is_family_revoked<'a>(&'a self, jti: &'a str, _now: i64) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let mut connection = self.manager.clone();
            let script = &*scripts::IS_FAMILY_REVOKED;
            let mut invocation = script.prepare_invoke();
            invocation
                .key(self.keys.refresh(jti))
                .arg(&*self.keys.prefix)
                .arg(jti);
            let revoked: i64 = self
                .call(
                    "is_family_revoked",
                    invocation.invoke_async(&mut connection),
                )
                .await?;
            Ok(revoked == 1)
        })
    }

    fn revoke_family<'a>(&'a self, jti: &'a str, exp: i64, now: i64) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut connection = self.manager.clone();
            let script = &*scripts::REVOKE_FAMILY;
            let mut invocation = script.prepare_invoke();
            invocation
                .key(self.keys.refresh(jti))
                .arg(&*self.keys.prefix)
                .arg(jti)
                .arg(ttl(exp, now));
            let _: i64 = self
                .call("revoke_family", invocation.invoke_async(&mut connection))
                .await?;
            Ok(())
        })
    }

    fn revoke_access<'a>(&'a self, jti: &'a str, until: i64, now: i64) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut connection = self.manager.clone();
            let script = &*scripts::REVOKE_ACCESS;
            let mut invocation = script.prepare_invoke();
            invocation
                .key(&*self.keys.revoked)
                .arg(&*self.keys.revoked)
                .arg(jti)
                .arg(until)
                .arg(now)
                .arg(ttl(until, now));
            let _: i64 = self
                .call("revoke_access", invocation.invoke_async(&mut connection))
                .await?;
            // This replica need not wait for its own message.
            self.revoked.insert(jti, until, now).map_err(|_| {
                tracing::error!("the set of revoked access tokens is full");
                StoreError
            })
        })
    }

    fn revoked_access(&self) -> &RevokedAccess {
        &self.revoked
    }
}

/// How long the subscription may stay silent before the connection is checked with a ping.
const IDLE_PING: Duration = Duration::from_secs(15);

/// Keeps the local set of revoked access tokens up to date, for as long as the store lives:
/// subscribes to the revocation channel, then loads every current revocation (so that nothing
/// published before or while it was disconnected is missed), then applies each message. On any
/// failure it reconnects, with a delay growing up to 2 seconds.
async fn follow_revocations(
    client: Client,
    manager: ConnectionManager,
    keys: KeyNames,
    revoked: Arc<RevokedAccess>,
    timeout: Duration,
) {
    let mut delay = Duration::from_millis(50);
    loop {
        match subscribe(&client, &manager, &keys, &revoked, timeout).await {
            Ok(pubsub) => {
                delay = Duration::from_millis(50);
                listen(pubsub, &revoked, timeout).await;
                tracing::warn!("lost the Redis revocation subscription; reconnecting");
            }
            Err(error) => {
                tracing::warn!(%error, "cannot subscribe to Redis revocations; retrying");
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(2));
    }
}

async fn subscribe(
    client: &Client,
    manager: &ConnectionManager,
    keys: &KeyNames,
    revoked: &RevokedAccess,
    timeout: Duration,
) -> redis::RedisResult<redis::aio::PubSub> {
    let timed_out = || redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::TimedOut));
    let mut pubsub = tokio::time::timeout(timeout, client.get_async_pubsub())
        .await
        .map_err(|_| timed_out())??;
    tokio::time::timeout(timeout, pubsub.subscribe(&*keys.revoked))
        .await
        .map_err(|_| timed_out())??;
    let now = crate::token::now();
    let mut connection = manager.clone();
    let current: Vec<(String, i64)> = tokio::time::timeout(
        timeout,
        redis::cmd("ZRANGEBYSCORE")
            .arg(&*keys.revoked)
            .arg(now)
            .arg("+inf")
            .arg("WITHSCORES")
            .query_async(&mut connection),
    )
    .await
    .map_err(|_| timed_out())??;
    for (jti, until) in current {
        record(revoked, &jti, until, now);
    }
    Ok(pubsub)
}

async fn listen(pubsub: redis::aio::PubSub, revoked: &RevokedAccess, timeout: Duration) {
    let (mut sink, mut messages) = pubsub.split();
    loop {
        match tokio::time::timeout(IDLE_PING, messages.next()).await {
            Ok(Some(message)) => {
                let payload = message.get_payload_bytes();
                let parsed = std::str::from_utf8(payload)
                    .ok()
                    .and_then(|p| p.split_once(' '))
                    .and_then(|(until, jti)| Some((until.parse::<i64>().ok()?, jti)));
                match parsed {
                    Some((until, jti)) => record(revoked, jti, until, crate::token::now()),
                    None => tracing::warn!("ignoring a malformed revocation message"),
                }
            }
            Ok(None) => return,
            Err(_) => {
                revoked.prune(crate::token::now());
                let alive = tokio::time::timeout(timeout, sink.ping::<String>()).await;
                if !matches!(alive, Ok(Ok(_))) {
                    return;
                }
            }
        }
    }
}

fn record(revoked: &RevokedAccess, jti: &str, until: i64, now: i64) {
    if revoked.insert(jti, until, now).is_err() {
        tracing::error!(
            "the set of revoked access tokens is full: a revocation from another replica is lost"
        );
    }
}
