//! What the layer logs, over real HTTP: the outcome and reason of every refusal at `debug`, never
//! a password or a token, and nothing at all at `info` for whatever an attacker sends.
//!
//! Each test installs its own subscriber for its own thread (`set_default`); the tests run on
//! tokio's current-thread runtime, so the servers they start log on that thread too.

mod support;

use std::io;
use std::sync::{Arc, Mutex};

use support::*;
use tower_jwt_login::{JwtLoginLayer, LoginThrottle, Password};
use tracing::Level;
use tracing::subscriber::DefaultGuard;

const PASSWORD_MARKER: &str = "PASSWORD-MARKER-swordfish";
const USERNAME_MARKER: &str = "mallory-USERNAME-MARKER";

/// The formatted log lines of one test.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl io::Write for Lines {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Lines {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }

    /// The lines that hold the message `message`.
    fn with_message(&self, message: &str) -> Vec<String> {
        self.text()
            .lines()
            .filter(|line| line.contains(message))
            .map(str::to_owned)
            .collect()
    }
}

/// Captures this thread's events up to `level`, formatted as an operator would see them (span
/// fields included), until the guard is dropped.
fn capture(level: Level) -> (Lines, DefaultGuard) {
    let lines = Lines::default();
    let writer = lines.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    (lines, tracing::subscriber::set_default(subscriber))
}

fn assert_no_secret(log: &str, extra: &[&str]) {
    for needle in [PASSWORD_MARKER, PASSWORD, SECRET].iter().chain(extra) {
        assert!(!log.contains(needle), "the log holds {needle:?}:\n{log}");
    }
}

/// The signature of a token: finding it in a log is finding the token.
fn signature(token: &str) -> &str {
    token.rsplit('.').next().unwrap()
}

