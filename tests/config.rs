//! The configuration file form: a full configuration builds a layer that behaves as
//! configured over real HTTP, unknown fields are errors, and every invalid value is an error that
//! names its field.

mod support;

use base64::Engine as _;
use serde_json::{Value, json};
use support::*;
use tower_jwt_login::{BuildError, ConfigError, JwtLoginConfig};

const HASHED_USER: &str = "operator";
const HASHED_PASSWORD: &str = "a password stored only as its argon2id hash";

fn phc() -> String {
    static PHC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PHC.get_or_init(|| {
        use argon2::PasswordHasher as _;
        argon2::Argon2::default()
            .hash_password_with_salt(HASHED_PASSWORD.as_bytes(), b"configsaltconfig")
            .unwrap()
            .to_string()
    })
    .clone()
}

/// Every field of the configuration set to something other than its default (tenants apart:
/// they need an identity provider, see below).
fn full_config() -> Value {
    json!({
        "realm": "config-test",
        "users": [
            { "username": USER, "password": PASSWORD },
            { "username": HASHED_USER, "password_hash": phc() },
        ],
        "secret": SECRET,
        "access_token_lifetime_seconds": 120,
        "refresh_token_lifetime_seconds": 3600,
        "leeway_seconds": 5,
        "login_path": "/auth/login",
        "refresh_path": "/auth/refresh",
        "logout_path": "/auth/logout",
        "protected_prefixes": ["/private", "/api/v3"],
        "optional_auth_paths": ["/api"],
        "login_body_limit_bytes": 512,
        "loopback_bypass": false,
        "login_throttle": {
            "enabled": true,
            "max_failures_per_user": 2,
            "max_failures_per_client": 20,
            "window_seconds": 60,
            "first_lockout_seconds": 30,
            "max_lockout_seconds": 120,
        },
        "refresh_token_rotation": true,
        "refresh_token_reuse_grace_seconds": 0,
        "max_sessions_per_user": 10,
        "max_revocations_per_user": 50,
        "validated_token_cache_slots": 0,
        "max_concurrent_password_hashes": 3,
        "store": { "type": "memory", "max_throttle_counters": 1000 },
    })
}

fn parse(config: Value) -> JwtLoginConfig {
    serde_json::from_value(config).unwrap()
}

fn build(config: Value) -> Result<tower_jwt_login::JwtLoginLayer, ConfigError> {
    parse(config).build()
}

fn tokens(reply: &Reply) -> (String, String) {
    assert_eq!(reply.status, 200, "{}", reply.text());
    let body = reply.json();
    (
        body["access_token"].as_str().unwrap().to_owned(),
        body["refresh_token"].as_str().unwrap().to_owned(),
    )
}

async fn login_at(server: &Server, path: &str, username: &str, password: &str) -> Reply {
    let body = json!({ "username": username, "password": password }).to_string();
    send_raw(
        server.addr,
        &raw_request(
            "POST",
            path,
            &[("Content-Type", b"application/json")],
            body.as_bytes(),
        ),
    )
    .await
}

/// The cache size cannot be seen over HTTP (only in time): it shows in the layer's `Debug`.
#[test]
fn the_validated_token_cache_is_sized_as_configured() {
    let debug = |slots: Option<usize>| {
        let mut config = full_config();
        match slots {
            Some(slots) => config["validated_token_cache_slots"] = slots.into(),
            None => drop(
                config
                    .as_object_mut()
                    .unwrap()
                    .remove("validated_token_cache_slots"),
            ),
        }
        format!("{:?}", build(config).unwrap())
    };
    assert!(
        debug(Some(0)).contains("token_cache: None"),
        "{}",
        debug(Some(0))
    );
    assert!(
        debug(Some(100)).contains("TokenCache { slots: 128"),
        "{}",
        debug(Some(100))
    );
    assert!(
        debug(None).contains("TokenCache { slots: 1024"),
        "{}",
        debug(None)
    );
}

