//! What the login, refresh and logout routes ask the store: throttling, refresh-token families
//! and revocations. Any store failure becomes a `503` with `Retry-After`: the routes fail closed.

use http::request::Parts;
use serde::Serialize;

use super::Shared;
use super::response::{self, OwnResponse};
use crate::error::Rejection;
use crate::family::{FamilyId, family_of};
use crate::grant::{Grant, Login};
use crate::observe::{self, LogLimiter, LoginOutcome};
use crate::scope::Scopes;
use crate::store::{Attempt, Family, Presented, Revocation, Rotation, StoreError, ThrottleKeys};
use crate::token::{self, Claims, TokenUse};

/// How long a client is told to wait when the store is unavailable.
const STORE_RETRY_AFTER_SECS: u64 = 1;

/// The `503` for a store that could not answer.
pub(super) fn unavailable(error: StoreError) -> OwnResponse {
    // Every request fails alike while the store is down: one line per interval says it.
    static LOG: LogLimiter = LogLimiter::new(observe::REPEATED_LOG_INTERVAL);
    if let Some(suppressed) = LOG.allow() {
        tracing::warn!(
            %error,
            suppressed,
            "the token store is unavailable: refusing rather than skipping its checks"
        );
    }
    observe::store_unavailable();
    response::retry_later(Rejection::StoreUnavailable, STORE_RETRY_AFTER_SECS)
}

/// What a login answers.
#[derive(Serialize)]
pub(crate) struct LoginTokens {
    access_token: String,
    refresh_token: String,
}

/// What a refresh answers: with rotation, the refresh token's successor too.
#[derive(Serialize)]
pub(crate) struct RefreshedTokens {
    access_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) refresh_token: Option<String>,
}

fn presented(claims: &Claims) -> Presented<'_> {
    Presented {
        sub: claims.sub(),
        jti: claims.jti(),
        iat: claims.iat(),
    }
}

/// Counts a login attempt by `username`, or answers `429` if its client is locked out.
/// `Ok(None)` when throttling is off.
pub(super) async fn admit(
    shared: &Shared,
    request: &Parts,
    username: &str,
) -> Result<Option<ThrottleKeys>, OwnResponse> {
    let Some(throttle) = &shared.throttle else {
        return Ok(None);
    };
    let keys = throttle.keys(request, username);
    match shared.store.attempt(&keys, throttle.limits).await {
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
            Err(response::retry_later(Rejection::TooManyAttempts, seconds))
        }
        Err(error) => Err(unavailable(error)),
    }
}

/// A successful login: its attempt is not held against the client.
pub(super) async fn forgive(
    shared: &Shared,
    keys: Option<ThrottleKeys>,
) -> Result<(), OwnResponse> {
    match keys {
        Some(keys) => shared.store.forgive(&keys).await.map_err(unavailable),
        None => Ok(()),
    }
}

/// The tokens of a new `login`: its scopes and the application's custom claims in each, and a
/// new family, which with rotation on the store records (past the user's bound, dropping the
/// least recently refreshed one).
pub(super) async fn login_tokens(
    shared: &Shared,
    login: &Login<'_>,
) -> Result<LoginTokens, OwnResponse> {
    let custom = match &shared.custom_claims {
        Some(custom) => custom.claims(login).map_err(|error| {
            tracing::error!(%error, username = %login.username, "no token issued");
            Rejection::TokenNotIssued.response()
        })?,
        None => None,
    };
    let grant = Grant {
        sub: login.username,
        scope: login.scopes.as_str(),
        custom: custom.as_deref(),
    };
    let sub = login.username;
    let family = FamilyId::new();
    let refresh = shared.issue(&grant, TokenUse::Refresh, family)?;
    if shared.rotation {
        let jti = refresh.jti.to_string();
        let record = Family {
            sub,
            name: family_of(&jti),
            jti: &jti,
            exp: refresh.exp,
        };
        shared
            .store
            .start_family(&record, shared.bounds.sessions_per_user)
            .await
            .map_err(unavailable)?;
    }
    Ok(LoginTokens {
        access_token: shared.issue(&grant, TokenUse::Access, family)?.token,
        refresh_token: refresh.token,
    })
}

