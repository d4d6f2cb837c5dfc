//! The client layer against a fake datarhei API that misbehaves: clocks ten minutes off, tokens
//! expired on arrival, a refresh route that fails or hangs, a login route that never answers.
//! Real HTTP on 127.0.0.1; the fake server counts the requests on each route.
//!
//! Timings use short configured timeouts (300 ms) and assert with seconds of slack: the suite
//! runs on two busy cores.

#![cfg(feature = "client")]

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::{Request, Response, StatusCode, Uri};
use http_body::Frame;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tower::ServiceExt as _;
use tower_jwt_login::JwtClient;
use tower_jwt_login::client::{Error, ErrorKind, JwtClientBuilder};

const USER: &str = "admin";
const PASSWORD: &str = "correct horse battery staple";
const SHORT: Duration = Duration::from_millis(300);
const SLACK: Duration = Duration::from_secs(3);
const TEN_MINUTES: i64 = 600;

type Http = Client<HttpConnector, Full<Bytes>>;

fn http() -> Http {
    Client::builder(TokioExecutor::new()).build_http()
}

/// How a route of the fake server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// As datarhei Core does.
    Normal,
    /// With this status and no tokens.
    Status(u16),
    /// Never: the request is read, the answer never comes.
    Silent,
    /// `200` and the headers at once, then the body one byte a second.
    Trickle,
}

/// The fake server's behaviour and what it saw.
struct Fake {
    /// Added to the server's clock for the `iat` and `exp` it writes (`exi` stays honest).
    skew_s: AtomicI64,
    /// The `exi` of the tokens it issues, access and refresh alike.
    exi_s: i64,
    login: Mutex<Answer>,
    refresh: Mutex<Answer>,
    /// Whether the protected route refuses every token.
    refuse_all: Mutex<bool>,
    /// Tokens issued, to accept on the protected route and the refresh route.
    issued: Mutex<Vec<String>>,
    serial: AtomicU64,
    logins: AtomicUsize,
    passwords: AtomicUsize,
    refreshes: AtomicUsize,
    pings: AtomicUsize,
    /// Time the refresh route takes before answering, to let concurrent requests pile up.
    refresh_delay: Duration,
}

impl Fake {
    fn new() -> Self {
        Self {
            skew_s: AtomicI64::new(0),
            exi_s: TEN_MINUTES,
            login: Mutex::new(Answer::Normal),
            refresh: Mutex::new(Answer::Normal),
            refuse_all: Mutex::new(false),
            issued: Mutex::new(Vec::new()),
            serial: AtomicU64::new(0),
            logins: AtomicUsize::new(0),
            passwords: AtomicUsize::new(0),
            refreshes: AtomicUsize::new(0),
            pings: AtomicUsize::new(0),
            refresh_delay: Duration::from_millis(50),
        }
    }

    fn skewed(self, skew_s: i64) -> Self {
        self.skew_s.store(skew_s, Ordering::SeqCst);
        self
    }

    fn set_login(&self, answer: Answer) {
        *self.login.lock().unwrap() = answer;
    }

    fn set_refresh(&self, answer: Answer) {
        *self.refresh.lock().unwrap() = answer;
    }

    fn logins(&self) -> usize {
        self.logins.load(Ordering::SeqCst)
    }

    fn passwords(&self) -> usize {
        self.passwords.load(Ordering::SeqCst)
    }

    fn refreshes(&self) -> usize {
        self.refreshes.load(Ordering::SeqCst)
    }

    fn pings(&self) -> usize {
        self.pings.load(Ordering::SeqCst)
    }

    /// A datarhei-shaped token: `iat` and `exp` by the server's (skewed) clock, `exi` honest.
    fn issue(&self, usefor: &str) -> String {
        let iat = unix_now() + self.skew_s.load(Ordering::SeqCst);
        let serial = self.serial.fetch_add(1, Ordering::SeqCst);
        let payload = serde_json::json!({
            "sub": USER, "usefor": usefor, "iat": iat, "exp": iat + self.exi_s,
            "exi": self.exi_s, "jti": serial.to_string(),
        });
        let token = format!(
            "{}.{}.c2lnbmF0dXJl",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(payload.to_string())
        );
        self.issued.lock().unwrap().push(token.clone());
        token
    }

    fn knows(&self, request: &Request<Incoming>) -> bool {
        let Some(token) = request
            .headers()
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
        else {
            return false;
        };
        self.issued.lock().unwrap().iter().any(|t| t == token)
    }