#[tokio::test]
async fn a_full_json_configuration_builds_a_layer_that_behaves_as_configured() {
    // The hyper stack's inner service answers every path, so what passes through shows.
    let server = spawn(Stack::Hyper, build(full_config()).unwrap()).await;

    // Users, realm and lifetimes.
    let (access, refresh) = tokens(&login_at(&server, "/auth/login", USER, PASSWORD).await);
    let claims = payload(&access);
    assert_eq!(claims["iss"], "config-test");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        120
    );
    let claims = payload(&refresh);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );
    tokens(&login_at(&server, "/auth/login", HASHED_USER, HASHED_PASSWORD).await);
    login_at(&server, "/auth/login", HASHED_USER, PASSWORD)
        .await
        .assert_error(401);

    // The default login path is no longer the layer's: it reaches the inner service.
    let reply = login_at(&server, "/api/login", USER, PASSWORD).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["path"], "/api/login");

    // Protected prefixes, the realm in the challenge, optional authentication.
    let reply = get(server.addr, "/private/x", None).await;
    reply.assert_unauthorized();
    assert_eq!(
        reply.header("www-authenticate"),
        Some("Bearer realm=\"config-test\"")
    );
    let reply = get(server.addr, "/private/x", Some(&access)).await;
    assert_eq!(reply.inner_sub().as_deref(), Some(USER));
    get(server.addr, "/api/v3/ping", None)
        .await
        .assert_unauthorized();
    assert_eq!(get(server.addr, "/api", None).await.inner_sub(), None);
    assert_eq!(
        get(server.addr, "/api", Some(&access))
            .await
            .inner_sub()
            .as_deref(),
        Some(USER)
    );

    // Rotation: the refresh path answers a new refresh token; the old one is spent.
    let (_, rotated) = tokens(&get(server.addr, "/auth/refresh", Some(&refresh)).await);
    assert_ne!(rotated, refresh);
    get(server.addr, "/auth/refresh", Some(&refresh))
        .await
        .assert_unauthorized();
    // That was reuse (the grace is configured to 0): every token of that login is revoked, its
    // access token too.
    get(server.addr, "/private/x", Some(&access))
        .await
        .assert_unauthorized();
    let (access, _) = tokens(&login_at(&server, "/auth/login", USER, PASSWORD).await);

    // The login body limit.
    let reply = login_at(&server, "/auth/login", USER, &"x".repeat(600)).await;
    reply.assert_error(413);

    // Logout at its path revokes the access token.
    let reply = call_with(server.addr, "POST", "/auth/logout", &access).await;
    assert_eq!(reply.status, 204, "{}", reply.text());
    get(server.addr, "/private/x", Some(&access))
        .await
        .assert_unauthorized();

    // Throttling: two failures allowed, then locked out for the first lockout, 30 s.
    for _ in 0..2 {
        login_at(&server, "/auth/login", USER, "wrong")
            .await
            .assert_error(401);
    }
    let reply = login_at(&server, "/auth/login", USER, "wrong").await;
    reply.assert_error(429);
    let retry_after: u64 = reply.header("retry-after").unwrap().parse().unwrap();
    assert!((29..=30).contains(&retry_after), "{retry_after}");
}

