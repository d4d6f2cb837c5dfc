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
pub(crate) use issue::{Issued, TokenIssuer};
pub(crate) use verify::{MAX_TOKEN_LEN, TokenVerifier};

pub(crate) use crate::clock::now;
