//! Checking a login's password: argon2 on a blocking thread, a bounded number at once.
//!
//! One argon2id check with the argon2 crate's default parameters takes 19 MiB and a core for
//! its whole run. With a blocking thread per login and no bound, 400 concurrent wrong passwords
//! from 400 addresses (the throttle counts per client, so it lets each through) held 7.4 GB.
//! Here at most a configured number of checks run at once; a login waits
//! [`SLOT_WAIT`] for a slot at most, and is then answered `503` with `Retry-After` without a hash.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::Shared;
use super::response::{self, OwnResponse};
use crate::error::Rejection;
use crate::observe::{self, LoginOutcome};

/// How long a login waits for a free slot before it is answered `503`: long enough to ride out
/// a burst of legitimate logins (a check takes tens of milliseconds), short enough that a flood
/// queues nothing for long.
pub(crate) const SLOT_WAIT: Duration = Duration::from_secs(1);

/// What `Retry-After` says when no slot came free in time.
const BUSY_RETRY_AFTER_SECS: u64 = 1;

/// The slots for password checks that are expensive (argon2), shared by every clone of the
/// layer.
#[derive(Debug)]
pub(crate) struct HashSlots {
    semaphore: Arc<Semaphore>,
}

/// A slot held for one check. It is moved into the blocking task, so that it is held for as long
/// as the hash runs, even when the request that started it is dropped.
#[derive(Debug)]
pub(crate) struct Slot(Option<OwnedSemaphorePermit>);

impl HashSlots {
    /// At most `max` checks at once (at least 1; a number beyond what a semaphore can count is
    /// as good as no bound and is capped).
    pub(crate) fn new(max: usize) -> Self {
        Self {
            semaphore: Arc::new(Semaphore::new(max.clamp(1, Semaphore::MAX_PERMITS))),
        }
    }

    /// A slot for checking `username`'s password: a real one when the check is an argon2 hash
    /// (for an unknown user too, whose dummy check costs the same, so that a busy answer tells
    /// the two apart no more than the check would), none needed otherwise.
    ///
    /// Taken before the throttle counts the attempt: a `503` checked no password, so it must not
    /// count against the client, and the throttle cannot take one attempt back without
    /// forgetting the others.
    ///
    /// # Errors
    ///
    /// The `503` when no slot came free within [`SLOT_WAIT`].
    pub(crate) async fn acquire(
        &self,
        shared: &Shared,
        username: &str,
    ) -> Result<Slot, OwnResponse> {
        if !shared.users.is_expensive(username) {
            return Ok(Slot(None));
        }
        if let Ok(permit) = Arc::clone(&self.semaphore).try_acquire_owned() {
            return Ok(Slot(Some(permit)));
        }
        // Without a tokio runtime there is no timer to bound the wait with: no wait at all.
        if tokio::runtime::Handle::try_current().is_ok() {
            let waited =
                tokio::time::timeout(SLOT_WAIT, Arc::clone(&self.semaphore).acquire_owned()).await;
            if let Ok(Ok(permit)) = waited {
                return Ok(Slot(Some(permit)));
            }
        }
        Err(busy())
    }
}

/// Checks the password with the slot held, on a blocking thread when it is an argon2 hash so
/// that a flood of logins never stalls the async workers that serve everything else.
pub(crate) async fn check(
    shared: &Arc<Shared>,
    slot: Slot,
    username: String,
    password: String,
) -> bool {
    if slot.0.is_some()
        && let Ok(handle) = tokio::runtime::Handle::try_current()
    {
        let shared = Arc::clone(shared);
        return handle
            .spawn_blocking(move || checked(&shared, slot, &username, &password))
            .await
            .unwrap_or(false);
    }
    checked(shared, slot, &username, &password)
}

/// The check itself, counted in the gauge of running hashes while it holds a slot.
fn checked(shared: &Shared, slot: Slot, username: &str, password: &str) -> bool {
    // A local is dropped before the parameters: the gauge goes down before the slot is given
    // back, so it never shows more hashes running than there are slots.
    let _running = slot.0.as_ref().map(|_| observe::HashRunning::start());
    shared.users.check(username, password.as_bytes())
}

/// The `503` for a login that found no free slot.
fn busy() -> OwnResponse {
    // At debug: anybody can cause it, as often as they like; the login counter has the total.
    tracing::debug!(
        outcome = LoginOutcome::Busy.as_str(),
        reason = Rejection::PasswordCheckBusy.code(),
        "login refused"
    );
    response::retry_later(Rejection::PasswordCheckBusy, BUSY_RETRY_AFTER_SECS)
}

