//! The layer's refusals in gRPC's terms.
//!
//! A gRPC client reads `grpc-status` and `grpc-message`, not an HTTP status and a JSON body: a
//! JSON `401` reaches it as an internal or unknown error, the reason lost. So a refusal of a gRPC
//! request is written as a *trailers-only* response (gRPC over HTTP/2, "Responses"): HTTP `200`,
//! `content-type: application/grpc`, the status and message in the headers, and no body.
//!
//! Only the answers the layer writes itself pass through here; what the inner service answers
//! is never touched.

use std::borrow::Cow;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode, Version};
use percent_encoding::{AsciiSet, CONTROLS, percent_encode};

use super::response::OwnResponse;
use crate::error::Rejection;

const APPLICATION_GRPC: &[u8] = b"application/grpc";
const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");
const GRPC_MESSAGE: HeaderName = HeaderName::from_static("grpc-message");

/// What `grpc-message` percent-encodes: every byte outside `0x20..=0x7E`, and `%` itself.
/// (`percent_encode` always encodes the bytes above `0x7F`; `CONTROLS` adds `0x00..=0x1F` and
/// `0x7F`.)
const MESSAGE_ESCAPES: &AsciiSet = &CONTROLS.add(b'%');

/// Whether the request is gRPC: an HTTP/2 `POST` whose `content-type` is `application/grpc`,
/// or that followed by `+<codec>` or `;<parameters>`. Reads the header in place, without
/// allocating. The content type alone would let an HTTP/1.1 client turn its refusals into
/// `200`s that access logs and rate limiters outside the layer count as successes.
pub(crate) fn is_grpc<B>(request: &Request<B>) -> bool {
    request.version() == Version::HTTP_2
        && request.method() == Method::POST
        && has_grpc_content_type(request.headers())
}

/// [`is_grpc`]'s content type test.
fn has_grpc_content_type(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| is_grpc_content_type(value.as_bytes()))
}

/// [`is_grpc`] for the header's bytes. The media type is compared ignoring ASCII case, as HTTP
/// media types are.
fn is_grpc_content_type(value: &[u8]) -> bool {
    value
        .get(..APPLICATION_GRPC.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(APPLICATION_GRPC))
        && matches!(value.get(APPLICATION_GRPC.len()), None | Some(b'+' | b';'))
}

/// An answer of the layer's own, as a request with `grpc` set must receive it: a refusal (any
/// status but a `2xx`) in its trailers-only gRPC form, anything else unchanged.
pub(crate) fn own_answer(response: OwnResponse, grpc: bool) -> OwnResponse {
    if grpc && !response.status().is_success() {
        refusal(response)
    } else {
        response
    }
}

/// A refusal as a trailers-only gRPC response. The headers the refusal carries
/// (`WWW-Authenticate`, `Retry-After`, `Cache-Control`) and its extensions (the [`Rejection`])
/// stay; the JSON body goes, its sentence moved into `grpc-message`.
fn refusal(response: OwnResponse) -> OwnResponse {
    let (mut parts, _json) = response.into_parts();
    let message = parts.extensions.get::<Rejection>().map_or_else(
        || parts.status.canonical_reason().unwrap_or(""),
        |rejection| rejection.detail(),
    );
    let headers = &mut parts.headers;
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    headers.remove(header::CONTENT_LENGTH);
    headers.insert(GRPC_STATUS, HeaderValue::from_static(code(parts.status)));
    headers.insert(GRPC_MESSAGE, encode_message(message));
    parts.status = StatusCode::OK;
    Response::from_parts(parts, Bytes::new())
}

/// The gRPC status code for an HTTP status the layer refuses with, as the header's digits.
const fn code(status: StatusCode) -> &'static str {
    match status.as_u16() {
        // UNAUTHENTICATED
        401 => "16",
        // PERMISSION_DENIED
        403 => "7",
        // RESOURCE_EXHAUSTED
        429 => "8",
        // UNAVAILABLE
        503 => "14",
        // INVALID_ARGUMENT: the request itself is wrong (body, size, media type).
        400 | 413 | 415 => "3",
        // UNIMPLEMENTED: no such method on this path.
        404 | 405 => "12",
        // UNKNOWN
        _ => "2",
    }
}

