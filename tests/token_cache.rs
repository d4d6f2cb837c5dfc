//! The validated-token cache, over real HTTP on both stacks: a token served from the
//! cache is refused exactly when a verification in full would refuse it.
//!
//! Revocation of a cached token (logout, and a revocation from another replica) is covered by
//! `tests/store.rs`, whose tests use a token on a protected route before revoking it, with the
//! cache on, as it is by default. That a refused token is never stored is shown by
//! `tests/alloc.rs` (storing allocates; refusing must not).

mod support;

use std::time::Duration;

use support::*;
use tower_jwt_login::Password;

const STACKS: [Stack; 2] = [Stack::Axum, Stack::Hyper];

/// A token cached by two good requests is refused once it has expired, with the same answer
/// as from a layer without the cache.
#[tokio::test]
async fn a_cached_token_is_refused_once_expired() {
    for stack in STACKS {
        let lifetime = Duration::from_secs(2);
        let cached = spawn(
            stack,
            builder().access_token_lifetime(lifetime).build().unwrap(),
        )
        .await;
        let uncached = spawn(
            stack,
            builder()
                .access_token_lifetime(lifetime)
                .validated_token_cache(0)
                .build()
                .unwrap(),
        )
        .await;
        let (access, _) = login(cached.addr).await;
        let (other, _) = login(uncached.addr).await;
        for _ in 0..2 {
            assert_eq!(
                get(cached.addr, "/api/v3/ping", Some(&access)).await.status,
                200
            );
            assert_eq!(
                get(uncached.addr, "/api/v3/ping", Some(&other))
                    .await
                    .status,
                200
            );
        }
        // `exp` is whole seconds: past it for certain after the lifetime and one more second.
        tokio::time::sleep(lifetime + Duration::from_secs(1)).await;
        let from_cache = get(cached.addr, "/api/v3/ping", Some(&access)).await;
        let in_full = get(uncached.addr, "/api/v3/ping", Some(&other)).await;
        from_cache.assert_unauthorized();
        assert_eq!(from_cache.json(), in_full.json(), "{stack:?}");
        assert!(
            from_cache.text().contains("expired"),
            "{}",
            from_cache.text()
        );
    }
}

/// Changing any one character of a cached token makes it a different token: refused, while the
/// cached one still works. Positions in the header, the payload and the signature (the last
/// eight characters choose the slot: changes there and elsewhere both).
#[tokio::test]
async fn a_token_one_character_off_a_cached_one_is_refused() {
    for stack in STACKS {
        let server = spawn(stack, builder().build().unwrap()).await;
        let (access, _) = login(server.addr).await;
        assert_eq!(
            get(server.addr, "/api/v3/ping", Some(&access)).await.status,
            200
        );
        let len = access.len();
        for at in [
            0,
            10,
            40,
            len / 2,
            len - 43,
            len - 20,
            len - 8,
            len - 2,
            len - 1,
        ] {
            let mut bytes = access.clone().into_bytes();
            bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
            let changed = String::from_utf8(bytes).unwrap();
            get(server.addr, "/api/v3/ping", Some(&changed))
                .await
                .assert_unauthorized();
        }
        for shorter in [&access[..len - 1], &access[1..]] {
            get(server.addr, "/api/v3/ping", Some(shorter))
                .await
                .assert_unauthorized();
        }
        let reply = get(server.addr, "/api/v3/ping", Some(&access)).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.inner_sub().as_deref(), Some(USER));
    }
}

/// Many users' tokens at once through a cache of two slots, so that they keep taking each
/// other's slot: every request gets its own user's claims, never another's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_tokens_sharing_slots_each_get_their_own_claims() {
    const USERS: usize = 8;
    let mut builder = builder().validated_token_cache(2);
    for n in 0..USERS {
        builder = builder.user(format!("user{n}"), Password::plain(format!("password {n}")));
    }
    let server = spawn(Stack::Hyper, builder.build().unwrap()).await;
    let mut tokens = Vec::new();
    for n in 0..USERS {
        let reply = login_with(server.addr, &format!("user{n}"), &format!("password {n}")).await;
        assert_eq!(reply.status, 200);
        tokens.push(reply.json()["access_token"].as_str().unwrap().to_owned());
    }
    let requests = (0..USERS * 25).map(|i| {
        let (user, token) = (i % USERS, tokens[i % USERS].clone());
        let addr = server.addr;
        tokio::spawn(async move {
            let reply = get(addr, "/api/v3/ping", Some(&token)).await;
            assert_eq!(reply.status, 200);
            assert_eq!(reply.inner_sub(), Some(format!("user{user}")));
        })
    });
    for request in requests.collect::<Vec<_>>() {
        request.await.unwrap();
    }
}
