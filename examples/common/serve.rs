//! The serve loop of both server examples: what a server facing the internet needs around
//! hyper's connections, so that whoever copies an example copies these too.
//!
//! - A **header-read timeout** (datarhei Core's `ReadHeaderTimeout`, 10 s): hyper's http1
//!   `header_read_timeout`. hyper starts it when it begins to read a head, which is at once on a
//!   new connection and as soon as a response is written on a kept-alive one (hyper 1.12,
//!   `proto/h1/conn.rs`: `poll_read_head`, and `State::idle` asking for a read "so we can close
//!   the connection if another header isn't received in a timely manner"). So it also bounds
//!   the wait between two requests: unlike Go, hyper has no separate keep-alive timeout.
//! - An **idle timeout** (datarhei Core's `IdleTimeout`, 120 s): no byte moved either way for
//!   this long closes the connection, whatever it waits for (a body, a reader), see `idle.rs`.
//! - A **cap on connections**: at the cap the loop stops accepting until one ends; the clients
//!   past it wait in the kernel's backlog rather than costing a task and a file descriptor each.
//! - An **accept loop that backs off** on errors (no file descriptor left, say) instead of
//!   spinning on them, and says so in the log at most every 10 seconds.
//!
//! HTTP/1.1 only, as datarhei Core serves without TLS: hyper-util's `auto` connection reads the
//! first bytes to choose a protocol before any timer runs (hyper-util 0.1.21, `read_version`),
//! so a client that sends nothing would never reach the header-read timeout.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::ServiceExt as _;
use tower_jwt_login::PeerAddr;

use super::idle::Idle;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The variables that set [`Limits`], with their defaults (the README's "Examples" table).
pub const LIMIT_VARIABLES: [(&str, u64); 3] = [
    ("CORE_API_READ_HEADER_TIMEOUT_SECONDS", 10),
    ("CORE_API_IDLE_TIMEOUT_SECONDS", 120),
    ("CORE_API_MAX_CONNECTIONS", 10_000),
];

/// What the serve loop bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// From accepting a connection, or answering a request on it, to the next head read whole.
    pub header_read_timeout: Duration,
    /// The longest a connection may go without a byte read or written.
    pub idle_timeout: Duration,
    /// The most connections served at once.
    pub max_connections: usize,
}

impl Limits {
    /// The limits the variables `lookup` finds set, the defaults for the others. Zero is refused
    /// rather than taken to mean "no limit": these are what keeps the server up.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let [header, idle, connections] = LIMIT_VARIABLES.map(|(name, default)| {
            let Some(value) = lookup(name) else {
                return Ok(default);
            };
            match value.trim().parse::<u64>() {
                Ok(number) if number > 0 => Ok(number),
                _ => Err(format!("{name}={value:?}: expected a whole number above 0")),
            }
        });
        let max_connections = usize::try_from(connections?)
            .unwrap_or(usize::MAX)
            .min(Semaphore::MAX_PERMITS);
        Ok(Self {
            header_read_timeout: Duration::from_secs(header?),
            idle_timeout: Duration::from_secs(idle?),
            max_connections,
        })
    }
}

/// Serves HTTP/1.1 on `listener` within `limits` until `shutdown` completes, then waits for the
/// connections being served to finish their requests.
///
/// `make_service` gives the service of each connection from its peer address. Every request
/// carries the peer address as [`PeerAddr`], taken from the connection, never from a header.
pub async fn serve<M, S, B>(
    listener: TcpListener,
    limits: Limits,
    make_service: M,
    shutdown: impl Future<Output = ()>,
) where
    M: Fn(SocketAddr) -> S,
    S: tower::Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut accept = Accept::new(listener);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // The permit first: at the cap, nothing is accepted until a connection ends.
        let next = async {
            let permit = Arc::clone(&permits)
                .acquire_owned()
                .await
                .expect("the semaphore is never closed");
            (permit, accept.next().await)
        };
        let (permit, (stream, peer)) = tokio::select! {
            next = next => next,
            () = &mut shutdown => break,
        };
        let service = make_service(peer);
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(PeerAddr(peer));
            service.clone().oneshot(request)
        });
        let io = TokioIo::new(Idle::new(stream, limits.idle_timeout));
        let connection = graceful.watch(http.serve_connection(io, service));
        tokio::spawn(async move {
            // A timeout or a client gone ends the connection with an error: nothing to add.
            let _ = connection.await;
            drop(permit);
        });
    }
    drop(accept);
    graceful.shutdown().await;
}

/// The shortest and the longest pause after a failed accept.
const ACCEPT_BACKOFF: (Duration, Duration) = (Duration::from_millis(10), Duration::from_secs(1));

/// How often a run of failed accepts is logged.
const ACCEPT_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// The listener, with a pause after each failed accept.
struct Accept {
    listener: TcpListener,
    backoff: Duration,
    /// When a failure was last logged, and how many failed since.
    logged: Option<Instant>,
    failed: u64,
}

impl Accept {
    fn new(listener: TcpListener) -> Self {
        Self {
            listener,
            backoff: ACCEPT_BACKOFF.0,
            logged: None,
            failed: 0,
        }
    }

    /// The next connection. Out of file descriptors, `accept` fails at once for as long as the
    /// shortage lasts: retrying at once is a busy loop, so the pause doubles up to a second.
    async fn next(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            match self.listener.accept().await {
                Ok(accepted) => {
                    self.backoff = ACCEPT_BACKOFF.0;
                    return accepted;
                }
                // The client left before it was accepted: nothing is wrong on this side.
                Err(error) if is_connection_error(&error) => {}
                Err(error) => {
                    self.failed += 1;
                    if self
                        .logged
                        .is_none_or(|at| at.elapsed() >= ACCEPT_LOG_INTERVAL)
                    {
                        tracing::error!(
                            %error,
                            failed = self.failed,
                            retry_in_ms = self.backoff.as_millis(),
                            "accepting a connection failed"
                        );
                        self.logged = Some(Instant::now());
                        self.failed = 0;
                    }
                    tokio::time::sleep(self.backoff).await;
                    self.backoff = (self.backoff * 2).min(ACCEPT_BACKOFF.1);
                }
            }
        }
    }
}

/// An error about the one connection being accepted, not the listener (as hyper 0.14's
/// `AddrIncoming` told them apart).
fn is_connection_error(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}
