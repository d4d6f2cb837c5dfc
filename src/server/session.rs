//! What the login, refresh and logout routes ask the store: throttling, refresh-token families
//! and revocations. Any store failure becomes a `503` with `Retry-After`: the routes fail closed.

use http::StatusCode;
use http::request::Parts;

use super::Shared;
use super::response::{self, OwnResponse};
use crate::error::Rejection;
use crate::observe::{self, LogLimiter, LoginOutcome};
use crate::store::{Attempt, StoreError, ThrottleKeys};
use crate::token::{self, Claims, TokenUse};

/// How long a client is told to wait when the store is unavailable.
const STORE_RETRY_AFTER_SECS: u64 = 1;

/// The `503` for a store that could not answer.
pub(super) fn unavailable(_: StoreError) -> OwnResponse {
    // Every request fails alike while the store is down: one line per interval says it.
    static LOG: LogLimiter = LogLimiter::new(observe::REPEATED_LOG_INTERVAL);
    if let Some(suppressed) = LOG.allow() {
        tracing::warn!(
            suppressed,
            "the token store is unavailable: refusing rather than skipping its checks"
        );
    }
    observe::store_unavailable();
    response::retry_later(
        StatusCode::SERVICE_UNAVAILABLE,
        Rejection::StoreUnavailable,
        STORE_RETRY_AFTER_SECS,
    )
}

/// Milliseconds since the Unix epoch, for throttling.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Shared {
    /// Counts a login attempt by `username`, or answers `429` if its client is locked out.
    /// `Ok(None)` when throttling is off.
    pub(super) async fn admit(
        &self,
        request: &Parts,
        username: &str,
    ) -> Result<Option<ThrottleKeys>, OwnResponse> {
        let Some(throttle) = &self.throttle else {
            return Ok(None);
        };
        let keys = throttle.keys(request, username);
        match self.store.0.attempt(&keys, throttle.limits, now_ms()).await {
            Ok(Attempt::Allowed) => Ok(Some(keys)),
            Ok(Attempt::Locked { retry_after_ms }) => {
                // At debug, and the username bounded: both are the client's choice.
                tracing::debug!(
                    outcome = LoginOutcome::Throttled.as_str(),
                    reason = Rejection::TooManyAttempts.code(),
                    username = ?observe::untrusted(username),
                    "login refused"
                );
                let seconds = u64::try_from(retry_after_ms).unwrap_or(0).div_ceil(1000);
                Err(response::retry_later(
                    StatusCode::TOO_MANY_REQUESTS,
                    Rejection::TooManyAttempts,
                    seconds,
                ))
            }
            Err(error) => Err(unavailable(error)),
        }
    }

    /// A successful login: its attempt is not held against the client.
    pub(super) async fn forgive(&self, keys: Option<ThrottleKeys>) -> Result<(), OwnResponse> {
        match keys {
            Some(keys) => self.store.0.forgive(&keys).await.map_err(unavailable),
            None => Ok(()),
        }
    }

    /// Issues a refresh token for `sub` and returns it with its claims, read back from the
    /// token itself (the issuer draws the `jti`).
    fn issue_refresh(&self, sub: &str) -> (String, Claims) {
        let token = self.issue(sub, TokenUse::Refresh);
        let claims = self
            .verifier
            .verify(token.as_bytes(), TokenUse::Refresh, token::now())
            .expect("a token just issued verifies");
        (token, claims)
    }

    /// The refresh token of a new login: with rotation on, the first of a new family.
    pub(super) async fn login_refresh_token(&self, sub: &str) -> Result<String, OwnResponse> {
        if !self.rotation {
            return Ok(self.issue(sub, TokenUse::Refresh));
        }
        let (token, claims) = self.issue_refresh(sub);
        self.store
            .0
            .start_family(claims.jti(), claims.exp(), token::now())
            .await
            .map_err(unavailable)?;
        Ok(token)
    }

    /// Spends the refresh token with `presented` claims and returns its successor, or the
    /// reason it cannot be used.
    pub(super) async fn rotate(&self, presented: &Claims) -> Result<String, OwnResponse> {
        let (token, claims) = self.issue_refresh(presented.sub());
        let rotation = self
            .store
            .0
            .rotate(presented.jti(), claims.jti(), claims.exp(), token::now())
            .await
            .map_err(unavailable)?;
        match rotation {
            crate::store::Rotation::Rotated => Ok(token),
            crate::store::Rotation::Reused => {
                tracing::warn!(
                    username = %presented.sub(),
                    "a rotated refresh token was presented again: its whole family is revoked"
                );
                observe::refresh_token_reused();
                Err(self.unauthorized(Rejection::RefreshTokenReused))
            }
            crate::store::Rotation::Revoked => Err(self.unauthorized(Rejection::Revoked)),
        }
    }

    /// Refuses a refresh token whose family was revoked (without rotation).
    pub(super) async fn check_family(&self, presented: &Claims) -> Result<(), OwnResponse> {
        let revoked = self
            .store
            .0
            .is_family_revoked(presented.jti(), token::now())
            .await
            .map_err(unavailable)?;
        if revoked {
            return Err(self.unauthorized(Rejection::Revoked));
        }
        Ok(())
    }

    /// Revokes the family of a refresh token, or an access token, until it expires.
    pub(super) async fn revoke(&self, claims: &Claims) -> Result<(), OwnResponse> {
        let until = claims.exp().saturating_add(self.leeway);
        let now = token::now();
        let revoked = match claims.usefor() {
            TokenUse::Refresh => self.store.0.revoke_family(claims.jti(), until, now).await,
            TokenUse::Access => self.store.0.revoke_access(claims.jti(), until, now).await,
        };
        revoked.map_err(unavailable)
    }
}
