//! The sections of the configuration file: the types serde reads them into. They only carry
//! values; [`file`](super::file) sets them on the builder.

use std::fmt;
#[cfg(any(feature = "redis", feature = "jwks"))]
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use zeroize::Zeroizing;

use crate::credentials::Password;
#[cfg(feature = "redis")]
use crate::error::ConfigError;

/// A secret string from the configuration: `Debug` prints `[redacted]`, and the memory is zeroed
/// on drop.
///
/// `zeroize` (already used for the builder's secret and plain passwords) rather than the
/// `secrecy` crate: the type is private, so nothing public depends on `secrecy`'s API, and its
/// `Debug` prints `[redacted]` like every other type of this crate.
#[derive(Clone)]
pub(super) struct Secret(Zeroizing<String>);

impl Secret {
    /// A secret read from elsewhere than a file (the environment).
    pub(super) fn new(secret: String) -> Self {
        Self(Zeroizing::new(secret))
    }

    /// The secret's bytes, to hand to the builder (which copies them into zeroed memory).
    pub(super) fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// Moves the string out without copying it; what is left behind is empty.
    pub(super) fn into_string(mut self) -> String {
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
pub(super) struct KeySettings {
    pub(super) kid: String,
    pub(super) secret: Secret,
}

/// A list of scopes: an array of strings, or one space-separated string (as the `scope`
/// claim and `CORE_API_AUTH_SCOPES` write them). Checked by the builder, which names the field.
#[derive(Clone, Debug, Deserialize)]
#[serde(
    untagged,
    expecting = "a list of scopes: an array of strings, or a space-separated string"
)]
pub(super) enum ScopeList {
    Array(Vec<String>),
    Joined(String),
}

impl ScopeList {
    /// The scopes, one by one.
    pub(super) fn into_vec(self) -> Vec<String> {
        match self {
            Self::Array(scopes) => scopes,
            Self::Joined(list) => crate::scope::split(&list).map(str::to_owned).collect(),
        }
    }
}

/// One entry of `users`: exactly one of `password` and `password_hash`, and optional scopes.
#[derive(Clone, Debug, Deserialize)]
#[serde(try_from = "UserFields")]
pub(super) struct UserEntry {
    pub(super) username: String,
    pub(super) password: PasswordSetting,
    pub(super) scopes: Option<ScopeList>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserFields {
    username: String,
    password: Option<Secret>,
    password_hash: Option<Secret>,
    scopes: Option<ScopeList>,
}

#[derive(Clone, Debug)]
pub(super) enum PasswordSetting {
    Plain(Secret),
    Hash(Secret),
}

impl PasswordSetting {
    /// The password for the builder, moved out without a copy.
    pub(super) fn into_password(self) -> Password {
        match self {
            Self::Plain(password) => Password::plain(password.into_string()),
            Self::Hash(hash) => Password::phc(hash.into_string()),
        }
    }
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
            scopes: user.scopes,
        })
    }
}

/// `login_throttle`: each missing field keeps [`LoginThrottle::new`]'s value.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ThrottleSettings {
    pub(super) enabled: Option<bool>,
    pub(super) max_failures_per_user: Option<u32>,
    pub(super) max_failures_per_client: Option<u32>,
    pub(super) window_seconds: Option<u64>,
    pub(super) first_lockout_seconds: Option<u64>,
    pub(super) max_lockout_seconds: Option<u64>,
}

/// `store`, tagged by `type`.
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub(super) enum StoreSettings {
    Memory {
        max_throttle_counters: Option<usize>,
    },
    #[cfg(feature = "redis")]
    Redis(RedisSettings),
}

#[cfg(feature = "redis")]
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RedisSettings {
    pub(super) url: Secret,
    pub(super) key_prefix: Option<String>,
    pub(super) timeout_milliseconds: Option<u64>,
}

#[cfg(feature = "redis")]
impl RedisSettings {
    pub(super) fn build(self) -> Result<crate::store::RedisStore, ConfigError> {
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
pub(super) struct TenantSettings {
    pub(super) issuer: String,
    #[serde(default)]
    pub(super) audiences: Vec<String>,
    #[serde(default)]
    pub(super) allowed_subjects: Vec<String>,
    pub(super) jwks_url: Option<String>,
    pub(super) discovery: Option<bool>,
    pub(super) allow_insecure_loopback: Option<bool>,
    pub(super) refresh_interval_seconds: Option<u64>,
    pub(super) scopes_claim: Option<String>,
    pub(super) allowed_scopes: Option<ScopeList>,
}

#[cfg(feature = "jwks")]
impl TenantSettings {
    pub(super) fn into_tenant(self) -> crate::Tenant {
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
        if let Some(claim) = self.scopes_claim {
            tenant = tenant.scopes_claim(claim);
        }
        if let Some(allowed) = self.allowed_scopes {
            tenant = tenant.allow_scopes(allowed.into_vec());
        }
        tenant
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_moves_out_without_a_copy() {
        let secret = Secret(Zeroizing::new("0123456789".to_owned()));
        let pointer = secret.0.as_ptr();
        let moved = secret.into_string();
        assert_eq!(moved.as_ptr(), pointer);
        assert_eq!(moved, "0123456789");
    }
}
