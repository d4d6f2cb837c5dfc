//! No secret, password, hash or token in `Debug`, `Display`, logs or error bodies.

mod support;

use std::convert::Infallible;
use std::fmt::{self, Write as _};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use support::*;
use tower::{Layer as _, Service as _, ServiceExt as _};
use tower_jwt_login::{BuildError, Claims, JwtLoginLayer, Password, Rejection, TokenUse};

/// Secrets the tests configure, each distinctive enough that finding any part of it in some
/// output is a leak.
const SECRET_MARKER: &str = "SECRET-MARKER-0123456789-abcdefghijklmn";
const PASSWORD_MARKER: &str = "PASSWORD-MARKER-hunter2";
const HASHED_PASSWORD: &str = "HASHED-PASSWORD-MARKER";

fn phc() -> String {
    static PHC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PHC.get_or_init(|| {
        use argon2::PasswordHasher as _;
        argon2::Argon2::default()
            .hash_password_with_salt(HASHED_PASSWORD.as_bytes(), b"saltsaltsaltsalt")
            .unwrap()
            .to_string()
    })
    .clone()
}

/// Every form in which a secret could leak: as given, hex, base64, the PHC string's hash and
/// salt, and the decimal byte list a derived `Debug` of a `Vec<u8>` prints.
fn forbidden() -> Vec<String> {
    let phc = phc();
    let mut out = vec![
        SECRET_MARKER.to_owned(),
        PASSWORD_MARKER.to_owned(),
        HASHED_PASSWORD.to_owned(),
        SECRET.to_owned(),
        PASSWORD.to_owned(),
        phc.clone(),
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(SECRET_MARKER),
        SECRET_MARKER
            .bytes()
            .map(|b| format!("{b:02x}"))
            .collect::<String>(),
        format!("{:?}", &SECRET_MARKER.as_bytes()[..8])
            .trim_end_matches(']')
            .to_owned(),
    ];
    // The hash output and the salt, as they appear in the PHC string.
    out.extend(phc.rsplit('$').take(2).map(str::to_owned));
    out
}

fn assert_clean(what: &str, output: &str, extra: &[&str]) {
    for needle in forbidden()
        .iter()
        .map(String::as_str)
        .chain(extra.iter().copied())
    {
        assert!(
            !output.contains(needle),
            "{what} leaks {needle:?}: {output}"
        );
    }
}

fn configured() -> tower_jwt_login::JwtLoginBuilder {
    JwtLoginLayer::builder()
        .user(USER, Password::plain(PASSWORD))
        .user("plain", Password::plain(PASSWORD_MARKER))
        .user("hashed", Password::phc(phc()))
        .secret(SECRET_MARKER)
}

type Inner = tower::util::ServiceFn<
    fn(Request<Full<Bytes>>) -> std::future::Ready<Result<Response<Full<Bytes>>, Infallible>>,
>;

fn inner() -> Inner {
    fn answer(
        _: Request<Full<Bytes>>,
    ) -> std::future::Ready<Result<Response<Full<Bytes>>, Infallible>> {
        std::future::ready(Ok(Response::new(Full::default())))
    }
    tower::service_fn(answer as fn(_) -> _)
}

#[test]
fn configuration_types_print_no_secret_or_password() {
    capture();
    let builder = configured();
    assert_clean("JwtLoginBuilder Debug", &format!("{builder:?}"), &[]);
    assert!(format!("{builder:?}").contains("[redacted]"));

    let layer = builder.build().unwrap();
    assert_clean("JwtLoginLayer Debug", &format!("{layer:?}"), &[]);
    assert_clean("JwtLoginLayer alternate Debug", &format!("{layer:#?}"), &[]);

    let service = layer.layer(inner());
    assert_clean("JwtLogin Debug", &format!("{service:#?}"), &[]);

    for password in [Password::plain(PASSWORD_MARKER), Password::phc(phc())] {
        assert_clean(
            "Password Debug",
            &format!("{password:?} {password:#?}"),
            &[],
        );
    }
}

#[test]
fn build_errors_print_no_secret_or_password() {
    capture();
    let cases: Vec<(&str, tower_jwt_login::JwtLoginBuilder)> = vec![
        (
            "a short secret",
            JwtLoginLayer::builder()
                .user(USER, Password::plain(PASSWORD))
                .secret(&SECRET_MARKER[..20]),
        ),
        (
            "a plain password given as a PHC string",
            JwtLoginLayer::builder().user(USER, Password::phc(PASSWORD_MARKER)),
        ),
        (
            "a PHC string of another algorithm",
            JwtLoginLayer::builder()
                .user(USER, Password::phc(phc().replace("argon2id", "argon2i"))),
        ),
        (
            "a PHC string with impossible parameters",
            JwtLoginLayer::builder().user(USER, Password::phc(phc().replace("m=19456", "m=1"))),
        ),
        (
            "a duplicate user",
            JwtLoginLayer::builder()
                .user(USER, Password::plain(PASSWORD_MARKER))
                .user(USER, Password::plain(PASSWORD)),
        ),
    ];
    for (name, builder) in cases {
        let error: BuildError = builder.build().unwrap_err();
        assert_clean(
            name,
            &format!("{error} {error:?} {error:#?}"),
            &[&SECRET_MARKER[..20]],
        );
    }
}

