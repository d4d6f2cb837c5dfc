//! One request through the layer as a `tower::Service`, without a network: against the bare
//! inner service, next to one validation on its own, and with a scope check next to one
//! without. BENCHMARKS.md gives the figures; `scripts/load.sh` what users see over HTTP.

mod support;

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use support::*;
use tower::Layer as _;

fn layer_bench(c: &mut Criterion) {
    let layer = layer();
    let (access, _) = login(&layer);
    let mut bare = bare_service();
    let mut service = layer.layer(bare_service());
    assert_eq!(call(&mut service, get("/ping", None)).status(), 200);
    assert_eq!(
        call(&mut service, get("/api/v3/ping", Some(&access))).status(),
        200
    );
    assert_eq!(call(&mut service, get("/api/v3/ping", None)).status(), 401);

    let mut group = c.benchmark_group("layer");
    // Building the request is setup, outside the measurement, for every case alike.
    group.bench_function("bare_inner", |b| {
        b.iter_batched(
            || get("/ping", None),
            |request| call(&mut bare, request),
            BatchSize::SmallInput,
        );
    });
    // The same request as `protected_valid_token`, so that dropping its header costs alike.
    group.bench_function("bare_inner_with_bearer", |b| {
        b.iter_batched(
            || get("/api/v3/ping", Some(&access)),
            |request| call(&mut bare, request),
            BatchSize::SmallInput,
        );
    });
    // The same, and the claims inserted into the request's extensions as the layer does: what
    // handing claims to the inner service costs with `http::Extensions` (three allocations and
    // their frees), apart from the layer's own work.
    let claims = layer.verify_access_token(&access).expect("a valid token");
    group.bench_function("bare_inner_with_bearer_and_claims", |b| {
        b.iter_batched(
            || (get("/api/v3/ping", Some(&access)), claims.clone()),
            |(mut request, claims)| {
                request.extensions_mut().insert(claims);
                call(&mut bare, request)
            },
            BatchSize::SmallInput,
        );
    });
    group.bench_function("pass_through", |b| {
        b.iter_batched(
            || get("/ping", None),
            |request| call(&mut service, request),
            BatchSize::SmallInput,
        );
    });
    group.bench_function("protected_valid_token", |b| {
        b.iter_batched(
            || get("/api/v3/ping", Some(&access)),
            |request| call(&mut service, request),
            BatchSize::SmallInput,
        );
    });
    // The same with the validated-token cache on (the default): every request after the first
    // is a hit.
    let cached = cached_layer();
    let (cached_access, _) = login(&cached);
    let mut cached_service = cached.layer(bare_service());
    group.bench_function("protected_valid_token_cached", |b| {
        b.iter_batched(
            || get("/api/v3/ping", Some(&cached_access)),
            |request| call(&mut cached_service, request),
            BatchSize::SmallInput,
        );
    });
    // The cached case again, under a prefix that requires two scopes the token has: what a
    // scope check adds to a protected request.
    let scoped = builder()
        .user_scopes(USER, ["streams:read", "streams:write"])
        .require_scopes("/api/v3", ["streams:read", "streams:write"])
        .build()
        .expect("a valid configuration");
    let (scoped_access, _) = login(&scoped);
    let mut scoped_service = scoped.layer(bare_service());
    assert_eq!(
        call(
            &mut scoped_service,
            get("/api/v3/ping", Some(&scoped_access))
        )
        .status(),
        200
    );
    group.bench_function("protected_valid_token_cached_scope_check", |b| {
        b.iter_batched(
            || get("/api/v3/ping", Some(&scoped_access)),
            |request| call(&mut scoped_service, request),
            BatchSize::SmallInput,
        );
    });
    group.bench_function("protected_missing_token_401", |b| {
        b.iter_batched(
            || get("/api/v3/ping", None),
            |request| call(&mut service, request),
            BatchSize::SmallInput,
        );
    });
    group.bench_function("verify_access_token", |b| {
        b.iter(|| layer.verify_access_token(black_box(&access)));
    });
    // The same validation of a token copied in the batched setup, as the requests above are
    // built there: its bytes come from memory in the state a request's header leaves them in,
    // not from the L1 cache of a token verified over and over. Handed back, so that freeing it
    // is not measured.
    group.bench_function("verify_access_token_fresh_copy", |b| {
        b.iter_batched(
            || access.clone(),
            |token| (layer.verify_access_token(&token), token),
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = criterion();
    targets = layer_bench
}
criterion_main!(benches);
