//! datarhei Core's API on plain hyper 1.x (no axum), behind `JwtLoginLayer`.
//!
//! ```sh
//! cargo run --example hyper
//! ```
//!
//! Besides the protected `/api/v3/...` routes it serves a public `GET /ping`, so that protected
//! and unprotected requests can be compared under load (`scripts/load.sh`). The layer reads the
//! client's address from the `PeerAddr` that `common::serve` takes from each connection.

#[path = "common/mod.rs"]
mod common;

use std::convert::Infallible;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use tower::Layer as _;
use tower_jwt_login::{Claims, JwtLoginLayer};

/// The layer's OpenAPI document, written out when first asked for: its JSON tree takes about
/// 140 KB of short-lived allocations, which a server that is never asked should not add to its
/// peak memory.
struct Openapi {
    layer: JwtLoginLayer,
    document: OnceLock<Bytes>,
}

impl Openapi {
    fn document(&self) -> Bytes {
        let json = || Bytes::from(self.layer.openapi().to_string());
        self.document.get_or_init(json).clone()
    }
}

/// The app: a plain function of the request. The layer has put the verified claims into the
/// extensions of every request below `/api/v3`.
async fn app(
    request: Request<Incoming>,
    openapi: Arc<Openapi>,
) -> Result<Response<Full<Bytes>>, Infallible> {
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
        // The layer's own routes, described for tools (`JwtLoginLayer::openapi`).
        (&Method::GET, "/api/openapi.json") => Response::builder()
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(openapi.document()))
            .expect("valid response"),
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
    let (layer, address, limits) = common::from_env()?;
    let openapi = Arc::new(Openapi {
        layer: layer.clone(),
        document: OnceLock::new(),
    });
    let service = layer.layer(tower::service_fn(move |request| {
        app(request, Arc::clone(&openapi))
    }));

    let listener = tokio::net::TcpListener::bind(address).await?;
    // Timeouts, a connection cap and an accept loop that survives errors: see common/serve.rs.
    common::serve(listener, limits, |_peer| service.clone(), async {
        let _ = tokio::signal::ctrl_c().await;
        println!("shutting down");
    })
    .await;
    Ok(())
}
