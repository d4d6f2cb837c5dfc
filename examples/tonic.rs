//! A gRPC service behind `JwtLoginLayer`: tonic's `grpc.health.v1.Health` (from `tonic-health`),
//! protected, and the layer's `POST /api/login` over HTTP/1.1 on the same port.
//!
//! ```sh
//! cargo run --example tonic
//! # log in over HTTP/1.1 with the printed password, then call the service with the access token:
//! TOKEN=$(curl -s http://127.0.0.1:8080/api/login -H 'Content-Type: application/json' \
//!   -d '{"username":"admin","password":"<password>"}' | jq -r .access_token)
//! grpcurl -plaintext -proto health.proto -H "authorization: Bearer $TOKEN" \
//!   127.0.0.1:8080 grpc.health.v1.Health/Check
//! ```
//!
//! (`health.proto` is gRPC's, <https://github.com/grpc/grpc/blob/master/src/proto/grpc/health/v1/health.proto>;
//! the service offers no reflection.) Without the bearer, `grpcurl` reports
//! `Code: Unauthenticated`, with the layer's reason as the message: a refusal of a gRPC request
//! is a gRPC status, not a JSON `401`.
//!
//! The layer reads the client's address from the `PeerAddr` that `peer_addr` copies from
//! tonic's `TcpConnectInfo`. tonic's server brings its own limits (`Server::builder`'s timeouts
//! and concurrency limits); `common/serve.rs`'s are for the HTTP/1.1 examples.

// Shared with the other server examples; the tonic server does not use their serve loop.
#[allow(dead_code)]
#[path = "common/mod.rs"]
mod common;

use std::future::Future;

use http::Request;
use tokio::net::TcpListener;
use tonic::transport::Server;
use tonic::transport::server::{TcpConnectInfo, TcpIncoming};
use tower_jwt_login::{JwtLoginLayer, PeerAddr};

/// The path every method of `grpc.health.v1.Health` lies below: the protected prefix. (A
/// prefix is configured without its trailing `/`; it still covers `/grpc.health.v1.Health/Check`
/// and nothing like `/grpc.health.v1.HealthX/...`.)
pub const HEALTH_PREFIX: &str = "/grpc.health.v1.Health";

/// Serves the health service behind `layer` on `listener` until `shutdown` completes.
///
/// # Errors
///
/// tonic's, if the server fails.
pub async fn serve(
    listener: TcpListener,
    layer: JwtLoginLayer,
    shutdown: impl Future<Output = ()>,
) -> Result<(), tonic::transport::Error> {
    // The overall status ("") is SERVING from the start; the reporter would change it.
    let (_reporter, health) = tonic_health::server::health_reporter();
    Server::builder()
        // gRPC is HTTP/2; curl's login is HTTP/1.1. Both on one port.
        .accept_http1(true)
        // The first layer is the outermost: the peer address is there before the layer reads it.
        .layer(tower::util::MapRequestLayer::new(peer_addr))
        .layer(layer)
        .add_service(health)
        .serve_with_incoming_shutdown(TcpIncoming::from(listener), shutdown)
        .await
}

/// Copies the connection's peer address, which tonic puts into the extensions, to where the
/// layer reads it (the login throttle, the loopback bypass).
fn peer_addr<B>(mut request: Request<B>) -> Request<B> {
    let peer = request
        .extensions()
        .get::<TcpConnectInfo>()
        .and_then(TcpConnectInfo::remote_addr);
    if let Some(peer) = peer {
        request.extensions_mut().insert(PeerAddr(peer));
    }
    request
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    common::init_tracing();
    let (layer, address, _limits) =
        common::from_env_with(|builder| builder.protected_prefixes([HEALTH_PREFIX]))?;
    println!(
        "then: grpcurl -plaintext -proto health.proto -H 'authorization: Bearer <access_token>' \
         {address} grpc.health.v1.Health/Check"
    );
    let listener = TcpListener::bind(address).await?;
    serve(listener, layer, async {
        let _ = tokio::signal::ctrl_c().await;
        println!("shutting down");
    })
    .await?;
    Ok(())
}
