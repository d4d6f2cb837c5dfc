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
use super::settings::{PasswordSetting, Secret, StoreSettings, UserEntry};
use crate::error::{ConfigError, EnvError};

/// Each variable, and the configuration field it sets (the README's table describes them).
const VARIABLES: &[(&str, &str)] = &[
    ("CORE_API_AUTH_USERNAME", "users[0].username"),
    ("CORE_API_AUTH_PASSWORD", "users[0].password"),
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
mod auth0 {
    use base64::Engine as _;
    use percent_encoding::percent_decode_str;
    use serde::Deserialize;

    /// One tenant: datarhei Core's `Auth0Tenant`.
    #[derive(Debug, Default, Deserialize, PartialEq, Eq)]
    #[serde(default)]
    pub(super) struct Auth0Tenant {
        pub(super) domain: String,
        pub(super) audience: String,
        #[serde(rename = "clientid")]
        pub(super) client_id: String,
        pub(super) users: Vec<String>,
    }

    /// `auth0://CLIENTID@DOMAIN?aud=AUDIENCE&user=USER1&user=USER2`, or else the standard base64
    /// of the tenant's JSON; then datarhei Core's check (`config/config.go`): a domain, an
    /// audience and a client id.
    pub(super) fn parse(entry: &str) -> Result<Auth0Tenant, String> {
        let tenant = match entry.strip_prefix("auth0://") {
            Some(url) => from_url(url)?,
            None => {
                let json = base64::engine::general_purpose::STANDARD
                    .decode(entry)
                    .map_err(|e| format!("neither an auth0:// URL nor base64: {e}"))?;
                serde_json::from_slice(&json).map_err(|e| format!("invalid JSON: {e}"))?
            }
        };
        for (value, name) in [
            (&tenant.domain, "domain"),
            (&tenant.audience, "audience (aud)"),
            (&tenant.client_id, "client id"),
        ] {
            if value.is_empty() {
                return Err(format!("the {name} is missing"));
            }
        }
        Ok(tenant)
    }

    /// The URL after its scheme, read as Go's `url.Parse` does: the authority runs to the
    /// first `/`, `?` or `#`, the user to its last `@`; `aud` is the first such query value,
    /// the users every `user` value.
    fn from_url(url: &str) -> Result<Auth0Tenant, String> {
        let url = url.split_once('#').map_or(url, |(url, _)| url);
        let (before_query, query) = url.split_once('?').unwrap_or((url, ""));
        let authority = before_query.split('/').next().unwrap_or_default();
        let (client_id, domain) = match authority.rsplit_once('@') {
            Some((user, host)) => {
                let user = user.split_once(':').map_or(user, |(name, _)| name);
                (unescape(user, false)?, host)
            }
            None => (String::new(), authority),
        };
        let mut tenant = Auth0Tenant {
            domain: domain.to_owned(),
            client_id,
            ..Auth0Tenant::default()
        };
        let mut audience = None;
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match unescape(key, true)?.as_str() {
                "aud" if audience.is_none() => audience = Some(unescape(value, true)?),
                "user" => tenant.users.push(unescape(value, true)?),
                _ => {}
            }
        }
        tenant.audience = audience.unwrap_or_default();
        Ok(tenant)
    }

    /// Percent-decoding; in a query, `+` is a space as well.
    fn unescape(text: &str, query: bool) -> Result<String, String> {
        let text = if query {
            text.replace('+', " ")
        } else {
            text.to_owned()
        };
        percent_decode_str(&text)
            .decode_utf8()
            .map(|decoded| decoded.into_owned())
            .map_err(|_| format!("{text:?} is not UTF-8 once percent-decoded"))
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn tenant(domain: &str, client_id: &str, audience: &str, users: &[&str]) -> Auth0Tenant {
            Auth0Tenant {
                domain: domain.to_owned(),
                audience: audience.to_owned(),
                client_id: client_id.to_owned(),
                users: users.iter().map(|u| (*u).to_owned()).collect(),
            }
        }

        /// The cases of datarhei Core's `config/value/auth0_test.go`.
        #[test]
        fn datarheis_own_examples_read_the_same() {
            assert_eq!(
                parse("auth0://clientid@domain?aud=audience&user=user1&user=user2").unwrap(),
                tenant("domain", "clientid", "audience", &["user1", "user2"])
            );
            // No client id: datarhei Core's configuration check refuses it.
            assert!(
                parse("auth0://domain2?aud=audience2&user=user3")
                    .unwrap_err()
                    .contains("client id")
            );
            // The base64 form (datarhei's test value has no client id either).
            let json = base64::engine::general_purpose::STANDARD.encode(
                r#"{"domain":"datarhei.eu.auth0.com","audience":"https://datarhei.com/core","clientid":"abc","users":["auth0|xxx"]}"#,
            );
            assert_eq!(
                parse(&json).unwrap(),
                tenant(
                    "datarhei.eu.auth0.com",
                    "abc",
                    "https://datarhei.com/core",
                    &["auth0|xxx"]
                )
            );
        }

        #[test]
        fn escapes_are_decoded_and_missing_parts_refused() {
            assert_eq!(
                parse(
                    "auth0://my%20app@d.example?aud=https%3A%2F%2Fx%2F&user=auth0%7Cxxx&user=a+b"
                )
                .unwrap(),
                tenant("d.example", "my app", "https://x/", &["auth0|xxx", "a b"])
            );
            for (entry, missing) in [
                ("auth0://id@d.example?user=u", "audience"),
                ("auth0://id@?aud=a", "domain"),
                ("not base64!", "neither"),
                ("e30=", "domain"),
            ] {
                let error = parse(entry).unwrap_err();
                assert!(error.contains(missing), "{entry}: {error}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BuildError;

    fn lookup(variables: &[(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        let variables = variables.to_vec();
        move |name| {
            variables
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn auth_disabled_is_an_error_and_enabled_is_the_default() {
        for value in ["false", "0", "f", "FALSE"] {
            let error = JwtLoginConfig::from_lookup(lookup(&[
                ("CORE_API_AUTH_ENABLE", value),
                ("CORE_API_AUTH_PASSWORD", "pw"),
            ]))
            .unwrap_err();
            assert_eq!(error, EnvError::AuthDisabled, "{value}");
        }
        for enable in [&[("CORE_API_AUTH_ENABLE", "true")][..], &[]] {
            let mut variables = enable.to_vec();
            variables.push(("CORE_API_AUTH_PASSWORD", "pw"));
            JwtLoginConfig::from_lookup(lookup(&variables))
                .unwrap()
                .build()
                .unwrap();
        }
    }

    #[test]
    fn the_password_is_required() {
        assert_eq!(
            JwtLoginConfig::from_lookup(lookup(&[("CORE_API_AUTH_PASSWORD", "")])).unwrap_err(),
            EnvError::Missing {
                variable: "CORE_API_AUTH_PASSWORD"
            }
        );
    }

    #[test]
    fn a_build_error_names_the_variable() {
        let error = JwtLoginConfig::from_lookup(lookup(&[
            ("CORE_API_AUTH_PASSWORD", "pw"),
            ("CORE_API_AUTH_JWT_SECRET", "short"),
        ]))
        .unwrap()
        .build()
        .unwrap_err();
        assert_eq!(error.field(), Some("CORE_API_AUTH_JWT_SECRET"));
        assert!(matches!(
            error.build_error(),
            BuildError::DatarheiKeyTooShort { .. }
        ));
        let error = JwtLoginConfig::from_lookup(lookup(&[
            ("CORE_API_AUTH_PASSWORD", "pw"),
            ("CORE_API_AUTH_JWT_SECRET", "short"),
            ("CORE_API_AUTH_JWT_SECRET_AS_KEY", "true"),
        ]))
        .unwrap()
        .build()
        .unwrap_err();
        assert_eq!(error.field(), Some("CORE_API_AUTH_JWT_SECRET"));
        assert_eq!(error.build_error(), &BuildError::SecretTooShort { len: 5 });
        let error = JwtLoginConfig::from_lookup(lookup(&[
            ("CORE_API_AUTH_PASSWORD", "pw"),
            ("CORE_API_AUTH_MAX_SESSIONS_PER_USER", "0"),
        ]))
        .unwrap()
        .build()
        .unwrap_err();
        assert_eq!(error.field(), Some("CORE_API_AUTH_MAX_SESSIONS_PER_USER"));
    }

    #[cfg(not(feature = "jwks"))]
    #[test]
    fn tenants_without_the_jwks_feature_name_the_feature() {
        for variables in [
            &[("CORE_API_AUTH_AUTH0_ENABLE", "true")][..],
            &[("CORE_API_AUTH_AUTH0_TENANTS", "auth0://id@d?aud=a&user=u")],
        ] {
            let mut variables = variables.to_vec();
            variables.push(("CORE_API_AUTH_PASSWORD", "pw"));
            let error = JwtLoginConfig::from_lookup(lookup(&variables)).unwrap_err();
            assert!(
                matches!(
                    error,
                    EnvError::FeatureMissing {
                        feature: "jwks",
                        ..
                    }
                ),
                "{error}"
            );
            assert!(error.to_string().contains("--features jwks"), "{error}");
        }
    }

    #[cfg(feature = "jwks")]
    #[test]
    fn tenants_are_read_only_when_auth0_is_enabled() {
        let tenants =
            "auth0://id1@one.example?aud=a1&user=u1&user=u2,auth0://id2@two.example?aud=a2&user=u3";
        let config = JwtLoginConfig::from_lookup(lookup(&[
            ("CORE_API_AUTH_PASSWORD", "pw"),
            ("CORE_API_AUTH_AUTH0_ENABLE", "true"),
            ("CORE_API_AUTH_AUTH0_TENANTS", tenants),
        ]))
        .unwrap();
        let read: Vec<_> = config
            .tenants
            .iter()
            .map(|t| {
                (
                    t.issuer.as_str(),
                    t.audiences.clone(),
                    t.allowed_subjects.clone(),
                )
            })
            .collect();
        assert_eq!(
            read,
            [
                (
                    "https://one.example/",
                    vec!["a1".to_owned()],
                    vec!["u1".to_owned(), "u2".to_owned()]
                ),
                (
                    "https://two.example/",
                    vec!["a2".to_owned()],
                    vec!["u3".to_owned()]
                ),
            ]
        );
        // Without CORE_API_AUTH_AUTH0_ENABLE, datarhei Core ignores the tenants.
        let config = JwtLoginConfig::from_lookup(lookup(&[
            ("CORE_API_AUTH_PASSWORD", "pw"),
            ("CORE_API_AUTH_AUTH0_TENANTS", tenants),
        ]))
        .unwrap();
        assert!(config.tenants.is_empty());
        // Enabled without tenants, or with a broken one: an error that names the variable.
        let error = JwtLoginConfig::from_lookup(lookup(&[
            ("CORE_API_AUTH_PASSWORD", "pw"),
            ("CORE_API_AUTH_AUTH0_ENABLE", "true"),
        ]))
        .unwrap_err();
        assert_eq!(
            error,
            EnvError::Missing {
                variable: "CORE_API_AUTH_AUTH0_TENANTS"
            }
        );
        let error = JwtLoginConfig::from_lookup(lookup(&[
            ("CORE_API_AUTH_PASSWORD", "pw"),
            ("CORE_API_AUTH_AUTH0_ENABLE", "true"),
            (
                "CORE_API_AUTH_AUTH0_TENANTS",
                "auth0://id@one.example?aud=a&user=u,auth0://two.example?aud=a",
            ),
        ]))
        .unwrap_err();
        assert!(
            matches!(error, EnvError::InvalidTenant { index: 1, .. }),
            "{error}"
        );
        assert!(
            error.to_string().starts_with("CORE_API_AUTH_AUTH0_TENANTS"),
            "{error}"
        );
    }
}