/// Rolling keys through the configuration: tokens of the previous key stay valid, and are
/// refused once that key is removed.
#[tokio::test]
async fn keys_in_the_configuration_rotate_without_logging_anybody_out() {
    let config = |signing: (&str, &str), previous: Value| {
        let mut config = full_config();
        config.as_object_mut().unwrap().remove("secret");
        config["signing_key"] = json!({ "kid": signing.0, "secret": signing.1 });
        config["previous_keys"] = previous;
        build(config).unwrap()
    };
    let november = ("2026-11", "the key of November, 32 bytes long");
    let december = ("2026-12", "the key of December, 32 bytes long");
    let before = spawn(Stack::Hyper, config(november, json!([]))).await;
    let (old, _) = tokens(&login_at(&before, "/auth/login", USER, PASSWORD).await);
    assert_eq!(
        serde_json::from_slice::<Value>(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(old.split('.').next().unwrap())
                .unwrap()
        )
        .unwrap()["kid"],
        "2026-11"
    );

    let previous = json!([{ "kid": november.0, "secret": november.1 }]);
    let rotated = spawn(Stack::Hyper, config(december, previous)).await;
    let (new, _) = tokens(&login_at(&rotated, "/auth/login", USER, PASSWORD).await);
    for token in [&old, &new] {
        let reply = get(rotated.addr, "/private/x", Some(token)).await;
        assert_eq!(reply.inner_sub().as_deref(), Some(USER));
    }

    let removed = spawn(Stack::Hyper, config(december, json!([]))).await;
    get(removed.addr, "/private/x", Some(&old))
        .await
        .assert_unauthorized();
    assert_eq!(
        get(removed.addr, "/private/x", Some(&new))
            .await
            .inner_sub()
            .as_deref(),
        Some(USER)
    );
}

#[tokio::test]
async fn a_disabled_throttle_in_the_configuration_never_locks_out() {
    let mut config = full_config();
    config["login_throttle"] = json!({ "enabled": false });
    let server = spawn(Stack::Hyper, build(config).unwrap()).await;
    for _ in 0..8 {
        login_at(&server, "/auth/login", USER, "wrong")
            .await
            .assert_error(401);
    }
}

/// Two replicas built from one configuration share the Redis store it names: a refresh token
/// rotated on one is spent on the other.
#[cfg(feature = "redis")]
#[tokio::test]
async fn a_redis_store_in_the_configuration_is_shared_by_replicas() {
    let redis = RedisServer::start();
    let mut config = full_config();
    config["store"] = json!({
        "type": "redis",
        "url": redis.url(),
        "key_prefix": "config-test:",
        "timeout_milliseconds": 2000,
    });
    let first = spawn(Stack::Hyper, build(config.clone()).unwrap()).await;
    let second = spawn(Stack::Axum, build(config).unwrap()).await;
    let (_, refresh) = tokens(&login_at(&first, "/auth/login", USER, PASSWORD).await);
    tokens(&get(first.addr, "/auth/refresh", Some(&refresh)).await);
    get(second.addr, "/auth/refresh", Some(&refresh))
        .await
        .assert_unauthorized();
    let count = |pattern: &str| {
        redis.command(&format!(
            "EVAL \"return #redis.call('KEYS', '{pattern}')\" 0"
        ))
    };
    assert_ne!(
        count("config-test:*"),
        ":0\r\n",
        "the configured key prefix is used"
    );
    assert_eq!(count("tower-jwt-login:*"), ":0\r\n");
}

/// A tenant from the configuration logs in with the identity provider's token.
#[cfg(feature = "jwks")]
#[tokio::test]
async fn a_tenant_in_the_configuration_logs_in_with_its_identity_provider_token() {
    use support::jwks::{JwksServer, TestKey};
    let key = TestKey::ec("ec-config");
    let idp = JwksServer::start(&[&key]).await;
    let mut config = full_config();
    config["tenants"] = json!([{
        "issuer": idp.issuer(),
        "audiences": ["https://core.example.com/api"],
        "allowed_subjects": ["auth0|from-config"],
        "jwks_url": format!("{}.well-known/jwks.json", idp.issuer()),
        "discovery": false,
        "allow_insecure_loopback": true,
        "refresh_interval_seconds": 60,
    }]);
    let server = spawn(Stack::Hyper, build(config).unwrap()).await;
    idp.wait_for_fetches(1).await;
    let now = now();
    let token = key.sign(&json!({
        "iss": idp.issuer(), "sub": "auth0|from-config", "aud": "https://core.example.com/api",
        "iat": now, "exp": now + 600,
    }));
    let reply = post_bearer(server.addr, "/auth/login", &token).await;
    let (access, _) = tokens(&reply);
    assert_eq!(payload(&access)["sub"], "auth0|from-config");
}

