//! What both server examples share: datarhei Core's environment variables, read into the same
//! `JwtLoginConfig` a configuration file gives, the serve loop with its limits (`serve.rs`), and
//! the answer of `GET /api`.

mod idle;
mod serve;

use std::net::SocketAddr;

// Tests include this module and use part of it.
#[allow(unused_imports)]
pub use serve::{Limits, serve};

use serde_json::{Value, json};
use tower_jwt_login::{Claims, JwtLoginConfig, JwtLoginLayer};

/// Each variable that fills the configuration, and the configuration field it fills (the
/// README's "Examples" table describes them). `CORE_ADDRESS` is the example's own.
const VARIABLES: &[(&str, &str)] = &[
    ("CORE_API_AUTH_USERNAME", "users[0].username"),
    ("CORE_API_AUTH_PASSWORD", "users[0].password"),
    ("CORE_API_AUTH_JWT_SECRET", "secret"),
    ("CORE_API_AUTH_DISABLE_LOCALHOST", "loopback_bypass"),
    ("CORE_API_AUTH_IDP_ISSUER", "tenants[0].issuer"),
    ("CORE_API_AUTH_IDP_AUDIENCE", "tenants[0].audiences"),
    ("CORE_API_AUTH_IDP_USERS", "tenants[0].allowed_subjects"),
    ("CORE_API_AUTH_IDP_JWKS_URL", "tenants[0].jwks_url"),
    ("CORE_API_AUTH_IDP_DISCOVERY", "tenants[0].discovery"),
    (
        "CORE_API_AUTH_IDP_INSECURE_LOOPBACK",
        "tenants[0].allow_insecure_loopback",
    ),
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
    (
        "CORE_API_AUTH_MAX_THROTTLE_COUNTERS",
        "store.max_throttle_counters",
    ),
    ("CORE_API_AUTH_REDIS_URL", "store.url"),
];

/// The variables that are whole numbers written to their field as they are.
const NUMBERS: [&str; 4] = [
    "CORE_API_AUTH_REFRESH_REUSE_GRACE_SECONDS",
    "CORE_API_AUTH_MAX_SESSIONS_PER_USER",
    "CORE_API_AUTH_MAX_REVOCATIONS_PER_USER",
    "CORE_API_AUTH_MAX_CONCURRENT_PASSWORD_HASHES",
];

/// datarhei Core's default username.
const DEFAULT_USERNAME: &str = "admin";

/// The layer, the address to listen on and the server's limits, from datarhei Core's
/// environment variables.
pub fn from_env() -> Result<(JwtLoginLayer, SocketAddr, Limits), Box<dyn std::error::Error>> {
    let address = env("CORE_ADDRESS").unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    let address: SocketAddr = address
        .parse()
        .map_err(|e| format!("CORE_ADDRESS={address:?} is not an address: {e}"))?;
    let limits = Limits::from_lookup(env)?;
    let layer = layer_from(env)?;
    let username = env("CORE_API_AUTH_USERNAME").unwrap_or_else(|| DEFAULT_USERNAME.to_owned());
    println!("listening on http://{address}");
    println!(
        "try: curl -s http://{address}/api/login -H 'Content-Type: application/json' \
         -d '{{\"username\":\"{username}\",\"password\":\"<password>\"}}'"
    );
    Ok((layer, address, limits))
}

/// The layer from the variables `lookup` finds, through the path a configuration file takes:
/// the variables become a JSON document, deserialized into a `JwtLoginConfig`, which builds the
/// layer. An error names the variable at fault.
pub fn layer_from(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<JwtLoginLayer, Box<dyn std::error::Error>> {
    let config: JwtLoginConfig =
        serde_json::from_value(config_from(&lookup)?).map_err(|error| {
            // A field this version does not know: name the variable that wrote it.
            let unknown = error.to_string();
            let unknown = unknown
                .strip_prefix("unknown field `")
                .and_then(|rest| rest.split('`').next());
            let variable = VARIABLES
                .iter()
                .find(|(_, field)| {
                    unknown
                        .is_some_and(|name| *field == name || field.ends_with(&format!(".{name}")))
                })
                .map_or("the configuration", |(variable, _)| *variable);
            format!("{variable}: {error}")
        })?;
    config.build().map_err(|error| {
        let variable = error
            .field()
            .and_then(|field| {
                VARIABLES
                    .iter()
                    .find(|(_, f)| *f == field)
                    .map(|(variable, _)| *variable)
                    .or_else(|| {
                        field
                            .starts_with("tenants")
                            .then_some("CORE_API_AUTH_IDP_*")
                    })
                    .or_else(|| {
                        field
                            .starts_with("store")
                            .then_some("CORE_API_AUTH_REDIS_URL")
                    })
            })
            .unwrap_or("the configuration");
        format!("{variable}: {}", error.build_error()).into()
    })
}

/// The configuration field `variable` fills, from [`VARIABLES`].
fn field(variable: &str) -> &'static str {
    VARIABLES
        .iter()
        .find(|(name, _)| *name == variable)
        .map(|(_, field)| *field)
        .expect("every variable is in VARIABLES")
}

