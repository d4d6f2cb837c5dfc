//! Build-time validation: each part of the configuration has one check, which
//! [`JwtLoginBuilder::build`] runs, and which a [`JwtLoginConfig`](super::JwtLoginConfig) runs as
//! soon as it has set one of its fields, so that an error names that field.

use std::time::Duration;

use http::HeaderValue;
use zeroize::Zeroizing;

use super::JwtLoginBuilder;
use crate::credentials::LocalUsers;
use crate::error::BuildError;
use crate::grant::CustomClaims;
use crate::keys::{HmacKey, KeySet, MIN_SECRET_LEN};
use crate::scope::Scopes;
use crate::server::TokenCache;
use crate::server::{
    HashSlots, JwtLoginLayer, LoopbackUser, Routes, ScopeRules, SessionBounds, Shared,
};
use crate::store::{MemoryStore, Store};
use crate::throttle::Throttle;
use crate::token::{MAX_TOKEN_LEN, MIN_MAX_TOKEN_LEN, TokenIssuer, TokenVerifier};

/// The longest token lifetime accepted: ten years.
const MAX_LIFETIME: Duration = Duration::from_secs(10 * 366 * 24 * 3600);

/// The two `WWW-Authenticate` values that carry the realm: for a missing token, and for an
/// invalid one.
pub(super) type Challenges = (HeaderValue, HeaderValue);

/// The lifetimes in seconds, and the leeway.
pub(super) struct Lifetimes {
    access: i64,
    refresh: i64,
    leeway: i64,
}

impl JwtLoginBuilder {
    /// Validates the configuration and builds the layer.
    ///
    /// # Errors
    ///
    /// A [`BuildError`] names the first problem found: no users, a duplicate or empty username,
    /// an empty password, an invalid PHC string, a secret shorter than 32 bytes, an invalid
    /// path or realm, an impossible lifetime, or a zero limit.
    pub fn build(mut self) -> Result<JwtLoginLayer, BuildError> {
        let (missing, invalid) = self.challenges()?;
        let bounds = self.session_bounds()?;
        let lifetimes = self.lifetimes()?;
        let body_limit = self.body_limit()?;
        let max_password_hashes = self.password_hashes()?;
        let routes = self.routes()?;
        let users = self.scoped_users()?;
        let scope_rules = self.scope_rules(&routes)?;
        let max_token_size = self.checked_max_token_size()?;
        let custom_claims = match self.authorization.custom_claims.take() {
            Some((names, make)) => Some(CustomClaims::new(names, make)?),
            None => None,
        };
        let throttle = self.throttle()?;
        let keys = self.keys()?;
        #[cfg(feature = "jwks")]
        let idp = crate::idp::Idp::new(self.idp, self.leeway.as_secs())?;
        let store = self
            .store
            .unwrap_or_else(|| Store::from(MemoryStore::new()));
        Ok(JwtLoginLayer::from_shared(Shared {
            issuer: TokenIssuer::new(keys.signing().clone(), &self.realm, max_token_size),
            verifier: TokenVerifier::new(keys, &self.realm, lifetimes.leeway),
            users,
            routes,
            scope_rules,
            custom_claims,
            access_lifetime: lifetimes.access,
            refresh_lifetime: lifetimes.refresh,
            body_limit,
            loopback_bypass: self.loopback_bypass.then(|| LoopbackUser {
                realm: self.realm.clone().into_boxed_str(),
                username: self.users[0].0.clone().into_boxed_str(),
            }),
            www_authenticate_missing: missing,
            www_authenticate_invalid: invalid,
            #[cfg(feature = "jwks")]
            idp,
            store,
            throttle,
            rotation: self.rotation,
            bounds,
            leeway: lifetimes.leeway,
            token_cache: TokenCache::new(self.token_cache_slots),
            passwords: HashSlots::new(max_password_hashes),
        }))
    }

    /// The realm: printable ASCII without quotes or backslashes, so that it fits in a header.
    pub(super) fn challenges(&self) -> Result<Challenges, BuildError> {
        let realm = &self.realm;
        if realm.is_empty()
            || !realm
                .bytes()
                .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\')
        {
            return Err(BuildError::InvalidRealm);
        }
        let missing = HeaderValue::try_from(format!("Bearer realm=\"{realm}\""))
            .map_err(|_| BuildError::InvalidRealm)?;
        let invalid =
            HeaderValue::try_from(format!("Bearer realm=\"{realm}\", error=\"invalid_token\""))
                .map_err(|_| BuildError::InvalidRealm)?;
        Ok((missing, invalid))
    }

