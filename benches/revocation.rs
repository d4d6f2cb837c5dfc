//! What the access-token revocation check costs a protected request: the same request through
//! the layer with no revocation, with 10 000 revoked tokens (the presented one not among them),
//! and with the presented token revoked.
//!
//! `cargo bench --all-features --bench revocation`

use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use tower::{Layer as _, Service as _, service_fn};
use tower_jwt_login::{JwtLoginLayer, LoginThrottle, Password};

/// Drives a future that never waits (the in-memory store and an immediate inner service).
fn now<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
}

fn request(method: &str, path: &str, token: &str) -> Request<Full<Bytes>> {
    Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .body(Full::default())
        .unwrap()
}

fn bench(c: &mut Criterion) {
    let layer = JwtLoginLayer::builder()
        .user("admin", Password::plain("pw"))
        .secret("a benchmark secret of at least 32 bytes")
        .login_throttle(LoginThrottle::disabled())
        .build()
        .unwrap();
    let mut service = layer.layer(service_fn(|_: Request<Full<Bytes>>| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
    }));
    let kept = access_token_of(&mut service);
    let revoked = access_token_of(&mut service);
    let others: Vec<String> = (0..10_000).map(|_| access_token_of(&mut service)).collect();
    let mut call = |token: &str, method: &str, path: &str, expected: StatusCode| {
        let response = now(service.call(request(method, path, token))).unwrap();
        assert_eq!(response.status(), expected);
    };

    let mut group = c.benchmark_group("protected request");
    group.bench_function("no revocation", |b| {
        b.iter(|| call(&kept, "GET", "/api/v3/ping", StatusCode::OK));
    });
    // Revoke 10 000 other tokens, then the one that will be refused.
    for other in &others {
        call(other, "POST", "/api/logout", StatusCode::NO_CONTENT);
    }
    call(&revoked, "POST", "/api/logout", StatusCode::NO_CONTENT);
    group.bench_function("10k revoked, token not revoked", |b| {
        b.iter(|| call(&kept, "GET", "/api/v3/ping", StatusCode::OK));
    });
    group.bench_function("10k revoked, token revoked", |b| {
        b.iter(|| call(&revoked, "GET", "/api/v3/ping", StatusCode::UNAUTHORIZED));
    });
    group.finish();
}

fn access_token_of<S>(service: &mut S) -> String
where
    S: tower::Service<
            Request<Full<Bytes>>,
            Response = Response<tower_jwt_login::ResponseBody<Full<Bytes>>>,
        >,
    S::Error: std::fmt::Debug,
{
    let login = Request::post("/api/login")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(
            br#"{"username":"admin","password":"pw"}"#,
        )))
        .unwrap();
    let response = now(service.call(login)).unwrap();
    let body = now(http_body_util::BodyExt::collect(response.into_body()))
        .unwrap()
        .to_bytes();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    json["access_token"].as_str().unwrap().to_owned()
}

criterion_group!(benches, bench);
criterion_main!(benches);
