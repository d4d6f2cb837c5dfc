//! The examples as servers people copy: the serve loop both examples share (header-read and idle
//! timeouts, a connection cap) over real connections on 127.0.0.1, and the environment
//! variables that configure them.
//!
//! Timings allow 2 s of slack: the suite runs on two busy cores.

mod support;

#[allow(dead_code)]
#[path = "../examples/common/mod.rs"]
mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::Limits;
use http::{Request, Response};
use http_body_util::{BodyExt as _, Full};
use support::*;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tower_jwt_login::{JwtLoginConfig, PeerAddr};

const SLACK: Duration = Duration::from_secs(2);
const LONG: Duration = Duration::from_secs(60);

/// A running serve loop, stopped when dropped.
struct Serving {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Serving {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `common::serve` within `limits`, in front of a service that reads each request's body, as the
/// login route does, and answers with the peer address the serve loop gave it.
async fn serve(limits: Limits) -> Serving {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let echo_peer = tower::service_fn(|request: Request<hyper::body::Incoming>| async move {
        let peer = request.extensions().get::<PeerAddr>().map(|p| p.0);
        let _ = request.into_body().collect().await;
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(format!("{peer:?}")))))
    });
    let task = tokio::spawn(common::serve(
        listener,
        limits,
        move |_| echo_peer,
        std::future::pending(),
    ));
    Serving { addr, task }
}

fn limits(header_read: Duration, idle: Duration, max_connections: usize) -> Limits {
    Limits {
        header_read_timeout: header_read,
        idle_timeout: idle,
        max_connections,
    }
}

/// A kept-alive `GET /`.
const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

/// Reads one response (with a `content-length`) from a kept-alive connection, and returns its
/// body.
async fn read_response(stream: &mut TcpStream) -> String {
    let mut raw = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(
            n > 0,
            "closed mid-response: {:?}",
            String::from_utf8_lossy(&raw)
        );
        raw.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&raw).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length: usize = text[..end]
                .lines()
                .find_map(|line| {
                    line.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(str::to_owned)
                })
                .expect("content-length")
                .trim()
                .parse()
                .unwrap();
            if raw.len() >= end + 4 + length {
                assert!(text.starts_with("HTTP/1.1 200"), "{text}");
                return text[end + 4..end + 4 + length].to_owned();
            }
        }
    }
}

/// How long the server takes to close `stream` (reading whatever it sends first), or `None` if
/// it is still open after `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut sink = Vec::new();
    match tokio::time::timeout(within, stream.read_to_end(&mut sink)).await {
        Ok(_) => Some(started.elapsed()),
        Err(_) => None,
    }
}

