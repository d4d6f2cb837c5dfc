//! The token holder: the current tokens as a snapshot any request reads without waiting, and the
//! single-flight renewal (refresh, or login again) that requests with an expired or refused
//! token wait for.

use std::error::Error as StdError;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderValue, Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt as _, Limited};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tower::util::Oneshot;
use tower_service::Service;
use zeroize::Zeroizing;

use super::body::ClientBody;
use super::error::{Error, ErrorKind};
use super::tokens::{Tokens, now_ms};

/// The largest login or refresh answer read, in bytes. datarhei Core's are under 1 KiB.
const MAX_ANSWER_LEN: usize = 64 * 1024;

/// The username and password to log in (again) with.
pub(crate) struct Credentials {
    username: String,
    password: Zeroizing<String>,
}

impl Credentials {
    pub(crate) fn new(username: String, password: String) -> Self {
        Self {
            username,
            password: Zeroizing::new(password),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .finish()
    }
}

/// Where a request goes, as far as the token is concerned.
pub(crate) enum Target {
    /// To the base URL's origin; with the absolute URI to use instead when the request's was a
    /// path.
    Base(Option<Uri>),
    /// Elsewhere: no token.
    Foreign,
    /// Nowhere we can tell.
    Invalid,
}

/// Everything fixed when the client is built.
#[derive(Debug)]
pub(crate) struct Config {
    scheme: Scheme,
    authority: Authority,
    /// The host, lowercase, and the port (explicit or the scheme's default): the origin.
    host: Box<str>,
    port: u16,
    /// The base URL's path without its trailing `/`: `""` or `/prefix`.
    base_path: Box<str>,
    login_uri: Uri,
    refresh_uri: Uri,
    credentials: Option<Credentials>,
    margin_ms: i64,
}

impl Config {
    pub(crate) fn new(
        base: &Uri,
        login_path: &str,
        refresh_path: &str,
        credentials: Option<Credentials>,
        margin: Duration,
    ) -> Result<Self, Error> {
        let invalid = || Error::new(ErrorKind::InvalidConfig);
        let scheme = base.scheme().ok_or_else(invalid)?.clone();
        let port = default_port(&scheme).ok_or_else(invalid)?;
        let authority = base.authority().ok_or_else(invalid)?.clone();
        if base.query().is_some() || !login_path.starts_with('/') || !refresh_path.starts_with('/')
        {
            return Err(invalid());
        }
        let base_path = base.path().trim_end_matches('/');
        let uri = |path: &str| {
            Uri::builder()
                .scheme(scheme.clone())
                .authority(authority.clone())
                .path_and_query(format!("{base_path}{path}"))
                .build()
                .map_err(|_| invalid())
        };
        Ok(Self {
            login_uri: uri(login_path)?,
            refresh_uri: uri(refresh_path)?,
            host: authority.host().to_ascii_lowercase().into(),
            port: authority.port_u16().unwrap_or(port),
            base_path: base_path.into(),
            scheme,
            authority,
            credentials,
            margin_ms: i64::try_from(margin.as_millis()).unwrap_or(i64::MAX),
        })
    }

    /// Whether a request to `uri` gets the token: only when it goes to the base URL's origin
    /// (scheme, host and port), or is a path, which is resolved against the base URL.
    pub(crate) fn target(&self, uri: &Uri) -> Target {
        match (uri.scheme(), uri.authority()) {
            (Some(scheme), Some(authority)) => {
                let same = scheme.as_str().eq_ignore_ascii_case(self.scheme.as_str())
                    && authority.host().eq_ignore_ascii_case(&self.host)
                    && authority.port_u16().or_else(|| default_port(scheme)) == Some(self.port);
                if same {
                    Target::Base(None)
                } else {
                    Target::Foreign
                }
            }
            (None, None) => self
                .resolve(uri)
                .map_or(Target::Invalid, |u| Target::Base(Some(u))),
            // Authority-form (CONNECT): not a request to the API.
            _ => Target::Foreign,
        }
    }

