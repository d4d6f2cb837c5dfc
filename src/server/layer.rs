use std::fmt;
use std::sync::Arc;

use tower_layer::Layer;

use super::{JwtLogin, Shared};
use crate::error::Rejection;
use crate::token::{Claims, TokenUse};

/// A [`Layer`] that answers logins and refreshes and guards protected routes.
///
/// Built by [`JwtLoginLayer::builder`]. Cloning it is cheap: all clones share one configuration.
#[derive(Clone)]
pub struct JwtLoginLayer {
    shared: Arc<Shared>,
}

impl JwtLoginLayer {
    /// Verifies an access token exactly as the layer does on a protected route: every rule of
    /// `SECURITY.md`, the clock now, and a subject that is a configured user.
    ///
    /// For code that receives a token outside an HTTP request (a WebSocket message, a queue), and
    /// for measuring the cost of validation on its own. `token` is the bare compact JWS, without
    /// the `Bearer ` scheme. Like the layer, it uses and fills the validated-token cache; build
    /// with [`validated_token_cache(0)`](crate::JwtLoginBuilder::validated_token_cache) to measure
    /// verification in full.
    ///
    /// # Errors
    ///
    /// The [`Rejection`] the layer would answer a protected request with, such as
    /// [`Rejection::Expired`] or [`Rejection::WrongTokenUse`] for a refresh token.
    ///
    /// # Example
    ///
    /// ```
    /// use tower_jwt_login::{JwtLoginLayer, Password, Rejection};
    ///
    /// let layer = JwtLoginLayer::builder()
    ///     .user("admin", Password::plain("correct horse battery staple"))
    ///     .build()?;
    /// assert_eq!(
    ///     layer.verify_access_token("not.a.token"),
    ///     Err(Rejection::MalformedToken)
    /// );
    /// # Ok::<_, tower_jwt_login::BuildError>(())
    /// ```
    #[inline]
    pub fn verify_access_token(&self, token: &str) -> Result<Claims, Rejection> {
        self.shared.verify(token.as_bytes(), TokenUse::Access)
    }

    pub(crate) fn from_shared(shared: Shared) -> Self {
        Self {
            shared: Arc::new(shared),
        }
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
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
