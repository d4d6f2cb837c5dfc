//! The access and refresh tokens a client holds, and the times read from their payloads.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use zeroize::Zeroizing;

/// Payloads longer than this are not decoded: the times are then unknown, and the token is used
/// until the server refuses it.
const MAX_PAYLOAD_B64_LEN: usize = 4096;

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
    pub fn new(access_token: impl Into<String>, refresh_token: impl Into<String>) -> Self {
        Self {
            access: Token::new(access_token.into()),
            refresh: Token::new(refresh_token.into()),
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

    /// These tokens with a new access token, and a new refresh token if the server sent one.
    pub(crate) fn renewed(&self, access: String, refresh: Option<String>) -> Self {
        Self {
            access: Token::new(access),
            refresh: refresh.map_or_else(|| self.refresh.clone(), Token::new),
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

/// One token and the times read from it.
#[derive(Clone)]
pub(crate) struct Token {
    value: Zeroizing<String>,
    times: Times,
}

impl Token {
    fn new(value: String) -> Self {
        let times = Times::read(&value);
        Self {
            value: Zeroizing::new(value),
            times,
        }
    }

    pub(crate) fn value(&self) -> &str {
        &self.value
    }

    pub(crate) const fn times(&self) -> Times {
        self.times
    }

    /// Whether the token is worth presenting at `now_ms`: it is not empty and, as far as its
    /// payload says, has not expired.
    pub(crate) fn is_alive(&self, now_ms: i64) -> bool {
        !self.value.is_empty() && self.times.exp_ms.is_none_or(|exp| now_ms < exp)
    }
}

/// The times in a token's payload, in milliseconds since the Unix epoch; only for scheduling.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Times {
    /// `exp`.
    pub(crate) exp_ms: Option<i64>,
    /// `exp - iat`, or `exi`: how long the token was issued for.
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
        let lifetime_ms = match (exp_ms, payload.iat.and_then(seconds_to_ms)) {
            (Some(exp), Some(iat)) if exp > iat => Some(exp - iat),
            _ => payload.exi.and_then(seconds_to_ms).filter(|&exi| exi > 0),
        };
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

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
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
    fn a_token_is_alive_until_its_exp() {
        let token = Token::new(token(r#"{"exp":100}"#));
        assert!(token.is_alive(99_999));
        assert!(!token.is_alive(100_000));
        assert!(Token::new("opaque".to_owned()).is_alive(i64::MAX));
        assert!(!Token::new(String::new()).is_alive(0));
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
}
