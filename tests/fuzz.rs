//! Fuzzing the token verifier and the login-body parser through the layer.
//!
//! cargo-fuzz needs a nightly toolchain, so these are proptest properties instead, driven for a
//! bounded time rather than a fixed number of cases: each property runs for `FUZZ_SECONDS`
//! seconds (default 5). CI runs them for a minute each:
//!
//! ```text
//! FUZZ_SECONDS=60 cargo test --release --all-features --test fuzz
//! ```
//!
//! A failure prints the shrunk input; `PROPTEST_RNG_SEED=<n>` replays a run.
//!
//! Every property asserts that nothing panics, that every answer is a 4xx JSON error unless the
//! input is accepted, and that nothing is accepted that was not signed by our key with our
//! claims. Where the input is structured (headers, claims, login bodies), an independent oracle
//! written from the rules in `SECURITY.md` says exactly which inputs must be accepted, so the
//! property also catches a verifier that refuses too much.

mod support;

use std::collections::HashSet;
use std::convert::Infallible;
use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::json;
use support::*;
use tower::{Layer as _, ServiceExt as _};
use tower_jwt_login::{Claims, Rejection};

// ---- Harness -------------------------------------------------------------------------------

/// How long each property runs.
fn budget() -> Duration {
    let seconds = std::env::var("FUZZ_SECONDS")
        .ok()
        .map(|s| {
            s.parse::<f64>()
                .expect("FUZZ_SECONDS is a number of seconds")
        })
        .unwrap_or(5.0);
    Duration::from_secs_f64(seconds)
}

/// Whether a case's input was (rightly) accepted or refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Accepted,
    Refused,
}

/// Which verdicts a property must have seen by the end of its run, so that both branches of its
/// oracle are exercised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expects {
    RefusalsOnly,
    Both,
}

/// Runs `test` on inputs from `strategy` until the budget is spent; panics with the shrunk
/// input on the first failure.
fn fuzz<S>(
    name: &str,
    expects: Expects,
    strategy: S,
    test: impl Fn(S::Value) -> Result<Verdict, TestCaseError>,
) where
    S: Strategy,
    S::Value: Debug,
{
    const BATCH: u32 = 64;
    let deadline = Instant::now() + budget();
    let config = Config {
        cases: BATCH,
        failure_persistence: None,
        ..Config::default()
    };
    // A runner counts its cases once; each batch gets a fresh one, seeded from the first so
    // that `PROPTEST_RNG_SEED` replays the whole run.
    let mut seeds = TestRunner::new(config.clone());
    let accepted = AtomicU64::new(0);
    let refused = AtomicU64::new(0);
    let counted = |input| {
        let verdict = test(input)?;
        let counter = match verdict {
            Verdict::Accepted => &accepted,
            Verdict::Refused => &refused,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        Ok(())
    };
    loop {
        let mut runner = TestRunner::new_with_rng(config.clone(), seeds.new_rng());
        if let Err(failure) = runner.run(&strategy, counted) {
            panic!("{name}: {failure}");
        }
        if Instant::now() >= deadline {
            break;
        }
    }
    let (accepted, refused) = (accepted.into_inner(), refused.into_inner());
    eprintln!(
        "{name}: {} cases in {:?}: {accepted} accepted, {refused} refused",
        accepted + refused,
        budget()
    );
    assert!(refused > 0, "{name}: no case was refused");
    match expects {
        Expects::RefusalsOnly => assert_eq!(accepted, 0, "{name}"),
        Expects::Both => assert!(accepted > 0, "{name}: no case was accepted"),
    }
}

/// What the layer answered.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    /// The subject of the claims the inner service received, if the request reached it.
    inner_sub: Option<String>,
    rejection: Option<Rejection>,
    challenge: bool,
    body: Bytes,
}

/// The layer around an inner service that reports the claims it receives, driven without a
/// network (`oneshot` on a current-thread runtime).
struct Harness {
    runtime: tokio::runtime::Runtime,
    layer: tower_jwt_login::JwtLoginLayer,
}

