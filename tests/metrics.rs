//! The counters of the `metrics` feature, over real HTTP.
//!
//! Each test installs its own `DebuggingRecorder` for its own thread; the tests run on tokio's
//! current-thread runtime, so the servers they start count on that thread too. Each step
//! compares everything counted since the step before, so a missing and a spurious count both
//! fail.
#![cfg(feature = "metrics")]

mod support;

use std::collections::BTreeMap;

use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use support::*;
use tower_jwt_login::{JwtLoginLayer, LoginThrottle, Password};

const LOGINS: &str = "tower_jwt_login_logins_total";
const REJECTED: &str = "tower_jwt_login_tokens_rejected_total";

/// Reads the counters, each as `name{label="value",...}`.
struct Counters(Snapshotter);

impl Counters {
    /// What was counted since the last call (the debugging recorder resets on each snapshot).
    fn since_last(&self) -> BTreeMap<String, u64> {
        self.0
            .snapshot()
            .into_vec()
            .into_iter()
            .filter_map(|(key, _, _, value)| {
                let DebugValue::Counter(count) = value else {
                    panic!("only counters are expected: {key:?}");
                };
                (count > 0).then(|| (render(key.key()), count))
            })
            .collect()
    }
}

fn render(key: &metrics::Key) -> String {
    let labels: Vec<String> = key
        .labels()
        .map(|label| format!("{}=\"{}\"", label.key(), label.value()))
        .collect();
    if labels.is_empty() {
        key.name().to_owned()
    } else {
        format!("{}{{{}}}", key.name(), labels.join(","))
    }
}

/// The expected counts, written as `(name{labels}, count)`.
fn counts(expected: &[(&str, u64)]) -> BTreeMap<String, u64> {
    expected.iter().map(|&(k, v)| (k.to_owned(), v)).collect()
}

fn login_outcome(outcome: &str) -> String {
    format!("{LOGINS}{{outcome=\"{outcome}\"}}")
}

fn rejected(reason: &str) -> String {
    format!("{REJECTED}{{reason=\"{reason}\"}}")
}

/// `POST /api/login` with an identity provider's token as bearer and no body.
#[cfg(feature = "jwks")]
async fn idp_login(addr: std::net::SocketAddr, token: String) -> Reply {
    post_bearer(addr, "/api/login", &token).await
}

/// Installs a recorder for this thread; the guard borrows it, hence the macro.
macro_rules! record {
    ($counters:ident) => {
        let recorder = DebuggingRecorder::new();
        let $counters = Counters(recorder.snapshotter());
        let _guard = metrics::set_default_local_recorder(&recorder);
    };
}

#[tokio::test]
async fn logins_are_counted_once_each_by_outcome() {
    record!(counters);
    let layer = builder()
        .login_throttle(LoginThrottle::new().max_failures_per_user(2))
        .build()
        .unwrap();
    let server = spawn(Stack::Hyper, layer).await;

    login(server.addr).await;
    assert_eq!(
        counters.since_last(),
        counts(&[(&login_outcome("success"), 1)])
    );

    login_with(server.addr, USER, "a wrong password")
        .await
        .assert_error(401);
    login_with(server.addr, "nobody", "a wrong password")
        .await
        .assert_error(401);
    assert_eq!(
        counters.since_last(),
        counts(&[(&login_outcome("invalid_credentials"), 2)])
    );

    let not_json = raw_request("POST", "/api/login", &[], b"username=a&password=b");
    send_raw(server.addr, &not_json).await.assert_error(415);
    let not_an_object = raw_request(
        "POST",
        "/api/login",
        &[("Content-Type", b"application/json")],
        b"[1]",
    );
    send_raw(server.addr, &not_an_object)
        .await
        .assert_error(400);
    get(server.addr, "/api/login", None).await.assert_error(405);
    assert_eq!(
        counters.since_last(),
        counts(&[(&login_outcome("malformed"), 3)])
    );

    // The limit is 2 failures for (client, admin): the wrong password above was the first.
    login_with(server.addr, USER, "a wrong password")
        .await
        .assert_error(401);
    for _ in 0..3 {
        login_with(server.addr, USER, PASSWORD)
            .await
            .assert_error(429);
    }
    assert_eq!(
        counters.since_last(),
        counts(&[
            (&login_outcome("invalid_credentials"), 1),
            (&login_outcome("throttled"), 3),
        ])
    );
}

#[tokio::test]
async fn rejected_tokens_are_counted_by_reason_and_accepted_ones_not_at_all() {
    record!(counters);
    let server = spawn(Stack::Hyper, builder().build().unwrap()).await;
    let (access, refresh) = login(server.addr).await;
    counters.since_last();

    let forged = forge(
        HEADER,
        &claims("access").to_string(),
        b"not the server's key",
    );
    let mut expired = claims("access");
    expired["exp"] = (now() - 3600).into();
    let expired = forge_claims(&expired);
    for token in [
        None,
        Some("garbage"),
        Some(&*forged),
        Some(&*expired),
        Some(&*refresh),
    ] {
        get(server.addr, "/api/v3/ping", token)
            .await
            .assert_unauthorized();
    }
    get(server.addr, "/api/login/refresh", Some(&access))
        .await
        .assert_unauthorized();
    assert_eq!(
        counters.since_last(),
        counts(&[
            (&rejected("missing_token"), 1),
            (&rejected("malformed_token"), 1),
            (&rejected("bad_signature"), 1),
            (&rejected("expired"), 1),
            (&rejected("wrong_token_use"), 2),
        ])
    );

    // An accepted token, an optional route, and a pass-through count nothing.
    assert_eq!(
        get(server.addr, "/api/v3/ping", Some(&access)).await.status,
        200
    );
    assert_eq!(get(server.addr, "/api", Some(&forged)).await.status, 200);
    assert_eq!(get(server.addr, "/ping", Some(&forged)).await.status, 200);
    assert_eq!(counters.since_last(), counts(&[]));
}

