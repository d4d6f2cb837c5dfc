//! What the layer tells operators: `tracing` events, and counters through the `metrics` facade.
//!
//! This is the one place that knows the metric names. The server code calls the functions
//! below at its event sites; without the `metrics` feature they are empty `#[inline]` functions
//! and compile to nothing.
//!
//! # Events
//!
//! Nothing an attacker can send produces a line at the default level (`info`): rejected tokens,
//! failed, malformed and throttled logins are `debug`. A line at `info` or above needs a valid
//! password or token (a login, a logout), or a fault of ours (the store, the identity
//! provider's keys). No event carries a password, a token or a token's `kid`.
//!
//! | message | level | fields |
//! | --- | --- | --- |
//! | span `login` | `debug` | `client`: the peer address, when the server provides it |
//! | `login succeeded` | `info` | `outcome`, `username` (or `subject` for an identity provider), `client` |
//! | `login failed` | `debug` | `outcome = "invalid_credentials"`, `username` (untrusted: at most 64 characters, escaped) |
//! | `login refused` | `debug` | `outcome` (`malformed`, `throttled`, `idp_unavailable`, `busy`), `reason` (a [`Rejection::code`]), `username` when known |
//! | `token rejected` | `debug` | `reason` (a [`Rejection::code`]) |
//! | `scope missing` | `debug` | `reason = "insufficient_scope"` |
//! | `no token issued` | `error` | `error` (too large, or the custom claims could not be written), `username` |
//! | `access token refreshed` | `debug` | `username`, `rotated` |
//! | `a rotated refresh token was presented again...` | `warn` | `username` |
//! | `logged out` | `info` | `username`, `usefor` |
//! | `the token store is unavailable...` | `warn` | `error` (timed out, or failed), `suppressed` |
//! | `Redis call failed` / `Redis call timed out` | `warn` | `operation`, `error`, `suppressed` |
//! | span `jwks_fetch` | `debug` | `issuer`, `trigger` |
//! | `fetched the JWKS` / `fetching the JWKS failed...` | `debug` / `warn` | `issuer`, `keys` / `error` |
//!
//! A fault of ours repeats as fast as requests arrive: its lines are written at most once per
//! [`REPEATED_LOG_INTERVAL`] each, and `suppressed` counts the lines skipped since the last one
//! written (the `metrics` counters still count every occurrence).
//!
//! # Metrics (feature `metrics`)
//!
//! Counters and one gauge, registered through the [`metrics`](https://docs.rs/metrics) facade:
//! install any recorder (a Prometheus exporter, for instance) and they appear.
//!
//! | name | labels | counts |
//! | --- | --- | --- |
//! | `tower_jwt_login_logins_total` | `outcome` | every request to the login route, once, by how it ended |
//! | `tower_jwt_login_tokens_rejected_total` | `reason` | every `401` for a bearer token, on any route, by [`Rejection::code`], and every `403` of a prefix's scope requirement (`insufficient_scope`) |
//! | `tower_jwt_login_refreshes_total` | `rotated` | every access token issued by the refresh route |
//! | `tower_jwt_login_refresh_token_reuses_total` | | rotated refresh tokens presented again (their family is revoked) |
//! | `tower_jwt_login_logouts_total` | `usefor` | every revocation by the logout route: `access` or `refresh` |
//! | `tower_jwt_login_store_unavailable_total` | | every `503` because the store could not answer |
//! | `tower_jwt_login_jwks_fetches_total` | `issuer`, `outcome` | every fetch of a tenant's JWKS: `success`, `empty` or `failure` |
//! | `tower_jwt_login_password_hashes_running` (gauge) | | argon2 password checks running now; never above [`max_concurrent_password_hashes`](crate::JwtLoginBuilder::max_concurrent_password_hashes) |
//!
//! The login `outcome` is one of `success`, `invalid_credentials`, `throttled` (the `429`s:
//! this is the count of throttled requests), `malformed` (wrong method, media type or body),
//! `invalid_token` (an identity provider login whose token was refused), `store_unavailable`,
//! `idp_unavailable`, `busy` (the `503`s of a login that found no free slot to check its
//! password in) and `not_issued` (the `500` of a token over the maximum size, or of custom
//! claims that could not be written). `rotated` is `"true"` when the refresh also rotated the refresh token.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::error::Rejection;
use crate::token::TokenUse;

