//! Login with an external identity provider's token, against a real JWKS server on
//! 127.0.0.1:0 and keys generated per test.
#![cfg(feature = "jwks")]

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use support::jwks::{JwksServer, TestKey};
use support::*;
use tower_jwt_login::{BuildError, Tenant};

const AUDIENCE: &str = "https://core.example.com/api";
const SUBJECT: &str = "auth0|5f7c8ec7c33c6c004bbafe82";

fn tenant(idp: &JwksServer) -> Tenant {
    Tenant::new(idp.issuer())
        .audience("https://another.example.com/")
        .audience(AUDIENCE)
        .allow_subject(SUBJECT)
        .allow_insecure_loopback(true)
}

/// Claims an identity provider would put into an access token for the allowed subject.
fn idp_claims(idp: &JwksServer) -> serde_json::Value {
    let now = now();
    serde_json::json!({
        "iss": idp.issuer(), "sub": SUBJECT, "aud": [AUDIENCE, format!("{}userinfo", idp.issuer())],
        "iat": now, "exp": now + 600, "azp": "client", "scope": "openid profile",
    })
}

/// `POST /api/login` with the token as bearer, these extra headers, and this body.
async fn idp_login_with(
    addr: SocketAddr,
    token: &str,
    headers: &[(&str, &[u8])],
    body: &[u8],
) -> Reply {
    let auth = format!("Bearer {token}");
    let mut all: Vec<(&str, &[u8])> = vec![("Authorization", auth.as_bytes())];
    all.extend_from_slice(headers);
    send_raw(addr, &raw_request("POST", "/api/login", &all, body)).await
}

/// `POST /api/login` with the token as bearer and no body.
async fn idp_login(addr: SocketAddr, token: &str) -> Reply {
    idp_login_with(addr, token, &[], b"").await
}

/// Asserts a 200 with both tokens and returns them.
fn tokens_of(reply: &Reply) -> (String, String) {
    assert_eq!(reply.status, 200, "{}", reply.text());
    let body = reply.json();
    (
        body["access_token"].as_str().unwrap().to_owned(),
        body["refresh_token"].as_str().unwrap().to_owned(),
    )
}

/// Asserts a 401 that carries no token.
fn assert_refused(reply: &Reply, case: &str) {
    assert_eq!(reply.status, 401, "{case}: {}", reply.text());
    reply.assert_unauthorized();
    assert!(!reply.text().contains("access_token"), "{case}");
}

/// A JWKS server with these keys and a layer server whose tenant it is, keys already fetched.
async fn setup(stack: Stack, keys: &[&TestKey]) -> (JwksServer, Server) {
    let idp = JwksServer::start(keys).await;
    let layer = builder().tenant(tenant(&idp)).build().unwrap();
    let server = spawn(stack, layer).await;
    idp.wait_for_fetches(1).await;
    (idp, server)
}

#[tokio::test]
async fn idp_token_is_exchanged_for_tokens_that_work_on_protected_routes() {
    let rsa = TestKey::rsa("rsa-1");
    let ec = TestKey::ec("ec-1");
    for stack in STACKS {
        let (idp, server) = setup(stack, &[&rsa, &ec]).await;
        for key in [&rsa, &ec] {
            let (access, refresh) =
                tokens_of(&idp_login(server.addr, &key.sign(&idp_claims(&idp))).await);
            let reply = get(server.addr, "/api/v3/ping", Some(&access)).await;
            assert_eq!(reply.status, 200, "{stack:?}: {}", reply.text());
            assert_eq!(reply.inner_sub().as_deref(), Some(SUBJECT));
            let reply = get(server.addr, "/api/login/refresh", Some(&refresh)).await;
            assert_eq!(reply.status, 200, "{stack:?}: {}", reply.text());
            let renewed = reply.json()["access_token"].as_str().unwrap().to_owned();
            let reply = get(server.addr, "/api/v3/ping", Some(&renewed)).await;
            assert_eq!(reply.inner_sub().as_deref(), Some(SUBJECT));
        }

        // As datarhei Core documents it: a JSON content type, and no body at all.
        let token = rsa.sign(&idp_claims(&idp));
        let reply = idp_login_with(
            server.addr,
            &token,
            &[("Content-Type", b"application/json")],
            b"",
        )
        .await;
        tokens_of(&reply);

        // As datarhei's Go client sends it (coreclient's login with an Auth0 token): the token
        // as bearer and an empty `api.Login` encoded as JSON, with a trailing newline.
        let reply = idp_login_with(
            server.addr,
            &token,
            &[("Content-Type", b"application/json")],
            b"{\"username\":\"\",\"password\":\"\"}\n",
        )
        .await;
        tokens_of(&reply);

        // `aud` as a single string.
        let mut claims = idp_claims(&idp);
        claims["aud"] = AUDIENCE.into();
        tokens_of(&idp_login(server.addr, &rsa.sign(&claims)).await);
        assert_eq!(idp.fetches(), 1, "cached keys need no fetch");
    }
}

