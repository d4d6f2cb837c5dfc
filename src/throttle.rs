//! Login throttling: how many wrong passwords a client may try, and who counts as one client.
//!
//! Failed logins are counted per (client, username) and per client. Past the limit, the login
//! route answers `429 Too Many Requests` with a `Retry-After` that doubles with each further
//! attempt, up to a cap, and does not look at the password. Nothing sleeps: a locked-out request
//! is answered at once, and costs one store look-up. A successful login forgets its
//! (client, username) counter.
//!
//! Because the username is part of the key, a flood of wrong passwords for `admin` from one
//! address locks out that address, not `admin`: the real `admin` still logs in from elsewhere.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use http::request::Parts;
use sha2::{Digest as _, Sha256};

use crate::error::BuildError;
use crate::peer::peer_addr_in;
use crate::store::{Limits, ThrottleKeys};

/// Who a login request comes from, for throttling.
///
/// The default is the IP address of the connection's peer, read from the request extension
/// [`PeerAddr`](crate::PeerAddr) (or axum's `ConnectInfo<SocketAddr>` with the `axum` feature),
/// with an IPv6 address reduced to its /64 network (one host usually holds a whole /64). It is
/// never taken from a header: `X-Forwarded-For` is whatever the client says.
///
/// Behind a reverse proxy every request comes from the proxy, so all clients would share one
/// counter. Then plug in your own key, for instance the address your proxy writes into a
/// header, taken only when the request really comes from the proxy. A closure will do:
///
/// ```
/// use std::net::SocketAddr;
/// use http::request::Parts;
/// use tower_jwt_login::{JwtLoginLayer, LoginThrottle, Password, PeerAddr};
///
/// const PROXY: [u8; 4] = [10, 0, 0, 1];
///
/// let throttle = LoginThrottle::new().client_key(|parts: &Parts| {
///     let peer = parts.extensions.get::<PeerAddr>()?.0;
///     if peer.ip() == std::net::IpAddr::from(PROXY) {
///         // The proxy appends the address it saw as the last X-Forwarded-For entry.
///         let forwarded = parts.headers.get("x-forwarded-for")?.to_str().ok()?;
///         Some(forwarded.rsplit(',').next()?.trim().to_owned())
///     } else {
///         Some(peer.ip().to_string())
///     }
/// });
/// let layer = JwtLoginLayer::builder()
///     .user("admin", Password::plain("correct horse battery staple"))
///     .login_throttle(throttle)
///     .build()?;
/// # Ok::<_, tower_jwt_login::BuildError>(())
/// ```
///
/// A request for which the key is `None` is counted under one shared "unknown client" key: it
/// is throttled all the same, together with every other such request.
pub trait ClientKey: Send + Sync + 'static {
    /// The key of the client that sent this request, or `None` if it cannot be told.
    fn client_key(&self, request: &Parts) -> Option<String>;
}

impl<F> ClientKey for F
where
    F: Fn(&Parts) -> Option<String> + Send + Sync + 'static,
{
    fn client_key(&self, request: &Parts) -> Option<String> {
        self(request)
    }
}

/// The default [`ClientKey`]: the peer's IP address, an IPv6 address reduced to its /64.
struct PeerIp;

impl ClientKey for PeerIp {
    fn client_key(&self, request: &Parts) -> Option<String> {
        let ip = peer_addr_in(&request.extensions)?.ip().to_canonical();
        Some(match ip {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        })
    }
}

/// How failed logins are throttled. On by default; see [`JwtLoginBuilder::login_throttle`].
///
/// [`JwtLoginBuilder::login_throttle`]: crate::JwtLoginBuilder::login_throttle
///
/// ```
/// use std::time::Duration;
/// use tower_jwt_login::LoginThrottle;
///
/// let throttle = LoginThrottle::new()
///     .max_failures_per_user(3)
///     .max_failures_per_client(30)
///     .window(Duration::from_secs(600))
///     .lockout(Duration::from_secs(2), Duration::from_secs(3600));
/// # let _ = throttle;
/// ```
#[must_use]
#[derive(Clone)]
pub struct LoginThrottle {
    enabled: bool,
    per_user: u32,
    per_client: u32,
    window: Duration,
    first_lockout: Duration,
    max_lockout: Duration,
    client_key: Option<Arc<dyn ClientKey>>,
}

impl LoginThrottle {
    /// The default throttle: 5 failures per (client, username) and 50 per client, counted over
    /// 15 minutes, then lockouts from 1 second doubling up to 15 minutes.
    pub fn new() -> Self {
        Self {
            enabled: true,
            per_user: 5,
            per_client: 50,
            window: Duration::from_secs(15 * 60),
            first_lockout: Duration::from_secs(1),
            max_lockout: Duration::from_secs(15 * 60),
            client_key: None,
        }
    }

    /// No throttling at all. Only for a layer that something else already protects.
    pub fn disabled() -> Self {
        Self {
            enabled: false,
            ..Self::new()
        }
    }

    /// How many failed logins for one username from one client are allowed before lockouts
    /// start. Default is 5.
    pub const fn max_failures_per_user(mut self, failures: u32) -> Self {
        self.per_user = failures;
        self
    }

    /// How many failed logins from one client, whatever the username, are allowed before
    /// lockouts start. Default is 50.
    pub const fn max_failures_per_client(mut self, failures: u32) -> Self {
        self.per_client = failures;
        self
    }

    /// How long a counter remembers failures: it is forgotten this long after the last one.
    /// Default is 15 minutes.
    pub const fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// The first lockout, and the longest: each attempt past the limit doubles the lockout,
    /// from `first` up to `max`. Default is 1 second up to 15 minutes.
    pub const fn lockout(mut self, first: Duration, max: Duration) -> Self {
        self.first_lockout = first;
        self.max_lockout = max;
        self
    }

