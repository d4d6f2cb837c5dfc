//! The builder's authorization settings: which paths need a token, the scopes of local users,
//! the scopes a path prefix requires, the application's custom claims and the largest token
//! issued.

use std::fmt;

use serde::Serialize;

use super::JwtLoginBuilder;
use crate::grant::{CustomClaims, Login, MakeClaims};
use crate::token::MAX_TOKEN_LEN;

/// What the builder holds of the authorization settings, checked by `build`.
pub(super) struct AuthorizationSettings {
    pub(super) user_scopes: Vec<(String, Vec<String>)>,
    pub(super) requirements: Vec<(String, Vec<String>)>,
    pub(super) custom_claims: Option<(Vec<String>, Box<MakeClaims>)>,
    pub(super) max_token_size: usize,
}

impl Default for AuthorizationSettings {
    fn default() -> Self {
        Self {
            user_scopes: Vec::new(),
            requirements: Vec::new(),
            custom_claims: None,
            max_token_size: MAX_TOKEN_LEN,
        }
    }
}

impl fmt::Debug for AuthorizationSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationSettings")
            .field("user_scopes", &self.user_scopes)
            .field("requirements", &self.requirements)
            .field(
                "custom_claims",
                &self.custom_claims.as_ref().map(|(names, _)| names),
            )
            .field("max_token_size", &self.max_token_size)
            .finish()
    }
}

impl JwtLoginBuilder {
    /// Replaces the protected prefixes: every request whose path is a prefix or lies below one
    /// needs a valid access token. Default is `["/api/v3"]`.
    ///
    /// Matching is done on the normalised path (percent-decoded, repeated slashes and `;`
    /// parameters removed, dot segments resolved, and also with `..` kept as a segment, as a
    /// router matching the raw path reads it) and ignores ASCII case, so that no spelling of a
    /// protected path slips through; see `SECURITY.md`.
    pub fn protected_prefixes<I, P>(mut self, prefixes: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<String>,
    {
        self.protected = prefixes.into_iter().map(Into::into).collect();
        self
    }

    /// Adds a protected prefix to those already set (the file's `protected_prefixes`, one at a
    /// time).
    pub(super) fn protected_prefix(mut self, prefix: String) -> Self {
        self.protected.push(prefix);
        self
    }

    /// Adds a path (matched exactly) where authentication is optional: a valid access token
    /// attaches its [`Claims`](crate::Claims), a missing or invalid one passes the request on
    /// without them. datarhei Core does this for `GET /api`. Default is none.
    ///
    /// A path under a protected prefix stays protected.
    pub fn optional_auth_path(mut self, path: impl Into<String>) -> Self {
        self.optional.push(path.into());
        self
    }

    /// Gives a configured user scopes (RFC 6749 §3.3: printable ASCII without spaces, `"` or
    /// `\`), which every access token of its logins carries in the `scope` claim. Replaces the
    /// user's scopes set before. Default: none, and a token without scopes has exactly
    /// datarhei Core's claims.
    ///
    /// A refresh re-reads the user's scopes: it grants what the login granted *and* the user
    /// still has, so a scope removed from the configuration is gone from the next access token;
    /// one added takes a new login.
    ///
    /// ```
    /// use tower_jwt_login::{JwtLoginLayer, Password};
    ///
    /// let layer = JwtLoginLayer::builder()
    ///     .user("admin", Password::plain("correct horse battery staple"))
    ///     .user("viewer", Password::plain("another long password"))
    ///     .user_scopes("admin", ["streams:read", "streams:write"])
    ///     .user_scopes("viewer", ["streams:read"])
    ///     .require_scopes("/api/v3/process", ["streams:write"])
    ///     .build()?;
    /// # Ok::<_, tower_jwt_login::BuildError>(())
    /// ```
    pub fn user_scopes<I, S>(mut self, username: impl Into<String>, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let username = username.into();
        let scopes = scopes.into_iter().map(Into::into).collect();
        let settings = &mut self.authorization.user_scopes;
        settings.retain(|(name, _)| *name != username);
        settings.push((username, scopes));
        self
    }

    /// Requires every one of `scopes` for requests under `prefix`, which must lie under a
    /// protected prefix. A valid access token without them is answered `403` with
    /// `WWW-Authenticate: Bearer error="insufficient_scope", scope="..."` (RFC 6750 §3.1);
    /// a missing or invalid token stays `401`. Every requirement whose prefix a path is under
    /// applies: `/api/v3` requiring `read` and `/api/v3/admin` requiring `admin` make
    /// `/api/v3/admin/x` need both. Prefixes match as protected prefixes do (normalised path,
    /// ASCII case ignored).
    ///
    /// For one handler rather than a prefix, see [`RequireScopeLayer`](crate::RequireScopeLayer)
    /// (or check [`Claims::has_scope`](crate::Claims::has_scope) in the handler).
    pub fn require_scopes<I, S>(mut self, prefix: impl Into<String>, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let scopes = scopes.into_iter().map(Into::into).collect();
        self.authorization
            .requirements
            .push((prefix.into(), scopes));
        self
    }

    /// Adds the application's own claims to the tokens of each login: `make` is given who
    /// logged in and how ([`Login`]), and returns any value that serialises to a JSON object
    /// whose members are among `names`. The tokens of the login, and those its refreshes issue,
    /// carry them; a handler reads them typed with [`Claims::extra`](crate::Claims::extra).
    ///
    /// `names` are checked when the layer is built: at most 16, none empty, none of RFC 7519's
    /// registered claims or this crate's (`iss`, `sub`, `aud`, `exp`, `nbf`, `iat`, `jti`,
    /// `usefor`, `exi`, `scope`, `client_id`, `act`, `may_act`). A member outside `names`, a
    /// value that is not an object, or a token longer than
    /// [`max_token_size`](Self::max_token_size) fails that login with `500`
    /// ([`Rejection::TokenNotIssued`](crate::Rejection::TokenNotIssued)) and an error log.
    ///
    /// ```
    /// use serde::{Deserialize, Serialize};
    /// use tower_jwt_login::{JwtLoginLayer, Login, Password};
    ///
    /// #[derive(Serialize, Deserialize)]
    /// struct Tenant {
    ///     tenant: String,
    /// }
    ///
    /// let layer = JwtLoginLayer::builder()
    ///     .user("admin", Password::plain("correct horse battery staple"))
    ///     .custom_claims(["tenant"], |login: &Login<'_>| Tenant {
    ///         tenant: format!("{}-org", login.username),
    ///     })
    ///     .build()?;
    /// # Ok::<_, tower_jwt_login::BuildError>(())
    /// ```
    pub fn custom_claims<N, S, T, F>(mut self, names: N, make: F) -> Self
    where
        N: IntoIterator<Item = S>,
        S: Into<String>,
        T: Serialize,
        F: Fn(&Login<'_>) -> T + Send + Sync + 'static,
    {
        let names = names.into_iter().map(Into::into).collect();
        self.authorization.custom_claims = Some((names, CustomClaims::erase(make)));
        self
    }

    /// The longest token issued, in bytes: a login or refresh whose token would be longer
    /// (a long username, many scopes, large custom claims) is refused with `500`
    /// ([`Rejection::TokenNotIssued`](crate::Rejection::TokenNotIssued)) rather than handing
    /// out a token that clients and proxies may cut. Between 512 and 4096 (the longest token
    /// the verifier reads); default 4096. Tokens up to 512 bytes are also the ones the
    /// validated-token cache holds.
    pub const fn max_token_size(mut self, bytes: usize) -> Self {
        self.authorization.max_token_size = bytes;
        self
    }
}
