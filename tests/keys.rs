//! Key rotation over real HTTP: tokens signed before and after a rotation both work,
//! tokens name their key, and a removed key's tokens are refused.

mod support;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use support::*;
use tower_jwt_login::{BuildError, JwtLoginBuilder, JwtLoginLayer, Password};

const OLD: &str = "the old secret, at least thirty-two bytes long";
const NEW: &str = "the new secret, at least thirty-two bytes long";

fn users() -> JwtLoginBuilder {
    JwtLoginLayer::builder().user(USER, Password::plain(PASSWORD))
}

fn header_of(token: &str) -> serde_json::Value {
    let header = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap()
}

#[tokio::test]
async fn tokens_from_before_and_after_a_rotation_both_work_until_the_old_key_is_removed() {
    let before = spawn(
        Stack::Hyper,
        users().signing_key("2026-11", OLD).build().unwrap(),
    )
    .await;
    let (old_access, old_refresh) = login(before.addr).await;
    assert_eq!(header_of(&old_access)["kid"], "2026-11");

    for stack in STACKS {
        let rotated = users()
            .signing_key("2026-12", NEW)
            .previous_key("2026-11", OLD)
            .build()
            .unwrap();
        let during = spawn(stack, rotated).await;
        // Nobody is logged out: the old tokens still work...
        let reply = get(during.addr, "/api/v3/ping", Some(&old_access)).await;
        assert_eq!(reply.inner_sub().as_deref(), Some(USER), "{stack:?}");
        let reply = get(during.addr, "/api/login/refresh", Some(&old_refresh)).await;
        assert_eq!(reply.status, 200, "{stack:?}: {}", reply.text());
        // ...and what is issued now is signed with the new key.
        let renewed = reply.json()["access_token"].as_str().unwrap().to_owned();
        assert_eq!(header_of(&renewed)["kid"], "2026-12");
        let (new_access, _) = login(during.addr).await;
        assert_eq!(header_of(&new_access)["kid"], "2026-12");
        for token in [&renewed, &new_access] {
            let reply = get(during.addr, "/api/v3/ping", Some(token)).await;
            assert_eq!(reply.inner_sub().as_deref(), Some(USER));
        }

        // Once the old key is removed, its tokens are refused; the new ones still work.
        let after = spawn(stack, users().signing_key("2026-12", NEW).build().unwrap()).await;
        get(after.addr, "/api/v3/ping", Some(&old_access))
            .await
            .assert_unauthorized();
        get(after.addr, "/api/login/refresh", Some(&old_refresh))
            .await
            .assert_unauthorized();
        let reply = get(after.addr, "/api/v3/ping", Some(&new_access)).await;
        assert_eq!(reply.inner_sub().as_deref(), Some(USER));
    }
}

#[tokio::test]
async fn with_several_keys_a_token_must_name_a_configured_one() {
    let layer = users()
        .signing_key("new", NEW)
        .previous_key("old", OLD)
        .build()
        .unwrap();
    let server = spawn(Stack::Hyper, layer).await;
    let claims = claims("access").to_string();
    let cases = [
        (
            "no kid, old key",
            r#"{"alg":"HS256","typ":"JWT"}"#,
            OLD,
            401,
        ),
        (
            "no kid, new key",
            r#"{"alg":"HS256","typ":"JWT"}"#,
            NEW,
            401,
        ),
        (
            "unknown kid",
            r#"{"alg":"HS256","kid":"other","typ":"JWT"}"#,
            OLD,
            401,
        ),
        (
            "kid of the other key",
            r#"{"alg":"HS256","kid":"new","typ":"JWT"}"#,
            OLD,
            401,
        ),
        (
            "path-like kid",
            r#"{"alg":"HS256","kid":"../../etc/passwd","typ":"JWT"}"#,
            OLD,
            401,
        ),
        (
            "numeric kid",
            r#"{"alg":"HS256","kid":1,"typ":"JWT"}"#,
            OLD,
            401,
        ),
        (
            "duplicate kid",
            r#"{"alg":"HS256","kid":"old","kid":"old","typ":"JWT"}"#,
            OLD,
            401,
        ),
        // Another member order, no `typ`: not our bytes, but an acceptable header naming a key.
        (
            "reordered header naming the old key",
            r#"{"kid":"old","alg":"HS256"}"#,
            OLD,
            200,
        ),
        (
            "reordered header naming the new key",
            r#"{"typ":"JWT","kid":"new","alg":"HS256"}"#,
            NEW,
            200,
        ),
    ];
    for (case, header, key, status) in cases {
        let token = forge(header, &claims, key.as_bytes());
        let reply = get(server.addr, "/api/v3/ping", Some(&token)).await;
        assert_eq!(reply.status, status, "{case}: {}", reply.text());
        if status == 401 {
            reply.assert_unauthorized();
        }
    }
}

#[tokio::test]
async fn a_single_key_without_an_id_writes_datarhei_s_exact_header() {
    let server = spawn(Stack::Hyper, builder().build().unwrap()).await;
    let (access, _) = login(server.addr).await;
    assert_eq!(
        access.split('.').next().unwrap(),
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    );
    // A single key also accepts a token that names no key, in another header form.
    let token = forge(
        r#"{"typ":"JWT","alg":"HS256"}"#,
        &claims("access").to_string(),
        SECRET.as_bytes(),
    );
    assert_eq!(
        get(server.addr, "/api/v3/ping", Some(&token)).await.status,
        200
    );
}

#[test]
fn key_misconfigurations_are_build_errors() {
    let cases = [
        (
            users().secret(OLD).signing_key("a", NEW),
            BuildError::ConflictingKeys,
        ),
        (
            users().secret(OLD).previous_key("a", NEW),
            BuildError::PreviousKeyNeedsKeyId,
        ),
        (
            users().previous_key("a", NEW),
            BuildError::PreviousKeyNeedsKeyId,
        ),
        (
            users().signing_key("a", NEW).previous_key("a", OLD),
            BuildError::DuplicateKeyId { kid: "a".into() },
        ),
        (
            users().signing_key("a b", NEW),
            BuildError::InvalidKeyId { kid: "a b".into() },
        ),
        (
            users().signing_key("a", "short"),
            BuildError::SecretTooShort { len: 5 },
        ),
        (
            users().signing_key("a", NEW).previous_key("b", "short"),
            BuildError::SecretTooShort { len: 5 },
        ),
    ];
    for (builder, expected) in cases {
        assert_eq!(builder.build().unwrap_err(), expected);
    }
    let debug = format!("{:?}", users().signing_key("a", NEW).previous_key("b", OLD));
    assert!(
        !debug.contains("secret, at least") && debug.contains("[redacted]"),
        "{debug}"
    );
}
