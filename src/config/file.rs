//! The deserializable form of the configuration, for an app's own configuration file.
//!
//! [`JwtLoginConfig`] only carries values: it fills a [`JwtLoginBuilder`], and the builder
//! validates them, exactly as it validates values set in code. What this module adds is the
//! way back from a [`BuildError`] to the configuration field that caused it.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use zeroize::Zeroizing;

use crate::config::JwtLoginBuilder;
use crate::credentials::Password;
use crate::error::{BuildError, ConfigError};
use crate::server::JwtLoginLayer;
use crate::store::MemoryStore;
use crate::throttle::LoginThrottle;

/// The layer's configuration as an app's configuration file holds it: deserialize it with
/// `serde` (from JSON, TOML, YAML, or anything else serde reads), then
/// [`build`](Self::build) the layer.
///
/// Every field is optional except `users`; a missing one keeps the
/// [builder's](JwtLoginBuilder) default. Unknown fields are errors, so that a misspelt setting
/// is not silently ignored. Durations are whole seconds (milliseconds where the field name
/// says so).
///
/// | field | type | builder method |
/// |---|---|---|
/// | `realm` | string | [`realm`](JwtLoginBuilder::realm) |
/// | `users` | array of `{"username", "password"}` or `{"username", "password_hash"}` (argon2id PHC) | [`user`](JwtLoginBuilder::user) |
/// | `secret` | string, at least 32 bytes | [`secret`](JwtLoginBuilder::secret) |
/// | `signing_key` | `{"kid", "secret"}`, instead of `secret` | [`signing_key`](JwtLoginBuilder::signing_key) |
/// | `previous_keys` | array of `{"kid", "secret"}` | [`previous_key`](JwtLoginBuilder::previous_key) |
/// | `access_token_lifetime_seconds` | integer | [`access_token_lifetime`](JwtLoginBuilder::access_token_lifetime) |
/// | `refresh_token_lifetime_seconds` | integer | [`refresh_token_lifetime`](JwtLoginBuilder::refresh_token_lifetime) |
/// | `leeway_seconds` | integer | [`leeway`](JwtLoginBuilder::leeway) |
/// | `login_path`, `refresh_path`, `logout_path` | string | [`login_path`](JwtLoginBuilder::login_path), ... |
/// | `protected_prefixes` | array of strings | [`protected_prefixes`](JwtLoginBuilder::protected_prefixes) |
/// | `optional_auth_paths` | array of strings | [`optional_auth_path`](JwtLoginBuilder::optional_auth_path) |
/// | `login_body_limit_bytes` | integer | [`login_body_limit`](JwtLoginBuilder::login_body_limit) |
/// | `loopback_bypass` | boolean | [`loopback_bypass`](JwtLoginBuilder::loopback_bypass) |
/// | `login_throttle` | `{"enabled", "max_failures_per_user", "max_failures_per_client", "window_seconds", "first_lockout_seconds", "max_lockout_seconds"}` | [`login_throttle`](JwtLoginBuilder::login_throttle) |
/// | `refresh_token_rotation` | boolean | [`refresh_token_rotation`](JwtLoginBuilder::refresh_token_rotation) |
/// | `refresh_token_reuse_grace_seconds` | integer | [`refresh_token_reuse_grace`](JwtLoginBuilder::refresh_token_reuse_grace) |
/// | `max_sessions_per_user` | integer | [`max_sessions_per_user`](JwtLoginBuilder::max_sessions_per_user) |
/// | `max_revocations_per_user` | integer | [`max_revocations_per_user`](JwtLoginBuilder::max_revocations_per_user) |
/// | `validated_token_cache_slots` | integer | [`validated_token_cache`](JwtLoginBuilder::validated_token_cache) |
/// | `max_concurrent_password_hashes` | integer, at least 1 | [`max_concurrent_password_hashes`](JwtLoginBuilder::max_concurrent_password_hashes) |
/// | `store` | `{"type": "memory", "max_throttle_counters"}`, or `{"type": "redis", "url", "key_prefix", "timeout_milliseconds"}` (feature `redis`) | [`store`](JwtLoginBuilder::store) |
/// | `tenants` | array of `{"issuer", "audiences", "allowed_subjects", "jwks_url", "discovery", "allow_insecure_loopback", "refresh_interval_seconds"}` (feature `jwks`) | [`tenant`](JwtLoginBuilder::tenant) |
///
/// The secrets, the passwords, the password hashes and the Redis URL (which may carry a
/// password) are printed as `[redacted]` by `Debug`, and zeroed when the configuration is
/// dropped (copies the deserializer itself made, such as the file's text, are the app's).
///
/// # Example
///
/// ```
/// use tower_jwt_login::JwtLoginConfig;
///
/// let config: JwtLoginConfig = serde_json::from_str(
///     r#"{
///         "users": [{ "username": "admin", "password": "correct horse battery staple" }],
///         "secret": "a secret of at least thirty-two bytes!",
///         "access_token_lifetime_seconds": 300,
///         "optional_auth_paths": ["/api"],
///         "login_throttle": { "max_failures_per_user": 3 }
///     }"#,
/// )?;
/// let layer = config.build()?;
///
/// // Validation errors name the field.
/// let config: JwtLoginConfig = serde_json::from_str(
///     r#"{ "users": [{ "username": "admin", "password": "pw" }], "secret": "short" }"#,
/// )?;
/// assert_eq!(config.build().unwrap_err().field(), Some("secret"));
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtLoginConfig {
    realm: Option<String>,
    #[serde(default)]
    users: Vec<UserEntry>,
    secret: Option<Secret>,
    signing_key: Option<KeySettings>,
    #[serde(default)]
    previous_keys: Vec<KeySettings>,
    access_token_lifetime_seconds: Option<u64>,
    refresh_token_lifetime_seconds: Option<u64>,
    leeway_seconds: Option<u64>,
    login_path: Option<String>,
    refresh_path: Option<String>,
    logout_path: Option<String>,
    protected_prefixes: Option<Vec<String>>,
    #[serde(default)]
    optional_auth_paths: Vec<String>,
    login_body_limit_bytes: Option<usize>,
    loopback_bypass: Option<bool>,
    login_throttle: Option<ThrottleSettings>,
    refresh_token_rotation: Option<bool>,
    refresh_token_reuse_grace_seconds: Option<u64>,
    max_sessions_per_user: Option<usize>,
    max_revocations_per_user: Option<usize>,
    validated_token_cache_slots: Option<usize>,
    max_concurrent_password_hashes: Option<usize>,
    store: Option<StoreSettings>,
    #[cfg(feature = "jwks")]
    #[serde(default)]
    tenants: Vec<TenantSettings>,
}

