//! The security contract for the `Authorization` header, request paths and the login route,
//! over real HTTP through axum and plain hyper.

mod support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use base64::Engine as _;
use support::*;

/// How long an oversized request may take to be refused.
const PROMPT: Duration = Duration::from_secs(5);

/// One request to the protected route with these `Authorization` headers (in order).
struct HeaderCase {
    name: &'static str,
    authorization: Vec<Vec<u8>>,
    accepted: bool,
}

fn header_cases(token: &str) -> Vec<HeaderCase> {
    let case = |name, values: &[&[u8]], accepted| HeaderCase {
        name,
        authorization: values.iter().map(|v| v.to_vec()).collect(),
        accepted,
    };
    let with = |prefix: &str, suffix: &str| format!("{prefix}{token}{suffix}").into_bytes();
    let (head, tail) = token.split_at(token.len() / 2);
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"))
    );
    vec![
        case("Bearer", &[&with("Bearer ", "")], true),
        case("lower-case scheme", &[&with("bearer ", "")], true),
        case("upper-case scheme", &[&with("BEARER ", "")], true),
        case("mixed-case scheme", &[&with("bEaReR ", "")], true),
        case("several spaces", &[&with("Bearer    ", "")], true),
        case("trailing spaces", &[&with("Bearer ", "   ")], true),
        case("trailing tab", &[&with("Bearer ", "\t")], true),
        case("no header", &[], false),
        case("Basic credentials", &[basic.as_bytes()], false),
        case("a valid token under Basic", &[&with("Basic ", "")], false),
        case("a valid token with no scheme", &[token.as_bytes()], false),
        case(
            "a valid token under another scheme",
            &[&with("Token ", "")],
            false,
        ),
        case(
            "a tab between scheme and token",
            &[&with("Bearer\t", "")],
            false,
        ),
        case("no space after the scheme", &[&with("Bearer", "")], false),
        case("Bearer alone", &[b"Bearer"], false),
        case("Bearer and a space", &[b"Bearer "], false),
        case("Bearer and spaces", &[b"Bearer     "], false),
        case(
            "a space inside the token",
            &[format!("Bearer {head} {tail}").as_bytes()],
            false,
        ),
        case("trailing junk", &[&with("Bearer ", " junk")], false),
        case(
            "a comma and a second token",
            &[&with("Bearer ", &format!(", {token}"))],
            false,
        ),
        case(
            "non-ASCII bytes after",
            &[&with("Bearer ", "\u{e9}")],
            false,
        ),
        case(
            "non-ASCII bytes inside",
            &[&[b"Bearer ", head.as_bytes(), b"\xff\xfe", tail.as_bytes()].concat()],
            false,
        ),
        case(
            "two valid headers",
            &[&with("Bearer ", ""), &with("Bearer ", "")],
            false,
        ),
        case(
            "a valid then an invalid header",
            &[&with("Bearer ", ""), b"Bearer x.y.z"],
            false,
        ),
        case(
            "an invalid then a valid header",
            &[b"Bearer x.y.z", &with("Bearer ", "")],
            false,
        ),
        case(
            "a valid then a Basic header",
            &[&with("Bearer ", ""), basic.as_bytes()],
            false,
        ),
        case(
            "an empty then a valid header",
            &[b"", &with("Bearer ", "")],
            false,
        ),
    ]
}

#[tokio::test]
async fn authorization_header_rules() {
    for stack in STACKS {
        let server = spawn(stack, builder().build().unwrap()).await;
        let (access, _) = login(server.addr).await;
        for case in header_cases(&access) {
            let headers: Vec<(&str, &[u8])> = case
                .authorization
                .iter()
                .map(|v| ("Authorization", v.as_slice()))
                .collect();
            let reply = send_raw(
                server.addr,
                &raw_request("GET", "/api/v3/ping", &headers, b""),
            )
            .await;
            let context = format!("{stack:?} {:?}: {}", case.name, reply.text());
            if case.accepted {
                assert_eq!(reply.status, 200, "{context}");
                assert_eq!(reply.inner_sub().as_deref(), Some(USER), "{context}");
            } else {
                // Two headers may be 400 or 401; this layer answers 401 for all of them.
                assert_eq!(reply.status, 401, "{context}");
                reply.assert_unauthorized();
            }
            assert_still_serving(server.addr).await;
        }
    }
}