    /// `/api/v3/ping` → `<scheme>://<authority><base path>/api/v3/ping`.
    fn resolve(&self, uri: &Uri) -> Option<Uri> {
        let path_and_query = uri.path_and_query().map_or("/", PathAndQuery::as_str);
        if !path_and_query.starts_with('/') {
            return None;
        }
        Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(format!("{}{path_and_query}", self.base_path))
            .build()
            .ok()
    }

    /// How long before `exp` an access token is renewed: the configured margin, but at most a
    /// tenth of the token's lifetime, so that a short-lived token is still used.
    fn margin_ms(&self, lifetime_ms: Option<i64>) -> i64 {
        lifetime_ms.map_or(self.margin_ms, |lifetime| self.margin_ms.min(lifetime / 10))
    }

    pub(crate) const fn has_credentials(&self) -> bool {
        self.credentials.is_some()
    }
}

fn default_port(scheme: &Scheme) -> Option<u16> {
    if *scheme == Scheme::HTTP {
        Some(80)
    } else if *scheme == Scheme::HTTPS {
        Some(443)
    } else {
        None
    }
}

/// The tokens at one moment, never changed once made: a renewal makes a new one.
pub(crate) struct Snapshot {
    pub(crate) tokens: Tokens,
    /// `Bearer <access token>`, marked sensitive; `None` when there is no usable access token.
    bearer: Option<HeaderValue>,
    /// Bumped by every change of tokens, so that a request can tell whether the tokens it was
    /// refused with are still the current ones.
    pub(crate) generation: u64,
    /// The server refused this access token (on a request that could not be retried): renew
    /// before the next request.
    stale: bool,
}

impl Snapshot {
    /// `Bearer <access token>`, whether or not it is still fresh.
    pub(crate) const fn bearer(&self) -> Option<&HeaderValue> {
        self.bearer.as_ref()
    }

    fn new(tokens: Tokens, generation: u64) -> Self {
        Self {
            bearer: bearer(tokens.access().value()),
            tokens,
            generation,
            stale: false,
        }
    }
}

/// `Bearer <token>` as a sensitive header value, if the token can be one.
pub(crate) fn bearer(token: &str) -> Option<HeaderValue> {
    if token.is_empty() {
        return None;
    }
    let mut value = HeaderValue::try_from(format!("Bearer {token}")).ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// The shared state of a client: its configuration and its tokens.
pub(crate) struct Session {
    pub(crate) config: Config,
    /// Read by every request for one `Arc` clone, written only to swap in new tokens: never
    /// held across an `.await`.
    current: RwLock<Arc<Snapshot>>,
    /// Held by whoever renews the tokens, across the network calls. Only requests whose token
    /// is expired or was refused wait for it; the others never touch it.
    renewal: tokio::sync::Mutex<()>,
}

impl Session {
    pub(crate) fn new(config: Config, tokens: Tokens) -> Self {
        Self {
            config,
            current: RwLock::new(Arc::new(Snapshot::new(tokens, 0))),
            renewal: tokio::sync::Mutex::new(()),
        }
    }

    /// The current tokens, without waiting for anything but a pointer swap.
    pub(crate) fn current(&self) -> Arc<Snapshot> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The bearer of `snapshot`, if it can be sent now: not expired (with the margin), not
    /// refused.
    pub(crate) fn usable_bearer<'a>(
        &self,
        snapshot: &'a Snapshot,
        now_ms: i64,
    ) -> Option<&'a HeaderValue> {
        if snapshot.stale {
            return None;
        }
        let times = snapshot.tokens.access().times();
        let fresh = times.exp_ms.is_none_or(|exp| {
            now_ms.saturating_add(self.config.margin_ms(times.lifetime_ms)) < exp
        });
        fresh.then_some(snapshot.bearer.as_ref()).flatten()
    }

