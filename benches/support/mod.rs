//! Shared fixtures for the benchmarks: one layer with a known secret, genuine tokens obtained
//! through a real login, forged variants for the rejection paths, and a way to drive the layer
//! as a `tower::Service` without a network or a runtime.
#![allow(dead_code, unreachable_pub)]

use std::convert::Infallible;
use std::future::{Future, Ready, ready};
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use criterion::Criterion;
use hmac::{Hmac, KeyInit as _, Mac as _};
use http::{Request, Response};
use http_body_util::{BodyExt as _, Full};
use sha2::Sha256;
use tower::Service;
use tower_jwt_login::{JwtLoginBuilder, JwtLoginLayer, Password};

pub const SECRET: &str = "a benchmark secret of forty bytes long!!";
pub const USER: &str = "admin";
pub const PASSWORD: &str = "correct horse battery staple";
pub const REALM: &str = "datarhei-core";

/// Short runs: the machine is shared, and the goals are ratios inside one run. Command-line
/// flags (`--warm-up-time`, `--measurement-time`) still override these.
pub fn criterion() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args()
}

/// The configuration every benchmark starts from: datarhei Core's defaults, one plain-text
/// user, the benchmark secret.
pub fn builder() -> JwtLoginBuilder {
    JwtLoginLayer::builder()
        .user(USER, Password::plain(PASSWORD))
        .secret(SECRET)
}

/// The layer every benchmark measures: [`builder`] with the validated-token cache off, so that
/// each validation is a verification in full.
pub fn layer() -> JwtLoginLayer {
    builder()
        .validated_token_cache(0)
        .build()
        .expect("a valid configuration")
}

/// [`builder`] as it is by default, with the validated-token cache on.
pub fn cached_layer() -> JwtLoginLayer {
    builder().build().expect("a valid configuration")
}

/// The request body type used throughout.
pub type Body = Full<Bytes>;

/// The bare inner service: answers every request at once, allocating nothing.
pub fn bare_service() -> impl Service<
    Request<Body>,
    Response = Response<Body>,
    Error = Infallible,
    Future = Ready<Result<Response<Body>, Infallible>>,
> + Clone {
    tower::service_fn(|_request: Request<Body>| {
        ready(Ok::<_, Infallible>(Response::new(Full::new(
            Bytes::from_static(b"pong"),
        ))))
    })
}

/// Calls `service` once and polls the response future to completion with a no-op waker.
///
/// Every future measured here completes on its first poll (the inner service is ready at once,
/// a plain-text login never leaves the calling thread); a `Pending` is a bug in the fixture.
pub fn call<S, R>(service: &mut S, request: R) -> S::Response
where
    S: Service<R>,
    S::Error: std::fmt::Debug,
{
    let mut cx = Context::from_waker(Waker::noop());
    match service.poll_ready(&mut cx) {
        Poll::Ready(Ok(())) => {}
        _ => panic!("the service is not ready at once"),
    }
    let future = pin!(service.call(request));
    match future.poll(&mut cx) {
        Poll::Ready(Ok(response)) => response,
        Poll::Ready(Err(error)) => panic!("service error: {error:?}"),
        Poll::Pending => panic!("the response future did not complete on its first poll"),
    }
}

/// The body of a response whose body is ready at once.
pub fn body_bytes<B>(body: B) -> Bytes
where
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(body.collect()).poll(&mut cx) {
        Poll::Ready(Ok(collected)) => collected.to_bytes(),
        _ => panic!("the body is not ready at once"),
    }
}

/// `POST /api/login` with the benchmark user's credentials.
pub fn login_request() -> Request<Body> {
    Request::post("/api/login")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(format!(
            r#"{{"username":"{USER}","password":"{PASSWORD}"}}"#
        ))))
        .expect("a valid request")
}