impl JwtLoginConfig {
    /// Validates the configuration and builds the layer.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] that names the field at fault (such as `users[1].password` or
    /// `protected_prefixes[0]`) and carries the builder's [`BuildError`].
    pub fn build(self) -> Result<JwtLoginLayer, ConfigError> {
        self.build_with(|builder| builder)
    }

    /// Like [`build`](Self::build), with the chance to set on the builder what a file cannot
    /// hold before it validates: a [`jwks_client`](JwtLoginBuilder::jwks_client), a
    /// [`LoginThrottle`] with a [`ClientKey`](crate::ClientKey), a store of your own.
    ///
    /// ```
    /// use tower_jwt_login::{JwtLoginConfig, Password};
    ///
    /// let config: JwtLoginConfig = serde_json::from_str(r#"{ "realm": "example" }"#)?;
    /// let layer = config.build_with(|builder| {
    ///     builder.user("admin", Password::plain("correct horse battery staple"))
    /// })?;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`build`](Self::build); an error caused by what `customize` set names no field.
    pub fn build_with<F>(self, customize: F) -> Result<JwtLoginLayer, ConfigError>
    where
        F: FnOnce(JwtLoginBuilder) -> JwtLoginBuilder,
    {
        let fields = Fields::of(&self);
        let builder = self.into_builder()?;
        customize(builder)
            .build()
            .map_err(|error| ConfigError::new(fields.locate(&error), error))
    }

