//! Instructions per operation, counted by callgrind: the figures of `validate`, `issue` and
//! `layer` in a unit that another process on a shared machine cannot change.
//!
//! On a shared 2-vCPU virtual machine the same criterion executable, run three times in a row,
//! measured one benchmark 42 % and another 28 % apart: more than the margins of the goals.
//! Callgrind counts the instructions each operation executes, the same on every run of the same
//! binary whatever else the machine is doing. It does not see what an instruction costs (a
//! cache miss, a slow `memcpy`), so these counts complement the times; they do not replace
//! them. Nor does it emulate SHA-NI, so under it the HMAC runs `sha2`'s software path: the
//! counts of the cryptography itself are not those of a native run, and only the work around
//! it is compared. See BENCHMARKS.md.
//!
//! `scripts/bench_instructions.sh` runs this under callgrind and prints each operation's
//! instructions per call and what the layer adds to the bare service and to a validation.
//! Every operation runs in a run of the binary of its own (`--operation NAME --count N`;
//! `--list` names them), called `N` times through one function that is never inlined, whose
//! inclusive count callgrind reports. Building the inputs and dropping the outputs happens
//! outside it, as in criterion's batched setup. Without `--count` (as `cargo test --benches`
//! runs it), every operation runs once and is checked to do what it stands for.

mod support;

use std::hint::black_box;

use http::{Request, Response};
use jsonwebtoken::DecodingKey;
use support::*;
use tower::{Layer as _, Service};

/// The counted call: one per operation and input type, never inlined, so that callgrind reports
/// its inclusive count under its own name.
#[inline(never)]
fn measured<I, O>(operation: &mut impl FnMut(I) -> O, input: I) -> O {
    operation(input)
}

/// Runs `operation` on `n` inputs made by `input`, all made before the first call, and drops
/// the outputs after the last: only the calls are counted, as in criterion's batched setup.
fn repeat<I, O>(n: usize, input: impl FnMut() -> I, mut operation: impl FnMut(I) -> O) -> Vec<O> {
    let inputs: Vec<I> = std::iter::repeat_with(input).take(n).collect();
    inputs
        .into_iter()
        .map(|i| black_box(measured(&mut operation, i)))
        .collect()
}

/// [`repeat`] for one request per call through `service`, each answered with `expected`.
fn requests<S, B>(n: usize, request: impl FnMut() -> Request<Body>, service: &mut S, expected: u16)
where
    S: Service<Request<Body>, Response = Response<B>>,
    S::Error: std::fmt::Debug,
{
    let responses = repeat(n, request, |r| call(service, r));
    assert!(responses.iter().all(|r| r.status() == expected));
}

/// The operations, by the names `scripts/bench_instructions.sh` asks for.
const OPERATIONS: [&str; 12] = [
    "hmac_floor",
    "verify_access_token",
    "cache_hit",
    "jsonwebtoken_decode",
    "issue_pair",
    "bare_inner",
    "bare_inner_with_bearer",
    "bare_inner_with_bearer_and_claims",
    "pass_through",
    "protected_valid_token",
    "protected_valid_token_cached",
    "protected_missing_token_401",
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list") {
        println!("{}", OPERATIONS.join("\n"));
        return;
    }
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .map(|i| args.get(i + 1).expect("a value after the flag").clone())
    };
    let n: usize = arg("--count").map_or(1, |n| n.parse().expect("--count N"));
    let only = arg("--operation");
    if let Some(only) = &only {
        assert!(
            OPERATIONS.contains(&only.as_str()),
            "unknown operation {only}"
        );
    }

    let layer = layer();
    let (access, _) = login(&layer);
    let (input, tag) = signing_input_and_tag(&access);
    let keyed = keyed_hmac();
    let key = DecodingKey::from_secret(SECRET.as_bytes());
    let validation = jsonwebtoken_validation();
    let cached = cached_layer();
    let (cached_access, _) = login(&cached);
    let claims = layer.verify_access_token(&access).expect("a valid token");
    assert!(cached.verify_access_token(&cached_access).is_ok());
    let mut bare = bare_service();
    let mut service = layer.layer(bare_service());
    let mut cached_service = cached.layer(bare_service());
    let public = || get("/ping", None);
    let protected = || get("/api/v3/ping", Some(&access));

    for name in OPERATIONS {
        if only.as_deref().is_some_and(|only| only != name) {
            continue;
        }
        match name {
            "hmac_floor" => {
                let out = repeat(n, || (), |()| hmac_floor(&keyed, &input, &tag));
                assert!(out.iter().all(|&ok| ok));
            }
            "verify_access_token" => {
                let out = repeat(n, || (), |()| layer.verify_access_token(&access));
                assert!(out.iter().all(|v| v.as_ref() == Ok(&claims)));
            }
            "cache_hit" => {
                let out = repeat(n, || (), |()| cached.verify_access_token(&cached_access));
                assert!(out.iter().all(Result::is_ok));
            }
            "jsonwebtoken_decode" => {
                let out = repeat(
                    n,
                    || (),
                    |()| jsonwebtoken::decode::<JwtClaims>(&access, &key, &validation).is_ok(),
                );
                assert!(out.iter().all(|&ok| ok));
            }
            "issue_pair" => {
                let out = repeat(
                    n,
                    || (),
                    |()| tower_jwt_login::__bench::issue_pair(&layer, USER),
                );
                assert!(
                    out.iter()
                        .all(|(a, _)| layer.verify_access_token(a).is_ok())
                );
            }
            "bare_inner" => requests(n, public, &mut bare, 200),
            "bare_inner_with_bearer" => requests(n, protected, &mut bare, 200),
            "bare_inner_with_bearer_and_claims" => {
                let out = repeat(
                    n,
                    || (protected(), claims.clone()),
                    |(mut r, c)| {
                        r.extensions_mut().insert(c);
                        call(&mut bare, r)
                    },
                );
                assert!(out.iter().all(|r| r.status() == 200));
            }
            "pass_through" => requests(n, public, &mut service, 200),
            "protected_valid_token" => requests(n, protected, &mut service, 200),
            "protected_valid_token_cached" => requests(
                n,
                || get("/api/v3/ping", Some(&cached_access)),
                &mut cached_service,
                200,
            ),
            "protected_missing_token_401" => {
                requests(n, || get("/api/v3/ping", None), &mut service, 401);
            }
            _ => unreachable!("every operation has an arm"),
        }
    }
}