#[test]
fn unknown_fields_are_errors_at_every_level() {
    struct Case {
        pointer: &'static str,
        field: &'static str,
    }
    let mut cases = vec![
        Case {
            pointer: "",
            field: "secrets",
        },
        Case {
            pointer: "/users/1",
            field: "passwd",
        },
        Case {
            pointer: "/signing_key",
            field: "id",
        },
        Case {
            pointer: "/login_throttle",
            field: "window",
        },
        Case {
            pointer: "/store",
            field: "max_entry",
        },
    ];
    if cfg!(feature = "jwks") {
        cases.push(Case {
            pointer: "/tenants/0",
            field: "audience",
        });
    }
    if cfg!(feature = "redis") {
        cases.push(Case {
            pointer: "/store",
            field: "urll",
        });
    }
    for case in cases {
        let mut config = full_config();
        config["signing_key"] = json!({ "kid": "k", "secret": SECRET });
        config["tenants"] = json!([{ "issuer": "https://idp.example.com/" }]);
        if case.field == "urll" {
            config["store"] = json!({ "type": "redis", "url": "redis://127.0.0.1/" });
        }
        if !cfg!(feature = "jwks") {
            config.as_object_mut().unwrap().remove("tenants");
        }
        config.pointer_mut(case.pointer).unwrap()[case.field] = json!(1);
        let error = serde_json::from_value::<JwtLoginConfig>(config).unwrap_err();
        assert!(
            error
                .to_string()
                .contains(&format!("unknown field `{}`", case.field)),
            "{}: {error}",
            case.field
        );
    }
    let mut config = full_config();
    config["store"] = json!({ "type": "postgres" });
    let error = serde_json::from_value::<JwtLoginConfig>(config).unwrap_err();
    assert!(
        error.to_string().contains("unknown variant `postgres`"),
        "{error}"
    );
}

#[test]
fn a_user_needs_exactly_one_of_password_and_password_hash() {
    for (user, expected) in [
        (
            json!({ "username": "a" }),
            "needs `password` or `password_hash`",
        ),
        (
            json!({ "username": "a", "password": "x", "password_hash": phc() }),
            "has both `password` and `password_hash`",
        ),
    ] {
        let mut config = full_config();
        config["users"][1] = user;
        let error = serde_json::from_value::<JwtLoginConfig>(config).unwrap_err();
        assert!(error.to_string().contains(expected), "{error}");
    }
}

/// A configuration made invalid by one change, and the field its error must name.
struct Invalid {
    change: fn(&mut Value),
    field: &'static str,
    error: fn(&BuildError) -> bool,
}

/// Replaces `secret` with a signing key and two previous keys, all valid.
fn with_keys(config: &mut Value) {
    config.as_object_mut().unwrap().remove("secret");
    config["signing_key"] =
        json!({ "kid": "2026-12", "secret": "the key of December, 32 bytes long" });
    config["previous_keys"] = json!([
        { "kid": "2026-11", "secret": "the key of November, 32 bytes long" },
        { "kid": "2026-10", "secret": "the key of October, 32 bytes long!" },
    ]);
}

