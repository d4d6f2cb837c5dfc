//! Errors: set-up errors returned by the builder, and the reasons a request is rejected.

use std::fmt;

/// An error in the layer's configuration, reported by [`JwtLoginBuilder::build`].
///
/// Every misconfiguration is reported when the layer is built, never as a surprise at request
/// time.
///
/// [`JwtLoginBuilder::build`]: crate::JwtLoginBuilder::build
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildError {
    /// The HMAC secret is shorter than 32 bytes (RFC 7518 §3.2 requires a key at least as long
    /// as the hash output).
    SecretTooShort {
        /// The length of the configured secret, in bytes.
        len: usize,
    },
    /// No user was configured, so nobody could ever log in.
    NoUsers,
    /// The same username was configured twice.
    DuplicateUser {
        /// The username that appears more than once.
        username: String,
    },
    /// A username is empty.
    EmptyUsername,
    /// A key id is empty, longer than 64 bytes, or not printable ASCII without `"` and `\`.
    InvalidKeyId {
        /// The offending key id.
        kid: String,
    },
    /// Two keys have the same id.
    DuplicateKeyId {
        /// The id used twice.
        kid: String,
    },
    /// Previous keys were configured without a signing key that has an id: with several keys,
    /// every token must name its key.
    PreviousKeyNeedsKeyId,
    /// Both [`secret`](crate::JwtLoginBuilder::secret) and
    /// [`signing_key`](crate::JwtLoginBuilder::signing_key) were configured.
    ConflictingKeys,
    /// A user was configured with an empty password.
    EmptyPassword {
        /// The user whose password is empty.
        username: String,
    },
    /// A password hash is not a valid argon2id PHC string.
    InvalidPasswordHash {
        /// The user whose hash is invalid.
        username: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A route path or protected prefix is not an absolute, normalised path.
    InvalidPath {
        /// The offending path as configured.
        path: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The realm is empty or cannot be used in a `WWW-Authenticate` header or a JSON string.
    InvalidRealm,
    /// A token lifetime is zero or too large to be represented.
    InvalidLifetime {
        /// Which lifetime: `"access"` or `"refresh"`.
        token: &'static str,
    },
    /// The leeway is larger than the shortest token lifetime allows.
    InvalidLeeway,
    /// The login body limit is zero.
    InvalidBodyLimit,
    /// The number of password hashes allowed to run at once is zero.
    InvalidPasswordHashLimit,
    /// An identity provider tenant is misconfigured.
    #[cfg(feature = "jwks")]
    InvalidTenant {
        /// The tenant's issuer as configured.
        issuer: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Tenants are configured but there is no HTTP client to fetch their keys: set one with
    /// [`JwtLoginBuilder::jwks_client`](crate::JwtLoginBuilder::jwks_client), or enable the
    /// `jwks-rustls` feature.
    #[cfg(feature = "jwks")]
    NoJwksClient,
    /// The login throttle settings are impossible.
    InvalidThrottle {
        /// What is wrong with them.
        reason: &'static str,
    },
    /// A per-user bound on sessions or revocations, or the reuse grace, is impossible.
    InvalidSessionBounds {
        /// What is wrong with them.
        reason: &'static str,
    },
    /// The Redis store could not be set up (feature `redis`).
    InvalidRedis {
        /// What is wrong: an invalid URL, or no Tokio runtime to run in.
        reason: String,
    },
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SecretTooShort { len } => write!(
                f,
                "the JWT secret is {len} bytes long; at least 32 bytes are required"
            ),
            Self::NoUsers => f.write_str("no user is configured"),
            Self::InvalidKeyId { kid } => write!(
                f,
                "the key id {kid:?} must be 1 to 64 printable ASCII characters without '\"' or '\\'"
            ),
            Self::DuplicateKeyId { kid } => write!(f, "the key id {kid:?} is used twice"),
            Self::PreviousKeyNeedsKeyId => f.write_str(
                "previous keys need a signing key with an id (signing_key), not a plain secret",
            ),
            Self::ConflictingKeys => {
                f.write_str("configure either a secret or a signing key, not both")
            }
            Self::DuplicateUser { username } => {
                write!(f, "the user {username:?} is configured more than once")
            }
            Self::EmptyUsername => f.write_str("a configured username is empty"),
            Self::EmptyPassword { username } => {
                write!(f, "the user {username:?} has an empty password")
            }
            Self::InvalidPasswordHash { username, reason } => write!(
                f,
                "the password hash of user {username:?} is not a valid argon2id PHC string: {reason}"
            ),
            Self::InvalidPath { path, reason } => write!(f, "invalid path {path:?}: {reason}"),
            Self::InvalidRealm => {
                f.write_str("the realm must be non-empty printable ASCII without '\"' or '\\'")
            }
            Self::InvalidLifetime { token } => write!(
                f,
                "the {token} token lifetime must be between 1 second and 10 years"
            ),
            Self::InvalidLeeway => {
                f.write_str("the leeway must be shorter than the access token lifetime")
            }
            Self::InvalidBodyLimit => f.write_str("the login body limit must be at least 1 byte"),
            Self::InvalidPasswordHashLimit => {
                f.write_str("the number of concurrent password hashes must be at least 1")
            }
            #[cfg(feature = "jwks")]
            Self::InvalidTenant { issuer, reason } => {
                write!(f, "invalid identity provider tenant {issuer:?}: {reason}")
            }
            #[cfg(feature = "jwks")]
            Self::NoJwksClient => f.write_str(
                "identity provider tenants need an HTTP client: set jwks_client or enable the jwks-rustls feature",
            ),
            Self::InvalidThrottle { reason } => write!(f, "invalid login throttle: {reason}"),
            Self::InvalidSessionBounds { reason } => {
                write!(f, "invalid session bounds: {reason}")
            }
            Self::InvalidRedis { reason } => write!(f, "invalid Redis store: {reason}"),
        }
    }
}

impl std::error::Error for BuildError {}

/// An error in a [`JwtLoginConfig`](crate::JwtLoginConfig): the [`BuildError`], and the
/// configuration field that caused it, such as `users[1].password` or `protected_prefixes[0]`.
///
/// `Display` writes `` `field`: `` and then the build error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    field: Option<String>,
    error: BuildError,
}

