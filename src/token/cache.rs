//! A cache of validated access tokens.
//!
//! A client sends the same access token with every request until it expires (ten minutes by
//! default), and under load verifying it again each time was a tenth of the server's work
//! (BENCHMARKS.md). A token that has been verified once is remembered with its claims; the
//! next request presenting exactly the same bytes gets the claims back without the HMAC,
//! the base64url decoding or the parsing.
//!
//! What keeps this safe, each point tested:
//! - Only tokens that passed the full verification (and the subject and revocation checks) are
//!   ever stored, and a hit needs the presented token to equal the stored one byte for byte,
//!   compared in constant time: timing how far a guess matches must not reveal a cached token
//!   a byte at a time, which is why MACs are compared that way.
//! - Every hit checks the times again (`exp`, `nbf`, `iat`, with the leeway) exactly as the
//!   verifier does; a token past its expiry is a miss, and the full verification then refuses
//!   it with the usual reason. The caller checks revocation on every hit.
//! - The memory is bounded: a fixed number of slots, fixed when the layer is built, each
//!   holding at most one token of at most [`MAX_CACHED_TOKEN_LEN`] bytes. A new token takes
//!   its slot from whatever was there.
//! - The keys of a layer never change after it is built; a layer with other keys is a new
//!   layer, with a new, empty cache.
//! - Each slot has its own lock, held for a comparison and a copy: requests with different
//!   tokens almost never wait on each other, and nothing waits on I/O.

use std::sync::{Mutex, PoisonError};

use super::Claims;

/// Longer tokens are verified every time and never stored. Ours are about 350 bytes.
pub(crate) const MAX_CACHED_TOKEN_LEN: usize = 512;

/// The most slots a cache may have. A slot takes 168 bytes from the start, and a stored token
/// its length (at most [`MAX_CACHED_TOKEN_LEN`]) plus, for claims longer than 76 bytes, their
/// text: at this maximum, 2.8 MB from the start and at most about 14 MB full.
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
        (constant_time_eq(&entry.token, token) && times_ok(&entry.claims, entry.nbf))
            .then(|| entry.claims.clone())
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

/// Whether `a` and `b` are equal, in a time that depends only on their lengths (which are not
/// secret: every token of this crate has about the same).
///
/// Four running differences, one per 8-byte word of each 32-byte block, all passed through
/// `black_box` after every block: from then on the compiler knows nothing of their values, so
/// it cannot tell that a difference, once set, decides the answer, and cannot add an early
/// exit. A barrier on one running difference after every word (the first version) chained
/// each word to the last through memory, a third of a cache hit (BENCHMARKS.md); `subtle`'s
/// slice comparison puts one on every byte.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let ((a_blocks, a_rest), (b_blocks, b_rest)) = (a.as_chunks::<32>(), b.as_chunks::<32>());
    let mut diff = [0u64; 4];
    for (x, y) in a_blocks.iter().zip(b_blocks) {
        diff = std::hint::black_box(or_differences(diff, x.as_chunks().0, y.as_chunks().0));
    }
    // What is left: up to three words, one lane each, then up to seven bytes.
    let ((a_words, a_bytes), (b_words, b_bytes)) =
        (a_rest.as_chunks::<8>(), b_rest.as_chunks::<8>());
    diff = std::hint::black_box(or_differences(diff, a_words, b_words));
    for (x, y) in a_bytes.iter().zip(b_bytes) {
        diff[0] = std::hint::black_box(diff[0] | u64::from(x ^ y));
    }
    diff.iter().fold(0, |all, d| all | d) == 0
}

/// `diff` with the difference of the `i`-th words of `x` and `y` ORed into lane `i`, for the
/// (at most four) words there are.
#[inline]
fn or_differences(mut diff: [u64; 4], x: &[[u8; 8]], y: &[[u8; 8]]) -> [u64; 4] {
    for ((d, x), y) in diff.iter_mut().zip(x).zip(y) {
        *d |= u64::from_ne_bytes(*x) ^ u64::from_ne_bytes(*y);
    }
    diff
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
        assert!(
            cache
                .get(TOKEN, |claims, nbf| {
                    seen = Some((claims.exp(), nbf));
                    false
                })
                .is_none()
        );
        assert_eq!(seen, Some((100, Some(7))));
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
    fn constant_time_eq_is_equality() {
        // Past two 32-byte blocks, so that every lane of a block and the bytes after it count.
        let base: Vec<u8> = (0..80).collect();
        for len in 0..=base.len() {
            let a = &base[..len];
            assert!(constant_time_eq(a, a));
            assert!(!constant_time_eq(a, &base[..len.saturating_sub(1)]) || len == 0);
            for at in 0..len {
                for bit in [0x01, 0x80] {
                    let mut b = a.to_vec();
                    b[at] ^= bit;
                    assert!(!constant_time_eq(a, &b), "{len} {at} {bit}");
                }
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
}
