//! The server layer's contract, over real HTTP, through axum and plain hyper.

mod support;

use std::time::Duration;

use support::*;
use tower_jwt_login::Password;

/// Runs the same test body against every stack.
macro_rules! on_every_stack {
    ($layer:expr, |$server:ident| $body:block) => {
        for stack in STACKS {
            let $server = spawn(stack, $layer).await;
            $body
        }
    };
}

#[tokio::test]
async fn login_issues_an_access_and_a_refresh_token() {
    on_every_stack!(builder().build().unwrap(), |server| {
        let reply = login_with(server.addr, USER, PASSWORD).await;
        assert_eq!(reply.status, 200, "{:?}: {}", server.stack, reply.text());
        assert_eq!(reply.header("content-type"), Some("application/json"));
        assert_eq!(reply.header("cache-control"), Some("no-store"));
        let body = reply.json();
        let access = body["access_token"].as_str().unwrap();
        let refresh = body["refresh_token"].as_str().unwrap();
        assert_eq!(body.as_object().unwrap().len(), 2);

        let ok = get(server.addr, "/api/v3/ping", Some(access)).await;
        assert_eq!(ok.status, 200, "{:?}", server.stack);
        assert_eq!(
            ok.inner_sub().as_deref(),
            Some(USER),
            "claims reach the handler"
        );

        let refused = get(server.addr, "/api/v3/ping", Some(refresh)).await;
        refused.assert_unauthorized();
    });
}

#[tokio::test]
async fn issued_tokens_have_exactly_datarhei_claims() {
    let server = spawn(Stack::Hyper, builder().realm("my-realm").build().unwrap()).await;
    let (access, refresh) = login(server.addr).await;
    for (token, usefor, exi) in [(&access, "access", 600), (&refresh, "refresh", 86_400)] {
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let decode = |s: &str| {
            use base64::Engine as _;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(s)
                .unwrap()
        };
        assert_eq!(decode(parts[0]), br#"{"alg":"HS256","typ":"JWT"}"#);
        let claims: serde_json::Value = serde_json::from_slice(&decode(parts[1])).unwrap();
        let keys: Vec<&str> = claims
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["exi", "exp", "iat", "iss", "jti", "sub", "usefor"]);
        assert_eq!(claims["iss"], "my-realm");
        assert_eq!(claims["sub"], USER);
        assert_eq!(claims["usefor"], usefor);
        assert_eq!(claims["exi"], exi);
        let (iat, exp) = (
            claims["iat"].as_i64().unwrap(),
            claims["exp"].as_i64().unwrap(),
        );
        assert_eq!(exp - iat, exi);
        assert!((iat - now()).abs() <= 2);
        let jti = uuid::Uuid::parse_str(claims["jti"].as_str().unwrap()).unwrap();
        assert_eq!(jti.get_version_num(), 4);
    }
}

#[tokio::test]
async fn every_token_has_a_distinct_jti() {
    let server = spawn(Stack::Hyper, builder().build().unwrap()).await;
    let mut seen = std::collections::HashSet::new();
    let logins = (0..25).map(|_| login(server.addr));
    for (access, refresh) in futures_join_all(logins).await {
        for token in [access, refresh] {
            let payload = token.split('.').nth(1).unwrap().to_owned();
            use base64::Engine as _;
            let claims: serde_json::Value = serde_json::from_slice(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(payload)
                    .unwrap(),
            )
            .unwrap();
            assert!(seen.insert(claims["jti"].as_str().unwrap().to_owned()));
        }
    }
    assert_eq!(seen.len(), 50);
}

async fn futures_join_all<F: std::future::Future + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

#[tokio::test]
async fn wrong_username_and_wrong_password_get_the_same_401() {
    on_every_stack!(builder().build().unwrap(), |server| {
        let wrong_user = login_with(server.addr, "nobody", PASSWORD).await;
        let wrong_password = login_with(server.addr, USER, "wrong").await;
        wrong_user.assert_error(401);
        wrong_password.assert_error(401);
        assert_eq!(wrong_user.body, wrong_password.body);
        assert!(!wrong_user.text().contains("nobody"));
        assert!(!wrong_password.text().contains("wrong"));
    });
}

