//! How a [`JwtLoginConfig`](super::JwtLoginConfig) fills the builder: one field at a time, each
//! followed by the builder's own check of what it feeds, so that the first check that fails
//! names the field just set.

use std::collections::BTreeMap;
use std::time::Duration;

use super::JwtLoginBuilder;
use super::settings::{KeySettings, ScopeList, Secret, ThrottleSettings};
use crate::error::{BuildError, ConfigError};
use crate::throttle::LoginThrottle;

/// A builder being filled from the file.
#[derive(Default)]
pub(super) struct Filling {
    pub(super) builder: JwtLoginBuilder,
}

impl Filling {
    /// Sets a value that cannot be wrong (a flag, a size that is clamped).
    pub(super) fn put(&mut self, set: impl FnOnce(JwtLoginBuilder) -> JwtLoginBuilder) {
        self.builder = set(std::mem::take(&mut self.builder));
    }

    /// Sets the value of `field`, then runs `check` on the builder: the builder's own check of
    /// what the field feeds. If it fails, the value just set is at fault (every field set before
    /// passed it), and the error names `field`.
    pub(super) fn set<T>(
        &mut self,
        field: &str,
        set: impl FnOnce(JwtLoginBuilder) -> JwtLoginBuilder,
        check: impl FnOnce(&JwtLoginBuilder) -> Result<T, BuildError>,
    ) -> Result<(), ConfigError> {
        self.set_at(|_| field.to_owned(), set, check)
    }

    /// Like [`set`](Self::set), for an entry with members (`{"kid", "secret"}`): `path` names the
    /// member an error is about.
    pub(super) fn set_at<T>(
        &mut self,
        path: impl FnOnce(&BuildError) -> String,
        set: impl FnOnce(JwtLoginBuilder) -> JwtLoginBuilder,
        check: impl FnOnce(&JwtLoginBuilder) -> Result<T, BuildError>,
    ) -> Result<(), ConfigError> {
        self.put(set);
        match check(&self.builder) {
            Ok(_) => Ok(()),
            Err(error) => Err(ConfigError::new(Some(path(&error)), error)),
        }
    }

    /// `secret`, `signing_key`, `datarhei_key`, then each of `previous_keys`, each checked with
    /// the keys set before it.
    pub(super) fn keys(
        &mut self,
        secret: Option<Secret>,
        signing_key: Option<KeySettings>,
        datarhei_key: Option<Secret>,
        previous_keys: Vec<KeySettings>,
    ) -> Result<(), ConfigError> {
        if let Some(secret) = &secret {
            let set = |b: JwtLoginBuilder| b.secret(secret.as_bytes());
            self.set("secret", set, JwtLoginBuilder::keys)?;
        }
        if let Some(key) = &signing_key {
            let set = |b: JwtLoginBuilder| b.signing_key(key.kid.as_str(), key.secret.as_bytes());
            self.set_at(
                |e| member("signing_key", key_member(e)),
                set,
                JwtLoginBuilder::keys,
            )?;
        }
        if let Some(secret) = &datarhei_key {
            let set = |b: JwtLoginBuilder| b.datarhei_key(secret.as_bytes());
            // The key needs the first user, which `build_with` may still add.
            let check = |b: &JwtLoginBuilder| match b.keys() {
                Err(BuildError::NoUsers) => Ok(()),
                other => other.map(drop),
            };
            self.set("datarhei_key", set, check)?;
        }
        for (i, key) in previous_keys.iter().enumerate() {
            let set = |b: JwtLoginBuilder| b.previous_key(key.kid.as_str(), key.secret.as_bytes());
            let path = |error: &BuildError| match error {
                // Previous keys need a signing key with an id: the list's requirement.
                BuildError::PreviousKeyNeedsKeyId => "previous_keys".to_owned(),
                error => member(&format!("previous_keys[{i}]"), key_member(error)),
            };
            self.set_at(path, set, JwtLoginBuilder::keys)?;
        }
        Ok(())
    }

