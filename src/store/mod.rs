//! Where the layer keeps what must outlive one request: login throttling counters, refresh-token
//! families (rotation) and revocations.
//!
//! Two stores exist: [`MemoryStore`], the default, for one process; and `RedisStore` (feature
//! `redis`), shared by every replica behind a load balancer. Both implement one crate-private
//! trait, [`Backend`], and both are exercised by the same test suite.
//!
//! The store is only ever consulted by the login, refresh and logout routes. Protected routes
//! check revocations against [`Revocations`], a set held in the process: with Redis, a
//! background task keeps it up to date through pub/sub, so that a protected request never waits
//! on the network.
//!
//! Revocations and rotation work on token families (one per login, see `crate::family`).

mod expiring;
mod memory;
#[cfg(feature = "redis")]
mod redis;
mod revocations;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub(crate) use crate::clock::now_ms;
pub(crate) use crate::family::family_of;
pub use memory::MemoryStore;
#[cfg(feature = "redis")]
pub use redis::{RedisStore, RedisStoreBuilder};
pub(crate) use revocations::Revocations;

/// The future of a store operation: boxed, since it only runs on the (rare) login, refresh and
/// logout routes.
pub(crate) type StoreFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// The store could not answer: unreachable or too slow. The route that asked answers 503
/// rather than skipping the check (fail closed). Never "full": bounds evict, per user.
///
/// `Display` says only which of the two it was; the Redis error, when there is one, is the
/// [`source`](std::error::Error::source). Neither holds the store's URL or password: the
/// `redis` crate reports a connection, I/O or server error without the URL it connected to.
#[derive(Debug)]
pub(crate) struct StoreError {
    cause: Cause,
}

// Only the Redis store fails: without it, nothing makes a `StoreError`.
#[derive(Debug)]
enum Cause {
    /// No answer within the time box.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    TimedOut,
    /// The call failed: connection refused or lost, or an error from the server.
    #[cfg(feature = "redis")]
    Redis(::redis::RedisError),
}

impl StoreError {
    /// No answer within the time box.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) const fn timed_out() -> Self {
        Self {
            cause: Cause::TimedOut,
        }
    }

    /// A Redis call failed with `error`.
    #[cfg(feature = "redis")]
    pub(crate) const fn redis(error: ::redis::RedisError) -> Self {
        Self {
            cause: Cause::Redis(error),
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.cause {
            Cause::TimedOut => "the store did not answer in time",
            #[cfg(feature = "redis")]
            Cause::Redis(_) => "the store call failed",
        })
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.cause {
            Cause::TimedOut => None,
            #[cfg(feature = "redis")]
            Cause::Redis(error) => Some(error),
        }
    }
}

/// The throttling keys of one login attempt: hashes of (client, username) and of the client, so
/// that whatever the client sends, a key has a fixed size and no special characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ThrottleKeys {
    pub(crate) pair: [u8; 32],
    pub(crate) client: [u8; 32],
}

/// The throttling policy, in the units the stores work in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Attempts per (client, username) before lockouts start.
    pub(crate) pair: u32,
    /// Attempts per client before lockouts start.
    pub(crate) client: u32,
    /// How long a counter lives after the last attempt it counted, in milliseconds.
    pub(crate) window_ms: i64,
    /// The first lockout, in milliseconds; each further attempt doubles it.
    pub(crate) base_ms: i64,
    /// The longest lockout, in milliseconds.
    pub(crate) cap_ms: i64,
}

impl Limits {
    /// How long after its last attempt a counter of `count` attempts stays locked, with `limit`
    /// attempts allowed freely: nothing below the limit, then `base * 2^(count - limit)`, at most
    /// `cap`. The Redis store computes the same in Lua.
    pub(crate) fn lockout_ms(&self, count: i64, limit: u32) -> i64 {
        let over = count - i64::from(limit);
        if over < 0 {
            return 0;
        }
        let doublings = u32::try_from(over).unwrap_or(u32::MAX).min(40);
        self.base_ms
            .saturating_mul(1_i64 << doublings)
            .min(self.cap_ms)
    }

