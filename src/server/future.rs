use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::Response;
use pin_project_lite::pin_project;

use super::response::OwnResponse;
use super::{ResponseBody, grpc};

/// Work the layer does itself (reading a login body, checking a password, asking the store):
/// boxed, because it is rare and its future's type is unnameable; never on the pass-through or
/// protected path.
pub(crate) type OwnFuture = Pin<Box<dyn Future<Output = OwnResponse> + Send>>;

pin_project! {
    /// The response future of [`JwtLogin`](super::JwtLogin).
    pub struct ResponseFuture<F, B> {
        #[pin]
        state: State<F>,
        _body: PhantomData<fn() -> B>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        // The inner service's future, for pass-through and authenticated requests.
        Inner { #[pin] future: F },
        // An answer already made: a rejection. `grpc`: the request was gRPC, and a refusal is
        // answered in gRPC's form (`grpc.rs`).
        Ready { response: Option<OwnResponse>, grpc: bool },
        // An answer still being worked out: a login, refresh or logout.
        Own { future: OwnFuture, grpc: bool },
    }
}

impl<F, B> ResponseFuture<F, B> {
    #[inline]
    pub(crate) const fn inner(future: F) -> Self {
        Self {
            state: State::Inner { future },
            _body: PhantomData,
        }
    }

    /// An answer already made; `grpc` if the request was gRPC.
    pub(crate) const fn ready(response: OwnResponse, grpc: bool) -> Self {
        Self {
            state: State::Ready {
                response: Some(response),
                grpc,
            },
            _body: PhantomData,
        }
    }

    /// An answer the layer works out itself; `grpc` if the request was gRPC.
    pub(crate) const fn own(future: OwnFuture, grpc: bool) -> Self {
        Self {
            state: State::Own { future, grpc },
            _body: PhantomData,
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Inner { future } => {
                let response = ready!(future.poll(cx))?;
                Poll::Ready(Ok(response.map(ResponseBody::inner)))
            }
            // Every answer of the layer's own leaves here: the one place where a refusal takes
            // its gRPC form.
            StateProj::Ready { response, grpc } => {
                let response = response
                    .take()
                    .expect("ResponseFuture polled after completion");
                let response = grpc::own_answer(response, *grpc);
                Poll::Ready(Ok(response.map(ResponseBody::full)))
            }
            StateProj::Own { future, grpc } => {
                let response = grpc::own_answer(ready!(future.as_mut().poll(cx)), *grpc);
                Poll::Ready(Ok(response.map(ResponseBody::full)))
            }
        }
    }
}

impl<F, B> fmt::Debug for ResponseFuture<F, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Inner { .. } => "Inner",
            State::Ready { .. } => "Ready",
            State::Own { .. } => "Own",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish()
    }
}
