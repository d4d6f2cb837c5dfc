//! State under abuse, in release mode: what a full throttle table and a failed-login flood
//! cost a protected request and a failed login, and the server's peak memory after ten times
//! the default bounds' worth of abuse.
//!
//! ```sh
//! cargo bench --all-features --bench flood
//! ```
//!
//! One process: the server (hyper, the layer with its defaults, rotation on, the memory store)
//! on a runtime of its own, and the clients on another, over loopback. The throttle tells
//! clients apart by an `X-Client` header here, so that a hundred thousand clients need no
//! hundred thousand addresses; the store does the same work either way. Peak RSS (VmHWM) is
//! the whole process's, clients included. Without `--bench` (as `cargo test --benches` runs
//! it) it runs once at a hundredth of the scale, to show that it works.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tower::{Layer as _, ServiceExt as _};
use tower_jwt_login::{JwtLoginLayer, LoginThrottle, MemoryStore, Password, PeerAddr};

const USER: &str = "admin";
const PASSWORD: &str = "correct horse battery staple";
const THROTTLE_COUNTERS: usize = 100_000;
const REVOCATIONS_PER_USER: usize = 1_000;

fn main() {
    let full = std::env::args().any(|arg| arg == "--bench");
    let scale = if full { 1 } else { 100 };
    let counters = THROTTLE_COUNTERS / scale;
    let layer = JwtLoginLayer::builder()
        .user(USER, Password::plain(PASSWORD))
        .secret("a flood benchmark secret of 40 bytes!!!!")
        .refresh_token_rotation(true)
        .max_revocations_per_user(REVOCATIONS_PER_USER / scale)
        .store(MemoryStore::new().max_throttle_counters(counters))
        .login_throttle(
            LoginThrottle::new().client_key(|parts: &http::request::Parts| {
                Some(parts.headers.get("x-client")?.to_str().ok()?.to_owned())
            }),
        )
        .build()
        .expect("a valid configuration");
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let addr = server.block_on(serve(layer));
    let client = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    client.block_on(async {
        let hwm_start = peak_rss_kb();
        let clients = Arc::new(AtomicU64::new(0));
        let (_, access) = login(addr).await;
        measure(addr, &access, &clients, false).await; // warm-up: connections, caches
        let empty = measure(addr, &access, &clients, full).await;
        // Ten times the bounds' worth: failed logins from new clients (two counters each), and
        // one user's logins and logouts.
        let started = Instant::now();
        abuse(addr, &clients, 5 * counters as u64, 10 * REVOCATIONS_PER_USER / scale).await;
        let abuse_secs = started.elapsed().as_secs_f64();
        // The logouts made a watermark that refuses every token of the user issued so far (to
        // the second): log in again, a second later.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let (_, access) = login(addr).await;
        let flooded = measure(addr, &access, &clients, full).await;
        println!("{:<44} {:>12} {:>12} {:>6}", "median, with a failed-login flood running", "empty table", "full table", "ratio");
        for (name, before, after) in [
            ("protected request (us)", empty.protected_us, flooded.protected_us),
            ("failed login (us)", empty.failed_login_us, flooded.failed_login_us),
        ] {
            println!("{name:<44} {before:>12.0} {after:>12.0} {:>6.2}", after / before);
        }
        println!(
            "abuse: {} failed logins from as many clients and {} logins + logouts by one user in {abuse_secs:.1} s",
            5 * counters,
            10 * REVOCATIONS_PER_USER / scale
        );
        println!(
            "peak RSS (VmHWM): {} kB at the start, {} kB after the abuse",
            hwm_start,
            peak_rss_kb()
        );
    });
}

