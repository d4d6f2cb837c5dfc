//! The OpenAPI document of the layer's own routes: valid OpenAPI 3.1 by a real validator
//! (`openapi-spec-validator`, which `scripts/test.sh` installs; without it this fails, never
//! skips), and in step with what the layer answers over real HTTP.

mod support;

use std::process::Command;

use support::*;

/// The routes as configured here, with the method each answers.
const ROUTES: [(&str, &str); 3] = [
    ("post", "/auth/login"),
    ("get", "/auth/refresh"),
    ("post", "/auth/logout"),
];

fn layer() -> tower_jwt_login::JwtLoginLayer {
    builder()
        .login_path(ROUTES[0].1)
        .refresh_path(ROUTES[1].1)
        .logout_path(ROUTES[2].1)
        .build()
        .unwrap()
}

#[test]
fn the_document_is_valid_openapi_3_1() {
    let document = layer().openapi();
    assert_eq!(document["openapi"], "3.1.0");
    let file = std::env::temp_dir().join(format!(
        "tower-jwt-login-openapi-{}.json",
        std::process::id()
    ));
    std::fs::write(&file, document.to_string()).unwrap();
    let output = Command::new("python3")
        .args(["-m", "openapi_spec_validator"])
        .arg(&file)
        .output()
        .expect("python3 runs");
    let _ = std::fs::remove_file(&file);
    assert!(
        output.status.success(),
        "openapi-spec-validator refused the document (scripts/test.sh installs it):\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn every_route_the_layer_answers_is_in_the_document_and_nothing_else() {
    let layer = layer();
    let document = layer.openapi();
    let paths = document["paths"].as_object().unwrap();
    assert_eq!(paths.len(), ROUTES.len(), "{paths:?}");
    let server = spawn(Stack::Hyper, layer).await;
    for (method, path) in ROUTES {
        let operation = &paths[path][method];
        assert!(
            operation.is_object(),
            "{method} {path} is not in the document"
        );
        let documented: Vec<u16> = operation["responses"]
            .as_object()
            .unwrap()
            .keys()
            .map(|status| status.parse().unwrap())
            .collect();
        // The layer answers the route itself (the inner service would echo the path), with a
        // status the document lists.
        let request = raw_request(&method.to_ascii_uppercase(), path, &[], b"");
        let reply = send_raw(server.addr, &request).await;
        assert_eq!(reply.inner_sub(), None);
        assert!(
            reply.json().get("path").is_none(),
            "{path} reached the inner service"
        );
        assert!(
            documented.contains(&reply.status),
            "{method} {path}: {}",
            reply.status
        );
        // Another method is 405, documented too.
        let other = if method == "get" { "POST" } else { "GET" };
        let reply = send_raw(server.addr, &raw_request(other, path, &[], b"")).await;
        assert_eq!(reply.status, 405);
        assert!(documented.contains(&405));
    }
    // A successful login answers with the documented schema's required members.
    let reply = login_at(&server, ROUTES[0].1).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let required = &document["components"]["schemas"]["Tokens"]["required"];
    for member in required.as_array().unwrap() {
        assert!(
            reply.json()[member.as_str().unwrap()].is_string(),
            "{member}"
        );
    }
}

async fn login_at(server: &Server, path: &str) -> Reply {
    let body = serde_json::json!({ "username": USER, "password": PASSWORD }).to_string();
    let headers: [(&str, &[u8]); 1] = [("Content-Type", b"application/json")];
    send_raw(
        server.addr,
        &raw_request("POST", path, &headers, body.as_bytes()),
    )
    .await
}
