//! Scopes in the configuration file: users' `scopes`, `required_scopes`, `max_token_size` and a
//! tenant's `scopes_claim` / `allowed_scopes` take effect over real HTTP, and every invalid
//! value is an error that names its field.

mod support;

use serde_json::{Value, json};
use support::*;
use tower_jwt_login::{BuildError, ConfigError, JwtLoginConfig, JwtLoginLayer, Password};

const VIEWER: &str = "viewer";
const VIEWER_PASSWORD: &str = "another long password";

fn config() -> Value {
    json!({
        "users": [
            { "username": USER, "password": PASSWORD, "scopes": ["streams:write", "streams:read"] },
            { "username": VIEWER, "password": VIEWER_PASSWORD, "scopes": "streams:read" },
        ],
        "secret": SECRET,
        "protected_prefixes": ["/api/v3"],
        "required_scopes": {
            "/api/v3/process": ["streams:write"],
            "/api/v3/metrics": "streams:read",
        },
        "max_token_size": 1024,
    })
}

fn build(config: Value) -> Result<JwtLoginLayer, ConfigError> {
    serde_json::from_value::<JwtLoginConfig>(config)
        .unwrap()
        .build()
}

/// Logs in with a password and returns the access token.
async fn access_token(server: &Server, username: &str, password: &str) -> String {
    let reply = login_with(server.addr, username, password).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn scopes_and_requirements_from_the_file_take_effect() {
    let server = spawn(Stack::Hyper, build(config()).unwrap()).await;
    let admin = access_token(&server, USER, PASSWORD).await;
    let viewer = access_token(&server, VIEWER, VIEWER_PASSWORD).await;
    assert_eq!(payload(&admin)["scope"], "streams:read streams:write");
    assert_eq!(payload(&viewer)["scope"], "streams:read");

    for (token, path, status) in [
        (&admin, "/api/v3/process", 200),
        (&admin, "/api/v3/metrics", 200),
        (&viewer, "/api/v3/metrics", 200),
        (&viewer, "/api/v3/process", 403),
        (&viewer, "/api/v3/ping", 200),
    ] {
        let reply = get(server.addr, path, Some(token)).await;
        assert_eq!(reply.status, status, "{path}: {}", reply.text());
    }
}

/// A change to the valid configuration, and the field its error must name.
struct Invalid {
    change: fn(&mut Value),
    field: &'static str,
    error: fn(&BuildError) -> bool,
}

#[test]
fn every_invalid_scope_setting_is_an_error_that_names_its_field() {
    let mut cases = vec![
        Invalid {
            change: |c| c["users"][1]["scopes"] = json!(["ok", "not ok"]),
            field: "users[1].scopes",
            error: |e| matches!(e, BuildError::InvalidScope { scope } if scope == "not ok"),
        },
        Invalid {
            change: |c| c["users"][0]["scopes"] = json!("a\\b"),
            field: "users[0].scopes",
            error: |e| matches!(e, BuildError::InvalidScope { .. }),
        },
        Invalid {
            change: |c| c["required_scopes"]["/elsewhere"] = json!(["streams:read"]),
            field: r#"required_scopes["/elsewhere"]"#,
            error: |e| matches!(e, BuildError::InvalidScopeRequirement { .. }),
        },
        Invalid {
            change: |c| c["required_scopes"]["/api/v3/process"] = json!(["\"quoted\""]),
            field: r#"required_scopes["/api/v3/process"]"#,
            error: |e| matches!(e, BuildError::InvalidScope { .. }),
        },
        Invalid {
            change: |c| c["required_scopes"]["/api/v3/process"] = json!([]),
            field: r#"required_scopes["/api/v3/process"]"#,
            error: |e| matches!(e, BuildError::InvalidScopeRequirement { .. }),
        },
        Invalid {
            change: |c| c["max_token_size"] = json!(100),
            field: "max_token_size",
            error: |e| matches!(e, BuildError::InvalidMaxTokenSize { size: 100 }),
        },
        Invalid {
            change: |c| c["max_token_size"] = json!(100_000),
            field: "max_token_size",
            error: |e| matches!(e, BuildError::InvalidMaxTokenSize { .. }),
        },
    ];
    if cfg!(feature = "jwks") {
        cases.extend([
            Invalid {
                change: |c| {
                    c["tenants"] = json!([{
                        "issuer": "https://a.example.com/", "audiences": ["x"],
                        "allowed_subjects": ["s"], "scopes_claim": "permissions",
                        "allowed_scopes": ["read", "bad scope"],
                    }]);
                },
                field: "tenants[0].allowed_scopes",
                error: |e| matches!(e, BuildError::InvalidScope { .. }),
            },
            Invalid {
                change: |c| {
                    c["tenants"] = json!([{
                        "issuer": "https://a.example.com/", "audiences": ["x"],
                        "allowed_subjects": ["s"], "allowed_scopes": "read",
                    }]);
                },
                field: "tenants[0]",
                error: |e| e.to_string().contains("scopes claim"),
            },
        ]);
    }
    for case in cases {
        let mut config = config();
        (case.change)(&mut config);
        let error = build(config).map(drop).unwrap_err();
        assert_eq!(error.field(), Some(case.field), "{error}");
        assert!((case.error)(error.build_error()), "{error:?}");
    }
}

#[test]
fn scopes_of_the_wrong_type_are_a_deserialization_error() {
    let mut config = config();
    config["users"][0]["scopes"] = json!(7);
    let error = serde_json::from_value::<JwtLoginConfig>(config).unwrap_err();
    assert!(error.to_string().contains("a list of scopes"), "{error}");
}

#[test]
fn scopes_given_by_the_customization_to_an_unknown_user_name_no_field() {
    let config: JwtLoginConfig = serde_json::from_value(config()).unwrap();
    let error = config
        .build_with(|b| b.user_scopes("ghost", ["streams:read"]))
        .unwrap_err();
    assert_eq!(error.field(), None);
    assert_eq!(
        error.build_error(),
        &BuildError::UnknownScopeUser {
            username: "ghost".into()
        }
    );
    // A user the customization adds may get scopes from it.
    let config: JwtLoginConfig = serde_json::from_value(config_without_users()).unwrap();
    config
        .build_with(|b| {
            b.user("extra", Password::plain("a third long password"))
                .user_scopes("extra", ["streams:read"])
        })
        .unwrap();
}

fn config_without_users() -> Value {
    let mut config = config();
    config.as_object_mut().unwrap().remove("users");
    config
}

#[cfg(feature = "jwks")]
#[tokio::test]
async fn a_tenant_in_the_file_maps_its_scopes_claim() {
    use support::jwks::{JwksServer, TestKey};

    let key = TestKey::ec("ec-1");
    let idp = JwksServer::start(&[&key]).await;
    let mut config = config();
    config["tenants"] = json!([{
        "issuer": idp.issuer(), "audiences": ["api"], "allowed_subjects": ["auth0|x"],
        "allow_insecure_loopback": true, "scopes_claim": "permissions",
        "allowed_scopes": "streams:read streams:write",
    }]);
    let server = spawn(Stack::Hyper, build(config).unwrap()).await;
    idp.wait_for_fetches(1).await;

    let now = now();
    let token = key.sign(&json!({
        "iss": idp.issuer(), "sub": "auth0|x", "aud": "api", "iat": now, "exp": now + 600,
        "permissions": ["streams:write", "users:delete"],
    }));
    let reply = post_bearer(server.addr, "/api/login", &token).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let access = reply.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(payload(&access)["scope"], "streams:write");
    let reply = get(server.addr, "/api/v3/process", Some(&access)).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
}
