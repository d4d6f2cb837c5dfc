//! A cache of validated access tokens.
//!
//! A client sends the same access token with every request until it expires (ten minutes by
//! default), and under load verifying it again each time was a tenth of the server's work
//! (BENCHMARKS.md). A token verified once is remembered with its claims; the next request
//! presenting exactly the same bytes gets the claims back without the HMAC or the parsing.
//!
//! What keeps this safe, each point tested:
//! - Only tokens that passed the full verification (and the subject and revocation checks) are
//!   stored, and a hit needs the presented token to equal the stored one byte for byte, in
//!   constant time (`subtle`): timing how far a guess matches must not reveal a cached token a
//!   byte at a time. The lengths are compared first: they are not secret.
//! - Every hit checks the times again (`exp`, `nbf`, `iat`, with the leeway) exactly as the
//!   verifier does; the caller checks revocation on every hit.
//! - The memory is bounded: a fixed number of slots, each holding at most one token of at most
//!   [`MAX_CACHED_TOKEN_LEN`] bytes; a new token takes its slot from whatever was there.
//! - The keys of a layer never change; a layer with other keys has a new, empty cache.
//! - Each slot has its own lock, held for a comparison and a copy, never across I/O.

use std::sync::{Mutex, PoisonError};

use subtle::{Choice, ConstantTimeEq as _};

use crate::token::Claims;

/// Longer tokens are verified every time and never stored. Ours are about 350 bytes.
pub(crate) const MAX_CACHED_TOKEN_LEN: usize = 512;

/// The most slots a cache may have: 168 bytes each from the start, and at most about 14 MB
/// full (a token of at most [`MAX_CACHED_TOKEN_LEN`] bytes, claims longer than 76 bytes).
pub(crate) const MAX_SLOTS: usize = 1 << 14;

/// Validated access tokens and their claims.
pub(crate) struct TokenCache {
    slots: Box<[Mutex<Option<Entry>>]>,
    /// `64 - log2(slots.len())`: multiplying by a constant and keeping the top bits spreads
    /// the signature's bytes over the slots.
    shift: u32,
}

/// A token that passed verification, with what a hit needs to check again.
struct Entry {
    token: Box<[u8]>,
    claims: Claims,
    nbf: Option<i64>,
}

impl TokenCache {
    /// A cache of `slots` slots, rounded up to a power of two and capped at [`MAX_SLOTS`];
    /// `None` for zero, which turns caching off.
    pub(crate) fn new(slots: usize) -> Option<Self> {
        if slots == 0 {
            return None;
        }
        let slots = slots.min(MAX_SLOTS).next_power_of_two();
        Some(Self {
            slots: (0..slots).map(|_| Mutex::new(None)).collect(),
            shift: 64 - slots.trailing_zeros(),
        })
    }

    /// The slot a token belongs in, chosen from the last eight characters of its signature:
    /// for a genuine token, the base64url of an HMAC output, so spread evenly. A forged token
    /// can pick its slot, but only a token that verified is ever stored there.
    fn slot(&self, token: &[u8]) -> Option<&Mutex<Option<Entry>>> {
        if token.len() > MAX_CACHED_TOKEN_LEN {
            return None;
        }
        let (_, last) = token.split_last_chunk::<8>()?;
        let spread = u64::from_le_bytes(*last).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        // The top bits, as many as index the slots (none for a single slot, where a shift by
        // 64 would overflow).
        let index = spread.checked_shr(self.shift).unwrap_or(0);
        self.slots.get(usize::try_from(index).ok()?)
    }

    /// The claims of `token` if it is stored and `times_ok` accepts its times again now.
    pub(crate) fn get(
        &self,
        token: &[u8],
        times_ok: impl FnOnce(&Claims, Option<i64>) -> bool,
    ) -> Option<Claims> {
        let slot = self.slot(token)?;
        let entry = slot.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = entry.as_ref()?;
        let equal = same(&entry.token, token);
        (equal && times_ok(&entry.claims, entry.nbf)).then(|| entry.claims.clone())
    }

    /// Stores a token that has just passed every check, in place of what its slot held.
    pub(crate) fn put(&self, token: &[u8], claims: &Claims, nbf: Option<i64>) {
        let Some(slot) = self.slot(token) else {
            return;
        };
        let entry = Entry {
            token: token.into(),
            claims: claims.clone(),
            nbf,
        };
        let previous = slot
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .replace(entry);
        // Freed after the lock is released.
        drop(previous);
    }
}

impl std::fmt::Debug for TokenCache {
    /// The number of slots only: the tokens are bearer credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("slots", &self.slots.len())
            .finish_non_exhaustive()
    }
}

