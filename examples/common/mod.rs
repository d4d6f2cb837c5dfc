//! What the server examples share: the layer from datarhei Core's environment variables
//! (`JwtLoginConfig::from_env`), the serve loop with its limits (`serve.rs`), and the answer of
//! `GET /api`.

mod idle;
mod serve;

use std::net::SocketAddr;

// Tests include this module and use part of it.
#[allow(unused_imports)]
pub use serve::{Limits, serve};

use tower_jwt_login::{Claims, JwtLoginBuilder, JwtLoginConfig, JwtLoginLayer};

/// The layer, the address to listen on and the server's limits, from datarhei Core's
/// environment variables: the layer's from the library (`JwtLoginConfig::from_env`, the README's
/// "Configuration from the environment"), the server's here.
pub fn from_env() -> Result<(JwtLoginLayer, SocketAddr, Limits), Box<dyn std::error::Error>> {
    from_env_with(|builder| builder)
}

/// [`from_env`], with the chance to set on the builder what the variables do not hold (the
/// tonic example's protected prefix: its gRPC service's path).
pub fn from_env_with(
    customize: impl FnOnce(JwtLoginBuilder) -> JwtLoginBuilder,
) -> Result<(JwtLoginLayer, SocketAddr, Limits), Box<dyn std::error::Error>> {
    let address = env("CORE_ADDRESS").unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    let address: SocketAddr = address
        .parse()
        .map_err(|e| format!("CORE_ADDRESS={address:?} is not an address: {e}"))?;
    let limits = Limits::from_lookup(env)?;
    // The library requires a password, as datarhei Core does; the example makes one up, so that
    // `cargo run --example ...` works with nothing set.
    let generated = env("CORE_API_AUTH_PASSWORD").is_none().then(|| {
        let password = uuid::Uuid::new_v4().simple().to_string();
        println!("CORE_API_AUTH_PASSWORD is not set; generated password: {password}");
        password
    });
    let layer = JwtLoginConfig::from_lookup(|name| match (name, &generated) {
        ("CORE_API_AUTH_PASSWORD", Some(password)) => Some(password.clone()),
        _ => std::env::var(name).ok(),
    })?
    .build_with(customize)?;
    let username = env("CORE_API_AUTH_USERNAME").unwrap_or_else(|| "admin".to_owned());
    println!("listening on http://{address}");
    println!(
        "try: curl -s http://{address}/api/login -H 'Content-Type: application/json' \
         -d '{{\"username\":\"{username}\",\"password\":\"<password>\"}}'"
    );
    Ok((layer, address, limits))
}

/// An environment variable; empty counts as unset.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
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
