//! JWT login for any [tower] service: the login API of datarhei Core as a middleware.
//!
//! [`JwtLoginLayer`] wraps any `Service<http::Request<B>>` (an axum `Router`, a hyper service, a
//! tonic server, a `tower::service_fn`) and:
//!
//! - answers `POST /api/login` with a JSON username and password by issuing an access and a
//!   refresh token: `{"access_token": "...", "refresh_token": "..."}`;
//! - answers `GET /api/login/refresh` with a refresh token as bearer by issuing a new access
//!   token;
//! - lets no request below a protected prefix (`/api/v3` by default) through without a valid
//!   access token, and hands the verified [`Claims`] to the inner service in the request
//!   extensions;
//! - passes everything else through untouched, without allocating.
//!
//! Tokens are HS256 JWTs with datarhei Core's claims (`iss`, `sub`, `usefor`, `iat`, `exp`,
//! `exi`, `jti`), verified strictly: see `SECURITY.md` for every rule and why.
//!
//! # Beyond datarhei Core
//!
//! - **Throttling**: failed logins are counted per client address and username
//!   ([`LoginThrottle`]); past the limit the login route answers `429` with `Retry-After`,
//!   without sleeping a worker.
//! - **Refresh-token rotation and logout**: opt-in rotation with reuse detection
//!   ([`JwtLoginBuilder::refresh_token_rotation`]), and `POST /api/logout` revoking a refresh
//!   family or an access token.
//! - **Stores**: the [`MemoryStore`] by default; `RedisStore` (feature `redis`) to share
//!   throttling, rotation and revocation across replicas. Protected routes never wait on it.
//! - **Key rotation**: [`JwtLoginBuilder::signing_key`] and [`JwtLoginBuilder::previous_key`].
//! - **Authorization**: scopes in the access token ([`JwtLoginBuilder::user_scopes`]), required
//!   per path prefix ([`JwtLoginBuilder::require_scopes`]) or per handler
//!   ([`RequireScopeLayer`]), answered `403` with RFC 6750's `insufficient_scope`; the
//!   application's own claims, read typed with [`Claims::extra`].
//! - **gRPC**: a refused gRPC request is answered with a `grpc-status`, not a JSON body.
//! - **External identity providers** (feature `jwks`): an Auth0 or OIDC access token exchanged
//!   for our tokens, against a JWKS cache that never blocks a request.
//! - **Client** (feature `client`, on by default): `JwtClient` logs in, attaches the bearer,
//!   renews the token on its own.
//! - **Logs and metrics**: `tracing` events (rejections at `debug`, never a secret), and counters
//!   through the `metrics` facade (feature `metrics`).
//! - **Verification outside HTTP**: [`JwtLoginLayer::verify_access_token`].
//! - **Configuration files**: [`JwtLoginConfig`], the whole configuration as a `serde` type for
//!   your app's own file, with errors that name the field at fault.
//!
//! | feature | default | what |
//! |---|---|---|
//! | `client` | yes | the client layer |
//! | `axum` | no | the [`Claims`] extractor; axum's `ConnectInfo` as the client address |
//! | `jwks` | no | external identity provider login, with your HTTP client |
//! | `jwks-rustls` | no | `jwks` with a default hyper-util + rustls client |
//! | `redis` | no | the Redis store |
//! | `metrics` | no | counters through the `metrics` facade |
//!
//! # Example
//!
//! ```
//! use http::{Request, Response, StatusCode};
//! use http_body_util::Full;
//! use bytes::Bytes;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//! use tower_jwt_login::{JwtLoginLayer, Password};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let service = ServiceBuilder::new()
//!     .layer(
//!         JwtLoginLayer::builder()
//!             .user("admin", Password::plain("correct horse battery staple"))
//!             .build()?,
//!     )
//!     .service(service_fn(|_request: Request<Full<Bytes>>| async {
//!         Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from("pong"))))
//!     }));
//!
//! // Without a token, the protected route is refused...
//! let request = Request::get("/api/v3/ping").body(Full::default())?;
//! let response = service.clone().oneshot(request).await?;
//! assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
//!
//! // ...and a public route passes through.
//! let request = Request::get("/ping").body(Full::default())?;
//! let response = service.oneshot(request).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//! # Ok(())
//! # }
//! ```
//!
//! [tower]: https://docs.rs/tower

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "axum")]
mod axum;
#[cfg(feature = "client")]
#[cfg_attr(docsrs, doc(cfg(feature = "client")))]
pub mod client;
mod clock;
mod config;
mod credentials;
mod error;
mod family;
mod grant;
#[cfg(feature = "jwks")]
mod idp;
mod keys;
mod observe;
mod peer;
mod scope;
mod server;
mod store;
mod throttle;
mod token;

#[cfg(feature = "client")]
pub use client::{JwtClient, JwtClientLayer};
pub use config::{JwtLoginBuilder, JwtLoginConfig};
pub use credentials::Password;
pub use error::{BuildError, ConfigError, EnvError, Rejection};
pub use grant::{Login, LoginSource};
#[cfg(feature = "jwks")]
#[cfg_attr(docsrs, doc(cfg(feature = "jwks")))]
pub use idp::Tenant;
pub use peer::PeerAddr;
pub use scope::Scopes;
pub use server::{
    JwtLogin, JwtLoginLayer, RequireScope, RequireScopeLayer, ResponseBody, ResponseFuture,
};
pub use store::{MemoryStore, Store};
#[cfg(feature = "redis")]
pub use store::{RedisStore, RedisStoreBuilder};
pub use throttle::{ClientKey, LoginThrottle};
pub use token::{Claims, TokenUse};

/// The README's code blocks, compiled as doctests so that the README cannot drift from the API.
#[cfg(all(
    doctest,
    feature = "axum",
    feature = "client",
    feature = "jwks-rustls",
    feature = "redis"
))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// Internals the crate's own benchmarks (`benches/`) measure directly. Not part of the API:
/// hidden, unstable, and may change or disappear in any release.
#[doc(hidden)]
pub mod __bench {
    use crate::family::FamilyId;
    use crate::grant::Grant;
    use crate::{JwtLoginLayer, TokenUse};

    /// Issues an access and a refresh token for `sub`, exactly as a successful login does once
    /// the password has been checked.
    #[must_use]
    pub fn issue_pair(layer: &JwtLoginLayer, sub: &str) -> (String, String) {
        let shared = layer.shared();
        let family = FamilyId::new();
        let grant = Grant {
            sub,
            scope: "",
            custom: None,
        };
        let issue = |usefor| match shared.issue(&grant, usefor, family) {
            Ok(issued) => issued.token,
            Err(_) => panic!("a token for {sub:?} is larger than the maximum token size"),
        };
        (issue(TokenUse::Access), issue(TokenUse::Refresh))
    }
}
