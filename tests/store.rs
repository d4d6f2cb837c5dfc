//! Throttling, refresh-token rotation, revocation and logout, over real HTTP.
//!
//! One behaviour suite runs against both stores: the in-memory default and Redis (a real
//! `redis-server` started per test on a free port). Then what only Redis can do: several
//! replicas sharing one store, and Redis dying and coming back.

mod support;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use support::stores::{Fixture, Kind};
use support::*;
use tower_jwt_login::LoginThrottle;

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

async fn login_from(from: IpAddr, server: &Server, password: &str) -> Reply {
    send_raw_from(from, server.addr, &login_request(USER, password, &[])).await
}

fn tokens(reply: &Reply) -> (String, String) {
    assert_eq!(reply.status, 200, "{}", reply.text());
    let body = reply.json();
    (
        body["access_token"].as_str().unwrap().to_owned(),
        body["refresh_token"].as_str().unwrap().to_owned(),
    )
}

fn retry_after(reply: &Reply) -> u64 {
    reply
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap()
}

/// Asserts a 429 from the throttle, and returns its `Retry-After`.
fn assert_throttled(reply: &Reply) -> u64 {
    reply.assert_error(429);
    retry_after(reply)
}

// ---------------------------------------------------------------------------------------------
// The behaviour suite, run against both stores.
// ---------------------------------------------------------------------------------------------

