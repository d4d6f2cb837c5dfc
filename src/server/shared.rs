use http::{HeaderMap, HeaderValue, Request};

use super::ScopeRules;
use super::TokenCache;
use super::bearer::verify_bearer;
use super::response::{self, OwnResponse};
use super::routes::Routes;
use crate::credentials::LocalUsers;
use crate::error::Rejection;
use crate::family::FamilyId;
use crate::grant::{CustomClaims, Grant};
use crate::peer::peer_addr;
use crate::store::Store;
use crate::throttle::Throttle;
use crate::token::{self, Claims, Issued, TokenIssuer, TokenUse, TokenVerifier};

/// How much session state one user can make the store hold; see SECURITY.md, "Bounds".
#[derive(Debug, Clone, Copy)]
pub(crate) struct SessionBounds {
    /// Live refresh-token families (logins) per user, with rotation on.
    pub(crate) sessions_per_user: usize,
    /// Revocations held per user before they become one watermark.
    pub(crate) revocations_per_user: usize,
    /// How long a just-rotated refresh token is still honoured, in milliseconds.
    pub(crate) reuse_grace_ms: i64,
}

/// The loopback bypass: the claims a request from a loopback peer carries downstream.
#[derive(Debug)]
pub(crate) struct LoopbackUser {
    /// The realm, the claims' `iss`.
    pub(crate) realm: Box<str>,
    /// The first configured user, the claims' `sub`.
    pub(crate) username: Box<str>,
}

/// The state every clone of the layer and its services shares, behind one `Arc`.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) issuer: TokenIssuer,
    pub(crate) verifier: TokenVerifier,
    pub(crate) users: LocalUsers,
    pub(crate) routes: Routes,
    /// The scopes path prefixes require.
    pub(crate) scope_rules: ScopeRules,
    /// The application's claims for the tokens of each login.
    pub(crate) custom_claims: Option<CustomClaims>,
    pub(crate) access_lifetime: i64,
    pub(crate) refresh_lifetime: i64,
    pub(crate) body_limit: usize,
    /// Whom a request from a loopback peer is taken to be; `None` when the bypass is off.
    pub(crate) loopback_bypass: Option<LoopbackUser>,
    pub(crate) www_authenticate_missing: HeaderValue,
    pub(crate) www_authenticate_invalid: HeaderValue,
    /// The identity provider tenants whose tokens log in, and whose subjects are known users.
    #[cfg(feature = "jwks")]
    pub(crate) idp: crate::idp::Idp,
    /// Throttling counters, refresh-token families and revocations.
    pub(crate) store: Store,
    /// Login throttling; `None` when disabled.
    pub(crate) throttle: Option<Throttle>,
    /// Whether each refresh spends the refresh token and issues a new one.
    pub(crate) rotation: bool,
    /// The per-user bounds on what the store holds.
    pub(crate) bounds: SessionBounds,
    /// The verifier's leeway, in seconds: a revocation lasts until `exp` plus this.
    pub(crate) leeway: i64,
    /// Access tokens verified before; `None` when turned off.
    pub(crate) token_cache: Option<TokenCache>,
    /// The slots that bound how many argon2 password checks run at once.
    pub(crate) passwords: super::HashSlots,
}

impl Shared {
    /// Authenticates the bearer token of a request for `usefor`: the one path by which any route
    /// accepts a token.
    pub(crate) fn authenticate(
        &self,
        headers: &HeaderMap,
        usefor: TokenUse,
    ) -> Result<Claims, Rejection> {
        verify_bearer(headers, |token| self.verify(token, usefor))
    }

    /// Verifies `token` for `usefor` now, and checks that its subject is a configured user.
    ///
    /// Inlined so that the claims are written once, in the caller's frame (see
    /// `TokenVerifier::check_claims`).
    #[inline]
    pub(crate) fn verify(&self, token: &[u8], usefor: TokenUse) -> Result<Claims, Rejection> {
        let now = token::now();
        // Only access tokens are cached: they are the ones sent again and again.
        let cache = self
            .token_cache
            .as_ref()
            .filter(|_| usefor == TokenUse::Access);
        let cached = cache.and_then(|cache| {
            cache.get(token, |claims, nbf| {
                let times = self
                    .verifier
                    .check_times(claims.exp(), nbf, claims.iat(), now);
                times.is_ok()
            })
        });
        let (claims, verified_nbf) = match cached {
            Some(claims) => (claims, None),
            None => {
                let (claims, nbf) = self.verifier.verify_with_nbf(token, usefor, now)?;
                (claims, Some(nbf))
            }
        };
        if !self.users.contains(claims.sub()) && !self.allows_external(claims.sub()) {
            return Err(Rejection::UnknownSubject);
        }
        // A local set: a protected request never waits on the store. Checked on every request,
        // cached token or not.
        if self
            .store
            .revocations()
            .refuses(claims.sub(), claims.jti(), claims.iat())
        {
            return Err(Rejection::Revoked);
        }
        if let (Some(cache), Some(nbf)) = (cache, verified_nbf) {
            cache.put(token, &claims, nbf);
        }
        Ok(claims)
    }

