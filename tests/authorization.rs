//! Scopes, per-route authorization, custom claims and the maximum token size, over real HTTP
//! against servers on 127.0.0.1.

mod support;

use std::net::SocketAddr;

use axum::Router;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use support::{
    PASSWORD, REALM, Reply, STACKS, Stack, USER, builder, get as get_path, login, login_with,
    payload, spawn,
};
use tokio::net::TcpListener;
use tower_jwt_login::{BuildError, JwtLoginLayer, Login, LoginSource, Password, RequireScopeLayer};

const VIEWER: &str = "viewer";
const VIEWER_PASSWORD: &str = "a viewer's long password";

/// Two users: `admin` may read and write streams, `viewer` may only read them; writing under
/// `/api/v3/process` needs `streams:write`, anything under `/api/v3` `streams:read`.
fn scoped() -> tower_jwt_login::JwtLoginBuilder {
    builder()
        .user(VIEWER, Password::plain(VIEWER_PASSWORD))
        .user_scopes(USER, ["streams:read", "streams:write"])
        .user_scopes(VIEWER, ["streams:read"])
        .require_scopes("/api/v3", ["streams:read"])
        .require_scopes("/api/v3/process", ["streams:write"])
}

async fn tokens_of(addr: SocketAddr, username: &str, password: &str) -> (String, String) {
    let reply = login_with(addr, username, password).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let body = reply.json();
    let token = |name: &str| body[name].as_str().unwrap().to_owned();
    (token("access_token"), token("refresh_token"))
}