/// Only spaces separate `Bearer` from the token (`1*SP`, RFC 6750 §2.1): a tab anywhere in the
/// separator, or no separator at all, is refused on the protected route and on the refresh route,
/// with the same 401 as any other malformed header.
#[tokio::test]
async fn only_spaces_separate_the_scheme_from_the_token() {
    let cases: [(&str, &str, bool); 8] = [
        ("one space", "Bearer ", true),
        ("two spaces", "Bearer  ", true),
        ("a tab", "Bearer\t", false),
        ("a space then a tab", "Bearer \t", false),
        ("a tab then a space", "Bearer\t ", false),
        ("spaces around a tab", "Bearer  \t  ", false),
        ("two tabs", "Bearer\t\t", false),
        ("no space", "Bearer", false),
    ];
    for stack in STACKS {
        let server = spawn(stack, builder().build().unwrap()).await;
        let (access, refresh) = login(server.addr).await;
        for (name, prefix, accepted) in cases {
            for (path, token) in [("/api/v3/ping", &access), ("/api/login/refresh", &refresh)] {
                let value = format!("{prefix}{token}");
                let reply = send_raw(
                    server.addr,
                    &raw_request("GET", path, &[("Authorization", value.as_bytes())], b""),
                )
                .await;
                let context = format!("{stack:?} {name} on {path}: {}", reply.text());
                if accepted {
                    assert_eq!(reply.status, 200, "{context}");
                } else {
                    assert_eq!(reply.status, 401, "{context}");
                    reply.assert_unauthorized();
                    assert_eq!(
                        reply.json()["details"][0],
                        "the Authorization header must be 'Bearer <token>'",
                        "{context}"
                    );
                }
            }
        }
        assert_still_serving(server.addr).await;
    }
}

#[tokio::test]
async fn a_token_in_the_query_string_is_ignored() {
    for stack in STACKS {
        let server = spawn(stack, builder().build().unwrap()).await;
        let (access, refresh) = login(server.addr).await;
        for path in [
            format!("/api/v3/ping?access_token={access}"),
            format!("/api/v3/ping?token={access}"),
            format!("/api/login/refresh?access_token={refresh}"),
            format!("/api/login/refresh?refresh_token={refresh}"),
        ] {
            let reply = get(server.addr, &path, None).await;
            reply.assert_unauthorized();
            assert!(!reply.text().contains("access_token"), "{path}");
        }
        assert_still_serving(server.addr).await;
    }
}

#[tokio::test]
async fn no_spelling_of_a_protected_path_reaches_the_handler_without_a_token() {
    let paths = [
        "/api/v3/ping",
        "//api/v3/ping",
        "/api//v3/ping",
        "/api/x/../v3/ping",
        "/api/./v3/ping",
        "/%61pi/v3/ping",
        "/api%2Fv3/ping",
        "/api%2fv3/ping",
        "/api/v3%2Fping",
        "/api;x=1/v3/ping",
        "/api/v3;x=1/ping",
        "/api/v3/ping/",
        "/API/V3/PING",
        "/Api/V3/ping",
        "/api/%2e%2e/api/v3/ping",
        "/x/../../api/v3/ping",
        "/api/v3",
        "/api/v3/",
        // Resolved, these leave `/api/v3`; axum's router still sends them to `/api/v3/{*rest}`
        // with `..` in the parameter (it matches the raw path and decodes parameters after).
        "/api/v3/%2e%2e",
        "/api/v3/..",
        "/api/v3/a%2F..%2F..%2Fx",
        "/api/v3/x/%2E%2E/%2e%2e",
    ];
    for stack in STACKS {
        let server = spawn(stack, builder().build().unwrap()).await;
        for path in paths {
            for method in ["GET", "POST", "HEAD", "OPTIONS"] {
                let reply = send_raw(server.addr, &raw_request(method, path, &[], b"")).await;
                let context = format!("{stack:?} {method} {path}: {}", reply.text());
                assert!(
                    (300..500).contains(&reply.status),
                    "never 2xx or 5xx: {} {context}",
                    reply.status
                );
                // The layer treats every spelling that normalises into the protected prefix as
                // protected, so it is the layer's 401 that answers, on either stack.
                assert_eq!(reply.status, 401, "{context}");
                if method == "HEAD" {
                    assert!(reply.body.is_empty(), "{context}");
                    assert!(reply.header("www-authenticate").is_some(), "{context}");
                } else {
                    reply.assert_unauthorized();
                }
            }
        }
        assert_still_serving(server.addr).await;
    }
}

