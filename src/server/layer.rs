use std::fmt;
use std::sync::Arc;

use tower_layer::Layer;

use super::{JwtLogin, Shared};
use crate::config::JwtLoginBuilder;

/// A [`Layer`] that answers logins and refreshes and guards protected routes.
///
/// Built by [`JwtLoginLayer::builder`]. Cloning it is cheap: all clones share one configuration.
#[derive(Clone)]
pub struct JwtLoginLayer {
    shared: Arc<Shared>,
}

impl JwtLoginLayer {
    /// Starts a configuration with datarhei Core's defaults.
    pub fn builder() -> JwtLoginBuilder {
        JwtLoginBuilder::default()
    }

    pub(crate) fn from_shared(shared: Shared) -> Self {
        Self {
            shared: Arc::new(shared),
        }
    }
}

impl<S> Layer<S> for JwtLoginLayer {
    type Service = JwtLogin<S>;

    fn layer(&self, inner: S) -> Self::Service {
        JwtLogin::new(inner, Arc::clone(&self.shared))
    }
}

impl fmt::Debug for JwtLoginLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtLoginLayer")
            .field("shared", &self.shared)
            .finish()
    }
}