/// The configuration file form: its `Debug`, and the errors of a configuration holding secrets.
#[tokio::test]
async fn the_configuration_file_form_prints_no_secret_password_or_redis_password() {
    capture();
    const REDIS_PASSWORD: &str = "REDIS-PASSWORD-MARKER";
    let mut config = serde_json::json!({
        "users": [
            { "username": USER, "password": PASSWORD_MARKER },
            { "username": "hashed", "password_hash": phc() },
        ],
        "secret": SECRET_MARKER,
    });
    if cfg!(feature = "redis") {
        config["store"] = serde_json::json!({
            "type": "redis",
            "url": format!("redis://:{REDIS_PASSWORD}@127.0.0.1:1/"),
        });
    }
    let parsed: tower_jwt_login::JwtLoginConfig = serde_json::from_value(config.clone()).unwrap();
    let debug = format!("{parsed:?} {parsed:#?}");
    assert_clean("JwtLoginConfig Debug", &debug, &[REDIS_PASSWORD]);
    assert!(debug.contains("[redacted]"), "{debug}");
    assert!(debug.contains(USER), "usernames are not secret: {debug}");
    let rotating: tower_jwt_login::JwtLoginConfig = serde_json::from_value(serde_json::json!({
        "users": [{ "username": USER, "password": PASSWORD }],
        "signing_key": { "kid": "new", "secret": SECRET_MARKER },
        "previous_keys": [{ "kid": "old", "secret": PASSWORD_MARKER }],
    }))
    .unwrap();
    assert_clean(
        "JwtLoginConfig Debug with keys",
        &format!("{rotating:?} {rotating:#?}"),
        &[],
    );

    // Errors of such a configuration: a short secret, a plain password where a hash belongs,
    // a Redis URL that is not one.
    let mut cases = vec![
        ("secret", serde_json::json!(&SECRET_MARKER[..20]), "secret"),
        (
            "users",
            serde_json::json!([{ "username": USER, "password_hash": PASSWORD_MARKER }]),
            "users[0].password_hash",
        ),
    ];
    if cfg!(feature = "redis") {
        cases.push((
            "store",
            serde_json::json!({ "type": "redis", "url": format!("http://:{REDIS_PASSWORD}@x/") }),
            "store.url",
        ));
    }
    for (field, value, expected) in cases {
        let mut config = config.clone();
        config[field] = value;
        let parsed: tower_jwt_login::JwtLoginConfig = serde_json::from_value(config).unwrap();
        let error = parsed.build().unwrap_err();
        assert_eq!(error.field(), Some(expected));
        assert_clean(
            field,
            &format!("{error} {error:?} {error:#?}"),
            &[&SECRET_MARKER[..20], REDIS_PASSWORD],
        );
    }
}

#[cfg(feature = "client")]
#[test]
fn client_configuration_and_tokens_print_no_password_or_token() {
    use tower_jwt_login::client::{JwtClient, Tokens};
    capture();
    let access = forge_claims(&claims("access"));
    let refresh = forge_claims(&claims("refresh"));
    let builder = JwtClient::builder(http::Uri::from_static("http://127.0.0.1:8080"))
        .credentials(USER, PASSWORD_MARKER)
        .tokens(Tokens::new(access.clone(), refresh.clone()));
    let tokens = Tokens::new(access.clone(), refresh.clone());
    let signatures = [
        access.rsplit('.').next().unwrap(),
        refresh.rsplit('.').next().unwrap(),
    ];
    assert_clean(
        "client builder and tokens Debug",
        &format!("{builder:?} {builder:#?} {tokens:?} {tokens:#?}"),
        &signatures,
    );
}

