use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::{Request, Response, StatusCode};
use pin_project_lite::pin_project;
use tower_service::Service;

use super::body::ClientBody;
use super::error::Error;
use super::service::{Replay, retry_after_rejection};
use super::session::Session;

type BoxError = Box<dyn StdError + Send + Sync>;

/// The slow paths (renewing the token, retrying after a `401`): boxed, because they are rare and
/// their futures' types are unnameable; never taken by a request whose token is fresh and
/// accepted.
type OwnFuture<T> = Pin<Box<dyn Future<Output = Result<T, Error>> + Send>>;

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
        // A renewal, then the request; or a retry after a 401.
        Own { future: OwnFuture<S::Response> },
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

    /// A request sent with the token of `generation`.
    pub(crate) const fn sent(
        future: S::Future,
        generation: u64,
        retry: Option<(S, Replay<B>)>,
        session: Arc<Session>,
    ) -> Self {
        Self {
            state: State::Inner {
                future,
                sent: Some(Sent { generation, retry }),
            },
            session,
        }
    }

    pub(crate) const fn own(future: OwnFuture<S::Response>, session: Arc<Session>) -> Self {
        Self {
            state: State::Own { future },
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
            let retry: OwnFuture<Response<R>> = match this.state.project() {
                StateProj::Inner { future, sent } => {
                    let response = ready!(future.poll(cx)).map_err(Error::unreachable)?;
                    if response.status() != StatusCode::UNAUTHORIZED {
                        return Poll::Ready(Ok(response));
                    }
                    let Some(sent) = sent.take() else {
                        return Poll::Ready(Ok(response));
                    };
                    let Some((spare, replay)) = sent.retry else {
                        // The body is gone: the caller gets the 401, the next request renews.
                        this.session.mark_refused(sent.generation);
                        return Poll::Ready(Ok(response));
                    };
                    let session = Arc::clone(this.session);
                    Box::pin(retry_after_rejection(
                        session,
                        spare,
                        replay,
                        sent.generation,
                    ))
                }
                StateProj::Own { future } => return future.as_mut().poll(cx),
                StateProj::Failed { error } => {
                    return Poll::Ready(Err(error
                        .take()
                        .expect("ResponseFuture polled after completion")));
                }
            };
            self.as_mut()
                .project()
                .state
                .set(State::Own { future: retry });
        }
    }
}

impl<S: Service<Request<B>>, B> fmt::Debug for ResponseFuture<S, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Inner { sent: None, .. } => "Inner",
            State::Inner { sent: Some(_), .. } => "Sent",
            State::Own { .. } => "Own",
            State::Failed { .. } => "Failed",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish_non_exhaustive()
    }
}