    /// How long a counter must be kept: its window, or its lockout if longer.
    pub(crate) fn ttl_ms(&self) -> i64 {
        self.window_ms.max(self.cap_ms)
    }
}

/// What the store says about a login attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Attempt {
    /// The attempt is counted and may go ahead.
    Allowed,
    /// The client is locked out for this many more milliseconds; nothing was counted.
    Locked {
        /// Milliseconds until an attempt is allowed again.
        retry_after_ms: i64,
    },
}

/// What the store says about a refresh token presented for rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rotation {
    /// The token was of the family's current generation, or of the one just before it within
    /// the reuse grace: the new token is of the current generation.
    Rotated,
    /// The token had been rotated before the grace: someone replayed it. The family is gone;
    /// the caller revokes what it issued.
    Reused,
    /// The family is revoked, expired, evicted, or not known to the store.
    Revoked,
}

/// How many refresh tokens one generation of a family holds at most: the one that rotated, and
/// those handed out to concurrent refreshes within the reuse grace (two browser tabs, a retry).
/// Past it the oldest is dropped, and is reuse if presented again.
pub(crate) const MAX_GENERATION: usize = 8;

/// A new login's family, started by its refresh token.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Family<'a> {
    pub(crate) sub: &'a str,
    /// The family's name: [`family_of`] its tokens' `jti`.
    pub(crate) name: &'a str,
    pub(crate) jti: &'a str,
    /// When the refresh token expires, seconds since the epoch.
    pub(crate) exp: i64,
}

/// What the store needs of a token presented to it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Presented<'a> {
    pub(crate) sub: &'a str,
    pub(crate) jti: &'a str,
    pub(crate) iat: i64,
}

/// A revocation: of one access token (its `jti`), or of a whole family (every token of a login).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Revocation<'a> {
    pub(crate) sub: &'a str,
    /// The `jti`, or the family's name.
    pub(crate) id: &'a str,
    /// Whether `id` is a family (whose rotation record goes too).
    pub(crate) family: bool,
    /// The newest `iat` the revocation covers: a watermark that replaces it must too.
    pub(crate) iat: i64,
    /// Until when it must be kept: when the last token it refuses has expired.
    pub(crate) until: i64,
    /// Until when a watermark replacing it must be kept: when every token of the user issued
    /// so far has expired.
    pub(crate) watermark_until: i64,
    pub(crate) now: i64,
}

/// The operations of a store. Times in seconds since the epoch come from the caller; what
/// depends on the order of concurrent calls (throttling, the reuse grace) reads the clock
/// where it decides.
pub(crate) trait Backend: Send + Sync + fmt::Debug + 'static {
    /// Counts a login attempt against both keys, unless either is locked out.
    fn attempt<'a>(&'a self, keys: &'a ThrottleKeys, limits: Limits) -> StoreFuture<'a, Attempt>;

    /// A successful login: forgets the pair's counter and takes the attempt off the client's.
    fn forgive<'a>(&'a self, keys: &'a ThrottleKeys) -> StoreFuture<'a, ()>;

    /// Records a new login's family; past `max_sessions` live families of its user, the least
    /// recently used one (logged in or refreshed) is dropped: its refresh token is refused from
    /// then on.
    fn start_family<'a>(
        &'a self,
        family: &'a Family<'a>,
        max_sessions: usize,
    ) -> StoreFuture<'a, ()>;

    /// Spends refresh token `presented` and makes `new_jti` (valid until `exp`) one of its
    /// family's current generation.
    fn rotate<'a>(
        &'a self,
        presented: &'a Presented<'a>,
        new_jti: &'a str,
        exp: i64,
        grace_ms: i64,
    ) -> StoreFuture<'a, Rotation>;

    /// Whether a revocation refuses `presented`: its `jti`, its family, or its user's watermark.
    fn is_revoked<'a>(&'a self, presented: &'a Presented<'a>) -> StoreFuture<'a, bool>;

    /// Records `revocation`, here and (with Redis) on every replica; past `max_per_user` held
    /// for its user, they become one watermark.
    fn revoke<'a>(
        &'a self,
        revocation: &'a Revocation<'a>,
        max_per_user: usize,
    ) -> StoreFuture<'a, ()>;

    /// The revocations, held in this process.
    fn revocations(&self) -> &Revocations;
}

