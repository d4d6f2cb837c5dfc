//! State that holds under abuse, over real HTTP on both stores: no flood of logins, logouts or
//! failed logins by one client or one user refuses another user anything, and concurrent
//! refreshes by one client never log it out. Every bound is set small, so that each abuse runs
//! well past it in a second or two; SECURITY.md's "Bounds" table says what each bound is.

mod support;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use support::stores::{Fixture, Kind};
use support::*;
use tower_jwt_login::{JwtLoginBuilder, LoginThrottle, MemoryStore, Password};

const VICTIM: &str = "victim";
const VICTIM_PASSWORD: &str = "another correct horse battery staple";

/// The test user (the abuser) and the victim.
fn two_users() -> JwtLoginBuilder {
    builder().user(VICTIM, Password::plain(VICTIM_PASSWORD))
}

fn tokens(reply: &Reply) -> (String, String) {
    assert_eq!(reply.status, 200, "{}", reply.text());
    let body = reply.json();
    (
        body["access_token"].as_str().unwrap().to_owned(),
        body["refresh_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

async fn login_as(server: &Server, username: &str, password: &str) -> (String, String) {
    tokens(&login_with(server.addr, username, password).await)
}

async fn ping(server: &Server, access: &str) -> u16 {
    get(server.addr, "/api/v3/ping", Some(access)).await.status
}

async fn refresh(server: &Server, refresh: &str) -> Reply {
    get(server.addr, "/api/login/refresh", Some(refresh)).await
}

async fn logout(server: &Server, token: &str) -> u16 {
    call_with(server.addr, "POST", "/api/logout", token)
        .await
        .status
}

/// The victim's whole session still works: logs in, reaches a protected route, refreshes,
/// logs out (access token, then refresh token), and is refused after each logout.
async fn victim_session_works(server: &Server) {
    let (access, first_refresh) = login_as(server, VICTIM, VICTIM_PASSWORD).await;
    assert_eq!(ping(server, &access).await, 200);
    let (refreshed, rotated) = tokens(&refresh(server, &first_refresh).await);
    let current_refresh = if rotated.is_empty() {
        first_refresh
    } else {
        rotated
    };
    assert_eq!(ping(server, &refreshed).await, 200);
    assert_eq!(logout(server, &access).await, 204);
    assert_eq!(ping(server, &access).await, 401);
    assert_eq!(logout(server, &current_refresh).await, 204);
    refresh(server, &current_refresh)
        .await
        .assert_unauthorized();
    // Every token of that login is refused once its refresh token is logged out.
    assert_eq!(ping(server, &refreshed).await, 401);
}

/// Waits until the clock has moved to the next second: tokens issued from then on are newer
/// than any revoked so far (`iat` counts seconds).
async fn next_second() {
    let start = now();
    while now() == start {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// The behaviour suite, run against both stores.
// ---------------------------------------------------------------------------------------------

/// With rotation, logins past the user's session bound end that user's oldest logins, and
/// never answer 503 (they did once the store was full, for everyone, for a day).
async fn logins_past_the_session_bound_end_the_oldest_and_refuse_nobody(kind: Kind) {
    let fixture = Fixture::new(kind);
    let server = fixture
        .server(
            two_users()
                .refresh_token_rotation(true)
                .max_sessions_per_user(3),
        )
        .await;
    let mut logins = Vec::new();
    for _ in 0..30 {
        logins.push(login_as(&server, USER, PASSWORD).await);
    }
    let (evicted, kept) = logins.split_at(27);
    for (_, refresh_token) in evicted {
        refresh(&server, refresh_token).await.assert_unauthorized();
    }
    for (access, refresh_token) in kept {
        assert_eq!(ping(&server, access).await, 200);
        tokens(&refresh(&server, refresh_token).await);
    }
    victim_session_works(&server).await;
}

/// One user revoking far more tokens than the per-user bound: every revocation holds (past the
/// bound, as a watermark), nobody else is refused anything, and the abuser logs in again.
async fn logouts_past_the_revocation_bound_hold_and_refuse_nobody(kind: Kind) {
    let fixture = Fixture::new(kind);
    let server = fixture
        .server(two_users().max_revocations_per_user(4))
        .await;
    let victim_before = login_as(&server, VICTIM, VICTIM_PASSWORD).await;
    let (mut revoked, mut logged_out) = (Vec::new(), 0);
    for n in 0..40 {
        let (access, refresh_token) = login_as(&server, USER, PASSWORD).await;
        // A login in the very second of a watermark is covered by it (`iat` counts seconds):
        // already refused. Any other is logged out, half by access token, half by refresh
        // token (the whole login).
        if ping(&server, &access).await == 200 {
            let token = if n % 2 == 0 { &access } else { &refresh_token };
            assert_eq!(logout(&server, token).await, 204, "logout {n}");
            logged_out += 1;
        }
        revoked.push((n, access, refresh_token));
    }
    assert!(
        logged_out > 4,
        "only {logged_out} logouts: the bound was never passed"
    );
    for (n, access, refresh_token) in &revoked {
        assert_eq!(ping(&server, access).await, 401, "login {n}");
        if n % 2 == 1 {
            refresh(&server, refresh_token).await.assert_unauthorized();
        }
    }
    // The victim's earlier login is untouched, and a new session works end to end.
    assert_eq!(ping(&server, &victim_before.0).await, 200);
    tokens(&refresh(&server, &victim_before.1).await);
    victim_session_works(&server).await;
    // The abuser is not locked out: a login after the newest revoked token works.
    next_second().await;
    let (access, _) = login_as(&server, USER, PASSWORD).await;
    assert_eq!(ping(&server, &access).await, 200);
}

/// Two refreshes with the same token at once (two browser tabs, a client's retry): both
/// succeed, and both new refresh tokens go on working.
async fn concurrent_refreshes_within_the_grace_both_succeed(kind: Kind) {
    let fixture = Fixture::new(kind);
    let server = fixture.server(builder().refresh_token_rotation(true)).await;
    for trial in 0..10 {
        let (_, first) = login_as(&server, USER, PASSWORD).await;
        let (one, two) = tokio::join!(refresh(&server, &first), refresh(&server, &first));
        let ((access_one, next_one), (access_two, next_two)) = (tokens(&one), tokens(&two));
        assert_ne!(next_one, next_two, "trial {trial}");
        for access in [&access_one, &access_two] {
            assert_eq!(ping(&server, access).await, 200, "trial {trial}");
        }
        // Each tab goes on refreshing with its own token.
        tokens(&refresh(&server, &next_one).await);
        tokens(&refresh(&server, &next_two).await);
    }
}

/// Reuse after the grace is theft: the family is revoked, its access tokens included, so that
/// the 401's message ("every token of its login is revoked") is true.
async fn reuse_after_the_grace_revokes_every_token_of_the_login(kind: Kind) {
    let fixture = Fixture::new(kind);
    let server = fixture
        .server(
            two_users()
                .refresh_token_rotation(true)
                .refresh_token_reuse_grace(Duration::from_millis(300)),
        )
        .await;
    let (access, first) = login_as(&server, USER, PASSWORD).await;
    let (refreshed, second) = tokens(&refresh(&server, &first).await);
    let (other_access, other_refresh) = login_as(&server, USER, PASSWORD).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let reused = refresh(&server, &first).await;
    reused.assert_unauthorized();
    assert_eq!(
        reused.json()["details"][0],
        "the refresh token was already used; every token of its login is revoked"
    );
    for token in [&access, &refreshed] {
        assert_eq!(ping(&server, token).await, 401);
    }
    refresh(&server, &second).await.assert_unauthorized();
    // The user's other login, and the other user, are untouched.
    assert_eq!(ping(&server, &other_access).await, 200);
    tokens(&refresh(&server, &other_refresh).await);
    victim_session_works(&server).await;
}

/// Failed logins from far more addresses than the throttle table holds: every one is answered
/// as a failure (never 503), and a right password from elsewhere still logs in.
async fn a_full_throttle_table_refuses_nobody(kind: Kind) {
    let fixture = Fixture::new(kind);
    let store = fixture.store_with(MemoryStore::new().max_throttle_counters(20));
    let layer = two_users()
        .login_throttle(LoginThrottle::new().max_failures_per_user(2))
        .store(store)
        .build()
        .unwrap();
    let server = spawn(Stack::Hyper, layer).await;
    for n in 0..150u8 {
        let from = IpAddr::V4(Ipv4Addr::new(127, 1, n / 100, n % 100 + 1));
        for _ in 0..2 {
            let request = login_request(VICTIM, "wrong", &[]);
            let reply = send_raw_from(from, server.addr, &request).await;
            assert!(matches!(reply.status, 401 | 429), "{}", reply.status);
        }
    }
    let from = IpAddr::V4(Ipv4Addr::new(127, 2, 0, 1));
    let reply = send_raw_from(
        from,
        server.addr,
        &login_request(VICTIM, VICTIM_PASSWORD, &[]),
    )
    .await;
    tokens(&reply);
    victim_session_works(&server).await;
}

on_both_stores!(
    logins_past_the_session_bound_end_the_oldest_and_refuse_nobody,
    logouts_past_the_revocation_bound_hold_and_refuse_nobody,
    concurrent_refreshes_within_the_grace_both_succeed,
    reuse_after_the_grace_revokes_every_token_of_the_login,
    a_full_throttle_table_refuses_nobody,
);

// ---------------------------------------------------------------------------------------------
// Several replicas on one Redis.
// ---------------------------------------------------------------------------------------------

#[cfg(feature = "redis")]
mod replicas {
    use std::time::Instant;

    use super::*;

    #[tokio::test]
    async fn concurrent_refreshes_through_two_replicas_both_succeed() {
        let fixture = Fixture::new(Kind::Redis);
        let one = fixture.server(builder().refresh_token_rotation(true)).await;
        let two = fixture.server(builder().refresh_token_rotation(true)).await;
        for _ in 0..10 {
            let (_, first) = login_as(&one, USER, PASSWORD).await;
            let (a, b) = tokio::join!(refresh(&one, &first), refresh(&two, &first));
            let ((_, next_a), (_, next_b)) = (tokens(&a), tokens(&b));
            tokens(&refresh(&two, &next_a).await);
            tokens(&refresh(&one, &next_b).await);
        }
    }

    #[tokio::test]
    async fn reuse_through_one_replica_refuses_the_logins_access_tokens_on_the_other() {
        let fixture = Fixture::new(Kind::Redis);
        let config = || {
            builder()
                .refresh_token_rotation(true)
                .refresh_token_reuse_grace(Duration::ZERO)
        };
        let one = fixture.server(config()).await;
        let two = fixture.server(config()).await;
        tokio::time::sleep(Duration::from_millis(200)).await; // both subscriptions are up
        let (access, first) = login_as(&one, USER, PASSWORD).await;
        tokens(&refresh(&one, &first).await);
        assert_eq!(ping(&two, &access).await, 200);
        refresh(&one, &first).await.assert_unauthorized();
        let start = Instant::now();
        while ping(&two, &access).await != 401 {
            assert!(start.elapsed() < Duration::from_secs(2), "not refused");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test]
    async fn a_replica_started_after_a_watermark_refuses_what_it_covers() {
        let fixture = Fixture::new(Kind::Redis);
        let one = fixture.server(builder().max_revocations_per_user(2)).await;
        let mut revoked = Vec::new();
        for _ in 0..6 {
            let (access, _) = login_as(&one, USER, PASSWORD).await;
            // Unless a watermark of this very second covers it already.
            if ping(&one, &access).await == 200 {
                assert_eq!(logout(&one, &access).await, 204);
            }
            revoked.push(access);
        }
        let late = fixture.server(builder().max_revocations_per_user(2)).await;
        for access in &revoked {
            let start = Instant::now();
            while ping(&late, access).await != 401 {
                assert!(start.elapsed() < Duration::from_secs(2), "not refused");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
}
