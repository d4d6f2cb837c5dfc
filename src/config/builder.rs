//! The builder: every setting of the layer, with its default, set in code or by a
//! [`JwtLoginConfig`](super::JwtLoginConfig). Nothing is checked here; [`build`](JwtLoginBuilder::build)
//! checks everything once.

use std::fmt;
use std::time::Duration;

use zeroize::Zeroizing;

use crate::credentials::Password;
use crate::store::Store;
use crate::throttle::LoginThrottle;
#[cfg(doc)]
use crate::{BuildError, server::JwtLoginLayer, store::MemoryStore};

/// Builds a [`JwtLoginLayer`].
///
/// Start from [`JwtLoginLayer::builder`], add at least one user, and call
/// [`build`](Self::build):
///
/// ```
/// use std::time::Duration;
/// use tower_jwt_login::{JwtLoginLayer, Password};
///
/// let layer = JwtLoginLayer::builder()
///     .user("admin", Password::plain("correct horse battery staple"))
///     .secret("a secret of at least thirty-two bytes!")
///     .access_token_lifetime(Duration::from_secs(300))
///     .build()?;
/// # Ok::<_, tower_jwt_login::BuildError>(())
/// ```
#[must_use]
pub struct JwtLoginBuilder {
    pub(super) realm: String,
    pub(super) users: Vec<(String, Password)>,
    pub(super) secret: Option<Zeroizing<Vec<u8>>>,
    pub(super) signing_key: Option<(String, Zeroizing<Vec<u8>>)>,
    pub(super) datarhei_secret: Option<Zeroizing<Vec<u8>>>,
    pub(super) previous_keys: Vec<(String, Zeroizing<Vec<u8>>)>,
    pub(super) access_lifetime: Duration,
    pub(super) refresh_lifetime: Duration,
    pub(super) leeway: Duration,
    pub(super) login_path: String,
    pub(super) refresh_path: String,
    pub(super) logout_path: String,
    pub(super) protected: Vec<String>,
    pub(super) optional: Vec<String>,
    pub(super) body_limit: usize,
    pub(super) loopback_bypass: bool,
    #[cfg(feature = "jwks")]
    pub(super) idp: crate::idp::IdpSettings,
    pub(super) store: Option<Store>,
    pub(super) throttle: LoginThrottle,
    pub(super) rotation: bool,
    pub(super) reuse_grace: Duration,
    pub(super) sessions_per_user: usize,
    pub(super) revocations_per_user: usize,
    pub(super) token_cache_slots: usize,
    /// `None`: as many as the machine runs threads in parallel, found when the layer is built.
    pub(super) max_password_hashes: Option<usize>,
    pub(super) authorization: super::authorization::AuthorizationSettings,
}

/// Slots of the validated-token cache by default: a slot per active client for a thousand
/// clients; 0.17 MB from the start, under 1 MB when all hold a token.
const DEFAULT_TOKEN_CACHE_SLOTS: usize = 1024;

impl Default for JwtLoginBuilder {
    fn default() -> Self {
        Self {
            realm: "datarhei-core".to_owned(),
            users: Vec::new(),
            secret: None,
            signing_key: None,
            datarhei_secret: None,
            previous_keys: Vec::new(),
            access_lifetime: Duration::from_secs(600),
            refresh_lifetime: Duration::from_secs(86_400),
            leeway: Duration::ZERO,
            login_path: "/api/login".to_owned(),
            refresh_path: "/api/login/refresh".to_owned(),
            logout_path: "/api/logout".to_owned(),
            protected: vec!["/api/v3".to_owned()],
            optional: Vec::new(),
            body_limit: 16 * 1024,
            loopback_bypass: false,
            #[cfg(feature = "jwks")]
            idp: crate::idp::IdpSettings::default(),
            store: None,
            throttle: LoginThrottle::new(),
            rotation: false,
            reuse_grace: Duration::from_secs(10),
            sessions_per_user: 100,
            revocations_per_user: 1_000,
            token_cache_slots: DEFAULT_TOKEN_CACHE_SLOTS,
            max_password_hashes: None,
            authorization: super::authorization::AuthorizationSettings::default(),
        }
    }
}

