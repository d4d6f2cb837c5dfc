//! The configuration of one identity provider tenant, validated once when the layer is built.

use std::collections::HashSet;
use std::net::IpAddr;
use std::time::Duration;

use http::Uri;
use http::uri::Scheme;

use crate::error::BuildError;
use crate::scope::Scopes;

/// How often a tenant's keys are fetched again in the background, unless configured.
pub(crate) const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(600);

/// The shortest background refresh interval accepted.
const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(10);

/// An external identity provider tenant (an Auth0 tenant, or any OpenID Connect issuer) whose
/// access tokens the login route exchanges for the layer's own tokens.
///
/// A token is accepted when its `iss` is exactly this issuer, it is signed by one of the
/// tenant's published keys, its `aud` names one of the [audiences](Self::audience), and its
/// `sub` is one of the [allowed subjects](Self::allow_subject):
///
/// ```
/// use tower_jwt_login::{JwtLoginLayer, Password, Tenant};
///
/// # #[cfg(feature = "jwks-rustls")]
/// # {
/// let layer = JwtLoginLayer::builder()
///     .user("admin", Password::plain("correct horse battery staple"))
///     .tenant(
///         Tenant::new("https://example.eu.auth0.com/")
///             .audience("https://core.example.com/api")
///             .allow_subject("auth0|5f7c8ec7c33c6c004bbafe82"),
///     )
///     .build()?;
/// # }
/// # Ok::<_, tower_jwt_login::BuildError>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct Tenant {
    issuer: String,
    audiences: Vec<String>,
    subjects: Vec<String>,
    jwks_url: Option<String>,
    discovery: bool,
    insecure_loopback: bool,
    refresh_interval: Duration,
    scopes_claim: Option<String>,
    allowed_scopes: Option<Vec<String>>,
}

