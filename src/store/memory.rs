//! The in-memory store: one process, no dependencies, the default.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, PoisonError};

use super::{
    Attempt, Backend, Limits, RevokedAccess, Rotation, StoreError, StoreFuture, ThrottleKeys,
};

/// The default store, held in the process: right for a single instance.
///
/// Everything it holds expires with what it concerns: a throttling counter a window after its
/// last attempt, a refresh-token family with its newest token, a revocation with the revoked
/// token. It forgets everything when the process ends (with a configured secret, tokens revoked
/// before a restart are valid again after it, until they expire). Several replicas need
/// `RedisStore` (feature `redis`) instead.
///
/// # At the cap
///
/// The store holds at most [`max_entries`](Self::max_entries) entries of each kind: throttling
/// counters, refresh-token records, revoked access tokens. When a kind is full, its expired
/// entries are dropped first; if it is still full:
///
/// - a new throttling counter replaces the one closest to expiring (an attacker who fills the
///   table can only make it forget the oldest counters, never unlock the ones being hit);
/// - a login with rotation on, a rotation, a logout, answer **503** with `Retry-After`: a
///   revocation is never forgotten to make room, and a refresh token is never issued that the
///   store could not recognise.
///
/// ```
/// use tower_jwt_login::{JwtLoginLayer, MemoryStore, Password};
///
/// let layer = JwtLoginLayer::builder()
///     .user("admin", Password::plain("correct horse battery staple"))
///     .store(MemoryStore::new().max_entries(10_000))
///     .build()?;
/// # Ok::<_, tower_jwt_login::BuildError>(())
/// ```
pub struct MemoryStore {
    max_entries: usize,
    tables: Mutex<Tables>,
    revoked: RevokedAccess,
}

#[derive(Default)]
struct Tables {
    counters: HashMap<[u8; 32], Counter>,
    /// Refresh token `jti` -> its family, for rotation.
    refresh: HashMap<Box<str>, Refresh>,
    /// Family -> its current refresh token, or revoked.
    families: HashMap<Box<str>, Family>,
}

struct Counter {
    count: i64,
    last_ms: i64,
    expires_ms: i64,
}

struct Refresh {
    family: Box<str>,
    exp: i64,
}

struct Family {
    /// The one refresh token of the family that may still be used; `None` once revoked.
    current: Option<Box<str>>,
    exp: i64,
}

/// The default [`MemoryStore::max_entries`].
const DEFAULT_MAX_ENTRIES: usize = 100_000;

impl MemoryStore {
    /// An empty store holding at most 100 000 entries of each kind.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The most entries of each kind (throttling counters, refresh-token records, revoked access
    /// tokens) the store holds; see [At the cap](Self#at-the-cap). Default is 100 000 (a few
    /// tens of MB at most).
    #[must_use]
    pub fn max_entries(mut self, max_entries: usize) -> Self {
        self.max_entries = max_entries.max(1);
        self.revoked = RevokedAccess::new(self.max_entries);
        self
    }

    fn tables(&self) -> std::sync::MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn attempt_now(&self, keys: &ThrottleKeys, limits: Limits, now_ms: i64) -> Attempt {
        let mut tables = self.tables();
        let wait = |key: &[u8; 32], limit: u32| {
            tables
                .counters
                .get(key)
                .filter(|c| c.expires_ms > now_ms)
                .map_or(0, |c| {
                    c.last_ms + limits.lockout_ms(c.count, limit) - now_ms
                })
        };
        let retry_after_ms = wait(&keys.pair, limits.pair).max(wait(&keys.client, limits.client));
        if retry_after_ms > 0 {
            return Attempt::Locked { retry_after_ms };
        }
        for key in [&keys.pair, &keys.client] {
            if !tables.counters.contains_key(key) {
                self.make_room_for_counter(&mut tables, now_ms);
            }
            let counter = tables.counters.entry(*key).or_insert(Counter {
                count: 0,
                last_ms: now_ms,
                expires_ms: 0,
            });
            if counter.expires_ms <= now_ms {
                counter.count = 0;
            }
            counter.count += 1;
            counter.last_ms = now_ms;
            counter.expires_ms = now_ms + limits.ttl_ms();
        }
        Attempt::Allowed
    }