    /// Swaps in new tokens and returns them.
    fn install(&self, tokens: Tokens) -> Arc<Snapshot> {
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        let snapshot = Arc::new(Snapshot::new(tokens, current.generation.wrapping_add(1)));
        *current = Arc::clone(&snapshot);
        snapshot
    }

    /// Sets the access token by hand, keeping the refresh token.
    pub(crate) fn set_access_token(&self, access: String) -> Result<(), Error> {
        if bearer(&access).is_none() {
            return Err(Error::new(ErrorKind::InvalidConfig));
        }
        let tokens = self.current().tokens.renewed(access, None);
        self.install(tokens);
        Ok(())
    }

    /// Marks the tokens of `generation` as refused by the server, so that the next request
    /// renews them first.
    pub(crate) fn mark_refused(&self, generation: u64) {
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        if current.generation == generation && !current.stale {
            *current = Arc::new(Snapshot {
                tokens: current.tokens.clone(),
                bearer: current.bearer.clone(),
                generation,
                stale: true,
            });
        }
    }

    /// Renews the tokens of `seen` (expired, or refused by the server), once for all the
    /// requests that meet them: the first caller refreshes (or logs in again) while the others
    /// wait, then find new tokens and use them.
    pub(crate) async fn renew<S, B, R>(&self, inner: S, seen: u64) -> Result<Arc<Snapshot>, Error>
    where
        S: Service<Request<B>, Response = Response<R>> + Clone,
        S::Error: Into<Box<dyn StdError + Send + Sync>>,
        B: ClientBody,
        R: http_body::Body,
        R::Error: Into<Box<dyn StdError + Send + Sync>>,
    {
        let _renewal = self.renewal.lock().await;
        let current = self.current();
        if current.generation != seen && self.usable_bearer(&current, now_ms()).is_some() {
            return Ok(current);
        }
        let tokens = renew(&self.config, inner, &current.tokens).await?;
        Ok(self.install(tokens))
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let current = self.current();
        f.debug_struct("Session")
            .field("config", &self.config)
            .field("tokens", &current.tokens)
            .field("generation", &current.generation)
            .finish_non_exhaustive()
    }
}

/// New tokens for expired or refused ones: a refresh while the refresh token lives, a login
/// when it is dead or refused.
async fn renew<S, B, R>(config: &Config, inner: S, tokens: &Tokens) -> Result<Tokens, Error>
where
    S: Service<Request<B>, Response = Response<R>> + Clone,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
    B: ClientBody,
    R: http_body::Body,
    R::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    if tokens.refresh().is_alive(now_ms()) {
        match refresh(config, inner.clone(), tokens.refresh().value()).await? {
            Refreshed::Access(answer) => {
                return Ok(tokens.renewed(answer.access_token, answer.refresh_token));
            }
            Refreshed::Refused => {
                tracing::debug!("refresh token refused; logging in again");
            }
        }
    } else {
        tracing::debug!("refresh token expired; logging in again");
    }
    login(config, inner).await
}

#[derive(Serialize)]
struct LoginBody<'a> {
    username: &'a str,
    password: &'a str,
}

#[derive(Deserialize)]
struct LoginAnswer {
    access_token: String,
    refresh_token: String,
}

#[derive(Deserialize)]
struct RefreshAnswer {
    access_token: String,
    /// datarhei Core does not rotate refresh tokens, but a server that does is followed.
    #[serde(default)]
    refresh_token: Option<String>,
}

enum Refreshed {
    Access(RefreshAnswer),
    Refused,
}