impl Tenant {
    /// A tenant with this issuer: the exact `iss` of its tokens, an `https` URL such as
    /// `https://example.eu.auth0.com/` (Auth0 issuers end with a slash).
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audiences: Vec::new(),
            subjects: Vec::new(),
            jwks_url: None,
            discovery: false,
            insecure_loopback: false,
            refresh_interval: DEFAULT_REFRESH_INTERVAL,
            scopes_claim: None,
            allowed_scopes: None,
        }
    }

    /// Adds an accepted audience: the token's `aud` (a string, or an array of strings) must
    /// contain one of them. At least one is required.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Adds a subject (the token's `sub`, such as `auth0|5f7c8ec7c33c6c004bbafe82`) allowed to
    /// log in. At least one is required.
    ///
    /// The layer's tokens for this subject are then accepted on protected routes like those of
    /// a local user of the same name: choose subjects that cannot collide with local usernames.
    pub fn allow_subject(mut self, subject: impl Into<String>) -> Self {
        self.subjects.push(subject.into());
        self
    }

    /// Where the tenant publishes its keys. Default is `<issuer>.well-known/jwks.json` (a `/`
    /// is put between them if the issuer does not end with one), or what
    /// [discovery](Self::discovery) finds.
    pub fn jwks_url(mut self, url: impl Into<String>) -> Self {
        self.jwks_url = Some(url.into());
        self
    }

    /// Finds the JWKS URL through OpenID Connect discovery, at
    /// `<issuer>.well-known/openid-configuration`, whose `issuer` must be this issuer.
    /// Ignored when a [`jwks_url`](Self::jwks_url) is set. Default is `false`.
    pub fn discovery(mut self, enabled: bool) -> Self {
        self.discovery = enabled;
        self
    }

    /// Allows plain `http://` issuer and JWKS URLs on a loopback address (`127.0.0.1`, `::1`),
    /// for tests against a local identity provider. Every other URL must be `https`.
    /// Default is `false`.
    pub fn allow_insecure_loopback(mut self, enabled: bool) -> Self {
        self.insecure_loopback = enabled;
        self
    }

    /// How often the keys are fetched again in the background; at least 10 seconds. Default is
    /// 10 minutes.
    pub fn refresh_interval(mut self, interval: Duration) -> Self {
        self.refresh_interval = interval;
        self
    }

    /// The claim of the provider's token whose scopes the login is granted: a space-separated
    /// string (OAuth's `scope`, as in Auth0's access tokens) or an array of strings (Auth0's
    /// RBAC `permissions`), whichever form the token has. Default is none: the login is granted
    /// no scopes.
    ///
    /// The provider's token is not ours to refuse over its scopes: an entry that is not a valid
    /// scope (RFC 6749 §3.3, see [`Scopes`]) is dropped, and a claim of another type (a number,
    /// an object) or a missing one grants none. Keep the grant small with
    /// [`allow_scopes`](Self::allow_scopes): a token longer than the
    /// [maximum token size](crate::JwtLoginBuilder::max_token_size) is not issued.
    ///
    /// A refresh keeps what the login granted for as long as the login is refreshed: the
    /// provider is not asked again (a logout, or the subject no longer allowed, ends it).
    ///
    /// ```
    /// use tower_jwt_login::Tenant;
    ///
    /// let tenant = Tenant::new("https://example.eu.auth0.com/")
    ///     .audience("https://core.example.com/api")
    ///     .allow_subject("auth0|5f7c8ec7c33c6c004bbafe82")
    ///     .scopes_claim("permissions")
    ///     .allow_scopes(["streams:read", "streams:write"]);
    /// ```
    pub fn scopes_claim(mut self, claim: impl Into<String>) -> Self {
        self.scopes_claim = Some(claim.into());
        self
    }

    /// Keeps only these of the [mapped scopes](Self::scopes_claim); the others are dropped
    /// without a word. Each must be a valid scope. Adds to those allowed before. Default is
    /// no allow-list: every valid scope of the claim is kept.
    pub fn allow_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let allowed = self.allowed_scopes.get_or_insert_with(Vec::new);
        allowed.extend(scopes.into_iter().map(Into::into));
        self
    }

    /// Validates the tenant.
    pub(crate) fn into_config(self) -> Result<TenantConfig, BuildError> {
        let invalid = |reason: &'static str| BuildError::InvalidTenant {
            issuer: self.issuer.clone(),
            reason,
        };
        let issuer_uri = check_url(&self.issuer, self.insecure_loopback).map_err(invalid)?;
        if issuer_uri.query().is_some() {
            return Err(invalid("the issuer must not have a query"));
        }
        if self.audiences.is_empty() || self.audiences.iter().any(String::is_empty) {
            return Err(invalid("at least one non-empty audience is required"));
        }
        if self.subjects.is_empty() || self.subjects.iter().any(String::is_empty) {
            return Err(invalid(
                "at least one non-empty allowed subject is required",
            ));
        }
        if self.refresh_interval < MIN_REFRESH_INTERVAL {
            return Err(invalid("the refresh interval must be at least 10 seconds"));
        }
        if self.scopes_claim.as_deref() == Some("") {
            return Err(invalid("the scopes claim must not be empty"));
        }
        if self.allowed_scopes.is_some() && self.scopes_claim.is_none() {
            return Err(invalid(
                "allowed scopes need a scopes claim to map them from",
            ));
        }
        let allowed_scopes = self.allowed_scopes.as_ref().map(Scopes::new).transpose()?;
        let slash = if self.issuer.ends_with('/') { "" } else { "/" };
        let source = match (&self.jwks_url, self.discovery) {
            (Some(url), _) => {
                KeySource::Jwks(check_url(url, self.insecure_loopback).map_err(|_| {
                    invalid("the JWKS URL must be https (see allow_insecure_loopback)")
                })?)
            }
            (None, false) => KeySource::Jwks(
                check_url(
                    &format!("{}{slash}.well-known/jwks.json", self.issuer),
                    self.insecure_loopback,
                )
                .map_err(invalid)?,
            ),
            (None, true) => KeySource::Discovery(
                check_url(
                    &format!("{}{slash}.well-known/openid-configuration", self.issuer),
                    self.insecure_loopback,
                )
                .map_err(invalid)?,
            ),
        };
        Ok(TenantConfig {
            subjects: self
                .subjects
                .into_iter()
                .map(String::into_boxed_str)
                .collect(),
            issuer: self.issuer.into_boxed_str(),
            audiences: self.audiences,
            source,
            insecure_loopback: self.insecure_loopback,
            refresh_interval: self.refresh_interval,
            scopes_claim: self.scopes_claim.map(String::into_boxed_str),
            allowed_scopes,
        })
    }
}

/// A validated tenant.
#[derive(Debug)]
pub(crate) struct TenantConfig {
    pub(crate) issuer: Box<str>,
    pub(crate) audiences: Vec<String>,
    pub(crate) subjects: HashSet<Box<str>>,
    pub(crate) source: KeySource,
    pub(crate) insecure_loopback: bool,
    pub(crate) refresh_interval: Duration,
    /// The claim scopes are mapped from; none maps none.
    pub(crate) scopes_claim: Option<Box<str>>,
    /// The scopes kept of those mapped; `None` keeps every valid one.
    pub(crate) allowed_scopes: Option<Scopes>,
}

