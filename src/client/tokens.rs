//! The access and refresh tokens a client holds, the times read from their payloads, and the
//! `Authorization` value that carries one.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderValue;
use serde::Deserialize;
use zeroize::Zeroizing;

/// Payloads longer than this are not decoded: the times are then unknown, and the token is used
/// until the server refuses it.
const MAX_PAYLOAD_B64_LEN: usize = 4096;

/// How far the two measures of a received token's expiry (its lifetime counted from its receipt
/// by the client's clock, and its `exp` read by the client's clock) may differ and still be
/// taken to agree: `iat` counts whole seconds, and the answer takes time to arrive. Past this,
/// the clocks disagree, and only the client's own measure counts.
const CLOCK_AGREEMENT_MS: i64 = 2_000;

/// The access and refresh tokens of a session.
///
/// Get them from [`JwtClient::tokens`](super::JwtClient::tokens) to save a session, and give them
/// to [`JwtClientBuilder::tokens`](super::JwtClientBuilder::tokens) to resume it without a login.
///
/// Its `Debug` output shows when the tokens expire, never the tokens:
///
/// ```
/// use tower_jwt_login::client::Tokens;
///
/// let tokens = Tokens::new("header.payload.signature", "another.secret.token");
/// assert!(!format!("{tokens:?}").contains("secret"));
/// assert_eq!(tokens.access_token(), "header.payload.signature");
/// ```
#[derive(Clone)]
pub struct Tokens {
    access: Token,
    refresh: Token,
}

impl Tokens {
    /// Tokens as issued by the login route. Either may be empty: an empty access token is
    /// refreshed before the first request, an empty refresh token means a login is needed when
    /// the access token expires.
    ///
    /// When they were received is unknown (they were saved), so they are taken to expire at
    /// their `exp`, by this machine's clock.
    pub fn new(access_token: impl Into<String>, refresh_token: impl Into<String>) -> Self {
        Self {
            access: Token::new(access_token.into(), None),
            refresh: Token::new(refresh_token.into(), None),
        }
    }

    /// Tokens just received from the login route at `received_ms`: their lifetimes count from
    /// then.
    pub(crate) fn received(access: String, refresh: String, received_ms: i64) -> Self {
        Self {
            access: Token::new(access, Some(received_ms)),
            refresh: Token::new(refresh, Some(received_ms)),
        }
    }

    /// The access token, sent as `Authorization: Bearer <access token>`.
    #[must_use]
    pub fn access_token(&self) -> &str {
        &self.access.value
    }

    /// The refresh token, sent to the refresh route for a new access token.
    #[must_use]
    pub fn refresh_token(&self) -> &str {
        &self.refresh.value
    }

    /// When the access token expires, read from its `exp` claim (unverified: the client has no
    /// key); `None` when the token has no readable `exp`.
    #[must_use]
    pub fn access_expires_at(&self) -> Option<SystemTime> {
        self.access.times.expires_at()
    }

    /// When the refresh token expires, read from its `exp` claim (unverified); `None` when the
    /// token has no readable `exp`.
    #[must_use]
    pub fn refresh_expires_at(&self) -> Option<SystemTime> {
        self.refresh.times.expires_at()
    }

    pub(crate) const fn access(&self) -> &Token {
        &self.access
    }

    pub(crate) const fn refresh(&self) -> &Token {
        &self.refresh
    }

    /// These tokens with a new access token, and a new refresh token if the server sent one,
    /// received at `received_ms` (`None` for a token set by hand).
    pub(crate) fn renewed(
        &self,
        access: String,
        refresh: Option<String>,
        received_ms: Option<i64>,
    ) -> Self {
        Self {
            access: Token::new(access, received_ms),
            refresh: refresh.map_or_else(
                || self.refresh.clone(),
                |refresh| Token::new(refresh, received_ms),
            ),
        }
    }
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens")
            .field("access_token", &"[redacted]")
            .field("access_expires_at", &self.access_expires_at())
            .field("refresh_token", &"[redacted]")
            .field("refresh_expires_at", &self.refresh_expires_at())
            .finish()
    }
}

/// One token, the times read from it, and when the client received it.
#[derive(Clone)]
pub(crate) struct Token {
    value: Zeroizing<String>,
    times: Times,
    /// When, by the client's clock, it came from the server; `None` for a saved token or one set
    /// by hand.
    received_ms: Option<i64>,
}

impl Token {
    fn new(value: String, received_ms: Option<i64>) -> Self {
        let times = Times::read(&value);
        Self {
            value: Zeroizing::new(value),
            times,
            received_ms,
        }
    }