/// Logs in with the credentials: `POST <base>/api/login` with `{"username", "password"}`.
///
/// # Errors
///
/// [`SessionExpired`](ErrorKind::SessionExpired) without credentials,
/// [`InvalidCredentials`](ErrorKind::InvalidCredentials) on `401` or `403`,
/// [`Unreachable`](ErrorKind::Unreachable) when the inner service fails, and
/// [`UnexpectedResponse`](ErrorKind::UnexpectedResponse) for anything else.
pub(crate) async fn login<S, B, R>(config: &Config, inner: S) -> Result<Tokens, Error>
where
    S: Service<Request<B>, Response = Response<R>>,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
    B: ClientBody,
    R: http_body::Body,
    R::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    let Some(credentials) = &config.credentials else {
        return Err(Error::new(ErrorKind::SessionExpired));
    };
    let body = Zeroizing::new(
        serde_json::to_vec(&LoginBody {
            username: &credentials.username,
            password: &credentials.password,
        })
        .map_err(|_| Error::new(ErrorKind::InvalidConfig))?,
    );
    let mut request = Request::new(B::from_bytes(Bytes::copy_from_slice(&body)));
    *request.method_mut() = Method::POST;
    *request.uri_mut() = config.login_uri.clone();
    let headers = request.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));

    let response = Oneshot::new(inner, request)
        .await
        .map_err(Error::unreachable)?;
    match response.status() {
        StatusCode::OK => {
            let answer: LoginAnswer = read_json(response).await?;
            check_token(&answer.access_token, StatusCode::OK)?;
            tracing::debug!("logged in");
            Ok(Tokens::new(answer.access_token, answer.refresh_token))
        }
        status @ (StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) => {
            Err(Error::with_status(ErrorKind::InvalidCredentials, status))
        }
        status => Err(Error::with_status(ErrorKind::UnexpectedResponse, status)),
    }
}

/// `GET <base>/api/login/refresh` with the refresh token as bearer.
async fn refresh<S, B, R>(config: &Config, inner: S, refresh: &str) -> Result<Refreshed, Error>
where
    S: Service<Request<B>, Response = Response<R>>,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
    B: ClientBody,
    R: http_body::Body,
    R::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    let Some(bearer) = bearer(refresh) else {
        return Ok(Refreshed::Refused);
    };
    let mut request = Request::new(B::from_bytes(Bytes::new()));
    *request.uri_mut() = config.refresh_uri.clone();
    let headers = request.headers_mut();
    headers.insert(AUTHORIZATION, bearer);
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));

    let response = Oneshot::new(inner, request)
        .await
        .map_err(Error::unreachable)?;
    match response.status() {
        StatusCode::OK => {
            let answer: RefreshAnswer = read_json(response).await?;
            check_token(&answer.access_token, StatusCode::OK)?;
            tracing::debug!("access token refreshed");
            Ok(Refreshed::Access(answer))
        }
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Ok(Refreshed::Refused),
        status => Err(Error::with_status(ErrorKind::UnexpectedResponse, status)),
    }
}

/// An issued access token must be sendable as a header, or the answer is unexpected.
fn check_token(token: &str, status: StatusCode) -> Result<(), Error> {
    if bearer(token).is_none() {
        return Err(Error::unexpected(
            status,
            "the access token is empty or not a valid header value",
        ));
    }
    Ok(())
}

/// Reads a bounded JSON answer.
async fn read_json<R, T>(response: Response<R>) -> Result<T, Error>
where
    R: http_body::Body,
    R::Error: Into<Box<dyn StdError + Send + Sync>>,
    T: DeserializeOwned,
{
    let status = response.status();
    let body = Limited::new(response.into_body(), MAX_ANSWER_LEN)
        .collect()
        .await
        .map_err(|error| Error::unexpected(status, error))?
        .to_bytes();
    serde_json::from_slice(&body).map_err(|error| Error::unexpected(status, error))
}

// Compile-time check: the session is shared between tasks.
const _: fn() = || {
    fn shared<T: Send + Sync>() {}
    shared::<Session>();
};

#[cfg(test)]
mod tests {
    use super::*;

    fn config(base: &str) -> Config {
        Config::new(
            &base.parse().unwrap(),
            "/api/login",
            "/api/login/refresh",
            None,
            Duration::from_secs(5),
        )
        .unwrap()
    }