/// Where a tenant's keys come from.
#[derive(Debug)]
pub(crate) enum KeySource {
    /// A JWKS document at this URL.
    Jwks(Uri),
    /// The JWKS URL named by the OpenID Connect discovery document at this URL.
    Discovery(Uri),
}

/// Checks that `url` is an absolute `https` URL without user information, or a plain `http`
/// URL on a loopback address when `insecure_loopback` allows it.
pub(crate) fn check_url(url: &str, insecure_loopback: bool) -> Result<Uri, &'static str> {
    const NOT_A_URL: &str = "not an absolute https URL";
    let uri: Uri = url.parse().map_err(|_| NOT_A_URL)?;
    let (Some(scheme), Some(authority)) = (uri.scheme(), uri.authority()) else {
        return Err(NOT_A_URL);
    };
    if authority.as_str().contains('@') || authority.host().is_empty() {
        return Err("the URL must name a host and no user information");
    }
    if *scheme == Scheme::HTTPS {
        return Ok(uri);
    }
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let loopback = host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if *scheme == Scheme::HTTP && insecure_loopback && loopback {
        return Ok(uri);
    }
    Err(
        "the URL must be https (plain http only on a loopback address, with allow_insecure_loopback)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(issuer: &str) -> Tenant {
        Tenant::new(issuer).audience("api").allow_subject("user")
    }

    #[test]
    fn default_jwks_url_is_below_the_issuer() {
        let config = tenant("https://example.eu.auth0.com/")
            .into_config()
            .unwrap();
        let KeySource::Jwks(url) = config.source else {
            panic!("no discovery was asked for")
        };
        assert_eq!(url, "https://example.eu.auth0.com/.well-known/jwks.json");

        let config = tenant("https://id.example.com/realms/core")
            .discovery(true)
            .into_config()
            .unwrap();
        let KeySource::Discovery(url) = config.source else {
            panic!("discovery was asked for")
        };
        assert_eq!(
            url,
            "https://id.example.com/realms/core/.well-known/openid-configuration"
        );
    }

    #[test]
    fn plain_http_only_on_loopback_and_only_when_enabled() {
        assert!(tenant("http://127.0.0.1:8080/").into_config().is_err());
        assert!(
            tenant("http://127.0.0.1:8080/")
                .allow_insecure_loopback(true)
                .into_config()
                .is_ok()
        );
        assert!(
            tenant("http://[::1]:8080/")
                .allow_insecure_loopback(true)
                .into_config()
                .is_ok()
        );
        for url in [
            "http://example.com/",
            "http://10.0.0.1/",
            "http://localhost.example.com/",
        ] {
            assert!(
                tenant(url)
                    .allow_insecure_loopback(true)
                    .into_config()
                    .is_err(),
                "{url}"
            );
        }
        assert!(
            tenant("https://example.com/")
                .jwks_url("http://example.com/jwks.json")
                .into_config()
                .is_err()
        );
    }

    #[test]
    fn every_misconfigured_tenant_is_a_build_error() {
        for bad in [
            Tenant::new("https://example.com/").allow_subject("user"),
            Tenant::new("https://example.com/").audience("api"),
            Tenant::new("https://example.com/")
                .audience("")
                .allow_subject("user"),
            Tenant::new("https://example.com/")
                .audience("api")
                .allow_subject(""),
            tenant("example.com"),
            tenant("/relative"),
            tenant("https://user:pw@example.com/"),
            tenant("https://example.com/?q=1"),
            tenant("ftp://example.com/"),
            tenant("https://example.com/").refresh_interval(Duration::from_secs(1)),
            tenant("https://example.com/").jwks_url("not a url"),
            tenant("https://example.com/").scopes_claim(""),
            tenant("https://example.com/").allow_scopes(["read"]),
        ] {
            let debug = format!("{bad:?}");
            assert!(
                matches!(bad.into_config(), Err(BuildError::InvalidTenant { .. })),
                "{debug}"
            );
        }
    }

    #[test]
    fn allowed_scopes_are_validated() {
        let tenant = tenant("https://example.com/").scopes_claim("permissions");
        let config = tenant.clone().allow_scopes(["write", "read"]).into_config();
        assert_eq!(
            config.unwrap().allowed_scopes.unwrap().as_str(),
            "read write"
        );
        assert_eq!(
            tenant
                .allow_scopes(["read", "a b"])
                .into_config()
                .unwrap_err(),
            BuildError::InvalidScope {
                scope: "a b".into()
            }
        );
    }
}
