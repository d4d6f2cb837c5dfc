use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::header::AUTHORIZATION;
use http::{Request, Response, Uri};
use tower_service::Service;

use super::body::ClientBody;
use super::config::{Config, Credentials, DEFAULT_AUTH_TIMEOUT, DEFAULT_RENEWAL_BACKOFF, Target};
use super::error::{Error, ErrorKind};
use super::exchange;
use super::future::ResponseFuture;
use super::session::Session;
use super::tokens::Tokens;
use crate::clock::now_ms;

type BoxError = Box<dyn StdError + Send + Sync>;

/// A client [`Service`] that logs in, sends the access token, and renews it on its own.
///
/// Built by [`JwtClient::builder`], which logs in before it returns. See the
/// [module documentation](super) for what it does with each request.
pub struct JwtClient<S> {
    inner: S,
    session: Arc<Session>,
}

impl JwtClient<()> {
    /// Starts a configuration for the server at `base`, such as `http://127.0.0.1:8080`.
    ///
    /// The login and refresh routes are below `base`, and so are requests whose URI is a path.
    pub fn builder(base: Uri) -> JwtClientBuilder {
        JwtClientBuilder::new(base)
    }
}

impl<S> JwtClient<S> {
    pub(crate) const fn from_session(inner: S, session: Arc<Session>) -> Self {
        Self { inner, session }
    }

    /// The session this client shares with its clones and the services of its
    /// [`layer`](Self::layer).
    pub(crate) const fn session(&self) -> &Arc<Session> {
        &self.session
    }

    /// The current access and refresh tokens, to save the session and resume it later with
    /// [`JwtClientBuilder::tokens`].
    #[must_use]
    pub fn tokens(&self) -> Tokens {
        self.session.current().tokens.clone()
    }

    /// Replaces the access token, keeping the refresh token. Every clone of this client, and
    /// every service made by its [`layer`](Self::layer), uses it from the next request on.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidConfig`] when the token is empty or cannot be sent in a header.
    pub fn set_access_token(&self, token: impl Into<String>) -> Result<(), Error> {
        self.session.set_access_token(token.into())
    }

    /// A reference to the inner service.
    pub const fn get_ref(&self) -> &S {
        &self.inner
    }

    /// A mutable reference to the inner service.
    pub const fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service, consuming the client.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: Clone> Clone for JwtClient<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            session: Arc::clone(&self.session),
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for JwtClient<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtClient")
            .field("inner", &self.inner)
            .field("session", &self.session)
            .finish()
    }
}

impl<S, B, R> Service<Request<B>> for JwtClient<S>
where
    S: Service<Request<B>, Response = Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: ClientBody + Send + 'static,
    R: http_body::Body + Send + 'static,
    R::Data: Send,
    R::Error: Into<BoxError>,
{
    type Response = Response<R>;
    type Error = Error;
    type Future = ResponseFuture<S, B>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Error::unreachable)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let session = Arc::clone(&self.session);
        match session.config.target(request.uri()) {
            Target::Base(Some(resolved)) => *request.uri_mut() = resolved,
            Target::Base(None) => {}
            Target::Foreign => return ResponseFuture::plain(self.inner.call(request), session),
            Target::Invalid => {
                return ResponseFuture::failed(Error::new(ErrorKind::InvalidRequest), session);
            }
        }
        // A caller who sets their own Authorization knows what they are doing: it is theirs.
        if request.headers().contains_key(AUTHORIZATION) {
            return ResponseFuture::plain(self.inner.call(request), session);
        }

        let snapshot = session.current();
        if let Some(bearer) = session.usable_bearer(&snapshot, now_ms()) {
            let bearer = bearer.clone();
            let generation = snapshot.generation;
            return ResponseFuture::send(&mut self.inner, request, bearer, generation, session);
        }

        // The token must be renewed before the request goes out: take the service that was
        // polled ready, and leave a clone in its place.
        let clone = self.inner.clone();
        let ready = std::mem::replace(&mut self.inner, clone);
        let (spare, generation) = (ready.clone(), snapshot.generation);
        let renewing = Arc::clone(&session);
        let renewal = Box::pin(async move { renewing.renew(spare, generation).await });
        ResponseFuture::renew(renewal, ready, request, session)
    }
}

/// Configures and builds a [`JwtClient`]; made by [`JwtClient::builder`].
///
/// It needs credentials, or saved [`Tokens`], or both (credentials are used when the refresh
/// token expires).
#[must_use]
pub struct JwtClientBuilder {
    base: Uri,
    credentials: Option<Credentials>,
    tokens: Option<Tokens>,
    login_path: String,
    refresh_path: String,
    refresh_margin: Duration,
    auth_timeout: Option<Duration>,
    renewal_backoff: Duration,
}

impl JwtClientBuilder {
    /// Starts a configuration for the server at `base`; same as [`JwtClient::builder`].
    pub fn new(base: Uri) -> Self {
        Self {
            base,
            credentials: None,
            tokens: None,
            login_path: "/api/login".to_owned(),
            refresh_path: "/api/login/refresh".to_owned(),
            refresh_margin: Duration::from_secs(5),
            auth_timeout: Some(DEFAULT_AUTH_TIMEOUT),
            renewal_backoff: DEFAULT_RENEWAL_BACKOFF,
        }
    }

