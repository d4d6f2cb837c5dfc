//! Fetching a tenant's JWKS document (and its OpenID Connect discovery document) over HTTP.
//!
//! The HTTP client is any tower `Service<Request<Empty<Bytes>>>` (see
//! [`JwtLoginBuilder::jwks_client`](crate::JwtLoginBuilder::jwks_client)); with the
//! `jwks-rustls` feature, hyper-util's client over rustls is the default.

use std::fmt;
use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT, HeaderValue};
use http::{Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt as _, Empty, Limited};
use serde::Deserialize;
use tower::ServiceExt as _;
use tower::util::BoxCloneSyncService;

use super::keyset::KeySet;
use super::tenant::{KeySource, TenantConfig, check_url};

/// The boxed error of an HTTP client.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The largest JWKS or discovery document read, in bytes.
const MAX_DOCUMENT_LEN: usize = 256 * 1024;

/// How long one fetch (discovery included) may take before it is given up.
pub(crate) const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Any HTTP client, with the body of its responses already read (up to
/// [`MAX_DOCUMENT_LEN`]).
#[derive(Clone)]
pub(crate) struct HttpClient(BoxCloneSyncService<Request<Empty<Bytes>>, Response<Bytes>, BoxError>);

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient").finish_non_exhaustive()
    }
}

impl HttpClient {
    /// Wraps a tower HTTP client.
    pub(crate) fn new<S, B>(client: S) -> Self
    where
        S: tower_service::Service<Request<Empty<Bytes>>, Response = Response<B>>
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        let service = tower::service_fn(move |request: Request<Empty<Bytes>>| {
            let client = client.clone();
            async move {
                let response = client.oneshot(request).await.map_err(Into::into)?;
                let (parts, body) = response.into_parts();
                let body = Limited::new(body, MAX_DOCUMENT_LEN).collect().await?;
                Ok::<_, BoxError>(Response::from_parts(parts, body.to_bytes()))
            }
        });
        Self(BoxCloneSyncService::new(service))
    }

    /// hyper-util's client over rustls (ring), trusting the webpki roots.
    #[cfg(feature = "jwks-rustls")]
    pub(crate) fn rustls() -> Self {
        let provider = rustls::crypto::ring::default_provider();
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(provider)
            .expect("ring supports the safe default protocol versions")
            // Plain http is refused when the configuration is validated, except on loopback
            // addresses for tests.
            .https_or_http()
            .enable_http1()
            .build();
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build::<_, Empty<Bytes>>(connector);
        Self::new(client)
    }

    /// `GET url`, expecting a 200.
    async fn get(&self, url: &Uri) -> Result<Bytes, FetchError> {
        let mut request = Request::new(Empty::new());
        *request.uri_mut() = url.clone();
        request
            .headers_mut()
            .insert(ACCEPT, HeaderValue::from_static("application/json"));
        let response = self
            .0
            .clone()
            .oneshot(request)
            .await
            .map_err(FetchError::Http)?;
        if response.status() != StatusCode::OK {
            return Err(FetchError::Status(response.status()));
        }
        Ok(response.into_body())
    }
}

/// Why a fetch failed; logged, never shown to a client.
#[derive(Debug)]
pub(crate) enum FetchError {
    Http(BoxError),
    Status(StatusCode),
    Json(serde_json::Error),
    Discovery(&'static str),
    Timeout,
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Http(error) => write!(f, "HTTP request failed: {error}"),
            Self::Status(status) => write!(f, "unexpected status {status}"),
            Self::Json(error) => write!(f, "invalid document: {error}"),
            Self::Discovery(reason) => write!(f, "invalid discovery document: {reason}"),
            Self::Timeout => write!(f, "no answer within {FETCH_TIMEOUT:?}"),
        }
    }
}

/// Fetches the keys of one tenant.
#[derive(Debug)]
pub(crate) struct Fetcher {
    client: HttpClient,
    /// The JWKS URL found by discovery, once found.
    discovered: OnceLock<Uri>,
}

#[derive(Deserialize)]
struct DiscoveryDocument {
    issuer: String,
    jwks_uri: String,
}

impl Fetcher {
    pub(crate) const fn new(client: HttpClient) -> Self {
        Self {
            client,
            discovered: OnceLock::new(),
        }
    }

    /// Fetches and parses the tenant's keys, giving up after [`FETCH_TIMEOUT`].
    pub(crate) async fn fetch(&self, tenant: &TenantConfig) -> Result<KeySet, FetchError> {
        tokio::time::timeout(FETCH_TIMEOUT, self.fetch_unbounded(tenant))
            .await
            .map_err(|_| FetchError::Timeout)?
    }

    async fn fetch_unbounded(&self, tenant: &TenantConfig) -> Result<KeySet, FetchError> {
        let url = match &tenant.source {
            KeySource::Jwks(url) => url,
            KeySource::Discovery(config_url) => match self.discovered.get() {
                Some(url) => url,
                None => {
                    let url = self.discover(tenant, config_url).await?;
                    self.discovered.get_or_init(|| url)
                }
            },
        };
        let json = self.client.get(url).await?;
        KeySet::parse(&json).map_err(FetchError::Json)
    }

    /// Reads the JWKS URL from the discovery document, which must be the tenant's own.
    async fn discover(&self, tenant: &TenantConfig, config_url: &Uri) -> Result<Uri, FetchError> {
        let json = self.client.get(config_url).await?;
        let document: DiscoveryDocument =
            serde_json::from_slice(&json).map_err(FetchError::Json)?;
        if document.issuer != *tenant.issuer {
            return Err(FetchError::Discovery(
                "its issuer is not the configured issuer",
            ));
        }
        check_url(&document.jwks_uri, tenant.insecure_loopback).map_err(FetchError::Discovery)
    }
}
