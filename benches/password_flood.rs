//! Peak memory of a server under a flood of wrong passwords for an argon2id user: 400 logins at
//! once, each from a loopback address of its own (so the per-client throttle lets every one
//! through), against the layer with its default settings and a hash made with the argon2
//! crate's default parameters (19 MiB per check).
//!
//! ```text
//! cargo bench --bench password_flood
//! cargo bench --bench password_flood -- --logins 1000 --rounds 5
//! ```
//!
//! With `--rounds`, the flood comes again as soon as the one before is answered, each time from
//! new addresses: memory that one flood leaves behind shows as growth from round to round.
//!
//! The executable runs itself again as the server (`serve`), so that the figure is the server's
//! alone: `VmHWM` (peak resident memory) from `/proc/PID/status` after the flood. Linux only.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _};
use tower::{Layer as _, ServiceExt as _};
use tower_jwt_login::{JwtLoginLayer, Password, PeerAddr};

const USER: &str = "admin";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "serve") {
        serve();
        return;
    }
    let option = |name: &str, default: usize| {
        args.iter()
            .position(|a| a == name)
            .and_then(|at| args.get(at + 1))
            .map_or(default, |n| n.parse().expect("a number"))
    };
    let (logins, rounds) = (option("--logins", 400), option("--rounds", 1));
    assert!(
        logins > 0 && rounds > 0,
        "--logins and --rounds must be at least 1"
    );
    assert!(logins * rounds < 65_000, "one loopback address per login");
    drive(logins, rounds);
}

/// The server: the layer with its defaults in front of a service that answers 200, on
/// 127.0.0.1 and a free port, printed on the first line of stdout.
fn serve() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        use argon2::PasswordHasher as _;
        let phc = argon2::Argon2::default()
            .hash_password_with_salt(b"the right password", b"floodsaltfloodsalt")
            .unwrap()
            .to_string();
        let layer = JwtLoginLayer::builder()
            .user(USER, Password::phc(phc))
            .build()
            .unwrap();
        let inner = tower::service_fn(|_: Request<hyper::body::Incoming>| async {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
        });
        let service = layer.layer(inner);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("{}", listener.local_addr().unwrap().port());
        loop {
            let Ok((stream, peer)) = listener.accept().await else {
                continue;
            };
            let service = service.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |mut request: Request<_>| {
                    request.extensions_mut().insert(PeerAddr(peer));
                    service.clone().oneshot(request)
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
}

/// Starts the server, floods it, and prints its peak memory and the answers.
fn drive(logins: usize, rounds: usize) {
    let mut server = Command::new(std::env::current_exe().unwrap())
        .arg("serve")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = server.id();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let stdout = tokio::process::ChildStdout::from_std(server.stdout.take().unwrap()).unwrap();
        let mut line = String::new();
        tokio::io::BufReader::new(stdout)
            .read_line(&mut line)
            .await
            .unwrap();
        let addr = SocketAddr::from(([127, 0, 0, 1], line.trim().parse::<u16>().unwrap()));
        let before = status_kib(pid, "VmHWM");
        let body = serde_json::json!({ "username": USER, "password": "a wrong password" });
        let body = body.to_string();
        let request = Arc::new(format!(
            "POST /api/login HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ));
        println!("server VmHWM before the flood: {:.1} MiB", mib(before));
        for round in 0..rounds {
            flood_once(addr, &request, logins, round * logins).await;
            println!("  server VmHWM: {:.1} MiB", mib(status_kib(pid, "VmHWM")));
        }
    });
    let _ = server.kill();
    let _ = server.wait();
}

/// One flood of `logins` from the client addresses `first` and up; prints the answers.
async fn flood_once(addr: SocketAddr, request: &Arc<String>, logins: usize, first: usize) {
    let start = Instant::now();
    let sends: Vec<_> = (first..first + logins)
        .map(|n| {
            let request = Arc::clone(request);
            tokio::spawn(async move { send_from(client(n), addr, request.as_bytes()).await })
        })
        .collect();
    let mut answers: Vec<(u16, Duration)> = Vec::with_capacity(logins);
    for send in sends {
        answers.push(send.await.unwrap());
    }
    println!(
        "{logins} concurrent wrong-password logins from {logins} addresses in {:.2?}",
        start.elapsed()
    );
    for status in [401, 503] {
        let mut times: Vec<Duration> = answers
            .iter()
            .filter(|(s, _)| *s == status)
            .map(|(_, t)| *t)
            .collect();
        times.sort_unstable();
        if let (Some(median), Some(max)) = (times.get(times.len() / 2), times.last()) {
            println!(
                "  {status}: {:>4}, median {median:.2?}, slowest {max:.2?}",
                times.len()
            );
        }
    }
    let other = answers
        .iter()
        .filter(|(s, _)| ![401, 503].contains(s))
        .count();
    println!("  other: {other:>4}");
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The `n`th client address: 127.0.1.0 and up.
fn client(n: usize) -> IpAddr {
    let [_, _, high, low] = u32::try_from(256 + n).unwrap().to_be_bytes();
    IpAddr::V4(Ipv4Addr::new(127, 0, high, low))
}

/// Sends one request from `local` and answers the status and how long it took.
async fn send_from(local: IpAddr, addr: SocketAddr, request: &[u8]) -> (u16, Duration) {
    let start = Instant::now();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(local, 0)).unwrap();
    let mut stream = socket.connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).await.unwrap();
    // "HTTP/1.1 401 ..."
    let status = std::str::from_utf8(&reply[9..12]).unwrap().parse().unwrap();
    (status, start.elapsed())
}

/// A `kB` line of `/proc/PID/status`, such as `VmHWM`.
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.trim().strip_suffix("kB"))
        .map(|kib| kib.trim().parse().unwrap())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}
