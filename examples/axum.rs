//! An existing axum app with datarhei Core's routes, wrapped in `JwtLoginLayer`.
//!
//! ```sh
//! cargo run --example axum --features axum
//! ```
//!
//! Configuration comes from datarhei Core's environment variables (see `common/mod.rs`).

#[path = "common/mod.rs"]
mod common;

use axum::extract::ConnectInfo;
use axum::routing::get;
use axum::{Extension, Json, Router};
use tower::Layer as _;
use tower_jwt_login::Claims;

/// The app as it was before authentication: it knows nothing of tokens, only of `Claims`. It
/// serves the layer's OpenAPI document (`openapi`) beside its own routes.
fn app(openapi: serde_json::Value) -> Router {
    Router::new()
        .route("/api", get(about))
        .route("/api/openapi.json", get(|| async move { Json(openapi) }))
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
    let (layer, address, limits) = common::from_env()?;
    let app = app(layer.openapi()).layer(layer);

    let listener = tokio::net::TcpListener::bind(address).await?;
    // The serve loop of common/serve.rs rather than `axum::serve`, which has no header-read or
    // idle timeout and no connection cap. The layer reads the peer from the `PeerAddr` it
    // inserts; `ConnectInfo` gives it to the app's own handlers, as `axum::serve` would.
    common::serve(
        listener,
        limits,
        |peer| Extension(ConnectInfo(peer)).layer(app.clone()),
        async {
            let _ = tokio::signal::ctrl_c().await;
            println!("shutting down");
        },
    )
    .await;
    Ok(())
}
