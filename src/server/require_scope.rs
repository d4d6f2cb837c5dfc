//! [`RequireScopeLayer`]: scopes for one handler or router, behind [`JwtLoginLayer`].

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{HeaderValue, Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use super::scope_rules::challenge;
use super::{ResponseBody, ResponseFuture, grpc, response};
use crate::error::{BuildError, Rejection};
use crate::scope::{Scopes, grants_all};
use crate::token::Claims;
#[cfg(doc)]
use crate::{JwtLoginBuilder, JwtLoginLayer};

/// Requires scopes of the [`Claims`] that [`JwtLoginLayer`] put into a request: a request
/// whose token lacks one is answered `403` with
/// `WWW-Authenticate: Bearer error="insufficient_scope", scope="..."` (RFC 6750 §3.1) and the
/// JSON error body ([`Rejection::InsufficientScope`]); a request without claims (a route the
/// layer does not protect) `401`. A gRPC request gets `grpc-status` 7 or 16 instead.
///
/// For a path prefix, [`JwtLoginBuilder::require_scopes`] does the same inside the layer. For
/// one axum handler, give it as a `route_layer`:
///
/// ```
/// use axum::{Router, routing::{delete, get}};
/// use tower_jwt_login::{JwtLoginLayer, Password, RequireScopeLayer};
///
/// let layer = JwtLoginLayer::builder()
///     .user("admin", Password::plain("correct horse battery staple"))
///     .user_scopes("admin", ["streams:read", "streams:delete"])
///     .build()?;
/// let app: Router = Router::new()
///     .route("/api/v3/streams", get(|| async { "[]" }))
///     .route(
///         "/api/v3/streams/{id}",
///         delete(|| async { "deleted" }).route_layer(RequireScopeLayer::new(["streams:delete"])),
///     )
///     .layer(layer);
/// # Ok::<_, tower_jwt_login::BuildError>(())
/// ```
#[derive(Clone)]
pub struct RequireScopeLayer {
    required: Arc<Required>,
}

struct Required {
    scopes: Scopes,
    challenge: HeaderValue,
}

impl RequireScopeLayer {
    /// Requires every one of `scopes`.
    ///
    /// # Panics
    ///
    /// If a scope is invalid or none is given (see [`try_new`](Self::try_new)): a mistake in
    /// the program, found the first time it runs.
    #[must_use]
    pub fn new<I, S>(scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self::try_new(scopes).unwrap_or_else(|error| panic!("RequireScopeLayer: {error}"))
    }

    /// Requires every one of `scopes`.
    ///
    /// # Errors
    ///
    /// [`BuildError::InvalidScope`] for a scope RFC 6749 §3.3 does not allow, or for no scope
    /// at all (which would require nothing).
    pub fn try_new<I, S>(scopes: I) -> Result<Self, BuildError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let scopes = Scopes::new(scopes)?;
        let invalid = || BuildError::InvalidScope {
            scope: String::new(),
        };
        if scopes.is_empty() {
            return Err(invalid());
        }
        let challenge = challenge("", &scopes).map_err(|()| invalid())?;
        Ok(Self {
            required: Arc::new(Required { scopes, challenge }),
        })
    }
}

impl fmt::Debug for RequireScopeLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireScopeLayer")
            .field("scopes", &self.required.scopes)
            .finish()
    }
}

impl<S> Layer<S> for RequireScopeLayer {
    type Service = RequireScope<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireScope {
            inner,
            required: Arc::clone(&self.required),
        }
    }
}

/// The service of [`RequireScopeLayer`].
#[derive(Clone)]
pub struct RequireScope<S> {
    inner: S,
    required: Arc<Required>,
}

impl<S: fmt::Debug> fmt::Debug for RequireScope<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireScope")
            .field("inner", &self.inner)
            .field("scopes", &self.required.scopes)
            .finish()
    }
}

/// `WWW-Authenticate` for a request that reached [`RequireScope`] without claims.
const BEARER: HeaderValue = HeaderValue::from_static("Bearer");

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RequireScope<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let refusal = match request.extensions().get::<Claims>() {
            Some(claims) if grants_all(claims.scope(), &self.required.scopes) => {
                return ResponseFuture::inner(self.inner.call(request));
            }
            Some(_) => response::forbidden(&self.required.challenge),
            None => response::unauthorized(Rejection::MissingToken, &BEARER),
        };
        ResponseFuture::ready(refusal, grpc::is_grpc(&request))
    }
}
