//! A tenant's verification keys, parsed from a JWKS document (RFC 7517).
//!
//! Each key's algorithm is decided here, from the key itself: its `alg` member when present,
//! otherwise the one algorithm its type and curve allow (RSA → RS256, P-256 → ES256, P-384 →
//! ES384, Ed25519 → EdDSA). A token's `alg` header must then equal it: the token never chooses
//! how it is verified. Symmetric (`oct`) keys, encryption keys, RSA keys under 2048 bits and keys
//! without a `kid` are left out.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, KeyOperations, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey, DecodingKeyKind};
use serde::Deserialize;

/// The most keys kept from one document: IdPs publish two or three.
const MAX_KEYS: usize = 64;

/// The longest `kid` kept.
pub(crate) const MAX_KID_LEN: usize = 256;

/// The smallest RSA modulus accepted, in bits.
const MIN_RSA_BITS: usize = 2048;

/// A key that verifies one algorithm.
pub(crate) struct VerifyKey {
    pub(crate) algorithm: Algorithm,
    pub(crate) key: DecodingKey,
}

impl fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyKey")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// The usable keys of one JWKS document, by `kid`.
#[derive(Debug, Default)]
pub(crate) struct KeySet {
    keys: HashMap<Box<str>, Arc<VerifyKey>>,
}

#[derive(Deserialize)]
struct Document {
    keys: Vec<serde_json::Value>,
}

impl KeySet {
    /// Parses a JWKS document, keeping the keys this crate can use and skipping the others.
    ///
    /// # Errors
    ///
    /// When the document is not a JSON object with a `keys` array.
    pub(crate) fn parse(json: &[u8]) -> Result<Self, serde_json::Error> {
        let document: Document = serde_json::from_slice(json)?;
        let mut keys = HashMap::new();
        let mut duplicates = Vec::new();
        for value in document.keys {
            if keys.len() == MAX_KEYS {
                tracing::warn!(
                    "the JWKS document has more than {MAX_KEYS} keys; ignoring the rest"
                );
                break;
            }
            let Ok(jwk) = serde_json::from_value::<Jwk>(value) else {
                continue;
            };
            let Some(kid) = jwk.common.key_id.clone() else {
                continue;
            };
            if kid.is_empty() || kid.len() > MAX_KID_LEN {
                continue;
            }
            let Some(key) = usable_key(&jwk) else {
                continue;
            };
            let kid = kid.into_boxed_str();
            if keys.insert(kid.clone(), Arc::new(key)).is_some() {
                duplicates.push(kid);
            }
        }
        // Two keys with one kid: which one a token means is unknowable, so neither is used.
        for kid in duplicates {
            tracing::warn!("the JWKS document has a duplicate kid; ignoring that kid");
            keys.remove(&kid);
        }
        Ok(Self { keys })
    }

    /// The key with this `kid`, if any.
    pub(crate) fn get(&self, kid: &str) -> Option<&Arc<VerifyKey>> {
        self.keys.get(kid)
    }

    /// How many usable keys the set holds.
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }
}