/// The store a layer uses: [`MemoryStore`] (the default) or `RedisStore`.
///
/// Built from either with `into()`; see
/// [`JwtLoginBuilder::store`](crate::JwtLoginBuilder::store).
#[derive(Clone)]
pub struct Store(Arc<dyn Backend>);

/// The operations of [`Backend`], forwarded: the server asks the store, not its backend.
impl Store {
    /// See [`Backend::attempt`].
    #[inline]
    pub(crate) fn attempt<'a>(
        &'a self,
        keys: &'a ThrottleKeys,
        limits: Limits,
    ) -> StoreFuture<'a, Attempt> {
        self.0.attempt(keys, limits)
    }

    /// See [`Backend::forgive`].
    #[inline]
    pub(crate) fn forgive<'a>(&'a self, keys: &'a ThrottleKeys) -> StoreFuture<'a, ()> {
        self.0.forgive(keys)
    }

    /// See [`Backend::start_family`].
    #[inline]
    pub(crate) fn start_family<'a>(
        &'a self,
        family: &'a Family<'a>,
        max_sessions: usize,
    ) -> StoreFuture<'a, ()> {
        self.0.start_family(family, max_sessions)
    }

    /// See [`Backend::rotate`].
    #[inline]
    pub(crate) fn rotate<'a>(
        &'a self,
        presented: &'a Presented<'a>,
        new_jti: &'a str,
        exp: i64,
        grace_ms: i64,
    ) -> StoreFuture<'a, Rotation> {
        self.0.rotate(presented, new_jti, exp, grace_ms)
    }

    /// See [`Backend::is_revoked`].
    #[inline]
    pub(crate) fn is_revoked<'a>(&'a self, presented: &'a Presented<'a>) -> StoreFuture<'a, bool> {
        self.0.is_revoked(presented)
    }

    /// See [`Backend::revoke`].
    #[inline]
    pub(crate) fn revoke<'a>(
        &'a self,
        revocation: &'a Revocation<'a>,
        max_per_user: usize,
    ) -> StoreFuture<'a, ()> {
        self.0.revoke(revocation, max_per_user)
    }

    /// The revocations held in this process: what a protected request checks, without I/O.
    #[inline]
    pub(crate) fn revocations(&self) -> &Revocations {
        self.0.revocations()
    }
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl From<MemoryStore> for Store {
    fn from(store: MemoryStore) -> Self {
        Self(Arc::new(store))
    }
}

#[cfg(feature = "redis")]
impl From<RedisStore> for Store {
    fn from(store: RedisStore) -> Self {
        Self(Arc::new(store))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timeout_says_so_and_has_no_cause() {
        let error = StoreError::timed_out();
        assert_eq!(error.to_string(), "the store did not answer in time");
        assert!(std::error::Error::source(&error).is_none());
    }

    #[cfg(feature = "redis")]
    #[test]
    fn a_redis_failure_keeps_the_redis_error_as_its_source() {
        let cause =
            ::redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        let error = StoreError::redis(cause);
        assert_eq!(error.to_string(), "the store call failed");
        let source = std::error::Error::source(&error).expect("the Redis error");
        let redis = source.downcast_ref::<::redis::RedisError>().unwrap();
        assert!(redis.is_connection_refusal(), "{redis}");
    }

    #[test]
    fn lockouts_double_from_the_limit_up_to_the_cap() {
        let limits = Limits {
            pair: 5,
            client: 50,
            window_ms: 900_000,
            base_ms: 1_000,
            cap_ms: 8_000,
        };
        let lockouts: Vec<i64> = (0..=10).map(|n| limits.lockout_ms(n, 5)).collect();
        assert_eq!(
            lockouts,
            [0, 0, 0, 0, 0, 1_000, 2_000, 4_000, 8_000, 8_000, 8_000]
        );
        assert_eq!(limits.lockout_ms(i64::MAX, 5), 8_000);
    }
}
