//! `POST /api/login`: a username and password in, an access and a refresh token out; or, with
//! the `jwks` feature, an identity provider's access token as bearer and no body.

use std::net::SocketAddr;
use std::sync::Arc;

use http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, Method, Request};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use serde::Deserialize;
use tracing::Instrument as _;

use super::response::{self, OwnResponse};
use super::{Shared, password, session};
use crate::error::Rejection;
use crate::grant::{Login, LoginSource};
use crate::observe::{self, LoginOutcome};
use crate::peer::peer_addr;
use crate::scope::Scopes;

/// `{"username", "password"}`, with the member names matched regardless of ASCII case, as Go's
/// `encoding/json` matches them for datarhei Core (`{"Username": ..., "PASSWORD": ...}` logs in
/// there). A member given twice, in any case, is refused rather than resolved: which of the two
/// counts is exactly what two parsers disagree on.
struct LoginBody {
    username: String,
    password: String,
}

impl<'de> Deserialize<'de> for LoginBody {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(LoginBodyVisitor)
    }
}

struct LoginBodyVisitor;

impl<'de> serde::de::Visitor<'de> for LoginBodyVisitor {
    type Value = LoginBody;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object with a username and a password")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<LoginBody, A::Error> {
        use serde::de::{Error as _, IgnoredAny};
        let mut username: Option<String> = None;
        let mut password: Option<String> = None;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            let slot = if key.eq_ignore_ascii_case("username") {
                &mut username
            } else if key.eq_ignore_ascii_case("password") {
                &mut password
            } else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            if slot.is_some() {
                return Err(A::Error::custom("a login field is given twice"));
            }
            *slot = Some(map.next_value()?);
        }
        Ok(LoginBody {
            username: username.ok_or_else(|| A::Error::missing_field("username"))?,
            password: password.ok_or_else(|| A::Error::missing_field("password"))?,
        })
    }
}

pub(crate) async fn login<B>(shared: Arc<Shared>, request: Request<B>) -> OwnResponse
where
    B: http_body::Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let client = peer_addr(&request);
    // At debug: a span per attempt is the attacker's to multiply.
    let span = tracing::debug_span!("login", client = client.map(tracing::field::display));
    let response = attempt(&shared, request, client).instrument(span).await;
    let refused = response.extensions().get::<Rejection>().copied();
    observe::login_answered(LoginOutcome::of(refused));
    response
}

async fn attempt<B>(
    shared: &Arc<Shared>,
    request: Request<B>,
    client: Option<SocketAddr>,
) -> OwnResponse
where
    B: http_body::Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    if request.method() != Method::POST {
        return response::method_not_allowed(Method::POST);
    }
    let (parts, body) = request.into_parts();
    let json = is_json(&parts.headers);
    // A bearer token and no JSON body is a login with an external identity provider's token.
    // A non-empty JSON body wins over the bearer token, which is then ignored.
    let has_bearer = parts.headers.contains_key(AUTHORIZATION);
    if has_bearer && json != Some(true) {
        return external_login(shared, &parts.headers, client).await;
    }
    if json == Some(false) {
        return bad(Rejection::UnsupportedMediaType);
    }
    // Refuse a declared oversize body before reading a byte of it.
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > shared.body_limit as u64) {
        return bad(Rejection::BodyTooLarge);
    }
    let body = match Limited::new(body, shared.body_limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) if error.is::<LengthLimitError>() => {
            return bad(Rejection::BodyTooLarge);
        }
        Err(_) => return bad(Rejection::MalformedBody),
    };
    let object = parse_object(&body);
    // An identity provider login: no body, or (as datarhei's Go client sends with an Auth0 token)
    // a JSON object whose `username` and `password` are both empty strings.
    if has_bearer
        && (body.trim_ascii().is_empty() || object.as_ref().is_some_and(LoginBody::is_blank))
    {
        return external_login(shared, &parts.headers, client).await;
    }
    if json.is_none() && !body.is_empty() {
        // No Content-Type at all: a browser can send that cross-site without a preflight, so it
        // is refused like text/plain (login CSRF).
        return bad(Rejection::UnsupportedMediaType);
    }
    let Some(credentials) = object.filter(LoginBody::is_complete) else {
        return bad(Rejection::MalformedBody);
    };
    // The slot first: a login answered `503` for want of one must not count as an attempt.
    let slot = match shared
        .passwords
        .acquire(shared, &credentials.username)
        .await
    {
        Ok(slot) => slot,
        Err(response) => return response,
    };
    let throttle_keys = match session::admit(shared, &parts, &credentials.username).await {
        Ok(keys) => keys,
        Err(response) => return response,
    };
    let valid = password::check(
        shared,
        slot,
        credentials.username.clone(),
        credentials.password,
    )
    .await;
    if !valid {
        return failed(&credentials.username);
    }
    if let Err(response) = session::forgive(shared, throttle_keys).await {
        return response;
    }
    let no_scopes = Scopes::default();
    let login = Login {
        username: &credentials.username,
        source: LoginSource::Password,
        scopes: shared
            .users
            .scopes(&credentials.username)
            .unwrap_or(&no_scopes),
    };
    let tokens = match session::login_tokens(shared, &login).await {
        Ok(tokens) => tokens,
        Err(response) => return response,
    };
    // At info: only a right password gets here, so the username is a configured one.
    tracing::info!(
        outcome = LoginOutcome::Success.as_str(),
        username = %credentials.username,
        client = client.map(tracing::field::display),
        "login succeeded"
    );
    response::tokens(&tokens)
}

