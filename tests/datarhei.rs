//! A drop-in for datarhei Core deployments: its signing key, over real HTTP.
//!
//! datarhei Core signs with HMAC-SHA256 under username + password + JWT secret
//! (`app/api/api.go`). The tokens here are computed from that formula with the test's own HMAC
//! (`support::forge`), never by the layer's issuer.

mod support;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use support::*;
use tower_jwt_login::{BuildError, JwtLoginConfig, JwtLoginLayer, Password};

/// A datarhei Core JWT secret as its configuration holds one.
const DATARHEI_SECRET: &str = "kxZ2vB8pQ7";

/// datarhei Core's key for the test user.
fn datarhei_key() -> String {
    format!("{USER}{PASSWORD}{DATARHEI_SECRET}")
}

fn layer() -> JwtLoginLayer {
    JwtLoginLayer::builder()
        .user(USER, Password::plain(PASSWORD))
        .datarhei_key(DATARHEI_SECRET)
        .optional_auth_path("/api")
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_token_minted_the_datarhei_way_is_accepted() {
    let token = forge(
        HEADER,
        &claims("access").to_string(),
        datarhei_key().as_bytes(),
    );
    for stack in STACKS {
        let server = spawn(stack, layer()).await;
        let reply = get(server.addr, "/api/v3/ping", Some(&token)).await;
        assert_eq!(reply.status, 200, "{stack:?}: {}", reply.text());
        assert_eq!(reply.inner_sub().as_deref(), Some(USER), "{stack:?}");
        // The refresh token of a datarhei Core login refreshes too.
        let refresh = forge(
            HEADER,
            &claims("refresh").to_string(),
            datarhei_key().as_bytes(),
        );
        let reply = get(server.addr, "/api/login/refresh", Some(&refresh)).await;
        assert_eq!(reply.status, 200, "{stack:?}: {}", reply.text());
    }
}

#[tokio::test]
async fn a_token_signed_with_the_secret_alone_is_refused() {
    // A key that is not datarhei's formula: the secret used as given, or the parts in another
    // order.
    let padded = format!("{DATARHEI_SECRET}{}", "x".repeat(32));
    let server = spawn(Stack::Hyper, layer()).await;
    for key in [
        padded,
        format!("{PASSWORD}{USER}{DATARHEI_SECRET}"),
        format!("{DATARHEI_SECRET}{USER}{PASSWORD}"),
    ] {
        let token = forge(HEADER, &claims("access").to_string(), key.as_bytes());
        get(server.addr, "/api/v3/ping", Some(&token))
            .await
            .assert_unauthorized();
    }
}

#[tokio::test]
async fn our_tokens_verify_under_datarheis_formula() {
    let server = spawn(Stack::Hyper, layer()).await;
    let (access, refresh) = login(server.addr).await;
    for token in [access, refresh] {
        let (input, signature) = token.rsplit_once('.').unwrap();
        let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
        assert_eq!(
            signature,
            hs256(datarhei_key().as_bytes(), input.as_bytes())
        );
    }
}

#[test]
fn the_datarhei_key_needs_a_plain_password_a_secret_and_32_bytes() {
    let phc = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$ZQ7dp1K1mtFHDzqKCNOV+8uYySyMNyn3tjfl5BfxKYs";
    let error = JwtLoginLayer::builder()
        .user("admin", Password::phc(phc))
        .datarhei_key(DATARHEI_SECRET)
        .build()
        .unwrap_err();
    assert_eq!(
        error,
        BuildError::DatarheiKeyNeedsPlainPassword {
            username: "admin".into()
        }
    );
    assert!(error.to_string().contains("plain password"), "{error}");

    // "admin" + "pw" + "secret": 13 bytes, 19 short; the secret needs 6 + 19 = 25 bytes.
    let error = JwtLoginLayer::builder()
        .user("admin", Password::plain("pw"))
        .datarhei_key("secret")
        .build()
        .unwrap_err();
    assert_eq!(
        error,
        BuildError::DatarheiKeyTooShort {
            len: 13,
            secret_len: 6
        }
    );
    let message = error.to_string();
    assert!(message.contains("at least 32 bytes"), "{message}");
    assert!(message.contains("at least 25 bytes long"), "{message}");
    assert!(message.contains("refused, once"), "{message}");

    let error = JwtLoginLayer::builder()
        .user("admin", Password::plain("pw"))
        .datarhei_key("")
        .build()
        .unwrap_err();
    assert_eq!(error, BuildError::EmptyDatarheiSecret);

    for conflicting in [
        layer_builder().secret(SECRET),
        layer_builder().signing_key("k1", SECRET),
    ] {
        assert_eq!(
            conflicting.build().unwrap_err(),
            BuildError::ConflictingKeys
        );
    }
}

fn layer_builder() -> tower_jwt_login::JwtLoginBuilder {
    JwtLoginLayer::builder()
        .user(USER, Password::plain(PASSWORD))
        .datarhei_key(DATARHEI_SECRET)
}

#[tokio::test]
async fn the_configuration_file_sets_the_datarhei_key() {
    let config: JwtLoginConfig = serde_json::from_value(serde_json::json!({
        "users": [{ "username": USER, "password": PASSWORD }],
        "datarhei_key": DATARHEI_SECRET,
    }))
    .unwrap();
    let server = spawn(Stack::Hyper, config.build().unwrap()).await;
    let token = forge(
        HEADER,
        &claims("access").to_string(),
        datarhei_key().as_bytes(),
    );
    assert_eq!(
        get(server.addr, "/api/v3/ping", Some(&token)).await.status,
        200
    );

    let config: JwtLoginConfig = serde_json::from_value(serde_json::json!({
        "users": [{ "username": "admin", "password": "pw" }],
        "datarhei_key": "short",
    }))
    .unwrap();
    let error = config.build().unwrap_err();
    assert_eq!(error.field(), Some("datarhei_key"));
    assert!(matches!(
        error.build_error(),
        BuildError::DatarheiKeyTooShort { .. }
    ));

    // The users may come from `build_with`: the key is derived when the layer is built.
    let config: JwtLoginConfig =
        serde_json::from_value(serde_json::json!({ "datarhei_key": DATARHEI_SECRET })).unwrap();
    config
        .build_with(|builder| builder.user(USER, Password::plain(PASSWORD)))
        .unwrap();
}

/// datarhei Core's `disable_localhost`: a loopback client is the configured user downstream, so
/// that `GET /api` gives it the full answer and a handler that needs `Claims` serves it.
#[tokio::test]
async fn the_loopback_bypass_authenticates_as_the_first_user() {
    for stack in STACKS {
        let layer = JwtLoginLayer::builder()
            .user("ops", Password::plain(PASSWORD))
            .user(USER, Password::plain(PASSWORD))
            .secret(SECRET)
            .optional_auth_path("/api")
            .loopback_bypass(true)
            .build()
            .unwrap();
        let server = spawn(stack, layer).await;
        for (path, token) in [
            ("/api/v3/ping", None),
            ("/api", None),
            // A token is not read: an invalid one changes nothing.
            ("/api/v3/ping", Some("garbage")),
            ("/api", Some("garbage")),
        ] {
            let reply = get(server.addr, path, token).await;
            assert_eq!(reply.status, 200, "{stack:?} {path}: {}", reply.text());
            assert_eq!(
                reply.inner_sub().as_deref(),
                Some("ops"),
                "{stack:?} {path} {token:?}"
            );
        }
        // The layer's own routes are not bypassed: a login still needs the password.
        login_with(server.addr, "ops", "wrong")
            .await
            .assert_error(401);
    }
}

/// Without the bypass a loopback client is a stranger like any other, headers or not.
#[tokio::test]
async fn without_the_bypass_a_loopback_client_gets_no_claims() {
    for stack in STACKS {
        let server = spawn(stack, builder().build().unwrap()).await;
        assert_eq!(get(server.addr, "/api", None).await.inner_sub(), None);
        get(server.addr, "/api/v3/ping", None)
            .await
            .assert_unauthorized();
    }
}

/// Go's `encoding/json` matches member names regardless of case, so datarhei Core takes
/// `{"Username": ..., "PASSWORD": ...}`; a field given twice in two cases is refused, not
/// resolved one way or the other.
#[tokio::test]
async fn login_field_names_match_in_any_case_and_twice_is_refused() {
    let post = |body: String| {
        raw_request(
            "POST",
            "/api/login",
            &[("Content-Type", b"application/json")],
            body.as_bytes(),
        )
    };
    for stack in STACKS {
        let server = spawn(stack, layer()).await;
        let body = format!(r#"{{"Username":"{USER}","PASSWORD":"{PASSWORD}"}}"#);
        let reply = send_raw(server.addr, &post(body)).await;
        assert_eq!(reply.status, 200, "{stack:?}: {}", reply.text());
        assert!(reply.json()["access_token"].is_string());
        for body in [
            format!(r#"{{"username":"{USER}","Username":"{USER}","password":"{PASSWORD}"}}"#),
            format!(r#"{{"username":"{USER}","password":"{PASSWORD}","Password":"x"}}"#),
        ] {
            send_raw(server.addr, &post(body)).await.assert_error(400);
        }
        // A wrong password in another case is still a wrong password.
        let body = format!(
            r#"{{"USERNAME":"{USER}","password":"{}"}}"#,
            PASSWORD.to_uppercase()
        );
        send_raw(server.addr, &post(body)).await.assert_error(401);
    }
}
