//! The client side: what datarhei's Go client (`coreclient.New`) does for its users, as a tower
//! layer around any HTTP client `Service<http::Request<B>>`.
//!
//! [`JwtClient`] wraps an HTTP client (hyper-util's legacy `Client`, a `tower` stack around
//! reqwest, or anything that is a `Service<Request<B>, Response = Response<R>>` and `Clone`):
//!
//! - **It logs in when it is built**: [`JwtClientBuilder::connect`] posts
//!   `{"username", "password"}` to `<base>/api/login` and fails with an [`Error`] whose
//!   [`kind`](Error::kind) tells wrong credentials, an unreachable server and an unexpected
//!   answer apart. Nothing is sent with a token before the login succeeded.
//! - **It attaches** `Authorization: Bearer <access token>` (a sensitive header value) to every
//!   request for the base URL's origin: same scheme, host and port (default ports included),
//!   whatever the path. A request for any other origin goes out untouched. A request whose URI
//!   is a path (`/api/v3/ping`) is for the base URL: it is resolved against it (base path
//!   included) so that clients that need absolute URIs, like hyper-util's, accept it. A request
//!   that already has an `Authorization` header is left as it is.
//! - **It renews the token on its own**: shortly before the access token expires and after a
//!   `401`, it calls `GET <base>/api/login/refresh` with the refresh token; when the refresh
//!   token has expired or is refused it logs in again with the credentials, or fails with
//!   [`ErrorKind::SessionExpired`] when it has none (resumed from tokens alone). A refresh that
//!   fails otherwise (a `500`, a timeout) is an error, never a reason to send the password.
//! - **Expiry does not trust the clocks to agree**: a token the client received lives for its
//!   lifetime (datarhei's `exi`, "the seconds until it expires", else `exp - iat`) counted from
//!   when it arrived, by the client's clock. Its `exp` counts too, but only when it agrees with
//!   that measure within 2 seconds, that is when the clocks agree. A client whose clock is ten
//!   minutes off, or a server that issues tokens already expired by the client's clock, never
//!   causes a renewal per request. Tokens resumed from storage expire at their `exp`. The
//!   payload is read without verification, only for scheduling: the client has no key.
//! - **Single flight, one renewal per need**: renewals are generations. However many requests
//!   meet an expired or refused token at once, one of them renews it while the others wait, and
//!   all take its outcome: the new token, or its error. A failed renewal is handed at once to
//!   requests that need one during the [renewal backoff](JwtClientBuilder::renewal_backoff)
//!   (1 s by default), then the next request tries again. A request causes at most one
//!   renewal, its retry after a `401` included, so the password goes out at most once per
//!   generation. Requests whose token is fresh never wait: they read the current tokens from a
//!   snapshot that is only ever locked for a pointer swap, never across a network call.
//! - **It retries a request once** after a `401`, with the new token, when its body can be sent
//!   twice ([`ClientBody::try_replay`]: `Full<Bytes>` can, a stream cannot) and it did not
//!   renew the token already before it was sent; otherwise the `401` is returned as it is and
//!   the next request renews the token first.
//! - **Tokens out and in**: [`JwtClient::tokens`] returns the current [`Tokens`] (whose `Debug`
//!   does not show them), [`JwtClientBuilder::tokens`] resumes from them without a login while
//!   the refresh token lives, and [`JwtClient::set_access_token`] sets the access token by hand.
//!
//! **Timeouts**: every login and refresh call, answer read, times out after
//! [`auth_timeout`](JwtClientBuilder::auth_timeout) (10 s by default, `None` to turn it off)
//! with [`ErrorKind::TimedOut`], so a silent server is an error in bounded time; this needs a
//! tokio runtime with the time driver. The requests the client passes on are the inner
//! service's business: wrap it in `tower::timeout`, and bound the bodies you read.
//!
//! # Example
//!
//! The server here is the crate's own [`JwtLoginLayer`](crate::JwtLoginLayer), in process; in
//! real use the inner service is an HTTP client (see `examples/client.rs`).
//!
//! ```
//! use bytes::Bytes;
//! use http::{Request, Response, StatusCode};
//! use http_body_util::Full;
//! use tower::{Layer as _, ServiceExt as _, service_fn};
//! use tower_jwt_login::client::{ErrorKind, JwtClient};
//! use tower_jwt_login::{JwtLoginLayer, Password};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let server = JwtLoginLayer::builder()
//!     .user("admin", Password::plain("correct horse battery staple"))
//!     .build()?
//!     .layer(service_fn(|_request: Request<Full<Bytes>>| async {
//!         Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from("pong"))))
//!     }));
//!
//! // A wrong password fails when the client is built...
//! let error = JwtClient::builder("http://core.example:8080".parse()?)
//!     .credentials("admin", "wrong")
//!     .connect(server.clone())
//!     .await
//!     .unwrap_err();
//! assert_eq!(error.kind(), ErrorKind::InvalidCredentials);
//!
//! // ...the right one logs in, and every request carries the token.
//! let client = JwtClient::builder("http://core.example:8080".parse()?)
//!     .credentials("admin", "correct horse battery staple")
//!     .connect(server)
//!     .await?;
//! let request = Request::get("/api/v3/ping").body(Full::default())?;
//! let response = client.clone().oneshot(request).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//!
//! // The tokens can be saved, and a later client resumed from them without a login.
//! let tokens = client.tokens();
//! assert!(tokens.access_expires_at().is_some());
//! # Ok(())
//! # }
//! ```

mod body;
mod config;
mod error;
mod exchange;
mod future;
mod layer;
mod replay;
mod service;
mod session;
mod tokens;

pub use body::ClientBody;
pub use error::{Error, ErrorKind};
pub use future::ResponseFuture;
pub use layer::JwtClientLayer;
pub use service::{JwtClient, JwtClientBuilder};
pub use tokens::Tokens;