/// The metric names, documented above and in the README.
#[cfg(any(feature = "metrics", test))]
mod names {
    pub(crate) const LOGINS: &str = "tower_jwt_login_logins_total";
    pub(crate) const TOKENS_REJECTED: &str = "tower_jwt_login_tokens_rejected_total";
    pub(crate) const REFRESHES: &str = "tower_jwt_login_refreshes_total";
    pub(crate) const REFRESH_TOKEN_REUSES: &str = "tower_jwt_login_refresh_token_reuses_total";
    pub(crate) const LOGOUTS: &str = "tower_jwt_login_logouts_total";
    pub(crate) const STORE_UNAVAILABLE: &str = "tower_jwt_login_store_unavailable_total";
    pub(crate) const PASSWORD_HASHES_RUNNING: &str = "tower_jwt_login_password_hashes_running";
    #[cfg(any(feature = "jwks", test))]
    pub(crate) const JWKS_FETCHES: &str = "tower_jwt_login_jwks_fetches_total";
}
#[cfg(any(feature = "metrics", test))]
use names::*;

/// How a request to the login route ended: the `outcome` of events and of the login counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LoginOutcome {
    Success,
    InvalidCredentials,
    Throttled,
    Malformed,
    InvalidToken,
    StoreUnavailable,
    IdpUnavailable,
    Busy,
    NotIssued,
}

impl LoginOutcome {
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::InvalidCredentials => "invalid_credentials",
            Self::Throttled => "throttled",
            Self::Malformed => "malformed",
            Self::InvalidToken => "invalid_token",
            Self::StoreUnavailable => "store_unavailable",
            Self::IdpUnavailable => "idp_unavailable",
            Self::Busy => "busy",
            Self::NotIssued => "not_issued",
        }
    }

    /// The outcome of a login route's answer, from the [`Rejection`] it refused with (`None`:
    /// it succeeded). Every refusal carries its rejection (see `Rejection::response`), so the
    /// answer alone tells, whichever branch produced it.
    pub(crate) const fn of(rejection: Option<Rejection>) -> Self {
        let Some(rejection) = rejection else {
            return Self::Success;
        };
        match rejection {
            Rejection::InvalidCredentials => Self::InvalidCredentials,
            Rejection::TooManyAttempts => Self::Throttled,
            Rejection::StoreUnavailable => Self::StoreUnavailable,
            Rejection::IdentityProviderUnavailable => Self::IdpUnavailable,
            Rejection::PasswordCheckBusy => Self::Busy,
            Rejection::TokenNotIssued => Self::NotIssued,
            Rejection::MalformedBody
            | Rejection::UnsupportedMediaType
            | Rejection::BodyTooLarge
            | Rejection::MethodNotAllowed => Self::Malformed,
            // Every other rejection is about the bearer token of an identity provider login.
            _ => Self::InvalidToken,
        }
    }
}

/// The longest prefix of an untrusted string (a username from a failed login) that goes into a
/// log event: whatever an attacker sends, a line stays short. Record it with `?` so that control
/// characters are escaped and cannot forge log lines.
pub(crate) const MAX_LOGGED_UNTRUSTED_CHARS: usize = 64;

/// `value` cut to at most [`MAX_LOGGED_UNTRUSTED_CHARS`] characters, on a character boundary.
pub(crate) fn untrusted(value: &str) -> &str {
    match value.char_indices().nth(MAX_LOGGED_UNTRUSTED_CHARS) {
        Some((end, _)) => &value[..end],
        None => value,
    }
}

/// The shortest time between two lines of one [`LogLimiter`].
pub(crate) const REPEATED_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// At most one log line per interval for an event that can repeat on every request (a store
/// that is down): without it, an outage writes a line per request, gigabytes a day, and buries
/// the lines that say something new. Lock-free, for a `static` at the call site.
pub(crate) struct LogLimiter {
    interval_ms: u64,
    /// Milliseconds on [`monotonic_ms`]'s clock before which no line is written.
    next_ms: AtomicU64,
    /// Lines skipped since the last one written.
    suppressed: AtomicU64,
}