#[tokio::test]
async fn refreshes_rotations_reuses_and_logouts_are_counted() {
    record!(counters);
    let plain = spawn(Stack::Hyper, builder().build().unwrap()).await;
    let (_, refresh) = login(plain.addr).await;
    for _ in 0..2 {
        assert_eq!(
            get(plain.addr, "/api/login/refresh", Some(&refresh))
                .await
                .status,
            200
        );
    }
    assert_eq!(
        counters.since_last(),
        counts(&[
            (&login_outcome("success"), 1),
            ("tower_jwt_login_refreshes_total{rotated=\"false\"}", 2),
        ])
    );

    let rotating = JwtLoginLayer::builder()
        .user(USER, Password::plain(PASSWORD))
        .secret(SECRET)
        .refresh_token_rotation(true)
        .refresh_token_reuse_grace(std::time::Duration::ZERO)
        .build()
        .unwrap();
    let rotating = spawn(Stack::Hyper, rotating).await;
    let (_, refresh) = login(rotating.addr).await;
    counters.since_last();
    let reply = get(rotating.addr, "/api/login/refresh", Some(&refresh)).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let rotated = reply.json()["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(
        counters.since_last(),
        counts(&[("tower_jwt_login_refreshes_total{rotated=\"true\"}", 1)])
    );

    // The spent token again: its family is revoked, and so is its successor.
    get(rotating.addr, "/api/login/refresh", Some(&refresh))
        .await
        .assert_unauthorized();
    get(rotating.addr, "/api/login/refresh", Some(&rotated))
        .await
        .assert_unauthorized();
    assert_eq!(
        counters.since_last(),
        counts(&[
            ("tower_jwt_login_refresh_token_reuses_total", 1),
            (&rejected("refresh_token_reused"), 1),
            (&rejected("revoked"), 1),
        ])
    );

    // That revoked every token of the login: log out those of another.
    let (access, refresh) = login(rotating.addr).await;
    counters.since_last();
    for (token, usefor) in [(&access, "access"), (&refresh, "refresh")] {
        let reply = call_with(rotating.addr, "POST", "/api/logout", token).await;
        assert_eq!(reply.status, 204, "{}", reply.text());
        assert_eq!(
            counters.since_last(),
            counts(&[(
                &format!("tower_jwt_login_logouts_total{{usefor=\"{usefor}\"}}"),
                1
            )])
        );
    }
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn store_failures_are_counted_where_they_answer_503() {
    record!(counters);
    let mut redis = RedisServer::start();
    let store = tower_jwt_login::RedisStore::connect(&redis.url()).unwrap();
    let server = spawn(Stack::Hyper, builder().store(store).build().unwrap()).await;
    let (_, refresh) = login(server.addr).await;
    counters.since_last();

    redis.kill();
    login_with(server.addr, USER, PASSWORD)
        .await
        .assert_error(503);
    get(server.addr, "/api/login/refresh", Some(&refresh))
        .await
        .assert_error(503);
    assert_eq!(
        counters.since_last(),
        counts(&[
            (&login_outcome("store_unavailable"), 1),
            ("tower_jwt_login_store_unavailable_total", 2),
        ])
    );
}

#[cfg(feature = "jwks")]
#[tokio::test]
async fn jwks_fetches_and_identity_provider_logins_are_counted() {
    use support::jwks::{JwksServer, TestKey};
    record!(counters);
    let key = TestKey::ec("ec-1");
    let idp = JwksServer::start(&[&key]).await;
    let subject = "auth0|metrics";
    let tenant = tower_jwt_login::Tenant::new(idp.issuer())
        .audience("https://core.example.com/api")
        .allow_subject(subject)
        .allow_insecure_loopback(true);
    let server = spawn(Stack::Hyper, builder().tenant(tenant).build().unwrap()).await;
    idp.wait_for_fetches(1).await;
    let fetches = |outcome: &str| {
        format!(
            "tower_jwt_login_jwks_fetches_total{{issuer=\"{}\",outcome=\"{outcome}\"}}",
            idp.issuer()
        )
    };
    assert_eq!(counters.since_last(), counts(&[(&fetches("success"), 1)]));

    let claims = serde_json::json!({
        "iss": idp.issuer(), "sub": subject, "aud": "https://core.example.com/api",
        "iat": now(), "exp": now() + 600,
    });
    assert_eq!(idp_login(server.addr, key.sign(&claims)).await.status, 200);
    assert_eq!(
        counters.since_last(),
        counts(&[(&login_outcome("success"), 1)])
    );

    // A key the provider does not publish (any more): one more fetch, which fails, and a 401.
    idp.set_status(500);
    idp_login(server.addr, key.sign_as("ec-2", &claims))
        .await
        .assert_unauthorized();
    assert_eq!(
        counters.since_last(),
        counts(&[
            (&fetches("failure"), 1),
            (&login_outcome("invalid_token"), 1),
            (&rejected("bad_signature"), 1),
        ])
    );
}