impl ConfigError {
    pub(crate) const fn new(field: Option<String>, error: BuildError) -> Self {
        Self { field, error }
    }

    /// The configuration field at fault, as a path: `secret`, `users[1].password`,
    /// `login_throttle.window_seconds`, `tenants[0]`. `None` when the error comes from what
    /// [`build_with`](crate::JwtLoginConfig::build_with) set on the builder.
    #[must_use]
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    /// What is wrong with it.
    #[must_use]
    pub const fn build_error(&self) -> &BuildError {
        &self.error
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "`{field}`: {}", self.error),
            None => fmt::Display::fmt(&self.error, f),
        }
    }
}

// Like `serde_path_to_error`: the build error's message is part of `Display`, so it is not
// returned again as the source.
impl std::error::Error for ConfigError {}

/// Why a request was refused.
///
/// The layer puts this into the extensions of every error response it produces, so that an
/// outer layer (logging, metrics) can tell the reasons apart without parsing the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rejection {
    /// No `Authorization` header was sent.
    MissingToken,
    /// The `Authorization` header is not `Bearer <token>`.
    MalformedAuthorization,
    /// More than one `Authorization` header was sent.
    DuplicateAuthorization,
    /// The token is longer than any token this crate issues.
    TokenTooLong,
    /// The token is not three canonical base64url segments with valid JSON.
    MalformedToken,
    /// The JOSE header is not one this crate accepts (algorithm, unknown members, `crit`, ...).
    UnsupportedHeader,
    /// The token names a key (`kid`) that is not configured, or names none where several are.
    UnknownKey,
    /// The signature does not verify with any configured key.
    BadSignature,
    /// The claims are missing, of the wrong type, duplicated, or not allowed (`aud`).
    InvalidClaims,
    /// The token has expired.
    Expired,
    /// The token is not valid yet (`nbf` in the future, or `iat` far in the future).
    NotYetValid,
    /// The issuer is not the configured realm.
    WrongIssuer,
    /// A refresh token was presented where an access token is required, or the reverse.
    WrongTokenUse,
    /// The subject is not a configured user.
    UnknownSubject,
    /// The username or password is wrong.
    InvalidCredentials,
    /// The login body is not a JSON object with non-empty string `username` and `password`.
    MalformedBody,
    /// The login body is not `application/json`.
    UnsupportedMediaType,
    /// The login body is larger than the configured limit.
    BodyTooLarge,
    /// The method is not allowed on this route.
    MethodNotAllowed,
    /// The token names an identity provider whose keys could not be fetched yet (`503`).
    IdentityProviderUnavailable,
    /// Too many failed logins from this client, or for this username from this client: the
    /// login is refused (`429`) without looking at the password.
    TooManyAttempts,
    /// The token has been revoked (logout, or its refresh-token family was revoked).
    Revoked,
    /// A refresh token that had already been rotated was presented again: its whole family is
    /// now revoked.
    RefreshTokenReused,
    /// The store could not answer in time (Redis unreachable or slow, or the in-memory store
    /// full): the route answers `503` rather than skipping the check.
    StoreUnavailable,
    /// Every slot for checking an argon2 password was taken, and none came free within a second:
    /// the login is answered `503` with `Retry-After` without checking the password (see
    /// [`max_concurrent_password_hashes`](crate::JwtLoginBuilder::max_concurrent_password_hashes)).
    PasswordCheckBusy,
}