#[tokio::test]
async fn every_unacceptable_token_is_refused_without_tokens() {
    let rsa = TestKey::rsa("rsa-1");
    let ec = TestKey::ec("ec-1");
    let unpublished = TestKey::ec("ec-1");
    let (idp, server) = setup(Stack::Hyper, &[&rsa, &ec]).await;
    let now = now();
    let with = |change: &dyn Fn(&mut serde_json::Value)| {
        let mut claims = idp_claims(&idp);
        change(&mut claims);
        claims
    };
    let hs256_header = r#"{"alg":"HS256","typ":"JWT","kid":"rsa-1"}"#;
    let (own_access, own_refresh) = login(server.addr).await;

    let cases: Vec<(&str, String)> = vec![
        (
            "unknown issuer",
            rsa.sign(&with(&|c| c["iss"] = "https://evil.example.com/".into())),
        ),
        (
            "issuer differing by a trailing slash",
            rsa.sign(&with(&|c| {
                c["iss"] = idp.issuer().trim_end_matches('/').into();
            })),
        ),
        (
            "wrong audience",
            rsa.sign(&with(&|c| c["aud"] = "https://other.example.com/".into())),
        ),
        (
            "audience array without ours",
            rsa.sign(&with(&|c| c["aud"] = serde_json::json!(["a", "b"]))),
        ),
        (
            "no audience",
            rsa.sign(&with(&|c| {
                c.as_object_mut().unwrap().remove("aud");
            })),
        ),
        (
            "subject not allowed",
            rsa.sign(&with(&|c| c["sub"] = "auth0|mallory".into())),
        ),
        (
            "local username as subject",
            rsa.sign(&with(&|c| c["sub"] = USER.into())),
        ),
        ("expired", rsa.sign(&with(&|c| c["exp"] = (now - 5).into()))),
        (
            "no expiry",
            rsa.sign(&with(&|c| {
                c.as_object_mut().unwrap().remove("exp");
            })),
        ),
        (
            "not yet valid",
            rsa.sign(&with(&|c| c["nbf"] = (now + 300).into())),
        ),
        (
            "signed by a key the tenant does not publish, under a published kid",
            unpublished.sign(&idp_claims(&idp)),
        ),
        (
            "RSA-signed under the EC key's kid (algorithm from the token)",
            rsa.sign_as("ec-1", &idp_claims(&idp)),
        ),
        (
            "HMAC-signed with the public key as secret",
            forge(
                hs256_header,
                &idp_claims(&idp).to_string(),
                rsa.jwk["n"].as_str().unwrap().as_bytes(),
            ),
        ),
        (
            "HMAC-signed with our own secret",
            forge(
                hs256_header,
                &idp_claims(&idp).to_string(),
                SECRET.as_bytes(),
            ),
        ),
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(br#"{"alg":"none","kid":"rsa-1"}"#),
                b64(idp_claims(&idp).to_string().as_bytes())
            ),
        ),
        ("our own access token", own_access),
        ("our own refresh token", own_refresh),
        ("not a JWT", "abc.def.ghi".to_owned()),
    ];
    for (case, token) in cases {
        assert_refused(&idp_login(server.addr, &token).await, case);
    }
    // A malformed Authorization header is refused too.
    let reply = send_raw(
        server.addr,
        &raw_request(
            "POST",
            "/api/login",
            &[("Authorization", b"Basic YTpi")],
            b"",
        ),
    )
    .await;
    assert_refused(&reply, "basic auth");
    assert_eq!(
        idp.fetches(),
        1,
        "no refused token caused a fetch: every kid was known"
    );
}

