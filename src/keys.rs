//! The HMAC keys that sign and verify tokens, and their rotation.

use std::fmt;

use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::Sha256;

use crate::error::BuildError;

/// The shortest secret accepted: RFC 7518 §3.2 requires an HS256 key of at least 256 bits.
pub(crate) const MIN_SECRET_LEN: usize = 32;

/// The longest key id accepted. Ids are names an operator picks (`2026-11`), not data.
pub(crate) const MAX_KID_LEN: usize = 64;

/// The base64url encoding of `{"alg":"HS256","typ":"JWT"}`: the header of tokens signed with a
/// key that has no id, byte for byte what datarhei Core emits.
pub(crate) const HEADER_B64: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

/// An HS256 key with its HMAC state precomputed, its optional id (`kid`), and the encoded header
/// of the tokens it signs.
///
/// Keying HMAC hashes the inner and outer pads once; cloning the keyed state per token skips
/// that work on every signature and verification.
#[derive(Clone)]
pub(crate) struct HmacKey {
    kid: Option<Box<str>>,
    header_b64: Box<str>,
    mac: Hmac<Sha256>,
}

impl HmacKey {
    /// Builds a key without an id from a secret of at least [`MIN_SECRET_LEN`] bytes, used as
    /// given.
    pub(crate) fn new(secret: &[u8]) -> Result<Self, BuildError> {
        if secret.len() < MIN_SECRET_LEN {
            return Err(BuildError::SecretTooShort { len: secret.len() });
        }
        let mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts keys of any length");
        Ok(Self {
            kid: None,
            header_b64: HEADER_B64.into(),
            mac,
        })
    }

    /// Builds a key with an id: the tokens it signs carry `"kid":"<kid>"` in their header.
    pub(crate) fn with_kid(kid: &str, secret: &[u8]) -> Result<Self, BuildError> {
        let valid = !kid.is_empty()
            && kid.len() <= MAX_KID_LEN
            && kid
                .bytes()
                .all(|b| (b'!'..=b'~').contains(&b) && b != b'"' && b != b'\\');
        if !valid {
            return Err(BuildError::InvalidKeyId {
                kid: kid.to_owned(),
            });
        }
        let mut key = Self::new(secret)?;
        // The id is printable ASCII without quotes or backslashes, so it needs no JSON escaping.
        let header = format!(r#"{{"alg":"HS256","kid":"{kid}","typ":"JWT"}}"#);
        key.header_b64 = base64::Engine::encode(&crate::token::BASE64URL, header).into();
        key.kid = Some(kid.into());
        Ok(key)
    }

    /// Builds a key without an id from 32 bytes of the operating system's random number
    /// generator.
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
    pub(crate) fn header_b64(&self) -> &str {
        &self.header_b64
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
            .field("kid", &self.kid)
            .field("secret", &"[redacted]")
            .finish()
    }
}

/// The signing key and the keys still accepted for verification.
///
/// Rotation: tokens are signed with the signing key only; tokens signed with a previous key
/// stay valid until they expire, so nobody is logged out when the key changes. With more than
/// one key, every token must name its key (`kid`); a token without one, or naming a key that is
/// not configured (or no longer is), is refused. A single key may be used without ids.
#[derive(Clone, Debug)]
pub(crate) struct KeySet {
    /// The signing key first, then the previous keys.
    keys: Box<[HmacKey]>,
}

impl KeySet {
    pub(crate) fn new(signing: HmacKey, previous: Vec<HmacKey>) -> Result<Self, BuildError> {
        let keys: Box<[HmacKey]> = std::iter::once(signing).chain(previous).collect();
        if keys.len() > 1 && keys.iter().any(|key| key.kid.is_none()) {
            return Err(BuildError::PreviousKeyNeedsKeyId);
        }
        for (i, key) in keys.iter().enumerate() {
            if let Some(kid) = &key.kid
                && keys[..i]
                    .iter()
                    .any(|other| other.kid.as_ref() == Some(kid))
            {
                return Err(BuildError::DuplicateKeyId {
                    kid: kid.to_string(),
                });
            }
        }
        Ok(Self { keys })
    }

    /// The key that signs new tokens.
    #[inline]
    pub(crate) fn signing(&self) -> &HmacKey {
        &self.keys[0]
    }

    /// The key whose encoded header is exactly `header_b64`: the fast path for tokens this
    /// crate issued.
    #[inline]
    pub(crate) fn by_header(&self, header_b64: &[u8]) -> Option<&HmacKey> {
        self.keys
            .iter()
            .find(|key| key.header_b64.as_bytes() == header_b64)
    }

    /// The key a parsed header names. Without a `kid`, only a single-key set has an answer.
    pub(crate) fn by_kid(&self, kid: Option<&str>) -> Option<&HmacKey> {
        match kid {
            Some(kid) => self.keys.iter().find(|key| key.kid.as_deref() == Some(kid)),
            None => match &*self.keys {
                [only] => Some(only),
                _ => None,
            },
        }
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

    fn key(kid: &str) -> HmacKey {
        HmacKey::with_kid(kid, &[7; 32]).unwrap()
    }

    #[test]
    fn keys_with_an_id_name_it_in_their_header() {
        let header = URL_SAFE_NO_PAD.decode(key("2026-11").header_b64()).unwrap();
        assert_eq!(header, br#"{"alg":"HS256","kid":"2026-11","typ":"JWT"}"#);
        for bad in ["", "a b", "a\"b", "a\\b", "é", &"k".repeat(65)] {
            assert!(
                matches!(
                    HmacKey::with_kid(bad, &[7; 32]),
                    Err(BuildError::InvalidKeyId { .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_key_set_finds_keys_by_header_and_by_id() {
        let set = KeySet::new(key("new"), vec![key("old")]).unwrap();
        assert_eq!(set.signing().kid.as_deref(), Some("new"));
        let old_header = key("old").header_b64().as_bytes().to_vec();
        assert_eq!(
            set.by_header(&old_header).unwrap().kid.as_deref(),
            Some("old")
        );
        assert_eq!(set.by_kid(Some("old")).unwrap().kid.as_deref(), Some("old"));
        assert!(set.by_kid(Some("gone")).is_none());
        assert!(
            set.by_kid(None).is_none(),
            "several keys: a token must name its key"
        );

        let single = KeySet::new(key("only"), vec![]).unwrap();
        assert!(
            single.by_kid(None).is_some(),
            "a single key may be used without ids"
        );
    }

    #[test]
    fn key_sets_refuse_duplicate_and_missing_ids() {
        assert_eq!(
            KeySet::new(key("a"), vec![key("a")]).unwrap_err(),
            BuildError::DuplicateKeyId { kid: "a".into() }
        );
        assert_eq!(
            KeySet::new(HmacKey::new(&[7; 32]).unwrap(), vec![key("a")]).unwrap_err(),
            BuildError::PreviousKeyNeedsKeyId
        );
    }
}
