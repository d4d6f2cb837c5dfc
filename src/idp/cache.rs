//! One tenant's key cache: a snapshot that readers clone, swapped whole after each fetch.
//!
//! Readers take a read lock only long enough to clone an `Arc`; no lock is ever held across a
//! network call. Fetches run in their own tasks, one at a time per tenant (single flight):
//!
//! - at start-up and then every refresh interval, in the background;
//! - when a token names a `kid` the snapshot lacks (key rotation), at most once per
//!   [`REFETCH_MIN_INTERVAL`]. The request that asked waits for that fetch for at most
//!   [`UNKNOWN_KID_WAIT`], without holding anything; requests arriving while a fetch is running
//!   wait for that one instead of starting another, and requests arriving after it within the
//!   interval are answered at once from the snapshot.
//!
//! A fetch that fails or hangs (it is given up after [`FETCH_TIMEOUT`]) leaves the snapshot as
//! it was: tokens of cached keys go on being accepted.
//!
//! [`FETCH_TIMEOUT`]: super::fetch::FETCH_TIMEOUT

use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use tokio::runtime::Handle;
use tokio::sync::watch;
use tracing::Instrument as _;

use super::fetch::{Fetcher, HttpClient};
use super::keyset::{KeySet, VerifyKey};
use super::tenant::TenantConfig;
use crate::observe::{self, JwksFetch};

/// The shortest time between two fetches caused by unknown `kid`s, per tenant.
pub(crate) const REFETCH_MIN_INTERVAL: Duration = Duration::from_secs(10);

/// How long a login with an unknown `kid` waits for the fetch it caused (or joined).
pub(crate) const UNKNOWN_KID_WAIT: Duration = Duration::from_secs(2);

/// What the cache knows about a `kid`.
#[derive(Debug)]
pub(crate) enum Lookup {
    /// The tenant publishes this key.
    Found(Arc<VerifyKey>),
    /// The tenant's keys are known, and this is not one of them.
    Unknown,
    /// No key set was ever fetched for the tenant.
    NeverLoaded,
}

/// Why a fetch is started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    /// Start-up and the refresh interval.
    Schedule,
    /// A token with a `kid` the snapshot lacks: rate-limited.
    UnknownKid,
}

#[derive(Debug, Default)]
struct FetchState {
    in_flight: bool,
    last_unknown_kid_fetch: Option<Instant>,
}

/// The key cache of one tenant.
#[derive(Debug)]
pub(crate) struct KeyCache {
    tenant: TenantConfig,
    fetcher: Fetcher,
    /// `None` until a fetch first succeeds.
    keys: RwLock<Option<Arc<KeySet>>>,
    /// Held only to read or flip the flags, never across an `await`.
    state: Mutex<FetchState>,
    /// Bumped each time a fetch ends, successful or not, to wake the requests waiting for it.
    fetched: watch::Sender<u64>,
}

impl KeyCache {
    pub(crate) fn new(tenant: TenantConfig, client: HttpClient) -> Self {
        Self {
            tenant,
            fetcher: Fetcher::new(client),
            keys: RwLock::new(None),
            state: Mutex::new(FetchState::default()),
            fetched: watch::Sender::new(0),
        }
    }

    pub(crate) const fn tenant(&self) -> &TenantConfig {
        &self.tenant
    }

    /// The key with this `kid`, fetching the tenant's keys again (rate-limited) if it is not
    /// cached. Waits at most [`UNKNOWN_KID_WAIT`], and not at all for a cached key.
    pub(crate) async fn key(self: &Arc<Self>, kid: &str) -> Lookup {
        let lookup = self.lookup(kid);
        if matches!(lookup, Lookup::Found(_)) {
            return lookup;
        }
        // Subscribe before starting, so that a fetch ending in between still wakes us.
        let mut fetched = self.fetched.subscribe();
        if self.start_fetch(Trigger::UnknownKid) {
            let _ = tokio::time::timeout(UNKNOWN_KID_WAIT, fetched.changed()).await;
        }
        self.lookup(kid)
    }

    fn lookup(&self, kid: &str) -> Lookup {
        let snapshot = self
            .keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        match snapshot {
            None => Lookup::NeverLoaded,
            Some(keys) => keys
                .get(kid)
                .map_or(Lookup::Unknown, |key| Lookup::Found(Arc::clone(key))),
        }
    }

    /// Fetches the keys now and then every refresh interval, for as long as the cache lives,
    /// on this runtime.
    pub(crate) fn spawn_refresh(self: &Arc<Self>, runtime: &Handle) {
        let cache = Arc::downgrade(self);
        let interval = self.tenant.refresh_interval;
        runtime.spawn(async move {
            loop {
                match cache.upgrade() {
                    Some(cache) => cache.start_fetch(Trigger::Schedule),
                    None => return,
                };
                tokio::time::sleep(interval).await;
            }
        });
    }

    /// Starts a fetch in its own task unless one is already running or the trigger is
    /// rate-limited. Whether a fetch is running when it returns.
    fn start_fetch(self: &Arc<Self>, trigger: Trigger) -> bool {
        let Ok(runtime) = Handle::try_current() else {
            return false;
        };
        {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            if state.in_flight {
                return true;
            }
            if trigger == Trigger::UnknownKid {
                let now = Instant::now();
                if state
                    .last_unknown_kid_fetch
                    .is_some_and(|last| now.duration_since(last) < REFETCH_MIN_INTERVAL)
                {
                    return false;
                }
                state.last_unknown_kid_fetch = Some(now);
            }
            state.in_flight = true;
        }
        let cache = Arc::clone(self);
        let span = tracing::debug_span!("jwks_fetch", issuer = &*self.tenant.issuer, ?trigger);
        runtime.spawn(
            async move {
                // Clears `in_flight` and wakes the waiters even if the task is cancelled.
                let _done = FetchDone(&cache);
                cache.fetch().await;
            }
            .instrument(span),
        );
        true
    }

    async fn fetch(&self) {
        let issuer = &*self.tenant.issuer;
        match self.fetcher.fetch(&self.tenant).await {
            Ok(keys) => {
                tracing::debug!(issuer, keys = keys.len(), "fetched the JWKS");
                if keys.len() == 0 {
                    tracing::warn!(issuer, "the JWKS holds no usable key");
                    observe::jwks_fetched(issuer, JwksFetch::Empty);
                } else {
                    observe::jwks_fetched(issuer, JwksFetch::Success);
                }
                *self.keys.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(keys));
            }
            Err(error) => {
                tracing::warn!(issuer, %error, "fetching the JWKS failed; keeping the cached keys");
                observe::jwks_fetched(issuer, JwksFetch::Failure);
            }
        }
    }
}

/// Marks the end of a fetch when dropped.
struct FetchDone<'a>(&'a KeyCache);

impl Drop for FetchDone<'_> {
    fn drop(&mut self) {
        self.0
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .in_flight = false;
        self.0.fetched.send_modify(|n| *n = n.wrapping_add(1));
    }
}
