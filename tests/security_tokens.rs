//! The security contract for tokens, over real HTTP through axum and plain hyper.
//!
//! Every case is sent as a bearer token to the protected route (built as an access token) and
//! to the refresh route (built as a refresh token). A refused case must get exactly 401 with the
//! JSON error body and a `Bearer` challenge; after every case the server must still serve a
//! genuine token. The few accepted cases are controls: they prove that a refusal next to them is
//! caused by the one thing that differs.

mod support;

use std::fmt;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use support::*;

/// A key that is not the server's.
const WRONG_KEY: &[u8] = b"not the server's secret, 40 bytes long!!";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Accepted,
    Refused,
}

struct Case {
    name: String,
    token: String,
    expect: Expect,
}

impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} case {:?}", self.expect, self.name)
    }
}

fn refused(name: impl Into<String>, token: impl Into<String>) -> Case {
    Case {
        name: name.into(),
        token: token.into(),
        expect: Expect::Refused,
    }
}

fn accepted(name: impl Into<String>, token: impl Into<String>) -> Case {
    Case {
        name: name.into(),
        token: token.into(),
        expect: Expect::Accepted,
    }
}

/// The routes every token case is tried on, with the token use a genuine token there has.
const ROUTES: [(&str, &str); 2] = [
    ("/api/v3/ping", "access"),
    ("/api/login/refresh", "refresh"),
];

/// Sends every case built by `make` (for each route's token use) to both stacks.
async fn run<F>(make: F)
where
    F: Fn(&str) -> Vec<Case>,
{
    for stack in STACKS {
        let server = spawn(stack, builder().build().unwrap()).await;
        for (path, usefor) in ROUTES {
            for case in make(usefor) {
                let reply = get(server.addr, path, Some(&case.token)).await;
                check(&reply, &case, &format!("{stack:?} {path}"));
                assert_still_serving(server.addr).await;
            }
        }
    }
}

fn check(reply: &Reply, case: &Case, context: &str) {
    match case.expect {
        Expect::Refused => {
            assert_eq!(reply.status, 401, "{case} on {context}: {}", reply.text());
            reply.assert_unauthorized();
            assert_eq!(
                reply.header("www-authenticate"),
                Some(r#"Bearer realm="datarhei-core", error="invalid_token""#),
                "{case} on {context}"
            );
            assert!(!reply.text().contains("access_token"), "{case}");
        }
        Expect::Accepted => {
            assert_eq!(reply.status, 200, "{case} on {context}: {}", reply.text());
            let body = reply.json();
            // The protected route reaches the inner service with the claims; the refresh route
            // answers with a new access token.
            let ok = reply.inner_sub().as_deref() == Some(USER) || body["access_token"].is_string();
            assert!(ok, "{case} on {context}: {body}");
        }
    }
}

/// The genuine claims for `usefor`, changed by `change`.
fn claims_with(usefor: &str, change: impl FnOnce(&mut Value)) -> Value {
    let mut claims = claims(usefor);
    change(&mut claims);
    claims
}

/// A genuine token for `usefor`, signed with the server's secret.
fn genuine(usefor: &str) -> String {
    forge_claims(&claims(usefor))
}

fn segments(token: &str) -> (String, String, String) {
    let mut parts = token.split('.').map(str::to_owned);
    (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    )
}

/// The genuine payload JSON for `usefor` with `member` (raw JSON, such as `"sub":"x"`) written
/// first, before the genuine members.
fn payload_with_first(usefor: &str, member: &str) -> String {
    let payload = claims(usefor).to_string();
    format!("{{{member},{}", &payload[1..])
}

/// The genuine payload JSON for `usefor` with `member` written last.
fn payload_with_last(usefor: &str, member: &str) -> String {
    let payload = claims(usefor).to_string();
    format!("{},{member}}}", &payload[..payload.len() - 1])
}

/// The token use a route does not want.
fn other_use(usefor: &str) -> &'static str {
    if usefor == "access" {
        "refresh"
    } else {
        "access"
    }
}

