use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::header::AUTHORIZATION;
use http::{HeaderValue, Request, Response, StatusCode};
use pin_project_lite::pin_project;
use tower::util::Oneshot;
use tower_service::Service;

use super::body::ClientBody;
use super::error::{Error, ErrorKind};
use super::replay::Replay;
use super::session::{Session, Snapshot};

type BoxError = Box<dyn StdError + Send + Sync>;

/// The slow paths (renewing the token, retrying after a `401`): boxed, because they are rare and
/// their futures' types are unnameable; never taken by a request whose token is fresh and
/// accepted.
pub(crate) type OwnFuture<T> = Pin<Box<dyn Future<Output = Result<T, Error>> + Send>>;

pin_project! {
    /// The response future of [`JwtClient`](super::JwtClient).
    pub struct ResponseFuture<S: Service<Request<B>>, B> {
        #[pin]
        state: State<S, B>,
        session: Arc<Session>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S: Service<Request<B>>, B> {
        // The inner service's future. `sent` is there when the request carries our token: its
        // generation, and what is needed to send it again when the body can be replayed.
        Inner {
            #[pin]
            future: S::Future,
            sent: Option<Sent<S, B>>,
        },
        // The token is renewed before the request goes out on `pending`'s service, the one that
        // was polled ready; then the request is sent as any other (`Inner`), but not retried
        // after a `401`: one renewal per request.
        Renew {
            renewal: OwnFuture<Arc<Snapshot>>,
            pending: Option<(S, Request<B>)>,
        },
        // A retry after a 401: a renewal, then the request once more.
        Retry { future: OwnFuture<S::Response> },
        // The request could not be sent at all.
        Failed { error: Option<Error> },
    }
}

struct Sent<S, B> {
    generation: u64,
    retry: Option<(S, Replay<B>)>,
}

impl<S: Service<Request<B>>, B> ResponseFuture<S, B> {
    /// A request that goes out untouched.
    pub(crate) const fn plain(future: S::Future, session: Arc<Session>) -> Self {
        Self {
            state: State::Inner { future, sent: None },
            session,
        }
    }

    /// A request sent now on `ready` with `bearer`, the access token of `generation`.
    pub(crate) fn send(
        ready: &mut S,
        request: Request<B>,
        bearer: HeaderValue,
        generation: u64,
        session: Arc<Session>,
    ) -> Self
    where
        S: Clone,
        B: ClientBody,
    {
        Self {
            state: State::send(ready, request, bearer, generation, true),
            session,
        }
    }

    /// A request sent on `ready` once `renewal` has brought a usable token.
    pub(crate) const fn renew(
        renewal: OwnFuture<Arc<Snapshot>>,
        ready: S,
        request: Request<B>,
        session: Arc<Session>,
    ) -> Self {
        Self {
            state: State::Renew {
                renewal,
                pending: Some((ready, request)),
            },
            session,
        }
    }

    pub(crate) const fn failed(error: Error, session: Arc<Session>) -> Self {
        Self {
            state: State::Failed { error: Some(error) },
            session,
        }
    }
}

impl<S: Service<Request<B>>, B> State<S, B> {
    /// Sends `request` with `bearer` on `ready`; when `may_retry`, keeps a copy to send again
    /// after a `401` if the body can be replayed.
    fn send(
        ready: &mut S,
        mut request: Request<B>,
        bearer: HeaderValue,
        generation: u64,
        may_retry: bool,
    ) -> Self
    where
        S: Clone,
        B: ClientBody,
    {
        request.headers_mut().insert(AUTHORIZATION, bearer);
        let retry = may_retry
            .then(|| Replay::capture(&request))
            .flatten()
            .map(|replay| (ready.clone(), replay));
        Self::Inner {
            future: ready.call(request),
            sent: Some(Sent { generation, retry }),
        }
    }
}

impl<S, B, R> Future for ResponseFuture<S, B>
where
    S: Service<Request<B>, Response = Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: ClientBody + Send + 'static,
    R: http_body::Body + Send + 'static,
    R::Data: Send,
    R::Error: Into<BoxError>,
{
    type Output = Result<Response<R>, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let this = self.as_mut().project();
            let next = match this.state.project() {
                StateProj::Inner { future, sent } => {
                    let response = ready!(future.poll(cx)).map_err(Error::unreachable)?;
                    if response.status() != StatusCode::UNAUTHORIZED {
                        return Poll::Ready(Ok(response));
                    }
                    let Some(sent) = sent.take() else {
                        return Poll::Ready(Ok(response));
                    };
                    let Some((spare, replay)) = sent.retry else {
                        // The body is gone, or this request already had its renewal: the caller
                        // gets the 401, the next request renews.
                        this.session.mark_refused(sent.generation);
                        return Poll::Ready(Ok(response));
                    };
                    let session = Arc::clone(this.session);
                    State::Retry {
                        future: Box::pin(retry(session, spare, replay, sent.generation)),
                    }
                }
                StateProj::Renew { renewal, pending } => {
                    let snapshot = ready!(renewal.as_mut().poll(cx))?;
                    let (mut ready, request) = pending
                        .take()
                        .expect("ResponseFuture polled after completion");
                    let bearer = snapshot
                        .bearer()
                        .ok_or_else(|| Error::new(ErrorKind::UnexpectedResponse))?;
                    State::send(
                        &mut ready,
                        request,
                        bearer.clone(),
                        snapshot.generation,
                        false,
                    )
                }
                StateProj::Retry { future } => return future.as_mut().poll(cx),
                StateProj::Failed { error } => {
                    return Poll::Ready(Err(error
                        .take()
                        .expect("ResponseFuture polled after completion")));
                }
            };
            self.as_mut().project().state.set(next);
        }
    }
}

/// After the server refused the token of `generation`: renew it (once for all requests that met
/// it) and send the request again, once.
async fn retry<S, B, R>(
    session: Arc<Session>,
    spare: S,
    replay: Replay<B>,
    generation: u64,
) -> Result<Response<R>, Error>
where
    S: Service<Request<B>, Response = Response<R>> + Clone,
    S::Error: Into<BoxError>,
    B: ClientBody,
    R: http_body::Body,
    R::Error: Into<BoxError>,
{
    let snapshot = session.renew(spare.clone(), generation).await?;
    let bearer = snapshot
        .bearer()
        .ok_or_else(|| Error::new(ErrorKind::UnexpectedResponse))?;
    let response = Oneshot::new(spare, replay.into_request(bearer.clone()))
        .await
        .map_err(Error::unreachable)?;
    if response.status() == StatusCode::UNAUTHORIZED {
        session.mark_refused(snapshot.generation);
    }
    Ok(response)
}

impl<S: Service<Request<B>>, B> fmt::Debug for ResponseFuture<S, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Inner { sent: None, .. } => "Inner",
            State::Inner { sent: Some(_), .. } => "Sent",
            State::Renew { .. } => "Renew",
            State::Retry { .. } => "Retry",
            State::Failed { .. } => "Failed",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish_non_exhaustive()
    }
}