#[tokio::test]
async fn protected_path_spellings_work_with_a_valid_token_on_a_naive_server() {
    // The hyper stack's inner service answers every path: a valid token lets each spelling
    // through, with the claims, which shows the layer recognised it as protected.
    let server = spawn(Stack::Hyper, builder().build().unwrap()).await;
    let (access, _) = login(server.addr).await;
    for path in [
        "//api/v3/ping",
        "/%61pi/v3/ping",
        "/API/V3/PING",
        "/api;x=1/v3/ping",
    ] {
        let reply = get(server.addr, path, Some(&access)).await;
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(reply.inner_sub().as_deref(), Some(USER), "{path}");
    }
}

/// A login attempt in a table: the JSON credentials and the statuses allowed.
struct LoginCase {
    name: &'static str,
    username: String,
    password: String,
    allowed: &'static [u16],
}

#[tokio::test]
async fn only_the_exact_credentials_log_in() {
    let only_401: &[u16] = &[401];
    let or_400: &[u16] = &[400, 401];
    let case = |name, username: &str, password: &str, allowed| LoginCase {
        name,
        username: username.to_owned(),
        password: password.to_owned(),
        allowed,
    };
    let prefix = &PASSWORD[..PASSWORD.len() - 1];
    let cases = [
        case("wrong password", USER, "wrong password", only_401),
        case("wrong username", "nobody", PASSWORD, only_401),
        case("username in upper case", "ADMIN", PASSWORD, only_401),
        case("username capitalised", "Admin", PASSWORD, only_401),
        case(
            "username with a trailing space",
            "admin ",
            PASSWORD,
            only_401,
        ),
        case(
            "username with a leading space",
            " admin",
            PASSWORD,
            only_401,
        ),
        case("username with a NUL", "admin\0", PASSWORD, or_400),
        case(
            "username in fullwidth letters",
            "ａｄｍｉｎ",
            PASSWORD,
            or_400,
        ),
        case(
            "password with a NUL",
            USER,
            &format!("{PASSWORD}\0"),
            or_400,
        ),
        case(
            "password cut at a NUL",
            USER,
            &format!("{prefix}\0"),
            or_400,
        ),
        case("password a strict prefix", USER, prefix, only_401),
        case("password one character", USER, &PASSWORD[..1], only_401),
        case(
            "password plus one character",
            USER,
            &format!("{PASSWORD}x"),
            only_401,
        ),
        case(
            "password in upper case",
            USER,
            &PASSWORD.to_uppercase(),
            only_401,
        ),
        case(
            "password with a trailing space",
            USER,
            &format!("{PASSWORD} "),
            only_401,
        ),
        case(
            "password of another user's length",
            USER,
            &"x".repeat(PASSWORD.len()),
            only_401,
        ),
    ];
    for stack in STACKS {
        let server = spawn(stack, builder().build().unwrap()).await;
        for case in &cases {
            let reply = login_with(server.addr, &case.username, &case.password).await;
            let context = format!("{stack:?} {:?}: {}", case.name, reply.text());
            assert!(
                case.allowed.contains(&reply.status),
                "{} {context}",
                reply.status
            );
            reply.assert_error(reply.status);
            assert!(!reply.text().contains("_token"), "{context}");
            assert_eq!(login_with(server.addr, USER, PASSWORD).await.status, 200);
        }
    }
}