impl JwtLoginBuilder {
    /// The realm: the `iss` claim of issued tokens, the only issuer accepted, and the `realm` of
    /// `WWW-Authenticate`. Default is `"datarhei-core"`.
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = realm.into();
        self
    }

    /// Adds a local user. At least one is required.
    pub fn user(mut self, username: impl Into<String>, password: Password) -> Self {
        self.users.push((username.into(), password));
        self
    }

    /// The HMAC secret that signs and verifies tokens, used as given; at least 32 bytes.
    ///
    /// Default is a random 32-byte key generated when the layer is built: tokens then stop
    /// working when the process ends, and replicas cannot verify each other's tokens.
    pub fn secret(mut self, secret: impl AsRef<[u8]>) -> Self {
        self.secret = Some(Zeroizing::new(secret.as_ref().to_vec()));
        self
    }

    /// Signs and verifies tokens with datarhei Core's key: the first configured user's name,
    /// that user's password and `secret`, put end to end in this order (datarhei Core's
    /// `app/api/api.go`). Instead of [`secret`](Self::secret) and
    /// [`signing_key`](Self::signing_key).
    ///
    /// With the username, the password and the JWT secret of a datarhei Core deployment, the
    /// tokens its clients hold stay valid across the switch, and both can verify each other's
    /// tokens. Changing the password changes the key, as in datarhei Core: every token issued
    /// before is refused.
    ///
    /// The first user must have a [plain](Password::plain) password (a hash cannot give the
    /// key back), the secret must not be empty (datarhei Core uses a random key then: leave
    /// this option out for that), and the key must be at least 32 bytes long, like any other;
    /// [`build`](Self::build) names what is missing. A key too short is fixed with a longer
    /// secret, which changes the key: tokens issued before are refused, once.
    ///
    /// ```
    /// use tower_jwt_login::{JwtLoginLayer, Password};
    ///
    /// // The key is "admin" + "correct horse battery staple" + "datarhei-secret".
    /// let layer = JwtLoginLayer::builder()
    ///     .user("admin", Password::plain("correct horse battery staple"))
    ///     .datarhei_key("datarhei-secret")
    ///     .build()?;
    /// # Ok::<_, tower_jwt_login::BuildError>(())
    /// ```
    pub fn datarhei_key(mut self, secret: impl AsRef<[u8]>) -> Self {
        self.datarhei_secret = Some(Zeroizing::new(secret.as_ref().to_vec()));
        self
    }

    /// Signs tokens with this key and names it in their header (`"kid": kid`), for key
    /// rotation. At least 32 bytes; the id is 1 to 64 printable ASCII characters. Instead of
    /// [`secret`](Self::secret).
    ///
    /// To rotate: make the new key the signing key and keep the old one as a
    /// [`previous_key`](Self::previous_key) until the longest-lived token it signed (a refresh
    /// token) has expired; then remove it, and its tokens are refused.
    ///
    /// ```
    /// use tower_jwt_login::{JwtLoginLayer, Password};
    ///
    /// let layer = JwtLoginLayer::builder()
    ///     .user("admin", Password::plain("correct horse battery staple"))
    ///     .signing_key("2026-12", "the new secret, at least 32 bytes long")
    ///     .previous_key("2026-11", "the old secret, at least 32 bytes long")
    ///     .build()?;
    /// # Ok::<_, tower_jwt_login::BuildError>(())
    /// ```
    pub fn signing_key(mut self, kid: impl Into<String>, secret: impl AsRef<[u8]>) -> Self {
        self.signing_key = Some((kid.into(), Zeroizing::new(secret.as_ref().to_vec())));
        self
    }

    /// Keeps accepting tokens signed with a key that no longer signs: see
    /// [`signing_key`](Self::signing_key). Default is none.
    pub fn previous_key(mut self, kid: impl Into<String>, secret: impl AsRef<[u8]>) -> Self {
        self.previous_keys
            .push((kid.into(), Zeroizing::new(secret.as_ref().to_vec())));
        self
    }

    /// How long an access token is valid. Default is 10 minutes.
    pub fn access_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.access_lifetime = lifetime;
        self
    }

    /// How long a refresh token is valid. Default is 24 hours.
    pub fn refresh_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.refresh_lifetime = lifetime;
        self
    }

    /// How long after `exp` (and before `nbf`) a token is still accepted, for clock skew
    /// between machines. Default is zero.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The path that answers `POST` logins. Default is `/api/login`.
    pub fn login_path(mut self, path: impl Into<String>) -> Self {
        self.login_path = path.into();
        self
    }

    /// The path that answers `GET` refreshes. Default is `/api/login/refresh`.
    pub fn refresh_path(mut self, path: impl Into<String>) -> Self {
        self.refresh_path = path.into();
        self
    }

    /// The path that answers `POST` logouts. Default is `/api/logout`.
    ///
    /// Presented with a refresh token as bearer, a logout revokes that token and every token
    /// rotated from it (its family); with an access token, it revokes that access token on every
    /// protected route until it expires. Either answers `204 No Content`.
    pub fn logout_path(mut self, path: impl Into<String>) -> Self {
        self.logout_path = path.into();
        self
    }

    /// Where throttling counters, refresh-token families and revocations are kept. Default is a
    /// [`MemoryStore`], right for a single instance; several replicas share a `RedisStore`
    /// (feature `redis`): see "Several replicas" in the README.
    pub fn store(mut self, store: impl Into<Store>) -> Self {
        self.store = Some(store.into());
        self
    }

    /// How failed logins are throttled; see [`LoginThrottle`]. Default is
    /// [`LoginThrottle::new`]: 5 failures per username and client, 50 per client, in 15
    /// minutes, then `429` with `Retry-After` growing from 1 second to 15 minutes.
    pub fn login_throttle(mut self, throttle: LoginThrottle) -> Self {
        self.throttle = throttle;
        self
    }

    /// Refresh-token rotation: each refresh spends the presented refresh token and answers
    /// `{"access_token", "refresh_token"}` with a new one. Presenting a spent refresh token
    /// again is taken as theft: every refresh token of that login is revoked, and the answer is
    /// `401`. Default is `false`, so that clients that ignore a new refresh token (datarhei
    /// Core's Go client does) keep working.
    ///
    /// Recommended whenever the clients keep the refresh token they are given: a stolen refresh
    /// token then works only until its owner, or the thief, uses it again after the
    /// [reuse grace](Self::refresh_token_reuse_grace). Enabling it makes refresh tokens issued
    /// before unusable (the store has no record of them); the next login fixes that.
    pub const fn refresh_token_rotation(mut self, enabled: bool) -> Self {
        self.rotation = enabled;
        self
    }

    /// With rotation, how long a just-spent refresh token is still honoured: two browser tabs,
    /// or a client retrying a refresh whose answer it lost, present the same token at nearly
    /// the same time, and each gets a new token of the same login instead of logging the user
    /// out. After the grace, presenting it again is reuse. Default is 10 seconds; zero turns
    /// the grace off; at most 5 minutes.
    pub const fn refresh_token_reuse_grace(mut self, grace: Duration) -> Self {
        self.reuse_grace = grace;
        self
    }

    /// With rotation, how many logins (refresh-token families) one user may have alive at
    /// once. A new login past it ends the user's least recently refreshed one: its refresh
    /// token is refused from then on, its access token runs out. Another user is never
    /// affected. Default is 100.
    pub const fn max_sessions_per_user(mut self, sessions: usize) -> Self {
        self.sessions_per_user = sessions;
        self
    }

    /// How many revocations (logouts, reused refresh tokens) the store holds for one user until
    /// the tokens they refuse expire. Past it, the user's revocations become one watermark:
    /// every token of that user issued up to the newest revoked one is refused, so nothing
    /// revoked comes back, and the user logs in again. Another user is never affected. Default
    /// is 1 000.
    pub const fn max_revocations_per_user(mut self, revocations: usize) -> Self {
        self.revocations_per_user = revocations;
        self
    }

    /// The largest login body read, in bytes; a larger one is answered with 413 without being
    /// read. Default is 16 KiB.
    pub fn login_body_limit(mut self, limit: usize) -> Self {
        self.body_limit = limit;
        self
    }

    /// How many access tokens the validated-token cache remembers; `0` turns it off. Default
    /// is 1024; rounded up to a power of two, at most 16,384.
    ///
    /// A client sends the same access token with every request until it expires. The first
    /// request verifies it in full; the next ones presenting exactly the same bytes get its
    /// claims from the cache, expiry and revocation checked as always, without the HMAC and the
    /// parsing. Each token takes one slot chosen from its signature, replacing what was there,
    /// so memory is fixed: under 1 MB full by default. With many more active clients than
    /// slots most requests miss, which costs a little more than no cache; size it to the
    /// number of clients, or turn it off.
    ///
    /// ```
    /// use tower_jwt_login::{JwtLoginLayer, Password};
    ///
    /// let layer = JwtLoginLayer::builder()
    ///     .user("admin", Password::plain("correct horse battery staple"))
    ///     .validated_token_cache(4096)
    ///     .build()?;
    /// # Ok::<_, tower_jwt_login::BuildError>(())
    /// ```
    pub const fn validated_token_cache(mut self, slots: usize) -> Self {
        self.token_cache_slots = slots;
        self
    }

    /// How many argon2 password checks ([`Password::phc`]) may run at once; `0` is refused by
    /// [`build`](Self::build). Default is [`std::thread::available_parallelism`] (1 if unknown).
    ///
    /// Each check takes a core and the hash's memory cost (19 MiB with the argon2 crate's default
    /// parameters, `m=19456`) for tens of milliseconds. A login that finds every slot taken waits
    /// for one at most 1 second, then is answered `503 Service Unavailable` with `Retry-After: 1`
    /// ([`Rejection::PasswordCheckBusy`](crate::Rejection::PasswordCheckBusy)) without checking
    /// its password, and without counting against the client in the login throttle. An unknown
    /// username takes a slot too: it costs what a known one does. Plain passwords need no slot.
    ///
    /// The memory of the checks is kept for the next ones, so peak memory is about this number
    /// times the hash's memory cost: 400 concurrent wrong passwords from 400 addresses peaked at
    /// 50-56 MiB with the default bound on 2 cores (7.4 GB without a bound;
    /// `cargo bench --all-features --bench password_flood`). The wait needs tokio's timer
    /// (`#[tokio::main]` enables it); outside a tokio runtime, a login that finds every slot
    /// taken is answered `503` at once.
    ///
    /// ```
    /// use tower_jwt_login::{JwtLoginLayer, Password};
    ///
    /// let layer = JwtLoginLayer::builder()
    ///     .user("admin", Password::phc("$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$ZQ7dp1K1mtFHDzqKCNOV+8uYySyMNyn3tjfl5BfxKYs"))
    ///     .max_concurrent_password_hashes(4)
    ///     .build()?;
    /// # Ok::<_, tower_jwt_login::BuildError>(())
    /// ```
    pub const fn max_concurrent_password_hashes(mut self, max: usize) -> Self {
        self.max_password_hashes = Some(max);
        self
    }

    /// Lets requests whose connection comes from a loopback address through protected routes
    /// without a token (datarhei Core's `disable_localhost`). Default is `false`.
    ///
    /// Such a request is authenticated as the first configured user, on protected and
    /// optional-auth routes alike: the inner service finds [`Claims`](crate::Claims) with that
    /// user as `sub`, so a handler answers it as it answers that user (datarhei Core's `GET
    /// /api` gives its full answer). No token was issued for them: their `jti` is empty, `iat`
    /// and `exp` are the time of the request and `exi` is 0. A token the request carries is not
    /// read.
    ///
    /// The peer address is read from the connection, through the request extension
    /// [`PeerAddr`](crate::PeerAddr) (or axum's `ConnectInfo<SocketAddr>` with the `axum`
    /// feature), never from a header such as `X-Forwarded-For`. A request without either is
    /// not let through.
    pub fn loopback_bypass(mut self, enabled: bool) -> Self {
        self.loopback_bypass = enabled;
        self
    }
}