impl Harness {
    fn new() -> Self {
        Self {
            runtime: tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap(),
            // The properties judge each answer on its own input; throttling would answer 429 to
            // the millions of failed logins a run makes. It has its own tests (tests/store.rs).
            layer: builder()
                .login_throttle(tower_jwt_login::LoginThrottle::disabled())
                .build()
                .unwrap(),
        }
    }

    fn send(&self, request: Request<Full<Bytes>>) -> Answer {
        let service = self.layer.layer(tower::service_fn(
            |request: Request<Full<Bytes>>| async move {
                let sub = request
                    .extensions()
                    .get::<Claims>()
                    .map(|c| c.sub().to_owned());
                let mut response = Response::new(Full::<Bytes>::default());
                if let Some(sub) = sub {
                    response
                        .headers_mut()
                        .insert("x-inner-sub", HeaderValue::try_from(sub).unwrap());
                }
                Ok::<_, Infallible>(response)
            },
        ));
        self.runtime.block_on(async {
            let response = service.oneshot(request).await.unwrap();
            let status = response.status();
            let inner_sub = response
                .headers()
                .get("x-inner-sub")
                .map(|v| v.to_str().unwrap().to_owned());
            let rejection = response.extensions().get::<Rejection>().copied();
            let challenge = response.headers().contains_key("www-authenticate");
            let body = response.into_body().collect().await.unwrap().to_bytes();
            Answer {
                status,
                inner_sub,
                rejection,
                challenge,
                body,
            }
        })
    }

    /// `GET path` with `authorization` as the raw header value; `None` if those bytes cannot be
    /// a header value at all (no HTTP server would deliver them).
    fn get(&self, path: &str, authorization: &[u8]) -> Option<Answer> {
        let value = HeaderValue::from_bytes(authorization).ok()?;
        let request = Request::get(path)
            .header(AUTHORIZATION, value)
            .body(Full::default())
            .unwrap();
        Some(self.send(request))
    }

    fn login(&self, body: Vec<u8>) -> Answer {
        let request = Request::post("/api/login")
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        self.send(request)
    }
}

/// The answer must be the layer's token rejection: 401, a challenge, a reason, a JSON error.
fn refused_token(answer: &Answer) -> Result<Verdict, TestCaseError> {
    prop_assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{:?}", answer);
    prop_assert!(answer.challenge, "{:?}", answer);
    prop_assert!(answer.rejection.is_some(), "{:?}", answer);
    prop_assert!(answer.inner_sub.is_none(), "{:?}", answer);
    let body: serde_json::Value = serde_json::from_slice(&answer.body)
        .map_err(|e| TestCaseError::fail(format!("error body is not JSON: {e}")))?;
    prop_assert_eq!(&body["code"], 401);
    Ok(Verdict::Refused)
}

/// The answer must be an acceptance on `path`.
fn accepted_token(answer: &Answer, path: &str) -> Result<Verdict, TestCaseError> {
    prop_assert_eq!(answer.status, StatusCode::OK, "{:?}", answer);
    if path == PROTECTED {
        prop_assert_eq!(answer.inner_sub.as_deref(), Some(USER));
    } else {
        let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
        prop_assert!(body["access_token"].is_string());
    }
    Ok(Verdict::Accepted)
}

const PROTECTED: &str = "/api/v3/ping";
const REFRESH: &str = "/api/login/refresh";

/// Claims valid for a day, so that a long fuzzing run never sees them expire.
fn day_claims(usefor: &str) -> serde_json::Value {
    let mut claims = claims(usefor);
    claims["exp"] = json!(now() + 86_400);
    claims["exi"] = json!(86_400);
    claims
}

// ---- Mutations of genuine tokens ----------------------------------------------------------

