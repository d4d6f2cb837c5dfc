//! The configuration from datarhei Core's environment variables: [`JwtLoginConfig::from_env`].
//!
//! The variables are read into the same [`JwtLoginConfig`] a file gives, so that both take one
//! path to the builder; the configuration remembers where it came from, and its build errors
//! name the variable rather than the field.

use super::JwtLoginConfig;
#[cfg(feature = "redis")]
use super::settings::RedisSettings;
#[cfg(feature = "jwks")]
use super::settings::TenantSettings;
use super::settings::{PasswordSetting, ScopeList, Secret, StoreSettings, UserEntry};
use crate::error::{ConfigError, EnvError};

/// Each variable, and the configuration field it sets (the README's table describes them).
const VARIABLES: &[(&str, &str)] = &[
    ("CORE_API_AUTH_USERNAME", "users[0].username"),
    ("CORE_API_AUTH_PASSWORD", "users[0].password"),
    ("CORE_API_AUTH_SCOPES", "users[0].scopes"),
    ("CORE_API_AUTH_JWT_SECRET", "datarhei_key"),
    ("CORE_API_AUTH_JWT_SECRET", "secret"),
    ("CORE_API_AUTH_AUTH0_TENANTS", "tenants"),
    ("CORE_API_AUTH_REFRESH_ROTATION", "refresh_token_rotation"),
    (
        "CORE_API_AUTH_REFRESH_REUSE_GRACE_SECONDS",
        "refresh_token_reuse_grace_seconds",
    ),
    (
        "CORE_API_AUTH_MAX_SESSIONS_PER_USER",
        "max_sessions_per_user",
    ),
    (
        "CORE_API_AUTH_MAX_REVOCATIONS_PER_USER",
        "max_revocations_per_user",
    ),
    (
        "CORE_API_AUTH_MAX_CONCURRENT_PASSWORD_HASHES",
        "max_concurrent_password_hashes",
    ),
    // Only the Redis store can be refused.
    ("CORE_API_AUTH_REDIS_URL", "store"),
];

/// The username when `CORE_API_AUTH_USERNAME` is unset: the examples' default of old (datarhei
/// Core has none and refuses to start without one).
const DEFAULT_USERNAME: &str = "admin";