/// The configuration document the variables describe, with datarhei Core's defaults: user
/// `admin` with a generated password, a random secret, optional authentication on `GET /api`.
pub fn config_from(lookup: &impl Fn(&str) -> Option<String>) -> Result<Value, String> {
    let username = lookup("CORE_API_AUTH_USERNAME").unwrap_or_else(|| DEFAULT_USERNAME.to_owned());
    let password = lookup("CORE_API_AUTH_PASSWORD").unwrap_or_else(|| {
        let password = generate_password();
        println!(
            "CORE_API_AUTH_PASSWORD is not set; generated password for {username:?}: {password}"
        );
        password
    });
    let mut config = json!({
        "users": [{ "username": username, "password": password }],
        "optional_auth_paths": ["/api"],
    });
    // Without a secret the builder generates a random key: tokens die with the process.
    if let Some(secret) = lookup("CORE_API_AUTH_JWT_SECRET") {
        config["secret"] = secret.into();
    }
    if let Some(enabled) = boolean(lookup, "CORE_API_AUTH_DISABLE_LOCALHOST")? {
        config["loopback_bypass"] = enabled.into();
    }
    if let Some(issuer) = lookup("CORE_API_AUTH_IDP_ISSUER") {
        if !cfg!(feature = "jwks-rustls") {
            return Err(
                "CORE_API_AUTH_IDP_ISSUER is set: run the example with --features jwks-rustls"
                    .to_owned(),
            );
        }
        println!("identity provider logins from {issuer}");
        let mut tenant = json!({
            "issuer": issuer,
            "audiences": list(lookup, "CORE_API_AUTH_IDP_AUDIENCE"),
            "allowed_subjects": list(lookup, "CORE_API_AUTH_IDP_USERS"),
        });
        if let Some(url) = lookup("CORE_API_AUTH_IDP_JWKS_URL") {
            tenant["jwks_url"] = url.into();
        }
        if let Some(enabled) = boolean(lookup, "CORE_API_AUTH_IDP_DISCOVERY")? {
            tenant["discovery"] = enabled.into();
        }
        if let Some(enabled) = boolean(lookup, "CORE_API_AUTH_IDP_INSECURE_LOOPBACK")? {
            tenant["allow_insecure_loopback"] = enabled.into();
        }
        config["tenants"] = json!([tenant]);
    }
    if let Some(enabled) = boolean(lookup, "CORE_API_AUTH_REFRESH_ROTATION")? {
        config[field("CORE_API_AUTH_REFRESH_ROTATION")] = enabled.into();
    }
    for name in NUMBERS {
        if let Some(number) = number(lookup, name)? {
            config[field(name)] = number.into();
        }
    }
    let max_counters = number(lookup, "CORE_API_AUTH_MAX_THROTTLE_COUNTERS")?;
    match (lookup("CORE_API_AUTH_REDIS_URL"), max_counters) {
        (Some(_), Some(_)) => {
            return Err(
                "CORE_API_AUTH_MAX_THROTTLE_COUNTERS bounds the memory store: \
                 unset it, or CORE_API_AUTH_REDIS_URL"
                    .to_owned(),
            );
        }
        (Some(url), None) => {
            if !cfg!(feature = "redis") {
                return Err(
                    "CORE_API_AUTH_REDIS_URL is set: run the example with --features redis"
                        .to_owned(),
                );
            }
            // Not the URL: it may hold Redis's password.
            println!("throttling, refresh-token families and revocations in Redis");
            config["store"] = json!({ "type": "redis", "url": url });
        }
        (None, Some(max)) => {
            config["store"] = json!({ "type": "memory", "max_throttle_counters": max });
        }
        (None, None) => {}
    }
    Ok(config)
}

/// A comma-separated list; empty entries are dropped.
fn list(lookup: &impl Fn(&str) -> Option<String>, name: &str) -> Vec<String> {
    lookup(name)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `true` or `false`; anything else is an error rather than a silent `false`.
fn boolean(lookup: &impl Fn(&str) -> Option<String>, name: &str) -> Result<Option<bool>, String> {
    match lookup(name).as_deref() {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(other) => Err(format!("{name}={other:?}: expected true or false")),
    }
}

/// A whole number; anything else is an error that names the variable.
fn number(lookup: &impl Fn(&str) -> Option<String>, name: &str) -> Result<Option<u64>, String> {
    lookup(name)
        .map(|value| {
            value
                .trim()
                .parse()
                .map_err(|_| format!("{name}={value:?}: expected a whole number"))
        })
        .transpose()
}

/// An environment variable; empty counts as unset.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// 24 characters from the operating system's RNG.
fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).expect("the operating system's RNG is available");
    bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

/// `GET /api` as datarhei Core answers it: the `id` and `name` only for a caller with a valid
/// token (datarhei's Go client reads them after logging in).
pub fn about(claims: Option<&Claims>) -> serde_json::Value {
    let mut about = serde_json::json!({
        "app": "datarhei-core",
        "auths": ["localjwt"],
        "version": { "number": "16.16.0" },
    });
    if claims.is_some() {
        about["id"] = "7d6c1b0e-4b0b-4d8e-9d9c-2b6f6a1c0e01".into();
        about["name"] = "tower-jwt-login example".into();
    }
    about
}

/// Logs to stderr, `info` by default (`RUST_LOG` overrides).
pub fn init_tracing() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
}