#[derive(Debug, Clone)]
enum Mutation {
    FlipBit {
        at: usize,
        bit: u8,
    },
    SetByte {
        at: usize,
        byte: u8,
    },
    Delete {
        at: usize,
        len: usize,
    },
    Insert {
        at: usize,
        bytes: Vec<u8>,
    },
    Truncate {
        at: usize,
    },
    SwapSegments {
        a: usize,
        b: usize,
    },
    /// Replace a segment with the same segment of the other genuine token (access <-> refresh).
    Splice {
        segment: usize,
    },
    DuplicateSegment {
        segment: usize,
    },
    Append {
        bytes: Vec<u8>,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let index = 0usize..1024;
    prop_oneof![
        (index.clone(), 0u8..8).prop_map(|(at, bit)| Mutation::FlipBit { at, bit }),
        (index.clone(), any::<u8>()).prop_map(|(at, byte)| Mutation::SetByte { at, byte }),
        (index.clone(), 1usize..40).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (index.clone(), prop::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        index.clone().prop_map(|at| Mutation::Truncate { at }),
        (0usize..3, 0usize..3).prop_map(|(a, b)| Mutation::SwapSegments { a, b }),
        (0usize..3).prop_map(|segment| Mutation::Splice { segment }),
        (0usize..3).prop_map(|segment| Mutation::DuplicateSegment { segment }),
        prop::collection::vec(
            prop_oneof![Just(b'='), Just(b'.'), Just(b'A'), Just(b' '), any::<u8>()],
            1..4
        )
        .prop_map(|bytes| Mutation::Append { bytes }),
    ]
}

fn apply(token: &[u8], other: &[u8], mutation: &Mutation) -> Vec<u8> {
    let mut out = token.to_vec();
    let at = |i: usize, len: usize| if len == 0 { 0 } else { i % len };
    let segments = |t: &[u8]| {
        t.split(|&b| b == b'.')
            .map(<[u8]>::to_vec)
            .collect::<Vec<_>>()
    };
    let join = |segments: Vec<Vec<u8>>| segments.join(&b'.');
    match mutation {
        Mutation::FlipBit { at: i, bit } if !out.is_empty() => {
            let i = at(*i, out.len());
            out[i] ^= 1 << bit;
        }
        Mutation::SetByte { at: i, byte } if !out.is_empty() => {
            let i = at(*i, out.len());
            out[i] = *byte;
        }
        Mutation::FlipBit { .. } | Mutation::SetByte { .. } => {}
        Mutation::Delete { at: i, len } => {
            let i = at(*i, out.len());
            let end = (i + len).min(out.len());
            out.drain(i..end);
        }
        Mutation::Insert { at: i, bytes } => {
            let i = at(*i, out.len() + 1);
            out.splice(i..i, bytes.iter().copied());
        }
        Mutation::Truncate { at: i } => out.truncate(at(*i, out.len())),
        Mutation::SwapSegments { a, b } => {
            let mut s = segments(&out);
            if *a < s.len() && *b < s.len() {
                s.swap(*a, *b);
            }
            out = join(s);
        }
        Mutation::Splice { segment } => {
            let mut s = segments(&out);
            let o = segments(other);
            if *segment < s.len() && *segment < o.len() {
                s[*segment] = o[*segment].clone();
            }
            out = join(s);
        }
        Mutation::DuplicateSegment { segment } => {
            let mut s = segments(&out);
            if *segment < s.len() {
                let copy = s[*segment].clone();
                s.insert(*segment, copy);
            }
            out = join(s);
        }
        Mutation::Append { bytes } => out.extend_from_slice(bytes),
    }
    out
}

#[test]
fn mutated_genuine_tokens_are_accepted_only_when_unchanged() {
    let harness = Harness::new();
    let access = forge_claims(&day_claims("access"));
    let refresh = forge_claims(&day_claims("refresh"));
    let strategy = (any::<bool>(), prop::collection::vec(mutation(), 1..4));
    fuzz(
        "mutations",
        Expects::Both,
        strategy,
        |(on_refresh, mutations)| {
            let (path, token, other) = if on_refresh {
                (REFRESH, &refresh, &access)
            } else {
                (PROTECTED, &access, &refresh)
            };
            let mut mutated = token.as_bytes().to_vec();
            for m in &mutations {
                mutated = apply(&mutated, other.as_bytes(), m);
            }
            let mut value = b"Bearer ".to_vec();
            value.extend_from_slice(&mutated);
            let Some(answer) = harness.get(path, &value) else {
                return Err(TestCaseError::reject("not a header value"));
            };
            // Whitespace after the token ends the field value (RFC 9110 trims it); between the
            // scheme and the token only spaces may stand (RFC 6750: `1*SP`), so a tab there is
            // refused.
            let after_spaces = mutated.trim_ascii_end();
            let after_spaces =
                &after_spaces[after_spaces.iter().take_while(|&&b| b == b' ').count()..];
            if after_spaces == token.as_bytes() {
                accepted_token(&answer, path)
            } else {
                refused_token(&answer)
            }
        },
    );
}

#[test]
fn arbitrary_authorization_values_are_refused() {
    let harness = Harness::new();
    let token_chars = prop::collection::vec(
        prop::sample::select(
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/~ ".to_vec(),
        ),
        0..600,
    )
    .prop_map(|mut t| {
        let mut v = b"Bearer ".to_vec();
        v.append(&mut t);
        v
    });
    // Any byte an HTTP/1.1 server delivers in a field value: visible ASCII, space, tab, and
    // obs-text.
    let field_byte = prop_oneof![0x20u8..0x7f, 0x80u8..=0xff, Just(b'\t')];
    let strategy = (
        prop_oneof![prop::collection::vec(field_byte, 0..600), token_chars],
        prop::sample::select(vec![PROTECTED, REFRESH, "/api"]),
    );
    fuzz(
        "authorization values",
        Expects::RefusalsOnly,
        strategy,
        |(value, path)| {
            let answer = harness.get(path, &value).expect("a valid field value");
            if path == "/api" {
                // The optional route passes everything on, never with claims.
                prop_assert_eq!(answer.status, StatusCode::OK);
                prop_assert!(answer.inner_sub.is_none());
                Ok(Verdict::Refused)
            } else {
                refused_token(&answer)
            }
        },
    );
}

// ---- Structured headers, signed with our key ------------------------------------------------

/// A JSON value written as raw text, with what a strict reader makes of it.
#[derive(Debug, Clone)]
struct Json {
    text: String,
    /// The string it denotes, if it is a JSON string.
    string: Option<String>,
    /// The integer it denotes, if it is an integer that fits an `i64`.
    integer: Option<i64>,
}

impl Json {
    fn string(value: &str, escaped: bool) -> Self {
        let text = if escaped {
            let inner: String = value
                .chars()
                .map(|c| {
                    let mut units = [0u16; 2];
                    c.encode_utf16(&mut units)
                        .iter()
                        .map(|u| format!("\\u{u:04x}"))
                        .collect::<String>()
                })
                .collect();
            format!("\"{inner}\"")
        } else {
            serde_json::to_string(value).unwrap()
        };
        Self {
            text,
            string: Some(value.to_owned()),
            integer: None,
        }
    }

    fn integer(value: i64) -> Self {
        Self {
            text: value.to_string(),
            string: None,
            integer: Some(value),
        }
    }

    fn other(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            string: None,
            integer: None,
        }
    }
}

/// A JSON value that is neither a string nor an `i64`.
fn odd_json() -> impl Strategy<Value = Json> {
    prop::sample::select(vec![
        "null",
        "true",
        "false",
        "[]",
        "{}",
        "[\"access\"]",
        "{\"access\":true}",
        "1.5",
        "1e300",
        "-1e300",
        "18446744073709551616",
        "9223372036854775808",
        "-9223372036854775809",
        "0.0",
    ])
    .prop_map(Json::other)
}

fn string_json(candidates: Vec<&'static str>) -> impl Strategy<Value = Json> {
    (prop::sample::select(candidates), any::<bool>())
        .prop_map(|(value, escaped)| Json::string(value, escaped))
}

/// A member name, plainly written or with `\u` escapes.
fn key(names: Vec<&'static str>) -> impl Strategy<Value = (String, String)> {
    (prop::sample::select(names), any::<bool>())
        .prop_map(|(name, escaped)| (name.to_owned(), Json::string(name, escaped).text))
}

fn object(members: &[((String, String), Json)], space: bool) -> String {
    let sep = if space { ", " } else { "," };
    let body: Vec<String> = members
        .iter()
        .map(|((_, key), value)| format!("{key}:{}", value.text))
        .collect();
    format!("{{{}}}", body.join(sep))
}

/// Whether the header (as decoded members) is one the rules accept.
fn header_is_acceptable(members: &[((String, String), Json)]) -> bool {
    let names: Vec<&str> = members.iter().map(|((name, _), _)| name.as_str()).collect();
    let distinct: HashSet<&str> = names.iter().copied().collect();
    let value = |name: &str| members.iter().find(|((n, _), _)| n == name).map(|(_, v)| v);
    distinct.len() == names.len()
        && names.iter().all(|n| matches!(*n, "alg" | "typ"))
        && value("alg").and_then(|v| v.string.as_deref()) == Some("HS256")
        && value("typ").is_none_or(|v| {
            v.string
                .as_ref()
                .is_some_and(|t| t.eq_ignore_ascii_case("JWT"))
        })
}

#[test]
fn headers_signed_with_our_key_are_accepted_exactly_when_the_rules_allow() {
    let harness = Harness::new();
    let member = (
        key(vec![
            "alg", "typ", "kid", "crit", "jwk", "jku", "x5u", "cty", "b64", "Alg", "ALG", "",
        ]),
        prop_oneof![
            3 => string_json(vec![
                "HS256", "hs256", "HS256 ", "none", "None", "HS384", "HS512", "RS256", "ES256",
                "JWT", "jwt", "Jwt", "at+jwt", "", "http://127.0.0.1:9/jwks",
            ]),
            1 => odd_json(),
            1 => any::<i64>().prop_map(Json::integer),
        ],
    );
    // A start that is often acceptable, then a few random members, in any order.
    let members = (
        prop::collection::vec(
            (
                key(vec!["alg", "typ"]),
                string_json(vec!["HS256", "JWT", "jwt"]),
            ),
            0..3,
        ),
        prop::collection::vec(member, 0..3),
    )
        .prop_flat_map(|(start, random)| {
            Just(start.into_iter().chain(random).collect::<Vec<_>>()).prop_shuffle()
        });
    let strategy = (
        members,
        any::<bool>(),
        prop::sample::select(vec!["", " ", "\n"]),
    );
    fuzz(
        "headers",
        Expects::Both,
        strategy,
        |(members, space, trailing)| {
            let header = format!("{}{trailing}", object(&members, space));
            let token = forge(
                &header,
                &day_claims("access").to_string(),
                SECRET.as_bytes(),
            );
            let answer = harness
                .get(PROTECTED, format!("Bearer {token}").as_bytes())
                .unwrap();
            if header_is_acceptable(&members) {
                accepted_token(&answer, PROTECTED)
            } else {
                refused_token(&answer)
            }
        },
    );
}

// ---- Structured claims, signed with our key -------------------------------------------------

#[derive(Debug, Clone)]
enum TimeOrOdd {
    /// An offset from now, written as an integer (`false`) or as a string (`true`).
    Offset(i64, bool),
    Odd(Json),
}

impl TimeOrOdd {
    fn json(&self, now: i64) -> Json {
        match self {
            Self::Offset(offset, false) => Json::integer(now + offset),
            Self::Offset(offset, true) => Json::string(&(now + offset).to_string(), false),
            Self::Odd(json) => json.clone(),
        }
    }
}

/// A time claim: an offset from now (chosen to stay clear of every boundary by more than one
/// case takes), usually as an integer, sometimes as a string, sometimes not a time at all.
fn time_claim(offsets: Vec<i64>) -> impl Strategy<Value = TimeOrOdd> {
    prop_oneof![
        6 => prop::sample::select(offsets.clone()).prop_map(|o| TimeOrOdd::Offset(o, false)),
        1 => prop::sample::select(offsets).prop_map(|o| TimeOrOdd::Offset(o, true)),
        1 => odd_json().prop_map(TimeOrOdd::Odd),
    ]
}

#[derive(Debug, Clone)]
enum StringOrOdd {
    String(Json),
    Odd(Json),
    Integer(i64),
}

impl StringOrOdd {
    fn json(&self) -> Json {
        match self {
            Self::String(j) | Self::Odd(j) => j.clone(),
            Self::Integer(i) => Json::integer(*i),
        }
    }
}

fn string_claim(candidates: Vec<&'static str>) -> impl Strategy<Value = StringOrOdd> {
    prop_oneof![
        8 => string_json(candidates).prop_map(StringOrOdd::String),
        1 => odd_json().prop_map(StringOrOdd::Odd),
        1 => any::<i64>().prop_map(StringOrOdd::Integer),
    ]
}

#[derive(Debug, Clone)]
enum ClaimValue {
    Time(TimeOrOdd),
    Text(StringOrOdd),
}

impl ClaimValue {
    fn json(&self, now: i64) -> Json {
        match self {
            Self::Time(t) => t.json(now),
            Self::Text(s) => s.json(),
        }
    }
}

type Member = ((String, String), ClaimValue);

/// A member named `name` (`""` for any), with a value of the right kind that may or may not be
/// acceptable, written plainly or with escapes.
fn claim_member(name: &str) -> BoxedStrategy<Member> {
    let realm = "datarhei-core";
    let text = |names, candidates| {
        (
            key(names),
            string_claim(candidates).prop_map(ClaimValue::Text),
        )
            .boxed()
    };
    let time =
        |names, offsets| (key(names), time_claim(offsets).prop_map(ClaimValue::Time)).boxed();
    let iss = text(
        vec!["iss"],
        vec![realm, "Datarhei-Core", "datarhei-core ", "other", ""],
    );
    let sub = text(
        vec!["sub"],
        vec![
            USER,
            "Admin",
            "admin ",
            "ghost",
            "",
            "ａｄｍｉｎ",
            "admin\u{1F600}",
            "admin\0",
        ],
    );
    let usefor = text(
        vec!["usefor"],
        vec!["access", "refresh", "Access", "access ", ""],
    );
    let jti = text(
        vec!["jti"],
        vec!["j", "", "0b5e3a5c-8e1f-4b4e-9d3a-2f0f7a0c1d2e"],
    );
    let other = text(
        vec!["aud", "x", "y", "extra", "Sub", "EXP"],
        vec!["datarhei-core", "x"],
    );
    let exp = time(vec!["exp"], vec![-100_000, -100, 5, 600, 1_000_000_000]);
    let iat = time(vec!["iat"], vec![-600, -5, 30, 120, 3600]);
    let nbf = time(vec!["nbf"], vec![-100, -5, 5, 100]);
    let exi = time(vec!["exi"], vec![600, -5]);
    match name {
        "iss" => iss,
        "sub" => sub,
        "usefor" => usefor,
        "jti" => jti,
        "exp" => exp,
        "iat" => iat,
        "exi" => exi,
        _ => prop_oneof![iss, sub, usefor, jti, other, exp, iat, nbf, exi].boxed(),
    }
}

/// A payload: each required claim usually present and well-formed, sometimes missing or
/// changed, plus random members and unknown claims, in any order.
fn payload() -> impl Strategy<Value = Vec<Member>> {
    let required = |name: &'static str, good: ClaimValue| {
        prop_oneof![
            6 => Just(Some(((name.to_owned(), format!("\"{name}\"")), good))),
            1 => Just(None),
            2 => claim_member(name).prop_map(Some),
        ]
    };
    let text = |value: &str| ClaimValue::Text(StringOrOdd::String(Json::string(value, false)));
    let time = |offset| ClaimValue::Time(TimeOrOdd::Offset(offset, false));
    (
        (
            required("iss", text("datarhei-core")),
            required("sub", text(USER)),
            required("usefor", text("access")),
            required("jti", text("j")),
        ),
        (
            required("iat", time(-5)),
            required("exp", time(600)),
            required("exi", time(600)),
        ),
        prop::collection::vec(claim_member(""), 0..3),
        prop::collection::vec(
            (0u8..20).prop_map(|i| {
                let name = format!("u{i}");
                (
                    (name.clone(), format!("\"{name}\"")),
                    ClaimValue::Text(StringOrOdd::Integer(1)),
                )
            }),
            0..20,
        ),
    )
        .prop_flat_map(|((a, b, c, d), (e, f, g), random, unknown)| {
            let members: Vec<_> = [a, b, c, d, e, f, g]
                .into_iter()
                .flatten()
                .chain(random)
                .chain(unknown)
                .collect();
            Just(members).prop_shuffle()
        })
}