/// The key and its algorithm, if the JWK is a public signature key of a supported kind.
fn usable_key(jwk: &Jwk) -> Option<VerifyKey> {
    let common = &jwk.common;
    if common
        .public_key_use
        .as_ref()
        .is_some_and(|u| *u != PublicKeyUse::Signature)
    {
        return None;
    }
    if common
        .key_operations
        .as_ref()
        .is_some_and(|ops| !ops.contains(&KeyOperations::Verify))
    {
        return None;
    }
    let declared = common.key_algorithm;
    let algorithm = match (&jwk.algorithm, declared) {
        (AlgorithmParameters::RSA(_), None | Some(KeyAlgorithm::RS256)) => Algorithm::RS256,
        (AlgorithmParameters::RSA(_), Some(KeyAlgorithm::RS384)) => Algorithm::RS384,
        (AlgorithmParameters::RSA(_), Some(KeyAlgorithm::RS512)) => Algorithm::RS512,
        (AlgorithmParameters::RSA(_), Some(KeyAlgorithm::PS256)) => Algorithm::PS256,
        (AlgorithmParameters::RSA(_), Some(KeyAlgorithm::PS384)) => Algorithm::PS384,
        (AlgorithmParameters::RSA(_), Some(KeyAlgorithm::PS512)) => Algorithm::PS512,
        (AlgorithmParameters::EllipticCurve(ec), None | Some(KeyAlgorithm::ES256))
            if ec.curve == EllipticCurve::P256 =>
        {
            Algorithm::ES256
        }
        (AlgorithmParameters::EllipticCurve(ec), None | Some(KeyAlgorithm::ES384))
            if ec.curve == EllipticCurve::P384 =>
        {
            Algorithm::ES384
        }
        (AlgorithmParameters::OctetKeyPair(okp), None | Some(KeyAlgorithm::EdDSA))
            if okp.curve == EllipticCurve::Ed25519 =>
        {
            Algorithm::EdDSA
        }
        // Symmetric keys, unknown curves, and a declared algorithm that does not fit the key.
        _ => return None,
    };
    let key = DecodingKey::from_jwk(jwk).ok()?;
    if let DecodingKeyKind::RsaModulusExponent { n, .. } = key.kind() {
        let significant = n.iter().skip_while(|b| **b == 0).count();
        if significant * 8 < MIN_RSA_BITS {
            return None;
        }
    }
    Some(VerifyKey { algorithm, key })
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn rsa_jwk(kid: &str, bits: usize, extra: &str) -> String {
        let n = URL_SAFE_NO_PAD.encode(vec![0xc5; bits / 8]);
        format!(r#"{{"kty":"RSA","kid":"{kid}","n":"{n}","e":"AQAB"{extra}}}"#)
    }

    fn ec_jwk(kid: &str, crv: &str, extra: &str) -> String {
        let x = URL_SAFE_NO_PAD.encode([1u8; 32]);
        format!(r#"{{"kty":"EC","kid":"{kid}","crv":"{crv}","x":"{x}","y":"{x}"{extra}}}"#)
    }

    fn parse(keys: &[String]) -> KeySet {
        KeySet::parse(format!(r#"{{"keys":[{}]}}"#, keys.join(",")).as_bytes()).unwrap()
    }

    #[test]
    fn the_algorithm_comes_from_the_key() {
        let set = parse(&[
            rsa_jwk("rsa", 2048, ""),
            rsa_jwk("rsa-ps", 2048, r#","alg":"PS256","use":"sig""#),
            ec_jwk("p256", "P-256", ""),
            ec_jwk("p384", "P-384", r#","alg":"ES384""#),
            format!(
                r#"{{"kty":"OKP","kid":"ed","crv":"Ed25519","x":"{}"}}"#,
                URL_SAFE_NO_PAD.encode([2u8; 32])
            ),
        ]);
        let alg = |kid| set.get(kid).map(|k| k.algorithm);
        assert_eq!(alg("rsa"), Some(Algorithm::RS256));
        assert_eq!(alg("rsa-ps"), Some(Algorithm::PS256));
        assert_eq!(alg("p256"), Some(Algorithm::ES256));
        assert_eq!(alg("p384"), Some(Algorithm::ES384));
        assert_eq!(alg("ed"), Some(Algorithm::EdDSA));
        assert_eq!(set.len(), 5);
    }

    #[test]
    fn unusable_keys_are_left_out() {
        let set = parse(&[
            // Symmetric key: a token signed with a published HMAC secret proves nothing.
            r#"{"kty":"oct","kid":"oct","k":"c2VjcmV0","alg":"HS256"}"#.to_owned(),
            rsa_jwk("small", 1024, ""),
            rsa_jwk("enc", 2048, r#","use":"enc""#),
            rsa_jwk("ops", 2048, r#","key_ops":["encrypt"]"#),
            rsa_jwk("mismatch", 2048, r#","alg":"ES256""#),
            ec_jwk("curve-mismatch", "P-384", r#","alg":"ES256""#),
            r#"{"kty":"RSA","n":"AQAB","e":"AQAB"}"#.to_owned(),
            r#"{"kty":"unknown","kid":"u"}"#.to_owned(),
            r#""not an object""#.to_owned(),
            rsa_jwk("dup", 2048, ""),
            ec_jwk("dup", "P-256", ""),
            rsa_jwk("good", 2048, ""),
        ]);
        assert_eq!(set.len(), 1, "{set:?}");
        assert!(set.get("good").is_some());
    }

    #[test]
    fn a_document_without_keys_is_an_error() {
        for bad in [&b""[..], b"[]", b"{}", b"{\"keys\":{}}", b"<html>"] {
            assert!(KeySet::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(KeySet::parse(b"{\"keys\":[]}").unwrap().len(), 0);
    }
}
