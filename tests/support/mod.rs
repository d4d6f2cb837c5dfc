//! Shared fixtures for the integration tests: real servers on 127.0.0.1:0 (axum and plain hyper)
//! behind the layer, a raw HTTP/1.1 client that can send anything, and a token forger.
#![allow(dead_code, unreachable_pub)]

#[cfg(feature = "jwks")]
pub mod jwks;
pub mod stores;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use hmac::{KeyInit as _, Mac as _};
use http::{Request, Response};
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tower::{Layer as _, ServiceExt as _};
use tower_jwt_login::{Claims, JwtLoginBuilder, JwtLoginConfig, JwtLoginLayer, Password, PeerAddr};

pub const SECRET: &str = "an integration test secret of 40 bytes!!";
pub const USER: &str = "admin";
pub const PASSWORD: &str = "correct horse battery staple";
pub const REALM: &str = "datarhei-core";

/// The builder every test starts from: one plain-text user and a known secret.
pub fn builder() -> JwtLoginBuilder {
    JwtLoginLayer::builder()
        .user(USER, Password::plain(PASSWORD))
        .secret(SECRET)
        .optional_auth_path("/api")
}

/// The variables `lookup` finds in `variables`.
pub fn lookup(variables: &[(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
    let variables = variables.to_vec();
    move |name| {
        variables
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| (*v).to_owned())
    }
}

/// The layer from the environment variables `lookup` finds (`JwtLoginConfig::from_lookup`), as
/// the examples build it; an error starts with the variable at fault.
pub fn layer_from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<JwtLoginLayer, String> {
    let config = JwtLoginConfig::from_lookup(lookup).map_err(|error| error.to_string())?;
    config.build().map_err(|error| match error.field() {
        Some(variable) => format!("{variable}: {}", error.build_error()),
        None => error.to_string(),
    })
}

/// Which server stack to put the layer in front of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stack {
    Axum,
    Hyper,
}

pub const STACKS: [Stack; 2] = [Stack::Axum, Stack::Hyper];

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
    pub stack: Stack,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the inner services answer: the path they saw and the subject of the claims, if any.
/// Anything that reaches them answers 2xx, so a test can tell whether a request got through.
fn inner_answer(path: &str, claims: Option<&Claims>) -> String {
    serde_json::json!({
        "path": path,
        "sub": claims.map(Claims::sub),
        "scope": claims.map(Claims::scope),
        "extra": claims.map(|c| c.extra::<serde_json::Value>().unwrap()),
    })
    .to_string()
}

pub async fn spawn(stack: Stack, layer: JwtLoginLayer) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = match stack {
        Stack::Axum => tokio::spawn(serve_axum(listener, layer)),
        Stack::Hyper => tokio::spawn(serve_hyper(listener, layer)),
    };
    Server { addr, stack, task }
}

async fn serve_axum(listener: TcpListener, layer: JwtLoginLayer) {
    use axum::routing::get;
    use axum::{Extension, Router};
    async fn handler(uri: http::Uri, claims: Option<Extension<Claims>>) -> String {
        inner_answer(uri.path(), claims.as_ref().map(|c| &c.0))
    }
    let app = Router::new()
        .route("/api/v3/ping", get(handler).head(handler).post(handler))
        .route("/api/v3/{*rest}", get(handler))
        .route("/api", get(handler))
        .route("/ping", get(handler))
        .layer(layer);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
    .unwrap();
}

async fn serve_hyper(listener: TcpListener, layer: JwtLoginLayer) {
    // A deliberately naive inner service: it answers 200 to every path, so anything the layer
    // lets through is visible.
    let inner = tower::service_fn(|request: Request<hyper::body::Incoming>| async move {
        let body = inner_answer(request.uri().path(), request.extensions().get::<Claims>());
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
    });
    let service = layer.layer(inner);
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        let service = service.clone();
        tokio::spawn(async move {
            let hyper_service =
                hyper::service::service_fn(move |mut request: Request<hyper::body::Incoming>| {
                    request.extensions_mut().insert(PeerAddr(peer));
                    service.clone().oneshot(request)
                });
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), hyper_service)
                .await;
        });
    }
}

