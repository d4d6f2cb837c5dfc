use std::fmt;
use std::sync::Arc;

use tower_layer::Layer;

use super::service::JwtClient;
use super::session::Session;

/// A [`Layer`] that wraps services with an existing client session.
///
/// The session comes from a [`JwtClient`] that has logged in ([`JwtClient::layer`]): every
/// service it wraps shares that client's tokens and renewals, so a stack with, say, a timeout
/// for uploads and one without, sends the same tokens and refreshes them once.
///
/// Cloning it is cheap: all clones share one session.
#[derive(Clone)]
pub struct JwtClientLayer {
    session: Arc<Session>,
}

impl JwtClientLayer {
    const fn new(session: Arc<Session>) -> Self {
        Self { session }
    }
}

impl<S> JwtClient<S> {
    /// A layer that wraps other services with this client's session: they share its tokens and
    /// its renewals.
    #[must_use]
    pub fn layer(&self) -> JwtClientLayer {
        JwtClientLayer::new(Arc::clone(self.session()))
    }
}

impl<S> Layer<S> for JwtClientLayer {
    type Service = JwtClient<S>;

    fn layer(&self, inner: S) -> Self::Service {
        JwtClient::from_session(inner, Arc::clone(&self.session))
    }
}

impl fmt::Debug for JwtClientLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtClientLayer")
            .field("session", &self.session)
            .finish()
    }
}