    /// `login_throttle`, field by field on [`LoginThrottle::new`] (or
    /// [`disabled`](LoginThrottle::disabled)), each checked with the ones before it.
    ///
    /// The two lockouts are one builder call with a rule between them (`first <= max`):
    /// `first_lockout_seconds` is checked against the current maximum, or as its own maximum
    /// when `max_lockout_seconds` is given too, so that a maximum below the first lockout is the
    /// maximum's fault.
    pub(super) fn throttle(&mut self, settings: ThrottleSettings) -> Result<(), ConfigError> {
        let mut throttle = if settings.enabled == Some(false) {
            LoginThrottle::disabled()
        } else {
            LoginThrottle::new()
        };
        self.put(|b| b.login_throttle(throttle.clone()));
        if let Some(failures) = settings.max_failures_per_user {
            throttle = throttle.max_failures_per_user(failures);
            self.set_throttle("max_failures_per_user", &throttle)?;
        }
        if let Some(failures) = settings.max_failures_per_client {
            throttle = throttle.max_failures_per_client(failures);
            self.set_throttle("max_failures_per_client", &throttle)?;
        }
        if let Some(seconds) = settings.window_seconds {
            throttle = throttle.window(Duration::from_secs(seconds));
            self.set_throttle("window_seconds", &throttle)?;
        }
        if let Some(seconds) = settings.first_lockout_seconds {
            let first = Duration::from_secs(seconds);
            let (_, max) = throttle.lockouts();
            let max = if settings.max_lockout_seconds.is_some() {
                first
            } else {
                max
            };
            throttle = throttle.lockout(first, max);
            self.set_throttle("first_lockout_seconds", &throttle)?;
        }
        if let Some(seconds) = settings.max_lockout_seconds {
            let (first, _) = throttle.lockouts();
            throttle = throttle.lockout(first, Duration::from_secs(seconds));
            self.set_throttle("max_lockout_seconds", &throttle)?;
        }
        Ok(())
    }

    /// The scopes of `users[index]`, checked with the users set so far.
    pub(super) fn user_scopes(
        &mut self,
        index: usize,
        username: String,
        scopes: ScopeList,
    ) -> Result<(), ConfigError> {
        let field = format!("users[{index}].scopes");
        let set = |b: JwtLoginBuilder| b.user_scopes(username, scopes.into_vec());
        self.set(&field, set, JwtLoginBuilder::scoped_users)
    }

    /// `required_scopes`, one prefix at a time, each checked against the protected prefixes
    /// (set before).
    pub(super) fn required_scopes(
        &mut self,
        requirements: BTreeMap<String, ScopeList>,
    ) -> Result<(), ConfigError> {
        for (prefix, scopes) in requirements {
            let field = format!("required_scopes[{prefix:?}]");
            let set = |b: JwtLoginBuilder| b.require_scopes(prefix, scopes.into_vec());
            let check = |b: &JwtLoginBuilder| b.scope_rules(&b.routes()?);
            self.set(&field, set, check)?;
        }
        Ok(())
    }

    /// `max_token_size`.
    pub(super) fn max_token_size(&mut self, bytes: usize) -> Result<(), ConfigError> {
        let set = |b: JwtLoginBuilder| b.max_token_size(bytes);
        self.set(
            "max_token_size",
            set,
            JwtLoginBuilder::checked_max_token_size,
        )
    }

    fn set_throttle(&mut self, member: &str, throttle: &LoginThrottle) -> Result<(), ConfigError> {
        let field = format!("login_throttle.{member}");
        let set = |b: JwtLoginBuilder| b.login_throttle(throttle.clone());
        self.set(&field, set, JwtLoginBuilder::throttle)
    }
}

/// `entry.member`, or `entry` when the error is about no one member.
pub(super) fn member(entry: &str, member: Option<&str>) -> String {
    match member {
        Some(member) => format!("{entry}.{member}"),
        None => entry.to_owned(),
    }
}

/// The member of a `users` entry that an error of the users' check is about.
pub(super) const fn user_member(error: &BuildError) -> Option<&'static str> {
    match error {
        BuildError::EmptyUsername | BuildError::DuplicateUser { .. } => Some("username"),
        BuildError::EmptyPassword { .. } => Some("password"),
        BuildError::InvalidPasswordHash { .. } => Some("password_hash"),
        _ => None,
    }
}

/// The member of a `{"kid", "secret"}` entry that an error of the keys' check is about.
const fn key_member(error: &BuildError) -> Option<&'static str> {
    match error {
        BuildError::InvalidKeyId { .. } | BuildError::DuplicateKeyId { .. } => Some("kid"),
        BuildError::SecretTooShort { .. } => Some("secret"),
        _ => None,
    }
}