impl fmt::Debug for JwtLoginBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("JwtLoginBuilder");
        debug
            .field("realm", &self.realm)
            .field("users", &self.users)
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .field(
                "datarhei_key",
                &self.datarhei_secret.as_ref().map(|_| "[redacted]"),
            )
            .field(
                "signing_key",
                &self
                    .signing_key
                    .as_ref()
                    .map(|(kid, _)| (kid, "[redacted]")),
            )
            .field(
                "previous_keys",
                &self
                    .previous_keys
                    .iter()
                    .map(|(kid, _)| (kid, "[redacted]"))
                    .collect::<Vec<_>>(),
            )
            .field("access_lifetime", &self.access_lifetime)
            .field("refresh_lifetime", &self.refresh_lifetime)
            .field("leeway", &self.leeway)
            .field("login_path", &self.login_path)
            .field("refresh_path", &self.refresh_path)
            .field("logout_path", &self.logout_path)
            .field("protected", &self.protected)
            .field("optional", &self.optional)
            .field("body_limit", &self.body_limit)
            .field("loopback_bypass", &self.loopback_bypass)
            .field("store", &self.store)
            .field("throttle", &self.throttle)
            .field("rotation", &self.rotation)
            .field("refresh_token_reuse_grace", &self.reuse_grace)
            .field("max_sessions_per_user", &self.sessions_per_user)
            .field("max_revocations_per_user", &self.revocations_per_user)
            .field("token_cache_slots", &self.token_cache_slots)
            .field("max_password_hashes", &self.max_password_hashes)
            .field("authorization", &self.authorization);
        #[cfg(feature = "jwks")]
        debug.field("idp", &self.idp);
        debug.finish()
    }
}
