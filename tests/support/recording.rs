//! Servers that record what reaches them, for the client tests: how many logins and refreshes a
//! client made, and which requests carried which `Authorization` header.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tower::{Layer as _, ServiceExt as _};
use tower_jwt_login::{Claims, JwtLoginLayer};

use super::{Server, Stack, inner_answer};

/// What a server saw of one request, before any layer looked at it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub body: Bytes,
}

/// The requests a recording server has seen, in order.
#[derive(Debug, Clone, Default)]
pub struct Log(Arc<Mutex<Vec<Seen>>>);

impl Log {
    pub fn all(&self) -> Vec<Seen> {
        self.0.lock().unwrap().clone()
    }

    /// How many requests had this method and path.
    pub fn count(&self, method: &str, path: &str) -> usize {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|seen| seen.method == method && seen.path == path)
            .count()
    }

    pub fn logins(&self) -> usize {
        self.count("POST", "/api/login")
    }

    pub fn refreshes(&self) -> usize {
        self.count("GET", "/api/login/refresh")
    }

    fn push(&self, seen: Seen) {
        self.0.lock().unwrap().push(seen);
    }
}

/// A hyper server with `layer` in front of the naive inner service (it answers 200 with the
/// path and the subject to anything that gets through), recording each request before the
/// layer sees it.
pub async fn spawn_recorded(layer: JwtLoginLayer) -> (Server, Log) {
    let inner = tower::service_fn(|request: Request<Full<Bytes>>| async move {
        let body = inner_answer(request.uri().path(), request.extensions().get::<Claims>());
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
    });
    serve_recorded(layer.layer(inner)).await
}

/// Like [`spawn_recorded`], but the inner service answers every request that gets through with
/// `status` (for example a handler that refuses everyone with 401 whatever the token).
pub async fn spawn_recorded_answering(
    layer: JwtLoginLayer,
    status: http::StatusCode,
) -> (Server, Log) {
    let inner = tower::service_fn(move |_request: Request<Full<Bytes>>| async move {
        let mut response = Response::new(Full::new(Bytes::from_static(b"refused by the handler")));
        *response.status_mut() = status;
        Ok::<_, Infallible>(response)
    });
    serve_recorded(layer.layer(inner)).await
}

/// A plain server without any layer that records each request and answers 200 `"hello"`: the
/// other origin a token must never reach.
pub async fn spawn_recorder() -> (Server, Log) {
    serve_recorded(tower::service_fn(|_request: Request<Full<Bytes>>| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"hello"))))
    }))
    .await
}

async fn serve_recorded<S, B>(service: S) -> (Server, Log)
where
    S: tower::Service<Request<Full<Bytes>>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log = Log::default();
    let recorder = log.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _peer)) = listener.accept().await else {
                continue;
            };
            let service = service.clone();
            let log = recorder.clone();
            tokio::spawn(async move {
                let hyper_service =
                    hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
                        let service = service.clone();
                        let log = log.clone();
                        async move {
                            let (parts, body) = request.into_parts();
                            let body = body.collect().await.map(|b| b.to_bytes());
                            let body = body.unwrap_or_default();
                            log.push(Seen {
                                method: parts.method.to_string(),
                                path: parts.uri.path().to_owned(),
                                authorization: parts
                                    .headers
                                    .get(http::header::AUTHORIZATION)
                                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
                                body: body.clone(),
                            });
                            service
                                .oneshot(Request::from_parts(parts, Full::new(body)))
                                .await
                        }
                    });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), hyper_service)
                    .await;
            });
        }
    });
    let server = Server {
        addr,
        stack: Stack::Hyper,
        task,
    };
    (server, log)
}