    /// Fills a builder. Only the Redis store is set up here (it is built apart from the layer);
    /// everything else is validated by [`JwtLoginBuilder::build`].
    fn into_builder(self) -> Result<JwtLoginBuilder, ConfigError> {
        let mut builder = JwtLoginLayer::builder();
        if let Some(realm) = self.realm {
            builder = builder.realm(realm);
        }
        for user in self.users {
            let password = match user.password {
                PasswordSetting::Plain(password) => Password::plain(password.into_string()),
                PasswordSetting::Hash(hash) => Password::phc(hash.into_string()),
            };
            builder = builder.user(user.username, password);
        }
        if let Some(secret) = &self.secret {
            builder = builder.secret(secret.0.as_bytes());
        }
        if let Some(key) = &self.signing_key {
            builder = builder.signing_key(key.kid.as_str(), key.secret.0.as_bytes());
        }
        for key in &self.previous_keys {
            builder = builder.previous_key(key.kid.as_str(), key.secret.0.as_bytes());
        }
        if let Some(seconds) = self.access_token_lifetime_seconds {
            builder = builder.access_token_lifetime(Duration::from_secs(seconds));
        }
        if let Some(seconds) = self.refresh_token_lifetime_seconds {
            builder = builder.refresh_token_lifetime(Duration::from_secs(seconds));
        }
        if let Some(seconds) = self.leeway_seconds {
            builder = builder.leeway(Duration::from_secs(seconds));
        }
        if let Some(path) = self.login_path {
            builder = builder.login_path(path);
        }
        if let Some(path) = self.refresh_path {
            builder = builder.refresh_path(path);
        }
        if let Some(path) = self.logout_path {
            builder = builder.logout_path(path);
        }
        if let Some(prefixes) = self.protected_prefixes {
            builder = builder.protected_prefixes(prefixes);
        }
        for path in self.optional_auth_paths {
            builder = builder.optional_auth_path(path);
        }
        if let Some(limit) = self.login_body_limit_bytes {
            builder = builder.login_body_limit(limit);
        }
        if let Some(enabled) = self.loopback_bypass {
            builder = builder.loopback_bypass(enabled);
        }
        if let Some(throttle) = self.login_throttle {
            builder = builder.login_throttle(throttle.into_throttle());
        }
        if let Some(enabled) = self.refresh_token_rotation {
            builder = builder.refresh_token_rotation(enabled);
        }
        if let Some(seconds) = self.refresh_token_reuse_grace_seconds {
            builder = builder.refresh_token_reuse_grace(Duration::from_secs(seconds));
        }
        if let Some(sessions) = self.max_sessions_per_user {
            builder = builder.max_sessions_per_user(sessions);
        }
        if let Some(revocations) = self.max_revocations_per_user {
            builder = builder.max_revocations_per_user(revocations);
        }
        if let Some(slots) = self.validated_token_cache_slots {
            builder = builder.validated_token_cache(slots);
        }
        if let Some(max) = self.max_concurrent_password_hashes {
            builder = builder.max_concurrent_password_hashes(max);
        }
        match self.store {
            None => {}
            Some(StoreSettings::Memory {
                max_throttle_counters,
            }) => {
                let mut store = MemoryStore::new();
                if let Some(max) = max_throttle_counters {
                    store = store.max_throttle_counters(max);
                }
                builder = builder.store(store);
            }
            #[cfg(feature = "redis")]
            Some(StoreSettings::Redis(redis)) => builder = builder.store(redis.build()?),
        }
        #[cfg(feature = "jwks")]
        for tenant in self.tenants {
            builder = builder.tenant(tenant.into_tenant());
        }
        Ok(builder)
    }
}

/// A secret string from the configuration: `Debug` prints `[redacted]`, and the memory is zeroed
/// on drop.
///
/// `zeroize` (already used for the builder's secret and plain passwords) rather than the
/// `secrecy` crate: the type is private, so nothing public depends on `secrecy`'s API, and its
/// `Debug` prints `[redacted]` like every other type of this crate.
#[derive(Clone)]
struct Secret(Zeroizing<String>);

impl Secret {
    /// Moves the string out without copying it; what is left behind is empty.
    fn into_string(mut self) -> String {
        std::mem::take(&mut *self.0)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|secret| Self(Zeroizing::new(secret)))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// `signing_key`, or one entry of `previous_keys`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeySettings {
    kid: String,
    secret: Secret,
}

/// One entry of `users`: exactly one of `password` and `password_hash`.
#[derive(Clone, Debug, Deserialize)]
#[serde(try_from = "UserFields")]
struct UserEntry {
    username: String,
    password: PasswordSetting,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserFields {
    username: String,
    password: Option<Secret>,
    password_hash: Option<Secret>,
}

#[derive(Clone, Debug)]
enum PasswordSetting {
    Plain(Secret),
    Hash(Secret),
}

impl TryFrom<UserFields> for UserEntry {
    type Error = String;