    fn make_room_for_counter(&self, tables: &mut Tables, now_ms: i64) {
        if tables.counters.len() < self.max_entries {
            return;
        }
        tables.counters.retain(|_, c| c.expires_ms > now_ms);
        if tables.counters.len() < self.max_entries {
            return;
        }
        let oldest = tables
            .counters
            .iter()
            .min_by_key(|(_, c)| c.expires_ms)
            .map(|(key, _)| *key);
        if let Some(oldest) = oldest {
            tables.counters.remove(&oldest);
        }
    }

    fn forgive_now(&self, keys: &ThrottleKeys) {
        let mut tables = self.tables();
        tables.counters.remove(&keys.pair);
        if let Some(counter) = tables.counters.get_mut(&keys.client) {
            counter.count -= 1;
            if counter.count <= 0 {
                tables.counters.remove(&keys.client);
            }
        }
    }

    /// Makes room for `needed` more token records, or says the store is full.
    fn make_room_for_tokens(
        &self,
        tables: &mut Tables,
        needed: usize,
        now: i64,
    ) -> Result<(), StoreError> {
        let fits = |t: &Tables| t.refresh.len() + t.families.len() + needed <= self.max_entries;
        if fits(tables) {
            return Ok(());
        }
        tables.refresh.retain(|_, r| r.exp > now);
        tables.families.retain(|_, f| f.exp > now);
        if fits(tables) {
            Ok(())
        } else {
            tracing::error!(
                max_entries = self.max_entries,
                "the in-memory store is full of live refresh-token records"
            );
            Err(StoreError)
        }
    }

    fn start_family_now(&self, jti: &str, exp: i64, now: i64) -> Result<(), StoreError> {
        let mut tables = self.tables();
        self.make_room_for_tokens(&mut tables, 2, now)?;
        tables.refresh.insert(
            jti.into(),
            Refresh {
                family: jti.into(),
                exp,
            },
        );
        tables.families.insert(
            jti.into(),
            Family {
                current: Some(jti.into()),
                exp,
            },
        );
        Ok(())
    }

    fn rotate_now(&self, old: &str, new: &str, exp: i64, now: i64) -> Result<Rotation, StoreError> {
        let mut tables = self.tables();
        let Some(family_name) = tables
            .refresh
            .get(old)
            .filter(|r| r.exp > now)
            .map(|r| r.family.clone())
        else {
            return Ok(Rotation::Revoked);
        };
        let current = match tables.families.get(&family_name) {
            Some(family) if family.exp > now => family.current.clone(),
            _ => None,
        };
        match current {
            None => Ok(Rotation::Revoked),
            Some(current) if *current != *old => {
                if let Some(family) = tables.families.get_mut(&family_name) {
                    family.current = None;
                }
                Ok(Rotation::Reused)
            }
            Some(_) => {
                self.make_room_for_tokens(&mut tables, 1, now)?;
                tables.refresh.insert(
                    new.into(),
                    Refresh {
                        family: family_name.clone(),
                        exp,
                    },
                );
                if let Some(family) = tables.families.get_mut(&family_name) {
                    family.current = Some(new.into());
                    family.exp = family.exp.max(exp);
                }
                Ok(Rotation::Rotated)
            }
        }
    }

    fn family_of(tables: &Tables, jti: &str, now: i64) -> Box<str> {
        tables
            .refresh
            .get(jti)
            .filter(|r| r.exp > now)
            .map_or_else(|| jti.into(), |r| r.family.clone())
    }

    fn is_family_revoked_now(&self, jti: &str, now: i64) -> bool {
        let tables = self.tables();
        let family = Self::family_of(&tables, jti, now);
        tables
            .families
            .get(&family)
            .is_some_and(|f| f.exp > now && f.current.is_none())
    }

    fn revoke_family_now(&self, jti: &str, exp: i64, now: i64) -> Result<(), StoreError> {
        let mut tables = self.tables();
        let name = Self::family_of(&tables, jti, now);
        if let Some(family) = tables.families.get_mut(&name) {
            family.current = None;
            family.exp = family.exp.max(exp);
            return Ok(());
        }
        self.make_room_for_tokens(&mut tables, 1, now)?;
        tables.families.insert(name, Family { current: None, exp });
        Ok(())
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self {
            max_entries: DEFAULT_MAX_ENTRIES,
            tables: Mutex::default(),
            revoked: RevokedAccess::new(DEFAULT_MAX_ENTRIES),
        }
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("max_entries", &self.max_entries)
            .field("revoked_access", &self.revoked)
            .finish_non_exhaustive()
    }
}

