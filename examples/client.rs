//! A client for datarhei Core's API (or either server example): logs in, sends one `GET`, and
//! prints the answer and when the tokens expire.
//!
//! ```sh
//! # In one terminal:
//! CORE_API_AUTH_PASSWORD=secret cargo run --example axum --features axum
//! # In another:
//! CORE_API_AUTH_USERNAME=admin CORE_API_AUTH_PASSWORD=secret \
//!     cargo run --example client -- http://127.0.0.1:8080 /api/v3/ping
//! ```
//!
//! `CORE_API_AUTH_USERNAME` defaults to `admin`; `CORE_API_AUTH_PASSWORD` is required. The exit
//! status is 0 when the answer is a success (2xx), 1 otherwise, 2 for a usage error.
//!
//! Nothing waits forever: the login and any refresh time out after the client layer's default
//! (10 s), the request and its answer after [`REQUEST_TIMEOUT`], and an answer longer than
//! [`MAX_BODY_LEN`] is an error rather than memory.

use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Request, Uri};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tower::ServiceExt as _;
use tower_jwt_login::JwtClient;

/// How long the request may take, answer read.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest answer printed, in bytes.
const MAX_BODY_LEN: usize = 1024 * 1024;

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(base), Some(path), None) = (args.next(), args.next(), args.next()) else {
        eprintln!("usage: cargo run --example client -- <base-url> <path>");
        eprintln!("   e.g. cargo run --example client -- http://127.0.0.1:8080 /api/v3/ping");
        return ExitCode::from(2);
    };
    let Some(password) = env("CORE_API_AUTH_PASSWORD") else {
        eprintln!("CORE_API_AUTH_PASSWORD is not set");
        return ExitCode::from(2);
    };
    let username = env("CORE_API_AUTH_USERNAME").unwrap_or_else(|| "admin".to_owned());
    match run(&base, &path, username, password).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: {error}");
            let mut source = std::error::Error::source(&*error);
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::FAILURE
        }
    }
}

/// Logs in, sends `GET <path>`, prints everything; `Ok(true)` for a 2xx answer.
async fn run(
    base: &str,
    path: &str,
    username: String,
    password: String,
) -> Result<bool, Box<dyn std::error::Error + Send + Sync>> {
    let base: Uri = base
        .parse()
        .map_err(|e| format!("{base:?} is not a URL: {e}"))?;
    let http = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let client = JwtClient::builder(base)
        .credentials(username, password)
        .connect(http)
        .await?;
    println!("logged in");

    // A path is resolved against the base URL; an absolute URL for another origin would be
    // sent without the token.
    let request = Request::get(path).body(Full::default())?;
    let exchange = async {
        let response = client.clone().oneshot(request).await?;
        let status = response.status();
        let body = Limited::new(response.into_body(), MAX_BODY_LEN)
            .collect()
            .await
            .map_err(|e| format!("reading the answer (at most {MAX_BODY_LEN} bytes): {e}"))?
            .to_bytes();
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>((status, body))
    };
    let (status, body) = tokio::time::timeout(REQUEST_TIMEOUT, exchange)
        .await
        .map_err(|_| format!("no answer within {REQUEST_TIMEOUT:?}"))??;
    println!("status: {status}");
    println!("body: {}", String::from_utf8_lossy(&body));

    let tokens = client.tokens();
    println!(
        "access token expires: {}",
        describe(tokens.access_expires_at())
    );
    println!(
        "refresh token expires: {}",
        describe(tokens.refresh_expires_at())
    );
    Ok(status.is_success())
}

/// `1700000600 (in 599 s)`: seconds since the Unix epoch, and from now.
fn describe(moment: Option<SystemTime>) -> String {
    let Some(moment) = moment else {
        return "unknown (no exp claim)".to_owned();
    };
    let epoch = moment
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    match moment.duration_since(SystemTime::now()) {
        Ok(left) => format!("{epoch} (in {} s)", left.as_secs()),
        Err(past) => format!("{epoch} ({} s ago)", past.duration().as_secs()),
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}
