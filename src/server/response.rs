//! The responses the layer writes itself: tokens, and the headers some refusals add to
//! [`Rejection::response`].

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};
use serde::Serialize;

use crate::error::Rejection;

const APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");
const NO_STORE: HeaderValue = HeaderValue::from_static("no-store");

/// An answer of our own, before it is wrapped into the service's body type.
pub(crate) type OwnResponse = Response<Bytes>;

/// A `200` with a JSON body that holds tokens: never cached (RFC 6749 §5.1).
pub(crate) fn tokens<T: Serialize>(body: &T) -> OwnResponse {
    let json = serde_json::to_vec(body).expect("serialising strings");
    let mut response = Response::new(Bytes::from(json));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, APPLICATION_JSON);
    headers.insert(header::CACHE_CONTROL, NO_STORE);
    response
}

/// A `401` for a token rejection, with the matching `WWW-Authenticate` challenge (RFC 6750 §3).
pub(crate) fn unauthorized(rejection: Rejection, challenge: &HeaderValue) -> OwnResponse {
    debug_assert_eq!(
        rejection.status(),
        StatusCode::UNAUTHORIZED,
        "{rejection:?}"
    );
    let mut response = rejection.response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, challenge.clone());
    response
}

/// A `403` for a valid token without a scope the route requires, with its
/// `error="insufficient_scope"` challenge (RFC 6750 §3.1).
pub(crate) fn forbidden(challenge: &HeaderValue) -> OwnResponse {
    let mut response = Rejection::InsufficientScope.response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, challenge.clone());
    response
}

/// A `429` or `503` with `Retry-After` in whole seconds (at least 1).
pub(crate) fn retry_later(rejection: Rejection, seconds: u64) -> OwnResponse {
    let mut response = rejection.response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
    response
}

/// A `204` without a body.
pub(crate) fn no_content() -> OwnResponse {
    let mut response = Response::new(Bytes::new());
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, NO_STORE);
    response
}

/// A `405` with the one method the route allows.
pub(crate) fn method_not_allowed(allow: http::Method) -> OwnResponse {
    let mut response = Rejection::MethodNotAllowed.response();
    response.headers_mut().insert(
        header::ALLOW,
        HeaderValue::from_str(allow.as_str()).expect("a method is a valid header value"),
    );
    response
}