fn ready<T: Send + 'static>(result: Result<T, StoreError>) -> StoreFuture<'static, T> {
    Box::pin(std::future::ready(result))
}

impl Backend for MemoryStore {
    fn attempt<'a>(
        &'a self,
        keys: &'a ThrottleKeys,
        limits: Limits,
        now_ms: i64,
    ) -> StoreFuture<'a, Attempt> {
        ready(Ok(self.attempt_now(keys, limits, now_ms)))
    }

    fn forgive<'a>(&'a self, keys: &'a ThrottleKeys) -> StoreFuture<'a, ()> {
        self.forgive_now(keys);
        ready(Ok(()))
    }

    fn start_family<'a>(&'a self, jti: &'a str, exp: i64, now: i64) -> StoreFuture<'a, ()> {
        ready(self.start_family_now(jti, exp, now))
    }

    fn rotate<'a>(
        &'a self,
        old: &'a str,
        new: &'a str,
        exp: i64,
        now: i64,
    ) -> StoreFuture<'a, Rotation> {
        ready(self.rotate_now(old, new, exp, now))
    }

    fn is_family_revoked<'a>(&'a self, jti: &'a str, now: i64) -> StoreFuture<'a, bool> {
        ready(Ok(self.is_family_revoked_now(jti, now)))
    }

    fn revoke_family<'a>(&'a self, jti: &'a str, exp: i64, now: i64) -> StoreFuture<'a, ()> {
        ready(self.revoke_family_now(jti, exp, now))
    }

    fn revoke_access<'a>(&'a self, jti: &'a str, until: i64, now: i64) -> StoreFuture<'a, ()> {
        ready(self.revoked.insert(jti, until, now).map_err(|_| {
            tracing::error!("the set of revoked access tokens is full");
            StoreError
        }))
    }

    fn revoked_access(&self) -> &RevokedAccess {
        &self.revoked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        pair: 2,
        client: 3,
        window_ms: 10_000,
        base_ms: 1_000,
        cap_ms: 4_000,
    };

    fn keys(pair: u8, client: u8) -> ThrottleKeys {
        ThrottleKeys {
            pair: [pair; 32],
            client: [client; 32],
        }
    }

    #[test]
    fn counters_expire_a_window_after_the_last_attempt() {
        let store = MemoryStore::new();
        let k = keys(1, 101);
        assert_eq!(store.attempt_now(&k, LIMITS, 0), Attempt::Allowed);
        assert_eq!(store.attempt_now(&k, LIMITS, 0), Attempt::Allowed);
        assert_eq!(
            store.attempt_now(&k, LIMITS, 500),
            Attempt::Locked {
                retry_after_ms: 500
            }
        );
        // The counter lives ttl_ms (the window) after its last attempt, then starts over.
        assert_eq!(store.attempt_now(&k, LIMITS, 10_001), Attempt::Allowed);
        assert_eq!(store.attempt_now(&k, LIMITS, 10_001), Attempt::Allowed);
        assert!(matches!(
            store.attempt_now(&k, LIMITS, 10_002),
            Attempt::Locked { .. }
        ));
    }

    #[test]
    fn a_full_counter_table_forgets_the_counter_closest_to_expiry() {
        let store = MemoryStore::new().max_entries(4);
        store.attempt_now(&keys(1, 101), LIMITS, 0);
        store.attempt_now(&keys(2, 102), LIMITS, 1);
        store.attempt_now(&keys(3, 103), LIMITS, 2);
        let tables = store.tables();
        assert_eq!(tables.counters.len(), 4);
        for (key, kept) in [
            (1, false),
            (101, false),
            (2, true),
            (102, true),
            (3, true),
            (103, true),
        ] {
            assert_eq!(tables.counters.contains_key(&[key; 32]), kept, "{key}");
        }
    }

    #[test]
    fn a_full_token_table_refuses_rather_than_forgets() {
        let store = MemoryStore::new().max_entries(4);
        store.start_family_now("a", 100, 0).unwrap();
        store.start_family_now("b", 100, 0).unwrap();
        assert_eq!(store.start_family_now("c", 100, 0), Err(StoreError));
        assert_eq!(store.revoke_family_now("x", 100, 0), Err(StoreError));
        // Revoking a known family needs no room.
        store.revoke_family_now("a", 100, 0).unwrap();
        assert!(store.is_family_revoked_now("a", 0));
        // Once they have expired, their room is reused.
        store.start_family_now("c", 300, 150).unwrap();
    }
}
