//! The HMAC key that signs and verifies tokens.

use std::fmt;

use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::Sha256;

use crate::error::BuildError;

/// The shortest secret accepted: RFC 7518 §3.2 requires an HS256 key of at least 256 bits.
pub(crate) const MIN_SECRET_LEN: usize = 32;

/// The base64url encoding of `{"alg":"HS256","typ":"JWT"}`, the only header this crate emits,
/// byte for byte what datarhei Core emits.
pub(crate) const HEADER_B64: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

/// An HS256 key with its HMAC state precomputed.
///
/// Keying HMAC hashes the inner and outer pads once; cloning the keyed state per token skips
/// that work on every signature and verification.
#[derive(Clone)]
pub(crate) struct HmacKey {
    mac: Hmac<Sha256>,
}

impl HmacKey {
    /// Builds a key from a secret of at least [`MIN_SECRET_LEN`] bytes, used as given.
    pub(crate) fn new(secret: &[u8]) -> Result<Self, BuildError> {
        if secret.len() < MIN_SECRET_LEN {
            return Err(BuildError::SecretTooShort { len: secret.len() });
        }
        let mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts keys of any length");
        Ok(Self { mac })
    }

    /// Builds a key from 32 bytes of the operating system's random number generator.
    pub(crate) fn random() -> Self {
        let mut secret = zeroize::Zeroizing::new([0u8; MIN_SECRET_LEN]);
        getrandom::fill(&mut *secret).expect("the operating system's RNG is available");
        Self::new(&*secret).expect("32 bytes is long enough")
    }

    /// A fresh keyed HMAC state, ready to absorb a signing input.
    #[inline]
    fn mac(&self) -> Hmac<Sha256> {
        self.mac.clone()
    }

    /// The base64url-encoded JOSE header of tokens signed with this key.
    #[inline]
    pub(crate) const fn header_b64(&self) -> &'static str {
        HEADER_B64
    }

    /// The HMAC-SHA256 tag of `signing_input`.
    pub(crate) fn sign(&self, signing_input: &[u8]) -> [u8; 32] {
        let mut mac = self.mac();
        mac.update(signing_input);
        mac.finalize().into_bytes().into()
    }

    /// Whether `tag` is the HMAC-SHA256 tag of `signing_input`, compared in constant time.
    #[inline]
    pub(crate) fn verify(&self, signing_input: &[u8], tag: &[u8; 32]) -> bool {
        let mut mac = self.mac();
        mac.update(signing_input);
        mac.verify_slice(tag).is_ok()
    }
}

impl fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HmacKey")
            .field("alg", &"HS256")
            .field("secret", &"[redacted]")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    #[test]
    fn header_constant_is_the_encoded_hs256_header() {
        assert_eq!(
            URL_SAFE_NO_PAD.decode(HEADER_B64).unwrap(),
            br#"{"alg":"HS256","typ":"JWT"}"#
        );
    }

    #[test]
    fn short_secret_is_refused() {
        assert_eq!(
            HmacKey::new(&[7; 31]).unwrap_err(),
            BuildError::SecretTooShort { len: 31 }
        );
        assert!(HmacKey::new(&[7; 32]).is_ok());
    }

    #[test]
    fn debug_does_not_print_the_secret() {
        let key = HmacKey::new(b"0123456789abcdef0123456789abcdef").unwrap();
        let debug = format!("{key:?}");
        assert!(debug.contains("[redacted]"));
        assert!(!debug.contains("0123456789"));
    }
}