#[tokio::test]
async fn a_json_body_wins_over_a_bearer_token() {
    let key = TestKey::ec("ec-1");
    let (idp, server) = setup(Stack::Axum, &[&key]).await;
    let idp_token = key.sign(&idp_claims(&idp));
    let json = [("Content-Type", &b"application/json"[..])];
    let credentials =
        |password: &str| serde_json::json!({ "username": USER, "password": password }).to_string();

    // A valid IdP token does not rescue a wrong password...
    let reply = idp_login_with(
        server.addr,
        &idp_token,
        &json,
        credentials("wrong").as_bytes(),
    )
    .await;
    reply.assert_error(401);
    assert!(!reply.text().contains("access_token"));

    // ...and a right password logs in as the local user, whatever the bearer token is.
    for token in [idp_token.as_str(), "not.a.token"] {
        let reply =
            idp_login_with(server.addr, token, &json, credentials(PASSWORD).as_bytes()).await;
        let (access, _) = tokens_of(&reply);
        let reply = get(server.addr, "/api/v3/ping", Some(&access)).await;
        assert_eq!(reply.inner_sub().as_deref(), Some(USER));
    }
}

#[tokio::test]
async fn a_rotated_key_is_accepted_after_one_refetch() {
    let old = TestKey::ec("2024-key");
    let new = TestKey::ec("2025-key");
    let (idp, server) = setup(Stack::Hyper, &[&old]).await;
    assert_eq!(idp.fetches(), 1);

    idp.publish(&[&old, &new]);
    tokens_of(&idp_login(server.addr, &new.sign(&idp_claims(&idp))).await);
    assert_eq!(idp.fetches(), 2, "exactly one refetch");
    tokens_of(&idp_login(server.addr, &old.sign(&idp_claims(&idp))).await);

    // The old key is withdrawn: after the next refetch (rate-limited, so 10 s later), its tokens
    // are refused.
    idp.publish(&[&new]);
    tokio::time::sleep(Duration::from_millis(10_100)).await;
    assert_refused(
        &idp_login(server.addr, &new.sign_as("2026-key", &idp_claims(&idp))).await,
        "unknown kid",
    );
    assert_eq!(idp.fetches(), 3);
    assert_refused(
        &idp_login(server.addr, &old.sign(&idp_claims(&idp))).await,
        "withdrawn key",
    );
    tokens_of(&idp_login(server.addr, &new.sign(&idp_claims(&idp))).await);
}

#[tokio::test]
async fn an_unknown_kid_flood_fetches_at_most_once_per_ten_seconds() {
    let key = TestKey::ec("known");
    let (idp, server) = setup(Stack::Hyper, &[&key]).await;
    let flood = |round: usize| {
        let claims = idp_claims(&idp);
        let tokens: Vec<String> = (0..40)
            .map(|i| key.sign_as(&format!("unknown-{round}-{i}"), &claims))
            .collect();
        let addr = server.addr;
        async move {
            let replies = futures_join_all(
                tokens
                    .into_iter()
                    .map(|token| async move { idp_login(addr, &token).await }),
            )
            .await;
            for reply in replies {
                assert_refused(&reply, "unknown kid");
            }
        }
    };
    flood(0).await;
    assert_eq!(idp.fetches(), 2, "one refetch for the whole flood");
    flood(1).await;
    assert_eq!(idp.fetches(), 2, "no refetch within 10 s");

    tokio::time::sleep(Duration::from_millis(10_100)).await;
    flood(2).await;
    assert_eq!(idp.fetches(), 3, "one refetch once 10 s have passed");
}

/// Runs the futures concurrently on the test's runtime.
async fn futures_join_all<F>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut outputs = Vec::with_capacity(handles.len());
    for handle in handles {
        outputs.push(handle.await.unwrap());
    }
    outputs
}

