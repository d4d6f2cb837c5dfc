//! Where the layer keeps what must outlive one request: login throttling counters, refresh-token
//! families (rotation) and revocations.
//!
//! Two stores exist: [`MemoryStore`], the default, for one process; and `RedisStore` (feature
//! `redis`), shared by every replica behind a load balancer. Both implement one crate-private
//! trait, [`Backend`], and both are exercised by the same test suite.
//!
//! The store is only ever consulted by the login, refresh and logout routes. Protected routes
//! check access-token revocations against [`RevokedAccess`], a set held in the process: with
//! Redis, a background task keeps it up to date through pub/sub, so that a protected request
//! never waits on the network.

mod memory;
#[cfg(feature = "redis")]
mod redis;

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

pub use memory::MemoryStore;
#[cfg(feature = "redis")]
pub use redis::{RedisStore, RedisStoreBuilder};

/// The future of a store operation: boxed, since it only runs on the (rare) login, refresh and
/// logout routes.
pub(crate) type StoreFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// The store could not answer: unreachable, too slow, or full. The route that asked answers 503
/// rather than skipping the check (fail closed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StoreError;

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
    /// The token was the family's current one: it is spent, and the new one is current.
    Rotated,
    /// The token had already been rotated: someone replayed it, so the whole family is now
    /// revoked.
    Reused,
    /// The family is revoked, or the token is not known to the store.
    Revoked,
}

/// The operations of a store. Every method takes the time from the caller (seconds or
/// milliseconds since the epoch), so that both stores behave the same and tests need no clock.
///
/// Tokens are named by their `jti`; a refresh-token *family* is named by the `jti` of the
/// refresh token its login issued.
pub(crate) trait Backend: Send + Sync + fmt::Debug + 'static {
    /// Counts a login attempt against both keys, unless either is locked out.
    fn attempt<'a>(
        &'a self,
        keys: &'a ThrottleKeys,
        limits: Limits,
        now_ms: i64,
    ) -> StoreFuture<'a, Attempt>;

    /// A successful login: forgets the pair's counter and takes the attempt off the client's.
    fn forgive<'a>(&'a self, keys: &'a ThrottleKeys) -> StoreFuture<'a, ()>;

    /// Registers the refresh token of a new login as the current token of a new family, until
    /// `exp`.
    fn start_family<'a>(&'a self, jti: &'a str, exp: i64, now: i64) -> StoreFuture<'a, ()>;

    /// Spends refresh token `old` and makes `new` (valid until `exp`) the family's current one.
    fn rotate<'a>(
        &'a self,
        old: &'a str,
        new: &'a str,
        exp: i64,
        now: i64,
    ) -> StoreFuture<'a, Rotation>;

    /// Whether the family of refresh token `jti` has been revoked.
    fn is_family_revoked<'a>(&'a self, jti: &'a str, now: i64) -> StoreFuture<'a, bool>;

    /// Revokes the family of refresh token `jti` (valid until `exp`).
    fn revoke_family<'a>(&'a self, jti: &'a str, exp: i64, now: i64) -> StoreFuture<'a, ()>;

    /// Revokes access token `jti` until `until`, here and (with Redis) on every replica.
    fn revoke_access<'a>(&'a self, jti: &'a str, until: i64, now: i64) -> StoreFuture<'a, ()>;

    /// The revoked access tokens, held in this process.
    fn revoked_access(&self) -> &RevokedAccess;
}

/// The store a layer uses: [`MemoryStore`] (the default) or `RedisStore`.
///
/// Built from either with `into()`; see
/// [`JwtLoginBuilder::store`](crate::JwtLoginBuilder::store).
#[derive(Clone)]
pub struct Store(pub(crate) Arc<dyn Backend>);

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

/// The set of revoked access tokens, held in the process and read by every protected request.
///
/// The common case, nothing revoked, costs one atomic load; otherwise a read lock and one hash
/// lookup. Entries go when their token expires; the set holds at most `cap` live entries.
pub(crate) struct RevokedAccess {
    len: AtomicUsize,
    cap: usize,
    until: RwLock<HashMap<Box<str>, i64>>,
}

/// The set of revoked access tokens is full of live entries: the revocation cannot be recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Full;

impl RevokedAccess {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            len: AtomicUsize::new(0),
            cap,
            until: RwLock::new(HashMap::new()),
        }
    }

    /// Whether access token `jti` is revoked.
    #[inline]
    pub(crate) fn contains(&self, jti: &str) -> bool {
        if self.len.load(Ordering::Acquire) == 0 {
            return false;
        }
        self.until
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(jti)
    }

    /// Records that access token `jti` is revoked until `until` (seconds since the epoch).
    ///
    /// At the cap, expired entries are dropped first; if the set is still full, the revocation
    /// is refused rather than forgetting another one.
    pub(crate) fn insert(&self, jti: &str, until: i64, now: i64) -> Result<(), Full> {
        if until <= now {
            return Ok(());
        }
        let mut map = self.until.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(existing) = map.get_mut(jti) {
            *existing = (*existing).max(until);
            return Ok(());
        }
        if map.len() >= self.cap {
            map.retain(|_, until| *until > now);
        }
        if map.len() >= self.cap {
            self.len.store(map.len(), Ordering::Release);
            return Err(Full);
        }
        map.insert(jti.into(), until);
        self.len.store(map.len(), Ordering::Release);
        Ok(())
    }

    /// Drops the entries whose token has expired (the Redis subscriber does, when idle).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn prune(&self, now: i64) {
        let mut map = self.until.write().unwrap_or_else(PoisonError::into_inner);
        map.retain(|_, until| *until > now);
        self.len.store(map.len(), Ordering::Release);
    }

    /// How many entries the set holds.
    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }
}

impl fmt::Debug for RevokedAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The jtis are not secrets, but a revoked token's jti is nobody's business in a log.
        f.debug_struct("RevokedAccess")
            .field("len", &self.len())
            .field("cap", &self.cap)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn revoked_access_set_is_bounded_and_forgets_expired_tokens() {
        let set = RevokedAccess::new(2);
        assert!(!set.contains("a"));
        set.insert("a", 100, 10).unwrap();
        set.insert("b", 200, 10).unwrap();
        assert!(set.contains("a") && set.contains("b"));
        // Full of live entries: refused, and nothing forgotten.
        assert_eq!(set.insert("c", 300, 50), Err(Full));
        assert!(set.contains("a") && !set.contains("c"));
        // Once "a" has expired, there is room again.
        set.insert("c", 300, 150).unwrap();
        assert!(!set.contains("a") && set.contains("c"));
        set.prune(250);
        assert_eq!(set.len(), 1);
        // An already expired token is not recorded at all.
        set.insert("d", 10, 20).unwrap();
        assert!(!set.contains("d"));
    }
}
