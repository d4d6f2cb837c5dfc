//! The client's exchanges with the login API: a login with the credentials, a refresh with the
//! refresh token, and the choice between them when tokens must be renewed. Every answer is read
//! with a bound, and every call, answer included, within the configured time.

use std::error::Error as StdError;
use std::future::Future;

use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Limited};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tower::util::Oneshot;
use tower_service::Service;
use zeroize::Zeroizing;

use super::body::ClientBody;
use super::config::Config;
use super::error::{Error, ErrorKind};
use super::tokens::{Tokens, bearer};
use crate::clock::now_ms;

/// The largest login or refresh answer read, in bytes. datarhei Core's are under 1 KiB.
const MAX_ANSWER_LEN: usize = 64 * 1024;

/// New tokens for expired or refused ones: a refresh while the refresh token lives, a login
/// when it is dead or refused.
pub(crate) async fn renew<S, B, R>(
    config: &Config,
    inner: S,
    tokens: &Tokens,
) -> Result<Tokens, Error>
where
    S: Service<Request<B>, Response = Response<R>> + Clone,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
    B: ClientBody,
    R: http_body::Body,
    R::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    if tokens.refresh().is_alive(now_ms()) {
        let refreshed = within(
            config,
            refresh(config, inner.clone(), tokens.refresh().value()),
        );
        match refreshed.await? {
            Refreshed::Access(answer) => {
                return Ok(tokens.renewed(
                    answer.access_token,
                    answer.refresh_token,
                    Some(now_ms()),
                ));
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

/// `call`, within the configured [`auth_timeout`](super::JwtClientBuilder::auth_timeout).
async fn within<T>(
    config: &Config,
    call: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    let Some(limit) = config.auth_timeout else {
        return call.await;
    };
    tokio::time::timeout(limit, call).await.unwrap_or_else(|_| {
        tracing::debug!(?limit, "login or refresh call timed out");
        Err(Error::new(ErrorKind::TimedOut))
    })
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
/// [`Unreachable`](ErrorKind::Unreachable) when the inner service fails,
/// [`TimedOut`](ErrorKind::TimedOut) past the configured time, and
/// [`UnexpectedResponse`](ErrorKind::UnexpectedResponse) for anything else.
pub(crate) async fn login<S, B, R>(config: &Config, inner: S) -> Result<Tokens, Error>
where
    S: Service<Request<B>, Response = Response<R>>,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
    B: ClientBody,
    R: http_body::Body,
    R::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    within(config, login_once(config, inner)).await
}

async fn login_once<S, B, R>(config: &Config, inner: S) -> Result<Tokens, Error>
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
            Ok(Tokens::received(
                answer.access_token,
                answer.refresh_token,
                now_ms(),
            ))
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