impl JwtLoginConfig {
    /// The configuration from datarhei Core's environment variables (`CORE_API_AUTH_*`), so
    /// that a deployment keeps its environment, and its clients keep their tokens.
    ///
    /// | variable | meaning | unset |
    /// |---|---|---|
    /// | `CORE_API_AUTH_ENABLE` | `false` is an [`EnvError::AuthDisabled`]: datarhei Core then has no authentication at all | authentication on |
    /// | `CORE_API_AUTH_USERNAME` | the user | `admin` |
    /// | `CORE_API_AUTH_PASSWORD` | the user's password, required | [`EnvError::Missing`] |
    /// | `CORE_API_AUTH_SCOPES` | the user's scopes, separated by spaces ([`user_scopes`](crate::JwtLoginBuilder::user_scopes)); this crate's own | none |
    /// | `CORE_API_AUTH_JWT_SECRET` | the key is derived as datarhei Core does ([`datarhei_key`](crate::JwtLoginBuilder::datarhei_key)) | a random key |
    /// | `CORE_API_AUTH_DISABLE_LOCALHOST` | [`loopback_bypass`](crate::JwtLoginBuilder::loopback_bypass) | `false` |
    /// | `CORE_API_AUTH_AUTH0_ENABLE` | use the tenants (feature `jwks`) | `false` |
    /// | `CORE_API_AUTH_AUTH0_TENANTS` | `auth0://CLIENTID@DOMAIN?aud=AUDIENCE&user=USER1&user=USER2`, or the base64 of datarhei's tenant JSON; several separated by `,` | none |
    ///
    /// and this crate's own, under the same prefix: `CORE_API_AUTH_JWT_SECRET_AS_KEY`,
    /// `CORE_API_AUTH_REFRESH_ROTATION`, `CORE_API_AUTH_REFRESH_REUSE_GRACE_SECONDS`,
    /// `CORE_API_AUTH_MAX_SESSIONS_PER_USER`, `CORE_API_AUTH_MAX_REVOCATIONS_PER_USER`,
    /// `CORE_API_AUTH_MAX_CONCURRENT_PASSWORD_HASHES`, `CORE_API_AUTH_MAX_THROTTLE_COUNTERS`,
    /// `CORE_API_AUTH_REDIS_URL` (feature `redis`); the README's "Configuration from the
    /// environment" describes them all. An empty variable counts as unset; booleans are read
    /// as Go's `strconv.ParseBool` reads them (`1`, `t`, `true`, `TRUE`, `0`, `f`, ...).
    ///
    /// `GET /api` is an [optional-auth path](crate::JwtLoginBuilder::optional_auth_path), as in
    /// datarhei Core. Set on the builder what the environment cannot hold with
    /// [`build_with`](Self::build_with).
    ///
    /// # Errors
    ///
    /// An [`EnvError`] for a variable that cannot be read; what the builder refuses (a key
    /// shorter than 32 bytes, say) is a [`ConfigError`] from [`build`](Self::build) that names
    /// the variable.
    pub fn from_env() -> Result<Self, EnvError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`from_env`](Self::from_env), with the variables `lookup` finds: for tests, or an
    /// environment kept elsewhere.
    ///
    /// ```
    /// use tower_jwt_login::JwtLoginConfig;
    ///
    /// let variables = [
    ///     ("CORE_API_AUTH_ENABLE", "true"),
    ///     ("CORE_API_AUTH_USERNAME", "admin"),
    ///     ("CORE_API_AUTH_PASSWORD", "correct horse battery staple"),
    ///     ("CORE_API_AUTH_JWT_SECRET", "datarhei-secret"),
    /// ];
    /// let lookup = |name: &str| {
    ///     variables.iter().find(|(n, _)| *n == name).map(|(_, v)| (*v).to_owned())
    /// };
    /// let layer = JwtLoginConfig::from_lookup(lookup)?.build()?;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`from_env`](Self::from_env).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, EnvError> {
        let get = |name: &str| lookup(name).filter(|value| !value.is_empty());
        if boolean(&get, "CORE_API_AUTH_ENABLE")? == Some(false) {
            return Err(EnvError::AuthDisabled);
        }
        let username = get("CORE_API_AUTH_USERNAME").unwrap_or_else(|| DEFAULT_USERNAME.to_owned());
        let password = get("CORE_API_AUTH_PASSWORD").ok_or(EnvError::Missing {
            variable: "CORE_API_AUTH_PASSWORD",
        })?;
        let mut config = Self {
            users: vec![UserEntry {
                username,
                password: PasswordSetting::Plain(Secret::new(password)),
                scopes: get("CORE_API_AUTH_SCOPES").map(ScopeList::Joined),
            }],
            optional_auth_paths: vec!["/api".to_owned()],
            loopback_bypass: boolean(&get, "CORE_API_AUTH_DISABLE_LOCALHOST")?,
            refresh_token_rotation: boolean(&get, "CORE_API_AUTH_REFRESH_ROTATION")?,
            refresh_token_reuse_grace_seconds: number(
                &get,
                "CORE_API_AUTH_REFRESH_REUSE_GRACE_SECONDS",
            )?,
            max_sessions_per_user: number(&get, "CORE_API_AUTH_MAX_SESSIONS_PER_USER")?,
            max_revocations_per_user: number(&get, "CORE_API_AUTH_MAX_REVOCATIONS_PER_USER")?,
            max_concurrent_password_hashes: number(
                &get,
                "CORE_API_AUTH_MAX_CONCURRENT_PASSWORD_HASHES",
            )?,
            store: store(&get)?,
            from_env: true,
            ..Self::default()
        };
        // Without a secret the builder generates a random key, as datarhei Core does.
        if let Some(secret) = get("CORE_API_AUTH_JWT_SECRET") {
            if boolean(&get, "CORE_API_AUTH_JWT_SECRET_AS_KEY")? == Some(true) {
                config.secret = Some(Secret::new(secret));
            } else {
                config.datarhei_key = Some(Secret::new(secret));
            }
        }
        tenants(&get, &mut config)?;
        Ok(config)
    }
}

