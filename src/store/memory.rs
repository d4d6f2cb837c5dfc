//! The in-memory store: one process, no dependencies, the default.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::expiring::Expiring;
use super::revocations::Revocations;
use super::{
    Attempt, Backend, Family, Limits, MAX_GENERATION, Presented, Revocation, Rotation, StoreError,
    StoreFuture, ThrottleKeys, now_ms,
};

/// The default store, held in the process: right for a single instance.
///
/// Everything it holds is bounded per user, and leaves when what it concerns expires: a
/// throttling counter a window after its last attempt, a login's refresh-token family with its
/// newest refresh token, a revocation with the tokens it refuses. What each bound is, and what
/// happens at it, is the "Bounds" table of the crate's SECURITY.md; in short, reaching a bound
/// costs the user who reached it, never another one, and never answers 503.
///
/// The one global bound is on throttling counters (anybody can make one, account or not):
/// [`max_throttle_counters`](Self::max_throttle_counters). Past it, the counter closest to
/// expiring is forgotten (an attacker who fills the table only makes it forget the oldest
/// counters, never unlock the ones being hit).
///
/// It forgets everything when the process ends (with a configured secret, tokens revoked before
/// a restart are valid again after it, until they expire). Several replicas need `RedisStore`
/// (feature `redis`) instead.
///
/// ```
/// use tower_jwt_login::{JwtLoginLayer, MemoryStore, Password};
///
/// let layer = JwtLoginLayer::builder()
///     .user("admin", Password::plain("correct horse battery staple"))
///     .store(MemoryStore::new().max_throttle_counters(10_000))
///     .build()?;
/// # Ok::<_, tower_jwt_login::BuildError>(())
/// ```
pub struct MemoryStore {
    max_counters: usize,
    tables: Mutex<Tables>,
    revocations: Revocations,
}

struct Tables {
    /// Throttling counters by key, in expiry order (milliseconds).
    counters: Expiring<[u8; 32], Counter>,
    /// Refresh-token families by name, in expiry order (seconds).
    families: Expiring<Box<str>, FamilyRecord>,
    /// Each user's live families, least recently used first: (`uses` at their last login or
    /// refresh, family).
    sessions: HashMap<Arc<str>, BTreeSet<(u64, Box<str>)>>,
    /// Logins and refreshes so far: the order of use, without ties.
    uses: u64,
}

struct Counter {
    count: i64,
    last_ms: i64,
}

/// A login's refresh tokens: the generation that may be spent, and the one just spent, which
/// stays good for the reuse grace after `rotated_ms`.
struct FamilyRecord {
    sub: Arc<str>,
    exp: i64,
    /// When it was last logged in or refreshed, as `Tables::uses`: its place in `sessions`.
    used: u64,
    current: Vec<Box<str>>,
    previous: Vec<Box<str>>,
    rotated_ms: i64,
}

/// How many expired entries of each kind one operation drops at most.
const PRUNE_PER_CALL: usize = 8;

/// The default [`MemoryStore::max_throttle_counters`].
const DEFAULT_MAX_COUNTERS: usize = 100_000;

impl MemoryStore {
    /// An empty store holding at most 100 000 throttling counters.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The most throttling counters (two per client and username tried) the store holds; past
    /// it the one closest to expiring is forgotten. Default is 100 000 (about 15 MB).
    #[must_use]
    pub fn max_throttle_counters(mut self, max: usize) -> Self {
        self.max_counters = max.max(2);
        self
    }

    fn tables(&self) -> MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts an attempt, reading the clock once the lock is held: an attempt never sees a
    /// counter written after the time it read (which looked like a lockout).
    fn attempt_now(&self, keys: &ThrottleKeys, limits: Limits) -> Attempt {
        let mut tables = self.tables();
        self.attempt_at(&mut tables, keys, limits, now_ms())
    }

    fn attempt_at(
        &self,
        tables: &mut Tables,
        keys: &ThrottleKeys,
        limits: Limits,
        now_ms: i64,
    ) -> Attempt {
        tables.counters.prune(now_ms, PRUNE_PER_CALL, |_, _| {});
        let mut wait = |key: &[u8; 32], limit: u32| {
            tables.counters.get_mut(key, now_ms).map_or(0, |c| {
                match limits.lockout_ms(c.count, limit) {
                    0 => 0,
                    lockout => c.last_ms + lockout - now_ms,
                }
            })
        };
        let retry_after_ms = wait(&keys.pair, limits.pair).max(wait(&keys.client, limits.client));
        if retry_after_ms > 0 {
            return Attempt::Locked { retry_after_ms };
        }
        let expires = now_ms.saturating_add(limits.ttl_ms());
        for key in [&keys.pair, &keys.client] {
            let count = tables.counters.get_mut(key, now_ms).map_or(0, |c| c.count);
            if count == 0 && tables.counters.len() >= self.max_counters {
                tables.counters.pop_first();
            }
            let counter = Counter {
                count: count + 1,
                last_ms: now_ms,
            };
            tables.counters.insert(*key, counter, expires);
        }
        Attempt::Allowed
    }

