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
///
/// and, with the `jwks-rustls` feature, one external identity provider tenant (see
/// [`tenant_from_env`]).
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
    #[cfg(feature = "jwks-rustls")]
    if let Some(tenant) = tenant_from_env()? {
        builder = builder.tenant(tenant);
    }
    #[cfg(not(feature = "jwks-rustls"))]
    if env("CORE_API_AUTH_IDP_ISSUER").is_some() {
        return Err(
            "CORE_API_AUTH_IDP_ISSUER is set: run the example with --features jwks-rustls".into(),
        );
    }
    let layer = builder.build()?;
    println!("listening on http://{address}");
    println!(
        "try: curl -s http://{address}/api/login -H 'Content-Type: application/json' \
         -d '{{\"username\":\"{username}\",\"password\":\"<password>\"}}'"
    );
    Ok((layer, address))
}

/// One identity provider tenant (Auth0, or any OpenID Connect issuer) whose access tokens log in
/// with `POST /api/login` and `Authorization: Bearer <token>`, if `CORE_API_AUTH_IDP_ISSUER` is
/// set:
///
/// | variable | meaning |
/// |---|---|
/// | `CORE_API_AUTH_IDP_ISSUER` | the issuer, such as `https://example.eu.auth0.com/` |
/// | `CORE_API_AUTH_IDP_AUDIENCE` | accepted audiences, comma-separated (required) |
/// | `CORE_API_AUTH_IDP_USERS` | allowed subjects, comma-separated (required) |
/// | `CORE_API_AUTH_IDP_JWKS_URL` | the JWKS URL; default `<issuer>.well-known/jwks.json` |
/// | `CORE_API_AUTH_IDP_DISCOVERY` | `true` to find the JWKS URL by OpenID Connect discovery |
/// | `CORE_API_AUTH_IDP_INSECURE_LOOPBACK` | `true` to allow `http://127.0.0.1` URLs (tests) |
#[cfg(feature = "jwks-rustls")]
pub fn tenant_from_env() -> Result<Option<tower_jwt_login::Tenant>, Box<dyn std::error::Error>> {
    let Some(issuer) = env("CORE_API_AUTH_IDP_ISSUER") else {
        return Ok(None);
    };
    let list = |name: &str| -> Result<Vec<String>, String> {
        let values: Vec<String> = env(name)
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect();
        if values.is_empty() {
            return Err(format!(
                "CORE_API_AUTH_IDP_ISSUER is set, so {name} is required"
            ));
        }
        Ok(values)
    };
    let mut tenant = tower_jwt_login::Tenant::new(issuer.clone())
        .discovery(env("CORE_API_AUTH_IDP_DISCOVERY").as_deref() == Some("true"))
        .allow_insecure_loopback(
            env("CORE_API_AUTH_IDP_INSECURE_LOOPBACK").as_deref() == Some("true"),
        );
    for audience in list("CORE_API_AUTH_IDP_AUDIENCE")? {
        tenant = tenant.audience(audience);
    }
    for subject in list("CORE_API_AUTH_IDP_USERS")? {
        tenant = tenant.allow_subject(subject);
    }
    if let Some(url) = env("CORE_API_AUTH_IDP_JWKS_URL") {
        tenant = tenant.jwks_url(url);
    }
    println!("identity provider logins from {issuer}");
    Ok(Some(tenant))
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
