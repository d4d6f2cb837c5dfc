//! Request bodies the client layer can build (its own login and refresh requests) and replay (a
//! request retried after a `401`).

use std::error::Error as StdError;

use bytes::{Buf, Bytes};
use http_body_util::combinators::{BoxBody, UnsyncBoxBody};
use http_body_util::{BodyExt as _, Either, Full};

/// A request body type the client layer can work with.
///
/// The layer sends requests of its own through the inner service (the login with a JSON body,
/// the refresh with an empty one), so it must be able to make a body from bytes; and it retries
/// a request rejected with `401` only when it could keep a second copy of the body before the
/// first was sent, which [`try_replay`](Self::try_replay) decides per request, at run time.
///
/// | body | replayable |
/// |---|---|
/// | [`Full<Bytes>`] (use `Full::default()` for no body) | always |
/// | [`Either<L, R>`] | when the side it holds is |
/// | [`BoxBody`], [`UnsyncBoxBody`] (streams) | never: a `401` is handed back as is |
///
/// `http_body_util::Empty` is not a `ClientBody`: it cannot carry the login request.
///
/// Implement it for a body of your own that can tell whether it can be sent twice:
///
/// ```
/// use bytes::Bytes;
/// use http_body_util::{Either, Full, StreamBody};
/// use tower_jwt_login::client::ClientBody;
///
/// // A buffered request is retried after a 401; a streamed one is not.
/// # type Stream = http_body_util::combinators::UnsyncBoxBody<Bytes, std::convert::Infallible>;
/// type Body = Either<Full<Bytes>, Stream>;
/// let buffered = Body::Left(Full::new(Bytes::from_static(b"{}")));
/// assert!(buffered.try_replay().is_some());
/// let own = Body::from_bytes(Bytes::from_static(b"login"));
/// assert!(own.try_replay().is_some());
/// ```
pub trait ClientBody: http_body::Body + Sized {
    /// A body that sends exactly `bytes`.
    fn from_bytes(bytes: Bytes) -> Self;

    /// A second body that sends the same bytes as this one, if it can be made without reading
    /// this one; `None` when this body can be sent only once.
    ///
    /// The layer calls it before the request is sent, never on a body that was polled.
    fn try_replay(&self) -> Option<Self>;
}

impl ClientBody for Full<Bytes> {
    fn from_bytes(bytes: Bytes) -> Self {
        Self::new(bytes)
    }

    fn try_replay(&self) -> Option<Self> {
        Some(self.clone())
    }
}

impl<L, R, Data> ClientBody for Either<L, R>
where
    L: ClientBody + http_body::Body<Data = Data>,
    R: ClientBody + http_body::Body<Data = Data>,
    L::Error: Into<Box<dyn StdError + Send + Sync>>,
    R::Error: Into<Box<dyn StdError + Send + Sync>>,
    Data: Buf,
{
    /// The layer's own requests go on the left.
    fn from_bytes(bytes: Bytes) -> Self {
        Self::Left(L::from_bytes(bytes))
    }

    fn try_replay(&self) -> Option<Self> {
        match self {
            Self::Left(left) => left.try_replay().map(Self::Left),
            Self::Right(right) => right.try_replay().map(Self::Right),
        }
    }
}

impl<E: 'static> ClientBody for UnsyncBoxBody<Bytes, E> {
    fn from_bytes(bytes: Bytes) -> Self {
        Full::new(bytes)
            .map_err(|never| match never {})
            .boxed_unsync()
    }

    /// Always `None`: a boxed body may be a stream, and there is no asking it.
    fn try_replay(&self) -> Option<Self> {
        None
    }
}

impl<E: 'static> ClientBody for BoxBody<Bytes, E> {
    fn from_bytes(bytes: Bytes) -> Self {
        Full::new(bytes).map_err(|never| match never {}).boxed()
    }

    /// Always `None`: a boxed body may be a stream, and there is no asking it.
    fn try_replay(&self) -> Option<Self> {
        None
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use super::*;

    async fn bytes_of<B>(body: B) -> Bytes
    where
        B: http_body::Body,
        B::Error: std::fmt::Debug,
    {
        body.collect().await.unwrap().to_bytes()
    }

    #[tokio::test]
    async fn a_full_body_replays_the_same_bytes() {
        let body = Full::<Bytes>::from_bytes(Bytes::from_static(b"payload"));
        let replay = body.try_replay().expect("a full body replays");
        assert_eq!(bytes_of(body).await, "payload");
        assert_eq!(bytes_of(replay).await, "payload");
    }

    #[tokio::test]
    async fn boxed_bodies_carry_own_requests_but_never_replay() {
        let body = UnsyncBoxBody::<Bytes, Infallible>::from_bytes(Bytes::from_static(b"x"));
        assert!(body.try_replay().is_none());
        assert_eq!(bytes_of(body).await, "x");
        let body = BoxBody::<Bytes, Infallible>::from_bytes(Bytes::from_static(b"y"));
        assert!(body.try_replay().is_none());
        assert_eq!(bytes_of(body).await, "y");
    }

    #[test]
    fn either_replays_only_the_replayable_side() {
        type Body = Either<Full<Bytes>, UnsyncBoxBody<Bytes, Infallible>>;
        assert!(Body::Left(Full::default()).try_replay().is_some());
        let stream = UnsyncBoxBody::from_bytes(Bytes::new());
        assert!(Body::Right(stream).try_replay().is_none());
        assert!(matches!(Body::from_bytes(Bytes::new()), Either::Left(_)));
    }
}