/// A parsed HTTP response.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The subject the inner service saw, if the request reached it.
    pub fn inner_sub(&self) -> Option<String> {
        self.json()["sub"].as_str().map(str::to_owned)
    }

    /// Asserts a rejection in datarhei's error shape with exactly `status`.
    pub fn assert_error(&self, status: u16) {
        assert_eq!(self.status, status, "body: {}", self.text());
        assert_eq!(self.header("content-type"), Some("application/json"));
        let body = self.json();
        assert_eq!(body["code"], status);
        assert!(body["message"].is_string(), "{body}");
        assert!(
            body["details"].as_array().is_some_and(|d| !d.is_empty()),
            "{body}"
        );
    }

    /// Asserts a token rejection: 401, the JSON error body and a Bearer challenge.
    pub fn assert_unauthorized(&self) {
        self.assert_error(401);
        let challenge = self.header("www-authenticate").expect("WWW-Authenticate");
        assert!(challenge.starts_with("Bearer realm=\""), "{challenge}");
    }
}

/// Sends raw bytes as one request (the caller writes `Connection: close`) and reads the reply.
pub async fn send_raw(addr: SocketAddr, request: &[u8]) -> Reply {
    let raw = tokio::time::timeout(Duration::from_secs(10), async {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(request).await.unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.unwrap();
        raw
    })
    .await
    .expect("the server answers promptly");
    parse_reply(&raw)
}

fn parse_reply(raw: &[u8]) -> Reply {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    let httparse::Status::Complete(head_len) = response.parse(raw).unwrap_or_else(|e| {
        panic!(
            "unparsable response ({e}): {:?}",
            String::from_utf8_lossy(raw)
        )
    }) else {
        panic!("incomplete response: {:?}", String::from_utf8_lossy(raw));
    };
    let status = response.code.unwrap();
    let headers: Vec<(String, Vec<u8>)> = response
        .headers
        .iter()
        .map(|h| (h.name.to_owned(), h.value.to_vec()))
        .collect();
    let mut body = raw[head_len..].to_vec();
    let chunked = headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case(b"chunked")
    });
    if chunked {
        body = dechunk(&body);
    }
    Reply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = raw
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let size = usize::from_str_radix(std::str::from_utf8(&raw[..line_end]).unwrap().trim(), 16)
            .unwrap();
        raw = &raw[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&raw[..size]);
        raw = &raw[size + 2..];
    }
}

/// Builds a raw request. `headers` are written as given, in order (duplicates allowed).
pub fn raw_request(method: &str, path: &str, headers: &[(&str, &[u8])], body: &[u8]) -> Vec<u8> {
    let mut out = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n")
        .into_bytes();
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    if !body.is_empty() || method == "POST" {
        out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

/// `GET path`, with `Authorization: Bearer <token>` when a token is given.
pub async fn get(addr: SocketAddr, path: &str, token: Option<&str>) -> Reply {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &[u8])> = auth
        .iter()
        .map(|a| ("Authorization", a.as_bytes()))
        .collect();
    send_raw(addr, &raw_request("GET", path, &headers, b"")).await
}

/// `POST /api/login` with a JSON body.
pub async fn login_with(addr: SocketAddr, username: &str, password: &str) -> Reply {
    let body = serde_json::json!({ "username": username, "password": password }).to_string();
    send_raw(
        addr,
        &raw_request(
            "POST",
            "/api/login",
            &[("Content-Type", b"application/json")],
            body.as_bytes(),
        ),
    )
    .await
}

/// `POST path` with `Authorization: Bearer <token>` and no body: a login with an identity
/// provider's token, or an attacker trying to mint tokens from a token.
pub async fn post_bearer(addr: SocketAddr, path: &str, token: &str) -> Reply {
    let auth = format!("Bearer {token}");
    send_raw(
        addr,
        &raw_request("POST", path, &[("Authorization", auth.as_bytes())], b""),
    )
    .await
}

/// Logs in as the test user and returns (access, refresh).
pub async fn login(addr: SocketAddr) -> (String, String) {
    let reply = login_with(addr, USER, PASSWORD).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let body = reply.json();
    (
        body["access_token"].as_str().unwrap().to_owned(),
        body["refresh_token"].as_str().unwrap().to_owned(),
    )
}

/// The claims of a token, decoded without verification (the server that issued it verified
/// nothing for the test: this only reads what it wrote).
pub fn payload(token: &str) -> serde_json::Value {
    let segment = token.split('.').nth(1).expect("three segments");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).expect("base64url")).expect("JSON")
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// HMAC-SHA256 of `input` under `key`.
pub fn hs256(key: &[u8], input: &[u8]) -> Vec<u8> {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(input);
    mac.finalize().into_bytes().to_vec()
}

/// A token with the given raw header and payload JSON, signed HS256 with `key`.
pub fn forge(header: &str, payload: &str, key: &[u8]) -> String {
    let input = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
    let signature = b64(&hs256(key, input.as_bytes()));
    format!("{input}.{signature}")
}

