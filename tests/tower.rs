//! The layer as a plain tower middleware: no axum, no hyper, no network. A `tower::service_fn`
//! is enough, readiness comes from the inner service, its errors pass through unchanged, and
//! cloning the middleware clones the inner service and nothing else.

mod support;

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full};
use support::{PASSWORD, USER, builder};
use tower::{Layer as _, Service, ServiceExt as _};
use tower_jwt_login::Claims;

fn request(method: &str, path: &str, token: Option<&str>, body: &str) -> Request<Full<Bytes>> {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    if !body.is_empty() {
        request = request.header("content-type", "application/json");
    }
    request
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap()
}

async fn json<B: http_body::Body>(response: Response<B>) -> serde_json::Value
where
    B::Error: std::fmt::Debug,
{
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn a_plain_service_fn_gets_login_refresh_and_protection() {
    let calls = Arc::new(AtomicUsize::new(0));
    let inner = {
        let calls = Arc::clone(&calls);
        tower::service_fn(move |request: Request<Full<Bytes>>| {
            calls.fetch_add(1, Ordering::SeqCst);
            let sub = request
                .extensions()
                .get::<Claims>()
                .map(|c| c.sub().to_owned());
            async move {
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(
                    sub.unwrap_or_default(),
                ))))
            }
        })
    };
    let service = builder().build().unwrap().layer(inner);

    let body = serde_json::json!({ "username": USER, "password": PASSWORD }).to_string();
    let response = service
        .clone()
        .oneshot(request("POST", "/api/login", None, &body))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let tokens = json(response).await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "the layer answers logins itself"
    );

    let refused = service
        .clone()
        .oneshot(request("GET", "/api/v3/ping", None, ""))
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "nothing unauthenticated reaches the inner service"
    );

    let allowed = service
        .clone()
        .oneshot(request("GET", "/api/v3/ping", Some(&access), ""))
        .await
        .unwrap();
    assert_eq!(allowed.status(), StatusCode::OK);
    let seen = allowed.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(seen, USER.as_bytes(), "the claims reach the inner service");

    let renewed = service
        .clone()
        .oneshot(request("GET", "/api/login/refresh", Some(&refresh), ""))
        .await
        .unwrap();
    assert_eq!(renewed.status(), StatusCode::OK);
    assert!(json(renewed).await["access_token"].is_string());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn readiness_comes_from_the_inner_service() {
    let (mut service, mut handle) =
        tower_test::mock::spawn_layer::<Request<Full<Bytes>>, Response<Full<Bytes>>, _>(
            builder().build().unwrap(),
        );
    handle.allow(0);
    assert!(
        service.poll_ready().is_pending(),
        "not ready while the inner service is not"
    );
    handle.allow(1);
    assert!(service.poll_ready().is_ready());

    let response = service.call(request("GET", "/ping", None, ""));
    let (seen, send) = handle.next_request().await.unwrap();
    assert_eq!(seen.uri().path(), "/ping");
    send.send_response(Response::new(Full::new(Bytes::from_static(b"pong"))));
    assert_eq!(response.await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn inner_errors_pass_through_unchanged() {
    #[derive(Debug, PartialEq)]
    struct InnerError(&'static str);
    let inner = tower::service_fn(|_: Request<Full<Bytes>>| async {
        Err::<Response<Full<Bytes>>, _>(InnerError("boom"))
    });
    let service = builder().build().unwrap().layer(inner);
    let error = service
        .oneshot(request("GET", "/ping", None, ""))
        .await
        .unwrap_err();
    assert_eq!(error, InnerError("boom"));
}

/// An inner service that counts its clones.
struct CountingClone(Arc<AtomicUsize>);

impl Clone for CountingClone {
    fn clone(&self) -> Self {
        self.0.fetch_add(1, Ordering::SeqCst);
        Self(Arc::clone(&self.0))
    }
}

impl Service<Request<Full<Bytes>>> for CountingClone {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<Full<Bytes>>) -> Self::Future {
        std::future::ready(Ok(Response::new(Full::default())))
    }
}

#[tokio::test]
async fn requests_do_not_clone_the_inner_service() {
    let clones = Arc::new(AtomicUsize::new(0));
    let layer = builder().build().unwrap();
    let mut service = layer.layer(CountingClone(Arc::clone(&clones)));
    for path in ["/ping", "/api/v3/ping", "/api/login/refresh"] {
        service
            .ready()
            .await
            .unwrap()
            .call(request("GET", path, None, ""))
            .await
            .unwrap();
    }
    assert_eq!(clones.load(Ordering::SeqCst), 0);
    let _copy = service.clone();
    assert_eq!(
        clones.load(Ordering::SeqCst),
        1,
        "cloning the middleware clones its inner service once"
    );
}

/// On an optional-authentication path, a request without a valid token reaches the inner
/// service without claims, even when something in front of the layer put some there.
#[tokio::test]
async fn the_optional_path_drops_claims_it_did_not_verify() {
    let layer = builder().build().unwrap();
    let response = layer
        .clone()
        .layer(tower::service_fn(|_| async {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
        }))
        .oneshot(request(
            "POST",
            "/api/login",
            None,
            &format!(r#"{{"username":"{USER}","password":"{PASSWORD}"}}"#),
        ))
        .await
        .unwrap();
    let access = json(response).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let planted = layer.verify_access_token(&access).unwrap();
    let inner = tower::service_fn(|request: Request<Full<Bytes>>| async move {
        let seen = request
            .extensions()
            .get::<Claims>()
            .map(|c| c.sub().to_owned());
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(
            serde_json::json!({ "sub": seen }).to_string(),
        ))))
    });
    let service = layer.layer(inner);
    for token in [None, Some("not.a.token")] {
        let mut planted_request = request("GET", "/api", token, "");
        planted_request.extensions_mut().insert(planted.clone());
        let response = service.clone().oneshot(planted_request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            json(response).await["sub"],
            serde_json::Value::Null,
            "{token:?}"
        );
    }
    let response = service
        .clone()
        .oneshot(request("GET", "/api", Some(&access), ""))
        .await
        .unwrap();
    assert_eq!(json(response).await["sub"], USER);
}
