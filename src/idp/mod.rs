//! Login with an external identity provider's access token (Auth0, or any OpenID Connect
//! issuer), verified against the provider's published keys (JWKS).
//!
//! A client that holds an access token of a configured [`Tenant`] sends it to the login route as
//! `Authorization: Bearer <token>`, with no body, and gets the layer's own access and refresh
//! tokens for the token's subject. If the request also has a non-empty JSON body, the body's
//! username and password are checked and the bearer token is ignored: the body wins.
//!
//! Answers: `200` with tokens; `401` with `WWW-Authenticate` for any token that is not
//! acceptable (unknown issuer, unknown key, wrong algorithm or audience, expired, subject not
//! allowed, the layer's own tokens); `503` with `Retry-After` when the token names a tenant
//! whose keys could never be fetched yet, since the fault is then ours, not the client's.
//!
//! # Keys
//!
//! Each tenant's keys are fetched when the layer is built inside a tokio runtime (or else on the
//! first login with a provider's token), then every [refresh
//! interval](Tenant::refresh_interval) in the background. A token whose `kid` is not cached
//! causes one more fetch, at most once per 10 seconds per tenant; its login waits for that fetch
//! for at most 2 seconds. Fetches run in their own tasks and give up after 10 seconds: no
//! request waits on a lock held across the network, and a failing or hanging provider never
//! delays logins with cached keys or with passwords. A failed fetch is logged and keeps the
//! keys already cached.

mod cache;
mod fetch;
mod keyset;
mod tenant;
mod verify;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub(crate) use fetch::HttpClient;
pub use tenant::Tenant;
pub(crate) use verify::{IdpError, IdpLogin};

use self::cache::KeyCache;
use crate::error::BuildError;

/// The identity provider settings of the builder.
#[derive(Default)]
pub(crate) struct IdpSettings {
    pub(crate) tenants: Vec<Tenant>,
    pub(crate) client: Option<HttpClient>,
}

impl fmt::Debug for IdpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdpSettings")
            .field("tenants", &self.tenants)
            .field("client", &self.client.as_ref().map(|_| "custom"))
            .finish()
    }
}

/// The configured tenants and their key caches.
pub(crate) struct Idp {
    tenants: HashMap<Box<str>, Arc<KeyCache>>,
    /// Every tenant's allowed subjects: the layer's tokens for them are accepted.
    subjects: HashSet<Box<str>>,
    leeway: u64,
    /// Whether the background refresh tasks were spawned.
    started: AtomicBool,
}

impl Idp {
    /// Validates the tenants and, inside a tokio runtime, starts fetching their keys.
    pub(crate) fn new(settings: IdpSettings, leeway: u64) -> Result<Self, BuildError> {
        let mut tenants = HashMap::with_capacity(settings.tenants.len());
        let mut subjects = HashSet::new();
        if !settings.tenants.is_empty() {
            let client = match settings.client {
                Some(client) => client,
                None => default_client()?,
            };
            for tenant in settings.tenants {
                let config = tenant.into_config()?;
                subjects.extend(config.subjects.iter().cloned());
                let issuer = config.issuer.clone();
                let cache = Arc::new(KeyCache::new(config, client.clone()));
                if tenants.insert(issuer.clone(), cache).is_some() {
                    return Err(BuildError::InvalidTenant {
                        issuer: issuer.into(),
                        reason: "the issuer is configured more than once",
                    });
                }
            }
        }
        let idp = Self {
            tenants,
            subjects,
            leeway,
            started: AtomicBool::new(false),
        };
        idp.start();
        Ok(idp)
    }

    /// Whether `subject` may hold the layer's tokens because a tenant allows it.
    #[inline]
    pub(crate) fn allows(&self, subject: &str) -> bool {
        self.subjects.contains(subject)
    }

    /// Spawns the background refresh of every tenant's keys, once, if a runtime is running.
    fn start(&self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.tenants.is_empty() || self.started.swap(true, Ordering::AcqRel) {
            return;
        }
        for cache in self.tenants.values() {
            cache.spawn_refresh(&runtime);
        }
    }

    /// The subject of an identity provider's access token, if it may log in.
    pub(crate) async fn login(&self, token: &[u8]) -> Result<IdpLogin, IdpError> {
        self.start();
        verify::verify(
            |issuer| self.tenants.get(issuer).cloned(),
            token,
            self.leeway,
        )
        .await
    }
}

impl fmt::Debug for Idp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Idp")
            .field("issuers", &self.tenants.keys().collect::<Vec<_>>())
            .field("subjects", &self.subjects.len())
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "jwks-rustls")]
#[allow(clippy::unnecessary_wraps)]
fn default_client() -> Result<HttpClient, BuildError> {
    Ok(HttpClient::rustls())
}

#[cfg(not(feature = "jwks-rustls"))]
const fn default_client() -> Result<HttpClient, BuildError> {
    Err(BuildError::NoJwksClient)
}