#[tokio::test]
async fn a_hanging_jwks_server_delays_neither_cached_keys_nor_passwords() {
    let key = TestKey::ec("cached");
    let (idp, server) = setup(Stack::Hyper, &[&key]).await;
    idp.set_delay(Duration::from_secs(30));

    // An unknown kid starts a fetch that hangs.
    let addr = server.addr;
    let unknown = key.sign_as("unknown", &idp_claims(&idp));
    let started = Instant::now();
    let unknown_login = tokio::spawn(async move { idp_login(addr, &unknown).await });
    idp.wait_for_fetches(2).await;

    // While it hangs, cached keys, passwords and protected routes answer at once.
    let begin = Instant::now();
    let (access, _) = tokens_of(&idp_login(server.addr, &key.sign(&idp_claims(&idp))).await);
    let (local, _) = login(server.addr).await;
    assert_eq!(
        get(server.addr, "/api/v3/ping", Some(&access)).await.status,
        200
    );
    assert_eq!(
        get(server.addr, "/api/v3/ping", Some(&local)).await.status,
        200
    );
    // Generous for a loaded machine, yet below the 2 s an unknown kid may wait for a fetch.
    let elapsed = begin.elapsed();
    assert!(elapsed < Duration::from_millis(1500), "{elapsed:?}");

    // The login that caused the fetch gets its 401 without waiting for the server.
    let reply = unknown_login.await.unwrap();
    assert_refused(&reply, "unknown kid while the JWKS hangs");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_failing_jwks_server_keeps_the_cached_keys() {
    let key = TestKey::ec("cached");
    let (idp, server) = setup(Stack::Axum, &[&key]).await;
    for broken in ["500", "not json"] {
        if broken == "500" {
            idp.set_status(500);
        } else {
            // The next refetch is allowed 10 s after the last one.
            tokio::time::sleep(Duration::from_millis(10_100)).await;
            idp.set_status(200);
            idp.publish_raw("<html>maintenance</html>");
        }
        let before = idp.fetches();
        let reply = idp_login(
            server.addr,
            &key.sign_as(&format!("new-{broken}"), &idp_claims(&idp)),
        )
        .await;
        assert_refused(&reply, broken);
        assert_eq!(idp.fetches(), before + 1);
        tokens_of(&idp_login(server.addr, &key.sign(&idp_claims(&idp))).await);
    }
}

#[tokio::test]
async fn a_tenant_whose_keys_never_loaded_answers_503_then_recovers() {
    let key = TestKey::ec("k1");
    let idp = JwksServer::start(&[&key]).await;
    idp.set_status(503);
    let layer = builder().tenant(tenant(&idp)).build().unwrap();
    let server = spawn(Stack::Hyper, layer).await;
    idp.wait_for_fetches(1).await;

    let token = key.sign(&idp_claims(&idp));
    let reply = idp_login(server.addr, &token).await;
    reply.assert_error(503);
    assert_eq!(reply.header("retry-after"), Some("10"));
    assert!(!reply.text().contains("access_token"));
    // Passwords are unaffected, and so is a token of an unknown issuer.
    login(server.addr).await;
    let mut claims = idp_claims(&idp);
    claims["iss"] = "https://other.example.com/".into();
    assert_refused(
        &idp_login(server.addr, &key.sign(&claims)).await,
        "other issuer",
    );

    // Once the provider answers again, the next allowed refetch loads the keys.
    idp.set_status(200);
    tokio::time::sleep(Duration::from_millis(10_100)).await;
    tokens_of(&idp_login(server.addr, &token).await);
}

#[tokio::test]
async fn discovery_finds_the_jwks_url() {
    let key = TestKey::ec("k1");
    let idp = JwksServer::start(&[&key]).await;
    let layer = builder()
        .tenant(tenant(&idp).discovery(true))
        .build()
        .unwrap();
    let server = spawn(Stack::Hyper, layer).await;
    idp.wait_for_fetches(1).await;
    tokens_of(&idp_login(server.addr, &key.sign(&idp_claims(&idp))).await);
}

#[tokio::test]
async fn a_layer_built_outside_a_runtime_fetches_on_the_first_login() {
    let key = TestKey::ec("k1");
    let idp = JwksServer::start(&[&key]).await;
    let tenant = tenant(&idp);
    let layer = std::thread::spawn(move || builder().tenant(tenant).build().unwrap())
        .join()
        .unwrap();
    let server = spawn(Stack::Hyper, layer).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(idp.fetches(), 0);
    tokens_of(&idp_login(server.addr, &key.sign(&idp_claims(&idp))).await);
    assert_eq!(
        idp.fetches(),
        1,
        "one fetch, shared by the start-up and the login"
    );
}

#[test]
fn plain_http_issuers_need_the_loopback_opt_in() {
    let tenant = Tenant::new("http://127.0.0.1:8080/")
        .audience(AUDIENCE)
        .allow_subject(SUBJECT);
    assert!(matches!(
        builder().tenant(tenant.clone()).build(),
        Err(BuildError::InvalidTenant { .. })
    ));
    let tenant = tenant.allow_insecure_loopback(true);
    builder().tenant(tenant.clone()).build().unwrap();
    assert!(matches!(
        builder().tenant(tenant.clone()).tenant(tenant).build(),
        Err(BuildError::InvalidTenant { .. })
    ));
}