/// Serves `layer` around a service that answers `pong`; its address.
async fn serve(layer: JwtLoginLayer) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = layer.layer(tower::service_fn(|_: Request<Incoming>| async {
        Ok::<_, std::convert::Infallible>(http::Response::new(http_body_util::Full::new(
            bytes::Bytes::from_static(b"pong"),
        )))
    }));
    tokio::spawn(async move {
        loop {
            let Ok((stream, peer)) = listener.accept().await else {
                continue;
            };
            let service = service.clone();
            let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
                request.extensions_mut().insert(PeerAddr(peer));
                service.clone().oneshot(request)
            });
            tokio::spawn(async move {
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                let _ = builder
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

struct Medians {
    protected_us: f64,
    failed_login_us: f64,
}

/// Medians of sequential protected requests and failed logins, while four connections send
/// failed logins from new clients.
async fn measure(addr: SocketAddr, access: &str, clients: &Arc<AtomicU64>, full: bool) -> Medians {
    let stop = Arc::new(AtomicBool::new(false));
    let flood: Vec<_> = (0..4)
        .map(|_| {
            let (stop, clients) = (Arc::clone(&stop), Arc::clone(clients));
            tokio::spawn(async move {
                let mut connection = Connection::open(addr).await;
                while !stop.load(Ordering::Relaxed) {
                    let n = clients.fetch_add(1, Ordering::Relaxed);
                    connection.send(&failed_login(n)).await;
                }
            })
        })
        .collect();
    let count = if full { 3_000 } else { 100 };
    let mut connection = Connection::open(addr).await;
    let protected = request(
        "GET",
        "/api/v3/ping",
        &[("Authorization", &format!("Bearer {access}"))],
        "",
    );
    let mut protected_us = Vec::with_capacity(count);
    let mut failed_us = Vec::with_capacity(count);
    for _ in 0..count {
        let start = Instant::now();
        assert_eq!(connection.send(&protected).await, 200);
        protected_us.push(start.elapsed().as_secs_f64() * 1e6);
        let n = clients.fetch_add(1, Ordering::Relaxed);
        let start = Instant::now();
        assert_eq!(connection.send(&failed_login(n)).await, 401);
        failed_us.push(start.elapsed().as_secs_f64() * 1e6);
    }
    stop.store(true, Ordering::Relaxed);
    for task in flood {
        task.await.unwrap();
    }
    Medians {
        protected_us: median(protected_us),
        failed_login_us: median(failed_us),
    }
}

/// `failed` failed logins from new clients, and `pairs` logins and logouts by one user.
async fn abuse(addr: SocketAddr, clients: &Arc<AtomicU64>, failed: u64, pairs: usize) {
    let per_connection = failed / 4;
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let clients = Arc::clone(clients);
            tokio::spawn(async move {
                let mut connection = Connection::open(addr).await;
                for _ in 0..per_connection {
                    let n = clients.fetch_add(1, Ordering::Relaxed);
                    assert_eq!(connection.send(&failed_login(n)).await, 401);
                }
            })
        })
        .collect();
    for _ in 0..pairs {
        let (_, access) = login(addr).await;
        let logout = request(
            "POST",
            "/api/logout",
            &[("Authorization", &format!("Bearer {access}"))],
            "",
        );
        let status = Connection::open(addr).await.send(&logout).await;
        assert!(matches!(status, 204 | 401), "{status}");
    }
    for task in tasks {
        task.await.unwrap();
    }
}

async fn login(addr: SocketAddr) -> (u16, String) {
    let body = format!(r#"{{"username":"{USER}","password":"{PASSWORD}"}}"#);
    let login = request(
        "POST",
        "/api/login",
        &[
            ("Content-Type", "application/json"),
            ("X-Client", "the user"),
        ],
        &body,
    );
    let mut connection = Connection::open(addr).await;
    let status = connection.send(&login).await;
    assert_eq!(status, 200);
    let body = String::from_utf8_lossy(&connection.body).into_owned();
    let access = body.split('"').nth(3).unwrap().to_owned();
    (status, access)
}

fn failed_login(client: u64) -> Vec<u8> {
    let body = format!(r#"{{"username":"{USER}","password":"wrong"}}"#);
    let client = format!("client-{client}");
    request(
        "POST",
        "/api/login",
        &[("Content-Type", "application/json"), ("X-Client", &client)],
        &body,
    )
}

fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    request.into_bytes()
}

/// A keep-alive HTTP/1.1 connection that sends a request and reads its answer.
struct Connection {
    stream: TcpStream,
    buffer: Vec<u8>,
    body: Vec<u8>,
}

impl Connection {
    async fn open(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        Self {
            stream,
            buffer: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Sends `request`; the answer's status (its body in `self.body`).
    async fn send(&mut self, request: &[u8]) -> u16 {
        self.stream.write_all(request).await.unwrap();
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut response = httparse::Response::new(&mut headers);
            if let httparse::Status::Complete(head) = response.parse(&self.buffer).unwrap() {
                let length: usize = response
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                    .map_or(0, |h| {
                        std::str::from_utf8(h.value).unwrap().parse().unwrap()
                    });
                let status = response.code.unwrap();
                if self.buffer.len() >= head + length {
                    self.body = self.buffer[head..head + length].to_vec();
                    self.buffer.drain(..head + length);
                    return status;
                }
            }
            let mut chunk = [0u8; 8192];
            let read = self.stream.read(&mut chunk).await.unwrap();
            assert!(read > 0, "connection closed");
            self.buffer.extend_from_slice(&chunk[..read]);
        }
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The process's peak resident set (VmHWM), in kB; 0 where /proc is not there.
fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}
