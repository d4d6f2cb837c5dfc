//! Allocation counts of one request through the layer: the pass-through path
//! allocates nothing, the protected path allocates only what the verified claims need.
//!
//! A counting global allocator counts the allocations made on the test's own thread while
//! `counted` runs; the request is built before and the response dropped after, so only the
//! layer's work (and the bare inner service's, which allocates nothing) is counted.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::convert::Infallible;
use std::future::{Future, ready};
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use tower::{Layer as _, Service, service_fn};
use tower_jwt_login::{Claims, JwtLoginLayer, Password};

struct CountingAllocator;

thread_local! {
    // Const-initialised and without a destructor: reading it never allocates.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn note_allocation() {
    if COUNTING.get() {
        ALLOCATIONS.set(ALLOCATIONS.get() + 1);
    }
}

// SAFETY: every method forwards to the system allocator unchanged; counting only touches
// const-initialised thread-locals, which neither allocate nor re-enter the allocator.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// Runs `f`, returning its result and the number of allocations it made on this thread.
fn counted<T>(f: impl FnOnce() -> T) -> (T, usize) {
    ALLOCATIONS.set(0);
    COUNTING.set(true);
    let result = f();
    COUNTING.set(false);
    (result, ALLOCATIONS.get())
}

const SECRET: &str = "an allocation test secret of 40 bytes!!!";

fn layer() -> JwtLoginLayer {
    JwtLoginLayer::builder()
        .user("admin", Password::plain("correct horse battery staple"))
        .secret(SECRET)
        .build()
        .unwrap()
}

/// The bare inner service: answers at once with a static body, allocating nothing.
fn inner(
    _request: Request<Full<Bytes>>,
) -> std::future::Ready<Result<Response<Full<Bytes>>, Infallible>> {
    ready(Ok(Response::new(Full::new(Bytes::from_static(b"pong")))))
}

/// Calls the service once and polls the response future to completion (it completes on the
/// first poll: the inner service is ready at once).
fn call<S>(service: &mut S, request: Request<Full<Bytes>>) -> S::Response
where
    S: Service<Request<Full<Bytes>>>,
    S::Error: std::fmt::Debug,
{
    let mut cx = Context::from_waker(Waker::noop());
    assert!(matches!(service.poll_ready(&mut cx), Poll::Ready(Ok(()))));
    match pin!(service.call(request)).poll(&mut cx) {
        Poll::Ready(result) => result.unwrap(),
        Poll::Pending => panic!("the response future did not complete on its first poll"),
    }
}

fn access_token(layer: &JwtLoginLayer) -> String {
    access_token_of(layer, "admin", "correct horse battery staple")
}

/// Logs in through `layer` and answers the access token.
fn access_token_of(layer: &JwtLoginLayer, username: &str, password: &str) -> String {
    let mut service = layer.layer(service_fn(inner));
    let body = serde_json::json!({ "username": username, "password": password }).to_string();
    let request = Request::post("/api/login")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let response = call(&mut service, request);
    assert_eq!(response.status(), StatusCode::OK);
    let mut cx = Context::from_waker(Waker::noop());
    let Poll::Ready(Ok(body)) =
        pin!(http_body_util::BodyExt::collect(response.into_body())).poll(&mut cx)
    else {
        panic!("the login body is ready at once");
    };
    let json: serde_json::Value = serde_json::from_slice(&body.to_bytes()).unwrap();
    json["access_token"].as_str().unwrap().to_owned()
}

#[test]
fn pass_through_request_allocates_nothing() {
    let mut service = layer().layer(service_fn(inner));
    for path in ["/ping", "/", "/api/v31/ping", "/static/app.js?v=3"] {
        let request = Request::get(path).body(Full::default()).unwrap();
        let (response, allocations) = counted(|| call(&mut service, request));
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(allocations, 0, "{path}");
    }
}

/// The allocations a protected request may make: inserting the verified [`Claims`] into the
/// request's extensions, which boxes the value, boxes the (empty until then) extensions map,
/// and allocates its table. Verifying the token allocates nothing.
const PROTECTED_PATH_ALLOCATIONS: usize = 3;

#[test]
fn protected_request_allocates_only_what_the_claims_need() {
    let layer = layer();
    let token = access_token(&layer);
    let mut service = layer.layer(service_fn(|request: Request<Full<Bytes>>| {
        // Reading the claims the layer inserted allocates nothing either.
        let claims = request
            .extensions()
            .get::<Claims>()
            .expect("claims inserted");
        assert_eq!(claims.sub(), "admin");
        inner(request)
    }));
    // Warm up once: one-time initialisations (thread-locals, lazily built statics) are not
    // per-request costs.
    let warm_up = Request::get("/api/v3/ping")
        .header("authorization", format!("Bearer {token}"))
        .body(Full::default())
        .unwrap();
    assert_eq!(call(&mut service, warm_up).status(), StatusCode::OK);

    let request = Request::get("/api/v3/ping")
        .header("authorization", format!("Bearer {token}"))
        .body(Full::default())
        .unwrap();
    let (response, allocations) = counted(|| call(&mut service, request));
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(allocations, PROTECTED_PATH_ALLOCATIONS);
}