    /// Whether an identity provider tenant allows `sub`, which then counts as a known user.
    #[inline]
    fn allows_external(&self, sub: &str) -> bool {
        #[cfg(feature = "jwks")]
        return self.idp.allows(sub);
        #[cfg(not(feature = "jwks"))]
        {
            let _ = sub;
            false
        }
    }

    /// The `401` for a token rejection.
    pub(crate) fn unauthorized(&self, rejection: Rejection) -> OwnResponse {
        // At debug: whoever sends a bad token decides how often this happens.
        tracing::debug!(reason = rejection.code(), "token rejected");
        crate::observe::token_rejected(rejection);
        let challenge = if rejection.is_token_error() {
            &self.www_authenticate_invalid
        } else {
            &self.www_authenticate_missing
        };
        response::unauthorized(rejection, challenge)
    }

    /// The `403` for claims without a scope the path requires, with `challenge`.
    pub(crate) fn forbidden(&self, challenge: &HeaderValue) -> OwnResponse {
        // At debug, like a refused token: the client decides how often.
        tracing::debug!(
            reason = Rejection::InsufficientScope.code(),
            "scope missing"
        );
        crate::observe::token_rejected(Rejection::InsufficientScope);
        response::forbidden(challenge)
    }

    /// Issues a new token of login `family` with what `grant` says; a `500` if it would be
    /// larger than the maximum token size.
    // The error is the response the caller answers with at once, on a path that already
    // failed: boxing it would cost an allocation and buy nothing.
    #[allow(clippy::result_large_err)]
    pub(crate) fn issue(
        &self,
        grant: &Grant<'_>,
        usefor: TokenUse,
        family: FamilyId,
    ) -> Result<Issued, OwnResponse> {
        let lifetime = match usefor {
            TokenUse::Access => self.access_lifetime,
            TokenUse::Refresh => self.refresh_lifetime,
        };
        self.issuer
            .issue(grant, usefor, family, lifetime, token::now())
            .map_err(|error| {
                tracing::error!(%error, username = %grant.sub, "no token issued");
                Rejection::TokenNotIssued.response()
            })
    }

    /// Whether the request's connection comes from a loopback address and the bypass is on.
    ///
    /// The address is made canonical first: a dual-stack listener reports an IPv4 client as
    /// `::ffff:127.0.0.1`, which `Ipv6Addr::is_loopback` does not count (only `::1`), while the
    /// throttle already counts it as the IPv4 address it is.
    pub(crate) fn bypasses<B>(&self, request: &Request<B>) -> bool {
        self.loopback_bypass.is_some()
            && peer_addr(request).is_some_and(|addr| addr.ip().to_canonical().is_loopback())
    }

    /// The claims a request gets from the loopback bypass, when it bypasses: the first
    /// configured user's, with its scopes, issued by nobody (`jti` empty, `iat` = `exp` = now, `exi` 0). The token, if any,
    /// is not read.
    pub(crate) fn loopback_claims<B>(&self, request: &Request<B>) -> Option<Claims> {
        let user = self.loopback_bypass.as_ref()?;
        if !self.bypasses(request) {
            return None;
        }
        let now = token::now();
        let scopes = self.users.scopes(&user.username).map(|s| s.as_str());
        let claims = Claims::new(
            &user.realm,
            &user.username,
            TokenUse::Access,
            now,
            now,
            0,
            "",
        );
        Some(claims.with_more(scopes.unwrap_or(""), None))
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::*;
    use crate::{JwtLoginLayer, Password, PeerAddr};

    fn request_from(peer: &str) -> Request<()> {
        let mut request = Request::new(());
        let peer: SocketAddr = peer.parse().unwrap();
        request.extensions_mut().insert(PeerAddr(peer));
        request
    }

    #[test]
    fn loopback_bypass_counts_ipv4_mapped_loopback_and_nothing_else() {
        let layer = JwtLoginLayer::builder()
            .user("admin", Password::plain("pw"))
            .loopback_bypass(true)
            .build()
            .unwrap();
        let shared = layer.shared();
        for (peer, bypasses) in [
            ("127.0.0.1:1", true),
            ("127.4.5.6:1", true),
            ("[::1]:1", true),
            // A dual-stack listener's spelling of an IPv4 client.
            ("[::ffff:127.0.0.1]:1", true),
            ("[::ffff:10.0.0.1]:1", false),
            ("10.0.0.1:1", false),
            ("[::2]:1", false),
        ] {
            assert_eq!(shared.bypasses(&request_from(peer)), bypasses, "{peer}");
        }
        assert!(!shared.bypasses(&Request::new(())), "no peer address");
    }

    #[test]
    fn no_address_bypasses_when_the_bypass_is_off() {
        let layer = JwtLoginLayer::builder()
            .user("admin", Password::plain("pw"))
            .build()
            .unwrap();
        for peer in ["127.0.0.1:1", "[::1]:1", "[::ffff:127.0.0.1]:1"] {
            assert!(!layer.shared().bypasses(&request_from(peer)), "{peer}");
        }
    }
}
