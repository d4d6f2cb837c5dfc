//! A request kept to be sent again, with a new token, after the server refused its token.

use http::header::AUTHORIZATION;
use http::{HeaderValue, Request};

use super::body::ClientBody;

/// A copy of a request taken before it was sent, to send it again after a `401`.
pub(crate) struct Replay<B> {
    parts: http::request::Parts,
    body: B,
}

impl<B: ClientBody> Replay<B> {
    /// `None` when the body cannot be sent twice.
    pub(crate) fn capture(request: &Request<B>) -> Option<Self> {
        let body = request.body().try_replay()?;
        let (mut parts, ()) = Request::new(()).into_parts();
        parts.method = request.method().clone();
        parts.uri = request.uri().clone();
        parts.version = request.version();
        parts.headers = request.headers().clone();
        parts.extensions = request.extensions().clone();
        Some(Self { parts, body })
    }

    /// The request again, with `bearer` in place of the refused token.
    pub(crate) fn into_request(self, bearer: HeaderValue) -> Request<B> {
        let mut request = Request::from_parts(self.parts, self.body);
        request.headers_mut().insert(AUTHORIZATION, bearer);
        request
    }
}