impl Rejection {
    /// A short, stable code for logs and metrics, such as `"expired"`.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::MissingToken => "missing_token",
            Self::MalformedAuthorization => "malformed_authorization",
            Self::DuplicateAuthorization => "duplicate_authorization",
            Self::TokenTooLong => "token_too_long",
            Self::MalformedToken => "malformed_token",
            Self::UnsupportedHeader => "unsupported_header",
            Self::UnknownKey => "unknown_key",
            Self::BadSignature => "bad_signature",
            Self::InvalidClaims => "invalid_claims",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongTokenUse => "wrong_token_use",
            Self::UnknownSubject => "unknown_subject",
            Self::InvalidCredentials => "invalid_credentials",
            Self::MalformedBody => "malformed_body",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::BodyTooLarge => "body_too_large",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::IdentityProviderUnavailable => "identity_provider_unavailable",
            Self::TooManyAttempts => "too_many_attempts",
            Self::Revoked => "revoked",
            Self::RefreshTokenReused => "refresh_token_reused",
            Self::StoreUnavailable => "store_unavailable",
            Self::PasswordCheckBusy => "password_check_busy",
        }
    }

    /// The sentence that goes into the `details` of the JSON error body.
    ///
    /// It never contains anything the client sent.
    #[must_use]
    pub const fn detail(self) -> &'static str {
        match self {
            Self::MissingToken => "missing bearer token",
            Self::MalformedAuthorization => "the Authorization header must be 'Bearer <token>'",
            Self::DuplicateAuthorization => "more than one Authorization header",
            Self::TokenTooLong => "the token is too long",
            Self::MalformedToken => "the token is malformed",
            Self::UnsupportedHeader => "the token header is not accepted",
            Self::UnknownKey => "the token is not signed with a known key",
            Self::BadSignature => "the token signature is invalid",
            Self::InvalidClaims => "the token claims are invalid",
            Self::Expired => "the token has expired",
            Self::NotYetValid => "the token is not valid yet",
            Self::WrongIssuer => "the token issuer is not accepted",
            Self::WrongTokenUse => "the token cannot be used for this request",
            Self::UnknownSubject => "the token subject is not a known user",
            Self::InvalidCredentials => "invalid username or password",
            Self::MalformedBody => {
                "the body must be a JSON object with non-empty string fields 'username' and 'password'"
            }
            Self::UnsupportedMediaType => "the body must be application/json",
            Self::BodyTooLarge => "the body is too large",
            Self::MethodNotAllowed => "method not allowed",
            Self::IdentityProviderUnavailable => {
                "the identity provider's keys are not available yet; retry later"
            }
            Self::TooManyAttempts => "too many failed logins; retry later",
            Self::Revoked => "the token has been revoked",
            Self::RefreshTokenReused => {
                "the refresh token was already used; every token of its login is revoked"
            }
            Self::StoreUnavailable => "the token store is unavailable; retry later",
            Self::PasswordCheckBusy => "the server is busy checking passwords; retry later",
        }
    }

    /// Whether this rejection concerns a presented bearer token (as opposed to a missing one, or a
    /// login body), which decides the `error="invalid_token"` parameter of `WWW-Authenticate`.
    pub(crate) const fn is_token_error(self) -> bool {
        !matches!(
            self,
            Self::MissingToken
                | Self::InvalidCredentials
                | Self::MalformedBody
                | Self::UnsupportedMediaType
                | Self::BodyTooLarge
                | Self::MethodNotAllowed
                | Self::IdentityProviderUnavailable
                | Self::TooManyAttempts
                | Self::StoreUnavailable
                | Self::PasswordCheckBusy
        )
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.detail())
    }
}
