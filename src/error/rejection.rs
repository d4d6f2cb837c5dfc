//! Why a request was refused: the reason, its status, and the datarhei-shaped JSON body that
//! says it.

use std::fmt;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};
use serde::Serialize;

/// Why a request was refused.
///
/// The layer puts this into the extensions of every error response it produces, so that an
/// outer layer (logging, metrics) can tell the reasons apart without parsing the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rejection {
    /// No `Authorization` header was sent.
    MissingToken,
    /// The `Authorization` header is not `Bearer <token>`.
    MalformedAuthorization,
    /// More than one `Authorization` header was sent.
    DuplicateAuthorization,
    /// The token is longer than any token this crate issues.
    TokenTooLong,
    /// The token is not three canonical base64url segments with valid JSON.
    MalformedToken,
    /// The JOSE header is not one this crate accepts (algorithm, unknown members, `crit`, ...).
    UnsupportedHeader,
    /// The token names a key (`kid`) that is not configured, or names none where several are.
    UnknownKey,
    /// The signature does not verify with any configured key.
    BadSignature,
    /// The claims are missing, of the wrong type, duplicated, or not allowed (`aud`).
    InvalidClaims,
    /// The token has expired.
    Expired,
    /// The token is not valid yet (`nbf` in the future, or `iat` far in the future).
    NotYetValid,
    /// The issuer is not the configured realm.
    WrongIssuer,
    /// A refresh token was presented where an access token is required, or the reverse.
    WrongTokenUse,
    /// The subject is not a configured user.
    UnknownSubject,
    /// The username or password is wrong.
    InvalidCredentials,
    /// The login body is not a JSON object with non-empty string `username` and `password`.
    MalformedBody,
    /// The login body is not `application/json`.
    UnsupportedMediaType,
    /// The login body is larger than the configured limit.
    BodyTooLarge,
    /// The method is not allowed on this route.
    MethodNotAllowed,
    /// The token names an identity provider whose keys could not be fetched yet (`503`).
    IdentityProviderUnavailable,
    /// Too many failed logins from this client, or for this username from this client: the
    /// login is refused (`429`) without looking at the password.
    TooManyAttempts,
    /// The token has been revoked (logout, or its refresh-token family was revoked).
    Revoked,
    /// A refresh token that had already been rotated was presented again: its whole family is
    /// now revoked.
    RefreshTokenReused,
    /// The store could not answer in time (Redis unreachable or slow, or the in-memory store
    /// full): the route answers `503` rather than skipping the check.
    StoreUnavailable,
    /// Every slot for checking an argon2 password was taken, and none came free within a second:
    /// the login is answered `503` with `Retry-After` without checking the password (see
    /// [`max_concurrent_password_hashes`](crate::JwtLoginBuilder::max_concurrent_password_hashes)).
    PasswordCheckBusy,
    /// The access token is valid but lacks a scope the route requires (`403`, with
    /// `WWW-Authenticate: Bearer error="insufficient_scope"`, RFC 6750 §3.1).
    InsufficientScope,
    /// A token could not be issued: it would be larger than the configured maximum, or the
    /// application's custom claims could not be written (`500`; the reason is logged).
    TokenNotIssued,
}