/// `CORE_API_AUTH_MAX_THROTTLE_COUNTERS` bounds the memory store; `CORE_API_AUTH_REDIS_URL`
/// replaces it.
fn store(get: &impl Fn(&str) -> Option<String>) -> Result<Option<StoreSettings>, EnvError> {
    let max_counters = number(get, "CORE_API_AUTH_MAX_THROTTLE_COUNTERS")?;
    match (get("CORE_API_AUTH_REDIS_URL"), max_counters) {
        (Some(_), Some(_)) => Err(EnvError::Conflicting {
            variable: "CORE_API_AUTH_MAX_THROTTLE_COUNTERS",
            other: "CORE_API_AUTH_REDIS_URL",
        }),
        #[cfg(feature = "redis")]
        (Some(url), None) => Ok(Some(StoreSettings::Redis(RedisSettings {
            url: Secret::new(url),
            key_prefix: None,
            timeout_milliseconds: None,
        }))),
        #[cfg(not(feature = "redis"))]
        (Some(_), None) => Err(EnvError::FeatureMissing {
            variable: "CORE_API_AUTH_REDIS_URL",
            feature: "redis",
        }),
        (None, max_throttle_counters @ Some(_)) => Ok(Some(StoreSettings::Memory {
            max_throttle_counters,
        })),
        (None, None) => Ok(None),
    }
}

/// datarhei Core's tenants: used only with `CORE_API_AUTH_AUTH0_ENABLE`, as datarhei Core
/// does (`app/api/api.go`); at least one then, each with a domain, an audience and a client
/// id (`config/config.go`).
fn tenants(
    get: &impl Fn(&str) -> Option<String>,
    config: &mut JwtLoginConfig,
) -> Result<(), EnvError> {
    let enabled = boolean(get, "CORE_API_AUTH_AUTH0_ENABLE")? == Some(true);
    let list = get("CORE_API_AUTH_AUTH0_TENANTS");
    #[cfg(not(feature = "jwks"))]
    {
        let _ = config;
        let variable = if enabled {
            "CORE_API_AUTH_AUTH0_ENABLE"
        } else {
            "CORE_API_AUTH_AUTH0_TENANTS"
        };
        if enabled || list.is_some() {
            return Err(EnvError::FeatureMissing {
                variable,
                feature: "jwks",
            });
        }
        Ok(())
    }
    #[cfg(feature = "jwks")]
    {
        if !enabled {
            if list.is_some() {
                tracing::warn!(
                    "CORE_API_AUTH_AUTH0_TENANTS is ignored: CORE_API_AUTH_AUTH0_ENABLE is not true"
                );
            }
            return Ok(());
        }
        let Some(list) = list else {
            return Err(EnvError::Missing {
                variable: "CORE_API_AUTH_AUTH0_TENANTS",
            });
        };
        for (index, entry) in list.split(',').enumerate() {
            let tenant =
                auth0::parse(entry).map_err(|reason| EnvError::InvalidTenant { index, reason })?;
            config.tenants.push(TenantSettings {
                issuer: format!("https://{}/", tenant.domain),
                audiences: vec![tenant.audience],
                allowed_subjects: tenant.users,
                jwks_url: None,
                discovery: None,
                allow_insecure_loopback: None,
                refresh_interval_seconds: None,
                scopes_claim: None,
                allowed_scopes: None,
            });
        }
        Ok(())
    }
}

/// A boolean as Go's `strconv.ParseBool` reads it (datarhei Core's `config/value`).
fn boolean(
    get: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
) -> Result<Option<bool>, EnvError> {
    get(variable)
        .map(|value| match value.as_str() {
            "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
            "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
            _ => Err(EnvError::InvalidValue {
                variable,
                value,
                expected: "true or false",
            }),
        })
        .transpose()
}

/// A whole number.
fn number<T: std::str::FromStr>(
    get: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
) -> Result<Option<T>, EnvError> {
    get(variable)
        .map(|value| {
            value.trim().parse().map_err(|_| EnvError::InvalidValue {
                variable,
                value,
                expected: "a whole number",
            })
        })
        .transpose()
}

/// A build error of a configuration read from the environment, naming the variable that set
/// the field at fault.
pub(super) fn name_variable(error: ConfigError) -> ConfigError {
    let Some(field) = error.field() else {
        return error;
    };
    let variable = VARIABLES
        .iter()
        .find(|(_, f)| {
            field == *f
                || field
                    .strip_prefix(*f)
                    .is_some_and(|rest| rest.starts_with(['[', '.']))
        })
        .map_or(field, |(variable, _)| *variable);
    ConfigError::new(Some(variable.to_owned()), error.build_error().clone())
}

/// `CORE_API_AUTH_AUTH0_TENANTS`, as datarhei Core's `config/value/auth0.go` reads it.
#[cfg(feature = "jwks")]
mod auth0;

#[cfg(test)]
mod tests;
