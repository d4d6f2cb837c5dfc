//! The client layer's run-time error: an opaque struct with a kind, as hyper does it.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

use http::StatusCode;

type BoxError = Box<dyn StdError + Send + Sync>;

/// What went wrong in the client layer: see [`Error::kind`].
///
/// It never holds a token, a password or a response body; the inner service's error, when there
/// is one, is its [`source`](StdError::source). When a renewal fails, every request that waited
/// for it gets an `Error` of the same kind, with the same source.
pub struct Error {
    kind: ErrorKind,
    status: Option<StatusCode>,
    /// Shared, so that one failed renewal can be handed to every request that waited for it.
    source: Option<Arc<dyn StdError + Send + Sync>>,
}

/// The kinds of [`Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The configuration cannot work: the base URL is not an absolute `http` or `https` URL
    /// without a query, a route path does not start with `/`, there are neither credentials nor
    /// tokens, or a token set by hand cannot be sent in a header.
    InvalidConfig,
    /// The server refused the username and password (`401` or `403` from the login route).
    InvalidCredentials,
    /// The inner service failed: the server could not be reached, or the exchange broke off. The
    /// inner service's error is the [`source`](StdError::source).
    Unreachable,
    /// The server answered the login or refresh route with something other than tokens: another
    /// status, a body that is not the expected JSON, or a body too large.
    UnexpectedResponse,
    /// The refresh token has expired or was refused, and no credentials were given to log in
    /// again: the session was resumed from tokens alone and has ended.
    SessionExpired,
    /// The request's URI is relative but not a path, so it cannot be resolved against the base
    /// URL.
    InvalidRequest,
    /// A login or refresh call took longer than the
    /// [`auth_timeout`](super::JwtClientBuilder::auth_timeout): the server accepted the
    /// connection but did not answer, or answered too slowly.
    TimedOut,
}

impl Error {
    pub(crate) const fn new(kind: ErrorKind) -> Self {
        Self {
            kind,
            status: None,
            source: None,
        }
    }

    pub(crate) fn unreachable(source: impl Into<BoxError>) -> Self {
        Self {
            kind: ErrorKind::Unreachable,
            status: None,
            source: Some(Arc::from(source.into())),
        }
    }

    pub(crate) const fn with_status(kind: ErrorKind, status: StatusCode) -> Self {
        Self {
            kind,
            status: Some(status),
            source: None,
        }
    }

    pub(crate) fn unexpected(status: StatusCode, source: impl Into<BoxError>) -> Self {
        Self {
            kind: ErrorKind::UnexpectedResponse,
            status: Some(status),
            source: Some(Arc::from(source.into())),
        }
    }

    /// The same error again, for another request that waited for the same renewal.
    pub(crate) fn share(&self) -> Self {
        Self {
            kind: self.kind,
            status: self.status,
            source: self.source.clone(),
        }
    }

    /// What went wrong.
    #[must_use]
    pub const fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The status the server answered the login or refresh route with, when the error comes
    /// from an answer ([`InvalidCredentials`](ErrorKind::InvalidCredentials),
    /// [`UnexpectedResponse`](ErrorKind::UnexpectedResponse)).
    #[must_use]
    pub const fn status(&self) -> Option<StatusCode> {
        self.status
    }

    /// Whether the server refused the username and password.
    #[must_use]
    pub fn is_invalid_credentials(&self) -> bool {
        self.kind == ErrorKind::InvalidCredentials
    }

    /// Whether the inner service failed to reach the server.
    #[must_use]
    pub fn is_unreachable(&self) -> bool {
        self.kind == ErrorKind::Unreachable
    }

    /// Whether a login or refresh call timed out.
    #[must_use]
    pub fn is_timeout(&self) -> bool {
        self.kind == ErrorKind::TimedOut
    }

    /// Whether the session ended: the refresh token expired and there are no credentials.
    #[must_use]
    pub fn is_session_expired(&self) -> bool {
        self.kind == ErrorKind::SessionExpired
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Error");
        debug.field("kind", &self.kind);
        if let Some(status) = self.status {
            debug.field("status", &status);
        }
        if let Some(source) = &self.source {
            debug.field("source", source);
        }
        debug.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.kind {
            ErrorKind::InvalidConfig => "invalid JWT client configuration",
            ErrorKind::InvalidCredentials => "the server refused the username or password",
            ErrorKind::Unreachable => "the server could not be reached",
            ErrorKind::UnexpectedResponse => {
                "the server answered the login or refresh route with something other than tokens"
            }
            ErrorKind::SessionExpired => {
                "the refresh token has expired or was refused and no credentials were given to \
                 log in again"
            }
            ErrorKind::InvalidRequest => {
                "the request URI is neither absolute nor a path to resolve against the base URL"
            }
            ErrorKind::TimedOut => "the login or refresh call timed out",
        })?;
        if let Some(status) = self.status {
            write!(f, " (status {})", status.as_u16())?;
        }
        Ok(())
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_kind_and_the_status_and_source_is_kept() {
        let error = Error::with_status(ErrorKind::InvalidCredentials, StatusCode::UNAUTHORIZED);
        assert!(error.is_invalid_credentials());
        assert_eq!(
            error.to_string(),
            "the server refused the username or password (status 401)"
        );
        let error = Error::unreachable("connection refused");
        assert!(error.is_unreachable());
        assert_eq!(error.source().unwrap().to_string(), "connection refused");
        assert!(Error::new(ErrorKind::SessionExpired).is_session_expired());
        assert!(Error::new(ErrorKind::TimedOut).is_timeout());
    }

    #[test]
    fn a_shared_error_keeps_the_kind_the_status_and_the_source() {
        let error = Error::unexpected(StatusCode::INTERNAL_SERVER_ERROR, "boom");
        let shared = error.share();
        assert_eq!(shared.kind(), ErrorKind::UnexpectedResponse);
        assert_eq!(shared.status(), Some(StatusCode::INTERNAL_SERVER_ERROR));
        assert_eq!(shared.source().unwrap().to_string(), "boom");
    }
}
