//! The bound on argon2 password checks running at once, over real HTTP: a flood of wrong
//! passwords from many addresses (which the throttle, counting per client, lets through) never
//! runs more hashes than the bound, and what does not find a slot in time is answered `503`
//! promptly.
//!
//! The hashes running are counted by a recorder of the `metrics` facade that keeps the highest
//! value the gauge `tower_jwt_login_password_hashes_running` reached. The gauge moves on the
//! blocking threads that hash, so the recorder is global: the tests take turns.

mod support;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use metrics::{Counter, Gauge, GaugeFn, Histogram, Key, KeyName, Metadata, Recorder};
use support::*;
use tower_jwt_login::{JwtLoginLayer, Password};

const GAUGE: &str = "tower_jwt_login_password_hashes_running";

/// How long the layer waits for a slot before answering `503` (documented on the builder).
const SLOT_WAIT: Duration = Duration::from_secs(1);

/// How late past [`SLOT_WAIT`] a `503` may come on a loaded machine of two cores. The hashes
/// queued behind the bound take several times longer in all, so a `503` that waited for them
/// would be later than this.
const SLACK: Duration = Duration::from_millis(1500);

const HASHED_USER: &str = "ops";
const HASHED_PASSWORD: &str = "the right password";

/// The running-hashes gauge: its value now, its highest value, and how many hashes started.
#[derive(Debug, Default)]
struct Running {
    now: AtomicI64,
    max: AtomicI64,
    started: AtomicU64,
}

impl Running {
    /// Starts counting afresh (the value now must be zero: no hash left running).
    fn reset(&self) {
        assert_eq!(
            self.now.load(Ordering::SeqCst),
            0,
            "a hash is still running"
        );
        self.max.store(0, Ordering::SeqCst);
        self.started.store(0, Ordering::SeqCst);
    }
}

impl GaugeFn for Running {
    fn increment(&self, value: f64) {
        let now = self.now.fetch_add(value as i64, Ordering::SeqCst) + value as i64;
        self.max.fetch_max(now, Ordering::SeqCst);
        self.started.fetch_add(1, Ordering::SeqCst);
    }

    fn decrement(&self, value: f64) {
        self.now.fetch_sub(value as i64, Ordering::SeqCst);
    }

    fn set(&self, _: f64) {
        panic!("the running-hashes gauge is only moved up and down");
    }
}

/// Hands out the one [`Running`] for the gauge, and no-ops for everything else.
#[derive(Debug)]
struct GaugeRecorder(Arc<Running>);

impl Recorder for GaugeRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<metrics::Unit>, _: metrics::SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<metrics::Unit>, _: metrics::SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<metrics::Unit>, _: metrics::SharedString) {}

    fn register_counter(&self, _: &Key, _: &Metadata<'_>) -> Counter {
        Counter::noop()
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        assert_eq!(key.name(), GAUGE, "an unexpected gauge");
        Gauge::from_arc(Arc::clone(&self.0))
    }

    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

/// The gauge, recorded globally from the first call on.
fn running() -> &'static Running {
    static RUNNING: OnceLock<Arc<Running>> = OnceLock::new();
    RUNNING.get_or_init(|| {
        let running = Arc::new(Running::default());
        metrics::set_global_recorder(GaugeRecorder(Arc::clone(&running)))
            .expect("the only recorder of this test binary");
        running
    })
}

/// One test at a time: they share the gauge.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// An argon2id hash of [`HASHED_PASSWORD`] whose check takes about 100 milliseconds in a debug
/// build: smaller than the crate's defaults, so the tests stay quick, but long enough that a
/// hundred checks through two slots take several times [`SLOT_WAIT`].
fn phc() -> String {
    use argon2::PasswordHasher as _;
    let params = argon2::Params::new(4096, 2, 1, None).unwrap();
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password_with_salt(HASHED_PASSWORD.as_bytes(), b"hashingsalthashing")
        .unwrap()
        .to_string()
}

fn layer(max_hashes: usize) -> JwtLoginLayer {
    builder()
        .user(HASHED_USER, Password::phc(phc()))
        .max_concurrent_password_hashes(max_hashes)
        .build()
        .unwrap()
}