#[tokio::test]
async fn malformed_login_bodies_are_400() {
    let server = spawn(Stack::Hyper, builder().build().unwrap()).await;
    let json = [("Content-Type", &b"application/json"[..])];
    for body in [
        &b""[..],
        b"not json",
        b"[\"admin\",\"pw\"]",
        b"{}",
        br#"{"username":"admin"}"#,
        br#"{"password":"pw"}"#,
        br#"{"username":"","password":"pw"}"#,
        br#"{"username":"admin","password":""}"#,
        br#"{"username":1,"password":"pw"}"#,
        br#"{"username":"admin","password":["pw"]}"#,
        b"null",
    ] {
        let reply = send_raw(server.addr, &raw_request("POST", "/api/login", &json, body)).await;
        reply.assert_error(400);
        assert!(reply.header("www-authenticate").is_none());
    }
}

#[tokio::test]
async fn login_accepts_json_with_charset_and_ignores_extra_fields() {
    let server = spawn(Stack::Axum, builder().build().unwrap()).await;
    let body = format!(
        r#"{{"username":"{USER}","password":"{PASSWORD}","sub":"root","usefor":"refresh","admin":true}}"#
    );
    let reply = send_raw(
        server.addr,
        &raw_request(
            "POST",
            "/api/login",
            &[("Content-Type", b"Application/JSON; charset=utf-8")],
            body.as_bytes(),
        ),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let access = reply.json()["access_token"].as_str().unwrap().to_owned();
    let seen = get(server.addr, "/api/v3/ping", Some(&access)).await;
    assert_eq!(seen.inner_sub().as_deref(), Some(USER));
}

#[tokio::test]
async fn other_content_types_are_refused() {
    let server = spawn(Stack::Hyper, builder().build().unwrap()).await;
    let body = format!(r#"{{"username":"{USER}","password":"{PASSWORD}"}}"#);
    for content_type in [
        Some(&b"text/plain"[..]),
        Some(b"application/x-www-form-urlencoded"),
        None,
    ] {
        let headers: Vec<(&str, &[u8])> =
            content_type.iter().map(|c| ("Content-Type", *c)).collect();
        let reply = send_raw(
            server.addr,
            &raw_request("POST", "/api/login", &headers, body.as_bytes()),
        )
        .await;
        reply.assert_error(415);
    }
}

#[tokio::test]
async fn oversized_login_body_is_413_without_reading_it() {
    let server = spawn(
        Stack::Hyper,
        builder().login_body_limit(1024).build().unwrap(),
    )
    .await;
    // Declared too large: answered at once, although the body is never sent.
    let head = b"POST /api/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 1048576\r\n\r\n";
    send_raw(server.addr, head).await.assert_error(413);
    // Chunked, with no declared length: stopped at the limit.
    let mut chunked = b"POST /api/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..4 {
        chunked.extend_from_slice(b"200\r\n");
        chunked.extend_from_slice(&[b' '; 0x200]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    send_raw(server.addr, &chunked).await.assert_error(413);
}

#[tokio::test]
async fn other_methods_on_the_login_route_get_no_tokens() {
    let server = spawn(Stack::Hyper, builder().build().unwrap()).await;
    let body = format!(r#"{{"username":"{USER}","password":"{PASSWORD}"}}"#);
    for method in ["GET", "PUT", "DELETE", "PATCH"] {
        let reply = send_raw(
            server.addr,
            &raw_request(
                method,
                "/api/login",
                &[("Content-Type", b"application/json")],
                body.as_bytes(),
            ),
        )
        .await;
        reply.assert_error(405);
        assert_eq!(reply.header("allow"), Some("POST"));
    }
}

#[tokio::test]
async fn phc_hashed_passwords_log_in() {
    use argon2::PasswordHasher as _;
    let phc = argon2::Argon2::default()
        .hash_password_with_salt(b"hashed pw", b"saltsaltsaltsalt")
        .unwrap()
        .to_string();
    let layer = builder()
        .user("hashed", Password::phc(phc))
        .build()
        .unwrap();
    let server = spawn(Stack::Hyper, layer).await;
    assert_eq!(
        login_with(server.addr, "hashed", "hashed pw").await.status,
        200
    );
    login_with(server.addr, "hashed", "hashed p")
        .await
        .assert_error(401);
    assert_eq!(login_with(server.addr, USER, PASSWORD).await.status, 200);
}

#[tokio::test]
async fn refresh_issues_a_new_access_token() {
    on_every_stack!(builder().build().unwrap(), |server| {
        let (access, refresh) = login(server.addr).await;
        let reply = get(server.addr, "/api/login/refresh", Some(&refresh)).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert_eq!(reply.header("cache-control"), Some("no-store"));
        let body = reply.json();
        assert_eq!(body.as_object().unwrap().len(), 1);
        let new_access = body["access_token"].as_str().unwrap();
        assert_ne!(new_access, access);
        let seen = get(server.addr, "/api/v3/ping", Some(new_access)).await;
        assert_eq!(seen.inner_sub().as_deref(), Some(USER));

        // An access token is not a refresh token.
        get(server.addr, "/api/login/refresh", Some(&access))
            .await
            .assert_unauthorized();
        get(server.addr, "/api/login/refresh", None)
            .await
            .assert_unauthorized();
    });
}

#[tokio::test]
async fn expired_tokens_are_refused() {
    let layer = builder()
        .access_token_lifetime(Duration::from_secs(1))
        .refresh_token_lifetime(Duration::from_secs(1))
        .build()
        .unwrap();
    let server = spawn(Stack::Axum, layer).await;
    let (access, refresh) = login(server.addr).await;
    assert_eq!(
        get(server.addr, "/api/v3/ping", Some(&access)).await.status,
        200
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    get(server.addr, "/api/v3/ping", Some(&access))
        .await
        .assert_unauthorized();
    get(server.addr, "/api/login/refresh", Some(&refresh))
        .await
        .assert_unauthorized();
}

#[tokio::test]
async fn challenge_says_invalid_token_only_when_a_token_was_sent() {
    let server = spawn(Stack::Hyper, builder().realm("my realm").build().unwrap()).await;
    let none = get(server.addr, "/api/v3/ping", None).await;
    none.assert_unauthorized();
    assert_eq!(
        none.header("www-authenticate"),
        Some(r#"Bearer realm="my realm""#)
    );
    let bad = get(server.addr, "/api/v3/ping", Some("x.y.z")).await;
    bad.assert_unauthorized();
    assert_eq!(
        bad.header("www-authenticate"),
        Some(r#"Bearer realm="my realm", error="invalid_token""#)
    );
}

#[tokio::test]
async fn tokens_of_users_no_longer_configured_are_refused() {
    let server = spawn(Stack::Hyper, builder().build().unwrap()).await;
    let mut claims = claims("access");
    claims["sub"] = "ghost".into();
    get(server.addr, "/api/v3/ping", Some(&forge_claims(&claims)))
        .await
        .assert_unauthorized();
}

#[tokio::test]
async fn several_protected_prefixes_are_all_guarded() {
    let layer = builder()
        .protected_prefixes(["/api/v3", "/private"])
        .build()
        .unwrap();
    let server = spawn(Stack::Hyper, layer).await;
    for path in ["/api/v3/ping", "/private", "/private/x"] {
        get(server.addr, path, None).await.assert_unauthorized();
    }
    assert_eq!(get(server.addr, "/privateer", None).await.status, 200);
}

#[tokio::test]
async fn optional_paths_attach_claims_but_never_refuse() {
    on_every_stack!(builder().build().unwrap(), |server| {
        let (access, refresh) = login(server.addr).await;
        let anonymous = get(server.addr, "/api", None).await;
        assert_eq!(anonymous.status, 200);
        assert_eq!(anonymous.inner_sub(), None);
        let invalid = get(server.addr, "/api", Some("not.a.token")).await;
        assert_eq!(invalid.status, 200);
        assert_eq!(invalid.inner_sub(), None);
        let with_refresh = get(server.addr, "/api", Some(&refresh)).await;
        assert_eq!(with_refresh.inner_sub(), None);
        let known = get(server.addr, "/api", Some(&access)).await;
        assert_eq!(known.inner_sub().as_deref(), Some(USER));
    });
}

#[tokio::test]
async fn unprotected_routes_pass_through_untouched() {
    on_every_stack!(builder().build().unwrap(), |server| {
        let reply = get(server.addr, "/ping", Some("garbage")).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.inner_sub(), None);
        assert!(reply.header("www-authenticate").is_none());
    });
}

#[tokio::test]
async fn loopback_bypass_uses_the_connection_address_only() {
    on_every_stack!(builder().loopback_bypass(true).build().unwrap(), |server| {
        // The test client connects from 127.0.0.1: let through as the configured user.
        let reply = get(server.addr, "/api/v3/ping", None).await;
        assert_eq!(reply.status, 200, "{:?}", server.stack);
        assert_eq!(reply.inner_sub().as_deref(), Some(USER));
    });
    on_every_stack!(builder().build().unwrap(), |server| {
        // Off by default; and headers claiming loopback change nothing.
        let reply = send_raw(
            server.addr,
            &raw_request(
                "GET",
                "/api/v3/ping",
                &[
                    ("X-Forwarded-For", b"127.0.0.1"),
                    ("X-Real-IP", b"127.0.0.1"),
                ],
                b"",
            ),
        )
        .await;
        reply.assert_unauthorized();
    });
}
