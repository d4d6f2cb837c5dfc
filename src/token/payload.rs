//! The claim rules of shape and type: every claim this crate issues present exactly once, with
//! the type it is written with (strings for `iss`, `sub`, `usefor`, `jti`; integers that fit an
//! `i64` for `iat`, `exp`, `exi` and the optional `nbf`), no `aud`, and at most
//! [`MAX_UNKNOWN_CLAIMS`] other members, each once. The values are checked by the verifier.

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
    /// This crate issues no audience; a token that names one was made for somebody else
    /// (RFC 7519 §4.1.3).
    #[serde(default, deserialize_with = "refuse")]
    #[allow(dead_code)] // Never holds a value: present, it refuses the payload.
    aud: (),
    #[serde(flatten)]
    #[allow(dead_code)] // Read only to refuse duplicates and too many.
    unknown: UnknownClaims,
}

/// For an optional member: absent is `None` (with `#[serde(default)]`), but present it must
/// have the type, so `null` is refused as any other wrong type is.
pub(super) fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

/// For a member that must not be there at all.
fn refuse<'de, D: Deserializer<'de>>(_: D) -> Result<(), D::Error> {
    Err(de::Error::custom("member not accepted"))
}

/// The members of a payload that are not claims this crate knows: at most
/// [`MAX_UNKNOWN_CLAIMS`], each once, their values ignored.
struct UnknownClaims;

impl<'de> Deserialize<'de> for UnknownClaims {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(UnknownClaims)
    }
}

impl<'de> Visitor<'de> for UnknownClaims {
    type Value = Self;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("claims")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self, A::Error> {
        let mut names: Vec<String> = Vec::new();
        while let Some(name) = map.next_key::<String>()? {
            if names.contains(&name) || names.len() == MAX_UNKNOWN_CLAIMS {
                return Err(de::Error::custom("duplicate or too many members"));
            }
            names.push(name);
            map.next_value::<IgnoredAny>()?;
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLAIMS: &str = r#""exi":600,"exp":1700000600,"iat":1700000000,"iss":"datarhei-core","jti":"0b5e3a5c-8e1f-4b4e-9d3a-2f0f7a0c1d2e","sub":"admin","usefor":"access""#;

    fn read(json: &str) -> Option<String> {
        let payload = serde_json::from_str::<Payload<'_>>(json).ok()?;
        Some(format!(
            "{} {} {} {} {} {} {:?} {}",
            payload.iss,
            payload.sub,
            payload.usefor,
            payload.iat,
            payload.exp,
            payload.exi,
            payload.nbf,
            payload.jti
        ))
    }

    #[test]
    fn issued_claims_are_read_borrowed_and_escapes_unescaped() {
        let json = format!("{{{CLAIMS}}}");
        let payload: Payload<'_> = serde_json::from_str(&json).unwrap();
        assert!(matches!(payload.sub, Cow::Borrowed("admin")));
        let expected = "datarhei-core admin access 1700000000 1700000600 600 None \
                        0b5e3a5c-8e1f-4b4e-9d3a-2f0f7a0c1d2e";
        assert_eq!(read(&json).as_deref(), Some(expected));
        let escaped = json.replace(r#""sub":"admin""#, r#""s\u0075b":"\u0061dmin""#);
        assert_eq!(read(&escaped).as_deref(), Some(expected));
        let with_nbf = format!(r#"{{{CLAIMS},"nbf":5,"x":[{{}}],"y":null}}"#);
        assert!(read(&with_nbf).unwrap().contains("Some(5)"));
        let unknown: String = (0..MAX_UNKNOWN_CLAIMS)
            .map(|i| format!(r#","x{i}":{i}"#))
            .collect();
        assert!(read(&format!("{{{CLAIMS}{unknown}}}")).is_some());
    }

    /// Each refusal here is the derived implementation's (or one of the helpers'), checked so
    /// that a change of serde's behaviour shows.
    #[test]
    fn missing_duplicate_mistyped_and_unexpected_members_are_refused() {
        let unknown: String = (0..=MAX_UNKNOWN_CLAIMS)
            .map(|i| format!(r#","x{i}":{i}"#))
            .collect();
        let mut refused = vec![format!("{{{CLAIMS}{unknown}}}")];
        for extra in [
            r#""usefor":"access""#,
            r#""use\u0066or":"refresh""#,
            r#""sub":"admin""#,
            r#""exp":1700000600"#,
            r#""nbf":1,"nbf":1"#,
            r#""x":1,"x":2"#,
            r#""x":1,"\u0078":1"#,
            r#""nbf":null"#,
            r#""nbf":"1""#,
            r#""nbf":1.0"#,
            r#""aud":"datarhei-core""#,
            r#""aud":null"#,
        ] {
            refused.push(format!("{{{CLAIMS},{extra}}}"));
            refused.push(format!("{{{extra},{CLAIMS}}}"));
        }
        for (claim, value) in [
            ("exp", "1e300"),
            ("exp", "1700000600.0"),
            ("exp", "9223372036854775808"),
            ("exp", "18446744073709551616"),
            ("exp", r#""1700000600""#),
            ("exp", "null"),
            ("iat", "true"),
            ("exi", "[600]"),
            ("usefor", r#"{"access":null}"#),
            ("usefor", "null"),
            ("sub", "1"),
            ("iss", r#"["datarhei-core"]"#),
            ("jti", "{}"),
        ] {
            let start = CLAIMS.find(&format!(r#""{claim}":"#)).unwrap() + claim.len() + 3;
            let end = CLAIMS[start..]
                .find(",\"")
                .map_or(CLAIMS.len(), |end| start + end);
            refused.push(format!("{{{}{value}{}}}", &CLAIMS[..start], &CLAIMS[end..]));
            let without = format!("{}{}", &CLAIMS[..start - claim.len() - 3], &CLAIMS[end..]);
            refused.push(format!(
                "{{{}}}",
                without.trim_matches(',').replace(",,", ",")
            ));
        }
        refused.push(format!("{{{CLAIMS}}} x"));
        refused.push(format!("[{{{CLAIMS}}}]"));
        // A derived struct without `flatten` would read an array of the values in order.
        let values = r#""datarhei-core","admin","access",1700000000,1700000600,600"#;
        refused.push(format!(r#"[{values},null,"jti"]"#));
        refused.push(format!(r#"[{values},1,"jti",null]"#));
        for json in &refused {
            assert_eq!(read(json), None, "{json}");
        }
    }
}
