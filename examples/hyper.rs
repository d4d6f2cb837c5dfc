//! datarhei Core's API on plain hyper 1.x (no axum), behind `JwtLoginLayer`.
//!
//! ```sh
//! cargo run --example hyper
//! ```
//!
//! Besides the protected `/api/v3/...` routes it serves a public `GET /ping`, so that protected
//! and unprotected requests can be compared under load (`scripts/load.sh`).

#[path = "common/mod.rs"]
mod common;

use std::convert::Infallible;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tower::{Layer as _, ServiceExt as _};
use tower_jwt_login::{Claims, PeerAddr};

/// The app: a plain function of the request. The layer has put the verified claims into the
/// extensions of every request below `/api/v3`.
async fn app(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let claims = request.extensions().get::<Claims>();
    let json = |value: serde_json::Value| {
        Response::builder()
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(value.to_string())))
            .expect("valid response")
    };
    let response = match (request.method(), request.uri().path()) {
        // The same answer public and protected, so that under load the difference between the
        // two is the layer's alone (scripts/load.sh).
        (&Method::GET, "/ping" | "/api/v3/ping") => {
            Response::new(Full::new(Bytes::from_static(b"pong")))
        }
        (&Method::GET, "/api") => json(common::about(claims)),
        (&Method::GET, "/api/v3/rtmp") => json(serde_json::json!([])),
        (&Method::GET, "/api/v3/whoami") => json(serde_json::json!({
            "username": claims.map(Claims::sub),
        })),
        _ => Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Full::new(Bytes::from_static(b"not found")))
            .expect("valid response"),
    };
    Ok(response)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    common::init_tracing();
    let (layer, address) = common::from_env()?;
    let service = layer.layer(tower::service_fn(app));

    let listener = tokio::net::TcpListener::bind(address).await?;
    let server = auto::Builder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    let mut ctrl_c = std::pin::pin!(tokio::signal::ctrl_c());
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else { continue };
                let service = service.clone();
                // The peer address comes from the connection, never from a header.
                let hyper_service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
                    request.extensions_mut().insert(PeerAddr(peer));
                    service.clone().oneshot(request)
                });
                let connection = server.serve_connection_with_upgrades(TokioIo::new(stream), hyper_service);
                let connection = graceful.watch(connection.into_owned());
                tokio::spawn(async move {
                    let _ = connection.await;
                });
            }
            _ = &mut ctrl_c => {
                println!("shutting down");
                break;
            }
        }
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
