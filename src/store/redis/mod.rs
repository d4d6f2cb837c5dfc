//! The Redis store: one store shared by every replica (feature `redis`).

mod follow;
mod scripts;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use redis::Client;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::{
    Attempt, Backend, Family, Limits, MAX_GENERATION, Presented, Revocation, Revocations, Rotation,
    StoreError, StoreFuture, ThrottleKeys, family_of,
};
use crate::error::BuildError;
use crate::observe::LogLimiter;
use scripts::*;

/// A store in Redis, shared by several replicas of a service (feature `redis`).
///
/// What it shares, and what stays in each process:
///
/// - **Throttling counters** live in Redis: failed logins count across every replica.
/// - **Refresh-token families** (rotation) live in Redis: a token rotated or revoked through one
///   replica is refused by all, and two replicas refreshing the same token within the reuse
///   grace both succeed.
/// - **Revocations** are written to Redis and published on a channel; every replica keeps them
///   in a set in its own memory, fed by a background subscription (and reloaded in full on
///   every reconnection), so a protected request never makes a network round trip. A
///   revocation reaches the other replicas within the pub/sub delay (milliseconds on a LAN).
///
/// The bounds are those of the memory store (SECURITY.md, "Bounds"), enforced in Redis: per
/// user, so that no user can fill it for the others. Every key expires with the token or the
/// counter it concerns (Redis TTLs). Keys are prefixed (default `tower-jwt-login:`) so that the
/// store can share a Redis with other data. The store needs a standalone Redis 7 or later (or a
/// primary with replicas; not Redis Cluster).
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
    revocations: Arc<Revocations>,
    subscriber: tokio::task::AbortHandle,
}

/// Builds a [`RedisStore`]; start from [`RedisStore::builder`].
#[must_use]
pub struct RedisStoreBuilder {
    url: String,
    prefix: String,
    timeout: Duration,
}

#[derive(Clone)]
struct KeyNames {
    prefix: Arc<str>,
    /// The channel revocations are published on.
    channel: Arc<str>,
}

impl KeyNames {
    fn throttle(&self, hash: &[u8; 32]) -> String {
        let mut key = format!("{}t:", self.prefix);
        for byte in hash {
            key.push_str(&format!("{byte:02x}"));
        }
        key
    }

    fn key(&self, kind: &str, name: &str) -> String {
        format!("{}{kind}:{name}", self.prefix)
    }

    fn subjects(&self) -> String {
        format!("{}rvsubs", self.prefix)
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
                Err(StoreError::redis(error))
            }
            Err(_) => {
                if let Some(suppressed) = LOG.allow() {
                    tracing::warn!(operation = what, suppressed, "Redis call timed out");
                }
                Err(StoreError::timed_out())
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
            channel: format!("{}revoked", self.prefix).into(),
            prefix: self.prefix.into(),
        };
        let revocations = Arc::new(Revocations::new());
        let subscriber = runtime
            .spawn(follow::follow_revocations(
                client,
                manager.clone(),
                keys.clone(),
                Arc::clone(&revocations),
                self.timeout,
            ))
            .abort_handle();
        Ok(RedisStore {
            manager,
            keys,
            timeout: self.timeout,
            revocations,
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
            .field("revocations", &self.revocations)
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
            .finish()
    }
}

impl Backend for RedisStore {
    fn attempt<'a>(&'a self, keys: &'a ThrottleKeys, limits: Limits) -> StoreFuture<'a, Attempt> {
        Box::pin(async move {
            let mut invocation = ATTEMPT_SCRIPT.prepare_invoke();
            invocation
                .key(self.keys.throttle(&keys.pair))
                .key(self.keys.throttle(&keys.client))
                .arg(limits.pair)
                .arg(limits.client)
                .arg(limits.base_ms)
                .arg(limits.cap_ms)
                .arg(limits.ttl_ms());
            let mut connection = self.manager.clone();
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
            let mut invocation = FORGIVE_SCRIPT.prepare_invoke();
            invocation
                .key(self.keys.throttle(&keys.pair))
                .key(self.keys.throttle(&keys.client));
            let mut connection = self.manager.clone();
            let _: i64 = self
                .call("forgive", invocation.invoke_async(&mut connection))
                .await?;
            Ok(())
        })
    }

    fn start_family<'a>(
        &'a self,
        family: &'a Family<'a>,
        max_sessions: usize,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut invocation = START_FAMILY_SCRIPT.prepare_invoke();
            invocation
                .key(self.keys.key("fam", family.name))
                .key(self.keys.key("sess", family.sub))
                .arg(&*self.keys.prefix)
                .arg(family.name)
                .arg(family.sub)
                .arg(family.jti)
                .arg(family.exp)
                .arg(max_sessions);
            let mut connection = self.manager.clone();
            let _: i64 = self
                .call("start_family", invocation.invoke_async(&mut connection))
                .await?;
            Ok(())
        })
    }

    fn rotate<'a>(
        &'a self,
        presented: &'a Presented<'a>,
        new_jti: &'a str,
        exp: i64,
        grace_ms: i64,
    ) -> StoreFuture<'a, Rotation> {
        Box::pin(async move {
            let family = family_of(presented.jti);
            let mut invocation = ROTATE_SCRIPT.prepare_invoke();
            invocation
                .key(self.keys.key("fam", family))
                .key(self.keys.key("sess", presented.sub))
                .arg(family)
                .arg(presented.sub)
                .arg(presented.jti)
                .arg(new_jti)
                .arg(exp)
                .arg(grace_ms)
                .arg(MAX_GENERATION)
                .arg(&*self.keys.prefix);
            let mut connection = self.manager.clone();
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

    fn is_revoked<'a>(&'a self, presented: &'a Presented<'a>) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let mut invocation = IS_REVOKED_SCRIPT.prepare_invoke();
            invocation
                .key(self.keys.key("rv", presented.sub))
                .arg(presented.jti)
                .arg(family_of(presented.jti))
                .arg(presented.iat);
            let mut connection = self.manager.clone();
            let revoked: i64 = self
                .call("is_revoked", invocation.invoke_async(&mut connection))
                .await?;
            Ok(revoked == 1)
        })
    }

    fn revoke<'a>(
        &'a self,
        revocation: &'a Revocation<'a>,
        max_per_user: usize,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut invocation = REVOKE_SCRIPT.prepare_invoke();
            invocation
                .key(self.keys.key("rv", revocation.sub))
                .key(self.keys.key("rvx", revocation.sub))
                .key(self.keys.subjects())
                .arg(&*self.keys.prefix)
                .arg(revocation.sub)
                .arg(revocation.id)
                .arg(u8::from(revocation.family))
                .arg(revocation.iat)
                .arg(revocation.until)
                .arg(revocation.watermark_until)
                .arg(revocation.now)
                .arg(max_per_user)
                .arg(&*self.keys.channel);
            let mut connection = self.manager.clone();
            let message: String = self
                .call("revoke", invocation.invoke_async(&mut connection))
                .await?;
            // This replica need not wait for its own message.
            follow::apply(&self.revocations, message.as_bytes(), revocation.now);
            Ok(())
        })
    }

    fn revocations(&self) -> &Revocations {
        &self.revocations
    }
}
