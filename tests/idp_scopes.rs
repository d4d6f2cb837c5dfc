//! Scopes mapped from an identity provider's token (`Tenant::scopes_claim`), over real HTTP
//! against the fake JWKS server of `tests/idp.rs`: which claim, which form, the allow-list,
//! what a malformed claim does, and what a refresh keeps.
#![cfg(feature = "jwks")]

mod support;

use serde_json::{Value, json};
use support::jwks::{JwksServer, TestKey};
use support::*;
use tower_jwt_login::{JwtLoginBuilder, Tenant};

const AUDIENCE: &str = "https://core.example.com/api";
const SUBJECT: &str = "auth0|5f7c8ec7c33c6c004bbafe82";

fn tenant(idp: &JwksServer) -> Tenant {
    Tenant::new(idp.issuer())
        .audience(AUDIENCE)
        .allow_subject(SUBJECT)
        .allow_insecure_loopback(true)
}

/// An identity provider's access token claims with these extra members.
fn idp_claims(idp: &JwksServer, extra: &Value) -> Value {
    let now = now();
    let mut claims = json!({
        "iss": idp.issuer(), "sub": SUBJECT, "aud": AUDIENCE, "iat": now, "exp": now + 600,
    });
    for (name, value) in extra.as_object().unwrap() {
        claims[name] = value.clone();
    }
    claims
}

/// A server whose layer has `tenant` (built from the fake IdP), keys already fetched.
async fn server_with(
    idp: &JwksServer,
    tenant: Tenant,
    more: impl FnOnce(JwtLoginBuilder) -> JwtLoginBuilder,
) -> Server {
    // Several servers may share the provider: wait for this one's fetch.
    let fetched = idp.fetches();
    let layer = more(builder().tenant(tenant)).build().unwrap();
    let server = spawn(Stack::Hyper, layer).await;
    idp.wait_for_fetches(fetched + 1).await;
    server
}

/// Logs in with the IdP token; returns the access and refresh tokens.
async fn idp_login(server: &Server, token: &str) -> (String, String) {
    let reply = post_bearer(server.addr, "/api/login", token).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let body = reply.json();
    (
        body["access_token"].as_str().unwrap().to_owned(),
        body["refresh_token"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn the_scope_string_is_mapped_through_the_allow_list_and_kept_on_refresh() {
    let rsa = TestKey::rsa("rsa-1");
    let idp = JwksServer::start(&[&rsa]).await;
    let tenant = tenant(&idp)
        .scopes_claim("scope")
        .allow_scopes(["read", "write"]);
    let server = server_with(&idp, tenant, |b| {
        b.require_scopes("/api/v3/ping", ["read"])
            .require_scopes("/api/v3/admin", ["admin"])
    })
    .await;

    let token = rsa.sign(&idp_claims(&idp, &json!({ "scope": "read write admin" })));
    let (access, refresh) = idp_login(&server, &token).await;
    assert_eq!(payload(&access)["scope"], "read write");
    assert_eq!(payload(&access)["sub"], SUBJECT);
    let reply = get(server.addr, "/api/v3/ping", Some(&access)).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    // `admin` was in the provider's token, but not in the allow-list.
    let reply = get(server.addr, "/api/v3/admin/x", Some(&access)).await;
    assert_eq!(reply.status, 403, "{}", reply.text());

    // A refresh keeps what the login granted: the provider is not asked again.
    let reply = get(server.addr, "/api/login/refresh", Some(&refresh)).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let renewed = reply.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(payload(&renewed)["scope"], "read write");
    let reply = get(server.addr, "/api/v3/ping", Some(&renewed)).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
}

#[tokio::test]
async fn a_permissions_array_is_mapped_and_invalid_entries_are_dropped() {
    let ec = TestKey::ec("ec-1");
    let idp = JwksServer::start(&[&ec]).await;
    let server = server_with(&idp, tenant(&idp).scopes_claim("permissions"), |b| b).await;

    let permissions = json!({
        "permissions": ["streams:write", "streams:read", "two words", "", 42, "streams:read"],
        "scope": "openid profile",
    });
    let (access, _) = idp_login(&server, &ec.sign(&idp_claims(&idp, &permissions))).await;
    // No allow-list: every valid entry, sorted and deduplicated; `scope` is not the claim.
    assert_eq!(payload(&access)["scope"], "streams:read streams:write");
}

#[tokio::test]
async fn without_a_scopes_claim_or_with_a_malformed_one_the_login_has_no_scopes() {
    let ec = TestKey::ec("ec-1");
    let idp = JwksServer::start(&[&ec]).await;
    let plain = server_with(&idp, tenant(&idp), |b| b).await;
    let mapped = server_with(&idp, tenant(&idp).scopes_claim("scope"), |b| b).await;

    // Without `scopes_claim`, as before: the token has datarhei Core's claims only.
    let token = ec.sign(&idp_claims(&idp, &json!({ "scope": "read write" })));
    let (access, _) = idp_login(&plain, &token).await;
    assert!(payload(&access).get("scope").is_none(), "{access}");

    // A claim of the wrong type, or none at all, still logs in, without scopes.
    for extra in [
        json!({ "scope": 42 }),
        json!({ "scope": { "read": true } }),
        json!({ "scope": null }),
        json!({}),
    ] {
        let token = ec.sign(&idp_claims(&idp, &extra));
        let (access, _) = idp_login(&mapped, &token).await;
        assert!(payload(&access).get("scope").is_none(), "{extra}");
        let reply = get(mapped.addr, "/api/v3/ping", Some(&access)).await;
        assert_eq!(reply.inner_sub().as_deref(), Some(SUBJECT), "{extra}");
    }
}

/// Custom claims are computed from how the user logged in: an identity provider's login names
/// its tenant's issuer, and its mapped scopes.
#[tokio::test]
async fn custom_claims_see_the_identity_provider_and_its_scopes() {
    use tower_jwt_login::{Login, LoginSource};
    let ec = TestKey::ec("ec-1");
    let idp = JwksServer::start(&[&ec]).await;
    let server = server_with(&idp, tenant(&idp).scopes_claim("scope"), |b| {
        b.custom_claims(["via", "scopes"], |login: &Login<'_>| {
            let via = match login.source {
                LoginSource::IdentityProvider { issuer } => format!("idp {issuer}"),
                _ => "password".to_owned(),
            };
            json!({ "via": via, "scopes": login.scopes.as_str() })
        })
    })
    .await;
    let token = ec.sign(&idp_claims(&idp, &json!({ "scope": "read" })));
    let (access, _) = idp_login(&server, &token).await;
    assert_eq!(payload(&access)["via"], format!("idp {}", idp.issuer()));
    assert_eq!(payload(&access)["scopes"], "read");
    let (access, _) = login(server.addr).await;
    assert_eq!(payload(&access)["via"], "password");
}
