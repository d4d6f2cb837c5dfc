//! Claims and tokens: issuing and strictly verifying compact HS256 JWS.
//!
//! Everything here is a pure function of (key, clock, bytes): no I/O, no state, no locks (the
//! validated-token cache is the server's). The codecs are the `base64` and
//! `serde_json` crates; the rules a token must follow are in `verify.rs` (structure, signature,
//! times, values), `header.rs` (the JOSE header) and `payload.rs` (the claims' shape and types).

mod claims;
mod header;
mod issue;
mod payload;
mod verify;

use base64::alphabet::URL_SAFE;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};

pub use claims::{Claims, TokenUse};
pub(crate) use issue::{Issued, TokenIssuer};
pub(crate) use payload::CLAIM_NAMES;
pub(crate) use verify::{MAX_TOKEN_LEN, MIN_MAX_TOKEN_LEN, TokenVerifier};

pub(crate) use crate::clock::now;

/// Unpadded base64url (RFC 7515 §2) in its one canonical form: the URL-safe alphabet only, no
/// `=`, and the unused low bits of the last character zero, so that no two strings decode to the
/// same bytes (SECURITY.md, "Encoding").
pub(crate) const BASE64URL: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use super::BASE64URL;

    #[test]
    fn base64url_accepts_only_the_canonical_form() {
        assert_eq!(BASE64URL.decode("-_8").unwrap(), [0xfb, 0xff]);
        assert_eq!(BASE64URL.encode([0xfb, 0xff]), "-_8");
        let mut tag = [0u8; 32];
        assert_eq!(
            BASE64URL.decode_slice(BASE64URL.encode([7; 32]), &mut tag),
            Ok(32)
        );
        assert_eq!(tag, [7; 32]);
        // Unused low bits of the last character set (each of the four, then of the two);
        // padding, the standard alphabet, whitespace, impossible lengths.
        for refused in [
            "AB", "AC", "AE", "AI", "AAB", "AAC", "-_9", "AA==", "AAA=", "+/8", "A A", "AA\n", "A",
            "AAAAA",
        ] {
            assert!(BASE64URL.decode(refused).is_err(), "{refused:?}");
        }
    }
}