/// Whether the payload (at time `now`) holds exactly the claims the rules accept for an access
/// token of the test user.
fn claims_are_acceptable(members: &[(String, Json)], now: i64) -> bool {
    let names: Vec<&str> = members.iter().map(|(n, _)| n.as_str()).collect();
    let distinct: HashSet<&str> = names.iter().copied().collect();
    let known = ["iss", "sub", "usefor", "iat", "exp", "exi", "jti", "nbf"];
    let unknown = distinct.iter().filter(|n| !known.contains(n)).count();
    let get = |name: &str| members.iter().find(|(n, _)| n == name).map(|(_, v)| v);
    let string = |name| get(name).and_then(|v| v.string.as_deref());
    let integer = |name| get(name).and_then(|v| v.integer);
    let strings_ok = ["iss", "sub", "usefor", "jti"]
        .iter()
        .all(|n| string(n).is_some());
    let integers_ok = ["iat", "exp", "exi"].iter().all(|n| integer(n).is_some());
    let nbf_ok = match get("nbf") {
        None => true,
        Some(v) => v.integer.is_some_and(|nbf| nbf <= now),
    };
    distinct.len() == names.len()
        && !distinct.contains("aud")
        && unknown <= 16
        && strings_ok
        && integers_ok
        && nbf_ok
        && integer("exp").is_some_and(|exp| exp > now)
        && integer("iat").is_some_and(|iat| iat <= now + 60)
        && string("iss") == Some("datarhei-core")
        && string("usefor") == Some("access")
        && string("sub") == Some(USER)
}

