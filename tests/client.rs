//! The client layer's contract, over real HTTP against the crate's own server layer on
//! 127.0.0.1:0, counting on the server side what the client sent.

mod support;

use std::convert::Infallible;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Request, StatusCode, Uri};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt as _, Either, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use support::*;
use tower::{Layer as _, ServiceExt as _};
use tower_jwt_login::client::{ClientBody, ErrorKind, JwtClientBuilder, Tokens};
use tower_jwt_login::{JwtClient, JwtLoginLayer};

type Http<B = Full<Bytes>> = Client<HttpConnector, B>;

fn http() -> Http {
    http_with()
}

fn http_with<B>() -> Http<B>
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    Client::builder(TokioExecutor::new()).build_http()
}

fn base(server: &Server) -> Uri {
    format!("http://{}", server.addr).parse().unwrap()
}

fn client_for(server: &Server) -> JwtClientBuilder {
    JwtClient::builder(base(server)).credentials(USER, PASSWORD)
}

async fn recorded(layer: JwtLoginLayer) -> (Server, Log) {
    spawn_recorded(layer).await
}

/// Sends a request through the client and returns the status and the body.
async fn send<B>(client: &JwtClient<Http<B>>, request: Request<B>) -> (StatusCode, String)
where
    B: ClientBody + Send + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let response = client.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn get(path: &str) -> Request<Full<Bytes>> {
    Request::get(path).body(Full::default()).unwrap()
}

async fn sleep_until(moment: SystemTime) {
    if let Ok(wait) = moment.duration_since(SystemTime::now()) {
        tokio::time::sleep(wait + Duration::from_millis(20)).await;
    }
}

/// An access token the server accepts but whose `exp` has passed: the client must renew it
/// before sending.
fn expired_access() -> String {
    let mut claims = claims("access");
    claims["iat"] = (now() - 20).into();
    claims["exp"] = (now() - 10).into();
    forge_claims(&claims)
}

/// A token that looks fresh to the client (its `exp` is ten minutes away) but that the server
/// refuses: its signature is made with another key.
fn refused(usefor: &str) -> String {
    forge(
        HEADER,
        &claims(usefor).to_string(),
        b"not the server's secret, but long enough",
    )
}

fn bearers(log: &Log, method: &str, path: &str) -> Vec<Option<String>> {
    log.all()
        .into_iter()
        .filter(|seen| seen.method == method && seen.path == path)
        .map(|seen| seen.authorization)
        .collect()
}

#[tokio::test]
async fn the_client_logs_in_when_built_and_every_request_to_the_base_carries_the_token() {
    let (server, log) = recorded(builder().build().unwrap()).await;
    let client = client_for(&server).connect(http()).await.unwrap();
    assert_eq!(log.logins(), 1);
    assert_eq!(
        log.all().len(),
        1,
        "nothing but the login before it succeeded"
    );
    assert_eq!(
        log.all()[0].authorization,
        None,
        "the login carries no bearer"
    );
    let login: serde_json::Value = serde_json::from_slice(&log.all()[0].body).unwrap();
    assert_eq!(
        login,
        serde_json::json!({ "username": USER, "password": PASSWORD })
    );

    let (status, body) = send(&client, get("/api/v3/ping")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains(r#""sub":"admin""#), "{body}");
    let absolute = format!("http://{}/api/v3/ping", server.addr);
    let (status, _) = send(&client, get(&absolute)).await;
    assert_eq!(status, StatusCode::OK);

    let expected = format!("Bearer {}", client.tokens().access_token());
    assert_eq!(
        bearers(&log, "GET", "/api/v3/ping"),
        [Some(expected.clone()), Some(expected)]
    );
    assert_eq!(log.logins(), 1);
    assert_eq!(log.refreshes(), 0);
}

#[tokio::test]
async fn a_wrong_password_fails_at_build_with_invalid_credentials() {
    let (server, log) = recorded(builder().build().unwrap()).await;
    let error = JwtClient::builder(base(&server))
        .credentials(USER, "not the password")
        .connect(http())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidCredentials, "{error}");
    assert_eq!(error.status(), Some(StatusCode::UNAUTHORIZED));
    assert!(!format!("{error:?} {error}").contains("not the password"));
    assert_eq!(log.all().len(), 1);
    assert_eq!(log.all()[0].authorization, None);
}

#[tokio::test]
async fn an_unreachable_server_fails_at_build_with_unreachable() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let error = JwtClient::builder(format!("http://{addr}").parse().unwrap())
        .credentials(USER, PASSWORD)
        .connect(http())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unreachable, "{error}");
    assert!(
        std::error::Error::source(&error).is_some(),
        "the inner error is kept"
    );
}