    /// The per-user bounds and the reuse grace of rotated refresh tokens.
    pub(super) fn session_bounds(&self) -> Result<SessionBounds, BuildError> {
        let invalid = |reason| Err(BuildError::InvalidSessionBounds { reason });
        if self.sessions_per_user == 0 || self.revocations_per_user == 0 {
            return invalid("the per-user bounds must be at least 1");
        }
        if self.reuse_grace > Duration::from_secs(300) {
            return invalid("the refresh-token reuse grace must be at most 5 minutes");
        }
        Ok(SessionBounds {
            sessions_per_user: self.sessions_per_user,
            revocations_per_user: self.revocations_per_user,
            reuse_grace_ms: i64::try_from(self.reuse_grace.as_millis()).unwrap_or(i64::MAX),
        })
    }

    /// Both lifetimes between a second and ten years; the leeway shorter than an access token
    /// lives.
    pub(super) fn lifetimes(&self) -> Result<Lifetimes, BuildError> {
        let seconds = |lifetime: Duration, token| {
            if lifetime.as_secs() == 0 || lifetime > MAX_LIFETIME {
                return Err(BuildError::InvalidLifetime { token });
            }
            Ok(i64::try_from(lifetime.as_secs()).expect("bounded by MAX_LIFETIME"))
        };
        let access = seconds(self.access_lifetime, "access")?;
        let refresh = seconds(self.refresh_lifetime, "refresh")?;
        if self.leeway >= self.access_lifetime {
            return Err(BuildError::InvalidLeeway);
        }
        let leeway = i64::try_from(self.leeway.as_secs()).unwrap_or(i64::MAX);
        Ok(Lifetimes {
            access,
            refresh,
            leeway,
        })
    }

    pub(super) const fn body_limit(&self) -> Result<usize, BuildError> {
        match self.body_limit {
            0 => Err(BuildError::InvalidBodyLimit),
            limit => Ok(limit),
        }
    }

    /// The bound on concurrent argon2 checks: at least 1; by default, the machine's parallelism.
    pub(super) fn password_hashes(&self) -> Result<usize, BuildError> {
        match self.max_password_hashes {
            Some(0) => Err(BuildError::InvalidPasswordHashLimit),
            Some(max) => Ok(max),
            None => Ok(std::thread::available_parallelism().map_or(1, usize::from)),
        }
    }

    /// The layer's paths and prefixes, each absolute and already normalised.
    pub(super) fn routes(&self) -> Result<Routes, BuildError> {
        Routes::new(
            self.login_path.clone(),
            self.refresh_path.clone(),
            self.logout_path.clone(),
            self.protected.clone(),
            self.optional.clone(),
        )
    }

    /// The local users: at least one, names unique and not empty, passwords not empty, hashes
    /// valid PHC strings.
    pub(super) fn users(&self) -> Result<LocalUsers, BuildError> {
        LocalUsers::new(self.users.clone())
    }

    /// The local users with their scopes: every scope valid, and given to a configured user.
    pub(super) fn scoped_users(&self) -> Result<LocalUsers, BuildError> {
        self.users()?.with_scopes(self.checked_user_scopes()?)
    }

    /// The scopes of each user named, each scope valid.
    pub(super) fn checked_user_scopes(&self) -> Result<Vec<(String, Scopes)>, BuildError> {
        let settings = &self.authorization.user_scopes;
        settings
            .iter()
            .map(|(username, scopes)| Ok((username.clone(), Scopes::new(scopes)?)))
            .collect()
    }

    /// The scopes prefixes require: each under a protected prefix, with valid scopes.
    pub(super) fn scope_rules(&self, routes: &Routes) -> Result<ScopeRules, BuildError> {
        let requirements = self.authorization.requirements.iter();
        let requirements = requirements
            .map(|(prefix, scopes)| Ok((prefix.clone(), Scopes::new(scopes)?)))
            .collect::<Result<_, BuildError>>()?;
        ScopeRules::new(requirements, routes, &self.realm)
    }

    /// The longest token issued: room for our claims, no more than the verifier reads.
    pub(super) const fn checked_max_token_size(&self) -> Result<usize, BuildError> {
        match self.authorization.max_token_size {
            size @ MIN_MAX_TOKEN_LEN..=MAX_TOKEN_LEN => Ok(size),
            size => Err(BuildError::InvalidMaxTokenSize { size }),
        }
    }

    /// The login throttle's limits, unless it is disabled.
    pub(super) fn throttle(&self) -> Result<Option<Throttle>, BuildError> {
        self.throttle.clone().build()
    }

