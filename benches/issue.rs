//! Issuing tokens: an access and refresh pair, as a login does once the password is checked,
//! next to the HMAC floor; and a whole login request through the layer.
//!
//! Goal (ratio within one run): `issue_pair` ≤ 5× `hmac_floor`. See BENCHMARKS.md.

mod support;

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use support::*;
use tower::Layer as _;

fn issue(c: &mut Criterion) {
    let layer = layer();
    let (access, _) = login(&layer);
    let (input, tag) = signing_input_and_tag(&access);
    let keyed = keyed_hmac();
    let (new_access, new_refresh) = tower_jwt_login::__bench::issue_pair(&layer, USER);
    assert!(layer.verify_access_token(&new_access).is_ok());
    assert!(layer.verify_access_token(&new_refresh).is_err());

    let mut group = c.benchmark_group("issue");
    group.bench_function("hmac_floor", |b| {
        b.iter(|| hmac_floor(&keyed, black_box(&input), black_box(&tag)));
    });
    group.bench_function("issue_pair", |b| {
        b.iter(|| tower_jwt_login::__bench::issue_pair(&layer, black_box(USER)));
    });
    // The whole route: body, JSON, the plain-text password check, the pair, the JSON answer.
    let mut service = layer.layer(bare_service());
    group.bench_function("login_request", |b| {
        b.iter_batched(
            login_request,
            |request| call(&mut service, request),
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = criterion();
    targets = issue
}
criterion_main!(benches);
