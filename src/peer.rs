//! The address of the connection's peer: what the loopback bypass and the login throttle know
//! of who sent a request. Never taken from a header.

use std::net::SocketAddr;

use http::{Extensions, Request};

/// The address of the connection's peer, for the loopback bypass.
///
/// A server that is not axum inserts it into each request's extensions when it accepts the
/// connection (axum's `ConnectInfo<SocketAddr>` is read as well, with the `axum` feature):
///
/// ```
/// use std::net::SocketAddr;
/// use tower_jwt_login::PeerAddr;
///
/// let peer: SocketAddr = "127.0.0.1:50000".parse().unwrap(); // from `TcpListener::accept`
/// let mut request = http::Request::new(());
/// request.extensions_mut().insert(PeerAddr(peer));
/// ```
///
/// It is never taken from a header: `X-Forwarded-For` and friends are whatever the client says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PeerAddr(pub SocketAddr);

/// The address of the connection's peer, as the server put it into the request extensions.
pub(crate) fn peer_addr<B>(request: &Request<B>) -> Option<SocketAddr> {
    peer_addr_in(request.extensions())
}

/// The address of the connection's peer, from a request's extensions: [`PeerAddr`], or else
/// axum's `ConnectInfo<SocketAddr>` (feature `axum`).
pub(crate) fn peer_addr_in(extensions: &Extensions) -> Option<SocketAddr> {
    if let Some(PeerAddr(addr)) = extensions.get() {
        return Some(*addr);
    }
    #[cfg(feature = "axum")]
    if let Some(axum::extract::ConnectInfo(addr)) =
        extensions.get::<axum::extract::ConnectInfo<SocketAddr>>()
    {
        return Some(*addr);
    }
    None
}