#[tokio::test]
async fn an_answer_without_tokens_fails_at_build_with_unexpected_response() {
    // A server that answers 200 "hello" to everything.
    let (server, _log) = spawn_recorder().await;
    let error = client_for(&server).connect(http()).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::UnexpectedResponse, "{error}");
    assert_eq!(error.status(), Some(StatusCode::OK));

    // The crate's server, with the login route moved: the old path answers 405.
    let layer = builder().login_path("/api/v3/login").build().unwrap();
    let (server, _log) = recorded(layer).await;
    let error = client_for(&server)
        .login_path("/api/login/refresh")
        .connect(http())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::UnexpectedResponse, "{error}");
    assert_eq!(error.status(), Some(StatusCode::METHOD_NOT_ALLOWED));
}

#[tokio::test]
async fn configured_route_paths_are_used() {
    let layer = builder()
        .login_path("/auth/login")
        .refresh_path("/auth/refresh")
        .build()
        .unwrap();
    let (server, log) = recorded(layer).await;
    let client = client_for(&server)
        .login_path("/auth/login")
        .refresh_path("/auth/refresh")
        .connect(http())
        .await
        .unwrap();
    client.set_access_token(expired_access()).unwrap();
    let (status, _) = send(&client, get("/api/v3/ping")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(log.count("POST", "/auth/login"), 1);
    assert_eq!(log.count("GET", "/auth/refresh"), 1);
}

#[tokio::test]
async fn an_expired_access_token_is_refreshed_before_the_request_is_sent() {
    let layer = builder()
        .access_token_lifetime(Duration::from_secs(1))
        .build()
        .unwrap();
    let (server, log) = recorded(layer).await;
    let client = client_for(&server).connect(http()).await.unwrap();
    let first = client.tokens();
    sleep_until(first.access_expires_at().unwrap()).await;

    let (status, _) = send(&client, get("/api/v3/ping")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(log.refreshes(), 1);
    assert_eq!(log.logins(), 1);
    let renewed = client.tokens();
    assert_ne!(renewed.access_token(), first.access_token());
    assert_eq!(renewed.refresh_token(), first.refresh_token());
    assert_eq!(
        bearers(&log, "GET", "/api/v3/ping"),
        [Some(format!("Bearer {}", renewed.access_token()))],
        "one request, with the new token: no 401 round-trip"
    );
    assert_eq!(
        bearers(&log, "GET", "/api/login/refresh"),
        [Some(format!("Bearer {}", first.refresh_token()))]
    );
}

#[tokio::test]
async fn a_refused_access_token_is_refreshed_and_the_request_retried_once_with_its_body() {
    let (server, log) = recorded(builder().build().unwrap()).await;
    let client = client_for(&server).connect(http()).await.unwrap();
    let bad = refused("access");
    client.set_access_token(bad.clone()).unwrap();

    let request = Request::post("/api/v3/ping")
        .body(Full::new(Bytes::from_static(b"the payload")))
        .unwrap();
    let (status, body) = send(&client, request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(log.refreshes(), 1);
    assert_eq!(log.logins(), 1);
    let posts: Vec<_> = log
        .all()
        .into_iter()
        .filter(|seen| seen.method == "POST" && seen.path == "/api/v3/ping")
        .collect();
    assert_eq!(posts.len(), 2, "the request and its one retry");
    assert_eq!(posts[0].authorization, Some(format!("Bearer {bad}")));
    assert_eq!(
        posts[1].authorization,
        Some(format!("Bearer {}", client.tokens().access_token()))
    );
    assert!(posts.iter().all(|seen| seen.body == "the payload"));
}

#[tokio::test]
async fn a_request_refused_again_after_the_retry_gets_the_second_401() {
    // Behind the layer, a handler that refuses everyone: a fresh token does not help.
    let layer = builder().build().unwrap();
    let (server, log) = spawn_recorded_answering(layer, StatusCode::UNAUTHORIZED).await;
    let client = client_for(&server).connect(http()).await.unwrap();

    let (status, _) = send(&client, get("/api/v3/ping")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        log.count("GET", "/api/v3/ping"),
        2,
        "the request and one retry"
    );
    assert_eq!(log.refreshes(), 1);
    assert_eq!(log.logins(), 1);
}

#[tokio::test]
async fn an_expired_refresh_token_leads_to_a_new_login() {
    let layer = builder()
        .access_token_lifetime(Duration::from_secs(1))
        .refresh_token_lifetime(Duration::from_secs(2))
        .build()
        .unwrap();
    let (server, log) = recorded(layer).await;
    let client = client_for(&server).connect(http()).await.unwrap();
    let first = client.tokens();
    sleep_until(first.refresh_expires_at().unwrap()).await;

    let (status, _) = send(&client, get("/api/v3/ping")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(log.logins(), 2);
    assert_eq!(log.refreshes(), 0, "a dead refresh token is not presented");
    assert_ne!(client.tokens().refresh_token(), first.refresh_token());
}

#[tokio::test]
async fn a_refused_refresh_token_leads_to_a_new_login() {
    let (server, log) = recorded(builder().build().unwrap()).await;
    let tokens = Tokens::new(expired_access(), refused("refresh"));
    let client = client_for(&server)
        .tokens(tokens)
        .connect(http())
        .await
        .unwrap();
    assert_eq!(
        log.logins(),
        0,
        "the refresh token looked alive: no login at build"
    );

    let (status, _) = send(&client, get("/api/v3/ping")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(log.refreshes(), 1);
    assert_eq!(log.logins(), 1);
}

#[tokio::test]
async fn resumed_tokens_skip_the_login() {
    let (server, log) = recorded(builder().build().unwrap()).await;
    let (access, refresh) = login(server.addr).await;
    assert_eq!(log.logins(), 1);

    let client = JwtClient::builder(base(&server))
        .tokens(Tokens::new(access.clone(), refresh.clone()))
        .connect(http())
        .await
        .unwrap();
    let (status, _) = send(&client, get("/api/v3/ping")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(log.logins(), 1, "no login by the client");
    assert_eq!(
        bearers(&log, "GET", "/api/v3/ping"),
        [Some(format!("Bearer {access}"))]
    );
    assert_eq!(client.tokens().access_token(), access);
    assert_eq!(client.tokens().refresh_token(), refresh);

    // An expired access token with a live refresh token: refreshed, still no login.
    let client = JwtClient::builder(base(&server))
        .tokens(Tokens::new(expired_access(), refresh))
        .connect(http())
        .await
        .unwrap();
    let (status, _) = send(&client, get("/api/v3/ping")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(log.refreshes(), 1);
    assert_eq!(log.logins(), 1);
}

#[tokio::test]
async fn a_session_resumed_without_credentials_ends_with_session_expired() {
    let layer = builder()
        .access_token_lifetime(Duration::from_secs(1))
        .refresh_token_lifetime(Duration::from_secs(1))
        .build()
        .unwrap();
    let (server, log) = recorded(layer).await;
    let (access, refresh) = login(server.addr).await;
    let tokens = Tokens::new(access, refresh);
    let client = JwtClient::builder(base(&server))
        .tokens(tokens.clone())
        .connect(http())
        .await
        .unwrap();
    sleep_until(tokens.refresh_expires_at().unwrap()).await;

    let error = client
        .clone()
        .oneshot(get("/api/v3/ping"))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::SessionExpired, "{error}");
    assert!(error.is_session_expired());
    assert!(error.to_string().contains("no credentials"), "{error}");

    // Built again from the same dead tokens: the same error, at build.
    let error = JwtClient::builder(base(&server))
        .tokens(tokens)
        .connect(http())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::SessionExpired, "{error}");

    // A refresh token that looks alive but is refused ends the same way.
    let client = JwtClient::builder(base(&server))
        .tokens(Tokens::new(expired_access(), refused("refresh")))
        .connect(http())
        .await
        .unwrap();
    let error = client.oneshot(get("/api/v3/ping")).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::SessionExpired, "{error}");

    assert_eq!(log.logins(), 1, "only the test's own login");
    assert_eq!(
        log.count("GET", "/api/v3/ping"),
        0,
        "nothing sent with a dead token"
    );
}

#[tokio::test]
async fn neither_credentials_nor_tokens_is_a_configuration_error() {
    let (server, log) = recorded(builder().build().unwrap()).await;
    let error = JwtClient::builder(base(&server))
        .connect(http())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidConfig);
    assert!(log.all().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_concurrent_requests_with_an_expired_token_cause_one_refresh() {
    let (server, log) = recorded(builder().build().unwrap()).await;
    let client = client_for(&server).connect(http()).await.unwrap();
    client.set_access_token(expired_access()).unwrap();

    let requests: Vec<_> = (0..100)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { send(&client, get("/api/v3/ping")).await.0 })
        })
        .collect();
    for request in requests {
        assert_eq!(request.await.unwrap(), StatusCode::OK);
    }
    assert_eq!(log.refreshes(), 1);
    assert_eq!(log.logins(), 1);
    let expected = Some(format!("Bearer {}", client.tokens().access_token()));
    let pings = bearers(&log, "GET", "/api/v3/ping");
    assert_eq!(
        pings.len(),
        100,
        "no request went out with the expired token"
    );
    assert!(pings.iter().all(|bearer| *bearer == expected));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_concurrent_requests_refused_with_401_cause_one_refresh() {
    let (server, log) = recorded(builder().build().unwrap()).await;
    let client = client_for(&server).connect(http()).await.unwrap();
    client.set_access_token(refused("access")).unwrap();

    let requests: Vec<_> = (0..100)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { send(&client, get("/api/v3/ping")).await.0 })
        })
        .collect();
    for request in requests {
        assert_eq!(request.await.unwrap(), StatusCode::OK);
    }
    assert_eq!(log.refreshes(), 1);
    assert_eq!(log.logins(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_concurrent_requests_after_the_refresh_token_expired_cause_one_login() {
    let layer = builder()
        .access_token_lifetime(Duration::from_secs(1))
        .refresh_token_lifetime(Duration::from_secs(1))
        .build()
        .unwrap();
    let (server, log) = recorded(layer).await;
    let client = client_for(&server).connect(http()).await.unwrap();
    sleep_until(client.tokens().refresh_expires_at().unwrap()).await;

    let requests: Vec<_> = (0..100)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { send(&client, get("/api/v3/ping")).await.0 })
        })
        .collect();
    for request in requests {
        assert_eq!(request.await.unwrap(), StatusCode::OK);
    }
    assert_eq!(log.logins(), 2, "the login at build and one more");
    assert_eq!(log.refreshes(), 0);
}

