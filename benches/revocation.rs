//! What the access-token revocation check costs a protected request: the same request through
//! the layer with no revocation, with 10 000 revoked tokens (the presented one not among them),
//! and with the presented token revoked.
//!
//! `cargo bench --all-features --bench revocation`

mod support;

use criterion::{Criterion, criterion_group, criterion_main};
use http::StatusCode;
use support::*;
use tower::Layer as _;
use tower_jwt_login::LoginThrottle;

fn bench(c: &mut Criterion) {
    // 10 002 logins from one client: throttling would get in the way. The 10 000 revocations
    // are held one by one (the per-user bound, past which they would become one watermark, is
    // raised): the set's worst case.
    let layer = builder()
        .login_throttle(LoginThrottle::disabled())
        .max_revocations_per_user(20_000)
        .build()
        .expect("a valid configuration");
    let mut service = layer.layer(bare_service());
    let (kept, _) = login(&layer);
    let (revoked, _) = login(&layer);
    let others: Vec<String> = (0..10_000).map(|_| login(&layer).0).collect();
    let mut call = |token: &str, method: &str, path: &str, expected: StatusCode| {
        let response = support::call(&mut service, request(method, path, Some(token)));
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

criterion_group! {
    name = benches;
    config = criterion();
    targets = bench
}
criterion_main!(benches);
