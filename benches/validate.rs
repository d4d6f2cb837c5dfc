//! Token validation: one genuine access token verified end to end, next to the HMAC floor and
//! `jsonwebtoken::decode`, and the rejection paths.
//!
//! Goals (ratios within one run): `verify_access_token` ≤ 2.5× `hmac_floor` and ≤ 0.3×
//! `jsonwebtoken_decode`. See BENCHMARKS.md.

mod support;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::DecodingKey;
use support::*;
use tower_jwt_login::Rejection;

fn validate(c: &mut Criterion) {
    let layer = layer();
    let (access, refresh) = login(&layer);
    let (input, tag) = signing_input_and_tag(&access);
    let keyed = keyed_hmac();
    assert!(hmac_floor(&keyed, &input, &tag));

    let key = DecodingKey::from_secret(SECRET.as_bytes());
    let validation = jsonwebtoken_validation();
    let decoded = jsonwebtoken::decode::<JwtClaims>(&access, &key, &validation)
        .expect("jsonwebtoken accepts our token");
    assert_eq!(decoded.claims.usefor, "access");

    let bad_signature = with_bad_signature(&access);
    let now = now();
    let expired = forge("access", now - 700, now - 100);
    let garbage = garbage_mib();
    for (token, rejection) in [
        (&bad_signature, Rejection::BadSignature),
        (&expired, Rejection::Expired),
        (&refresh, Rejection::WrongTokenUse),
        (&garbage, Rejection::TokenTooLong),
    ] {
        assert_eq!(layer.verify_access_token(token), Err(rejection));
    }

    let mut group = c.benchmark_group("validate");
    group.bench_function("hmac_floor", |b| {
        b.iter(|| hmac_floor(&keyed, black_box(&input), black_box(&tag)));
    });
    group.bench_function("verify_access_token", |b| {
        b.iter(|| layer.verify_access_token(black_box(&access)));
    });
    group.bench_function("jsonwebtoken_decode", |b| {
        b.iter(|| jsonwebtoken::decode::<JwtClaims>(black_box(&access), &key, &validation));
    });
    group.bench_function("reject_bad_signature", |b| {
        b.iter(|| layer.verify_access_token(black_box(&bad_signature)));
    });
    group.bench_function("reject_expired", |b| {
        b.iter(|| layer.verify_access_token(black_box(&expired)));
    });
    group.bench_function("reject_refresh_as_access", |b| {
        b.iter(|| layer.verify_access_token(black_box(&refresh)));
    });
    group.bench_function("reject_1mib_garbage", |b| {
        b.iter(|| layer.verify_access_token(black_box(&garbage)));
    });
    group.finish();

    // The validated-token cache (on by default): a hit, next to a verification in full and the
    // floor in the same group.
    let cached = cached_layer();
    let (cached_access, _) = login(&cached);
    assert!(cached.verify_access_token(&cached_access).is_ok());
    let mut group = c.benchmark_group("cache");
    group.bench_function("hmac_floor", |b| {
        b.iter(|| hmac_floor(&keyed, black_box(&input), black_box(&tag)));
    });
    group.bench_function("verify_access_token", |b| {
        b.iter(|| layer.verify_access_token(black_box(&access)));
    });
    group.bench_function("hit", |b| {
        b.iter(|| cached.verify_access_token(black_box(&cached_access)));
    });
    // The worst case: two tokens taking turns in a cache of one slot, so that every
    // validation misses, verifies in full and stores its token in place of the other.
    let one_slot = builder()
        .validated_token_cache(1)
        .build()
        .expect("a valid configuration");
    let tokens = [login(&one_slot).0, login(&one_slot).0];
    let mut turn = 0;
    group.bench_function("miss", |b| {
        b.iter(|| {
            turn ^= 1;
            one_slot.verify_access_token(black_box(&tokens[turn]))
        });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = criterion();
    targets = validate
}
criterion_main!(benches);