impl LogLimiter {
    pub(crate) const fn new(interval: Duration) -> Self {
        Self {
            // An interval beyond u64 milliseconds is not one anyone means.
            interval_ms: interval.as_millis() as u64,
            next_ms: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    /// `Some(suppressed)` if a line may be written now, with the count of lines skipped since
    /// the last one; `None` if this line is to be skipped (and counted).
    pub(crate) fn allow(&self) -> Option<u64> {
        self.allow_at(monotonic_ms())
    }

    /// [`allow`](Self::allow) at `now_ms`, for tests.
    fn allow_at(&self, now_ms: u64) -> Option<u64> {
        let next = self.next_ms.load(Ordering::Relaxed);
        // Of the callers that find the interval over, the one whose exchange succeeds writes.
        let won = now_ms >= next
            && self
                .next_ms
                .compare_exchange(
                    next,
                    now_ms.saturating_add(self.interval_ms),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok();
        if won {
            Some(self.suppressed.swap(0, Ordering::Relaxed))
        } else {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

/// Milliseconds since the first call in this process: a clock that never goes back, unlike the
/// wall clock, so that setting the time back cannot silence a limiter.
fn monotonic_ms() -> u64 {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    let elapsed = ORIGIN.get_or_init(Instant::now).elapsed();
    u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
}

/// A request to the login route was answered, and ended so.
#[inline]
pub(crate) fn login_answered(outcome: LoginOutcome) {
    #[cfg(feature = "metrics")]
    metrics::counter!(LOGINS, "outcome" => outcome.as_str()).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = outcome;
}

/// A bearer token was refused with a `401`.
#[inline]
pub(crate) fn token_rejected(rejection: Rejection) {
    #[cfg(feature = "metrics")]
    metrics::counter!(TOKENS_REJECTED, "reason" => rejection.code()).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = rejection;
}

/// The refresh route issued an access token, and with `rotated` a new refresh token.
#[inline]
pub(crate) fn refreshed(rotated: bool) {
    #[cfg(feature = "metrics")]
    metrics::counter!(REFRESHES, "rotated" => if rotated { "true" } else { "false" }).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = rotated;
}

/// A rotated refresh token was presented again, and its family revoked.
#[inline]
pub(crate) fn refresh_token_reused() {
    #[cfg(feature = "metrics")]
    metrics::counter!(REFRESH_TOKEN_REUSES).increment(1);
}

/// The logout route revoked a token of this use.
#[inline]
pub(crate) fn logged_out(usefor: TokenUse) {
    #[cfg(feature = "metrics")]
    metrics::counter!(LOGOUTS, "usefor" => usefor.as_str()).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = usefor;
}

/// A route answered `503` because the store could not answer.
#[inline]
pub(crate) fn store_unavailable() {
    #[cfg(feature = "metrics")]
    metrics::counter!(STORE_UNAVAILABLE).increment(1);
}

/// A password hash holding one of the slots bounded by
/// [`max_concurrent_password_hashes`](crate::JwtLoginBuilder::max_concurrent_password_hashes):
/// counted in the gauge from [`start`](Self::start) until dropped, even by a panic.
///
/// The gauge is moved up and down rather than set to a count kept here: two threads that set
/// their counts could do so in the other order and leave a stale value behind.
#[derive(Debug)]
pub(crate) struct HashRunning(());

impl HashRunning {
    #[inline]
    pub(crate) fn start() -> Self {
        #[cfg(feature = "metrics")]
        metrics::gauge!(PASSWORD_HASHES_RUNNING).increment(1.0);
        Self(())
    }
}

impl Drop for HashRunning {
    #[inline]
    fn drop(&mut self) {
        #[cfg(feature = "metrics")]
        metrics::gauge!(PASSWORD_HASHES_RUNNING).decrement(1.0);
    }
}

/// How a fetch of a tenant's JWKS ended.
#[cfg(feature = "jwks")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JwksFetch {
    /// The document held at least one usable key.
    Success,
    /// The document held no usable key (the cached keys are replaced all the same).
    Empty,
    /// The request failed, timed out, or the document was not a JWKS: the cached keys stay.
    Failure,
}

/// The JWKS of the tenant with this (configured) issuer was fetched.
#[cfg(feature = "jwks")]
#[inline]
pub(crate) fn jwks_fetched(issuer: &str, outcome: JwksFetch) {
    #[cfg(feature = "metrics")]
    metrics::counter!(
        JWKS_FETCHES,
        "issuer" => issuer.to_owned(),
        "outcome" => match outcome {
            JwksFetch::Success => "success",
            JwksFetch::Empty => "empty",
            JwksFetch::Failure => "failure",
        }
    )
    .increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = (issuer, outcome);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untrusted_strings_are_cut_to_64_characters_on_a_char_boundary() {
        assert_eq!(untrusted("admin"), "admin");
        let long = "é".repeat(100);
        assert_eq!(untrusted(&long).chars().count(), MAX_LOGGED_UNTRUSTED_CHARS);
        assert_eq!(untrusted(&"a".repeat(64)), "a".repeat(64));
    }

    #[test]
    fn a_log_limiter_writes_one_line_per_interval_and_counts_the_others() {
        let limiter = LogLimiter::new(Duration::from_secs(10));
        // The first line is written at once.
        assert_eq!(limiter.allow_at(5_000), Some(0));
        for ms in 5_000..15_000 {
            assert_eq!(limiter.allow_at(ms), None, "at {ms} ms");
        }
        // The interval is over: the next line says how many were skipped.
        assert_eq!(limiter.allow_at(15_000), Some(10_000));
        assert_eq!(limiter.allow_at(15_001), None);
        // After a quiet spell, a line is written at once, counting the one skipped before it.
        assert_eq!(limiter.allow_at(60_000), Some(1));
        assert_eq!(limiter.allow_at(70_000), Some(0));
    }

    #[test]
    fn a_log_limiter_shared_by_threads_writes_one_line_and_loses_no_count() {
        let limiter = LogLimiter::new(Duration::from_secs(10));
        let written = std::thread::scope(|scope| {
            let threads: Vec<_> = (0..4)
                .map(|_| {
                    scope.spawn(|| {
                        (0..1_000)
                            .filter(|_| limiter.allow_at(1_000).is_some())
                            .count()
                    })
                })
                .collect();
            threads
                .into_iter()
                .map(|thread| thread.join().unwrap())
                .sum::<usize>()
        });
        assert_eq!(written, 1);
        assert_eq!(limiter.allow_at(11_000), Some(3_999));
    }

    #[test]
    fn every_metric_is_documented_here_and_in_the_readme() {
        let module = include_str!("observe.rs");
        let readme = include_str!("../README.md");
        for name in [
            LOGINS,
            TOKENS_REJECTED,
            REFRESHES,
            REFRESH_TOKEN_REUSES,
            LOGOUTS,
            STORE_UNAVAILABLE,
            JWKS_FETCHES,
            PASSWORD_HASHES_RUNNING,
        ] {
            assert!(module.contains(&format!("//! | `{name}`")), "{name}");
            assert!(
                readme.contains(&format!("`{name}`")),
                "{name} is not in README.md"
            );
        }
        for outcome in [
            LoginOutcome::Success,
            LoginOutcome::InvalidCredentials,
            LoginOutcome::Throttled,
            LoginOutcome::Malformed,
            LoginOutcome::InvalidToken,
            LoginOutcome::StoreUnavailable,
            LoginOutcome::IdpUnavailable,
            LoginOutcome::Busy,
        ] {
            assert!(readme.contains(&format!("`{}`", outcome.as_str())));
        }
    }

    #[test]
    fn the_running_hashes_gauge_and_the_busy_outcome_are_documented_here() {
        let module = include_str!("observe.rs");
        assert!(module.contains(&format!("//! | `{PASSWORD_HASHES_RUNNING}` (gauge)")));
        assert!(module.contains(&format!("`{}` (the `503`s", LoginOutcome::Busy.as_str())));
    }
}
