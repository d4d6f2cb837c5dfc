//! The builder's settings for external identity providers (feature `jwks`).

use super::JwtLoginBuilder;
#[cfg(doc)]
use crate::BuildError;

impl JwtLoginBuilder {
    /// Adds an external identity provider tenant: its access tokens, sent as bearer tokens to
    /// the login route without a body, are exchanged for the layer's own tokens. Default is
    /// none.
    ///
    /// See [`Tenant`](crate::Tenant) for what a token must satisfy, and the README for the
    /// answers and the key cache. Build the layer inside a tokio runtime to have the keys
    /// fetched at once; otherwise they are fetched on the first such login.
    #[cfg(feature = "jwks")]
    #[cfg_attr(docsrs, doc(cfg(feature = "jwks")))]
    pub fn tenant(mut self, tenant: crate::Tenant) -> Self {
        self.idp.tenants.push(tenant);
        self
    }

    /// The HTTP client that fetches the tenants' keys: any tower service from
    /// `http::Request<http_body_util::Empty<Bytes>>` to an `http::Response` (a timeout or a
    /// proxy can be layered on it). Responses larger than 256 KiB are refused.
    ///
    /// Default is hyper-util's client over rustls with the webpki roots, with the
    /// `jwks-rustls` feature; without it, building a layer with tenants and no client fails
    /// with [`BuildError::NoJwksClient`].
    #[cfg(feature = "jwks")]
    #[cfg_attr(docsrs, doc(cfg(feature = "jwks")))]
    pub fn jwks_client<S, B>(mut self, client: S) -> Self
    where
        S: tower_service::Service<
                http::Request<http_body_util::Empty<bytes::Bytes>>,
                Response = http::Response<B>,
            > + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
        S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        self.idp.client = Some(crate::idp::HttpClient::new(client));
        self
    }
}