    fn try_from(user: UserFields) -> Result<Self, String> {
        let password = match (user.password, user.password_hash) {
            (Some(password), None) => PasswordSetting::Plain(password),
            (None, Some(hash)) => PasswordSetting::Hash(hash),
            (Some(_), Some(_)) => {
                return Err(format!(
                    "user {:?} has both `password` and `password_hash`; set one",
                    user.username
                ));
            }
            (None, None) => {
                return Err(format!(
                    "user {:?} needs `password` or `password_hash`",
                    user.username
                ));
            }
        };
        Ok(Self {
            username: user.username,
            password,
        })
    }
}

/// `login_throttle`: each missing field keeps [`LoginThrottle::new`]'s value.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThrottleSettings {
    enabled: Option<bool>,
    max_failures_per_user: Option<u32>,
    max_failures_per_client: Option<u32>,
    window_seconds: Option<u64>,
    first_lockout_seconds: Option<u64>,
    max_lockout_seconds: Option<u64>,
}

impl ThrottleSettings {
    fn into_throttle(self) -> LoginThrottle {
        let mut throttle = if self.enabled == Some(false) {
            LoginThrottle::disabled()
        } else {
            LoginThrottle::new()
        };
        if let Some(failures) = self.max_failures_per_user {
            throttle = throttle.max_failures_per_user(failures);
        }
        if let Some(failures) = self.max_failures_per_client {
            throttle = throttle.max_failures_per_client(failures);
        }
        if let Some(seconds) = self.window_seconds {
            throttle = throttle.window(Duration::from_secs(seconds));
        }
        let (first, max) = throttle.lockouts();
        throttle.lockout(
            self.first_lockout_seconds
                .map_or(first, Duration::from_secs),
            self.max_lockout_seconds.map_or(max, Duration::from_secs),
        )
    }

    /// The field a [`BuildError::InvalidThrottle`] comes from: the first setting that is out of
    /// range, in the order the throttle checks them.
    fn locate(&self) -> &'static str {
        let zero = |value: Option<u64>| value == Some(0);
        if self.max_failures_per_user == Some(0) {
            "login_throttle.max_failures_per_user"
        } else if self.max_failures_per_client == Some(0) {
            "login_throttle.max_failures_per_client"
        } else if zero(self.window_seconds) {
            "login_throttle.window_seconds"
        } else if zero(self.first_lockout_seconds) {
            "login_throttle.first_lockout_seconds"
        } else if self.max_lockout_seconds.is_some() {
            "login_throttle.max_lockout_seconds"
        } else if self.first_lockout_seconds.is_some() {
            "login_throttle.first_lockout_seconds"
        } else {
            "login_throttle"
        }
    }
}

/// `store`, tagged by `type`.
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
enum StoreSettings {
    Memory {
        max_throttle_counters: Option<usize>,
    },
    #[cfg(feature = "redis")]
    Redis(RedisSettings),
}

#[cfg(feature = "redis")]
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RedisSettings {
    url: Secret,
    key_prefix: Option<String>,
    timeout_milliseconds: Option<u64>,
}

#[cfg(feature = "redis")]
impl RedisSettings {
    fn build(self) -> Result<crate::store::RedisStore, ConfigError> {
        let zero_timeout = self.timeout_milliseconds == Some(0);
        let mut store = crate::store::RedisStore::builder(self.url.0.as_str());
        if let Some(prefix) = self.key_prefix {
            store = store.key_prefix(prefix);
        }
        if let Some(milliseconds) = self.timeout_milliseconds {
            store = store.timeout(Duration::from_millis(milliseconds));
        }
        store.build().map_err(|error| {
            let field = if zero_timeout {
                "store.timeout_milliseconds"
            } else if tokio::runtime::Handle::try_current().is_err() {
                "store"
            } else {
                "store.url"
            };
            ConfigError::new(Some(field.to_owned()), error)
        })
    }
}

/// One entry of `tenants`.
#[cfg(feature = "jwks")]
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TenantSettings {
    issuer: String,
    #[serde(default)]
    audiences: Vec<String>,
    #[serde(default)]
    allowed_subjects: Vec<String>,
    jwks_url: Option<String>,
    discovery: Option<bool>,
    allow_insecure_loopback: Option<bool>,
    refresh_interval_seconds: Option<u64>,
}

