//! The revocations every protected request checks, held in the process: bounded per user, each
//! gone when the tokens it refuses have expired.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use super::Revocation;

/// What one user's logouts and revoked logins have left: revoked ids (access-token `jti`s and
/// token families), and past the per-user bound a watermark instead of the ids.
#[derive(Default)]
struct Subject {
    /// Revoked id -> (the newest `iat` it covers, until when it must be kept).
    ids: HashMap<Box<str>, (i64, i64)>,
    /// Every token of this user issued at or before `.0` is refused, until `.1`.
    watermark: Option<(i64, i64)>,
}

impl Subject {
    fn refuses(&self, jti: &str, iat: i64) -> bool {
        self.watermark.is_some_and(|(before, _)| iat <= before)
            || self.ids.contains_key(jti)
            || self.ids.contains_key(super::family_of(jti))
    }
}

#[derive(Default)]
struct Inner {
    subjects: HashMap<Arc<str>, Subject>,
    /// Every id and watermark by the time it may go: (until, subject, the id or `None` for the
    /// watermark).
    expiry: BTreeSet<(i64, Arc<str>, Option<Box<str>>)>,
}

/// How many expired entries one insertion drops at most: expiry keeps pace with insertion
/// without ever holding the lock for a long sweep.
const PRUNE_PER_INSERT: usize = 8;

/// The set of revocations, read by every protected request.
///
/// Nothing revoked costs one atomic load; otherwise a read lock and at most three hash
/// look-ups (the token's `jti`, its family, its user's watermark). Writers hold the lock for a
/// few map operations: finding expired entries takes the first of a time-ordered set, never a
/// scan.
pub(crate) struct Revocations {
    entries: AtomicUsize,
    inner: RwLock<Inner>,
}

/// What a revocation did to the set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Recorded {
    /// The id is held (or was already refused).
    Id,
    /// The user had reached the bound: the user's ids became one watermark, every token of the
    /// user issued at or before this `iat` is refused.
    Watermark(i64),
}

impl Revocations {
    pub(crate) fn new() -> Self {
        Self {
            entries: AtomicUsize::new(0),
            inner: RwLock::new(Inner::default()),
        }
    }

    /// Whether the token of user `sub` with this `jti`, issued at `iat`, is refused.
    #[inline]
    pub(crate) fn refuses(&self, sub: &str, jti: &str, iat: i64) -> bool {
        if self.entries.load(Ordering::Acquire) == 0 {
            return false;
        }
        let inner = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        inner.subjects.get(sub).is_some_and(|s| s.refuses(jti, iat))
    }

    /// Records `revocation`. A user already holding `max_per_subject` ids has them folded into
    /// a watermark at the newest `iat` among them and this one, kept until
    /// `revocation.watermark_until`.
    pub(crate) fn insert(&self, revocation: &Revocation<'_>, max_per_subject: usize) -> Recorded {
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        inner.prune(revocation.now, PRUNE_PER_INSERT);
        let recorded = inner.insert(revocation, max_per_subject);
        self.entries.store(inner.expiry.len(), Ordering::Release);
        recorded
    }

    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    /// Sets user `sub`'s watermark to at least `before` until at least `until`, and drops the
    /// ids it covers: what another replica's store decided.
    pub(crate) fn watermark(&self, sub: &str, before: i64, until: i64, now: i64) {
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        inner.prune(now, PRUNE_PER_INSERT);
        inner.raise_watermark(sub, before, until);
        self.entries.store(inner.expiry.len(), Ordering::Release);
    }

    /// Drops entries whose time has passed (a Redis replica does, when idle).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn prune(&self, now: i64) {
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        inner.prune(now, 1024);
        self.entries.store(inner.expiry.len(), Ordering::Release);
    }

    /// How many ids and watermarks the set holds.
    pub(crate) fn len(&self) -> usize {
        self.entries.load(Ordering::Acquire)
    }
}

impl Inner {
    /// Drops up to `limit` entries whose time has passed.
    fn prune(&mut self, now: i64, limit: usize) {
        for _ in 0..limit {
            let Some(first) = self.expiry.first() else {
                return;
            };
            if first.0 > now {
                return;
            }
            let (_, sub, id) = self.expiry.pop_first().expect("not empty");
            let Some(subject) = self.subjects.get_mut(&sub) else {
                continue;
            };
            match id {
                Some(id) => {
                    subject.ids.remove(&id);
                }
                None => subject.watermark = None,
            }
            if subject.ids.is_empty() && subject.watermark.is_none() {
                self.subjects.remove(&sub);
            }
        }
    }

    fn insert(&mut self, revocation: &Revocation<'_>, max: usize) -> Recorded {
        let Revocation {
            sub,
            id,
            iat,
            until,
            ..
        } = *revocation;
        let (key, subject) = subject(&mut self.subjects, sub);
        if let Some((before, kept)) = subject.watermark
            && iat <= before
        {
            // Already refused: the watermark only needs to last as long.
            if until > kept {
                subject.watermark = Some((before, until));
                self.expiry.remove(&(kept, Arc::clone(&key), None));
                self.expiry.insert((until, key, None));
            }
            return Recorded::Watermark(before);
        }
        let full = subject.ids.len() >= max;
        match subject.ids.get_mut(id) {
            Some((held_iat, held_until)) => {
                *held_iat = (*held_iat).max(iat);
                if until > *held_until {
                    let old = std::mem::replace(held_until, until);
                    self.expiry
                        .remove(&(old, Arc::clone(&key), Some(id.into())));
                    self.expiry.insert((until, key, Some(id.into())));
                }
                Recorded::Id
            }
            None if !full => {
                subject.ids.insert(id.into(), (iat, until));
                self.expiry.insert((until, key, Some(id.into())));
                Recorded::Id
            }
            None => {
                let newest = subject
                    .ids
                    .values()
                    .map(|&(iat, _)| iat)
                    .fold(iat, i64::max);
                let kept = subject
                    .ids
                    .values()
                    .map(|&(_, until)| until)
                    .fold(until.max(revocation.watermark_until), i64::max);
                self.raise_watermark(sub, newest, kept);
                Recorded::Watermark(newest)
            }
        }
    }