#[tokio::test]
async fn only_hs256_signed_with_our_key_is_accepted() {
    run(|u| {
        let claims = claims(u);
        let payload = claims.to_string();
        let mut cases = vec![
            accepted("genuine HS256", genuine(u)),
            accepted(
                "HS256 with header members in another order",
                forge(
                    r#"{"typ":"JWT","alg":"HS256"}"#,
                    &payload,
                    SECRET.as_bytes(),
                ),
            ),
        ];
        for alg in ["none", "None", "NONE", "nOnE"] {
            let header = json!({ "alg": alg, "typ": "JWT" }).to_string();
            let input = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
            cases.push(refused(
                format!("alg {alg}, no signature"),
                format!("{input}."),
            ));
            cases.push(refused(
                format!("alg {alg}, a valid HS256 signature"),
                sign_encoded(&input, SECRET.as_bytes()),
            ));
        }
        for (alg, algorithm) in [("HS384", Algorithm::HS384), ("HS512", Algorithm::HS512)] {
            cases.push(refused(
                format!("{alg} signed with our key by jsonwebtoken"),
                jsonwebtoken::encode(
                    &Header::new(algorithm),
                    &claims,
                    &EncodingKey::from_secret(SECRET.as_bytes()),
                )
                .unwrap(),
            ));
            let header = json!({ "alg": alg, "typ": "JWT" }).to_string();
            let input = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
            cases.push(refused(
                format!("{alg} signed with our key, truncated to 32 bytes"),
                format!(
                    "{input}.{}",
                    b64(&hmac_tag(alg, SECRET.as_bytes(), input.as_bytes())[..32])
                ),
            ));
        }
        for alg in ["RS256", "ES256", "PS256", "EdDSA"] {
            let header = json!({ "alg": alg, "typ": "JWT" }).to_string();
            cases.push(refused(
                format!("{alg} header over an HMAC signature with our key"),
                forge(&header, &payload, SECRET.as_bytes()),
            ));
        }
        cases.push(refused(
            "ES256 with r = s = 0 (psychic signature)",
            assemble(r#"{"alg":"ES256","typ":"JWT"}"#, &payload, &[0u8; 64]),
        ));
        cases.push(refused(
            "ES256 with r = s = 0, DER-encoded",
            assemble(
                r#"{"alg":"ES256","typ":"JWT"}"#,
                &payload,
                &[0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00],
            ),
        ));
        cases.push(refused(
            "RS256 signed by the attacker's key",
            attacker_rs256(Header::new(Algorithm::RS256), &claims),
        ));
        cases.push(refused(
            "HS256 keyed with the attacker's RSA modulus (key confusion)",
            forge(
                HEADER,
                &payload,
                ATTACKER_RSA_MODULUS_B64URL.trim().as_bytes(),
            ),
        ));
        for (name, header) in [
            ("lower-case hs256", r#"{"alg":"hs256","typ":"JWT"}"#),
            (
                "alg HS256 with a trailing space",
                r#"{"alg":"HS256 ","typ":"JWT"}"#,
            ),
            (
                "alg HS256 with a NUL",
                r#"{"alg":"HS256\u0000","typ":"JWT"}"#,
            ),
            ("missing alg", r#"{"typ":"JWT"}"#),
            ("empty header object", "{}"),
            ("alg as a number", r#"{"alg":256,"typ":"JWT"}"#),
            ("alg null", r#"{"alg":null,"typ":"JWT"}"#),
            ("alg as an array", r#"{"alg":["HS256"],"typ":"JWT"}"#),
            ("alg as an object", r#"{"alg":{"HS256":true},"typ":"JWT"}"#),
            ("alg true", r#"{"alg":true,"typ":"JWT"}"#),
            ("header is an array", r#"["HS256","JWT"]"#),
            ("header is a string", r#""HS256""#),
            ("header is null", "null"),
            ("header is not JSON", "alg=HS256"),
            ("typ other than JWT", r#"{"alg":"HS256","typ":"at+jwt"}"#),
        ] {
            cases.push(refused(
                format!("{name}, signed with our key"),
                forge(header, &payload, SECRET.as_bytes()),
            ));
        }
        cases
    })
    .await;
}

#[tokio::test]
async fn tampered_malformed_and_foreign_tokens_are_refused() {
    run(|u| {
        let token = genuine(u);
        let (h, p, s) = segments(&token);
        let flip = |segment: &str, at: usize| {
            let mut bytes = segment.as_bytes().to_vec();
            bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
            String::from_utf8(bytes).unwrap()
        };
        let root = claims_with(u, |c| c["sub"] = "root".into());
        let longer = claims_with(u, |c| c["exp"] = json!(now() + 10 * 365 * 86_400));
        let other = forge_claims(&claims_with(u, |c| c["jti"] = "another".into()));
        vec![
            refused("tampered header", format!("{}.{p}.{s}", flip(&h, 5))),
            refused(
                "another header, original signature",
                format!("{}.{p}.{s}", b64(br#"{"alg":"HS256","typ":"JWS"}"#)),
            ),
            refused("tampered payload", format!("{h}.{}.{s}", flip(&p, 10))),
            refused(
                "payload naming another subject, original signature",
                format!("{h}.{}.{s}", b64(root.to_string().as_bytes())),
            ),
            refused(
                "payload with a later exp, original signature",
                format!("{h}.{}.{s}", b64(longer.to_string().as_bytes())),
            ),
            refused("tampered signature", format!("{h}.{p}.{}", flip(&s, 20))),
            refused(
                "signature of another genuine token",
                format!("{h}.{p}.{}", segments(&other).2),
            ),
            refused("empty signature", format!("{h}.{p}.")),
            refused(
                "signed with an empty key",
                forge(HEADER, &claims(u).to_string(), b""),
            ),
            refused(
                "signed with a wrong key",
                forge(HEADER, &claims(u).to_string(), WRONG_KEY),
            ),
            refused(
                "signed with the first 32 bytes of our secret",
                forge(HEADER, &claims(u).to_string(), &SECRET.as_bytes()[..32]),
            ),
            refused("truncated by one character", &token[..token.len() - 1]),
            refused("truncated by half", &token[..token.len() / 2]),
            refused("header only", h.clone()),
            refused("header and a dot", format!("{h}.")),
            refused("two segments", format!("{h}.{p}")),
            refused("two segments and a dot", format!("{h}.{p}..")),
            refused("four segments", format!("{token}.{s}")),
            refused("four segments, the last empty", format!("{token}.")),
            refused("five segments", format!("{token}.{s}.{s}")),
            refused("JWE-shaped five segments", format!("{h}..{p}.{p}.{s}")),
            refused("empty header segment", format!(".{p}.{s}")),
            refused("empty payload segment", format!("{h}..{s}")),
            refused("only dots", ".."),
            refused(
                "JWS JSON serialization (flattened)",
                json!({ "payload": p, "protected": h, "signature": s }).to_string(),
            ),
            refused(
                "JWS JSON serialization (general)",
                json!({ "payload": p, "signatures": [{ "protected": h, "signature": s }] })
                    .to_string(),
            ),
            refused(
                "JWS JSON serialization, base64url-encoded",
                b64(json!({ "payload": p, "protected": h, "signature": s })
                    .to_string()
                    .as_bytes()),
            ),
            refused("a random bearer", "d2hhdGV2ZXI"),
        ]
    })
    .await;
}

/// A genuine token for `usefor` whose signature and payload segments both contain `-` or `_`,
/// so that the standard alphabet's `+` and `/` can be substituted.
fn genuine_with_url_safe_characters(usefor: &str) -> String {
    (0..10_000)
        .map(|i| {
            forge_claims(&claims_with(usefor, |c| {
                // Three '~' and three '?' in a row: one of each lands where its low six bits
                // become a base64 character of its own, `-` and `_`.
                c["jti"] = format!("~~~???{i}").into()
            }))
        })
        .find(|token| {
            let (_, p, s) = segments(token);
            p.contains(['-', '_']) && s.contains(['-', '_'])
        })
        .expect("some jti gives both characters")
}

/// A genuine payload for `usefor` whose JSON length leaves `rem` bytes over a multiple of 3, so
/// its last base64 character has unused bits.
fn payload_of_length_rem(usefor: &str, rem: usize) -> String {
    (0..3)
        .map(|pad| claims_with(usefor, |c| c["jti"] = "x".repeat(30 + pad).into()).to_string())
        .find(|json| json.len() % 3 == rem)
        .unwrap()
}

#[tokio::test]
async fn only_canonical_base64url_is_accepted() {
    run(|u| {
        let token = genuine_with_url_safe_characters(u);
        let (h, p, s) = segments(&token);
        let key = SECRET.as_bytes();
        let to_standard = |segment: &str| segment.replace('-', "+").replace('_', "/");
        let mut cases = vec![
            accepted("genuine token with - and _", token.clone()),
            refused("signature padded with =", format!("{token}=")),
            refused("signature padded with ==", format!("{token}==")),
            refused(
                "signature in the standard alphabet (+ and /)",
                format!("{h}.{p}.{}", to_standard(&s)),
            ),
            refused(
                "payload in the standard alphabet, original signature",
                format!("{h}.{}.{s}", to_standard(&p)),
            ),
            refused(
                "payload in the standard alphabet, re-signed with our key",
                sign_encoded(&format!("{h}.{}", to_standard(&p)), key),
            ),
            refused(
                "whole token standard-encoded",
                format!(
                    "{}.{}.{}",
                    STANDARD_NO_PAD.encode(URL_SAFE_NO_PAD.decode(&h).unwrap()),
                    STANDARD_NO_PAD.encode(URL_SAFE_NO_PAD.decode(&p).unwrap()),
                    STANDARD_NO_PAD.encode(URL_SAFE_NO_PAD.decode(&s).unwrap()),
                ),
            ),
            refused(
                "unused bits set in the signature's last character",
                format!("{h}.{p}.{}", set_unused_bits(&s).unwrap()),
            ),
        ];
        // Header and payload: canonical variants are accepted (controls), padded ones and ones
        // with unused bits set are not, even when signed with our key.
        for rem in [1, 2] {
            let payload = payload_of_length_rem(u, rem);
            let p = b64(payload.as_bytes());
            cases.push(accepted(
                format!("payload of length 3n+{rem}, canonical"),
                sign_encoded(&format!("{h}.{p}"), key),
            ));
            cases.push(refused(
                format!("payload of length 3n+{rem}, unused bits set, re-signed"),
                sign_encoded(&format!("{h}.{}", set_unused_bits(&p).unwrap()), key),
            ));
            cases.push(refused(
                format!("payload of length 3n+{rem}, padded, re-signed"),
                sign_encoded(&format!("{h}.{p}{}", "=".repeat(3 - rem)), key),
            ));

            let header = format!(r#"{{"alg":"HS256","typ":"JWT"}}{}"#, " ".repeat(rem));
            let h = b64(header.as_bytes());
            let p = b64(claims(u).to_string().as_bytes());
            cases.push(accepted(
                format!("header of length 3n+{rem}, canonical"),
                sign_encoded(&format!("{h}.{p}"), key),
            ));
            cases.push(refused(
                format!("header of length 3n+{rem}, unused bits set, re-signed"),
                sign_encoded(&format!("{}.{p}", set_unused_bits(&h).unwrap()), key),
            ));
            cases.push(refused(
                format!("header of length 3n+{rem}, padded, re-signed"),
                sign_encoded(&format!("{h}{}.{p}", "=".repeat(3 - rem)), key),
            ));
        }
        cases
    })
    .await;
}

#[tokio::test]
async fn headers_with_keys_urls_or_extensions_are_refused_and_nothing_is_fetched() {
    // A URL that would record any fetch: nothing may ever connect to it.
    let trap = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let trap_url = format!(
        "http://{}/.well-known/jwks.json",
        trap.local_addr().unwrap()
    );
    run(|u| {
        let claims = claims(u);
        let payload = claims.to_string();
        let key = SECRET.as_bytes();
        let rsa_jwk = json!({ "kty": "RSA", "e": "AQAB", "n": ATTACKER_RSA_MODULUS_B64URL.trim() });
        let oct_jwk = json!({ "kty": "oct", "k": b64(b"the attacker's key") });
        let with = |extra: Value| {
            let mut header = json!({ "alg": "HS256", "typ": "JWT" });
            header
                .as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            header.to_string()
        };
        let mut cases = vec![
            refused(
                "kid as a path to /dev/null, signed with an empty key",
                forge(
                    &with(json!({ "kid": "../../../../../../dev/null" })),
                    &payload,
                    b"",
                ),
            ),
            refused(
                "kid as a path, signed with our key",
                forge(
                    &with(json!({ "kid": "../../../../etc/passwd" })),
                    &payload,
                    key,
                ),
            ),
            refused(
                "kid as SQL injection, signed with the injected key",
                forge(
                    &with(json!({ "kid": "x' UNION SELECT 'attacker';--" })),
                    &payload,
                    b"attacker",
                ),
            ),
            refused(
                "kid as SQL injection, signed with our key",
                forge(&with(json!({ "kid": "1' OR '1'='1" })), &payload, key),
            ),
            refused(
                "embedded RSA jwk, signed RS256 with its private key",
                attacker_rs256(
                    serde_json::from_value(json!({ "alg": "RS256", "typ": "JWT", "jwk": rsa_jwk }))
                        .unwrap(),
                    &claims,
                ),
            ),
            refused(
                "embedded RSA jwk, HS256 with our key",
                forge(&with(json!({ "jwk": rsa_jwk })), &payload, key),
            ),
            refused(
                "embedded oct jwk, signed with that key",
                forge(
                    &with(json!({ "jwk": oct_jwk })),
                    &payload,
                    b"the attacker's key",
                ),
            ),
            refused(
                "embedded oct jwk, signed with our key",
                forge(&with(json!({ "jwk": oct_jwk })), &payload, key),
            ),
            refused(
                "x5c certificate chain, signed with our key",
                forge(
                    &with(json!({ "x5c": ["MIIBszCCAVmgAwIBAgIUQ"] })),
                    &payload,
                    key,
                ),
            ),
            refused(
                "unknown crit extension, signed with our key",
                forge(
                    &with(json!({ "crit": ["x-unknown"], "x-unknown": true })),
                    &payload,
                    key,
                ),
            ),
            refused(
                "crit naming a registered member, signed with our key",
                forge(&with(json!({ "crit": ["exp"], "exp": 1 })), &payload, key),
            ),
            refused(
                "empty crit, signed with our key",
                forge(&with(json!({ "crit": [] })), &payload, key),
            ),
            refused(
                "unencoded payload (b64: false), signed with our key",
                forge(
                    &with(json!({ "b64": false, "crit": ["b64"] })),
                    &payload,
                    key,
                ),
            ),
            refused(
                "cty naming a nested JWT, signed with our key",
                forge(&with(json!({ "cty": "JWT" })), &payload, key),
            ),
        ];
        for member in ["jku", "x5u"] {
            for (signer, secret) in [("our key", key), ("the attacker's key", WRONG_KEY)] {
                cases.push(refused(
                    format!("{member} URL, signed with {signer}"),
                    forge(&with(json!({ member: trap_url })), &payload, secret),
                ));
            }
        }
        cases
    })
    .await;
    let fetch = tokio::time::timeout(Duration::from_millis(200), trap.accept()).await;
    assert!(fetch.is_err(), "the layer fetched a jku/x5u URL");
}

#[tokio::test]
async fn an_unknown_kid_on_a_genuine_token_is_never_a_server_error() {
    for stack in STACKS {
        let server = spawn(stack, builder().build().unwrap()).await;
        for (path, usefor) in ROUTES {
            let token = forge(
                r#"{"alg":"HS256","typ":"JWT","kid":"unknown-key-id"}"#,
                &claims(usefor).to_string(),
                SECRET.as_bytes(),
            );
            let reply = get(server.addr, path, Some(&token)).await;
            match reply.status {
                200 => {}
                401 => reply.assert_unauthorized(),
                other => panic!("{stack:?} {path}: {other} {}", reply.text()),
            }
            assert_still_serving(server.addr).await;
        }
    }
}

#[tokio::test]
async fn claims_of_the_wrong_type_value_or_time_are_refused() {
    run(|u| {
        let now = now();
        let set = |name: &str, member: &str, value: Value| {
            refused(name, forge_claims(&claims_with(u, |c| c[member] = value)))
        };
        let without = |member: &str| {
            refused(
                format!("{member} missing"),
                forge_claims(&claims_with(u, |c| {
                    c.as_object_mut().unwrap().remove(member);
                })),
            )
        };
        let raw =
            |name: &str, payload: String| refused(name, forge(HEADER, &payload, SECRET.as_bytes()));
        let genuine_payload = claims(u).to_string();
        let exp = claims(u)["exp"].to_string();
        let with_exp = |value: &str| {
            genuine_payload.replace(&format!("\"exp\":{exp}"), &format!("\"exp\":{value}"))
        };
        let mut upper = u.to_owned();
        upper[..1].make_ascii_uppercase();
        let unknown_claims = |n: usize| {
            claims_with(u, |c| {
                for i in 0..n {
                    c[format!("x{i}")] = i.into();
                }
            })
        };
        vec![
            accepted("genuine claims", genuine(u)),
            refused(
                "expired",
                forge_claims(&claims_with(u, |c| {
                    c["iat"] = (now - 700).into();
                    c["exp"] = (now - 100).into();
                })),
            ),
            refused(
                "expired long ago",
                forge_claims(&claims_with(u, |c| {
                    c["iat"] = 0.into();
                    c["exp"] = 600.into();
                })),
            ),
            set("nbf in the future", "nbf", (now + 3600).into()),
            set(
                "nbf in the future, as a string",
                "nbf",
                (now + 3600).to_string().into(),
            ),
            set("nbf in the past, as a string", "nbf", "0".into()),
            set("nbf as a float", "nbf", json!(1.5)),
            accepted(
                "nbf in the past",
                forge_claims(&claims_with(u, |c| c["nbf"] = (now - 10).into())),
            ),
            refused(
                "iat far in the future",
                forge_claims(&claims_with(u, |c| {
                    c["iat"] = (now + 3600).into();
                    c["exp"] = (now + 4200).into();
                })),
            ),
            without("exp"),
            set("exp as a string", "exp", (now + 600).to_string().into()),
            set("exp null", "exp", Value::Null),
            set("exp as a float", "exp", json!(now as f64 + 600.5)),
            raw("exp 1e300", with_exp("1e300")),
            raw("exp 2^64", with_exp("18446744073709551616")),
            raw("exp 2^63", with_exp("9223372036854775808")),
            raw("exp 10^30", with_exp("1000000000000000000000000000000")),
            set("exp negative", "exp", (-1).into()),
            set("exp i64::MIN", "exp", i64::MIN.into()),
            without("iat"),
            set("iat as a string", "iat", now.to_string().into()),
            without("exi"),
            without("jti"),
            set("jti as a number", "jti", 7.into()),
            without("usefor"),
            set("usefor as a number", "usefor", 1.into()),
            set("usefor null", "usefor", Value::Null),
            set("usefor as an array", "usefor", json!([u])),
            set("usefor as an object", "usefor", json!({ u: true })),
            set("usefor capitalised", "usefor", upper.clone().into()),
            set("usefor upper case", "usefor", u.to_ascii_uppercase().into()),
            set(
                "usefor with a trailing space",
                "usefor",
                format!("{u} ").into(),
            ),
            set(
                "usefor with a leading space",
                "usefor",
                format!(" {u}").into(),
            ),
            set("usefor with a NUL", "usefor", format!("{u}\0").into()),
            set("usefor empty", "usefor", "".into()),
            set("usefor of the other route", "usefor", other_use(u).into()),
            set("iss wrong", "iss", "another-realm".into()),
            set("iss in another case", "iss", "Datarhei-Core".into()),
            set(
                "iss with a trailing space",
                "iss",
                format!("{REALM} ").into(),
            ),
            set("iss as a number", "iss", 1.into()),
            without("iss"),
            without("sub"),
            set("sub as a number", "sub", 1.into()),
            set("sub null", "sub", Value::Null),
            set("sub empty", "sub", "".into()),
            set("sub an unknown user", "sub", "ghost".into()),
            set(
                "sub the username plus an emoji",
                "sub",
                format!("{USER}\u{1F600}").into(),
            ),
            set(
                "sub the username in fullwidth letters",
                "sub",
                "ａｄｍｉｎ".into(),
            ),
            set("sub the username in another case", "sub", "Admin".into()),
            set(
                "sub the username with a trailing space",
                "sub",
                format!("{USER} ").into(),
            ),
            set(
                "sub the username with a NUL",
                "sub",
                format!("{USER}\0").into(),
            ),
            set("a foreign aud", "aud", "another-service".into()),
            set("a foreign aud array", "aud", json!(["another-service"])),
            set("an aud naming our realm", "aud", REALM.into()),
            accepted("16 unknown claims", forge_claims(&unknown_claims(16))),
            refused("17 unknown claims", forge_claims(&unknown_claims(17))),
            refused(
                "an unknown claim nested 1000 deep, signed with a wrong key",
                forge(
                    HEADER,
                    &payload_with_last(
                        u,
                        &format!("\"x\":{}{}", "[".repeat(1000), "]".repeat(1000)),
                    ),
                    WRONG_KEY,
                ),
            ),
            raw("payload an array", "[]".into()),
            raw("payload null", "null".into()),
            raw("payload a string", r#""admin""#.into()),
            raw("payload not JSON", "sub=admin".into()),
            raw("payload with trailing bytes", format!("{genuine_payload}x")),
            raw(
                "payload of two objects",
                format!("{genuine_payload}{genuine_payload}"),
            ),
        ]
    })
    .await;
}

#[tokio::test]
async fn claims_written_with_json_escapes_are_the_same_claims() {
    run(|u| {
        let payload = claims(u).to_string();
        let escape = |s: &str| {
            s.chars()
                .map(|c| format!("\\u{:04x}", c as u32))
                .collect::<String>()
        };
        let sign = |payload: String| forge(HEADER, &payload, SECRET.as_bytes());
        vec![
            accepted(
                "sub written with \\u escapes",
                sign(payload.replace(
                    &format!("\"sub\":\"{USER}\""),
                    &format!("\"sub\":\"{}\"", escape(USER)),
                )),
            ),
            accepted(
                "usefor written with \\u escapes",
                sign(payload.replace(
                    &format!("\"usefor\":\"{u}\""),
                    &format!("\"usefor\":\"{}\"", escape(u)),
                )),
            ),
            accepted(
                "member names written with \\u escapes",
                sign(
                    payload
                        .replace("\"sub\":", &format!("\"{}\":", escape("sub")))
                        .replace("\"usefor\":", &format!("\"{}\":", escape("usefor"))),
                ),
            ),
            accepted(
                "alg written with \\u escapes",
                forge(
                    &format!(
                        r#"{{"{}":"{}","typ":"JWT"}}"#,
                        escape("alg"),
                        escape("HS256")
                    ),
                    &payload,
                    SECRET.as_bytes(),
                ),
            ),
            refused(
                "sub escapes decoding to another user",
                sign(payload.replace(
                    &format!("\"sub\":\"{USER}\""),
                    &format!("\"sub\":\"{}\"", escape("Admin")),
                )),
            ),
        ]
    })
    .await;
}

#[tokio::test]
async fn duplicate_members_are_refused_whichever_comes_first() {
    run(|u| {
        let key = SECRET.as_bytes();
        let signed = |payload: String| forge(HEADER, &payload, key);
        let other = other_use(u);
        let now = now();
        let mut cases = vec![];
        for (name, header) in [
            (
                "alg none then HS256",
                r#"{"alg":"none","alg":"HS256","typ":"JWT"}"#,
            ),
            (
                "alg HS256 then none",
                r#"{"alg":"HS256","typ":"JWT","alg":"none"}"#,
            ),
            (
                "alg HS256 twice",
                r#"{"alg":"HS256","alg":"HS256","typ":"JWT"}"#,
            ),
            ("typ twice", r#"{"alg":"HS256","typ":"JWT","typ":"JWT"}"#),
            (
                "alg twice, once escaped",
                r#"{"alg":"HS256","typ":"JWT","\u0061lg":"none"}"#,
            ),
        ] {
            cases.push(refused(
                format!("header with {name}"),
                forge(header, &claims(u).to_string(), key),
            ));
        }
        for (name, member) in [
            (
                "usefor of the other route",
                format!(r#""usefor":"{other}""#),
            ),
            ("the same usefor", format!(r#""usefor":"{u}""#)),
            (
                "usefor with an escaped name",
                format!(r#""use\u0066or":"{other}""#),
            ),
            ("another sub", r#""sub":"ghost""#.to_owned()),
            ("the same sub", format!(r#""sub":"{USER}""#)),
            ("another iss", r#""iss":"another-realm""#.to_owned()),
            ("an expired exp", format!(r#""exp":{}"#, now - 100)),
            ("a later exp", format!(r#""exp":{}"#, now + 99_999)),
            ("another jti", r#""jti":"another""#.to_owned()),
            ("another iat", format!(r#""iat":{now}"#)),
        ] {
            cases.push(refused(
                format!("payload with {name} first"),
                signed(payload_with_first(u, &member)),
            ));
            cases.push(refused(
                format!("payload with {name} last"),
                signed(payload_with_last(u, &member)),
            ));
        }
        cases.push(refused(
            "payload with nbf twice",
            signed(payload_with_last(
                u,
                &format!(r#""nbf":{},"nbf":{}"#, now - 10, now - 10),
            )),
        ));
        cases.push(refused(
            "payload with an unknown claim twice",
            signed(payload_with_last(u, r#""x":1,"x":2"#)),
        ));
        cases
    })
    .await;
}

#[tokio::test]
async fn payloads_are_parsed_only_after_the_signature_verified() {
    // Whatever the payload holds, a wrong signature is the reason given: the claims of an
    // unauthenticated token are never read, so no parser quirk is reachable without our key.
    let server = spawn(Stack::Hyper, builder().build().unwrap()).await;
    for payload in [
        "not json".to_owned(),
        format!("{}{}", "[".repeat(1000), "]".repeat(1000)),
        r#"{"usefor":"access","usefor":"refresh"}"#.to_owned(),
        claims("access").to_string(),
    ] {
        let reply = get(
            server.addr,
            "/api/v3/ping",
            Some(&forge(HEADER, &payload, WRONG_KEY)),
        )
        .await;
        reply.assert_unauthorized();
        assert_eq!(
            reply.json()["details"][0],
            tower_jwt_login::Rejection::BadSignature.detail()
        );
    }
    assert_still_serving(server.addr).await;
}

#[tokio::test]
async fn tokens_are_refused_where_their_use_is_not_the_route_s() {
    for stack in STACKS {
        let server = spawn(stack, builder().build().unwrap()).await;
        let (access, refresh) = login(server.addr).await;
        let refresh_on_protected = get(server.addr, "/api/v3/ping", Some(&refresh)).await;
        refresh_on_protected.assert_unauthorized();
        let access_on_refresh = get(server.addr, "/api/login/refresh", Some(&access)).await;
        access_on_refresh.assert_unauthorized();
        assert!(!access_on_refresh.text().contains("access_token"));
        assert_still_serving(server.addr).await;
    }
}

#[tokio::test]
async fn no_bearer_token_mints_tokens_on_the_login_route() {
    for stack in STACKS {
        let server = spawn(stack, builder().build().unwrap()).await;
        let (access, refresh) = login(server.addr).await;
        let rs256 = attacker_rs256(Header::new(Algorithm::RS256), &claims("access"));
        for (name, token) in [
            ("our access token", access.as_str()),
            ("our refresh token", refresh.as_str()),
            ("a random bearer", "cmFuZG9tIGJlYXJlcg"),
            ("an attacker-signed RS256 token", rs256.as_str()),
        ] {
            let reply = post_bearer(server.addr, "/api/login", token).await;
            assert_eq!(reply.status, 401, "{stack:?} {name}: {}", reply.text());
            reply.assert_error(401);
            assert!(!reply.text().contains("_token"), "{name}: {}", reply.text());
            assert_still_serving(server.addr).await;
        }
    }
}

/// How long an oversized token may take to be refused: far more than the few microseconds it
/// takes, far less than the work an unbounded parser would do on a loaded machine.
const PROMPT: Duration = Duration::from_secs(5);

#[tokio::test]
async fn oversized_tokens_are_refused_promptly() {
    for stack in STACKS {
        let server = spawn(stack, builder().build().unwrap()).await;
        let (h, p, s) = segments(&genuine("access"));
        let cases = [
            ("100,000 dots", ".".repeat(100_000)),
            (
                "a 64 KiB payload",
                format!("{h}.{}.{s}", "A".repeat(64 * 1024)),
            ),
            (
                "4097 bytes",
                format!(
                    "{h}.{p}{}.{s}",
                    "A".repeat(4097 - h.len() - p.len() - s.len() - 2)
                ),
            ),
        ];
        for (name, token) in cases {
            assert!(token.len() > 4096);
            let start = Instant::now();
            let reply = get(server.addr, "/api/v3/ping", Some(&token)).await;
            assert!(
                start.elapsed() < PROMPT,
                "{name} took {:?}",
                start.elapsed()
            );
            assert_eq!(reply.status, 401, "{stack:?} {name}");
            reply.assert_unauthorized();
            assert_still_serving(server.addr).await;
        }
        // A 1 MiB header is over the HTTP server's own header limit: the server (not the layer)
        // refuses it with a 4xx before the layer sees it. Either way, promptly and not 2xx/5xx.
        let token = "A".repeat(1 << 20);
        let request = raw_request(
            "GET",
            "/api/v3/ping",
            &[("Authorization", format!("Bearer {token}").as_bytes())],
            b"",
        );
        let (reply, elapsed) = send_oversized(server.addr, request).await;
        assert!(elapsed < PROMPT, "1 MiB token took {elapsed:?}");
        let reply = reply.expect("an answer, not a dropped connection");
        assert!(
            matches!(reply.status, 401 | 431),
            "{stack:?}: {} {}",
            reply.status,
            reply.text()
        );
        if reply.status == 401 {
            reply.assert_unauthorized();
        }
        assert_still_serving(server.addr).await;
    }
}