#[test]
fn claims_signed_with_our_key_are_accepted_exactly_when_the_rules_allow() {
    let harness = Harness::new();
    fuzz(
        "claims",
        Expects::Both,
        (payload(), any::<bool>()),
        |(members, space)| {
            let now = now();
            let written: Vec<((String, String), Json)> = members
                .iter()
                .map(|(key, value)| (key.clone(), value.json(now)))
                .collect();
            let decoded: Vec<(String, Json)> = written
                .iter()
                .map(|((name, _), value)| (name.clone(), value.clone()))
                .collect();
            let token = forge(HEADER, &object(&written, space), SECRET.as_bytes());
            let answer = harness
                .get(PROTECTED, format!("Bearer {token}").as_bytes())
                .unwrap();
            if claims_are_acceptable(&decoded, now) {
                accepted_token(&answer, PROTECTED)
            } else {
                refused_token(&answer)
            }
        },
    );
}

// ---- Anything signed with a wrong key -------------------------------------------------------

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(Into::into),
        any::<i64>().prop_map(Into::into),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Into::into),
        prop::sample::select(vec![
            "access",
            "refresh",
            USER,
            "datarhei-core",
            "HS256",
            "none"
        ])
        .prop_map(Into::into),
        any::<String>().prop_map(Into::into),
    ];
    leaf.prop_recursive(4, 32, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Into::into),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "iss".to_owned(),
                    "sub".into(),
                    "usefor".into(),
                    "iat".into(),
                    "exp".into(),
                    "exi".into(),
                    "jti".into(),
                    "alg".into(),
                    "x".into(),
                ]),
                inner,
                0..8
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

