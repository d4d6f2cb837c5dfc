use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;

use super::routes::Route;
use super::{ResponseBody, ResponseFuture, Shared, grpc, login, logout, refresh};
use crate::token::TokenUse;

/// The middleware produced by [`JwtLoginLayer`](super::JwtLoginLayer).
///
/// See the [crate documentation](crate) for what it does with each request.
pub struct JwtLogin<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> JwtLogin<S> {
    pub(crate) const fn new(inner: S, shared: Arc<Shared>) -> Self {
        Self { inner, shared }
    }

    /// A reference to the inner service.
    pub const fn get_ref(&self) -> &S {
        &self.inner
    }

    /// A mutable reference to the inner service.
    pub const fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service, consuming the middleware.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: Clone> Clone for JwtLogin<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for JwtLogin<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtLogin")
            .field("inner", &self.inner)
            .field("shared", &self.shared)
            .finish()
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for JwtLogin<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ReqBody: http_body::Body + Send + 'static,
    ReqBody::Data: Send,
    ReqBody::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    /// Small enough to inline into the caller, so that a request the layer only passes on is
    /// not copied once more on its way to the inner service.
    #[inline]
    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        match self.shared.routes.classify(request.uri().path()) {
            Route::PassThrough => ResponseFuture::inner(self.inner.call(request)),
            route => self.call_route(route, request),
        }
    }
}

impl<S> JwtLogin<S> {
    /// A request on one of the layer's routes.
    fn call_route<ReqBody, ResBody>(
        &mut self,
        route: Route,
        mut request: Request<ReqBody>,
    ) -> ResponseFuture<S::Future, ResBody>
    where
        S: Service<Request<ReqBody>, Response = Response<ResBody>>,
        ReqBody: http_body::Body + Send + 'static,
        ReqBody::Data: Send,
        ReqBody::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let shared = &*self.shared;
        match route {
            Route::PassThrough => ResponseFuture::inner(self.inner.call(request)),
            Route::Protected => {
                let claims = match shared.loopback_claims(&request) {
                    Some(claims) => claims,
                    None => match shared.authenticate(request.headers(), TokenUse::Access) {
                        Ok(claims) => claims,
                        // Whether the request is gRPC is asked only on the way out, so that an
                        // accepted request pays nothing for it.
                        Err(rejection) => {
                            return ResponseFuture::ready(
                                shared.unauthorized(rejection),
                                grpc::is_grpc(&request),
                            );
                        }
                    },
                };
                if let Some(challenge) = shared.scope_rules.refusal(request.uri().path(), &claims) {
                    return ResponseFuture::ready(
                        shared.forbidden(challenge),
                        grpc::is_grpc(&request),
                    );
                }
                request.extensions_mut().insert(claims);
                ResponseFuture::inner(self.inner.call(request))
            }
            Route::Optional => {
                if let Some(claims) = shared.loopback_claims(&request) {
                    request.extensions_mut().insert(claims);
                } else if let Ok(claims) = shared.authenticate(request.headers(), TokenUse::Access)
                {
                    request.extensions_mut().insert(claims);
                } else {
                    // Without a valid token, no claims: not even ones an outer layer put there.
                    request.extensions_mut().remove::<crate::token::Claims>();
                }
                ResponseFuture::inner(self.inner.call(request))
            }
            Route::Login => {
                let grpc = grpc::is_grpc(&request);
                let login = login::login(Arc::clone(&self.shared), request);
                ResponseFuture::own(Box::pin(login), grpc)
            }
            Route::Refresh => {
                let grpc = grpc::is_grpc(&request);
                let refresh = refresh::refresh(Arc::clone(&self.shared), request.into_parts().0);
                ResponseFuture::own(Box::pin(refresh), grpc)
            }
            Route::Logout => {
                let grpc = grpc::is_grpc(&request);
                let logout = logout::logout(Arc::clone(&self.shared), request.into_parts().0);
                ResponseFuture::own(Box::pin(logout), grpc)
            }
        }
    }
}
