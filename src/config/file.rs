//! The deserializable form of the configuration, for an app's own configuration file.
//!
//! [`JwtLoginConfig`] only carries values: it sets them on a [`JwtLoginBuilder`] one field at a
//! time, and right after each one runs the builder's own check of what that field feeds (the
//! checks [`JwtLoginBuilder::build`] runs). The first check that fails is that field's: the
//! error carries the field's path, known where the field is read.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::JwtLoginBuilder;
use super::fill::{Filling, member, user_member};
#[cfg(feature = "jwks")]
use super::settings::TenantSettings;
use super::settings::{KeySettings, ScopeList, Secret, StoreSettings, ThrottleSettings, UserEntry};
use crate::error::{BuildError, ConfigError};
use crate::server::JwtLoginLayer;
use crate::store::MemoryStore;
#[cfg(doc)]
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
/// | `users` | array of `{"username", "password"}` or `{"username", "password_hash"}` (argon2id PHC), each with optional `"scopes"` | [`user`](JwtLoginBuilder::user), [`user_scopes`](JwtLoginBuilder::user_scopes) |
/// | `secret` | string, at least 32 bytes | [`secret`](JwtLoginBuilder::secret) |
/// | `signing_key` | `{"kid", "secret"}`, instead of `secret` | [`signing_key`](JwtLoginBuilder::signing_key) |
/// | `datarhei_key` | string: datarhei Core's JWT secret, instead of `secret` | [`datarhei_key`](JwtLoginBuilder::datarhei_key) |
/// | `previous_keys` | array of `{"kid", "secret"}` | [`previous_key`](JwtLoginBuilder::previous_key) |
/// | `access_token_lifetime_seconds` | integer | [`access_token_lifetime`](JwtLoginBuilder::access_token_lifetime) |
/// | `refresh_token_lifetime_seconds` | integer | [`refresh_token_lifetime`](JwtLoginBuilder::refresh_token_lifetime) |
/// | `leeway_seconds` | integer | [`leeway`](JwtLoginBuilder::leeway) |
/// | `login_path`, `refresh_path`, `logout_path` | string | [`login_path`](JwtLoginBuilder::login_path), ... |
/// | `protected_prefixes` | array of strings | [`protected_prefixes`](JwtLoginBuilder::protected_prefixes) |
/// | `optional_auth_paths` | array of strings | [`optional_auth_path`](JwtLoginBuilder::optional_auth_path) |
/// | `required_scopes` | object: prefix → scopes | [`require_scopes`](JwtLoginBuilder::require_scopes) |
/// | `max_token_size` | integer, bytes | [`max_token_size`](JwtLoginBuilder::max_token_size) |
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
/// | `tenants` | array of `{"issuer", "audiences", "allowed_subjects", "jwks_url", "discovery", "allow_insecure_loopback", "refresh_interval_seconds", "scopes_claim", "allowed_scopes"}` (feature `jwks`) | [`tenant`](JwtLoginBuilder::tenant) |
///
/// Scopes (a user's `scopes`, each of `required_scopes`, a tenant's `allowed_scopes`) are an
/// array of strings or one space-separated string: `["streams:read", "streams:write"]` or
/// `"streams:read streams:write"`.
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
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtLoginConfig {
    pub(super) realm: Option<String>,
    #[serde(default)]
    pub(super) users: Vec<UserEntry>,
    pub(super) secret: Option<Secret>,
    pub(super) signing_key: Option<KeySettings>,
    pub(super) datarhei_key: Option<Secret>,
    #[serde(default)]
    pub(super) previous_keys: Vec<KeySettings>,
    pub(super) access_token_lifetime_seconds: Option<u64>,
    pub(super) refresh_token_lifetime_seconds: Option<u64>,
    pub(super) leeway_seconds: Option<u64>,
    pub(super) login_path: Option<String>,
    pub(super) refresh_path: Option<String>,
    pub(super) logout_path: Option<String>,
    pub(super) protected_prefixes: Option<Vec<String>>,
    #[serde(default)]
    pub(super) optional_auth_paths: Vec<String>,
    pub(super) login_body_limit_bytes: Option<usize>,
    pub(super) loopback_bypass: Option<bool>,
    pub(super) login_throttle: Option<ThrottleSettings>,
    pub(super) refresh_token_rotation: Option<bool>,
    pub(super) refresh_token_reuse_grace_seconds: Option<u64>,
    pub(super) max_sessions_per_user: Option<usize>,
    pub(super) max_revocations_per_user: Option<usize>,
    pub(super) validated_token_cache_slots: Option<usize>,
    pub(super) max_concurrent_password_hashes: Option<usize>,
    pub(super) store: Option<StoreSettings>,
    #[serde(default)]
    pub(super) required_scopes: BTreeMap<String, ScopeList>,
    pub(super) max_token_size: Option<usize>,
    #[cfg(feature = "jwks")]
    #[serde(default)]
    pub(super) tenants: Vec<TenantSettings>,
    /// Read by [`from_env`](Self::from_env): an error names the variable, not the field.
    #[serde(skip)]
    pub(super) from_env: bool,
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
    /// As [`build`](Self::build); an error caused by what `customize` set names no field. The
    /// file's fields are checked before `customize` runs, each on its own and with the fields
    /// before it; what the file may leave to `customize` (the users, the JWKS client of its
    /// tenants) is checked when the layer is built, and names the field that would have given it.
    pub fn build_with<F>(self, customize: F) -> Result<JwtLoginLayer, ConfigError>
    where
        F: FnOnce(JwtLoginBuilder) -> JwtLoginBuilder,
    {
        #[cfg(feature = "jwks")]
        let has_tenants = !self.tenants.is_empty();
        let from_env = self.from_env;
        let built = self.into_builder().and_then(|builder| {
            customize(builder).build().map_err(|error| {
                let field = match error {
                    BuildError::NoUsers => Some("users"),
                    #[cfg(feature = "jwks")]
                    BuildError::NoJwksClient if has_tenants => Some("tenants"),
                    _ => None,
                };
                ConfigError::new(field.map(str::to_owned), error)
            })
        });
        if from_env {
            built.map_err(super::env::name_variable)
        } else {
            built
        }
    }

    /// Sets every field on a builder, in an order where a field's check only depends on fields
    /// already set (the access token's lifetime before the leeway, the signing key before the
    /// previous keys).
    fn into_builder(self) -> Result<JwtLoginBuilder, ConfigError> {
        let mut fill = Filling::default();
        if let Some(realm) = self.realm {
            fill.set("realm", |b| b.realm(realm), JwtLoginBuilder::challenges)?;
        }
        for (i, user) in self.users.into_iter().enumerate() {
            let username = user.username.clone();
            let set = |b: JwtLoginBuilder| b.user(user.username, user.password.into_password());
            fill.set_at(
                |e| member(&format!("users[{i}]"), user_member(e)),
                set,
                JwtLoginBuilder::users,
            )?;
            if let Some(scopes) = user.scopes {
                fill.user_scopes(i, username, scopes)?;
            }
        }
        fill.keys(
            self.secret,
            self.signing_key,
            self.datarhei_key,
            self.previous_keys,
        )?;
        if let Some(seconds) = self.access_token_lifetime_seconds {
            let set = |b: JwtLoginBuilder| b.access_token_lifetime(Duration::from_secs(seconds));
            fill.set(
                "access_token_lifetime_seconds",
                set,
                JwtLoginBuilder::lifetimes,
            )?;
        }
        if let Some(seconds) = self.refresh_token_lifetime_seconds {
            let set = |b: JwtLoginBuilder| b.refresh_token_lifetime(Duration::from_secs(seconds));
            fill.set(
                "refresh_token_lifetime_seconds",
                set,
                JwtLoginBuilder::lifetimes,
            )?;
        }
        if let Some(seconds) = self.leeway_seconds {
            let set = |b: JwtLoginBuilder| b.leeway(Duration::from_secs(seconds));
            fill.set("leeway_seconds", set, JwtLoginBuilder::lifetimes)?;
        }
        if let Some(path) = self.login_path {
            fill.set(
                "login_path",
                |b| b.login_path(path),
                JwtLoginBuilder::routes,
            )?;
        }
        if let Some(path) = self.refresh_path {
            fill.set(
                "refresh_path",
                |b| b.refresh_path(path),
                JwtLoginBuilder::routes,
            )?;
        }
        if let Some(path) = self.logout_path {
            fill.set(
                "logout_path",
                |b| b.logout_path(path),
                JwtLoginBuilder::routes,
            )?;
        }
        if let Some(prefixes) = self.protected_prefixes {
            // One prefix at a time, so that an invalid one is named by its index.
            fill.put(|b| b.protected_prefixes(Vec::<String>::new()));
            for (i, prefix) in prefixes.into_iter().enumerate() {
                let field = format!("protected_prefixes[{i}]");
                fill.set(
                    &field,
                    |b| b.protected_prefix(prefix),
                    JwtLoginBuilder::routes,
                )?;
            }
        }
        for (i, path) in self.optional_auth_paths.into_iter().enumerate() {
            let field = format!("optional_auth_paths[{i}]");
            fill.set(
                &field,
                |b| b.optional_auth_path(path),
                JwtLoginBuilder::routes,
            )?;
        }
        fill.required_scopes(self.required_scopes)?;
        if let Some(bytes) = self.max_token_size {
            fill.max_token_size(bytes)?;
        }
        if let Some(limit) = self.login_body_limit_bytes {
            let set = |b: JwtLoginBuilder| b.login_body_limit(limit);
            fill.set("login_body_limit_bytes", set, JwtLoginBuilder::body_limit)?;
        }
        if let Some(enabled) = self.loopback_bypass {
            fill.put(|b| b.loopback_bypass(enabled));
        }
        if let Some(throttle) = self.login_throttle {
            fill.throttle(throttle)?;
        }
        if let Some(enabled) = self.refresh_token_rotation {
            fill.put(|b| b.refresh_token_rotation(enabled));
        }
        if let Some(sessions) = self.max_sessions_per_user {
            let set = |b: JwtLoginBuilder| b.max_sessions_per_user(sessions);
            fill.set(
                "max_sessions_per_user",
                set,
                JwtLoginBuilder::session_bounds,
            )?;
        }
        if let Some(revocations) = self.max_revocations_per_user {
            let set = |b: JwtLoginBuilder| b.max_revocations_per_user(revocations);
            fill.set(
                "max_revocations_per_user",
                set,
                JwtLoginBuilder::session_bounds,
            )?;
        }
        if let Some(seconds) = self.refresh_token_reuse_grace_seconds {
            let set =
                |b: JwtLoginBuilder| b.refresh_token_reuse_grace(Duration::from_secs(seconds));
            fill.set(
                "refresh_token_reuse_grace_seconds",
                set,
                JwtLoginBuilder::session_bounds,
            )?;
        }
        if let Some(slots) = self.validated_token_cache_slots {
            fill.put(|b| b.validated_token_cache(slots));
        }
        if let Some(max) = self.max_concurrent_password_hashes {
            let set = |b: JwtLoginBuilder| b.max_concurrent_password_hashes(max);
            fill.set(
                "max_concurrent_password_hashes",
                set,
                JwtLoginBuilder::password_hashes,
            )?;
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
                fill.put(|b| b.store(store));
            }
            #[cfg(feature = "redis")]
            Some(StoreSettings::Redis(redis)) => {
                let store = redis.build()?;
                fill.put(|b| b.store(store));
            }
        }
        #[cfg(feature = "jwks")]
        for (i, tenant) in self.tenants.into_iter().enumerate() {
            // An invalid scope can only be one of the allow-list's.
            let path = |error: &BuildError| {
                let scope = matches!(error, BuildError::InvalidScope { .. });
                member(&format!("tenants[{i}]"), scope.then_some("allowed_scopes"))
            };
            fill.set_at(
                path,
                |b| b.tenant(tenant.into_tenant()),
                JwtLoginBuilder::tenants,
            )?;
        }
        Ok(fill.builder)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::Password;

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
}
