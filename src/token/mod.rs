//! Claims and tokens: issuing and strictly verifying compact HS256 JWS.
//!
//! Everything here is a pure function of (key, clock, bytes), no I/O, and, apart from the
//! per-slot locks of the validated-token cache, no locks.

pub(crate) mod base64url;
mod cache;
mod claims;
mod issue;
mod verify;

pub(crate) use cache::TokenCache;
pub use claims::{Claims, TokenUse};
pub(crate) use issue::TokenIssuer;
pub(crate) use verify::{MAX_TOKEN_LEN, TokenVerifier};

/// Seconds since the Unix epoch, as JWT NumericDates count them.
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