async fn five_failures_lock_the_pair_with_a_doubling_retry_after(kind: Kind) {
    let fixture = Fixture::new(kind);
    let server = fixture.server(builder()).await;
    for _ in 0..5 {
        login_from(ip(1), &server, "wrong").await.assert_error(401);
    }
    // Locked: even the right password is not looked at.
    assert_eq!(
        assert_throttled(&login_from(ip(1), &server, PASSWORD).await),
        1
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    login_from(ip(1), &server, "wrong").await.assert_error(401);
    assert_eq!(
        assert_throttled(&login_from(ip(1), &server, "wrong").await),
        2
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    login_from(ip(1), &server, "wrong").await.assert_error(401);
    assert_eq!(
        assert_throttled(&login_from(ip(1), &server, "wrong").await),
        4
    );
}

async fn a_success_resets_its_pair(kind: Kind) {
    let fixture = Fixture::new(kind);
    let server = fixture.server(builder()).await;
    for _ in 0..4 {
        login_from(ip(1), &server, "wrong").await.assert_error(401);
    }
    tokens(&login_from(ip(1), &server, PASSWORD).await);
    for _ in 0..5 {
        login_from(ip(1), &server, "wrong").await.assert_error(401);
    }
    assert_throttled(&login_from(ip(1), &server, "wrong").await);
}

async fn a_flood_from_one_address_does_not_lock_the_user_out_elsewhere(kind: Kind) {
    let fixture = Fixture::new(kind);
    let server = fixture.server(builder()).await;
    for _ in 0..30 {
        let reply = login_from(ip(2), &server, "wrong").await;
        assert!(matches!(reply.status, 401 | 429), "{}", reply.status);
    }
    assert_throttled(&login_from(ip(2), &server, PASSWORD).await);
    tokens(&login_from(ip(1), &server, PASSWORD).await);
}

async fn an_address_is_capped_across_usernames(kind: Kind) {
    let fixture = Fixture::new(kind);
    let server = fixture
        .server(builder().login_throttle(LoginThrottle::new().max_failures_per_client(8)))
        .await;
    for n in 0..8 {
        let request = login_request(&format!("user{n}"), "wrong", &[]);
        send_raw_from(ip(3), server.addr, &request)
            .await
            .assert_error(401);
    }
    let request = login_request("someone-else", "wrong", &[]);
    assert_throttled(&send_raw_from(ip(3), server.addr, &request).await);
    assert_throttled(&login_from(ip(3), &server, PASSWORD).await);
    tokens(&login_from(ip(4), &server, PASSWORD).await);
}

async fn forwarded_headers_do_not_change_the_client(kind: Kind) {
    let fixture = Fixture::new(kind);
    let server = fixture.server(builder()).await;
    for n in 0..6u8 {
        let forwarded = format!("198.51.100.{n}");
        let request = login_request(
            USER,
            "wrong",
            &[
                ("X-Forwarded-For", forwarded.as_bytes()),
                ("X-Real-IP", forwarded.as_bytes()),
            ],
        );
        let reply = send_raw_from(ip(5), server.addr, &request).await;
        if n < 5 {
            reply.assert_error(401);
        } else {
            assert_throttled(&reply);
        }
    }
}

async fn a_custom_client_key_tells_clients_behind_one_proxy_apart(kind: Kind) {
    let fixture = Fixture::new(kind);
    let throttle = LoginThrottle::new().client_key(|parts: &http::request::Parts| {
        let client = parts.headers.get("x-test-client")?.to_str().ok()?;
        Some(client.to_owned())
    });
    let server = fixture.server(builder().login_throttle(throttle)).await;
    let as_client = |client: &'static [u8], password: &'static str| {
        login_request(USER, password, &[("X-Test-Client", client)])
    };
    for _ in 0..5 {
        send_raw(server.addr, &as_client(b"a", "wrong"))
            .await
            .assert_error(401);
    }
    assert_throttled(&send_raw(server.addr, &as_client(b"a", PASSWORD)).await);
    // Same TCP peer, another client by the custom key: not locked.
    tokens(&send_raw(server.addr, &as_client(b"b", PASSWORD)).await);
}

async fn without_rotation_a_refresh_token_is_reusable_and_answers_an_access_token(kind: Kind) {
    let fixture = Fixture::new(kind);
    let server = fixture.server(builder()).await;
    let (_, refresh) = login(server.addr).await;
    for _ in 0..2 {
        let reply = get(server.addr, "/api/login/refresh", Some(&refresh)).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        let body = reply.json();
        assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
        let access = body["access_token"].as_str().unwrap();
        assert_eq!(
            get(server.addr, "/api/v3/ping", Some(access)).await.status,
            200
        );
    }
}

async fn rotation_spends_the_refresh_token_and_reuse_revokes_the_family(kind: Kind) {
    let fixture = Fixture::new(kind);
    let server = fixture.server(builder().refresh_token_rotation(true)).await;
    let (_, first) = login(server.addr).await;

    let reply = get(server.addr, "/api/login/refresh", Some(&first)).await;
    let (access, second) = tokens(&reply);
    assert_eq!(reply.json().as_object().unwrap().len(), 2);
    assert_ne!(first, second);
    assert_eq!(
        get(server.addr, "/api/v3/ping", Some(&access)).await.status,
        200
    );
    let (_, third) = tokens(&get(server.addr, "/api/login/refresh", Some(&second)).await);

    // The first token again: reuse. It is refused, and so is the family's current token.
    let reused = get(server.addr, "/api/login/refresh", Some(&first)).await;
    reused.assert_unauthorized();
    assert_eq!(
        reused.json()["details"][0],
        "the refresh token was already used; every token of its login is revoked"
    );
    get(server.addr, "/api/login/refresh", Some(&third))
        .await
        .assert_unauthorized();
    // Another login is another family, untouched.
    let (_, other) = login(server.addr).await;
    tokens(&get(server.addr, "/api/login/refresh", Some(&other)).await);
}

async fn logout_with_a_refresh_token_revokes_its_family(kind: Kind) {
    for rotation in [false, true] {
        let fixture = Fixture::new(kind);
        let server = fixture
            .server(builder().refresh_token_rotation(rotation))
            .await;
        let (_, refresh) = login(server.addr).await;
        let refresh = if rotation {
            tokens(&get(server.addr, "/api/login/refresh", Some(&refresh)).await).1
        } else {
            refresh
        };
        let (_, other) = login(server.addr).await;
        let reply = call_with(server.addr, "POST", "/api/logout", &refresh).await;
        assert_eq!(reply.status, 204, "{}", reply.text());
        assert!(reply.body.is_empty());
        let refused = get(server.addr, "/api/login/refresh", Some(&refresh)).await;
        refused.assert_unauthorized();
        assert_eq!(refused.json()["details"][0], "the token has been revoked");
        // The other login is untouched.
        assert_eq!(
            get(server.addr, "/api/login/refresh", Some(&other))
                .await
                .status,
            200,
            "rotation {rotation}"
        );
    }
}

async fn logout_with_an_access_token_revokes_it_on_protected_routes(kind: Kind) {
    let fixture = Fixture::new(kind);
    let server = fixture.server(builder()).await;
    let (access, _) = login(server.addr).await;
    let (other, _) = login(server.addr).await;
    assert_eq!(
        get(server.addr, "/api/v3/ping", Some(&access)).await.status,
        200
    );
    assert_eq!(
        call_with(server.addr, "POST", "/api/logout", &access)
            .await
            .status,
        204
    );
    get(server.addr, "/api/v3/ping", Some(&access))
        .await
        .assert_unauthorized();
    // On an optional route, a revoked token attaches no claims.
    assert_eq!(
        get(server.addr, "/api", Some(&access)).await.inner_sub(),
        None
    );
    assert_eq!(
        get(server.addr, "/api/v3/ping", Some(&other)).await.status,
        200
    );
    // Logging out with it again: it is revoked.
    call_with(server.addr, "POST", "/api/logout", &access)
        .await
        .assert_unauthorized();
}

async fn logout_refuses_what_it_cannot_revoke(kind: Kind) {
    let fixture = Fixture::new(kind);
    let server = fixture.server(builder().logout_path("/api/bye")).await;
    let (access, _) = login(server.addr).await;
    let reply = call_with(server.addr, "GET", "/api/bye", &access).await;
    reply.assert_error(405);
    assert_eq!(reply.header("allow"), Some("POST"));
    send_raw(server.addr, &raw_request("POST", "/api/bye", &[], b""))
        .await
        .assert_unauthorized();
    call_with(server.addr, "POST", "/api/bye", "not.a.token")
        .await
        .assert_unauthorized();
    let forged = forge(
        HEADER,
        &claims("access").to_string(),
        b"another key of at least 32 bytes!!",
    );
    call_with(server.addr, "POST", "/api/bye", &forged)
        .await
        .assert_unauthorized();
    // The default path is just another path now.
    assert_ne!(
        call_with(server.addr, "POST", "/api/logout", &access)
            .await
            .status,
        204
    );
    assert_eq!(
        get(server.addr, "/api/v3/ping", Some(&access)).await.status,
        200
    );
}

on_both_stores!(
    five_failures_lock_the_pair_with_a_doubling_retry_after,
    a_success_resets_its_pair,
    a_flood_from_one_address_does_not_lock_the_user_out_elsewhere,
    an_address_is_capped_across_usernames,
    forwarded_headers_do_not_change_the_client,
    a_custom_client_key_tells_clients_behind_one_proxy_apart,
    without_rotation_a_refresh_token_is_reusable_and_answers_an_access_token,
    rotation_spends_the_refresh_token_and_reuse_revokes_the_family,
    logout_with_a_refresh_token_revokes_its_family,
    logout_with_an_access_token_revokes_it_on_protected_routes,
    logout_refuses_what_it_cannot_revoke,
);

#[tokio::test]
async fn axum_connect_info_is_the_default_client_key() {
    let server = spawn(Stack::Axum, builder().build().unwrap()).await;
    for _ in 0..5 {
        login_from(ip(6), &server, "wrong").await.assert_error(401);
    }
    assert_throttled(&login_from(ip(6), &server, PASSWORD).await);
    tokens(&login_from(ip(7), &server, PASSWORD).await);
}

#[tokio::test]
async fn default_tokens_keep_exactly_datarhei_claims_with_rotation_on() {
    let server = spawn(
        Stack::Hyper,
        builder().refresh_token_rotation(true).build().unwrap(),
    )
    .await;
    let (_, refresh) = login(server.addr).await;
    let (access, refresh) = tokens(&get(server.addr, "/api/login/refresh", Some(&refresh)).await);
    for token in [access, refresh] {
        use base64::Engine as _;
        let payload = token.split('.').nth(1).unwrap();
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap();
        let claims: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        let keys: Vec<&String> = claims.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["exi", "exp", "iat", "iss", "jti", "sub", "usefor"]);
    }
}

// ---------------------------------------------------------------------------------------------
// Several replicas on one Redis, and Redis failing.
// ---------------------------------------------------------------------------------------------

#[cfg(feature = "redis")]
mod replicas {
    use std::time::Instant;

    use super::*;

    /// Polls `GET /api/v3/ping` with `access` until it is refused; the time it took.
    async fn until_refused(server: &Server, access: &str, limit: Duration) -> Duration {
        let start = Instant::now();
        loop {
            let reply = get(server.addr, "/api/v3/ping", Some(access)).await;
            if reply.status == 401 {
                return start.elapsed();
            }
            assert_eq!(reply.status, 200);
            assert!(start.elapsed() < limit, "not refused after {limit:?}");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    #[tokio::test]
    async fn a_refresh_token_rotated_through_one_replica_is_refused_by_the_other() {
        let fixture = Fixture::new(Kind::Redis);
        // No grace: the second refresh with the same token is reuse at once.
        let rotating = || {
            builder()
                .refresh_token_rotation(true)
                .refresh_token_reuse_grace(Duration::ZERO)
        };
        let one = fixture.server(rotating()).await;
        let two = fixture.server(rotating()).await;
        let (_, first) = login(one.addr).await;
        let (_, second) = tokens(&get(two.addr, "/api/login/refresh", Some(&first)).await);
        get(one.addr, "/api/login/refresh", Some(&first))
            .await
            .assert_unauthorized();
        // That was reuse: the family is revoked everywhere.
        get(two.addr, "/api/login/refresh", Some(&second))
            .await
            .assert_unauthorized();
    }

    #[tokio::test]
    async fn a_logout_through_one_replica_is_honoured_by_the_other() {
        let fixture = Fixture::new(Kind::Redis);
        let one = fixture.server(builder()).await;
        let two = fixture.server(builder()).await;
        let (access, refresh) = login(one.addr).await;
        assert_eq!(
            get(two.addr, "/api/v3/ping", Some(&access)).await.status,
            200
        );
        tokio::time::sleep(Duration::from_millis(200)).await; // both subscriptions are up
        assert_eq!(
            call_with(one.addr, "POST", "/api/logout", &access)
                .await
                .status,
            204
        );
        let delay = until_refused(&two, &access, Duration::from_secs(1)).await;
        eprintln!("revocation reached the other replica in {delay:?}");
        assert_eq!(
            call_with(two.addr, "POST", "/api/logout", &refresh)
                .await
                .status,
            204
        );
        get(one.addr, "/api/login/refresh", Some(&refresh))
            .await
            .assert_unauthorized();
        // A replica started later loads the revocations made before it.
        let three = fixture.server(builder()).await;
        until_refused(&three, &access, Duration::from_secs(1)).await;
    }

    #[tokio::test]
    async fn failed_logins_count_across_replicas() {
        let fixture = Fixture::new(Kind::Redis);
        let one = fixture.server(builder()).await;
        let two = fixture.server(builder()).await;
        for n in 0..5 {
            let server = if n % 2 == 0 { &one } else { &two };
            login_from(ip(8), server, "wrong").await.assert_error(401);
        }
        assert_throttled(&login_from(ip(8), &one, PASSWORD).await);
        assert_throttled(&login_from(ip(8), &two, PASSWORD).await);
    }

    #[tokio::test]
    async fn redis_down_answers_503_then_recovers_while_protected_routes_keep_working() {
        let mut fixture = Fixture::new(Kind::Redis);
        let one = fixture.server(builder()).await;
        let two = fixture.server(builder()).await;
        let (access, refresh) = login(one.addr).await;
        let (revoked, _) = login(one.addr).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(
            call_with(one.addr, "POST", "/api/logout", &revoked)
                .await
                .status,
            204
        );
        until_refused(&two, &revoked, Duration::from_secs(1)).await;

        fixture.redis.as_mut().unwrap().kill();
        for reply in [
            login_from(ip(9), &one, PASSWORD).await,
            get(one.addr, "/api/login/refresh", Some(&refresh)).await,
            call_with(two.addr, "POST", "/api/logout", &access).await,
        ] {
            reply.assert_error(503);
            assert_eq!(retry_after(&reply), 1);
        }
        // A wrong password is not even checked: the throttle cannot count it.
        login_from(ip(9), &one, "wrong").await.assert_error(503);
        // Protected routes do not need Redis, and still refuse the revoked token.
        for server in [&one, &two] {
            assert_eq!(
                get(server.addr, "/api/v3/ping", Some(&access)).await.status,
                200
            );
            get(server.addr, "/api/v3/ping", Some(&revoked))
                .await
                .assert_unauthorized();
        }

        fixture.redis.as_mut().unwrap().restart();
        let start = Instant::now();
        loop {
            let reply = login_from(ip(9), &one, PASSWORD).await;
            if reply.status == 200 {
                break;
            }
            reply.assert_error(503);
            assert!(start.elapsed() < Duration::from_secs(10), "no recovery");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        eprintln!(
            "logins recovered {:?} after Redis restarted",
            start.elapsed()
        );
        // The subscriptions are back too: a new revocation reaches the other replica.
        let (fresh, _) = login(two.addr).await;
        let start = Instant::now();
        loop {
            assert_eq!(
                call_with(one.addr, "POST", "/api/logout", &fresh)
                    .await
                    .status,
                204
            );
            if tokio::time::timeout(
                Duration::from_millis(500),
                until_refused(&two, &fresh, Duration::from_millis(500)),
            )
            .await
            .is_ok()
            {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "subscription not back"
            );
        }
    }

    #[tokio::test]
    async fn a_slow_redis_answers_503_within_the_time_box() {
        let fixture = Fixture::new(Kind::Redis);
        let one = fixture.server(builder()).await;
        let (access, refresh) = login(one.addr).await;
        let redis = fixture.redis.as_ref().unwrap();
        assert_eq!(redis.command("CLIENT PAUSE 3000 ALL"), "+OK\r\n");
        let start = Instant::now();
        get(one.addr, "/api/login/refresh", Some(&refresh))
            .await
            .assert_error(503);
        let waited = start.elapsed();
        assert!(waited < Duration::from_millis(2500), "{waited:?}");
        // A protected request does not wait on the paused Redis at all.
        let start = Instant::now();
        assert_eq!(
            get(one.addr, "/api/v3/ping", Some(&access)).await.status,
            200
        );
        assert!(
            start.elapsed() < Duration::from_millis(250),
            "{:?}",
            start.elapsed()
        );
        redis.command("CLIENT UNPAUSE");
        let start = Instant::now();
        while get(one.addr, "/api/login/refresh", Some(&refresh))
            .await
            .status
            != 200
        {
            assert!(start.elapsed() < Duration::from_secs(10), "no recovery");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// An identity provider login starts a refresh-token family like a password login does.
#[cfg(feature = "jwks")]
#[tokio::test]
async fn an_identity_provider_login_starts_a_family_that_rotates() {
    use support::jwks::{JwksServer, TestKey};
    let key = TestKey::ec("ec-1");
    let idp = JwksServer::start(&[&key]).await;
    let subject = "auth0|rotating";
    let tenant = tower_jwt_login::Tenant::new(idp.issuer())
        .audience("https://core.example.com/api")
        .allow_subject(subject)
        .allow_insecure_loopback(true);
    let layer = builder()
        .tenant(tenant)
        .refresh_token_rotation(true)
        .refresh_token_reuse_grace(Duration::ZERO)
        .build()
        .unwrap();
    let server = spawn(Stack::Hyper, layer).await;
    idp.wait_for_fetches(1).await;
    let now = now();
    let token = key.sign(&serde_json::json!({
        "iss": idp.issuer(), "sub": subject, "aud": "https://core.example.com/api",
        "iat": now, "exp": now + 600,
    }));
    let reply = post_bearer(server.addr, "/api/login", &token).await;
    let (_, first) = tokens(&reply);
    let (_, second) = tokens(&get(server.addr, "/api/login/refresh", Some(&first)).await);
    get(server.addr, "/api/login/refresh", Some(&first))
        .await
        .assert_unauthorized();
    get(server.addr, "/api/login/refresh", Some(&second))
        .await
        .assert_unauthorized();
}