/// A login body of `len` bytes: valid JSON with the right credentials, padded by a member the
/// layer ignores.
fn padded_login_body(len: usize) -> Vec<u8> {
    let head = format!(r#"{{"username":"{USER}","password":"{PASSWORD}","padding":""#);
    let mut body = head.into_bytes();
    body.resize(len - 2, b'x');
    body.extend_from_slice(b"\"}");
    body
}

#[tokio::test]
async fn oversized_login_bodies_are_refused_promptly_with_413() {
    for stack in STACKS {
        let server = spawn(stack, builder().build().unwrap()).await;
        let json = ("Content-Type", &b"application/json"[..]);

        // 1 MiB with a Content-Length: refused from the header, whatever arrives after it.
        let body = padded_login_body(1 << 20);
        let (reply, elapsed) = send_oversized(
            server.addr,
            raw_request("POST", "/api/login", &[json], &body),
        )
        .await;
        let reply = reply.expect("an answer to a 1 MiB body");
        assert!(elapsed < PROMPT, "{stack:?} 1 MiB took {elapsed:?}");
        reply.assert_error(413);

        // 1 MiB chunked, with no length announced: cut off at the body limit.
        let mut chunked = b"POST /api/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
            Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            .to_vec();
        for chunk in body.chunks(8192) {
            chunked.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            chunked.extend_from_slice(chunk);
            chunked.extend_from_slice(b"\r\n");
        }
        chunked.extend_from_slice(b"0\r\n\r\n");
        let (reply, elapsed) = send_oversized(server.addr, chunked).await;
        let reply = reply.expect("an answer to a 1 MiB chunked body");
        assert!(elapsed < PROMPT, "{stack:?} chunked 1 MiB took {elapsed:?}");
        reply.assert_error(413);

        // A 64 KiB password in an otherwise valid login.
        let body = serde_json::json!({ "username": USER, "password": "p".repeat(64 * 1024) });
        let (reply, elapsed) = send_oversized(
            server.addr,
            raw_request("POST", "/api/login", &[json], body.to_string().as_bytes()),
        )
        .await;
        let reply = reply.expect("an answer to a 64 KiB password");
        assert!(
            elapsed < PROMPT,
            "{stack:?} 64 KiB password took {elapsed:?}"
        );
        reply.assert_error(413);

        assert_eq!(login_with(server.addr, USER, PASSWORD).await.status, 200);
    }
}

#[tokio::test]
async fn correct_credentials_in_a_simple_cross_site_request_get_no_tokens() {
    for stack in STACKS {
        let server = spawn(stack, builder().build().unwrap()).await;
        let body = serde_json::json!({ "username": USER, "password": PASSWORD }).to_string();
        for content_type in [
            &b"text/plain"[..],
            b"text/plain; charset=utf-8",
            b"application/x-www-form-urlencoded",
            b"multipart/form-data; boundary=x",
        ] {
            let reply = send_raw(
                server.addr,
                &raw_request(
                    "POST",
                    "/api/login",
                    &[("Content-Type", content_type)],
                    body.as_bytes(),
                ),
            )
            .await;
            assert!(
                matches!(reply.status, 400 | 415),
                "{stack:?} {content_type:?}: {}",
                reply.status
            );
            reply.assert_error(reply.status);
            assert!(!reply.text().contains("_token"));
        }
        assert_eq!(login_with(server.addr, USER, PASSWORD).await.status, 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_parallel_logins_all_succeed_with_distinct_jtis() {
    for stack in STACKS {
        let server = spawn(stack, builder().build().unwrap()).await;
        let start = Instant::now();
        let logins: Vec<_> = (0..50).map(|_| tokio::spawn(login(server.addr))).collect();
        let mut jtis = HashSet::new();
        for handle in logins {
            let (access, refresh) = handle.await.expect("every login succeeds");
            for token in [access, refresh] {
                let payload = token.split('.').nth(1).unwrap();
                let claims: serde_json::Value = serde_json::from_slice(
                    &base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .decode(payload)
                        .unwrap(),
                )
                .unwrap();
                jtis.insert(claims["jti"].as_str().unwrap().to_owned());
            }
        }
        assert_eq!(jtis.len(), 100, "{stack:?}");
        assert!(start.elapsed() < Duration::from_secs(30), "{stack:?}");
        assert_still_serving(server.addr).await;
    }
}