    pub(crate) fn value(&self) -> &str {
        &self.value
    }

    pub(crate) const fn times(&self) -> Times {
        self.times
    }

    /// When the token expires by the client's clock, in milliseconds since the Unix epoch;
    /// `None` when nothing tells.
    ///
    /// A received token lives for its lifetime (`exi`, else `exp - iat`) counted from when it
    /// arrived, whatever the two clocks say. When its `exp`, read by the client's clock, agrees
    /// with that within [`CLOCK_AGREEMENT_MS`], the clocks agree and the earlier of the two
    /// counts (the server checks `exp`, `iat` only counts whole seconds). A saved token, or one
    /// without a lifetime, expires at its `exp`.
    pub(crate) fn expires_ms(&self) -> Option<i64> {
        let measured = self
            .received_ms
            .zip(self.times.lifetime_ms)
            .map(|(received, lifetime)| received.saturating_add(lifetime));
        match (measured, self.times.exp_ms) {
            (Some(measured), Some(exp)) if measured.abs_diff(exp) <= CLOCK_AGREEMENT_MS as u64 => {
                Some(measured.min(exp))
            }
            (Some(measured), _) => Some(measured),
            (None, exp) => exp,
        }
    }

    /// Whether the token is worth presenting at `now_ms`: it is not empty and, as far as the
    /// client can tell ([`expires_ms`](Self::expires_ms)), has not expired.
    pub(crate) fn is_alive(&self, now_ms: i64) -> bool {
        !self.value.is_empty() && self.expires_ms().is_none_or(|expires| now_ms < expires)
    }
}

/// The times in a token's payload, in milliseconds since the Unix epoch; only for scheduling.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Times {
    /// `exp`.
    pub(crate) exp_ms: Option<i64>,
    /// `exi` (datarhei's "seconds until it expires"), or `exp - iat`: how long the token was
    /// issued for, whatever the server's clock said.
    pub(crate) lifetime_ms: Option<i64>,
}

#[derive(Deserialize)]
struct Payload {
    exp: Option<f64>,
    iat: Option<f64>,
    exi: Option<f64>,
}

impl Times {
    /// Reads `exp`, `iat` and `exi` from a compact JWS payload without verifying anything.
    /// Anything unreadable gives unknown times, never an error.
    pub(crate) fn read(token: &str) -> Self {
        let mut segments = token.split('.');
        let (Some(_header), Some(payload), Some(_signature), None) = (
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
        ) else {
            return Self::default();
        };
        if payload.len() > MAX_PAYLOAD_B64_LEN {
            return Self::default();
        }
        let mut json = vec![0; payload.len()];
        let Ok(len) = base64::Engine::decode_slice(&crate::token::BASE64URL, payload, &mut json)
        else {
            return Self::default();
        };
        json.truncate(len);
        let Ok(payload) = serde_json::from_slice::<Payload>(&json) else {
            return Self::default();
        };
        let exp_ms = payload.exp.and_then(seconds_to_ms);
        let exi_ms = payload.exi.and_then(seconds_to_ms).filter(|&exi| exi > 0);
        let lifetime_ms = exi_ms.or_else(|| match (exp_ms, payload.iat.and_then(seconds_to_ms)) {
            (Some(exp), Some(iat)) if exp > iat => Some(exp - iat),
            _ => None,
        });
        Self {
            exp_ms,
            lifetime_ms,
        }
    }

    fn expires_at(self) -> Option<SystemTime> {
        let exp = u64::try_from(self.exp_ms?).ok()?;
        UNIX_EPOCH.checked_add(Duration::from_millis(exp))
    }
}

/// Seconds (a JWT NumericDate, possibly fractional) to milliseconds, if finite and in range.
#[allow(clippy::cast_possible_truncation)] // the range is checked first
fn seconds_to_ms(seconds: f64) -> Option<i64> {
    let ms = (seconds * 1000.0).round();
    (ms.is_finite() && ms.abs() < 9.0e15).then_some(ms as i64)
}