    /// The first and the longest lockout, so that a configuration file can set one of them
    /// and keep the other.
    pub(crate) const fn lockouts(&self) -> (Duration, Duration) {
        (self.first_lockout, self.max_lockout)
    }

    /// Who counts as one client; see [`ClientKey`]. Default is the peer's IP address.
    pub fn client_key(mut self, key: impl ClientKey) -> Self {
        self.client_key = Some(Arc::new(key));
        self
    }

    /// Checks the settings and prepares them for the store.
    pub(crate) fn build(self) -> Result<Option<Throttle>, BuildError> {
        if !self.enabled {
            return Ok(None);
        }
        let invalid = |reason| Err(BuildError::InvalidThrottle { reason });
        if self.per_user == 0 || self.per_client == 0 {
            return invalid("the failure limits must be at least 1");
        }
        let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        let (window_ms, base_ms, cap_ms) = (
            ms(self.window),
            ms(self.first_lockout),
            ms(self.max_lockout),
        );
        if window_ms < 1000 {
            return invalid("the window must be at least 1 second");
        }
        if base_ms < 1 || cap_ms < base_ms || cap_ms > 366 * 86_400_000 {
            return invalid("the lockouts must be at least 1 ms, first <= max <= 1 year");
        }
        Ok(Some(Throttle {
            limits: Limits {
                pair: self.per_user,
                client: self.per_client,
                window_ms,
                base_ms,
                cap_ms,
            },
            client_key: self.client_key.unwrap_or_else(|| Arc::new(PeerIp)),
        }))
    }
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for LoginThrottle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginThrottle")
            .field("enabled", &self.enabled)
            .field("max_failures_per_user", &self.per_user)
            .field("max_failures_per_client", &self.per_client)
            .field("window", &self.window)
            .field("first_lockout", &self.first_lockout)
            .field("max_lockout", &self.max_lockout)
            .field("custom_client_key", &self.client_key.is_some())
            .finish()
    }
}

/// A validated throttle, as the login route uses it.
pub(crate) struct Throttle {
    pub(crate) limits: Limits,
    client_key: Arc<dyn ClientKey>,
}

impl Throttle {
    /// The store keys of a login attempt by `username`.
    pub(crate) fn keys(&self, request: &Parts, username: &str) -> ThrottleKeys {
        let client = self.client_key.client_key(request);
        let client = client.as_deref().unwrap_or("\0unknown");
        let client_hash: [u8; 32] = Sha256::new()
            .chain_update(b"tower-jwt-login client\0")
            .chain_update(client.as_bytes())
            .finalize()
            .into();
        // Length-prefixed, so that no (client, username) split of the same bytes collides.
        let pair_hash: [u8; 32] = Sha256::new()
            .chain_update(b"tower-jwt-login pair\0")
            .chain_update((client.len() as u64).to_be_bytes())
            .chain_update(client.as_bytes())
            .chain_update(username.as_bytes())
            .finalize()
            .into();
        ThrottleKeys {
            pair: pair_hash,
            client: client_hash,
        }
    }
}

impl fmt::Debug for Throttle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Throttle")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PeerAddr;

    fn parts_from(peer: &str) -> Parts {
        let mut request = http::Request::new(());
        request
            .extensions_mut()
            .insert(PeerAddr(peer.parse().unwrap()));
        request.into_parts().0
    }

    #[test]
    fn default_client_key_is_the_peer_ip_with_ipv6_reduced_to_its_network() {
        assert_eq!(
            PeerIp.client_key(&parts_from("192.0.2.7:5000")).as_deref(),
            Some("192.0.2.7")
        );
        assert_eq!(
            PeerIp
                .client_key(&parts_from("[2001:db8:1:2:3:4:5:6]:5000"))
                .as_deref(),
            Some("2001:db8:1:2::/64")
        );
        assert_eq!(
            PeerIp
                .client_key(&parts_from("[::ffff:192.0.2.7]:5000"))
                .as_deref(),
            Some("192.0.2.7")
        );
        let mut without_peer = http::Request::new(()).into_parts().0;
        without_peer
            .headers
            .insert("x-forwarded-for", "198.51.100.1".parse().unwrap());
        assert_eq!(PeerIp.client_key(&without_peer), None);
    }

    #[test]
    fn keys_separate_clients_and_usernames() {
        let throttle = LoginThrottle::new().build().unwrap().unwrap();
        let a = throttle.keys(&parts_from("192.0.2.1:1"), "admin");
        let b = throttle.keys(&parts_from("192.0.2.2:1"), "admin");
        let a_other = throttle.keys(&parts_from("192.0.2.1:2"), "root");
        assert_ne!(a.pair, b.pair);
        assert_ne!(a.client, b.client);
        assert_eq!(a.client, a_other.client);
        assert_ne!(a.pair, a_other.pair);
    }

    #[test]
    fn bad_settings_are_build_errors() {
        for throttle in [
            LoginThrottle::new().max_failures_per_user(0),
            LoginThrottle::new().max_failures_per_client(0),
            LoginThrottle::new().window(Duration::from_millis(10)),
            LoginThrottle::new().lockout(Duration::ZERO, Duration::from_secs(1)),
            LoginThrottle::new().lockout(Duration::from_secs(2), Duration::from_secs(1)),
        ] {
            assert!(matches!(
                throttle.build(),
                Err(BuildError::InvalidThrottle { .. })
            ));
        }
        assert!(LoginThrottle::disabled().build().unwrap().is_none());
    }
}
