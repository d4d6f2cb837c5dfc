//! A map whose entries each have an expiry, kept in time order beside the map: the expired
//! (and, at a cap, the soonest to expire) are found at the front, never by a scan.

use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;

/// Entries by key, and the same keys ordered by expiry. Every operation is one hash operation
/// and at most two ordered-set operations: O(log n).
pub(super) struct Expiring<K, V> {
    map: HashMap<K, (V, i64)>,
    order: BTreeSet<(i64, K)>,
}

impl<K: Hash + Ord + Clone, V> Expiring<K, V> {
    pub(super) fn new() -> Self {
        Self {
            map: HashMap::new(),
            order: BTreeSet::new(),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.map.len()
    }

    /// The entry of `key`, unless it has expired by `now`.
    pub(super) fn get_mut<Q>(&mut self, key: &Q, now: i64) -> Option<&mut V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map
            .get_mut(key)
            .filter(|(_, expires)| *expires > now)
            .map(|(value, _)| value)
    }

    /// Inserts or replaces the entry of `key`, expiring at `expires`.
    pub(super) fn insert(&mut self, key: K, value: V, expires: i64) {
        if let Some((_, old)) = self.map.insert(key.clone(), (value, expires)) {
            self.order.remove(&(old, key.clone()));
        }
        self.order.insert((expires, key));
    }

    /// Moves the expiry of `key`'s entry, if there is one.
    pub(super) fn set_expiry(&mut self, key: &K, expires: i64) {
        if let Some((_, old)) = self.map.get_mut(key) {
            let old = std::mem::replace(old, expires);
            self.order.remove(&(old, key.clone()));
            self.order.insert((expires, key.clone()));
        }
    }

    pub(super) fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (key, (value, expires)) = self.map.remove_entry(key)?;
        self.order.remove(&(expires, key));
        Some(value)
    }

    /// Removes the entry that expires first, expired or not.
    pub(super) fn pop_first(&mut self) -> Option<(K, V)> {
        let (_, key) = self.order.pop_first()?;
        let (value, _) = self.map.remove(&key)?;
        Some((key, value))
    }

    /// Removes up to `limit` entries that have expired by `now`, handing each to `removed`.
    pub(super) fn prune(&mut self, now: i64, limit: usize, mut removed: impl FnMut(K, V)) {
        for _ in 0..limit {
            match self.order.first() {
                Some((expires, _)) if *expires <= now => {}
                _ => return,
            }
            if let Some((key, value)) = self.pop_first() {
                removed(key, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_front_is_the_soonest_to_expire_and_moves_with_the_expiry() {
        let mut map = Expiring::new();
        map.insert("a", 1, 10);
        map.insert("b", 2, 20);
        map.insert("c", 3, 30);
        map.set_expiry(&"a", 40);
        assert_eq!(map.get_mut("a", 35), Some(&mut 1));
        assert_eq!(map.get_mut("b", 20), None, "expired at 20");
        let mut pruned = Vec::new();
        map.prune(25, 8, |key, value| pruned.push((key, value)));
        assert_eq!(pruned, [("b", 2)]);
        assert_eq!(map.pop_first(), Some(("c", 3)));
        assert_eq!(map.remove(&"a"), Some(1));
        assert_eq!(map.len(), 0);
    }

    #[test]
    fn pruning_stops_at_its_limit_and_at_the_first_live_entry() {
        let mut map = Expiring::new();
        for n in 0..10 {
            map.insert(n, n, i64::from(n));
        }
        let mut pruned = 0;
        map.prune(100, 3, |_, _| pruned += 1);
        assert_eq!((pruned, map.len()), (3, 7));
        map.prune(5, 100, |_, _| pruned += 1);
        assert_eq!((pruned, map.len()), (6, 4));
    }
}
