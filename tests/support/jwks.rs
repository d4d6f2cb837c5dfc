//! A fake identity provider for the IdP login tests: a JWKS (and OpenID Connect discovery)
//! server on 127.0.0.1:0 that counts its fetches and can be told to fail or hang, and signing
//! keys generated per test.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use tokio::net::TcpListener;

/// A signing key of the fake identity provider, with its public JWK.
pub struct TestKey {
    pub kid: String,
    pub alg: Algorithm,
    encoding: EncodingKey,
    pub jwk: serde_json::Value,
}

impl TestKey {
    /// A fresh 2048-bit RSA key (RS256).
    pub fn rsa(kid: &str) -> Self {
        use rsa::pkcs1::EncodeRsaPrivateKey as _;
        use rsa::traits::PublicKeyParts as _;
        let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
        let der = key.to_pkcs1_der().unwrap();
        Self {
            kid: kid.to_owned(),
            alg: Algorithm::RS256,
            encoding: EncodingKey::from_rsa_der(der.as_bytes()),
            jwk: serde_json::json!({
                "kty": "RSA", "use": "sig", "kid": kid,
                "n": URL_SAFE_NO_PAD.encode(key.n().to_bytes_be()),
                "e": URL_SAFE_NO_PAD.encode(key.e().to_bytes_be()),
            }),
        }
    }

    /// A fresh P-256 key (ES256). Its JWK names no `alg`: the curve decides.
    pub fn ec(kid: &str) -> Self {
        use p256::elliptic_curve::sec1::ToEncodedPoint as _;
        use p256::pkcs8::EncodePrivateKey as _;
        let key = p256::SecretKey::random(&mut rsa::rand_core::OsRng);
        let der = key.to_pkcs8_der().unwrap();
        let point = key.public_key().to_encoded_point(false);
        Self {
            kid: kid.to_owned(),
            alg: Algorithm::ES256,
            encoding: EncodingKey::from_ec_der(der.as_bytes()),
            jwk: serde_json::json!({
                "kty": "EC", "crv": "P-256", "kid": kid,
                "x": URL_SAFE_NO_PAD.encode(point.x().unwrap()),
                "y": URL_SAFE_NO_PAD.encode(point.y().unwrap()),
            }),
        }
    }

    /// A token with these claims, signed with this key, its `kid` and algorithm in the header.
    pub fn sign(&self, claims: &serde_json::Value) -> String {
        self.sign_as(&self.kid, claims)
    }

    /// Like [`sign`](Self::sign), with another `kid` in the header.
    pub fn sign_as(&self, kid: &str, claims: &serde_json::Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }
}

#[derive(Default)]
struct State {
    document: Mutex<String>,
    issuer: Mutex<String>,
    fetches: AtomicUsize,
    delay_ms: AtomicU64,
    status: AtomicU16,
}

/// The fake identity provider's HTTP server.
pub struct JwksServer {
    pub addr: SocketAddr,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl JwksServer {
    /// Starts a server publishing these keys.
    pub async fn start(keys: &[&TestKey]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State::default());
        state.status.store(200, Ordering::SeqCst);
        *state.issuer.lock().unwrap() = format!("http://{addr}/");
        let task = tokio::spawn(serve(listener, Arc::clone(&state)));
        let server = Self { addr, state, task };
        server.publish(keys);
        server
    }

    /// The issuer URL: `http://127.0.0.1:<port>/`.
    pub fn issuer(&self) -> String {
        self.state.issuer.lock().unwrap().clone()
    }

    /// Replaces the published keys.
    pub fn publish(&self, keys: &[&TestKey]) {
        let keys: Vec<_> = keys.iter().map(|k| k.jwk.clone()).collect();
        *self.state.document.lock().unwrap() = serde_json::json!({ "keys": keys }).to_string();
    }

    /// Replaces the published document with raw text.
    pub fn publish_raw(&self, document: &str) {
        *self.state.document.lock().unwrap() = document.to_owned();
    }

    /// How many times the JWKS document was requested.
    pub fn fetches(&self) -> usize {
        self.state.fetches.load(Ordering::SeqCst)
    }

    /// Makes every answer wait this long first.
    pub fn set_delay(&self, delay: Duration) {
        self.state
            .delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// Makes the JWKS answers use this status (with an HTML body if not 200).
    pub fn set_status(&self, status: u16) {
        self.state.status.store(status, Ordering::SeqCst);
    }

    /// Waits until the JWKS document was fetched at least `count` times.
    pub async fn wait_for_fetches(&self, count: usize) {
        tokio::time::timeout(Duration::from_secs(10), async {
            while self.fetches() < count {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("the JWKS was fetched {} times, not {count}", self.fetches()));
        // The fetch is counted when the request arrives: give the answer time to be applied.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn serve(listener: TcpListener, state: Arc<State>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request: Request<_>| {
                let state = Arc::clone(&state);
                async move { Ok::<_, Infallible>(answer(&state, &request).await) }
            });
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn answer<B>(state: &State, request: &Request<B>) -> Response<Full<Bytes>> {
    let path = request.uri().path();
    let jwks = matches!(path, "/.well-known/jwks.json" | "/discovered/keys");
    if jwks {
        state.fetches.fetch_add(1, Ordering::SeqCst);
    }
    let delay = state.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let body = match path {
        _ if jwks => {
            let status = state.status.load(Ordering::SeqCst);
            if status != 200 {
                let mut response = Response::new(Full::new(Bytes::from("<html>oops</html>")));
                *response.status_mut() = StatusCode::from_u16(status).unwrap();
                return response;
            }
            state.document.lock().unwrap().clone()
        }
        "/.well-known/openid-configuration" => {
            let issuer = state.issuer.lock().unwrap().clone();
            serde_json::json!({ "issuer": issuer, "jwks_uri": format!("{issuer}discovered/keys") })
                .to_string()
        }
        _ => {
            let mut response = Response::new(Full::default());
            *response.status_mut() = StatusCode::NOT_FOUND;
            return response;
        }
    };
    Response::new(Full::new(Bytes::from(body)))
}
