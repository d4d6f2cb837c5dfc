//! The responses the layer writes itself: tokens, and datarhei-shaped JSON errors.

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

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: u16,
    message: &'a str,
    details: [&'a str; 1],
}

/// A datarhei-shaped error: `{"code": 401, "message": "Unauthorized", "details": ["..."]}`.
///
/// The details are fixed sentences chosen by the rejection, never anything the client sent.
/// The rejection travels in the response extensions.
pub(crate) fn error(status: StatusCode, rejection: Rejection) -> OwnResponse {
    let body = ErrorBody {
        code: status.as_u16(),
        message: status.canonical_reason().unwrap_or(""),
        details: [rejection.detail()],
    };
    let json = serde_json::to_vec(&body).expect("serialising strings");
    let mut response = Response::new(Bytes::from(json));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, APPLICATION_JSON);
    headers.insert(header::CACHE_CONTROL, NO_STORE);
    response.extensions_mut().insert(rejection);
    response
}

/// A `401` for a token rejection, with the matching `WWW-Authenticate` challenge (RFC 6750 §3).
pub(crate) fn unauthorized(rejection: Rejection, challenge: &HeaderValue) -> OwnResponse {
    let mut response = error(StatusCode::UNAUTHORIZED, rejection);
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, challenge.clone());
    response
}

/// A `429` or `503` with `Retry-After` in whole seconds (at least 1).
pub(crate) fn retry_later(status: StatusCode, rejection: Rejection, seconds: u64) -> OwnResponse {
    let mut response = error(status, rejection);
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
    let mut response = error(StatusCode::METHOD_NOT_ALLOWED, Rejection::MethodNotAllowed);
    response.headers_mut().insert(
        header::ALLOW,
        HeaderValue::from_str(allow.as_str()).expect("a method is a valid header value"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_has_datarhei_shape() {
        let response = error(StatusCode::BAD_REQUEST, Rejection::MalformedBody);
        let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
        assert_eq!(body["code"], 400);
        assert_eq!(body["message"], "Bad Request");
        assert_eq!(body["details"][0], Rejection::MalformedBody.detail());
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        assert_eq!(
            response.extensions().get::<Rejection>(),
            Some(&Rejection::MalformedBody)
        );
    }
}