#[tokio::test]
async fn every_request_carries_the_peer_address_of_its_connection() {
    let server = serve(limits(LONG, LONG, 10)).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(GET).await.unwrap();
    let local = stream.local_addr().unwrap();
    assert_eq!(read_response(&mut stream).await, format!("Some({local})"));
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_after_the_header_read_timeout() {
    let timeout = Duration::from_secs(1);
    let server = serve(limits(timeout, LONG, 10)).await;
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    let closed = closed_within(&mut silent, timeout + SLACK).await;
    let closed = closed.expect("a silent connection outlived the header-read timeout");
    assert!(closed >= timeout - Duration::from_millis(100), "{closed:?}");
}

#[tokio::test]
async fn a_head_sent_a_byte_at_a_time_is_cut_off_by_the_header_read_timeout() {
    let timeout = Duration::from_secs(1);
    let server = serve(limits(timeout, LONG, 10)).await;
    let mut slow = TcpStream::connect(server.addr).await.unwrap();
    let started = Instant::now();
    // Each byte resets the idle timeout, never the header-read one; the head never ends.
    let head = b"GET / HTTP/1.1\r\nX-Slow: "
        .iter()
        .chain(std::iter::repeat(&b'a'));
    for byte in head.take(200) {
        if slow.write_all(&[*byte]).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let closed = closed_within(&mut slow, SLACK)
        .await
        .map(|_| started.elapsed());
    let closed = closed.expect("a slow head outlived the header-read timeout");
    assert!(closed < timeout + SLACK, "{closed:?}");
}

#[tokio::test]
async fn a_kept_alive_connection_is_closed_after_the_header_read_timeout_between_requests() {
    let timeout = Duration::from_secs(1);
    let server = serve(limits(timeout, LONG, 10)).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(GET).await.unwrap();
    read_response(&mut stream).await;
    // hyper starts the header-read timeout again as soon as the response is written.
    closed_within(&mut stream, timeout + SLACK)
        .await
        .expect("an idle kept-alive connection outlived the header-read timeout");
}

#[tokio::test]
async fn a_kept_alive_connection_is_closed_after_the_idle_timeout() {
    let idle = Duration::from_secs(1);
    let server = serve(limits(LONG, idle, 10)).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(GET).await.unwrap();
    read_response(&mut stream).await;
    let closed = closed_within(&mut stream, idle + SLACK).await;
    let closed = closed.expect("an idle kept-alive connection outlived the idle timeout");
    assert!(closed >= idle - Duration::from_millis(100), "{closed:?}");
}

#[tokio::test]
async fn a_stalled_request_body_is_cut_off_by_the_idle_timeout() {
    let idle = Duration::from_secs(1);
    let server = serve(limits(LONG, idle, 10)).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\nten bytes!")
        .await
        .unwrap();
    let closed = closed_within(&mut stream, idle + SLACK).await;
    let closed = closed.expect("a stalled body outlived the idle timeout");
    assert!(closed >= idle - Duration::from_millis(100), "{closed:?}");
}

#[tokio::test]
async fn requests_more_often_than_the_idle_timeout_keep_the_connection_open() {
    let idle = Duration::from_secs(1);
    let server = serve(limits(LONG, idle, 10)).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    // Three times the idle timeout in all, the timer firing and moving on in between.
    for _ in 0..10 {
        stream.write_all(GET).await.unwrap();
        read_response(&mut stream).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test]
async fn connections_past_the_cap_wait_unserved_until_one_closes() {
    let server = serve(limits(LONG, LONG, 2)).await;
    let mut first = TcpStream::connect(server.addr).await.unwrap();
    let mut second = TcpStream::connect(server.addr).await.unwrap();
    for stream in [&mut first, &mut second] {
        stream.write_all(GET).await.unwrap();
        read_response(stream).await;
    }
    // The kernel completes the handshake (the backlog), but the server does not accept it.
    let mut third = TcpStream::connect(server.addr).await.unwrap();
    third.write_all(GET).await.unwrap();
    let mut byte = [0u8; 1];
    let waited = tokio::time::timeout(Duration::from_secs(1), third.read(&mut byte)).await;
    assert!(
        waited.is_err(),
        "the third connection was served: {waited:?}"
    );

    drop(first);
    tokio::time::timeout(SLACK * 2, read_response(&mut third))
        .await
        .expect("served once a connection closed");
    // And the connections within the cap were served all along.
    second.write_all(GET).await.unwrap();
    read_response(&mut second).await;
}

#[test]
fn the_server_limits_default_to_datarhei_cores_and_are_read_from_the_environment() {
    assert_eq!(
        Limits::from_lookup(lookup(&[])).unwrap(),
        limits(Duration::from_secs(10), Duration::from_secs(120), 10_000)
    );
    let set = Limits::from_lookup(lookup(&[
        ("CORE_API_READ_HEADER_TIMEOUT_SECONDS", "3"),
        ("CORE_API_IDLE_TIMEOUT_SECONDS", "30"),
        ("CORE_API_MAX_CONNECTIONS", "500"),
    ]));
    assert_eq!(
        set.unwrap(),
        limits(Duration::from_secs(3), Duration::from_secs(30), 500)
    );
    for value in ["0", "-1", "ten", "1.5"] {
        for name in [
            "CORE_API_READ_HEADER_TIMEOUT_SECONDS",
            "CORE_API_IDLE_TIMEOUT_SECONDS",
            "CORE_API_MAX_CONNECTIONS",
        ] {
            let error = Limits::from_lookup(lookup(&[(name, value)])).unwrap_err();
            assert!(error.starts_with(&format!("{name}=")), "{error}");
        }
    }
}

#[test]
fn every_store_and_session_variable_is_written_to_its_configuration_field() {
    let config = JwtLoginConfig::from_lookup(lookup(&[
        ("CORE_API_AUTH_PASSWORD", "pw"),
        ("CORE_API_AUTH_REFRESH_ROTATION", "true"),
        ("CORE_API_AUTH_REFRESH_REUSE_GRACE_SECONDS", "5"),
        ("CORE_API_AUTH_MAX_SESSIONS_PER_USER", "20"),
        ("CORE_API_AUTH_MAX_REVOCATIONS_PER_USER", "300"),
        ("CORE_API_AUTH_MAX_CONCURRENT_PASSWORD_HASHES", "4"),
        ("CORE_API_AUTH_MAX_THROTTLE_COUNTERS", "50000"),
    ]))
    .unwrap();
    // The fields are private: their `Debug` shows what the variables wrote.
    let config = format!("{config:?}");
    for field in [
        "refresh_token_rotation: Some(true)",
        "refresh_token_reuse_grace_seconds: Some(5)",
        "max_sessions_per_user: Some(20)",
        "max_revocations_per_user: Some(300)",
        "max_concurrent_password_hashes: Some(4)",
        "store: Some(Memory { max_throttle_counters: Some(50000) })",
    ] {
        assert!(config.contains(field), "{field} in {config}");
    }
    let error = JwtLoginConfig::from_lookup(lookup(&[
        ("CORE_API_AUTH_PASSWORD", "pw"),
        ("CORE_API_AUTH_MAX_SESSIONS_PER_USER", "many"),
    ]))
    .unwrap_err()
    .to_string();
    assert!(
        error.starts_with("CORE_API_AUTH_MAX_SESSIONS_PER_USER=\"many\""),
        "{error}"
    );
}

/// The configuration fields of some variables arrive with the per-user bounds: until then the
/// layer refuses them, and the error names the variable rather than a field the operator
/// never wrote.
#[test]
fn a_variable_the_configuration_does_not_know_is_named_in_the_error() {
    for name in [
        "CORE_API_AUTH_REFRESH_REUSE_GRACE_SECONDS",
        "CORE_API_AUTH_MAX_SESSIONS_PER_USER",
        "CORE_API_AUTH_MAX_REVOCATIONS_PER_USER",
        "CORE_API_AUTH_MAX_CONCURRENT_PASSWORD_HASHES",
        "CORE_API_AUTH_MAX_THROTTLE_COUNTERS",
    ] {
        if let Err(error) = layer_from_env(lookup(&[("CORE_API_AUTH_PASSWORD", "pw"), (name, "5")]))
        {
            assert!(
                error.to_string().starts_with(&format!("{name}: ")),
                "{error}"
            );
        }
    }
}

/// Spends `refresh` twice: the statuses of the two refreshes.
async fn refresh_twice(addr: SocketAddr, refresh: &str) -> [u16; 2] {
    let first = get(addr, "/api/login/refresh", Some(refresh)).await.status;
    let second = get(addr, "/api/login/refresh", Some(refresh)).await.status;
    [first, second]
}

#[tokio::test]
async fn refresh_token_rotation_is_set_from_the_environment() {
    // No reuse grace, so that the second refresh with a spent token is reuse at once.
    let base = [
        ("CORE_API_AUTH_PASSWORD", PASSWORD),
        ("CORE_API_AUTH_JWT_SECRET", SECRET),
        ("CORE_API_AUTH_REFRESH_REUSE_GRACE_SECONDS", "0"),
    ];
    for (rotation, expected) in [(None, [200, 200]), (Some("true"), [200, 401])] {
        let mut variables = base.to_vec();
        variables.extend(rotation.map(|value| ("CORE_API_AUTH_REFRESH_ROTATION", value)));
        let server = spawn(Stack::Hyper, layer_from_env(lookup(&variables)).unwrap()).await;
        let (_, refresh) = login(server.addr).await;
        assert_eq!(
            refresh_twice(server.addr, &refresh).await,
            expected,
            "rotation {rotation:?}"
        );
    }
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn the_redis_url_puts_the_store_in_redis() {
    let redis = RedisServer::start();
    let url = redis.url().leak();
    let layer = layer_from_env(lookup(&[
        ("CORE_API_AUTH_PASSWORD", PASSWORD),
        ("CORE_API_AUTH_JWT_SECRET", SECRET),
        ("CORE_API_AUTH_REFRESH_ROTATION", "true"),
        ("CORE_API_AUTH_REFRESH_REUSE_GRACE_SECONDS", "0"),
        ("CORE_API_AUTH_REDIS_URL", url),
    ]))
    .unwrap();
    let server = spawn(Stack::Hyper, layer).await;
    assert_eq!(redis.command("DBSIZE"), ":0\r\n");
    let (_, refresh) = login(server.addr).await;
    // The family of the refresh token is in Redis.
    assert_ne!(redis.command("DBSIZE"), ":0\r\n");
    assert_eq!(refresh_twice(server.addr, &refresh).await, [200, 401]);
}

#[cfg(not(feature = "redis"))]
#[test]
fn the_redis_url_without_the_redis_feature_names_the_feature() {
    let error = layer_from_env(lookup(&[
        ("CORE_API_AUTH_PASSWORD", PASSWORD),
        ("CORE_API_AUTH_REDIS_URL", "redis://:hunter2@127.0.0.1/"),
    ]))
    .unwrap_err()
    .to_string();
    assert!(error.contains("--features redis"), "{error}");
    assert!(!error.contains("hunter2"), "{error}");
}

#[test]
fn a_redis_url_with_a_throttle_counter_bound_is_refused() {
    let error = JwtLoginConfig::from_lookup(lookup(&[
        ("CORE_API_AUTH_PASSWORD", "pw"),
        ("CORE_API_AUTH_REDIS_URL", "redis://127.0.0.1/"),
        ("CORE_API_AUTH_MAX_THROTTLE_COUNTERS", "10"),
    ]))
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("CORE_API_AUTH_MAX_THROTTLE_COUNTERS"),
        "{error}"
    );
}