#[cfg(feature = "jwks")]
impl TenantSettings {
    fn into_tenant(self) -> crate::Tenant {
        let mut tenant = crate::Tenant::new(self.issuer);
        for audience in self.audiences {
            tenant = tenant.audience(audience);
        }
        for subject in self.allowed_subjects {
            tenant = tenant.allow_subject(subject);
        }
        if let Some(url) = self.jwks_url {
            tenant = tenant.jwks_url(url);
        }
        if let Some(enabled) = self.discovery {
            tenant = tenant.discovery(enabled);
        }
        if let Some(enabled) = self.allow_insecure_loopback {
            tenant = tenant.allow_insecure_loopback(enabled);
        }
        if let Some(seconds) = self.refresh_interval_seconds {
            tenant = tenant.refresh_interval(Duration::from_secs(seconds));
        }
        tenant
    }
}

/// What is needed to trace a [`BuildError`] back to its field, kept before the configuration is
/// consumed. It holds no secret: only usernames, key ids, key lengths, paths, issuers and
/// numbers.
struct Fields {
    /// The length of `secret`.
    secret: Option<usize>,
    /// `signing_key` then `previous_keys`, as (field, kid, secret length), in the order the
    /// builder checks them.
    keys: Vec<(String, String, usize)>,
    /// Each user's name, and whether its password is a hash.
    users: Vec<(String, bool)>,
    /// Each configured path with its field name, in the order the builder checks them.
    paths: Vec<(String, String)>,
    throttle: Option<ThrottleSettings>,
    /// The session-bound field that is out of range, if any, in the order the builder checks.
    session_bounds: &'static str,
    #[cfg(feature = "jwks")]
    tenants: Vec<String>,
}