#[tokio::test]
async fn failed_login_logs_outcome_username_and_client_at_debug_but_never_the_password() {
    let (lines, _guard) = capture(Level::DEBUG);
    let server = spawn(Stack::Hyper, builder().build().unwrap()).await;

    login_with(server.addr, USERNAME_MARKER, PASSWORD_MARKER)
        .await
        .assert_error(401);
    login_with(server.addr, USER, PASSWORD_MARKER)
        .await
        .assert_error(401);

    let failed = lines.with_message("login failed");
    assert_eq!(failed.len(), 2, "{}", lines.text());
    for (line, username) in failed.iter().zip([USERNAME_MARKER, USER]) {
        assert!(line.contains("DEBUG"), "{line}");
        assert!(line.contains(r#"outcome="invalid_credentials""#), "{line}");
        assert!(line.contains(&format!("username=\"{username}\"")), "{line}");
        // The login span names the client.
        assert!(line.contains("login{client=127.0.0.1:"), "{line}");
    }
    assert_no_secret(&lines.text(), &[]);
}

#[tokio::test]
async fn long_or_hostile_usernames_are_logged_cut_to_64_characters_and_escaped() {
    let (lines, _guard) = capture(Level::DEBUG);
    let server = spawn(Stack::Hyper, builder().build().unwrap()).await;

    let long = format!("{}{}", "u".repeat(64), "TAIL-MARKER".repeat(50));
    login_with(server.addr, &long, PASSWORD_MARKER)
        .await
        .assert_error(401);
    // A username that would forge a log line if it were written raw.
    let forging = "eve\nINFO tower_jwt_login: login succeeded username=\"admin\"";
    login_with(server.addr, forging, PASSWORD_MARKER)
        .await
        .assert_error(401);

    let log = lines.text();
    let failed = lines.with_message("login failed");
    assert_eq!(failed.len(), 2, "{log}");
    assert!(
        failed[0].contains(&format!("username=\"{}\"", "u".repeat(64))),
        "{log}"
    );
    assert!(!log.contains("TAIL-MARKER"), "{log}");
    assert!(failed[1].contains(r#"username="eve\nINFO"#), "{log}");
    // Two events, two lines: the newline did not start a forged one.
    assert_eq!(log.lines().count(), 2, "{log}");
    assert_no_secret(&log, &[]);
}

#[tokio::test]
async fn rejected_token_logs_the_reason_code_at_debug_and_never_the_token() {
    let (lines, _guard) = capture(Level::DEBUG);
    let server = spawn(Stack::Hyper, builder().build().unwrap()).await;

    let forged = forge(
        HEADER,
        &claims("access").to_string(),
        b"not the server's key",
    );
    let mut expired_claims = claims("access");
    expired_claims["exp"] = (now() - 3600).into();
    let expired = forge_claims(&expired_claims);
    for token in [&forged, &expired] {
        get(server.addr, "/api/v3/ping", Some(token))
            .await
            .assert_unauthorized();
    }

    let rejected = lines.with_message("token rejected");
    assert_eq!(rejected.len(), 2, "{}", lines.text());
    for (line, reason) in rejected.iter().zip(["bad_signature", "expired"]) {
        assert!(line.contains("DEBUG"), "{line}");
        assert!(line.contains(&format!("reason=\"{reason}\"")), "{line}");
    }
    assert_no_secret(&lines.text(), &[signature(&forged), signature(&expired)]);
}

#[tokio::test]
async fn at_info_a_flood_of_bad_tokens_and_logins_logs_nothing() {
    let (lines, _guard) = capture(Level::INFO);
    let layer = builder()
        .login_throttle(LoginThrottle::new().max_failures_per_user(3))
        .build()
        .unwrap();
    let server = spawn(Stack::Hyper, layer).await;

    let forged = forge(
        HEADER,
        &claims("access").to_string(),
        b"not the server's key",
    );
    let mut statuses = Vec::new();
    for i in 0..20 {
        let username = format!("{USERNAME_MARKER}-{i}");
        statuses.push(get(server.addr, "/api/v3/ping", Some(&forged)).await.status);
        statuses.push(
            get(server.addr, "/api/v3/ping", Some("garbage"))
                .await
                .status,
        );
        statuses.push(get(server.addr, "/api/v3/ping", None).await.status);
        statuses.push(
            get(server.addr, "/api/login/refresh", Some(&forged))
                .await
                .status,
        );
        statuses.push(
            call_with(server.addr, "POST", "/api/logout", &forged)
                .await
                .status,
        );
        statuses.push(login_with(server.addr, USER, PASSWORD_MARKER).await.status);
        statuses.push(
            login_with(server.addr, &username, PASSWORD_MARKER)
                .await
                .status,
        );
        let malformed = raw_request("POST", "/api/login", &[], b"username=a&password=b");
        statuses.push(send_raw(server.addr, &malformed).await.status);
    }
    // The flood went through every refusal: 401s, the throttle's 429s, and 415s.
    for status in [401, 429, 415] {
        assert!(statuses.contains(&status), "{statuses:?}");
    }
    assert_eq!(
        lines.text(),
        "",
        "an attacker wrote to the default log level"
    );

    // The capture works: a real login is logged at info, with its username and client.
    let throttled_elsewhere = send_raw_from(
        "127.0.0.2".parse().unwrap(),
        server.addr,
        &login_request(USER, PASSWORD, &[]),
    )
    .await;
    assert_eq!(
        throttled_elsewhere.status,
        200,
        "{}",
        throttled_elsewhere.text()
    );
    let succeeded = lines.with_message("login succeeded");
    assert_eq!(succeeded.len(), 1, "{}", lines.text());
    assert!(succeeded[0].contains(" INFO "), "{}", succeeded[0]);
    assert!(succeeded[0].contains("username=admin"), "{}", succeeded[0]);
    assert!(
        succeeded[0].contains("client=127.0.0.2:"),
        "{}",
        succeeded[0]
    );
    assert_no_secret(&lines.text(), &[USERNAME_MARKER]);
}

#[tokio::test]
async fn refresh_and_logout_are_logged_without_their_tokens() {
    let (lines, _guard) = capture(Level::DEBUG);
    let layer = JwtLoginLayer::builder()
        .user(USER, Password::plain(PASSWORD))
        .secret(SECRET)
        .refresh_token_rotation(true)
        .refresh_token_reuse_grace(std::time::Duration::ZERO)
        .build()
        .unwrap();
    let server = spawn(Stack::Hyper, layer).await;
    let (first_access, refresh) = login(server.addr).await;

    let refreshed = get(server.addr, "/api/login/refresh", Some(&refresh)).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.text());
    let new_refresh = refreshed.json()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // Replaying the spent refresh token revokes its family, its access token too.
    get(server.addr, "/api/login/refresh", Some(&refresh))
        .await
        .assert_unauthorized();
    let (access, _) = login(server.addr).await;
    assert_eq!(
        call_with(server.addr, "POST", "/api/logout", &access)
            .await
            .status,
        204
    );

    let log = lines.text();
    let refreshed = lines.with_message("access token refreshed");
    assert_eq!(refreshed.len(), 1, "{log}");
    assert!(
        refreshed[0].contains("username=admin rotated=true"),
        "{log}"
    );
    let reused = lines.with_message("presented again");
    assert_eq!(reused.len(), 1, "{log}");
    assert!(reused[0].contains(" WARN "), "{log}");
    assert_eq!(lines.with_message("refresh_token_reused").len(), 1, "{log}");
    let logged_out = lines.with_message("logged out");
    assert_eq!(logged_out.len(), 1, "{log}");
    assert!(logged_out[0].contains("usefor=access"), "{log}");
    let tokens = [&first_access, &access, &refresh, &new_refresh];
    assert_no_secret(&log, &tokens.map(|t| signature(t)));
}

/// Without a secret, each layer signs with its own random key, and says so once, at `info`:
/// a token from one is refused by another, and the log names no key.
#[tokio::test(flavor = "current_thread")]
async fn a_layer_without_a_secret_uses_a_random_key_and_says_so_once() {
    let (lines, _guard) = capture(Level::INFO);
    let without_secret = || {
        JwtLoginLayer::builder()
            .user(USER, Password::plain(PASSWORD))
            .build()
            .unwrap()
    };
    let first = spawn(Stack::Hyper, without_secret()).await;
    let second = spawn(Stack::Hyper, without_secret()).await;
    let (access, _) = login(first.addr).await;
    assert_eq!(
        get(first.addr, "/api/v3/ping", Some(&access)).await.status,
        200
    );
    get(second.addr, "/api/v3/ping", Some(&access))
        .await
        .assert_unauthorized();

    let notices = lines.with_message("no JWT secret configured");
    assert_eq!(notices.len(), 2, "once per layer built: {notices:?}");
    assert!(
        notices.iter().all(|line| line.contains("INFO")),
        "{notices:?}"
    );
}

/// A store that is down fails every login alike: the route and the Redis store each write one
/// line per interval (10 s), and the next line counts the ones skipped, however many requests
/// failed in between (a 22 MB log in one outage before).
#[cfg(feature = "redis")]
#[tokio::test(flavor = "current_thread")]
async fn a_thousand_store_failures_write_a_handful_of_lines_that_count_the_rest() {
    const FAILURES: usize = 1_000;
    let (lines, _guard) = capture(Level::WARN);
    // A port that nothing listens on: every Redis call fails, connection refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://{}/", closed.local_addr().unwrap());
    drop(closed);
    let store = tower_jwt_login::RedisStore::connect(&url).unwrap();
    let server = spawn(Stack::Hyper, builder().store(store).build().unwrap()).await;

    // In batches: a failed Redis call takes a reconnection attempt, which the calls waiting
    // together share.
    let started = std::time::Instant::now();
    for _ in 0..FAILURES / 100 {
        let mut batch = tokio::task::JoinSet::new();
        for _ in 0..100 {
            batch.spawn(login_with(server.addr, USER, PASSWORD_MARKER));
        }
        while let Some(reply) = batch.join_next().await {
            reply.unwrap().assert_error(503);
        }
    }
    let unavailable = lines.with_message("the token store is unavailable");
    let redis = lines.with_message("Redis call");
    // One line each, or two if the loop outlasted the interval on a busy machine.
    let limit = if started.elapsed().as_secs() < 10 {
        1
    } else {
        3
    };
    assert!(
        (1..=limit).contains(&unavailable.len()) && (1..=limit).contains(&redis.len()),
        "{} lines for {FAILURES} failures:\n{}",
        lines.text().lines().count(),
        lines.text()
    );

    // Once the interval is over, the next failure's line counts those skipped in between.
    tokio::time::sleep(std::time::Duration::from_millis(10_500)).await;
    login_with(server.addr, USER, PASSWORD_MARKER)
        .await
        .assert_error(503);
    for message in ["the token store is unavailable", "Redis call"] {
        let last = lines.with_message(message).pop().unwrap();
        let suppressed: usize = last
            .split("suppressed=")
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|count| count.parse().ok())
            .unwrap_or_else(|| panic!("no count in {last:?}"));
        assert!(
            suppressed + limit >= FAILURES && suppressed < FAILURES,
            "{suppressed} suppressed: {last}"
        );
    }
    assert_no_secret(&lines.text(), &[]);
}
