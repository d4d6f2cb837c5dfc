//! Keeps each replica's revocations in step with Redis: a subscription to the revocation
//! channel, and a full reload whenever it (re)connects.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use redis::Client;
use redis::aio::ConnectionManager;
use serde::Deserialize;

use super::KeyNames;
use crate::clock;
use crate::observe::LogLimiter;
use crate::store::{Revocation, Revocations};

/// How long the subscription may stay silent before the connection is checked with a ping.
const IDLE_PING: Duration = Duration::from_secs(15);

/// What the revocation script publishes: a revoked id, or (without `id`) a user's watermark.
#[derive(Deserialize)]
struct Message {
    sub: String,
    id: Option<String>,
    iat: i64,
    #[serde(rename = "until")]
    until: i64,
}

/// Applies one published message to `revocations`. Redis has already applied the per-user
/// bound: the replica holds what Redis holds.
pub(super) fn apply(revocations: &Revocations, message: &[u8], now: i64) {
    let Ok(message) = serde_json::from_slice::<Message>(message) else {
        tracing::warn!("ignoring a malformed revocation message");
        return;
    };
    match message.id {
        Some(id) => {
            let revocation = Revocation {
                sub: &message.sub,
                id: &id,
                family: false,
                iat: message.iat,
                until: message.until,
                watermark_until: message.until,
                now,
            };
            revocations.insert(&revocation, usize::MAX);
        }
        None => revocations.watermark(&message.sub, message.iat, message.until, now),
    }
}

/// `future`, or a time-out error after `timeout`.
async fn within<T>(
    timeout: Duration,
    future: impl Future<Output = redis::RedisResult<T>>,
) -> redis::RedisResult<T> {
    let timed_out = || redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::TimedOut));
    tokio::time::timeout(timeout, future)
        .await
        .map_err(|_| timed_out())?
}

/// Keeps `revocations` up to date, for as long as the store lives: subscribes to the
/// revocation channel, then loads every current revocation (so that nothing published before
/// or while it was disconnected is missed), then applies each message. On any failure it
/// reconnects, with a delay growing up to 2 seconds.
pub(super) async fn follow_revocations(
    client: Client,
    manager: ConnectionManager,
    keys: KeyNames,
    revocations: Arc<Revocations>,
    timeout: Duration,
) {
    // While Redis is down this retries every 2 s: one line per interval says it.
    static LOG: LogLimiter = LogLimiter::new(crate::observe::REPEATED_LOG_INTERVAL);
    let mut delay = Duration::from_millis(50);
    loop {
        match subscribe(&client, &manager, &keys, &revocations, timeout).await {
            Ok(pubsub) => {
                delay = Duration::from_millis(50);
                listen(pubsub, &revocations, timeout).await;
                tracing::warn!("lost the Redis revocation subscription; reconnecting");
            }
            Err(error) => {
                if let Some(suppressed) = LOG.allow() {
                    tracing::warn!(
                        %error,
                        suppressed,
                        "cannot subscribe to Redis revocations; retrying"
                    );
                }
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(2));
    }
}

async fn subscribe(
    client: &Client,
    manager: &ConnectionManager,
    keys: &KeyNames,
    revocations: &Revocations,
    timeout: Duration,
) -> redis::RedisResult<redis::aio::PubSub> {
    let mut pubsub = within(timeout, client.get_async_pubsub()).await?;
    within(timeout, pubsub.subscribe(&*keys.channel)).await?;
    let mut connection = manager.clone();
    let subjects: Vec<String> = within(
        timeout,
        redis::cmd("SMEMBERS")
            .arg(keys.subjects())
            .query_async(&mut connection),
    )
    .await?;
    let now = clock::now();
    // Bounded: the users with revocations (at most the configured users), each with at most
    // the per-user bound.
    for sub in subjects {
        let held: Vec<(String, String)> = within(
            timeout,
            redis::cmd("HGETALL")
                .arg(keys.key("rv", &sub))
                .query_async(&mut connection),
        )
        .await?;
        for (id, value) in held {
            let Some((iat, until)) = value
                .split_once(' ')
                .and_then(|(iat, until)| Some((iat.parse().ok()?, until.parse().ok()?)))
            else {
                continue;
            };
            if until <= now {
                continue;
            }
            if id == "!" {
                revocations.watermark(&sub, iat, until, now);
            } else {
                let revocation = Revocation {
                    sub: &sub,
                    id: &id,
                    family: false,
                    iat,
                    until,
                    watermark_until: until,
                    now,
                };
                revocations.insert(&revocation, usize::MAX);
            }
        }
    }
    Ok(pubsub)
}

async fn listen(pubsub: redis::aio::PubSub, revocations: &Revocations, timeout: Duration) {
    let (mut sink, mut messages) = pubsub.split();
    loop {
        match tokio::time::timeout(IDLE_PING, messages.next()).await {
            Ok(Some(message)) => apply(revocations, message.get_payload_bytes(), clock::now()),
            Ok(None) => return,
            Err(_) => {
                revocations.prune(clock::now());
                let alive = tokio::time::timeout(timeout, sink.ping::<String>()).await;
                if !matches!(alive, Ok(Ok(_))) {
                    return;
                }
            }
        }
    }
}