impl Fields {
    fn of(config: &JwtLoginConfig) -> Self {
        let named = |name: &str, path: &Option<String>| {
            path.as_ref().map(|path| (name.to_owned(), path.clone()))
        };
        let listed = |name: &'static str, paths: &[String]| {
            paths
                .iter()
                .enumerate()
                .map(move |(i, path)| (format!("{name}[{i}]"), path.clone()))
                .collect::<Vec<_>>()
        };
        let mut paths: Vec<(String, String)> = [
            named("login_path", &config.login_path),
            named("refresh_path", &config.refresh_path),
            named("logout_path", &config.logout_path),
        ]
        .into_iter()
        .flatten()
        .collect();
        paths.extend(listed(
            "protected_prefixes",
            config.protected_prefixes.as_deref().unwrap_or_default(),
        ));
        paths.extend(listed("optional_auth_paths", &config.optional_auth_paths));
        let keys = config
            .signing_key
            .iter()
            .map(|key| ("signing_key".to_owned(), key))
            .chain(
                config
                    .previous_keys
                    .iter()
                    .enumerate()
                    .map(|(i, key)| (format!("previous_keys[{i}]"), key)),
            )
            .map(|(field, key)| (field, key.kid.clone(), key.secret.0.len()))
            .collect();
        Self {
            secret: config.secret.as_ref().map(|secret| secret.0.len()),
            keys,
            users: config
                .users
                .iter()
                .map(|user| {
                    let hashed = matches!(user.password, PasswordSetting::Hash(_));
                    (user.username.clone(), hashed)
                })
                .collect(),
            paths,
            throttle: config.login_throttle.clone(),
            session_bounds: if config.max_sessions_per_user == Some(0) {
                "max_sessions_per_user"
            } else if config.max_revocations_per_user == Some(0) {
                "max_revocations_per_user"
            } else {
                "refresh_token_reuse_grace_seconds"
            },
            #[cfg(feature = "jwks")]
            tenants: config.tenants.iter().map(|t| t.issuer.clone()).collect(),
        }
    }

    /// The field `error` comes from, if it comes from the configuration.
    fn locate(&self, error: &BuildError) -> Option<String> {
        let user = |wanted: &dyn Fn(&(String, bool)) -> bool, field: &str| {
            self.users
                .iter()
                .position(wanted)
                .map(|i| format!("users[{i}].{field}"))
        };
        let key = |wanted: &dyn Fn(&(String, String, usize)) -> bool, field: &str| {
            self.keys
                .iter()
                .find(|key| wanted(key))
                .map(|(name, _, _)| format!("{name}.{field}"))
        };
        match error {
            BuildError::SecretTooShort { len } => match self.secret {
                Some(secret) if secret == *len => Some("secret".to_owned()),
                _ => key(&|(_, _, secret)| secret == len, "secret"),
            },
            BuildError::InvalidKeyId { kid } => key(&|(_, id, _)| id == kid, "kid"),
            BuildError::DuplicateKeyId { kid } => self
                .keys
                .iter()
                .filter(|(_, id, _)| id == kid)
                .nth(1)
                .map(|(name, _, _)| format!("{name}.kid")),
            BuildError::PreviousKeyNeedsKeyId => Some("previous_keys".to_owned()),
            BuildError::ConflictingKeys => Some("signing_key".to_owned()),
            BuildError::NoUsers => Some("users".to_owned()),
            BuildError::DuplicateUser { username } => self
                .users
                .iter()
                .enumerate()
                .filter(|(_, (name, _))| name == username)
                .nth(1)
                .map(|(i, _)| format!("users[{i}].username")),
            BuildError::EmptyUsername => user(&|(name, _)| name.is_empty(), "username"),
            BuildError::EmptyPassword { username } => {
                user(&|(name, hashed)| name == username && !hashed, "password")
            }
            BuildError::InvalidPasswordHash { username, .. } => user(
                &|(name, hashed)| name == username && *hashed,
                "password_hash",
            ),
            BuildError::InvalidPath { path, .. } => self
                .paths
                .iter()
                .find(|(_, configured)| configured == path)
                .map(|(field, _)| field.clone()),
            BuildError::InvalidRealm => Some("realm".to_owned()),
            BuildError::InvalidLifetime { token } => {
                Some(format!("{token}_token_lifetime_seconds"))
            }
            BuildError::InvalidLeeway => Some("leeway_seconds".to_owned()),
            BuildError::InvalidBodyLimit => Some("login_body_limit_bytes".to_owned()),
            BuildError::InvalidPasswordHashLimit => {
                Some("max_concurrent_password_hashes".to_owned())
            }
            #[cfg(feature = "jwks")]
            BuildError::InvalidTenant { issuer, .. } => self
                .tenants
                .iter()
                .position(|configured| configured == issuer)
                .map(|i| format!("tenants[{i}]")),
            #[cfg(feature = "jwks")]
            BuildError::NoJwksClient => Some("tenants".to_owned()),
            BuildError::InvalidThrottle { .. } => self
                .throttle
                .as_ref()
                .map(|throttle| throttle.locate().to_owned()),
            BuildError::InvalidSessionBounds { .. } => Some(self.session_bounds.to_owned()),
            BuildError::InvalidRedis { .. } => Some("store".to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> JwtLoginConfig {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn an_empty_configuration_keeps_the_builder_defaults_and_needs_a_user() {
        let error = parse("{}").build().unwrap_err();
        assert_eq!(error.field(), Some("users"));
        assert_eq!(error.build_error(), &BuildError::NoUsers);
    }

    #[test]
    fn an_error_caused_by_the_customization_names_no_field() {
        let config = parse(r#"{ "users": [{ "username": "a", "password": "pw" }] }"#);
        let error = config
            .build_with(|builder| builder.user("b", Password::plain("")))
            .unwrap_err();
        assert_eq!(error.field(), None);
        assert_eq!(
            error.build_error(),
            &BuildError::EmptyPassword {
                username: "b".into()
            }
        );
    }

    #[test]
    fn a_zero_password_hash_limit_names_its_field() {
        let config = parse(
            r#"{ "users": [{ "username": "a", "password": "pw" }], "max_concurrent_password_hashes": 0 }"#,
        );
        let error = config.build().unwrap_err();
        assert_eq!(error.field(), Some("max_concurrent_password_hashes"));
        assert_eq!(error.build_error(), &BuildError::InvalidPasswordHashLimit);
        let config = parse(
            r#"{ "users": [{ "username": "a", "password": "pw" }], "max_concurrent_password_hashes": 3 }"#,
        );
        config.build().unwrap();
    }

    #[test]
    fn secret_moves_out_without_a_copy() {
        let secret = Secret(Zeroizing::new("0123456789".to_owned()));
        let pointer = secret.0.as_ptr();
        let moved = secret.into_string();
        assert_eq!(moved.as_ptr(), pointer);
        assert_eq!(moved, "0123456789");
    }
}