    async fn answer(self: Arc<Self>, request: Request<Incoming>) -> Response<Body> {
        match (request.method().as_str(), request.uri().path()) {
            ("POST", "/api/login") => {
                self.logins.fetch_add(1, Ordering::SeqCst);
                let body = request.into_body().collect().await.unwrap().to_bytes();
                if String::from_utf8_lossy(&body).contains(PASSWORD) {
                    self.passwords.fetch_add(1, Ordering::SeqCst);
                }
                let answer = *self.login.lock().unwrap();
                self.tokens(answer, true).await
            }
            ("GET", "/api/login/refresh") => {
                self.refreshes.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(self.refresh_delay).await;
                let answer = *self.refresh.lock().unwrap();
                if answer == Answer::Normal && !self.knows(&request) {
                    return text(StatusCode::UNAUTHORIZED, "unknown refresh token");
                }
                self.tokens(answer, false).await
            }
            ("GET", "/api/v3/ping") => {
                self.pings.fetch_add(1, Ordering::SeqCst);
                if *self.refuse_all.lock().unwrap() || !self.knows(&request) {
                    text(StatusCode::UNAUTHORIZED, "invalid token")
                } else {
                    text(StatusCode::OK, "pong")
                }
            }
            _ => text(StatusCode::NOT_FOUND, "not found"),
        }
    }

    async fn tokens(&self, answer: Answer, with_refresh: bool) -> Response<Body> {
        match answer {
            Answer::Normal => {
                let mut json = serde_json::json!({ "access_token": self.issue("access") });
                if with_refresh {
                    json["refresh_token"] = self.issue("refresh").into();
                }
                text(StatusCode::OK, &json.to_string())
            }
            Answer::Status(status) => text(StatusCode::from_u16(status).unwrap(), "{}"),
            Answer::Silent => std::future::pending().await,
            Answer::Trickle => Response::new(Trickle::new().boxed()),
        }
    }
}

type Body = BoxBody<Bytes, Infallible>;

fn text(status: StatusCode, body: &str) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_owned())).boxed());
    *response.status_mut() = status;
    response
}

/// A body that sends one byte a second, forever.
struct Trickle {
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl Trickle {
    fn new() -> Self {
        Self {
            sleep: Box::pin(tokio::time::sleep(Duration::from_secs(1))),
        }
    }
}

impl http_body::Body for Trickle {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        std::task::ready!(self.sleep.as_mut().poll(cx));
        let next = tokio::time::Instant::now() + Duration::from_secs(1);
        self.sleep.as_mut().reset(next);
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"{")))))
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .try_into()
        .unwrap()
}

