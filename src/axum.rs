//! The axum extractor for [`Claims`] (feature `axum`).

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Response};
use http::request::Parts;

use crate::error::Rejection;
use crate::token::Claims;

/// Hands the verified claims to a handler behind [`JwtLoginLayer`](crate::JwtLoginLayer).
///
/// On a protected route the claims are always there. On a route the layer does not guard they
/// are not, and extracting `Claims` answers 401; extract `Option<Claims>` where a token is
/// optional.
///
/// ```
/// use axum::{Router, routing::get};
/// use tower_jwt_login::{Claims, JwtLoginLayer, Password};
///
/// async fn whoami(claims: Claims) -> String {
///     claims.sub().to_owned()
/// }
///
/// async fn hello(claims: Option<Claims>) -> String {
///     claims.map_or_else(|| "hello".to_owned(), |c| format!("hello, {}", c.sub()))
/// }
///
/// # fn main() -> Result<(), tower_jwt_login::BuildError> {
/// let app: Router = Router::new()
///     .route("/api/v3/whoami", get(whoami))
///     .route("/api", get(hello))
///     .layer(
///         JwtLoginLayer::builder()
///             .user("admin", Password::plain("correct horse battery staple"))
///             .optional_auth_path("/api")
///             .build()?,
///     );
/// # Ok(())
/// # }
/// ```
impl<S: Send + Sync> FromRequestParts<S> for Claims {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Self>().cloned().ok_or_else(|| {
            Rejection::MissingToken
                .response()
                .map(axum::body::Body::from)
                .into_response()
        })
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Claims {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<Self>().cloned())
    }
}