#[test]
fn verifying_a_token_allocates_nothing() {
    // In full: the validated-token cache off.
    let layer = JwtLoginLayer::builder()
        .user("admin", Password::plain("correct horse battery staple"))
        .secret(SECRET)
        .validated_token_cache(0)
        .build()
        .unwrap();
    let token = access_token(&layer);
    let (claims, allocations) = counted(|| layer.verify_access_token(&token));
    assert_eq!(claims.unwrap().sub(), "admin");
    assert_eq!(allocations, 0);
}

/// A token refused after its signature verified (here: a subject this layer does not know) is
/// never stored in the validated-token cache: storing a token allocates its copy, and refusing
/// it twice allocates nothing.
#[test]
fn a_refused_token_is_never_cached() {
    let layer = layer();
    // Signed with the same secret by a layer that knows another user.
    let other = JwtLoginLayer::builder()
        .user("nobody", Password::plain("another password"))
        .secret(SECRET)
        .build()
        .unwrap();
    let token = access_token_of(&other, "nobody", "another password");
    for _ in 0..2 {
        let (refused, allocations) = counted(|| layer.verify_access_token(&token));
        assert_eq!(refused, Err(tower_jwt_login::Rejection::UnknownSubject));
        assert_eq!(allocations, 0);
    }
}

/// With the cache on (the default), the first verification stores a copy of the token (one
/// allocation); the next ones are hits, and allocate nothing.
#[test]
fn a_cache_hit_allocates_nothing() {
    let layer = layer();
    let token = access_token(&layer);
    let (first, allocations) = counted(|| layer.verify_access_token(&token));
    assert_eq!(allocations, 1, "the stored copy of the token");
    let (hit, allocations) = counted(|| layer.verify_access_token(&token));
    assert_eq!(hit, first);
    assert_eq!(allocations, 0);
}

/// A gRPC request with a valid token costs what a plain one does: whether a request is gRPC is
/// asked only when the layer refuses it, and even then without allocating.
#[test]
fn an_accepted_grpc_request_allocates_no_more_than_a_plain_one() {
    let layer = layer();
    let token = access_token(&layer);
    let mut service = layer.layer(service_fn(inner));
    let request = |content_type: &'static str| {
        Request::post("/api/v3/grpc.health.v1.Health/Check")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", content_type)
            .body(Full::default())
            .unwrap()
    };
    // Warm up once, as above.
    assert_eq!(
        call(&mut service, request("application/json")).status(),
        StatusCode::OK
    );

    // Built before counting: only the layer's work is counted.
    let (plain, grpc) = (request("application/json"), request("application/grpc"));
    let (plain, plain_allocations) = counted(|| call(&mut service, plain));
    let (grpc, grpc_allocations) = counted(|| call(&mut service, grpc));
    assert_eq!(plain.status(), StatusCode::OK);
    assert_eq!(grpc.status(), StatusCode::OK);
    assert_eq!(plain_allocations, PROTECTED_PATH_ALLOCATIONS);
    assert!(
        grpc_allocations <= plain_allocations,
        "gRPC {grpc_allocations}, plain {plain_allocations}"
    );
}

/// Scope requirements cost nothing where a route requires no scope, and a token with scopes
/// (shared, not copied, out of the cache) nothing more than one without: the protected path
/// still only allocates what inserting the claims needs.
#[test]
fn scopes_add_no_allocation_to_the_protected_path() {
    let layer = JwtLoginLayer::builder()
        .user("admin", Password::plain("correct horse battery staple"))
        .user_scopes("admin", ["streams:read", "streams:write"])
        .secret(SECRET)
        .require_scopes("/api/v3/process", ["streams:write"])
        .build()
        .unwrap();
    let token = access_token(&layer);
    let mut service = layer.layer(service_fn(inner));
    let request = |path: &str| {
        Request::get(path)
            .header("authorization", format!("Bearer {token}"))
            .body(Full::default())
            .unwrap()
    };
    // Warm up: the first request verifies the token and stores it in the cache.
    assert_eq!(
        call(&mut service, request("/api/v3/ping")).status(),
        StatusCode::OK
    );
    for path in ["/api/v3/ping", "/api/v3/process/1"] {
        let request = request(path);
        let (response, allocations) = counted(|| call(&mut service, request));
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(allocations, PROTECTED_PATH_ALLOCATIONS, "{path}");
    }
}
