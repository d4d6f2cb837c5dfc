//! The header rules. A header other than the ones this crate writes (compared byte for byte by
//! the key set) is accepted only when it is a JSON object with `alg` exactly `"HS256"`,
//! optionally `typ` `"JWT"` (ASCII case-insensitive) and a `kid`, each once, and nothing else.

use base64::Engine as _;
use serde::Deserialize;

use super::BASE64URL;
use super::payload::present;
use crate::error::Rejection;
use crate::keys::MAX_KID_LEN;

/// The longest encoded header looked at (ours is 36 characters).
const MAX_HEADER_B64_LEN: usize = 256;

/// The members a header may have. The derived implementation refuses the others (`crit`, `jwk`,
/// `jku`, `x5u`, `x5c`, `cty`, `b64`, ...: this crate uses none), duplicates and wrong types.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    alg: String,
    #[serde(default, deserialize_with = "present")]
    typ: Option<String>,
    /// Only ever compared with the configured ids, never used as a path, a URL or a query
    /// (RFC 8725 §3.10).
    #[serde(default, deserialize_with = "present")]
    kid: Option<String>,
}

/// Checks an encoded header that is not byte for byte one of ours, and answers its `kid`.
pub(super) fn check_foreign_header(header: &[u8]) -> Result<Option<String>, Rejection> {
    if header.len() > MAX_HEADER_B64_LEN {
        return Err(Rejection::UnsupportedHeader);
    }
    let mut json = [0u8; MAX_HEADER_B64_LEN / 4 * 3];
    let len = BASE64URL
        .decode_slice(header, &mut json)
        .map_err(|_| Rejection::MalformedToken)?;
    let json = &json[..len];
    // A derived struct also reads a JSON array of its members' values in order: a header is an
    // object (RFC 7515 §4), so anything else is refused first.
    if json.trim_ascii_start().first() != Some(&b'{') {
        return Err(Rejection::UnsupportedHeader);
    }
    let header: Header = serde_json::from_slice(json).map_err(|_| Rejection::UnsupportedHeader)?;
    // The algorithm is pinned (RFC 8725 §3.1); names are case-sensitive (RFC 7515 §4.1.1).
    let accepted = header.alg == "HS256"
        && header.typ.is_none_or(|typ| typ.eq_ignore_ascii_case("JWT"))
        && header
            .kid
            .as_ref()
            .is_none_or(|kid| kid.len() <= MAX_KID_LEN);
    accepted
        .then_some(header.kid)
        .ok_or(Rejection::UnsupportedHeader)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(json: &str) -> Result<Option<String>, Rejection> {
        check_foreign_header(BASE64URL.encode(json).as_bytes())
    }

    #[test]
    fn hs256_with_typ_and_kid_is_accepted() {
        assert_eq!(
            check(" {\"typ\":\"jwt\",\"alg\":\"HS\\u0032\\u0035\\u0036\"}\n"),
            Ok(None)
        );
        let kid = check(r#"{"alg":"HS256","kid":"k1","typ":"JWT"}"#);
        assert_eq!(kid, Ok(Some("k1".to_owned())));
    }

    /// What serde refuses by itself (duplicates, unknown members, `null` where a value is
    /// expected) and what is added to it (an array, a long `kid`), checked so that a change
    /// shows. The other wrong headers are in `tests/security_tokens.rs`.
    #[test]
    fn duplicate_unknown_null_and_array_headers_are_refused() {
        let long_kid = format!(
            r#"{{"alg":"HS256","kid":"{}"}}"#,
            "k".repeat(MAX_KID_LEN + 1)
        );
        for json in [
            r#"{"alg":"none","alg":"HS256"}"#,
            r#"{"alg":"HS256","\u0061lg":"HS256"}"#,
            r#"{"alg":"HS256","kid":"a","kid":"a"}"#,
            r#"{"alg":"HS256","crit":[]}"#,
            r#"{"alg":"HS256","kid":null}"#,
            r#"{"alg":"HS256","typ":null}"#,
            r#" ["HS256",null,"k1"]"#,
            "",
            &long_kid,
        ] {
            assert_eq!(check(json), Err(Rejection::UnsupportedHeader), "{json}");
        }
    }
}