#[test]
fn nothing_signed_with_another_key_is_accepted() {
    let harness = Harness::new();
    let strategy = (
        prop_oneof![
            Just(HEADER.to_owned()),
            json_value().prop_map(|v| v.to_string()),
        ],
        prop_oneof![Just(None), json_value().prop_map(|v| Some(v.to_string())),],
        prop::collection::vec(any::<u8>(), 0..64),
        any::<bool>(),
    );
    fuzz(
        "wrong keys",
        Expects::RefusalsOnly,
        strategy,
        |(header, payload, key, on_refresh)| {
            prop_assume!(key.as_slice() != SECRET.as_bytes());
            let path = if on_refresh { REFRESH } else { PROTECTED };
            let usefor = if on_refresh { "refresh" } else { "access" };
            // Without a payload of its own, the genuine claims: only the key is wrong.
            let payload = payload.unwrap_or_else(|| day_claims(usefor).to_string());
            let token = forge(&header, &payload, &key);
            let answer = harness
                .get(path, format!("Bearer {token}").as_bytes())
                .unwrap();
            refused_token(&answer)
        },
    );
}

// ---- Login bodies ---------------------------------------------------------------------------

#[test]
fn login_bodies_log_in_exactly_with_the_credentials() {
    let harness = Harness::new();
    let member = (
        key(vec![
            "username", "password", "Username", "user", "pass", "extra",
        ]),
        prop_oneof![
            4 => string_json(vec![USER, PASSWORD, "Admin", "admin ", "", "x", "correct horse battery stapl"]),
            1 => odd_json(),
        ],
    );
    // A start that is often the right credentials, then a few random members, in any order.
    let start = (
        key(vec!["username"]),
        string_json(vec![USER, USER, "Admin"]),
    );
    let password = (
        key(vec!["password"]),
        string_json(vec![PASSWORD, PASSWORD, "wrong"]),
    );
    let structured = (
        prop::option::weighted(0.9, start),
        prop::option::weighted(0.9, password),
        prop::collection::vec(member, 0..3),
        any::<bool>(),
    )
        .prop_flat_map(|(user, password, random, space)| {
            let members: Vec<_> = user.into_iter().chain(password).chain(random).collect();
            (Just(members).prop_shuffle(), Just(space))
        })
        .prop_map(|(m, s)| (Some(m.clone()), object(&m, s).into_bytes()));
    let raw = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        any::<String>().prop_map(String::into_bytes),
    ]
    .prop_map(|b| (None, b));
    fuzz(
        "login bodies",
        Expects::Both,
        prop_oneof![3 => structured, 1 => raw],
        |(members, body)| {
            let answer = harness.login(body);
            let status = answer.status;
            if status == StatusCode::OK {
                let tokens: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
                prop_assert!(
                    tokens["access_token"].is_string() && tokens["refresh_token"].is_string()
                );
            } else {
                let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
                prop_assert_eq!(&body["code"], status.as_u16());
                prop_assert!(!String::from_utf8_lossy(&answer.body).contains("_token"));
            }
            let expected = match members {
                // Random bytes: never a login, always a clean refusal.
                None => {
                    prop_assert!(matches!(status.as_u16(), 400 | 401), "{:?}", answer);
                    return Ok(Verdict::Refused);
                }
                Some(members) => {
                    // Member names match in any ASCII case, as Go's encoding/json reads them for
                    // datarhei Core; the same name twice, in any case, is malformed.
                    let count = |name: &str| {
                        members
                            .iter()
                            .filter(|((n, _), _)| n.eq_ignore_ascii_case(name))
                            .count()
                    };
                    let value = |name: &str| {
                        members
                            .iter()
                            .find(|((n, _), _)| n.eq_ignore_ascii_case(name))
                            .and_then(|(_, v)| v.string.clone())
                    };
                    let (user, password) = (value("username"), value("password"));
                    let well_formed = count("username") == 1
                        && count("password") == 1
                        && user.as_ref().is_some_and(|u| !u.is_empty())
                        && password.as_ref().is_some_and(|p| !p.is_empty());
                    if !well_formed {
                        400
                    } else if user.as_deref() == Some(USER) && password.as_deref() == Some(PASSWORD)
                    {
                        200
                    } else {
                        401
                    }
                }
            };
            prop_assert_eq!(status.as_u16(), expected, "{:?}", answer);
            Ok(if expected == 200 {
                Verdict::Accepted
            } else {
                Verdict::Refused
            })
        },
    );
}