    /// The username and password to log in with, when the client is built and whenever the
    /// refresh token has expired or is refused. Default is none.
    pub fn credentials(mut self, username: impl Into<String>, password: impl Into<String>) -> Self {
        self.credentials = Some(Credentials::new(username.into(), password.into()));
        self
    }

    /// Tokens saved from an earlier session (see [`JwtClient::tokens`]): when the refresh or
    /// the access token is still alive, the client starts from them without logging in.
    /// Default is none.
    pub fn tokens(mut self, tokens: Tokens) -> Self {
        self.tokens = Some(tokens);
        self
    }

    /// The login route, below the base URL. Default is `/api/login`.
    pub fn login_path(mut self, path: impl Into<String>) -> Self {
        self.login_path = path.into();
        self
    }

    /// The refresh route, below the base URL. Default is `/api/login/refresh`.
    pub fn refresh_path(mut self, path: impl Into<String>) -> Self {
        self.refresh_path = path.into();
        self
    }

    /// How long before it expires the access token is renewed, so that it does not expire on
    /// the way to the server; capped to a tenth of the token's lifetime, so that short-lived
    /// tokens are still used. Default is 5 seconds.
    ///
    /// A token the client received expires its lifetime (datarhei's `exi`, "the seconds until
    /// it expires", else `exp - iat`) after it arrived, by the client's clock, so that a clock
    /// that disagrees with the server's neither renews it at once nor keeps it too long; a saved
    /// token ([`tokens`](Self::tokens)) expires at its `exp`.
    pub const fn refresh_margin(mut self, margin: Duration) -> Self {
        self.refresh_margin = margin;
        self
    }

    /// How long one login or refresh call may take, from sending it to reading the whole
    /// answer; past it the call fails with [`ErrorKind::TimedOut`]. `None` lets it take as long
    /// as the inner service does. Default is 10 seconds.
    ///
    /// It needs a tokio runtime with the time driver, as `tokio::time` does. The requests the
    /// client passes on are not timed: wrap the inner service in `tower::timeout` for those.
    pub fn auth_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.auth_timeout = timeout.into();
        self
    }

    /// How long a failed renewal is remembered: requests that need new tokens during that time
    /// get its error at once, without a call to the server; the first one after it tries again.
    /// Every request that waited for the failed renewal gets its error too. Default is 1 second.
    pub const fn renewal_backoff(mut self, backoff: Duration) -> Self {
        self.renewal_backoff = backoff;
        self
    }

    /// Logs in through `inner` (unless resumed tokens are still alive) and returns the client.
    ///
    /// Nothing is sent with a token before this succeeded.
    ///
    /// # Errors
    ///
    /// - [`ErrorKind::InvalidConfig`]: the base URL is not an absolute `http` or `https` URL,
    ///   a route does not start with `/`, or there are neither credentials nor tokens;
    /// - [`ErrorKind::InvalidCredentials`]: the server refused the username or password;
    /// - [`ErrorKind::Unreachable`]: `inner` failed to reach the server;
    /// - [`ErrorKind::TimedOut`]: the login took longer than the
    ///   [`auth_timeout`](Self::auth_timeout);
    /// - [`ErrorKind::UnexpectedResponse`]: the login route answered something else than tokens;
    /// - [`ErrorKind::SessionExpired`]: the saved tokens have expired and there are no
    ///   credentials.
    pub async fn connect<S, B, R>(self, inner: S) -> Result<JwtClient<S>, Error>
    where
        S: Service<Request<B>, Response = Response<R>> + Clone,
        S::Error: Into<BoxError>,
        B: ClientBody,
        R: http_body::Body,
        R::Error: Into<BoxError>,
    {
        let mut config = Config::new(
            &self.base,
            &self.login_path,
            &self.refresh_path,
            self.credentials,
            self.refresh_margin,
        )?;
        config.auth_timeout = self.auth_timeout;
        config.renewal_backoff = self.renewal_backoff;
        let now = now_ms();
        let tokens = match self.tokens {
            Some(tokens) if tokens.refresh().is_alive(now) || tokens.access().is_alive(now) => {
                tokens
            }
            Some(_) if !config.has_credentials() => {
                return Err(Error::new(ErrorKind::SessionExpired));
            }
            None if !config.has_credentials() => {
                return Err(Error::new(ErrorKind::InvalidConfig));
            }
            _ => exchange::login(&config, inner.clone()).await?,
        };
        Ok(JwtClient::from_session(
            inner,
            Arc::new(Session::new(config, tokens)),
        ))
    }
}

impl fmt::Debug for JwtClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtClientBuilder")
            .field("base", &self.base)
            .field("credentials", &self.credentials)
            .field("tokens", &self.tokens)
            .field("login_path", &self.login_path)
            .field("refresh_path", &self.refresh_path)
            .field("refresh_margin", &self.refresh_margin)
            .field("auth_timeout", &self.auth_timeout)
            .field("renewal_backoff", &self.renewal_backoff)
            .finish()
    }
}