    fn forgive_now(&self, keys: &ThrottleKeys) {
        let mut tables = self.tables();
        tables.counters.remove(&keys.pair);
        let now = now_ms();
        if let Some(counter) = tables.counters.get_mut(&keys.client, now) {
            counter.count -= 1;
            if counter.count <= 0 {
                tables.counters.remove(&keys.client);
            }
        }
    }

    fn start_family_now(&self, family: &Family<'_>, max_sessions: usize) {
        let mut guard = self.tables();
        let tables = &mut *guard;
        tables.prune_families(now_ms().div_euclid(1000));
        tables.uses += 1;
        let sub: Arc<str> = match tables.sessions.get_key_value(family.sub) {
            Some((sub, _)) => Arc::clone(sub),
            None => family.sub.into(),
        };
        // At the bound, the user's least recently used login goes: its refresh token is
        // refused from now on (its access token runs out on its own).
        loop {
            let sessions = tables.sessions.entry(Arc::clone(&sub)).or_default();
            if sessions.len() < max_sessions {
                sessions.insert((tables.uses, family.name.into()));
                break;
            }
            let Some((_, oldest)) = sessions.pop_first() else {
                break;
            };
            tables.families.remove(&*oldest);
        }
        let record = FamilyRecord {
            sub,
            exp: family.exp,
            used: tables.uses,
            current: vec![family.jti.into()],
            previous: Vec::new(),
            rotated_ms: 0,
        };
        tables
            .families
            .insert(family.name.into(), record, family.exp);
    }

    fn rotate_at(
        &self,
        presented: &Presented<'_>,
        new_jti: &str,
        exp: i64,
        grace_ms: i64,
        now_ms: i64,
    ) -> Rotation {
        let now = now_ms.div_euclid(1000);
        let mut guard = self.tables();
        let tables = &mut *guard;
        tables.prune_families(now);
        let name = super::family_of(presented.jti);
        let Some(record) = tables.families.get_mut(name, now) else {
            return Rotation::Revoked;
        };
        if *record.sub != *presented.sub {
            return Rotation::Revoked;
        }
        let jti = presented.jti;
        if record.current.iter().any(|t| **t == *jti) {
            record.previous = std::mem::replace(&mut record.current, vec![new_jti.into()]);
            record.rotated_ms = now_ms;
        } else if record.previous.iter().any(|t| **t == *jti)
            && now_ms - record.rotated_ms < grace_ms
        {
            if record.current.len() >= MAX_GENERATION {
                record.current.remove(0);
            }
            record.current.push(new_jti.into());
        } else {
            let (sub, used) = (Arc::clone(&record.sub), record.used);
            tables.families.remove(name);
            forget(&mut tables.sessions, &sub, used, name);
            return Rotation::Reused;
        }
        // Used now: the last to go at the user's bound.
        tables.uses += 1;
        let (sub, used) = (Arc::clone(&record.sub), record.used);
        record.used = tables.uses;
        let longer = exp > record.exp;
        record.exp = record.exp.max(exp);
        if longer {
            tables.families.set_expiry(&Box::from(name), exp);
        }
        forget(&mut tables.sessions, &sub, used, name);
        let sessions = tables.sessions.entry(sub).or_default();
        sessions.insert((tables.uses, name.into()));
        Rotation::Rotated
    }

    fn revoke_now(&self, revocation: &Revocation<'_>, max_per_user: usize) {
        if revocation.family {
            let mut tables = self.tables();
            if let Some(record) = tables.families.remove(revocation.id) {
                forget(
                    &mut tables.sessions,
                    &record.sub,
                    record.used,
                    revocation.id,
                );
            }
        }
        self.revocations.insert(revocation, max_per_user);
    }
}

impl Tables {
    fn prune_families(&mut self, now: i64) {
        let sessions = &mut self.sessions;
        self.families.prune(now, PRUNE_PER_CALL, |name, record| {
            forget(sessions, &record.sub, record.used, &name);
        });
    }
}