pub const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// The claims of a genuine access token for the test user, as JSON.
pub fn claims(usefor: &str) -> serde_json::Value {
    let now = now();
    serde_json::json!({
        "exi": 600, "exp": now + 600, "iat": now, "iss": REALM,
        "jti": "0b5e3a5c-8e1f-4b4e-9d3a-2f0f7a0c1d2e", "sub": USER, "usefor": usefor,
    })
}

/// A genuine-looking token with these claims, signed with the test secret.
pub fn forge_claims(claims: &serde_json::Value) -> String {
    forge(HEADER, &claims.to_string(), SECRET.as_bytes())
}

/// Drives the layer around a counting service without a network, for tests that need it.
pub async fn call_once<S>(service: &mut S, request: Request<Full<Bytes>>) -> S::Response
where
    S: tower::Service<Request<Full<Bytes>>>,
    S::Error: std::fmt::Debug,
{
    service.ready().await.unwrap().call(request).await.unwrap()
}

mod recording;
#[allow(unused_imports)] // not every test binary records
pub use recording::*;

// ---- Attack fixtures ----

/// An RSA private key (PKCS#1 DER, base64) that belongs to the attacker, not to the server: it
/// exists only to make RS256 tokens the layer must refuse. Generated for these tests.
pub const ATTACKER_RSA_PKCS1_DER_B64: &str = include_str!("attacker_rsa_pkcs1_der.b64");

/// The modulus `n` of [`ATTACKER_RSA_PKCS1_DER_B64`], base64url, for embedded `jwk` headers.
pub const ATTACKER_RSA_MODULUS_B64URL: &str = include_str!("attacker_rsa_modulus.b64url");

/// A token signed RS256 with the attacker's key, through a standard JWT library.
pub fn attacker_rs256(header: jsonwebtoken::Header, claims: &serde_json::Value) -> String {
    use base64::engine::general_purpose::STANDARD;
    let der = STANDARD.decode(ATTACKER_RSA_PKCS1_DER_B64.trim()).unwrap();
    jsonwebtoken::encode(
        &header,
        claims,
        &jsonwebtoken::EncodingKey::from_rsa_der(&der),
    )
    .unwrap()
}

/// The HMAC tag of `input` under `key` for `alg` (`HS256`, `HS384` or `HS512`).
pub fn hmac_tag(alg: &str, key: &[u8], input: &[u8]) -> Vec<u8> {
    macro_rules! tag {
        ($digest:ty) => {{
            let mut mac = hmac::Hmac::<$digest>::new_from_slice(key).unwrap();
            mac.update(input);
            mac.finalize().into_bytes().to_vec()
        }};
    }
    match alg {
        "HS256" => tag!(sha2::Sha256),
        "HS384" => tag!(sha2::Sha384),
        "HS512" => tag!(sha2::Sha512),
        other => panic!("no HMAC for {other}"),
    }
}

/// A token with the given raw header and payload JSON and `signature` bytes as its third part.
pub fn assemble(header: &str, payload: &str, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64(header.as_bytes()),
        b64(payload.as_bytes()),
        b64(signature)
    )
}

/// Signs the already encoded `header_b64.payload_b64` with HS256 under `key`.
pub fn sign_encoded(signing_input: &str, key: &[u8]) -> String {
    format!(
        "{signing_input}.{}",
        b64(&hs256(key, signing_input.as_bytes()))
    )
}

/// Sets the unused low bits of the last character of a base64url segment (without padding),
/// which a lenient decoder ignores: the same bytes, a different string. `None` when the
/// segment's length leaves no unused bits.
pub fn set_unused_bits(segment: &str) -> Option<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let unused_mask = match segment.len() % 4 {
        2 => 0b1111,
        3 => 0b0011,
        _ => return None,
    };
    let last = *segment.as_bytes().last()?;
    let value = ALPHABET.iter().position(|&c| c == last)? as u8;
    let mut out = segment[..segment.len() - 1].to_owned();
    out.push(ALPHABET[usize::from(value | unused_mask)] as char);
    Some(out)
}

/// Checks that the server still serves a genuine token after whatever came before.
pub async fn assert_still_serving(addr: SocketAddr) {
    let reply = get(addr, "/api/v3/ping", Some(&forge_claims(&claims("access")))).await;
    assert_eq!(
        reply.status,
        200,
        "the server stopped serving: {}",
        reply.text()
    );
    assert_eq!(reply.inner_sub().as_deref(), Some(USER));
}