impl Rejection {
    /// A short, stable code for logs and metrics, such as `"expired"`.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::MissingToken => "missing_token",
            Self::MalformedAuthorization => "malformed_authorization",
            Self::DuplicateAuthorization => "duplicate_authorization",
            Self::TokenTooLong => "token_too_long",
            Self::MalformedToken => "malformed_token",
            Self::UnsupportedHeader => "unsupported_header",
            Self::UnknownKey => "unknown_key",
            Self::BadSignature => "bad_signature",
            Self::InvalidClaims => "invalid_claims",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongTokenUse => "wrong_token_use",
            Self::UnknownSubject => "unknown_subject",
            Self::InvalidCredentials => "invalid_credentials",
            Self::MalformedBody => "malformed_body",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::BodyTooLarge => "body_too_large",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::IdentityProviderUnavailable => "identity_provider_unavailable",
            Self::TooManyAttempts => "too_many_attempts",
            Self::Revoked => "revoked",
            Self::RefreshTokenReused => "refresh_token_reused",
            Self::StoreUnavailable => "store_unavailable",
            Self::PasswordCheckBusy => "password_check_busy",
            Self::InsufficientScope => "insufficient_scope",
            Self::TokenNotIssued => "token_not_issued",
        }
    }

    /// The sentence that goes into the `details` of the JSON error body.
    ///
    /// It never contains anything the client sent.
    #[must_use]
    pub const fn detail(self) -> &'static str {
        match self {
            Self::MissingToken => "missing bearer token",
            Self::MalformedAuthorization => "the Authorization header must be 'Bearer <token>'",
            Self::DuplicateAuthorization => "more than one Authorization header",
            Self::TokenTooLong => "the token is too long",
            Self::MalformedToken => "the token is malformed",
            Self::UnsupportedHeader => "the token header is not accepted",
            Self::UnknownKey => "the token is not signed with a known key",
            Self::BadSignature => "the token signature is invalid",
            Self::InvalidClaims => "the token claims are invalid",
            Self::Expired => "the token has expired",
            Self::NotYetValid => "the token is not valid yet",
            Self::WrongIssuer => "the token issuer is not accepted",
            Self::WrongTokenUse => "the token cannot be used for this request",
            Self::UnknownSubject => "the token subject is not a known user",
            Self::InvalidCredentials => "invalid username or password",
            Self::MalformedBody => {
                "the body must be a JSON object with non-empty string fields 'username' and 'password'"
            }
            Self::UnsupportedMediaType => "the body must be application/json",
            Self::BodyTooLarge => "the body is too large",
            Self::MethodNotAllowed => "method not allowed",
            Self::IdentityProviderUnavailable => {
                "the identity provider's keys are not available yet; retry later"
            }
            Self::TooManyAttempts => "too many failed logins; retry later",
            Self::Revoked => "the token has been revoked",
            Self::RefreshTokenReused => {
                "the refresh token was already used; every token of its login is revoked"
            }
            Self::StoreUnavailable => "the token store is unavailable; retry later",
            Self::PasswordCheckBusy => "the server is busy checking passwords; retry later",
            Self::InsufficientScope => "the token does not grant a scope this route requires",
            Self::TokenNotIssued => "the token could not be issued",
        }
    }

    /// The status the layer answers with: `401` for a missing or refused token and for wrong
    /// credentials; `400`, `405`, `413`, `415` for a login request that is not one; `429` for a
    /// throttled login; `503` when the fault is ours (store, identity provider, busy password
    /// checks), with `Retry-After`; `403` for a valid token without a scope the route requires;
    /// `500` for a token that could not be issued.
    #[must_use]
    pub const fn status(self) -> StatusCode {
        match self {
            Self::MissingToken
            | Self::MalformedAuthorization
            | Self::DuplicateAuthorization
            | Self::TokenTooLong
            | Self::MalformedToken
            | Self::UnsupportedHeader
            | Self::UnknownKey
            | Self::BadSignature
            | Self::InvalidClaims
            | Self::Expired
            | Self::NotYetValid
            | Self::WrongIssuer
            | Self::WrongTokenUse
            | Self::UnknownSubject
            | Self::InvalidCredentials
            | Self::Revoked
            | Self::RefreshTokenReused => StatusCode::UNAUTHORIZED,
            Self::MalformedBody => StatusCode::BAD_REQUEST,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::TooManyAttempts => StatusCode::TOO_MANY_REQUESTS,
            Self::IdentityProviderUnavailable
            | Self::StoreUnavailable
            | Self::PasswordCheckBusy => StatusCode::SERVICE_UNAVAILABLE,
            Self::InsufficientScope => StatusCode::FORBIDDEN,
            Self::TokenNotIssued => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The datarhei-shaped error answer: [`status`](Self::status), and the body
    /// `{"code": 401, "message": "Unauthorized", "details": ["..."]}`.
    ///
    /// The details are the fixed sentence of [`detail`](Self::detail), never anything the
    /// client sent. The rejection travels in the response extensions.
    pub(crate) fn response(self) -> Response<Bytes> {
        let status = self.status();
        let body = ErrorBody {
            code: status.as_u16(),
            message: status.canonical_reason().unwrap_or(""),
            details: [self.detail()],
        };
        let json = serde_json::to_vec(&body).expect("serialising strings");
        let mut response = Response::new(Bytes::from(json));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, APPLICATION_JSON);
        headers.insert(header::CACHE_CONTROL, NO_STORE);
        response.extensions_mut().insert(self);
        response
    }

    /// Whether this rejection concerns a presented bearer token (as opposed to a missing one, or a
    /// login body), which decides the `error="invalid_token"` parameter of `WWW-Authenticate`.
    pub(crate) const fn is_token_error(self) -> bool {
        !matches!(
            self,
            Self::MissingToken
                | Self::InvalidCredentials
                | Self::MalformedBody
                | Self::UnsupportedMediaType
                | Self::BodyTooLarge
                | Self::MethodNotAllowed
                | Self::IdentityProviderUnavailable
                | Self::TooManyAttempts
                | Self::StoreUnavailable
                | Self::PasswordCheckBusy
                | Self::InsufficientScope
                | Self::TokenNotIssued
        )
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.detail())
    }
}

/// A reason to refuse a request, as an error: its `Display` is [`Rejection::detail`].
impl std::error::Error for Rejection {}

const APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");
const NO_STORE: HeaderValue = HeaderValue::from_static("no-store");

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: u16,
    message: &'a str,
    details: [&'a str; 1],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_has_datarhei_shape() {
        let response = Rejection::MalformedBody.response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
        assert_eq!(body["code"], 400);
        assert_eq!(body["message"], "Bad Request");
        assert_eq!(body["details"][0], Rejection::MalformedBody.detail());
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
        assert_eq!(
            response.extensions().get::<Rejection>(),
            Some(&Rejection::MalformedBody)
        );
    }

    #[test]
    fn only_token_and_credential_refusals_are_unauthorized() {
        let statuses = [
            (Rejection::MissingToken, 401),
            (Rejection::Expired, 401),
            (Rejection::InvalidCredentials, 401),
            (Rejection::Revoked, 401),
            (Rejection::RefreshTokenReused, 401),
            (Rejection::MalformedBody, 400),
            (Rejection::MethodNotAllowed, 405),
            (Rejection::BodyTooLarge, 413),
            (Rejection::UnsupportedMediaType, 415),
            (Rejection::TooManyAttempts, 429),
            (Rejection::IdentityProviderUnavailable, 503),
            (Rejection::StoreUnavailable, 503),
            (Rejection::PasswordCheckBusy, 503),
            (Rejection::InsufficientScope, 403),
            (Rejection::TokenNotIssued, 500),
        ];
        for (rejection, status) in statuses {
            assert_eq!(rejection.status().as_u16(), status, "{rejection:?}");
            assert_eq!(rejection.response().status(), rejection.status());
        }
    }

    #[test]
    fn a_rejection_is_an_error_that_says_its_detail() {
        let error: Box<dyn std::error::Error> = Box::new(Rejection::Expired);
        assert_eq!(error.to_string(), Rejection::Expired.detail());
        assert!(error.source().is_none());
    }
}