    #[test]
    fn only_the_base_origin_gets_the_token() {
        struct Case {
            uri: &'static str,
            base: bool,
        }
        let config = config("http://Core.example:8080/");
        let cases = [
            Case {
                uri: "http://core.example:8080/api/v3/ping",
                base: true,
            },
            Case {
                uri: "HTTP://CORE.EXAMPLE:8080/x",
                base: true,
            },
            Case {
                uri: "http://user@core.example:8080/x",
                base: true,
            },
            Case {
                uri: "https://core.example:8080/x",
                base: false,
            },
            Case {
                uri: "http://core.example/x",
                base: false,
            },
            Case {
                uri: "http://core.example:8081/x",
                base: false,
            },
            Case {
                uri: "http://core.example.evil:8080/x",
                base: false,
            },
            Case {
                uri: "http://evil.example:8080/x",
                base: false,
            },
            Case {
                uri: "http://core.example:8080@evil.example:8080/x",
                base: false,
            },
        ];
        for case in cases {
            let target = config.target(&case.uri.parse().unwrap());
            let base = matches!(target, Target::Base(None));
            assert_eq!(base, case.base, "{}", case.uri);
        }
        let default_port = config_with_default_port();
        assert!(matches!(
            default_port.target(&"http://core.example:80/x".parse().unwrap()),
            Target::Base(None)
        ));
    }

    fn config_with_default_port() -> Config {
        config("http://core.example")
    }

    #[test]
    fn a_path_is_resolved_against_the_base_url() {
        for (base, uri, expected) in [
            (
                "http://core.example:8080",
                "/api/v3/ping?x=1",
                "http://core.example:8080/api/v3/ping?x=1",
            ),
            (
                "http://core.example/core/",
                "/api/v3/ping",
                "http://core.example/core/api/v3/ping",
            ),
        ] {
            let Target::Base(Some(resolved)) = config(base).target(&uri.parse().unwrap()) else {
                panic!("{uri} is for the base");
            };
            assert_eq!(resolved, expected);
        }
        assert!(matches!(
            config("http://core.example").target(&"*".parse().unwrap()),
            Target::Invalid
        ));
    }

    #[test]
    fn route_uris_keep_the_base_path() {
        let config = config("https://core.example/core/");
        assert_eq!(config.login_uri, "https://core.example/core/api/login");
        assert_eq!(
            config.refresh_uri,
            "https://core.example/core/api/login/refresh"
        );
    }

    #[test]
    fn unusable_base_urls_are_configuration_errors() {
        for base in ["/api", "ftp://core.example", "http://core.example/?a=b"] {
            let error = Config::new(
                &base.parse().unwrap(),
                "/api/login",
                "/api/login/refresh",
                None,
                Duration::ZERO,
            )
            .unwrap_err();
            assert_eq!(error.kind(), ErrorKind::InvalidConfig, "{base}");
        }
        let error = Config::new(
            &"http://core.example".parse().unwrap(),
            "api/login",
            "/api/login/refresh",
            None,
            Duration::ZERO,
        )
        .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidConfig);
    }

    #[test]
    fn the_margin_is_capped_to_a_tenth_of_the_lifetime() {
        let config = config("http://core.example");
        assert_eq!(config.margin_ms(Some(600_000)), 5_000);
        assert_eq!(config.margin_ms(Some(1_000)), 100);
        assert_eq!(config.margin_ms(None), 5_000);
    }

    #[test]
    fn the_bearer_is_sensitive_and_refuses_bad_tokens() {
        let value = bearer("abc.def.ghi").unwrap();
        assert!(value.is_sensitive());
        assert_eq!(value, "Bearer abc.def.ghi");
        assert!(bearer("").is_none());
        assert!(bearer("a\nb").is_none());
    }

    #[test]
    fn debug_redacts_the_password() {
        let credentials = Credentials::new("admin".to_owned(), "hunter2hunter2".to_owned());
        let debug = format!("{credentials:?}");
        assert!(debug.contains("admin"));
        assert!(!debug.contains("hunter2"));
    }
}
