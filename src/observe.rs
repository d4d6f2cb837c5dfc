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
//! | `access token refreshed` | `debug` | `username`, `rotated` |
//! | `a rotated refresh token was presented again...` | `warn` | `username` |
//! | `logged out` | `info` | `username`, `usefor` |
//! | `the token store is unavailable...` | `warn` | |
//! | span `jwks_fetch` | `debug` | `issuer`, `trigger` |
//! | `fetched the JWKS` / `fetching the JWKS failed...` | `debug` / `warn` | `issuer`, `keys` / `error` |
//!
//! # Metrics (feature `metrics`)
//!
//! Counters and one gauge, registered through the [`metrics`](https://docs.rs/metrics) facade:
//! install any recorder (a Prometheus exporter, for instance) and they appear.
//!
//! | name | labels | counts |
//! | --- | --- | --- |
//! | `tower_jwt_login_logins_total` | `outcome` | every request to the login route, once, by how it ended |
//! | `tower_jwt_login_tokens_rejected_total` | `reason` | every `401` for a bearer token, on any route, by [`Rejection::code`] |
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
//! `idp_unavailable` and `busy` (the `503`s of a login that found no free slot to check its
//! password in). `rotated` is `"true"` when the refresh also rotated the refresh token.

use crate::error::Rejection;
#[cfg(feature = "metrics")]
use crate::server::response::OwnResponse;
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
// Some outcomes are only told apart by the login counter.
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
pub(crate) enum LoginOutcome {
    Success,
    InvalidCredentials,
    Throttled,
    Malformed,
    InvalidToken,
    StoreUnavailable,
    IdpUnavailable,
    Busy,
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
        }
    }

    /// The outcome of a login route's answer. Every refusal carries its [`Rejection`] (see
    /// `response::error`), so the answer alone tells, whichever branch produced it.
    #[cfg(feature = "metrics")]
    fn of(response: &OwnResponse) -> Self {
        let Some(rejection) = response.extensions().get::<Rejection>() else {
            return Self::Success;
        };
        match rejection {
            Rejection::InvalidCredentials => Self::InvalidCredentials,
            Rejection::TooManyAttempts => Self::Throttled,
            Rejection::StoreUnavailable => Self::StoreUnavailable,
            Rejection::IdentityProviderUnavailable => Self::IdpUnavailable,
            Rejection::PasswordCheckBusy => Self::Busy,
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

/// A request to the login route was answered with `response`.
#[inline]
pub(crate) fn login_answered(response: &crate::server::response::OwnResponse) {
    #[cfg(feature = "metrics")]
    metrics::counter!(LOGINS, "outcome" => LoginOutcome::of(response).as_str()).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = response;
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