/// `grpc-message`: the sentence percent-encoded as gRPC asks. The layer's sentences are static
/// ASCII, so the header usually borrows them without copying.
fn encode_message(message: &'static str) -> HeaderValue {
    match Cow::from(percent_encode(message.as_bytes(), MESSAGE_ESCAPES)) {
        // Only 0x20..=0x7E is left: valid in a header value.
        Cow::Borrowed(plain) => HeaderValue::from_static(plain),
        Cow::Owned(encoded) => {
            HeaderValue::try_from(encoded).expect("percent-encoded text is visible ASCII")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::response;

    #[test]
    fn grpc_content_types_are_told_from_others() {
        let cases: [(&[u8], bool); 11] = [
            (b"application/grpc", true),
            (b"application/grpc+proto", true),
            (b"application/grpc+json", true),
            (b"application/grpc;charset=utf-8", true),
            (b"Application/GRPC", true),
            (b"application/grpc-web", false),
            (b"application/grpcx", false),
            (b"application/grp", false),
            (b"application/json", false),
            (b" application/grpc", false),
            (b"", false),
        ];
        for (content_type, grpc) in cases {
            let mut headers = HeaderMap::new();
            let value = HeaderValue::from_bytes(content_type).unwrap();
            headers.insert(header::CONTENT_TYPE, value);
            assert_eq!(has_grpc_content_type(&headers), grpc, "{content_type:?}");
        }
        assert!(!has_grpc_content_type(&HeaderMap::new()), "no content-type");
        let request = |method: Method, version| {
            let mut request = Request::new(());
            *request.method_mut() = method;
            *request.version_mut() = version;
            let value = HeaderValue::from_static("application/grpc");
            request.headers_mut().insert(header::CONTENT_TYPE, value);
            request
        };
        assert!(is_grpc(&request(Method::POST, Version::HTTP_2)));
        assert!(
            !is_grpc(&request(Method::POST, Version::HTTP_11)),
            "HTTP/1.1"
        );
        assert!(!is_grpc(&request(Method::GET, Version::HTTP_2)), "GET");
    }

    #[test]
    fn http_statuses_map_to_grpc_codes() {
        let cases = [
            (401, "16"),
            (403, "7"),
            (429, "8"),
            (503, "14"),
            (400, "3"),
            (413, "3"),
            (415, "3"),
            (404, "12"),
            (405, "12"),
            (500, "2"),
            (418, "2"),
        ];
        for (status, grpc) in cases {
            assert_eq!(
                code(StatusCode::from_u16(status).unwrap()),
                grpc,
                "{status}"
            );
        }
    }

    #[test]
    fn grpc_message_percent_encodes_outside_visible_ascii_and_percent() {
        assert_eq!(
            encode_message("missing bearer token"),
            "missing bearer token"
        );
        assert_eq!(encode_message("100% sure"), "100%25 sure");
        assert_eq!(encode_message("line\nbreak\x7f"), "line%0Abreak%7F");
        assert_eq!(encode_message("caf\u{e9}"), "caf%C3%A9");
        assert_eq!(encode_message(" ~'\""), " ~'\"");
    }

    #[test]
    fn a_refusal_becomes_trailers_only_and_keeps_its_headers_and_rejection() {
        let challenge = HeaderValue::from_static("Bearer realm=\"test\"");
        let json = response::unauthorized(Rejection::Expired, &challenge);
        let grpc = own_answer(json, true);
        assert_eq!(grpc.status(), StatusCode::OK);
        assert!(grpc.body().is_empty());
        let headers = grpc.headers();
        assert_eq!(headers[header::CONTENT_TYPE], "application/grpc");
        assert_eq!(headers["grpc-status"], "16");
        assert_eq!(headers["grpc-message"], Rejection::Expired.detail());
        assert_eq!(headers[header::WWW_AUTHENTICATE], challenge);
        assert_eq!(
            grpc.extensions().get::<Rejection>(),
            Some(&Rejection::Expired)
        );

        let throttled = own_answer(response::retry_later(Rejection::TooManyAttempts, 7), true);
        assert_eq!(throttled.headers()["grpc-status"], "8");
        assert_eq!(throttled.headers()[header::RETRY_AFTER], "7");
    }

    #[test]
    fn successes_and_plain_http_answers_are_unchanged() {
        let refused = own_answer(Rejection::MissingToken.response(), false);
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(refused.headers()[header::CONTENT_TYPE], "application/json");
        assert!(!refused.body().is_empty());

        let ok = own_answer(response::no_content(), true);
        assert_eq!(ok.status(), StatusCode::NO_CONTENT);
        assert!(!ok.headers().contains_key("grpc-status"));
    }
}