fn assert_insufficient_scope(reply: &Reply, scope: &str) {
    reply.assert_error(403);
    assert_eq!(
        reply.json()["details"][0],
        "the token does not grant a scope this route requires"
    );
    assert_eq!(
        reply.header("www-authenticate"),
        Some(
            format!(r#"Bearer realm="{REALM}", error="insufficient_scope", scope="{scope}""#)
                .as_str()
        )
    );
}

#[tokio::test]
async fn a_token_without_the_required_scope_is_forbidden_and_with_it_passes() {
    for stack in STACKS {
        let server = spawn(stack, scoped().build().unwrap()).await;
        let (admin, _) = login(server.addr).await;
        let (viewer, _) = tokens_of(server.addr, VIEWER, VIEWER_PASSWORD).await;
        assert_eq!(payload(&admin)["scope"], "streams:read streams:write");
        assert_eq!(payload(&viewer)["scope"], "streams:read");

        let reply = get_path(server.addr, "/api/v3/process/1", Some(&admin)).await;
        assert_eq!(reply.status, 200, "{stack:?}: {}", reply.text());
        assert_eq!(reply.json()["scope"], "streams:read streams:write");
        let reply = get_path(server.addr, "/api/v3/ping", Some(&viewer)).await;
        assert_eq!(reply.status, 200, "{stack:?}: {}", reply.text());

        // Every spelling of the prefix is held to it.
        for path in [
            "/api/v3/process/1",
            "/API/V3/Process",
            "/api/v3/x/../process/1",
            "/api/v3/%70rocess/1",
            "/api/v3/process/%2e%2e",
            "/api/v3/process/x%2F..%2F..",
        ] {
            let reply = get_path(server.addr, path, Some(&viewer)).await;
            assert_insufficient_scope(&reply, "streams:write");
        }
        // A missing or invalid token stays 401, not 403.
        get_path(server.addr, "/api/v3/process/1", None)
            .await
            .assert_unauthorized();
        get_path(server.addr, "/api/v3/process/1", Some("x.y.z"))
            .await
            .assert_unauthorized();
    }
}

#[tokio::test]
async fn a_user_without_scopes_gets_datarheis_claims_and_nothing_scoped() {
    let layer = builder()
        .require_scopes("/api/v3/process", ["streams:write"])
        .build()
        .unwrap();
    let server = spawn(Stack::Hyper, layer).await;
    let (access, refresh) = login(server.addr).await;
    for token in [&access, &refresh] {
        let mut names: Vec<String> = payload(token)
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        names.sort();
        assert_eq!(names, ["exi", "exp", "iat", "iss", "jti", "sub", "usefor"]);
    }
    assert_eq!(
        get_path(server.addr, "/api/v3/ping", Some(&access))
            .await
            .status,
        200
    );
    let reply = get_path(server.addr, "/api/v3/process", Some(&access)).await;
    assert_insufficient_scope(&reply, "streams:write");
}

#[tokio::test]
async fn a_removed_scope_is_gone_after_the_next_refresh_and_an_added_one_needs_a_login() {
    // The same key before and after a configuration change (a restart, another replica).
    let before = spawn(Stack::Hyper, scoped().build().unwrap()).await;
    let (_, refresh) = login(before.addr).await;
    let after_layer = builder()
        .user(VIEWER, Password::plain(VIEWER_PASSWORD))
        .user_scopes(USER, ["streams:read", "admin"])
        .require_scopes("/api/v3", ["streams:read"])
        .require_scopes("/api/v3/process", ["streams:write"])
        .build()
        .unwrap();
    let after = spawn(Stack::Hyper, after_layer).await;

    let reply = get_path(after.addr, "/api/login/refresh", Some(&refresh)).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let access = reply.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(payload(&access)["scope"], "streams:read");
    assert_eq!(
        get_path(after.addr, "/api/v3/ping", Some(&access))
            .await
            .status,
        200
    );
    let reply = get_path(after.addr, "/api/v3/process", Some(&access)).await;
    assert_insufficient_scope(&reply, "streams:write");

    let (access, _) = login(after.addr).await;
    assert_eq!(payload(&access)["scope"], "admin streams:read");
}

#[tokio::test]
async fn the_last_scope_removed_leaves_a_token_without_the_claim() {
    let before = spawn(Stack::Hyper, scoped().build().unwrap()).await;
    let (_, refresh) = login(before.addr).await;
    let after = spawn(Stack::Hyper, builder().build().unwrap()).await;
    let reply = get_path(after.addr, "/api/login/refresh", Some(&refresh)).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let access = reply.json()["access_token"].as_str().unwrap().to_owned();
    assert!(payload(&access).get("scope").is_none(), "{access}");
    assert_eq!(
        get_path(after.addr, "/api/v3/ping", Some(&access))
            .await
            .status,
        200
    );
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Tenant {
    tenant: String,
    plan: Option<String>,
    seats: u32,
}

#[tokio::test]
async fn custom_claims_round_trip_typed_through_login_and_refresh() {
    let layer = builder()
        .user_scopes(USER, ["streams:read"])
        .custom_claims(["tenant", "seats", "plan"], |login: &Login<'_>| {
            assert_eq!(login.source, LoginSource::Password);
            Tenant {
                tenant: format!("{}-org", login.username),
                plan: login
                    .scopes
                    .contains("streams:read")
                    .then(|| "pro".to_owned()),
                seats: 5,
            }
        })
        .refresh_token_rotation(true)
        .build()
        .unwrap();
    for stack in STACKS {
        let server = spawn(stack, layer.clone()).await;
        let (access, refresh) = login(server.addr).await;
        let expected = Tenant {
            tenant: "admin-org".into(),
            plan: Some("pro".into()),
            seats: 5,
        };
        for token in [&access, &refresh] {
            assert_eq!(payload(token)["tenant"], "admin-org");
        }
        let reply = get_path(server.addr, "/api/v3/ping", Some(&access)).await;
        assert_eq!(reply.status, 200);
        let seen: Tenant = serde_json::from_value(reply.json()["extra"].clone()).unwrap();
        assert_eq!(seen, expected);

        let reply = get_path(server.addr, "/api/login/refresh", Some(&refresh)).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        for name in ["access_token", "refresh_token"] {
            let token = reply.json()[name].as_str().unwrap().to_owned();
            let claims = payload(&token);
            assert_eq!(
                (&claims["tenant"], &claims["seats"], &claims["plan"]),
                (&"admin-org".into(), &5.into(), &"pro".into()),
                "{name}"
            );
        }
        let access = reply.json()["access_token"].as_str().unwrap().to_owned();
        let reply = get_path(server.addr, "/api/v3/ping", Some(&access)).await;
        let seen: Tenant = serde_json::from_value(reply.json()["extra"].clone()).unwrap();
        assert_eq!(seen, expected);
    }
}

#[tokio::test]
async fn an_oversized_token_is_refused_at_issue_with_a_clear_error() {
    let layer = builder()
        .max_token_size(512)
        .custom_claims(
            ["note"],
            |_: &Login<'_>| serde_json::json!({ "note": "x".repeat(300) }),
        )
        .build()
        .unwrap();
    let server = spawn(Stack::Hyper, layer).await;
    let reply = login_with(server.addr, USER, PASSWORD).await;
    reply.assert_error(500);
    assert_eq!(reply.json()["details"][0], "the token could not be issued");
    assert!(!reply.text().contains("access_token"));

    // The same claims fit the default maximum.
    let layer = builder()
        .custom_claims(
            ["note"],
            |_: &Login<'_>| serde_json::json!({ "note": "x".repeat(300) }),
        )
        .build()
        .unwrap();
    let server = spawn(Stack::Hyper, layer).await;
    let (access, _) = login(server.addr).await;
    assert!(access.len() > 512);
    assert_eq!(
        get_path(server.addr, "/api/v3/ping", Some(&access))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn undeclared_custom_claims_fail_the_login_not_the_server() {
    let layer = builder()
        .custom_claims(
            ["tenant"],
            |_: &Login<'_>| serde_json::json!({ "tenant": "a", "role": "root" }),
        )
        .build()
        .unwrap();
    let server = spawn(Stack::Hyper, layer).await;
    login_with(server.addr, USER, PASSWORD)
        .await
        .assert_error(500);
    assert_eq!(get_path(server.addr, "/ping", None).await.status, 200);
}

#[test]
fn impossible_authorization_settings_are_refused_at_build() {
    let refused = |builder: tower_jwt_login::JwtLoginBuilder| builder.build().unwrap_err();
    for name in ["sub", "scope", "usefor", "aud", ""] {
        assert!(
            matches!(
                refused(builder().custom_claims([name], |_: &Login<'_>| ())),
                BuildError::InvalidCustomClaim { .. }
            ),
            "{name:?}"
        );
    }
    for size in [0, 511, 4097] {
        assert_eq!(
            refused(builder().max_token_size(size)),
            BuildError::InvalidMaxTokenSize { size }
        );
    }
    assert_eq!(
        refused(builder().user_scopes("nobody", ["a"])),
        BuildError::UnknownScopeUser {
            username: "nobody".into()
        }
    );
    assert_eq!(
        refused(builder().user_scopes(USER, ["two words"])),
        BuildError::InvalidScope {
            scope: "two words".into()
        }
    );
    for prefix in ["/public", "/api"] {
        assert!(matches!(
            refused(builder().require_scopes(prefix, ["a"])),
            BuildError::InvalidScopeRequirement { .. }
        ));
    }
    assert!(RequireScopeLayer::try_new(["a b"]).is_err());
    assert!(RequireScopeLayer::try_new::<_, &str>([]).is_err());
}

/// `RequireScopeLayer` as an axum `route_layer`, for one handler.
#[tokio::test]
async fn require_scope_layer_guards_one_axum_handler() {
    let layer: JwtLoginLayer = builder()
        .user(VIEWER, Password::plain(VIEWER_PASSWORD))
        .user_scopes(USER, ["streams:delete"])
        .build()
        .unwrap();
    let app = Router::new()
        .route("/api/v3/streams", get(|| async { "streams" }))
        .route(
            "/api/v3/streams/delete",
            get(|| async { "deleted" }).route_layer(RequireScopeLayer::new(["streams:delete"])),
        )
        .route(
            "/public/delete",
            get(|| async { "deleted" }).route_layer(RequireScopeLayer::new(["streams:delete"])),
        )
        .layer(layer);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let (admin, _) = login(addr).await;
    let (viewer, _) = tokens_of(addr, VIEWER, VIEWER_PASSWORD).await;
    let reply = get_path(addr, "/api/v3/streams/delete", Some(&admin)).await;
    assert_eq!((reply.status, reply.text().as_str()), (200, "deleted"));
    assert_eq!(
        get_path(addr, "/api/v3/streams", Some(&viewer))
            .await
            .status,
        200
    );
    let reply = get_path(addr, "/api/v3/streams/delete", Some(&viewer)).await;
    reply.assert_error(403);
    assert_eq!(
        reply.header("www-authenticate"),
        Some(r#"Bearer error="insufficient_scope", scope="streams:delete""#)
    );
    // Not behind a protected prefix: no claims, so 401 whatever the token.
    let reply = get_path(addr, "/public/delete", Some(&admin)).await;
    reply.assert_error(401);
    assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
    server.abort();
}

/// Custom claims are fixed at login; a refresh carries over only those the application still
/// declares, so a claim the application dropped does not live on through refreshes.
#[tokio::test]
async fn a_refresh_carries_over_only_custom_claims_still_declared() {
    let before = builder()
        .custom_claims(
            ["tenant", "role"],
            |_: &Login<'_>| serde_json::json!({ "tenant": "acme", "role": "owner" }),
        )
        .build()
        .unwrap();
    let before = spawn(Stack::Hyper, before).await;
    let (_, refresh) = login(before.addr).await;
    assert_eq!(payload(&refresh)["role"], "owner");

    let after = builder()
        .custom_claims(
            ["tenant"],
            |_: &Login<'_>| serde_json::json!({ "tenant": "acme" }),
        )
        .build()
        .unwrap();
    let after = spawn(Stack::Hyper, after).await;
    let reply = get_path(after.addr, "/api/login/refresh", Some(&refresh)).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let access = payload(reply.json()["access_token"].as_str().unwrap());
    assert_eq!(access["tenant"], "acme");
    assert!(access.get("role").is_none(), "{access}");

    let none = spawn(Stack::Hyper, builder().build().unwrap()).await;
    let reply = get_path(none.addr, "/api/login/refresh", Some(&refresh)).await;
    let access = payload(reply.json()["access_token"].as_str().unwrap());
    assert!(
        access.get("tenant").is_none() && access.get("role").is_none(),
        "{access}"
    );
}

/// The loopback bypass (the test servers hand the layer a 127.0.0.1 peer) gives the first
/// user's scopes, and scope requirements still apply to it.
#[tokio::test]
async fn the_loopback_bypass_carries_the_first_users_scopes_and_meets_requirements_as_they_do() {
    let layer = builder()
        .user_scopes(USER, ["streams:read"])
        .require_scopes("/api/v3/process", ["streams:write"])
        .loopback_bypass(true)
        .build()
        .unwrap();
    for stack in STACKS {
        let server = spawn(stack, layer.clone()).await;
        let reply = get_path(server.addr, "/api/v3/ping", None).await;
        assert_eq!(reply.status, 200, "{stack:?}: {}", reply.text());
        assert_eq!(reply.json()["scope"], "streams:read");
        let reply = get_path(server.addr, "/api/v3/process", None).await;
        assert_insufficient_scope(&reply, "streams:write");
    }
}