/// Whether a stored token equals the presented one, in constant time (lengths are not secret).
/// Eight bytes per `subtle` comparison: a byte slice's `ct_eq` pays an optimisation barrier per
/// byte, which made a cache hit five times slower than the rest of it.
fn same(stored: &[u8], presented: &[u8]) -> bool {
    if stored.len() != presented.len() {
        return false;
    }
    let (stored_words, stored_rest) = stored.as_chunks::<8>();
    let (presented_words, presented_rest) = presented.as_chunks::<8>();
    let words = stored_words
        .iter()
        .zip(presented_words)
        .fold(Choice::from(1), |equal, (a, b)| {
            equal & u64::from_ne_bytes(*a).ct_eq(&u64::from_ne_bytes(*b))
        });
    bool::from(words & stored_rest.ct_eq(presented_rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::TokenUse;

    fn claims(exp: i64) -> Claims {
        Claims::new("realm", "admin", TokenUse::Access, 1, exp, exp - 1, "jti")
    }

    const TOKEN: &[u8] = b"header.payload.signature-of-43-characters-in-all-xxxxxxxxxx";

    #[test]
    fn a_stored_token_is_found_and_nothing_else() {
        let cache = TokenCache::new(8).unwrap();
        assert!(cache.get(TOKEN, |_, _| true).is_none());
        cache.put(TOKEN, &claims(100), None);
        assert_eq!(cache.get(TOKEN, |_, _| true), Some(claims(100)));
        // Any other bytes, even in the same slot (same last eight characters), are a miss.
        for at in 0..TOKEN.len() {
            let mut other = TOKEN.to_vec();
            other[at] ^= 1;
            assert!(cache.get(&other, |_, _| true).is_none(), "{at}");
        }
        let longer = [TOKEN, b"x"].concat();
        assert!(cache.get(&longer, |_, _| true).is_none());
        assert!(cache.get(&TOKEN[1..], |_, _| true).is_none());
    }

    #[test]
    fn every_hit_checks_the_times_again() {
        let cache = TokenCache::new(8).unwrap();
        cache.put(TOKEN, &claims(100), Some(7));
        let mut seen = None;
        let hit = cache.get(TOKEN, |claims, nbf| {
            seen = Some((claims.exp(), nbf));
            false
        });
        assert_eq!((hit, seen), (None, Some((100, Some(7)))));
    }

    #[test]
    fn a_new_token_takes_its_slot() {
        let cache = TokenCache::new(1).unwrap();
        let other = b"another.token.with-another-signature-zzzzzzzzzzzzzzzzzz";
        cache.put(TOKEN, &claims(100), None);
        cache.put(other, &claims(200), None);
        assert!(cache.get(TOKEN, |_, _| true).is_none());
        assert_eq!(cache.get(other, |_, _| true), Some(claims(200)));
    }

    #[test]
    fn size_is_bounded() {
        assert!(TokenCache::new(0).is_none());
        assert_eq!(TokenCache::new(3).unwrap().slots.len(), 4);
        assert_eq!(TokenCache::new(usize::MAX).unwrap().slots.len(), MAX_SLOTS);
        assert!(size_of::<Mutex<Option<Entry>>>() <= 168);
        let cache = TokenCache::new(8).unwrap();
        let long = vec![b'a'; MAX_CACHED_TOKEN_LEN + 1];
        cache.put(&long, &claims(100), None);
        assert!(cache.get(&long, |_, _| true).is_none());
        // Too short to have a signature: never stored.
        cache.put(b"a.b.c", &claims(100), None);
        assert!(cache.get(b"a.b.c", |_, _| true).is_none());
    }

    #[test]
    fn every_slot_index_is_in_range() {
        for slots in [1, 2, 64, MAX_SLOTS] {
            let cache = TokenCache::new(slots).unwrap();
            for byte in 0..=255u8 {
                let token = [byte; 16];
                assert!(cache.slot(&token).is_some());
            }
        }
    }

    #[test]
    fn debug_shows_no_token() {
        let cache = TokenCache::new(2).unwrap();
        cache.put(TOKEN, &claims(100), None);
        let debug = format!("{cache:?}");
        assert!(!debug.contains("signature"), "{debug}");
    }

    #[test]
    fn comparison_is_equality_at_every_length_and_bit() {
        for len in 0..80_usize {
            let token: Vec<u8> = (0..len)
                .map(|i| u8::try_from(i).unwrap().wrapping_mul(7).wrapping_add(1))
                .collect();
            assert!(same(&token, &token.clone()));
            assert!(!same(&token, &token[..len.saturating_sub(1)]) || len == 0);
            for at in 0..len {
                for bit in 0..8 {
                    let mut other = token.clone();
                    other[at] ^= 1 << bit;
                    assert!(!same(&token, &other), "len {len}, byte {at}, bit {bit}");
                }
            }
        }
    }
}