#[tokio::test]
async fn no_token_is_sent_to_another_origin() {
    let (server, log) = recorded(builder().build().unwrap()).await;
    let (other, other_log) = spawn_recorder().await;
    let client = client_for(&server).connect(http()).await.unwrap();

    // Another port on the same host.
    let (status, body) = send(&client, get(&format!("http://{}/x", other.addr))).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "hello"));
    // The same server under another host name is another origin too: no token, and the server's
    // 401 comes back as it is, without a refresh.
    let port = server.addr.port();
    let (status, _) = send(
        &client,
        get(&format!("http://localhost:{port}/api/v3/ping")),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    assert_eq!(other_log.all().len(), 1);
    assert_eq!(other_log.all()[0].authorization, None);
    assert_eq!(bearers(&log, "GET", "/api/v3/ping"), [None]);
    assert_eq!(log.refreshes(), 0);
}

#[tokio::test]
async fn a_request_that_brings_its_own_authorization_keeps_it() {
    let (server, log) = recorded(builder().build().unwrap()).await;
    let client = client_for(&server).connect(http()).await.unwrap();
    let request = Request::get("/api/v3/ping")
        .header("Authorization", "Bearer mine")
        .body(Full::default())
        .unwrap();
    let (status, _) = send(&client, request).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        bearers(&log, "GET", "/api/v3/ping"),
        [Some("Bearer mine".to_owned())]
    );
    assert_eq!(log.refreshes(), 0);
}