/// Sends `request` while reading the answer at the same time, and tolerates the server closing
/// or resetting the connection before everything was written (as it should for an oversized
/// request). Returns the reply and how long it took, or `None` if the connection ended without
/// one.
pub async fn send_oversized(
    addr: SocketAddr,
    request: Vec<u8>,
) -> (Option<Reply>, std::time::Duration) {
    let start = std::time::Instant::now();
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let write = tokio::spawn(async move {
        // Errors are expected once the server has answered and closed.
        for chunk in request.chunks(16 * 1024) {
            if writer.write_all(chunk).await.is_err() {
                return;
            }
        }
        let _ = writer.flush().await;
    });
    let raw = tokio::time::timeout(Duration::from_secs(10), async {
        let mut raw = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => raw.extend_from_slice(&buf[..n]),
            }
        }
        raw
    })
    .await
    .expect("the server answers promptly");
    let elapsed = start.elapsed();
    write.abort();
    let reply = (!raw.is_empty()).then(|| parse_reply(&raw));
    (reply, elapsed)
}

/// Sends raw bytes from a chosen local address (any 127.x.y.z works on Linux), so that the
/// server sees a different peer.
pub async fn send_raw_from(local: std::net::IpAddr, addr: SocketAddr, request: &[u8]) -> Reply {
    let raw = tokio::time::timeout(Duration::from_secs(10), async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::new(local, 0)).unwrap();
        let mut stream = socket.connect(addr).await.unwrap();
        stream.write_all(request).await.unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.unwrap();
        raw
    })
    .await
    .expect("the server answers promptly");
    parse_reply(&raw)
}

/// The raw bytes of `POST /api/login` with a JSON body and extra headers.
pub fn login_request(username: &str, password: &str, extra: &[(&str, &[u8])]) -> Vec<u8> {
    let body = serde_json::json!({ "username": username, "password": password }).to_string();
    let mut headers: Vec<(&str, &[u8])> = vec![("Content-Type", b"application/json")];
    headers.extend_from_slice(extra);
    raw_request("POST", "/api/login", &headers, body.as_bytes())
}

/// `method path` with `Authorization: Bearer <token>`.
pub async fn call_with(addr: SocketAddr, method: &str, path: &str, token: &str) -> Reply {
    let auth = format!("Bearer {token}");
    send_raw(
        addr,
        &raw_request(method, path, &[("Authorization", auth.as_bytes())], b""),
    )
    .await
}

/// A real `redis-server` on 127.0.0.1 and a free port, without persistence, killed on drop.
///
/// The tests that use it never skip: without `redis-server` they fail and say how to install
/// it (`scripts/test.sh` does).
pub struct RedisServer {
    pub port: u16,
    child: Option<std::process::Child>,
    /// Whether it runs at the lowest CPU priority (`nice -n 19`).
    low_priority: bool,
}

impl RedisServer {
    pub fn start() -> Self {
        Self::start_at(false)
    }

    /// A server at the lowest CPU priority, for tests that measure our server's latency on a
    /// machine of two cores: Redis's own work then does not take the CPU from the server being
    /// measured, and a server that waited on Redis would show it more, not less.
    pub fn start_low_priority() -> Self {
        Self::start_at(true)
    }

    fn start_at(low_priority: bool) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut server = Self {
            port,
            child: None,
            low_priority,
        };
        server.restart();
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Starts (again) on the same port, and waits until it accepts connections.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        let mut command = if self.low_priority {
            let mut nice = std::process::Command::new("nice");
            nice.args(["-n", "19", "redis-server"]);
            nice
        } else {
            std::process::Command::new("redis-server")
        };
        let child = command
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start redis-server ({e}): these tests need a real Redis. \
                     Install it with `apt-get install -y redis-server`, or run scripts/test.sh, \
                     which does"
                )
            });
        self.child = Some(child);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                use std::io::{Read as _, Write as _};
                let mut reply = [0u8; 7];
                if stream.write_all(b"PING\r\n").is_ok()
                    && stream.read_exact(&mut reply).is_ok()
                    && &reply == b"+PONG\r\n"
                {
                    return;
                }
            }
            assert!(
                std::time::Instant::now() < deadline,
                "redis-server did not come up"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the server (as a crash would: no shutdown, data gone).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends one inline command and returns the first line of the reply.
    pub fn command(&self, command: &str) -> String {
        use std::io::{BufRead as _, Write as _};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .write_all(format!("{command}\r\n").as_bytes())
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(stream)
            .read_line(&mut line)
            .unwrap();
        line
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