fn invalid_cases() -> Vec<Invalid> {
    let mut cases = vec![
        Invalid {
            change: |c| c["secret"] = json!("short"),
            field: "secret",
            error: |e| matches!(e, BuildError::SecretTooShort { len: 5 }),
        },
        Invalid {
            change: |c| c["max_sessions_per_user"] = json!(0),
            field: "max_sessions_per_user",
            error: |e| matches!(e, BuildError::InvalidSessionBounds { .. }),
        },
        Invalid {
            change: |c| c["max_revocations_per_user"] = json!(0),
            field: "max_revocations_per_user",
            error: |e| matches!(e, BuildError::InvalidSessionBounds { .. }),
        },
        Invalid {
            change: |c| c["refresh_token_reuse_grace_seconds"] = json!(301),
            field: "refresh_token_reuse_grace_seconds",
            error: |e| matches!(e, BuildError::InvalidSessionBounds { .. }),
        },
        Invalid {
            change: |c| c["users"] = json!([]),
            field: "users",
            error: |e| matches!(e, BuildError::NoUsers),
        },
        Invalid {
            change: |c| c["users"][1] = json!({ "username": "ops", "password": "" }),
            field: "users[1].password",
            error: |e| matches!(e, BuildError::EmptyPassword { username } if username == "ops"),
        },
        Invalid {
            change: |c| c["users"][1]["password_hash"] = json!("$argon2id$nonsense"),
            field: "users[1].password_hash",
            error: |e| matches!(e, BuildError::InvalidPasswordHash { .. }),
        },
        Invalid {
            change: |c| c["users"][1]["username"] = json!(USER),
            field: "users[1].username",
            error: |e| matches!(e, BuildError::DuplicateUser { .. }),
        },
        Invalid {
            change: |c| c["users"][0]["username"] = json!(""),
            field: "users[0].username",
            error: |e| matches!(e, BuildError::EmptyUsername),
        },
        Invalid {
            change: |c| c["realm"] = json!("a\"b"),
            field: "realm",
            error: |e| matches!(e, BuildError::InvalidRealm),
        },
        Invalid {
            change: |c| c["access_token_lifetime_seconds"] = json!(0),
            field: "access_token_lifetime_seconds",
            error: |e| matches!(e, BuildError::InvalidLifetime { token: "access" }),
        },
        Invalid {
            change: |c| c["refresh_token_lifetime_seconds"] = json!(u64::MAX),
            field: "refresh_token_lifetime_seconds",
            error: |e| matches!(e, BuildError::InvalidLifetime { token: "refresh" }),
        },
        Invalid {
            change: |c| c["leeway_seconds"] = json!(120),
            field: "leeway_seconds",
            error: |e| matches!(e, BuildError::InvalidLeeway),
        },
        Invalid {
            change: |c| c["login_body_limit_bytes"] = json!(0),
            field: "login_body_limit_bytes",
            error: |e| matches!(e, BuildError::InvalidBodyLimit),
        },
        Invalid {
            change: |c| c["max_concurrent_password_hashes"] = json!(0),
            field: "max_concurrent_password_hashes",
            error: |e| matches!(e, BuildError::InvalidPasswordHashLimit),
        },
        Invalid {
            change: |c| c["login_path"] = json!("auth/login"),
            field: "login_path",
            error: |e| matches!(e, BuildError::InvalidPath { .. }),
        },
        Invalid {
            change: |c| c["refresh_path"] = json!("/auth/../refresh"),
            field: "refresh_path",
            error: |e| matches!(e, BuildError::InvalidPath { .. }),
        },
        Invalid {
            change: |c| c["logout_path"] = json!(""),
            field: "logout_path",
            error: |e| matches!(e, BuildError::InvalidPath { .. }),
        },
        Invalid {
            change: |c| c["protected_prefixes"] = json!(["/private", "/api/v3/"]),
            field: "protected_prefixes[1]",
            error: |e| matches!(e, BuildError::InvalidPath { path, .. } if path == "/api/v3/"),
        },
        Invalid {
            change: |c| c["optional_auth_paths"] = json!(["/a//b"]),
            field: "optional_auth_paths[0]",
            error: |e| matches!(e, BuildError::InvalidPath { .. }),
        },
        Invalid {
            change: |c| c["login_throttle"]["max_failures_per_user"] = json!(0),
            field: "login_throttle.max_failures_per_user",
            error: |e| matches!(e, BuildError::InvalidThrottle { .. }),
        },
        Invalid {
            change: |c| c["login_throttle"]["max_failures_per_client"] = json!(0),
            field: "login_throttle.max_failures_per_client",
            error: |e| matches!(e, BuildError::InvalidThrottle { .. }),
        },
        Invalid {
            change: |c| c["login_throttle"]["window_seconds"] = json!(0),
            field: "login_throttle.window_seconds",
            error: |e| matches!(e, BuildError::InvalidThrottle { .. }),
        },
        Invalid {
            change: |c| c["login_throttle"]["first_lockout_seconds"] = json!(0),
            field: "login_throttle.first_lockout_seconds",
            error: |e| matches!(e, BuildError::InvalidThrottle { .. }),
        },
        Invalid {
            change: |c| c["login_throttle"]["max_lockout_seconds"] = json!(10),
            field: "login_throttle.max_lockout_seconds",
            error: |e| matches!(e, BuildError::InvalidThrottle { .. }),
        },
        Invalid {
            change: |c| c["login_throttle"] = json!({ "first_lockout_seconds": 3600 }),
            field: "login_throttle.first_lockout_seconds",
            error: |e| matches!(e, BuildError::InvalidThrottle { .. }),
        },
        Invalid {
            change: |c| {
                c["signing_key"] = json!({ "kid": "2026-12", "secret": SECRET });
            },
            field: "signing_key",
            error: |e| matches!(e, BuildError::ConflictingKeys),
        },
        Invalid {
            change: |c| c["previous_keys"] = json!([{ "kid": "2026-11", "secret": SECRET }]),
            field: "previous_keys",
            error: |e| matches!(e, BuildError::PreviousKeyNeedsKeyId),
        },
        Invalid {
            change: |c| {
                with_keys(c);
                c["signing_key"]["secret"] = json!("short");
            },
            field: "signing_key.secret",
            error: |e| matches!(e, BuildError::SecretTooShort { len: 5 }),
        },
        Invalid {
            change: |c| {
                with_keys(c);
                c["previous_keys"][1]["secret"] = json!("short");
            },
            field: "previous_keys[1].secret",
            error: |e| matches!(e, BuildError::SecretTooShort { len: 5 }),
        },
        Invalid {
            change: |c| {
                with_keys(c);
                c["signing_key"]["kid"] = json!("");
            },
            field: "signing_key.kid",
            error: |e| matches!(e, BuildError::InvalidKeyId { .. }),
        },
        Invalid {
            change: |c| {
                with_keys(c);
                c["previous_keys"][1]["kid"] = json!("a\"b");
            },
            field: "previous_keys[1].kid",
            error: |e| matches!(e, BuildError::InvalidKeyId { .. }),
        },
        Invalid {
            change: |c| {
                with_keys(c);
                c["previous_keys"][1]["kid"] = json!("2026-12");
            },
            field: "previous_keys[1].kid",
            error: |e| matches!(e, BuildError::DuplicateKeyId { kid } if kid == "2026-12"),
        },
    ];
    if cfg!(feature = "jwks") {
        cases.extend([
            Invalid {
                change: |c| {
                    c["tenants"] = json!([
                        { "issuer": "https://a.example.com/", "audiences": ["x"], "allowed_subjects": ["s"] },
                        { "issuer": "http://b.example.com/", "audiences": ["x"], "allowed_subjects": ["s"] },
                    ])
                },
                field: "tenants[1]",
                error: |e| e.to_string().contains("http://b.example.com/"),
            },
            Invalid {
                change: |c| {
                    c["tenants"] =
                        json!([{ "issuer": "https://a.example.com/", "allowed_subjects": ["s"] }])
                },
                field: "tenants[0]",
                error: |e| e.to_string().contains("audience"),
            },
        ]);
    }
    cases
}

