//! The token holder: the current tokens as a snapshot any request reads without waiting, and the
//! single-flight renewal (refresh, or login again) that requests with an expired or refused
//! token wait for.
//!
//! Renewals are flights, one per generation of tokens: the first request to find the tokens of
//! generation `g` unusable starts the flight for `g`; every other request that finds them
//! unusable while it runs, or after it ended, takes its outcome (the tokens of `g + 1`, or its
//! error) instead of starting another. A failed flight is handed to newcomers for the renewal
//! backoff, then the next request starts a new one. A flight whose request was dropped before it
//! ended is abandoned: one of its waiters starts it again.

use std::error::Error as StdError;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Instant;

use http::{HeaderValue, Request, Response};
use tokio::sync::watch;
use tower_service::Service;

use super::body::ClientBody;
use super::config::Config;
use super::error::{Error, ErrorKind};
use super::exchange;
use super::tokens::{Tokens, bearer};

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
    /// The last renewal, under way or ended. Only requests whose token is expired or was
    /// refused touch it, and only for a pointer swap: never across a network call.
    flight: Mutex<Option<Flight>>,
}

/// One renewal of the tokens of generation `seen`.
struct Flight {
    seen: u64,
    /// `None` while it runs; its sender is dropped without a value if it is abandoned.
    outcome: watch::Receiver<Option<Outcome>>,
}

/// How a renewal ended.
struct Outcome {
    result: Result<Arc<Snapshot>, Error>,
    ended: Instant,
}

/// What a request that needs a renewal does.
enum Step {
    /// Takes the outcome of the flight under way.
    Wait(watch::Receiver<Option<Outcome>>),
    /// Renews the tokens itself, and tells the others through the sender.
    Lead(Tokens, watch::Sender<Option<Outcome>>),
}

impl Session {
    pub(crate) fn new(config: Config, tokens: Tokens) -> Self {
        Self {
            config,
            current: RwLock::new(Arc::new(Snapshot::new(tokens, 0))),
            flight: Mutex::new(None),
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
        let access = snapshot.tokens.access();
        let fresh = access.expires_ms().is_none_or(|expires| {
            now_ms.saturating_add(self.config.margin_ms(access.times().lifetime_ms)) < expires
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
        let tokens = self.current().tokens.renewed(access, None, None);
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

    /// New tokens for those of generation `seen` (expired, or refused by the server), once for
    /// all the requests that meet them: the first caller refreshes (or logs in again) while the
    /// others wait, then all take its outcome, its tokens or its error.
    ///
    /// Tokens of a later generation than `seen` are taken as they are, unless the server already
    /// refused them: whether the client's clock calls them expired does not matter, so that a
    /// clock that disagrees with the server's cannot start a second renewal.
    pub(crate) async fn renew<S, B, R>(
        &self,
        inner: S,
        mut seen: u64,
    ) -> Result<Arc<Snapshot>, Error>
    where
        S: Service<Request<B>, Response = Response<R>> + Clone,
        S::Error: Into<Box<dyn StdError + Send + Sync>>,
        B: ClientBody,
        R: http_body::Body,
        R::Error: Into<Box<dyn StdError + Send + Sync>>,
    {
        loop {
            let step = {
                let mut flight = self.flight.lock().unwrap_or_else(PoisonError::into_inner);
                let current = self.current();
                if current.generation != seen {
                    if !current.stale && current.bearer.is_some() {
                        return Ok(current);
                    }
                    seen = current.generation;
                }
                match self.join(flight.as_ref(), seen) {
                    Some(Ok(step)) => step,
                    Some(Err(error)) => return Err(error),
                    None => {
                        let (sender, outcome) = watch::channel(None);
                        *flight = Some(Flight { seen, outcome });
                        Step::Lead(current.tokens.clone(), sender)
                    }
                }
            };
            match step {
                Step::Wait(mut outcome) => {
                    // An error means the leader was dropped: start again.
                    if let Ok(outcome) = outcome.wait_for(Option::is_some).await
                        && let Some(outcome) = &*outcome
                    {
                        return share(&outcome.result);
                    }
                }
                Step::Lead(tokens, sender) => {
                    let result = exchange::renew(&self.config, inner.clone(), &tokens)
                        .await
                        .map(|tokens| self.install(tokens));
                    if let Err(error) = &result {
                        tracing::debug!(%error, "renewal failed");
                    }
                    let shared = share(&result);
                    sender.send_replace(Some(Outcome {
                        result: shared,
                        ended: Instant::now(),
                    }));
                    return result;
                }
            }
        }
    }

    /// What to do with the last flight for a request that needs the tokens of `seen` renewed:
    /// wait for it, take its error, or (`None`) start a new one.
    fn join(&self, flight: Option<&Flight>, seen: u64) -> Option<Result<Step, Error>> {
        let flight = flight.filter(|flight| flight.seen == seen)?;
        let outcome = flight.outcome.borrow();
        match &*outcome {
            // Under way, unless abandoned.
            None => flight
                .outcome
                .has_changed()
                .is_ok()
                .then(|| Ok(Step::Wait(flight.outcome.clone()))),
            Some(Outcome {
                result: Err(error),
                ended,
            }) if ended.elapsed() < self.config.renewal_backoff => Some(Err(error.share())),
            // A success of this generation was installed (and replaced since by hand), or the
            // backoff is over: a new flight.
            Some(_) => None,
        }
    }
}

/// The outcome of a renewal, for one more request.
fn share(result: &Result<Arc<Snapshot>, Error>) -> Result<Arc<Snapshot>, Error> {
    match result {
        Ok(snapshot) => Ok(Arc::clone(snapshot)),
        Err(error) => Err(error.share()),
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