/// The `n`th of many loopback addresses (127.0.1.0 and up), one per client.
fn client(n: usize) -> IpAddr {
    let [_, _, high, low] = u32::try_from(256 + n).unwrap().to_be_bytes();
    IpAddr::V4(Ipv4Addr::new(127, 0, high, low))
}

/// Sends `count` logins for `username` with a wrong password at once, each from an address of
/// its own; answers each reply with how long it took.
async fn flood(server: &Server, username: &str, count: usize) -> Vec<(Reply, Duration)> {
    let request = Arc::new(login_request(username, "a wrong password", &[]));
    let addr = server.addr;
    let sends: Vec<_> = (0..count)
        .map(|n| {
            let request = Arc::clone(&request);
            tokio::spawn(async move {
                let start = Instant::now();
                let reply = send_raw_from(client(n), addr, &request).await;
                (reply, start.elapsed())
            })
        })
        .collect();
    let mut replies = Vec::with_capacity(count);
    for send in sends {
        replies.push(send.await.unwrap());
    }
    replies
}

/// Checks that every reply is a `401` for the wrong password or a prompt `503` for want of a
/// slot, with some of each; answers how many were `503`.
fn assert_refused_or_busy(replies: &[(Reply, Duration)]) -> usize {
    let mut busy = 0;
    for (reply, elapsed) in replies {
        match reply.status {
            401 => assert_eq!(
                reply.json()["details"][0],
                "invalid username or password",
                "{}",
                reply.text()
            ),
            503 => {
                busy += 1;
                reply.assert_error(503);
                assert_eq!(
                    reply.json()["details"][0],
                    "the server is busy checking passwords; retry later"
                );
                assert_eq!(reply.header("retry-after"), Some("1"));
                assert!(
                    *elapsed <= SLOT_WAIT + SLACK,
                    "a 503 took {elapsed:?}: it waited for more than a slot"
                );
            }
            other => panic!("neither 401 nor 503: {other} {}", reply.text()),
        }
    }
    let checked = replies.len() - busy;
    assert!(
        busy > 0,
        "no login was answered 503: the bound was never reached"
    );
    assert!(checked > 0, "no password was checked at all");
    busy
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_wrong_passwords_runs_at_most_the_bound_of_hashes_at_once() {
    let _turn = TURN.lock().await;
    let running = running();
    for stack in STACKS {
        running.reset();
        let server = spawn(stack, layer(2)).await;
        let replies = flood(&server, HASHED_USER, 100).await;
        let busy = assert_refused_or_busy(&replies);
        assert_eq!(
            running.max.load(Ordering::SeqCst),
            2,
            "{stack:?}: the most hashes running at once"
        );
        assert_eq!(
            running.started.load(Ordering::SeqCst),
            (100 - busy) as u64,
            "{stack:?}: one hash per login that was not busy"
        );
        assert_eq!(running.now.load(Ordering::SeqCst), 0, "{stack:?}");
        // Once the flood is over, the right password logs in, from an address of the flood too.
        let login = login_request(HASHED_USER, HASHED_PASSWORD, &[]);
        let reply = send_raw_from(client(0), server.addr, &login).await;
        assert_eq!(reply.status, 200, "{stack:?}: {}", reply.text());
        assert!(reply.json()["access_token"].is_string());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_username_waits_for_the_same_slots() {
    let _turn = TURN.lock().await;
    let running = running();
    running.reset();
    let server = spawn(Stack::Hyper, layer(1)).await;
    let replies = flood(&server, "nobody", 40).await;
    let busy = assert_refused_or_busy(&replies);
    assert_eq!(running.max.load(Ordering::SeqCst), 1);
    assert_eq!(running.started.load(Ordering::SeqCst), (40 - busy) as u64);
    // Known and unknown usernames share the slots.
    running.reset();
    let mixed = flood(&server, HASHED_USER, 20);
    let unknown = async {
        let request = login_request("nobody", "a wrong password", &[]);
        send_raw_from(client(200), server.addr, &request).await
    };
    let (replies, unknown) = tokio::join!(mixed, unknown);
    assert_refused_or_busy(&replies);
    assert!([401, 503].contains(&unknown.status), "{}", unknown.text());
    assert_eq!(running.max.load(Ordering::SeqCst), 1);
}