/// A genuine access and refresh token, obtained by logging in through the layer.
pub fn login(layer: &JwtLoginLayer) -> (String, String) {
    let mut service = tower::Layer::layer(layer, bare_service());
    let response = call(&mut service, login_request());
    assert_eq!(response.status(), 200, "the benchmark login failed");
    let body: serde_json::Value =
        serde_json::from_slice(&body_bytes(response.into_body())).expect("a JSON body");
    let token = |name: &str| body[name].as_str().expect("a token").to_owned();
    (token("access_token"), token("refresh_token"))
}

/// `GET path`, with `Authorization: Bearer token` when a token is given.
pub fn get(path: &str, token: Option<&str>) -> Request<Body> {
    request("GET", path, token)
}

/// `method path`, with `Authorization: Bearer token` when a token is given.
pub fn request(method: &str, path: &str, token: Option<&str>) -> Request<Body> {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    request.body(Full::default()).expect("a valid request")
}

/// The benchmark secret's HMAC state, keyed once: the floor every verification pays.
pub fn keyed_hmac() -> Hmac<Sha256> {
    Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("HMAC takes any key length")
}

/// A token's signing input (`header.payload`) and its decoded tag.
pub fn signing_input_and_tag(token: &str) -> (Vec<u8>, [u8; 32]) {
    let (input, signature) = token.rsplit_once('.').expect("a compact JWS");
    let tag = URL_SAFE_NO_PAD
        .decode(signature)
        .expect("base64url")
        .try_into()
        .expect("32 bytes");
    (input.as_bytes().to_vec(), tag)
}

/// The bare floor: one HMAC-SHA256 verification of `input` against `tag`, from a precomputed
/// keyed state.
#[inline]
pub fn hmac_floor(keyed: &Hmac<Sha256>, input: &[u8], tag: &[u8; 32]) -> bool {
    let mut mac = keyed.clone();
    mac.update(input);
    mac.verify_slice(tag).is_ok()
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
        .try_into()
        .expect("fits")
}

/// A token in exactly the form the layer issues (same header, members in the same order),
/// signed with the benchmark secret, with the given claims.
pub fn forge(usefor: &str, iat: i64, exp: i64) -> String {
    let payload = format!(
        r#"{{"exi":{exi},"exp":{exp},"iat":{iat},"iss":"{REALM}","jti":"0b5e3a5c-8e1f-4b4e-9d3a-2f0f7a0c1d2e","sub":"{USER}","usefor":"{usefor}"}}"#,
        exi = exp - iat,
    );
    let input = format!(
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.{}",
        URL_SAFE_NO_PAD.encode(payload)
    );
    let mut mac = keyed_hmac();
    mac.update(input.as_bytes());
    let tag = mac.finalize().into_bytes();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag))
}

/// `token` with the last character of its signature changed: well-formed, wrong tag.
pub fn with_bad_signature(token: &str) -> String {
    let mut bad = token.to_owned();
    let last = bad.pop().expect("non-empty");
    // Within the last character only the top bits count; swapping 'A' and 'Q' flips one of them.
    bad.push(if last == 'A' { 'Q' } else { 'A' });
    bad
}

/// One mebibyte of token-looking garbage (valid base64url characters and dots).
pub fn garbage_mib() -> String {
    "eyJhbGciOiJIUzI1NiJ9.AAAA"
        .chars()
        .cycle()
        .take(1 << 20)
        .collect()
}

/// The claims `jsonwebtoken` deserialises into: the same ones our verifier reads.
#[derive(serde::Deserialize)]
pub struct JwtClaims {
    pub iss: String,
    pub sub: String,
    pub usefor: String,
    pub iat: i64,
    pub exp: i64,
    pub exi: i64,
    pub jti: String,
}

/// The closest `jsonwebtoken` gets to our rules: HS256 only, the issuer pinned, `exp`, `iat`,
/// `iss` and `sub` required, no leeway, no audience.
pub fn jsonwebtoken_validation() -> jsonwebtoken::Validation {
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.set_issuer(&[REALM]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "sub"]);
    validation.leeway = 0;
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.validate_aud = false;
    validation
}
