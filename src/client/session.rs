//! The token holder: the current tokens as a snapshot any request reads without waiting, and the
//! single-flight renewal (refresh, or login again) that requests with an expired or refused
//! token wait for.

use std::error::Error as StdError;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use http::{HeaderValue, Request, Response};
use tower_service::Service;

use super::body::ClientBody;
use super::config::Config;
use super::error::{Error, ErrorKind};
use super::exchange;
use super::tokens::{Tokens, bearer};
use crate::clock::now_ms;

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
        let tokens = exchange::renew(&self.config, inner, &current.tokens).await?;
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

// Compile-time check: the session is shared between tasks.
const _: fn() = || {
    fn shared<T: Send + Sync>() {}
    shared::<Session>();
};