    /// Folds user `sub`'s ids covered by the watermark (`before`, `until`) into it. Costs one
    /// pass over that user's ids (at most the per-user bound), once per bound's worth of
    /// revocations.
    fn raise_watermark(&mut self, sub: &str, before: i64, until: i64) {
        let (key, subject) = subject(&mut self.subjects, sub);
        let (before, until) = match subject.watermark {
            Some((b, u)) => (b.max(before), u.max(until)),
            None => (before, until),
        };
        if let Some((_, kept)) = subject.watermark.replace((before, until)) {
            self.expiry.remove(&(kept, Arc::clone(&key), None));
        }
        subject.ids.retain(|id, &mut (iat, held)| {
            let folded = iat <= before && held <= until;
            if folded {
                self.expiry
                    .remove(&(held, Arc::clone(&key), Some(id.clone())));
            }
            !folded
        });
        self.expiry.insert((until, key, None));
    }
}

/// User `sub`'s entry, made if need be, and its key (shared with the expiry order).
fn subject<'a>(
    subjects: &'a mut HashMap<Arc<str>, Subject>,
    sub: &str,
) -> (Arc<str>, &'a mut Subject) {
    let key = match subjects.get_key_value(sub) {
        Some((key, _)) => Arc::clone(key),
        None => Arc::from(sub),
    };
    let subject = subjects.entry(Arc::clone(&key)).or_default();
    (key, subject)
}

impl fmt::Debug for Revocations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not secrets, but whose tokens were revoked is nobody's business in a log.
        f.debug_struct("Revocations")
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Revokes `id` of `sub`, as an access token's `jti` would be.
    fn put(
        set: &Revocations,
        sub: &str,
        id: &str,
        iat: i64,
        until: i64,
        now: i64,
        max: usize,
    ) -> Recorded {
        let revocation = Revocation {
            sub,
            id,
            family: false,
            iat,
            until,
            watermark_until: until,
            now,
        };
        set.insert(&revocation, max)
    }

    const A1: &str = "00000001-0000-4000-8000-000000000001";
    const A2: &str = "00000001-0000-4000-8000-000000000002";
    const B1: &str = "00000002-0000-4000-8000-000000000001";

    #[test]
    fn an_id_refuses_its_token_and_a_family_every_token_of_it() {
        let set = Revocations::new();
        assert!(!set.refuses("alice", A1, 10));
        put(&set, "alice", A1, 10, 100, 0, 8);
        assert!(set.refuses("alice", A1, 10));
        assert!(!set.refuses("alice", A2, 10) && !set.refuses("bob", A1, 10));
        put(&set, "alice", super::super::family_of(B1), 50, 100, 0, 8);
        assert!(set.refuses("alice", B1, 10));
        assert!(set.refuses("alice", "00000002-0000-4000-8000-00000000ffff", 10));
    }

    #[test]
    fn past_the_bound_a_user_gets_a_watermark_and_others_are_untouched() {
        let set = Revocations::new();
        put(&set, "bob", B1, 5, 100, 0, 2);
        put(&set, "alice", A1, 10, 100, 0, 2);
        put(&set, "alice", A2, 30, 120, 0, 2);
        // The third of alice's: her ids become one watermark at the newest iat, 30.
        let third = "00000003-0000-4000-8000-000000000001";
        assert_eq!(
            put(&set, "alice", third, 20, 90, 0, 2),
            Recorded::Watermark(30)
        );
        for (jti, iat, refused) in [(A1, 10, true), (third, 20, true), (A2, 30, true)] {
            assert_eq!(set.refuses("alice", jti, iat), refused);
        }
        // A token issued after the newest revoked one is not.
        assert!(!set.refuses("alice", "00000009-0000-4000-8000-000000000001", 31));
        // Bob keeps his own, and nothing more.
        assert!(set.refuses("bob", B1, 5) && !set.refuses("bob", A1, 5));
        // Bob's id and alice's watermark, nothing else.
        assert_eq!(set.len(), 2);
    }

    #[test]
    fn entries_leave_when_their_tokens_have_expired() {
        let set = Revocations::new();
        put(&set, "alice", A1, 10, 100, 0, 1);
        put(&set, "alice", A2, 20, 200, 0, 1);
        assert!(set.refuses("alice", A1, 10));
        put(&set, "bob", B1, 10, 300, 250, 1);
        assert!(!set.refuses("alice", A1, 10));
        assert_eq!(set.len(), 1);
        put(&set, "bob", A1, 10, 400, 350, 1);
        assert_eq!(set.len(), 1, "bob's expired id made room for his new one");
        assert!(set.refuses("bob", A1, 10) && !set.refuses("bob", B1, 10));
    }
}