type MaybeStreamed = Either<Full<Bytes>, UnsyncBoxBody<Bytes, Infallible>>;

#[tokio::test]
async fn a_body_that_cannot_be_replayed_gets_the_401_back_and_the_next_request_renews() {
    let (server, log) = recorded(builder().build().unwrap()).await;
    let client = client_for(&server)
        .connect(http_with::<MaybeStreamed>())
        .await
        .unwrap();
    let bad = refused("access");
    client.set_access_token(bad.clone()).unwrap();

    let streamed = MaybeStreamed::Right(
        Full::new(Bytes::from_static(b"streamed"))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    let request = Request::post("/api/v3/ping").body(streamed).unwrap();
    let (status, body) = send(&client, request).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body.contains("signature"), "the server's own 401: {body}");
    assert_eq!(
        log.refreshes(),
        0,
        "no renewal for a request that cannot be retried"
    );
    assert_eq!(log.count("POST", "/api/v3/ping"), 1);

    // The refusal is remembered: the next request renews first, and goes through at once.
    let buffered = MaybeStreamed::Left(Full::new(Bytes::from_static(b"buffered")));
    let request = Request::post("/api/v3/ping").body(buffered).unwrap();
    let (status, _) = send(&client, request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(log.refreshes(), 1);
    let posts = bearers(&log, "POST", "/api/v3/ping");
    assert_eq!(
        posts,
        [
            Some(format!("Bearer {bad}")),
            Some(format!("Bearer {}", client.tokens().access_token()))
        ]
    );
}

#[tokio::test]
async fn a_layer_from_the_client_shares_its_session() {
    let (server, log) = recorded(builder().build().unwrap()).await;
    let client = client_for(&server).connect(http()).await.unwrap();
    let other = client.layer().layer(http());
    client.set_access_token(expired_access()).unwrap();

    let (status, _) = send(&other, get("/api/v3/ping")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = send(&client, get("/api/v3/ping")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(log.logins(), 1);
    assert_eq!(
        log.refreshes(),
        1,
        "the renewal by one is seen by the other"
    );
}

#[tokio::test]
async fn debug_output_never_shows_a_token_or_the_password() {
    let (server, _log) = recorded(builder().build().unwrap()).await;
    let builder = client_for(&server);
    let debug = format!("{builder:?}");
    assert!(!debug.contains(PASSWORD), "{debug}");
    let client = builder.connect(http()).await.unwrap();
    let tokens = client.tokens();
    let debug = format!("{client:?} {tokens:?} {:?}", client.layer());
    assert!(!debug.contains(PASSWORD), "{debug}");
    assert!(!debug.contains(tokens.access_token()), "{debug}");
    assert!(!debug.contains(tokens.refresh_token()), "{debug}");
    assert!(debug.contains("[redacted]"));
}
