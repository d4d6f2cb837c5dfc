//! Strict verification of compact HS256 JWS: structure, signature, and the claims' values.
//!
//! The rules, and why each one is there, are in `SECURITY.md`; `header.rs` and `payload.rs`
//! hold the rules of the header and of the payload's shape.

use base64::{DecodeSliceError, Engine as _};

use super::header::check_foreign_header;
use super::payload::Payload;
use super::{BASE64URL, CLAIM_NAMES, Claims, TokenUse};
use crate::error::Rejection;
use crate::keys::KeySet;

/// The longest token looked at (ours are about 350 bytes): anything longer is refused before any
/// decoding, so an attacker cannot make us do work proportional to what they send. The largest
/// maximum token size that can be configured.
pub(crate) const MAX_TOKEN_LEN: usize = 4096;

/// The smallest maximum token size that can be configured: room for the claims of a login with
/// a long realm and username, but nothing custom.
pub(crate) const MIN_MAX_TOKEN_LEN: usize = 512;

/// Payloads up to this size decode into a stack buffer; larger ones (rare, and bounded by
/// [`MAX_TOKEN_LEN`]) into the heap. Ours decode to about 170 bytes plus the username.
const STACK_PAYLOAD_LEN: usize = 512;

/// How far in the future `iat` may be before a token counts as not yet valid: enough for clock
/// skew between replicas, far less than any sane token lifetime.
const MAX_IAT_SKEW: i64 = 60;

/// Verifies tokens signed with the configured keys for one issuer.
#[derive(Debug)]
pub(crate) struct TokenVerifier {
    keys: KeySet,
    issuer: Box<str>,
    leeway: i64,
}

impl TokenVerifier {
    pub(crate) fn new(keys: KeySet, issuer: &str, leeway: i64) -> Self {
        Self {
            keys,
            issuer: issuer.into(),
            leeway,
        }
    }

    /// Verifies `token` for `usefor` at `now` (seconds since the epoch), answering its claims and
    /// its `nbf` (for the cache to check again on every hit). The only function that accepts a
    /// token; every route goes through it.
    #[inline]
    pub(crate) fn verify_with_nbf(
        &self,
        token: &[u8],
        usefor: TokenUse,
        now: i64,
    ) -> Result<(Claims, Option<i64>), Rejection> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(Rejection::TokenTooLong);
        }
        let (header, payload, signature) = split(token).ok_or(Rejection::MalformedToken)?;

        // The headers this crate writes are compared byte for byte, which also picks the key;
        // anything else is parsed, strictly, and names its key by `kid`.
        let key = match self.keys.by_header(header) {
            Some(key) => key,
            None => {
                let kid = check_foreign_header(header)?;
                self.keys
                    .by_kid(kid.as_deref())
                    .ok_or(Rejection::UnknownKey)?
            }
        };

        // An HS256 signature: exactly 43 characters, 32 bytes.
        let mut tag = [0u8; 32];
        if signature.len() != 43 || BASE64URL.decode_slice(signature, &mut tag).is_err() {
            return Err(Rejection::MalformedToken);
        }
        let signing_input = &token[..header.len() + 1 + payload.len()];
        if !key.verify(signing_input, &tag) {
            return Err(Rejection::BadSignature);
        }

        // Only authenticated bytes are parsed as claims.
        let mut stack = [0u8; STACK_PAYLOAD_LEN];
        let heap;
        let json = match BASE64URL.decode_slice(payload, &mut stack) {
            Ok(len) => &stack[..len],
            Err(DecodeSliceError::OutputSliceTooSmall) => {
                heap = BASE64URL
                    .decode(payload)
                    .map_err(|_| Rejection::MalformedToken)?;
                &heap[..]
            }
            Err(DecodeSliceError::DecodeError(_)) => return Err(Rejection::MalformedToken),
        };
        let payload: Payload<'_> =
            serde_json::from_slice(json).map_err(|_| Rejection::InvalidClaims)?;
        let (claims, nbf) = self.check_claims(&payload, usefor, now)?;
        if payload.scope.is_none() && !payload.unknown.any {
            return Ok((claims, nbf));
        }
        let custom = match payload.unknown.any {
            true => Some(custom_claims(json).ok_or(Rejection::InvalidClaims)?),
            false => None,
        };
        Ok((claims.with_more(payload.scope.unwrap_or(""), custom), nbf))
    }

    /// Checks the values of the claims of an authenticated payload, and only then copies them
    /// out. Inlined, like [`Claims::new`], so that the claims are written once, where the caller
    /// wants them.
    #[inline]
    fn check_claims(
        &self,
        payload: &Payload<'_>,
        usefor: TokenUse,
        now: i64,
    ) -> Result<(Claims, Option<i64>), Rejection> {
        self.check_times(payload.exp, payload.nbf, payload.iat, now)?;
        if *payload.iss != *self.issuer {
            return Err(Rejection::WrongIssuer);
        }
        match TokenUse::parse(&payload.usefor) {
            Some(found) if found == usefor => {}
            Some(_) => return Err(Rejection::WrongTokenUse),
            None => return Err(Rejection::InvalidClaims),
        }
        if payload.sub.is_empty() {
            return Err(Rejection::InvalidClaims);
        }
        let claims = Claims::new(
            &payload.iss,
            &payload.sub,
            usefor,
            payload.iat,
            payload.exp,
            payload.exi,
            &payload.jti,
        );
        Ok((claims, payload.nbf))
    }

    /// Whether a token with these times is valid at `now`: not expired, not before its `nbf`,
    /// not issued in the future. The one place these rules are written; the token cache calls
    /// it on every hit.
    pub(crate) fn check_times(
        &self,
        exp: i64,
        nbf: Option<i64>,
        iat: i64,
        now: i64,
    ) -> Result<(), Rejection> {
        if exp <= now.saturating_sub(self.leeway) {
            return Err(Rejection::Expired);
        }
        if nbf.is_some_and(|nbf| nbf > now.saturating_add(self.leeway))
            || iat > now.saturating_add(MAX_IAT_SKEW.max(self.leeway))
        {
            return Err(Rejection::NotYetValid);
        }
        Ok(())
    }
}

/// The members of an authenticated payload that are not this crate's claims, as a JSON object:
/// the custom claims an application added at login, copied out for it to read.
fn custom_claims(json: &[u8]) -> Option<String> {
    let mut members: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(json).ok()?;
    members.retain(|name, _| !CLAIM_NAMES.contains(&name.as_str()));
    serde_json::to_string(&members).ok()
}

/// Splits a compact JWS into its three segments; `None` unless there are exactly two dots,
/// the header and the payload are not empty, and the token is UTF-8.
fn split(token: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let token = std::str::from_utf8(token).ok()?;
    let (header, rest) = token.split_once('.')?;
    let (payload, signature) = rest.split_once('.')?;
    if signature.contains('.') || header.is_empty() || payload.is_empty() {
        return None;
    }
    Some((header.as_bytes(), payload.as_bytes(), signature.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn split_accepts_exactly_two_dots_around_non_empty_header_and_payload() {
        assert_eq!(split(b"h.p.s"), Some((&b"h"[..], &b"p"[..], &b"s"[..])));
        assert_eq!(split(b"h.p."), Some((&b"h"[..], &b"p"[..], &b""[..])));
        assert_eq!(split(b"h.\xff.s"), None);
        for token in [
            "", "hps", "h..s", ".", "..", "...", "h.p.s.", "h.p.s.x", "h.p.q.s", "h..p.s", ".p.s",
        ] {
            assert_eq!(split(token.as_bytes()), None, "{token:?}");
        }
    }
}
