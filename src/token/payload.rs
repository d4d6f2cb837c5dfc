//! The claim rules of shape and type: every claim this crate issues present exactly once, with
//! the type it is written with (strings for `iss`, `sub`, `usefor`, `jti`; integers that fit an
//! `i64` for `iat`, `exp`, `exi` and the optional `nbf`; a string for the optional `scope`), no
//! `aud`, and at most [`MAX_UNKNOWN_CLAIMS`] other members (an application's custom claims),
//! each once. `verify.rs` checks the values.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};

/// The most members of a payload this crate does not know (and ignores, RFC 7519 §4) that are
/// tolerated; their names are remembered only to refuse duplicates among them.
const MAX_UNKNOWN_CLAIMS: usize = 16;

/// The claims of a payload, read but not yet checked. The strings borrow from the payload
/// unless they hold escapes. The derived implementation refuses a missing claim, a claim given
/// twice (after unescaping its name) and a claim of the wrong type.
#[derive(Deserialize)]
pub(super) struct Payload<'a> {
    #[serde(borrow)]
    pub(super) iss: Cow<'a, str>,
    #[serde(borrow)]
    pub(super) sub: Cow<'a, str>,
    /// A string, read by [`TokenUse::parse`](super::TokenUse::parse): a derived enum would also
    /// take `{"access":null}`.
    #[serde(borrow)]
    pub(super) usefor: Cow<'a, str>,
    pub(super) iat: i64,
    pub(super) exp: i64,
    pub(super) exi: i64,
    #[serde(default, deserialize_with = "present")]
    pub(super) nbf: Option<i64>,
    #[serde(borrow)]
    pub(super) jti: Cow<'a, str>,
    /// Borrowed: the scopes this crate writes need no escapes (RFC 6749 §3.3 leaves out `"`
    /// and `\`), so a `scope` with escapes is refused as invalid claims.
    #[serde(default, borrow, deserialize_with = "present")]
    pub(super) scope: Option<&'a str>,
    /// Flattened, which also keeps serde from reading a JSON array of values as the claims.
    #[serde(flatten)]
    pub(super) unknown: UnknownClaims,
}

/// The members every token of this crate may have; the others are custom claims.
pub(crate) const CLAIM_NAMES: [&str; 9] = [
    "exi", "exp", "iat", "iss", "jti", "nbf", "scope", "sub", "usefor",
];

/// For an optional member: absent is `None` (with `#[serde(default)]`), but present it must
/// have the type, so `null` is refused as any other wrong type is.
pub(super) fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

/// The members of a payload that are not claims this crate reads: no `aud` (this crate issues
/// no audience, so a token that names one was made for somebody else, RFC 7519 §4.1.3), and at
/// most [`MAX_UNKNOWN_CLAIMS`] others, each once, their values not read here. Whether there
/// were any: only then does the verifier copy them out as custom claims.
pub(super) struct UnknownClaims {
    pub(super) any: bool,
}

impl<'de> Deserialize<'de> for UnknownClaims {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(UnknownClaimsVisitor)
    }
}

struct UnknownClaimsVisitor;

impl<'de> Visitor<'de> for UnknownClaimsVisitor {
    type Value = UnknownClaims;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("claims")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UnknownClaims, A::Error> {
        let mut names: Vec<String> = Vec::new();
        while let Some(name) = map.next_key::<String>()? {
            if name == "aud" || names.contains(&name) || names.len() == MAX_UNKNOWN_CLAIMS {
                return Err(de::Error::custom("aud, a duplicate or too many members"));
            }
            names.push(name);
            map.next_value::<IgnoredAny>()?;
        }
        Ok(UnknownClaims {
            any: !names.is_empty(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLAIMS: &str = r#""exi":600,"exp":1700000600,"iat":1700000000,"iss":"datarhei-core","jti":"0b5e3a5c-8e1f-4b4e-9d3a-2f0f7a0c1d2e","sub":"admin","usefor":"access""#;

    fn read(json: &str) -> Option<(String, Option<i64>)> {
        let payload = serde_json::from_str::<Payload<'_>>(json).ok()?;
        Some((payload.sub.into_owned(), payload.nbf))
    }

    fn unknown(n: usize) -> String {
        (0..n).map(|i| format!(r#","x{i}":{i}"#)).collect()
    }

    #[test]
    fn issued_claims_are_read_borrowed_and_escapes_unescaped() {
        let json = format!("{{{CLAIMS}}}");
        let payload: Payload<'_> = serde_json::from_str(&json).unwrap();
        assert!(matches!(payload.sub, Cow::Borrowed("admin")));
        assert_eq!(payload.exp, 1_700_000_600);
        let escaped = json.replace(r#""sub":"admin""#, r#""s\u0075b":"\u0061dmin""#);
        assert_eq!(read(&escaped), Some(("admin".into(), None)));
        let nbf = format!(r#"{{{CLAIMS},"nbf":5,"x":[{{}}],"y":null}}"#);
        assert_eq!(read(&nbf), Some(("admin".into(), Some(5))));
        assert!(read(&format!("{{{CLAIMS}{}}}", unknown(MAX_UNKNOWN_CLAIMS))).is_some());
    }

    /// What serde refuses by itself (duplicates, `null` or an object where a value is expected,
    /// an array for the object), and what the helpers add, checked so that a change shows.
    /// The other wrong types and values are in `tests/security_tokens.rs`.
    #[test]
    fn duplicate_null_and_unexpected_members_are_refused() {
        let mut refused = vec![format!("{{{CLAIMS}{}}}", unknown(MAX_UNKNOWN_CLAIMS + 1))];
        for extra in [
            r#""usefor":"access""#,
            r#""use\u0066or":"refresh""#,
            r#""exp":1700000600"#,
            r#""nbf":1,"nbf":1"#,
            r#""x":1,"\u0078":1"#,
            r#""nbf":null"#,
            r#""aud":null"#,
            r#""\u0061ud":"datarhei-core""#,
        ] {
            refused.push(format!("{{{CLAIMS},{extra}}}"));
            refused.push(format!("{{{extra},{CLAIMS}}}"));
        }
        refused.push(format!(
            "{{{}}}",
            CLAIMS.replace(r#""access""#, r#"{"access":null}"#)
        ));
        let values = r#""datarhei-core","admin","access",1700000000,1700000600,600,null,"jti""#;
        refused.push(format!("[{values}]"));
        for json in &refused {
            assert_eq!(read(json), None, "{json}");
        }
    }
}