/// Takes family `name` (last used at `used`) off its user's sessions.
fn forget(
    sessions: &mut HashMap<Arc<str>, BTreeSet<(u64, Box<str>)>>,
    sub: &Arc<str>,
    used: u64,
    name: &str,
) {
    if let Some(set) = sessions.get_mut(sub) {
        set.remove(&(used, Box::from(name)));
        if set.is_empty() {
            sessions.remove(sub);
        }
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self {
            max_counters: DEFAULT_MAX_COUNTERS,
            tables: Mutex::new(Tables {
                counters: Expiring::new(),
                families: Expiring::new(),
                sessions: HashMap::new(),
                uses: 0,
            }),
            revocations: Revocations::new(),
        }
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("max_throttle_counters", &self.max_counters)
            .field("revocations", &self.revocations)
            .finish_non_exhaustive()
    }
}

fn ready<T: Send + 'static>(value: T) -> StoreFuture<'static, T> {
    Box::pin(std::future::ready(Ok::<_, StoreError>(value)))
}

impl Backend for MemoryStore {
    fn attempt<'a>(&'a self, keys: &'a ThrottleKeys, limits: Limits) -> StoreFuture<'a, Attempt> {
        ready(self.attempt_now(keys, limits))
    }

    fn forgive<'a>(&'a self, keys: &'a ThrottleKeys) -> StoreFuture<'a, ()> {
        self.forgive_now(keys);
        ready(())
    }

    fn start_family<'a>(
        &'a self,
        family: &'a Family<'a>,
        max_sessions: usize,
    ) -> StoreFuture<'a, ()> {
        self.start_family_now(family, max_sessions);
        ready(())
    }

    fn rotate<'a>(
        &'a self,
        presented: &'a Presented<'a>,
        new_jti: &'a str,
        exp: i64,
        grace_ms: i64,
    ) -> StoreFuture<'a, Rotation> {
        ready(self.rotate_at(presented, new_jti, exp, grace_ms, now_ms()))
    }

    fn is_revoked<'a>(&'a self, presented: &'a Presented<'a>) -> StoreFuture<'a, bool> {
        let revoked = self
            .revocations
            .refuses(presented.sub, presented.jti, presented.iat);
        ready(revoked)
    }

    fn revoke<'a>(
        &'a self,
        revocation: &'a Revocation<'a>,
        max_per_user: usize,
    ) -> StoreFuture<'a, ()> {
        self.revoke_now(revocation, max_per_user);
        ready(())
    }

    fn revocations(&self) -> &Revocations {
        &self.revocations
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

    fn attempt(store: &MemoryStore, keys: &ThrottleKeys, now_ms: i64) -> Attempt {
        store.attempt_at(&mut store.tables(), keys, LIMITS, now_ms)
    }

    #[test]
    fn counters_expire_a_window_after_the_last_attempt() {
        let store = MemoryStore::new();
        let k = keys(1, 101);
        assert_eq!(attempt(&store, &k, 0), Attempt::Allowed);
        assert_eq!(attempt(&store, &k, 0), Attempt::Allowed);
        assert_eq!(
            attempt(&store, &k, 500),
            Attempt::Locked {
                retry_after_ms: 500
            }
        );
        // The counter lives ttl_ms (the window) after its last attempt, then starts over.
        assert_eq!(attempt(&store, &k, 10_001), Attempt::Allowed);
        assert_eq!(attempt(&store, &k, 10_001), Attempt::Allowed);
        assert!(matches!(
            attempt(&store, &k, 10_002),
            Attempt::Locked { .. }
        ));
    }

    #[test]
    fn a_counter_below_its_limit_never_locks_even_if_written_later() {
        let store = MemoryStore::new();
        let k = keys(1, 101);
        assert_eq!(attempt(&store, &k, 1_000), Attempt::Allowed);
        // An attempt that read an earlier time than the last one counted: still allowed.
        assert_eq!(attempt(&store, &k, 999), Attempt::Allowed);
    }

    #[test]
    fn a_full_counter_table_forgets_the_counter_closest_to_expiry() {
        let store = MemoryStore::new().max_throttle_counters(4);
        attempt(&store, &keys(1, 101), 0);
        attempt(&store, &keys(2, 102), 1);
        attempt(&store, &keys(3, 103), 2);
        let mut tables = store.tables();
        assert_eq!(tables.counters.len(), 4);
        for (key, kept) in [
            (1, false),
            (101, false),
            (2, true),
            (102, true),
            (3, true),
            (103, true),
        ] {
            assert_eq!(
                tables.counters.get_mut(&[key; 32], 2).is_some(),
                kept,
                "{key}"
            );
        }
    }
}