/// `Bearer <token>` as a sensitive header value, if the token can be one.
pub(crate) fn bearer(token: &str) -> Option<HeaderValue> {
    if token.is_empty() {
        return None;
    }
    let mut value = HeaderValue::try_from(format!("Bearer {token}")).ok()?;
    value.set_sensitive(true);
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn token(payload: &str) -> String {
        format!(
            "{}.{}.c2lnbmF0dXJl",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(payload)
        )
    }

    #[test]
    fn times_are_read_from_the_payload_without_verification() {
        struct Case {
            token: String,
            exp_ms: Option<i64>,
            lifetime_ms: Option<i64>,
        }
        let cases = [
            Case {
                token: token(r#"{"exp":1700000600,"iat":1700000000,"exi":600}"#),
                exp_ms: Some(1_700_000_600_000),
                lifetime_ms: Some(600_000),
            },
            Case {
                token: token(r#"{"exp":1700000600.5,"exi":30}"#),
                exp_ms: Some(1_700_000_600_500),
                lifetime_ms: Some(30_000),
            },
            Case {
                token: token(r#"{"sub":"admin"}"#),
                exp_ms: None,
                lifetime_ms: None,
            },
            Case {
                token: token(r#"{"exp":"tomorrow"}"#),
                exp_ms: None,
                lifetime_ms: None,
            },
            Case {
                token: token(r#"{"exp":1e300}"#),
                exp_ms: None,
                lifetime_ms: None,
            },
            Case {
                token: "not a jwt".to_owned(),
                exp_ms: None,
                lifetime_ms: None,
            },
            Case {
                token: "a.!!!.c".to_owned(),
                exp_ms: None,
                lifetime_ms: None,
            },
            Case {
                token: format!("{}.extra", token(r#"{"exp":1}"#)),
                exp_ms: None,
                lifetime_ms: None,
            },
        ];
        for case in cases {
            let times = Times::read(&case.token);
            assert_eq!(times.exp_ms, case.exp_ms, "{}", case.token);
            assert_eq!(times.lifetime_ms, case.lifetime_ms, "{}", case.token);
        }
    }

    #[test]
    fn a_saved_token_is_alive_until_its_exp() {
        let token = Token::new(token(r#"{"exp":100,"exi":600}"#), None);
        assert!(token.is_alive(99_999));
        assert!(!token.is_alive(100_000));
        assert!(Token::new("opaque".to_owned(), None).is_alive(i64::MAX));
        assert!(!Token::new(String::new(), None).is_alive(0));
    }

    #[test]
    fn a_received_token_lives_its_lifetime_from_its_receipt_whatever_the_clocks_say() {
        struct Case {
            what: &'static str,
            payload: &'static str,
            received_ms: i64,
            expires_ms: Option<i64>,
        }
        let cases = [
            Case {
                what: "clocks agree: the earlier of the two",
                payload: r#"{"iat":1000,"exp":1600,"exi":600}"#,
                received_ms: 1_000_400,
                expires_ms: Some(1_600_000),
            },
            Case {
                what: "client 10 min ahead: the token looks expired on arrival",
                payload: r#"{"iat":1000,"exp":1600,"exi":600}"#,
                received_ms: 1_600_000,
                expires_ms: Some(2_200_000),
            },
            Case {
                what: "client 10 min behind",
                payload: r#"{"iat":1000,"exp":1600,"exi":600}"#,
                received_ms: 400_000,
                expires_ms: Some(1_000_000),
            },
            Case {
                what: "no exi: exp - iat",
                payload: r#"{"iat":1000,"exp":1600}"#,
                received_ms: 5_000_000,
                expires_ms: Some(5_600_000),
            },
            Case {
                what: "exp alone",
                payload: r#"{"exp":1600}"#,
                received_ms: 5_000_000,
                expires_ms: Some(1_600_000),
            },
            Case {
                what: "exi alone",
                payload: r#"{"exi":30}"#,
                received_ms: 5_000_000,
                expires_ms: Some(5_030_000),
            },
        ];
        for case in cases {
            let token = Token::new(token(case.payload), Some(case.received_ms));
            assert_eq!(token.expires_ms(), case.expires_ms, "{}", case.what);
        }
    }

    #[test]
    fn debug_shows_expiry_but_not_the_tokens() {
        let tokens = Tokens::new(token(r#"{"exp":100}"#), "refresh-secret");
        let debug = format!("{tokens:?}");
        assert!(!debug.contains(tokens.access_token()), "{debug}");
        assert!(!debug.contains("refresh-secret"), "{debug}");
        assert!(debug.contains("[redacted]"));
        assert_eq!(
            tokens.access_expires_at(),
            Some(UNIX_EPOCH + Duration::from_secs(100))
        );
        assert_eq!(tokens.refresh_expires_at(), None);
    }

    #[test]
    fn the_bearer_is_sensitive_and_refuses_bad_tokens() {
        let value = bearer("abc.def.ghi").unwrap();
        assert!(value.is_sensitive());
        assert_eq!(value, "Bearer abc.def.ghi");
        assert!(bearer("").is_none());
        assert!(bearer("a\nb").is_none());
    }
}