/// Serves `fake` on 127.0.0.1 until the test ends.
async fn serve(fake: Fake) -> (SocketAddr, Arc<Fake>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let fake = Arc::new(fake);
    let shared = Arc::clone(&fake);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let fake = Arc::clone(&shared);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let fake = Arc::clone(&fake);
                    async move { Ok::<_, Infallible>(fake.answer(request).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, fake)
}

fn client_for(addr: SocketAddr) -> JwtClientBuilder {
    let base: Uri = format!("http://{addr}").parse().unwrap();
    JwtClient::builder(base).credentials(USER, PASSWORD)
}

/// An access token whose `exp` has passed and which the server does not know: set by hand, it
/// makes every request need a renewal.
fn expired_by_hand() -> String {
    by_hand(unix_now() - 10)
}

/// An access token that looks fresh but which the server refuses.
fn refused_by_hand() -> String {
    by_hand(unix_now() + TEN_MINUTES)
}

fn by_hand(exp: i64) -> String {
    let payload = serde_json::json!({ "sub": USER, "exp": exp, "iat": exp - 10 });
    format!(
        "eyJhbGciOiJIUzI1NiJ9.{}.c2lnbmF0dXJl",
        URL_SAFE_NO_PAD.encode(payload.to_string())
    )
}

fn ping() -> Request<Full<Bytes>> {
    Request::get("/api/v3/ping").body(Full::default()).unwrap()
}

/// Sends `n` requests at once and returns their outcomes (status, or error).
async fn concurrently(client: &JwtClient<Http>, n: usize) -> Vec<Result<StatusCode, Error>> {
    let requests: Vec<_> = (0..n)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                let response = client.oneshot(ping()).await?;
                Ok(response.status())
            })
        })
        .collect();
    let mut outcomes = Vec::with_capacity(n);
    for request in requests {
        outcomes.push(request.await.unwrap());
    }
    outcomes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn clocks_ten_minutes_off_either_way_cause_one_refresh_per_generation_and_no_login() {
    // The server's clock is 10 minutes ahead (its tokens look fresh for 20 minutes), 10 minutes
    // behind (they look expired on arrival, the refresh token too), or an hour behind.
    for skew_s in [TEN_MINUTES, -TEN_MINUTES, -6 * TEN_MINUTES] {
        let (addr, fake) = serve(Fake::new().skewed(skew_s)).await;
        let client = client_for(addr).connect(http()).await.unwrap();
        assert_eq!((fake.logins(), fake.passwords()), (1, 1), "skew {skew_s}");

        // A fresh token by the client's own measure: sent as is, one request after another.
        for _ in 0..10 {
            let response = client.clone().oneshot(ping()).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK, "skew {skew_s}");
        }
        assert_eq!(fake.refreshes(), 0, "skew {skew_s}: nothing to renew");

        // One generation expires: 100 requests meet it at once.
        client.set_access_token(expired_by_hand()).unwrap();
        let outcomes = concurrently(&client, 100).await;
        assert!(
            outcomes.iter().all(|o| matches!(o, Ok(StatusCode::OK))),
            "skew {skew_s}: {outcomes:?}"
        );
        assert_eq!(fake.refreshes(), 1, "skew {skew_s}: one refresh");
        assert_eq!(fake.pings(), 110, "skew {skew_s}: no 401 round-trip");

        // The new token is used by later requests without another renewal.
        for _ in 0..10 {
            let response = client.clone().oneshot(ping()).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK, "skew {skew_s}");
        }
        assert_eq!(fake.refreshes(), 1, "skew {skew_s}");
        assert_eq!(
            (fake.logins(), fake.passwords()),
            (1, 1),
            "skew {skew_s}: the refresh token works, no password goes out"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refused_refresh_logs_in_once_for_a_hundred_requests() {
    // The server's clock is 10 minutes behind: both tokens look expired on arrival.
    let (addr, fake) = serve(Fake::new().skewed(-TEN_MINUTES)).await;
    let client = client_for(addr).connect(http()).await.unwrap();
    fake.set_refresh(Answer::Status(401));
    client.set_access_token(expired_by_hand()).unwrap();

    let outcomes = concurrently(&client, 100).await;
    assert!(
        outcomes.iter().all(|o| matches!(o, Ok(StatusCode::OK))),
        "{outcomes:?}"
    );
    assert_eq!(fake.refreshes(), 1);
    assert_eq!(fake.passwords(), 2, "the login at build and one more");
    assert_eq!(fake.pings(), 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refresh_answering_500_fails_every_waiter_with_one_call_then_backs_off() {
    let (addr, fake) = serve(Fake::new()).await;
    let client = client_for(addr)
        .renewal_backoff(Duration::from_secs(2))
        .connect(http())
        .await
        .unwrap();
    fake.set_refresh(Answer::Status(500));
    client.set_access_token(expired_by_hand()).unwrap();

    let outcomes = concurrently(&client, 100).await;
    for outcome in &outcomes {
        let error = outcome.as_ref().unwrap_err();
        assert_eq!(error.kind(), ErrorKind::UnexpectedResponse, "{error}");
        assert_eq!(error.status(), Some(StatusCode::INTERNAL_SERVER_ERROR));
    }
    assert_eq!(fake.refreshes(), 1, "one refresh call, shared by all");
    assert_eq!(
        fake.passwords(),
        1,
        "a failing refresh route is no reason to send the password"
    );
    assert_eq!(fake.pings(), 0, "nothing sent with the expired token");

    // Within the backoff, a new request gets the same error without a call.
    let error = client.clone().oneshot(ping()).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::UnexpectedResponse);
    assert_eq!(fake.refreshes(), 1);

    // After it, the next attempt goes out, and succeeds once the server does.
    fake.set_refresh(Answer::Normal);
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let outcomes = concurrently(&client, 100).await;
    assert!(outcomes.iter().all(|o| matches!(o, Ok(StatusCode::OK))));
    assert_eq!(fake.refreshes(), 2);
    assert_eq!(fake.passwords(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hanging_refresh_fails_every_waiter_in_about_one_timeout() {
    let (addr, fake) = serve(Fake::new()).await;
    let client = client_for(addr)
        .auth_timeout(SHORT)
        .connect(http())
        .await
        .unwrap();
    fake.set_refresh(Answer::Silent);
    client.set_access_token(expired_by_hand()).unwrap();

    let started = Instant::now();
    let outcomes = concurrently(&client, 100).await;
    let elapsed = started.elapsed();
    for outcome in &outcomes {
        let error = outcome.as_ref().unwrap_err();
        assert_eq!(error.kind(), ErrorKind::TimedOut, "{error}");
        assert!(error.is_timeout());
    }
    assert_eq!(fake.refreshes(), 1);
    assert_eq!(fake.passwords(), 1);
    assert!(elapsed >= SHORT, "{elapsed:?}");
    // One after another, 100 timeouts would take 30 s.
    assert!(elapsed < SHORT + SLACK, "{elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_waiter_whose_leader_is_dropped_renews_in_its_place() {
    let (addr, fake) = serve(Fake::new()).await;
    let client = client_for(addr).connect(http()).await.unwrap();
    client.set_access_token(expired_by_hand()).unwrap();
    fake.set_refresh(Answer::Silent);

    // The first request leads the renewal, and is abandoned while the refresh hangs.
    let leader = tokio::spawn(client.clone().oneshot(ping()));
    while fake.refreshes() == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Whether the waiter joins the flight before or after the leader is dropped, it ends with a
    // refresh of its own.
    let waiter = tokio::spawn(client.clone().oneshot(ping()));
    tokio::time::sleep(Duration::from_millis(200)).await;
    fake.set_refresh(Answer::Normal);
    leader.abort();

    let response = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("the waiter does not wait for a dropped leader")
        .unwrap()
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(fake.refreshes(), 2);
}

#[tokio::test]
async fn one_request_renews_at_most_once_even_when_refused_again() {
    let (addr, fake) = serve(Fake::new()).await;
    let client = client_for(addr).connect(http()).await.unwrap();
    *fake.refuse_all.lock().unwrap() = true;
    fake.set_refresh(Answer::Status(401));

    // An expired token: renewed before sending (a login, the refresh being refused), then the
    // server refuses the new token too. No second renewal for this request.
    client.set_access_token(expired_by_hand()).unwrap();
    let response = client.clone().oneshot(ping()).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(fake.refreshes(), 1);
    assert_eq!(fake.passwords(), 2, "the login at build and one");
    assert_eq!(fake.pings(), 1);

    // A fresh-looking token refused with a 401: one renewal, one retry, and the 401.
    client.set_access_token(refused_by_hand()).unwrap();
    let response = client.clone().oneshot(ping()).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(fake.refreshes(), 2);
    assert_eq!(fake.passwords(), 3, "once per renewal");
    assert_eq!(fake.pings(), 3, "the request and its one retry");
}

#[tokio::test]
async fn a_login_that_never_answers_fails_within_the_timeout() {
    for answer in [Answer::Silent, Answer::Trickle] {
        let (addr, fake) = serve(Fake::new()).await;
        fake.set_login(answer);
        let started = Instant::now();
        let error = client_for(addr)
            .auth_timeout(SHORT)
            .connect(http())
            .await
            .unwrap_err();
        let elapsed = started.elapsed();
        assert_eq!(error.kind(), ErrorKind::TimedOut, "{answer:?}: {error}");
        assert!(elapsed >= SHORT, "{answer:?}: {elapsed:?}");
        assert!(elapsed < SHORT + SLACK, "{answer:?}: {elapsed:?}");
    }
}

#[tokio::test]
async fn a_silent_login_server_fails_within_the_default_timeout() {
    // It accepts connections, reads nothing and answers nothing.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let _held = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let started = Instant::now();
    let error = client_for(addr).connect(http()).await.unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(error.kind(), ErrorKind::TimedOut, "{error}");
    let default = Duration::from_secs(10);
    assert!(elapsed >= default, "{elapsed:?}");
    assert!(elapsed < default + SLACK, "{elapsed:?}");
}

#[tokio::test]
async fn without_a_timeout_a_silent_login_waits() {
    let (addr, fake) = serve(Fake::new()).await;
    fake.set_login(Answer::Silent);
    let connect = client_for(addr).auth_timeout(None).connect(http());
    assert!(
        tokio::time::timeout(Duration::from_millis(1_500), connect)
            .await
            .is_err(),
        "no timeout when it is turned off"
    );
}
