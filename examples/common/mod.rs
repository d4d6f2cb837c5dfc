//! What both server examples share: datarhei Core's environment variables, and the answer of
//! `GET /api`.

use std::net::SocketAddr;

use tower_jwt_login::{Claims, JwtLoginLayer, Password};

/// The layer and the address to listen on, from datarhei Core's environment variables:
///
/// | variable | default |
/// |---|---|
/// | `CORE_ADDRESS` | `127.0.0.1:8080` |
/// | `CORE_API_AUTH_USERNAME` | `admin` |
/// | `CORE_API_AUTH_PASSWORD` | generated and printed once |
/// | `CORE_API_AUTH_JWT_SECRET` | a random key (tokens die with the process) |
pub fn from_env() -> Result<(JwtLoginLayer, SocketAddr), Box<dyn std::error::Error>> {
    let address = env("CORE_ADDRESS").unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    let address: SocketAddr = address
        .parse()
        .map_err(|e| format!("CORE_ADDRESS={address:?} is not an address: {e}"))?;
    let username = env("CORE_API_AUTH_USERNAME").unwrap_or_else(|| "admin".to_owned());
    let password = env("CORE_API_AUTH_PASSWORD").unwrap_or_else(|| {
        let password = generate_password();
        println!(
            "CORE_API_AUTH_PASSWORD is not set; generated password for {username:?}: {password}"
        );
        password
    });
    let mut builder = JwtLoginLayer::builder()
        .user(username.clone(), Password::plain(password))
        .optional_auth_path("/api");
    if let Some(secret) = env("CORE_API_AUTH_JWT_SECRET") {
        builder = builder.secret(secret);
    }
    let layer = builder.build()?;
    println!("listening on http://{address}");
    println!(
        "try: curl -s http://{address}/api/login -H 'Content-Type: application/json' \
         -d '{{\"username\":\"{username}\",\"password\":\"<password>\"}}'"
    );
    Ok((layer, address))
}

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