/// A login with an identity provider's access token. Without a configured tenant (or the `jwks`
/// feature), whatever the token is (even one of ours), it mints nothing.
async fn external_login(
    shared: &Shared,
    headers: &HeaderMap,
    client: Option<SocketAddr>,
) -> OwnResponse {
    #[cfg(feature = "jwks")]
    {
        use crate::idp::IdpError;
        let token = match super::bearer::bearer(headers) {
            Ok(token) => token,
            Err(rejection) => return shared.unauthorized(rejection),
        };
        match shared.idp.login(token).await {
            Ok(idp) => {
                let login = Login {
                    username: &idp.subject,
                    source: LoginSource::IdentityProvider {
                        issuer: &idp.issuer,
                    },
                    scopes: &idp.scopes,
                };
                let subject = &idp.subject;
                // With rotation on, the refresh token starts a family in the store.
                let tokens = match session::login_tokens(shared, &login).await {
                    Ok(tokens) => tokens,
                    Err(response) => return response,
                };
                tracing::info!(
                    outcome = LoginOutcome::Success.as_str(),
                    %subject,
                    client = client.map(tracing::field::display),
                    "login with an identity provider token succeeded"
                );
                response::tokens(&tokens)
            }
            Err(IdpError::Rejected(rejection)) => shared.unauthorized(rejection),
            Err(IdpError::Unavailable { retry_after }) => {
                // At debug: the token, whoever sent it, names the tenant.
                tracing::debug!(
                    outcome = LoginOutcome::IdpUnavailable.as_str(),
                    reason = Rejection::IdentityProviderUnavailable.code(),
                    "login refused"
                );
                response::retry_later(
                    Rejection::IdentityProviderUnavailable,
                    retry_after.as_secs(),
                )
            }
        }
    }
    #[cfg(not(feature = "jwks"))]
    {
        let _ = (shared, headers, client);
        tracing::debug!(
            outcome = LoginOutcome::InvalidCredentials.as_str(),
            "login failed: a bearer token, and no identity provider"
        );
        Rejection::InvalidCredentials.response()
    }
}

/// `Some(true)` for `application/json` (any parameters), `Some(false)` for another type, `None`
/// when there is no `Content-Type`.
fn is_json(headers: &HeaderMap) -> Option<bool> {
    let value = headers.get(CONTENT_TYPE)?;
    let essence = value
        .to_str()
        .ok()
        .and_then(|v| v.split(';').next())
        .map(str::trim);
    Some(essence.is_some_and(|e| e.eq_ignore_ascii_case("application/json")))
}

/// The body as a JSON object with string `username` and `password` in any ASCII case (other
/// members are ignored; a field given twice, in any case, is refused), whether or not they are
/// empty.
fn parse_object(body: &[u8]) -> Option<LoginBody> {
    // serde would also read `["name", "password"]` into the struct; only an object is a login.
    if body.trim_ascii_start().first() != Some(&b'{') {
        return None;
    }
    serde_json::from_slice(body).ok()
}

impl LoginBody {
    /// Both fields filled in: a password login.
    fn is_complete(&self) -> bool {
        !self.username.is_empty() && !self.password.is_empty()
    }

    /// Both fields empty: no credentials at all.
    fn is_blank(&self) -> bool {
        self.username.is_empty() && self.password.is_empty()
    }
}

/// A request to the login route that is not a login: wrong method, media type or body.
fn bad(rejection: Rejection) -> OwnResponse {
    // At debug: anybody can send these, as often as they like.
    tracing::debug!(
        outcome = LoginOutcome::Malformed.as_str(),
        reason = rejection.code(),
        "login refused"
    );
    rejection.response()
}

/// A wrong username or password.
fn failed(username: &str) -> OwnResponse {
    // At debug, and bounded: the username is whatever the client sent (up to the body limit),
    // and every failure is the attacker's to repeat. `?` escapes control characters.
    tracing::debug!(
        outcome = LoginOutcome::InvalidCredentials.as_str(),
        username = ?observe::untrusted(username),
        "login failed"
    );
    Rejection::InvalidCredentials.response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_objects_with_both_strings_are_credentials() {
        let ok = parse_object(br#" {"username":"a","password":"b","extra":{"x":[1]}}"#)
            .filter(LoginBody::is_complete)
            .unwrap();
        assert_eq!((ok.username.as_str(), ok.password.as_str()), ("a", "b"));
        for body in [
            &b""[..],
            b"null",
            b"[\"a\",\"b\"]",
            b"{}",
            br#"{"username":"a"}"#,
            br#"{"username":"","password":"b"}"#,
            br#"{"username":"a","password":""}"#,
            br#"{"username":1,"password":"b"}"#,
            br#"{"username":"a","password":null}"#,
            br#"{"username":"a","username":"c","password":"b"}"#,
            b"username=a&password=b",
            br#"{"username":"a","password":"b"} trailing"#,
        ] {
            assert!(
                parse_object(body).filter(LoginBody::is_complete).is_none(),
                "{body:?}"
            );
        }
        // Field names in any case, as Go's encoding/json reads them; twice in any case refused.
        let ok = parse_object(br#"{"Username":"a","PASSWORD":"b"}"#).unwrap();
        assert_eq!((ok.username.as_str(), ok.password.as_str()), ("a", "b"));
        for body in [
            &br#"{"username":"a","Username":"c","password":"b"}"#[..],
            br#"{"username":"a","password":"b","passworD":"b"}"#,
            br#"{"USERNAME":"a","username":"a","password":"b"}"#,
        ] {
            assert!(parse_object(body).is_none(), "{body:?}");
        }
        // What datarhei's Go client sends with an Auth0 token: blank, not malformed.
        let blank = parse_object(b"{\"username\":\"\",\"password\":\"\"}\n").unwrap();
        assert!(blank.is_blank() && !blank.is_complete());
        assert!(!ok.is_blank());
    }
}
