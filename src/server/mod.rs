//! The server layer: login, refresh, and access-token enforcement in front of any service.

mod bearer;
mod body;
mod future;
mod layer;
mod login;
mod logout;
mod password;
mod refresh;
pub(crate) mod response;
mod routes;
mod service;
mod session;
mod shared;

use std::net::SocketAddr;

pub use body::ResponseBody;
pub use future::ResponseFuture;
pub use layer::JwtLoginLayer;
pub(crate) use password::HashSlots;
pub(crate) use routes::Routes;
pub use service::JwtLogin;
pub(crate) use shared::{SessionBounds, Shared, peer_addr_in};

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
