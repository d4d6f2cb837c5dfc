//! An existing axum app with datarhei Core's routes, wrapped in `JwtLoginLayer`.
//!
//! ```sh
//! cargo run --example axum --features axum
//! ```
//!
//! Configuration comes from datarhei Core's environment variables (see `common/mod.rs`).

#[path = "common/mod.rs"]
mod common;

use std::net::SocketAddr;

use axum::routing::get;
use axum::{Json, Router};
use tower_jwt_login::Claims;

/// The app as it was before authentication: it knows nothing of tokens, only of `Claims`.
fn app() -> Router {
    Router::new()
        .route("/api", get(about))
        .route(
            "/api/v3/ping",
            get(|| async { Json(serde_json::json!({ "ping": "pong" })) }),
        )
        .route(
            "/api/v3/rtmp",
            get(|| async { Json(serde_json::json!([])) }),
        )
        .route("/api/v3/whoami", get(whoami))
        .route("/ping", get(|| async { "pong" }))
}

async fn about(claims: Option<Claims>) -> Json<serde_json::Value> {
    Json(common::about(claims.as_ref()))
}

async fn whoami(claims: Claims) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "username": claims.sub(), "expires_at": claims.exp() }))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    common::init_tracing();
    let (layer, address) = common::from_env()?;
    let app = app().layer(layer);

    let listener = tokio::net::TcpListener::bind(address).await?;
    // `ConnectInfo` gives the layer the peer address for the (optional) loopback bypass.
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
        println!("shutting down");
    })
    .await?;
    Ok(())
}