#[tokio::test]
async fn every_invalid_configuration_is_an_error_that_names_its_field() {
    for case in invalid_cases() {
        let mut config = full_config();
        (case.change)(&mut config);
        let error = build(config).map(drop).unwrap_err();
        assert_eq!(error.field(), Some(case.field), "{error}");
        assert!(
            (case.error)(error.build_error()),
            "{}: {error:?}",
            case.field
        );
        assert!(
            error
                .to_string()
                .starts_with(&format!("`{}`: ", case.field)),
            "{error}"
        );
    }
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn an_invalid_redis_store_names_its_field() {
    for (store, field) in [
        (
            json!({ "type": "redis", "url": "http://127.0.0.1/" }),
            "store.url",
        ),
        (
            json!({ "type": "redis", "url": "redis://127.0.0.1/", "timeout_milliseconds": 0 }),
            "store.timeout_milliseconds",
        ),
    ] {
        let mut config = full_config();
        config["store"] = store;
        let error = build(config).map(drop).unwrap_err();
        assert_eq!(error.field(), Some(field), "{error}");
        assert!(matches!(
            error.build_error(),
            BuildError::InvalidRedis { .. }
        ));
    }
}

#[cfg(feature = "redis")]
#[test]
fn a_redis_store_outside_a_tokio_runtime_names_the_store() {
    let mut config = full_config();
    config["store"] = json!({ "type": "redis", "url": "redis://127.0.0.1/" });
    let error = build(config).map(drop).unwrap_err();
    assert_eq!(error.field(), Some("store"), "{error}");
}

/// The environment takes the configuration file's path: a token issued by a layer configured
/// from the environment is accepted by one configured from the equivalent file.
#[tokio::test]
async fn the_examples_environment_and_a_file_configure_the_same_layer() {
    let from_env = layer_from_env(lookup(&[
        ("CORE_API_AUTH_USERNAME", "ops"),
        ("CORE_API_AUTH_PASSWORD", "env password"),
        ("CORE_API_AUTH_JWT_SECRET", SECRET),
        ("CORE_API_AUTH_DISABLE_LOCALHOST", "false"),
    ]))
    .unwrap();
    let from_file = build(json!({
        "users": [{ "username": "ops", "password": "env password" }],
        "datarhei_key": SECRET,
        "optional_auth_paths": ["/api"],
        "loopback_bypass": false,
    }))
    .unwrap();
    let env_server = spawn(Stack::Hyper, from_env).await;
    let file_server = spawn(Stack::Hyper, from_file).await;
    let (access, _) = tokens(&login_at(&env_server, "/api/login", "ops", "env password").await);
    for server in [&env_server, &file_server] {
        let reply = get(server.addr, "/api/v3/ping", Some(&access)).await;
        assert_eq!(reply.inner_sub().as_deref(), Some("ops"));
        assert_eq!(
            get(server.addr, "/api", Some(&access))
                .await
                .inner_sub()
                .as_deref(),
            Some("ops")
        );
    }
}

#[test]
fn an_invalid_environment_variable_is_named_in_the_error() {
    let mut cases = vec![
        (
            vec![
                ("CORE_API_AUTH_PASSWORD", "pw"),
                ("CORE_API_AUTH_JWT_SECRET", "short"),
            ],
            "CORE_API_AUTH_JWT_SECRET: ",
        ),
        (
            vec![
                ("CORE_API_AUTH_PASSWORD", "pw"),
                ("CORE_API_AUTH_DISABLE_LOCALHOST", "yes"),
            ],
            "CORE_API_AUTH_DISABLE_LOCALHOST=\"yes\"",
        ),
    ];
    if cfg!(feature = "jwks-rustls") {
        cases.push((
            vec![
                ("CORE_API_AUTH_PASSWORD", "pw"),
                ("CORE_API_AUTH_AUTH0_ENABLE", "true"),
                // No audience.
                (
                    "CORE_API_AUTH_AUTH0_TENANTS",
                    "auth0://id@idp.example.com?user=auth0|x",
                ),
            ],
            "CORE_API_AUTH_AUTH0_TENANTS: ",
        ));
    }
    for (variables, expected) in cases {
        let error = layer_from_env(lookup(&variables)).map(drop).unwrap_err();
        assert!(error.to_string().starts_with(expected), "{error}");
    }
}
