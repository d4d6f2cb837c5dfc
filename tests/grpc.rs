//! gRPC through the layer: the tonic example's server (`examples/tonic.rs`, tonic's health
//! service with its path protected) on 127.0.0.1, a login over HTTP/1.1, and a real tonic
//! client. A refused gRPC request must read as a gRPC status; a plain HTTP one keeps its JSON.

mod support;

#[allow(dead_code)]
#[path = "../examples/tonic.rs"]
mod example;

use std::net::SocketAddr;

use http::{Request, Response};
use http_body_util::BodyExt as _;
use support::*;
use tokio::net::TcpListener;
use tonic::Code;
use tonic::body::Body;
use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};
use tower::ServiceExt as _;
use tower_jwt_login::Rejection;

const CHECK: &str = "/grpc.health.v1.Health/Check";

/// The example's server, stopped when dropped.
struct Server {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn start() -> Server {
    let layer = builder()
        .protected_prefixes([example::HEALTH_PREFIX])
        .build()
        .unwrap();
    start_with(layer).await
}

async fn start_with(layer: tower_jwt_login::JwtLoginLayer) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(example::serve(listener, layer, std::future::pending()));
    Server { addr, task }
}

async fn channel(addr: SocketAddr) -> Channel {
    Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// `Check` for the overall status, with `authorization: Bearer <token>` when a token is given.
async fn check(
    channel: &Channel,
    token: Option<&str>,
) -> Result<tonic::Response<HealthCheckResponse>, tonic::Status> {
    let mut request = tonic::Request::new(HealthCheckRequest {
        service: String::new(),
    });
    if let Some(token) = token {
        let bearer: MetadataValue<_> = format!("Bearer {token}").parse().unwrap();
        request.metadata_mut().insert("authorization", bearer);
    }
    HealthClient::new(channel.clone()).check(request).await
}

fn assert_unauthenticated(result: Result<tonic::Response<HealthCheckResponse>, tonic::Status>) {
    let status = result.expect_err("refused");
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert!(!status.message().is_empty(), "{status:?}");
}

#[tokio::test]
async fn a_tonic_client_is_served_with_an_access_token_and_refused_in_grpc_without() {
    let server = start().await;
    let (access, refresh) = login(server.addr).await;
    let channel = channel(server.addr).await;

    let missing = check(&channel, None).await.expect_err("no bearer");
    assert_eq!(missing.code(), Code::Unauthenticated, "{missing:?}");
    // The layer's own sentence: tonic would make up a message from a bare HTTP 401.
    assert_eq!(missing.message(), Rejection::MissingToken.detail());

    let served = check(&channel, Some(&access)).await.expect("served");
    assert_eq!(served.get_ref().status(), ServingStatus::Serving);

    assert_unauthenticated(check(&channel, Some(&refresh)).await);
    assert_unauthenticated(check(&channel, Some("not.a.token")).await);
    assert_unauthenticated(check(&channel, Some("garbage")).await);
}

/// A scope the gRPC method requires: a token without it reads as `PermissionDenied`, with it
/// the call is served; no token at all stays `Unauthenticated`.
#[tokio::test]
async fn a_tonic_client_without_the_required_scope_is_permission_denied() {
    let layer = builder()
        .user(
            "viewer",
            tower_jwt_login::Password::plain("a viewer's long password"),
        )
        .user_scopes(USER, ["health:check"])
        .protected_prefixes([example::HEALTH_PREFIX])
        .require_scopes(CHECK, ["health:check"])
        .build()
        .unwrap();
    let server = start_with(layer).await;
    let (admin, _) = login(server.addr).await;
    let viewer = login_with(server.addr, "viewer", "a viewer's long password").await;
    let viewer = viewer.json()["access_token"].as_str().unwrap().to_owned();
    let channel = channel(server.addr).await;

    let served = check(&channel, Some(&admin)).await.expect("served");
    assert_eq!(served.get_ref().status(), ServingStatus::Serving);
    let denied = check(&channel, Some(&viewer)).await.expect_err("no scope");
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    assert_eq!(denied.message(), Rejection::InsufficientScope.detail());
    assert_unauthenticated(check(&channel, None).await);
}

/// One raw HTTP/2 request (through tonic's channel, which speaks nothing else), its body read
/// whole.
async fn send_h2(channel: &Channel, request: Request<Body>) -> (Response<()>, bytes::Bytes) {
    let response = channel.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    (Response::from_parts(parts, ()), body)
}

fn post(addr: SocketAddr, path: &str, content_type: Option<&str>) -> Request<Body> {
    let mut request = Request::post(format!("http://{addr}{path}"));
    if let Some(content_type) = content_type {
        request = request
            .header("content-type", content_type)
            .header("te", "trailers");
    }
    request.body(Body::empty()).unwrap()
}

#[tokio::test]
async fn a_refused_grpc_request_is_trailers_only_and_a_plain_one_keeps_its_json() {
    let server = start().await;
    let channel = channel(server.addr).await;

    let grpc = post(server.addr, CHECK, Some("application/grpc+proto"));
    let (response, body) = send_h2(&channel, grpc).await;
    assert_eq!(response.status(), 200);
    let headers = response.headers();
    assert_eq!(headers["content-type"], "application/grpc");
    assert_eq!(headers["grpc-status"], "16");
    assert_eq!(headers["grpc-message"], Rejection::MissingToken.detail());
    assert!(
        headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer realm=")
    );
    assert!(body.is_empty(), "{body:?}");

    let plain = post(server.addr, CHECK, None);
    let (response, body) = send_h2(&channel, plain).await;
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert!(!response.headers().contains_key("grpc-status"));
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["code"], 401);
    assert_eq!(json["details"][0], Rejection::MissingToken.detail());

    // Over HTTP/1.1, as curl sends it: the same JSON 401.
    get(server.addr, CHECK, None).await.assert_unauthorized();
}

#[tokio::test]
async fn a_refusal_on_the_layers_own_routes_is_grpc_too() {
    let server = start().await;
    let channel = channel(server.addr).await;

    // A login is JSON: a gRPC body is the wrong media type, INVALID_ARGUMENT.
    let login = post(server.addr, "/api/login", Some("application/grpc"));
    let (response, body) = send_h2(&channel, login).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["grpc-status"], "3");
    assert_eq!(
        response.headers()["grpc-message"],
        Rejection::UnsupportedMediaType.detail()
    );
    assert!(body.is_empty());

    // The refresh route takes GET only: UNIMPLEMENTED.
    let refresh = post(server.addr, "/api/login/refresh", Some("application/grpc"));
    let (response, _) = send_h2(&channel, refresh).await;
    assert_eq!(response.headers()["grpc-status"], "12");
}