    /// The signing key (one of `secret`, `signing_key` and `datarhei_key`; a random one if
    /// none) and the previous keys, which need the signing key to have an id.
    pub(super) fn keys(&self) -> Result<KeySet, BuildError> {
        let configured = [
            self.secret.is_some(),
            self.signing_key.is_some(),
            self.datarhei_secret.is_some(),
        ];
        if configured.iter().filter(|set| **set).count() > 1 {
            return Err(BuildError::ConflictingKeys);
        }
        let signing = if let Some(secret) = &self.secret {
            HmacKey::new(secret)?
        } else if let Some((kid, secret)) = &self.signing_key {
            HmacKey::with_kid(kid, secret)?
        } else if let Some(secret) = &self.datarhei_secret {
            HmacKey::new(&self.datarhei_key_bytes(secret)?)?
        } else if !self.previous_keys.is_empty() {
            return Err(BuildError::PreviousKeyNeedsKeyId);
        } else {
            tracing::info!(
                "no JWT secret configured: using a random key; tokens will not survive a restart"
            );
            HmacKey::random()
        };
        let previous = self
            .previous_keys
            .iter()
            .map(|(kid, secret)| HmacKey::with_kid(kid, secret))
            .collect::<Result<Vec<_>, _>>()?;
        KeySet::new(signing, previous)
    }

    /// datarhei Core's key: the first user's name, password and `secret`, end to end.
    fn datarhei_key_bytes(&self, secret: &[u8]) -> Result<Zeroizing<Vec<u8>>, BuildError> {
        if secret.is_empty() {
            return Err(BuildError::EmptyDatarheiSecret);
        }
        let (username, password) = self.users.first().ok_or(BuildError::NoUsers)?;
        let password =
            password
                .plain_text()
                .ok_or_else(|| BuildError::DatarheiKeyNeedsPlainPassword {
                    username: username.clone(),
                })?;
        let mut key = Zeroizing::new(Vec::with_capacity(
            username.len() + password.len() + secret.len(),
        ));
        key.extend_from_slice(username.as_bytes());
        key.extend_from_slice(password.as_bytes());
        key.extend_from_slice(secret);
        if key.len() < MIN_SECRET_LEN {
            return Err(BuildError::DatarheiKeyTooShort {
                len: key.len(),
                secret_len: secret.len(),
            });
        }
        Ok(key)
    }

    /// Each tenant on its own. The layer's build checks them again as a whole, with the client
    /// that fetches their keys.
    #[cfg(feature = "jwks")]
    pub(super) fn tenants(&self) -> Result<(), BuildError> {
        for tenant in &self.idp.tenants {
            tenant.clone().into_config()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::Password;

    fn builder() -> JwtLoginBuilder {
        JwtLoginLayer::builder().user("admin", Password::plain("pw"))
    }

    #[test]
    fn valid_configuration_builds() {
        builder().secret([1u8; 32]).build().unwrap();
        builder().build().unwrap();
    }

    #[test]
    fn every_misconfiguration_is_a_build_error() {
        let cases: Vec<(JwtLoginBuilder, BuildError)> = vec![
            (
                builder().secret("short"),
                BuildError::SecretTooShort { len: 5 },
            ),
            (JwtLoginLayer::builder(), BuildError::NoUsers),
            (builder().realm(""), BuildError::InvalidRealm),
            (builder().realm("a\"b"), BuildError::InvalidRealm),
            (
                builder().access_token_lifetime(Duration::ZERO),
                BuildError::InvalidLifetime { token: "access" },
            ),
            (
                builder().refresh_token_lifetime(Duration::from_secs(u64::MAX)),
                BuildError::InvalidLifetime { token: "refresh" },
            ),
            (
                builder().leeway(Duration::from_secs(600)),
                BuildError::InvalidLeeway,
            ),
            (builder().login_body_limit(0), BuildError::InvalidBodyLimit),
            (
                builder().max_concurrent_password_hashes(0),
                BuildError::InvalidPasswordHashLimit,
            ),
        ];
        for (builder, expected) in cases {
            assert_eq!(builder.build().unwrap_err(), expected);
        }
        for bad in [
            "api/v3",
            "/api//v3",
            "/api/../v3",
            "/api/v3/",
            "/api/%76",
            "/a;b",
            "",
        ] {
            assert!(
                matches!(
                    builder().protected_prefixes([bad]).build().unwrap_err(),
                    BuildError::InvalidPath { .. }
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn debug_redacts_the_secret_and_passwords() {
        let debug = format!(
            "{:?}",
            builder()
                .user("bob", Password::plain("hunter2hunter2"))
                .secret("0123456789abcdef0123456789abcdef")
        );
        assert!(!debug.contains("0123456789"));
        assert!(!debug.contains("hunter2"));
        assert!(debug.contains("[redacted]"));
    }
}