#[cfg(test)]
mod tests {
    use http::StatusCode;

    use super::*;
    use crate::{JwtLoginLayer, Password};

    fn phc() -> String {
        use argon2::PasswordHasher as _;
        // Small parameters: the test is about the slots, not the hash.
        let params = argon2::Params::new(64, 1, 1, None).unwrap();
        argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
            .hash_password_with_salt(b"right", b"somesaltsomesalt")
            .unwrap()
            .to_string()
    }

    #[tokio::test(start_paused = true)]
    async fn an_unknown_user_needs_a_slot_like_a_known_one_and_waits_at_most_slot_wait() {
        let layer = JwtLoginLayer::builder()
            .user("admin", Password::phc(phc()))
            .max_concurrent_password_hashes(1)
            .build()
            .unwrap();
        let shared = layer.shared();
        let slots = &shared.passwords;
        for username in ["admin", "nobody"] {
            let held = slots.acquire(shared, "admin").await.unwrap();
            assert!(held.0.is_some());
            let start = tokio::time::Instant::now();
            let refused = slots.acquire(shared, username).await.unwrap_err();
            assert_eq!(start.elapsed(), SLOT_WAIT, "{username}");
            assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(refused.headers()[http::header::RETRY_AFTER], "1");
            assert_eq!(
                refused.extensions().get::<Rejection>(),
                Some(&Rejection::PasswordCheckBusy)
            );
            drop(held);
            let freed = slots.acquire(shared, username).await.unwrap();
            assert!(freed.0.is_some(), "{username}");
        }
    }

    #[tokio::test]
    async fn plain_passwords_need_no_slot() {
        let layer = JwtLoginLayer::builder()
            .user("admin", Password::plain("pw"))
            .max_concurrent_password_hashes(1)
            .build()
            .unwrap();
        let shared = layer.shared();
        let first = shared.passwords.acquire(shared, "admin").await.unwrap();
        let second = shared.passwords.acquire(shared, "nobody").await.unwrap();
        assert!(first.0.is_none() && second.0.is_none());
    }

    /// A login for `admin` through the whole service, from one client.
    fn login_request(password: &str) -> http::Request<http_body_util::Full<bytes::Bytes>> {
        let body = format!(r#"{{"username":"admin","password":"{password}"}}"#);
        let mut request = http::Request::post("/api/login")
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(http_body_util::Full::new(bytes::Bytes::from(body)))
            .unwrap();
        let peer = "192.0.2.1:5000".parse().unwrap();
        request.extensions_mut().insert(crate::PeerAddr(peer));
        request
    }

    #[tokio::test(start_paused = true)]
    async fn a_busy_answer_does_not_count_against_the_client() {
        use tower::ServiceExt as _;
        use tower_layer::Layer as _;
        let layer = JwtLoginLayer::builder()
            .user("admin", Password::phc(phc()))
            .max_concurrent_password_hashes(1)
            .login_throttle(crate::LoginThrottle::new().max_failures_per_user(1))
            .build()
            .unwrap();
        let service = layer.layer(tower::service_fn(|_| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(http_body_util::Empty::<
                bytes::Bytes,
            >::new()))
        }));
        let shared = layer.shared();
        let held = shared.passwords.acquire(shared, "admin").await.unwrap();
        for _ in 0..3 {
            let answer = service
                .clone()
                .oneshot(login_request("wrong"))
                .await
                .unwrap();
            assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
        }
        drop(held);
        // Had the three 503s counted, one failure per user and client would have locked it out.
        let answer = service.oneshot(login_request("right")).await.unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
    }

    /// Polls `future` once, outside any runtime.
    fn poll_once<F: Future>(future: F) -> F::Output {
        let mut future = std::pin::pin!(future);
        let mut context = std::task::Context::from_waker(std::task::Waker::noop());
        match future.as_mut().poll(&mut context) {
            std::task::Poll::Ready(answer) => answer,
            std::task::Poll::Pending => panic!("waited without a runtime"),
        }
    }

    #[test]
    fn without_a_runtime_a_busy_slot_answers_at_once() {
        let layer = JwtLoginLayer::builder()
            .user("admin", Password::phc(phc()))
            .max_concurrent_password_hashes(1)
            .build()
            .unwrap();
        let shared = layer.shared();
        let held = poll_once(shared.passwords.acquire(shared, "admin")).unwrap();
        assert!(poll_once(shared.passwords.acquire(shared, "nobody")).is_err());
        drop(held);
        assert!(poll_once(shared.passwords.acquire(shared, "nobody")).is_ok());
    }
}