/// The tokens a refresh with `presented`, a verified refresh token, hands out: an access
/// token of its family, and with rotation its successor.
pub(super) async fn refresh_tokens(
    shared: &Shared,
    presented: &Claims,
) -> Result<RefreshedTokens, OwnResponse> {
    let revoked = shared.store.is_revoked(&self::presented(presented)).await;
    if revoked.map_err(unavailable)? {
        return Err(shared.unauthorized(Rejection::Revoked));
    }
    // A token of a family we did not start (datarhei's) starts its own.
    let family = FamilyId::of(presented.jti()).unwrap_or_else(FamilyId::new);
    let scopes = refreshed_scopes(shared, presented);
    // The login's custom claims whose names the application still declares.
    let custom = presented
        .custom_json()
        .zip(shared.custom_claims.as_ref())
        .and_then(|(custom, declared)| declared.still_declared(custom));
    let grant = Grant {
        sub: presented.sub(),
        scope: scopes.as_str(),
        custom: custom.as_deref(),
    };
    let refresh_token = if shared.rotation {
        Some(rotate(shared, presented, &grant, family).await?)
    } else {
        None
    };
    Ok(RefreshedTokens {
        access_token: shared.issue(&grant, TokenUse::Access, family)?.token,
        refresh_token,
    })
}

/// What a refresh grants: the login's scopes, less any a local user no longer has (an identity
/// provider's user keeps what its login was granted for as long as the login is refreshed:
/// logging out, or the tenant no longer allowing the subject, ends it).
fn refreshed_scopes(shared: &Shared, presented: &Claims) -> Scopes {
    // Issued by us (a verified token), so valid; a bad one would only drop scopes.
    let granted = Scopes::parse(presented.scope()).unwrap_or_default();
    match shared.users.scopes(presented.sub()) {
        Some(current) => granted.intersection(current),
        None => granted,
    }
}

/// Spends the refresh token with `presented` claims and returns its successor, or the
/// reason it cannot be used.
async fn rotate(
    shared: &Shared,
    presented: &Claims,
    grant: &Grant<'_>,
    family: FamilyId,
) -> Result<String, OwnResponse> {
    let next = shared.issue(grant, TokenUse::Refresh, family)?;
    let jti = next.jti.to_string();
    let rotation = shared
        .store
        .rotate(
            &self::presented(presented),
            &jti,
            next.exp,
            shared.bounds.reuse_grace_ms,
        )
        .await
        .map_err(unavailable)?;
    match rotation {
        Rotation::Rotated => Ok(next.token),
        Rotation::Reused => {
            tracing::warn!(
                username = %presented.sub(),
                "a rotated refresh token was presented again: every token of its login is revoked"
            );
            observe::refresh_token_reused();
            revoke(shared, presented).await?;
            Err(shared.unauthorized(Rejection::RefreshTokenReused))
        }
        Rotation::Revoked => Err(shared.unauthorized(Rejection::Revoked)),
    }
}

/// Revokes an access token until it expires, or with a refresh token every token of its
/// login (its family).
pub(super) async fn revoke(shared: &Shared, claims: &Claims) -> Result<(), OwnResponse> {
    let now = token::now();
    // Whatever a watermark replacing this revocation covers (every token of the user
    // issued until now) has expired by then.
    let watermark_until = now
        .saturating_add(shared.refresh_lifetime.max(shared.access_lifetime))
        .saturating_add(shared.leeway);
    let revocation = match claims.usefor() {
        TokenUse::Access => Revocation {
            sub: claims.sub(),
            id: claims.jti(),
            family: false,
            iat: claims.iat(),
            until: claims.exp().saturating_add(shared.leeway),
            watermark_until,
            now,
        },
        TokenUse::Refresh => Revocation {
            sub: claims.sub(),
            id: family_of(claims.jti()),
            family: true,
            // Every token of the family was issued by now.
            iat: now,
            // Its access tokens, and without rotation the refresh token itself (with
            // rotation the store forgets the family, which refuses its refresh tokens).
            until: now
                .saturating_add(shared.access_lifetime)
                .max(if shared.rotation { 0 } else { claims.exp() })
                .saturating_add(shared.leeway),
            watermark_until,
            now,
        },
    };
    shared
        .store
        .revoke(&revocation, shared.bounds.revocations_per_user)
        .await
        .map_err(unavailable)
}