#[tokio::test]
async fn request_time_types_print_no_token() {
    capture();
    let layer = builder().build().unwrap();
    let seen: Arc<Mutex<Option<Claims>>> = Arc::default();
    let captured = Arc::clone(&seen);
    let mut service = layer.layer(tower::service_fn(move |request: Request<Full<Bytes>>| {
        *captured.lock().unwrap() = request.extensions().get::<Claims>().cloned();
        std::future::ready(Ok::<_, Infallible>(Response::new(Full::<Bytes>::default())))
    }));

    // A login: the response future and the body hold the tokens until they are sent.
    let body = serde_json::json!({ "username": USER, "password": PASSWORD }).to_string();
    let request = Request::post("/api/login")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let future = service.ready().await.unwrap().call(request);
    assert_clean("ResponseFuture Debug", &format!("{future:?}"), &[]);
    let response = future.await.unwrap();
    assert_eq!(response.status(), 200);
    let debug = format!("{response:?} {:?}", response.body());
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    let tokens: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let signatures = [
        access.rsplit('.').next().unwrap(),
        refresh.rsplit('.').next().unwrap(),
    ];
    assert_clean("login response Debug", &debug, &signatures);

    // A protected request: the claims a handler gets print no token.
    let request = Request::get("/api/v3/ping")
        .header("authorization", format!("Bearer {access}"))
        .body(Full::default())
        .unwrap();
    let response = service.ready().await.unwrap().call(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let claims = seen
        .lock()
        .unwrap()
        .clone()
        .expect("claims reach the handler");
    assert_eq!(claims.sub(), USER);
    assert_clean(
        "Claims Debug",
        &format!("{claims:?} {claims:#?}"),
        &signatures,
    );
    assert_clean(
        "pass-through response Debug",
        &format!("{response:?}"),
        &signatures,
    );

    // A rejection: neither the response nor the rejection in its extensions echoes the token.
    let request = Request::get("/api/v3/ping")
        .header("authorization", format!("Bearer {refresh}"))
        .body(Full::default())
        .unwrap();
    let response = service.ready().await.unwrap().call(request).await.unwrap();
    assert_eq!(response.status(), 401);
    let rejection = *response.extensions().get::<Rejection>().unwrap();
    assert_eq!(rejection, Rejection::WrongTokenUse);
    let debug = format!(
        "{response:?} {rejection:?} {rejection} {}",
        TokenUse::Refresh
    );
    assert_clean("rejection Debug", &debug, &signatures);
}

#[tokio::test]
async fn error_bodies_echo_nothing_the_client_sent() {
    capture();
    let server = spawn(Stack::Hyper, builder().build().unwrap()).await;
    let marker = "CLIENT-MARKER-7f3a";
    let mut claims = claims("access");
    claims["sub"] = marker.into();
    let forged = forge(HEADER, &claims.to_string(), b"a wrong key");
    let replies = [
        login_with(server.addr, marker, marker).await,
        login_with(server.addr, USER, marker).await,
        get(server.addr, "/api/v3/ping", Some(&forged)).await,
        get(server.addr, "/api/v3/ping", Some(&forge_claims(&claims))).await,
        get(server.addr, &format!("/api/v3/{marker}"), Some(marker)).await,
        get(server.addr, "/api/login/refresh", Some(&forged)).await,
    ];
    for reply in replies {
        assert!((400..500).contains(&reply.status));
        let text = format!("{:?} {}", reply.headers, reply.text());
        assert!(!text.contains(marker), "{text}");
        assert!(!text.contains(forged.rsplit('.').next().unwrap()), "{text}");
    }
}

/// The process-wide log capture. Every test of this file installs it first, so that no callsite
/// is ever registered (and its interest cached) without it.
fn capture() -> &'static Capture {
    static CAPTURE: std::sync::OnceLock<Capture> = std::sync::OnceLock::new();
    CAPTURE.get_or_init(|| {
        let capture = Capture::default();
        tracing::subscriber::set_global_default(capture.clone()).unwrap();
        capture
    })
}

/// Records every event and span field, at every level, as text.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<String>>);

struct Fields<'a>(&'a mut String);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        let _ = write!(self.0, "{}={value:?} ", field.name());
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::TRACE)
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let mut log = self.0.lock().unwrap();
        let _ = write!(log, "span {} ", span.metadata().name());
        span.record(&mut Fields(&mut log));
        log.push('\n');
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        values.record(&mut Fields(&mut self.0.lock().unwrap()));
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut log = self.0.lock().unwrap();
        let _ = write!(
            log,
            "{} {} ",
            event.metadata().level(),
            event.metadata().target()
        );
        event.record(&mut Fields(&mut log));
        log.push('\n');
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[tokio::test]
async fn logs_at_every_level_hold_no_secret_password_or_token() {
    let capture = capture();

    let server = spawn(Stack::Hyper, configured().build().unwrap()).await;
    let (access, refresh) = login(server.addr).await;
    let refreshed = get(server.addr, "/api/login/refresh", Some(&refresh)).await;
    assert_eq!(refreshed.status, 200);
    assert_eq!(
        get(server.addr, "/api/v3/ping", Some(&access)).await.status,
        200
    );
    login_with(server.addr, "plain", "a wrong password")
        .await
        .assert_error(401);
    login_with(server.addr, "nobody", PASSWORD_MARKER)
        .await
        .assert_error(401);
    assert_eq!(
        login_with(server.addr, "plain", PASSWORD_MARKER)
            .await
            .status,
        200
    );
    get(server.addr, "/api/v3/ping", Some(&refresh))
        .await
        .assert_unauthorized();
    // Signed with a key the server does not have (it uses SECRET_MARKER here).
    let forged = forge(HEADER, &claims("access").to_string(), SECRET.as_bytes());
    get(server.addr, "/api/v3/ping", Some(&forged))
        .await
        .assert_unauthorized();

    // Everything every test of this file logged so far: none of it may leak either.
    let log = capture.0.lock().unwrap().clone();
    // The capture works: the layer's own events are in it.
    assert!(log.contains("login succeeded"), "{log}");
    assert!(log.contains("token rejected"), "{log}");
    let new_access = refreshed.json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let signatures: Vec<&str> = [&access, &refresh, &new_access, &forged]
        .iter()
        .map(|t| t.rsplit('.').next().unwrap())
        .collect();
    assert_clean("the log", &log, &signatures);
    assert_clean("the log", &log, &["a wrong password"]);
}
