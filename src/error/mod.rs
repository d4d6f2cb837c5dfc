//! Errors: set-up errors returned by the builder, and the reasons a request is rejected.

mod rejection;

use std::fmt;

pub use rejection::Rejection;

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
    /// More than one of [`secret`](crate::JwtLoginBuilder::secret),
    /// [`signing_key`](crate::JwtLoginBuilder::signing_key) and
    /// [`datarhei_key`](crate::JwtLoginBuilder::datarhei_key) were configured.
    ConflictingKeys,
    /// [`datarhei_key`](crate::JwtLoginBuilder::datarhei_key) was given an empty secret:
    /// datarhei Core signs with a random key then, which is what leaving the option out does.
    EmptyDatarheiSecret,
    /// [`datarhei_key`](crate::JwtLoginBuilder::datarhei_key) needs the first user's password
    /// in plain text, and it is a hash.
    DatarheiKeyNeedsPlainPassword {
        /// The first configured user.
        username: String,
    },
    /// The key [`datarhei_key`](crate::JwtLoginBuilder::datarhei_key) derives (username,
    /// password and secret, end to end) is shorter than 32 bytes.
    DatarheiKeyTooShort {
        /// The length of the derived key, in bytes.
        len: usize,
        /// The length of the secret part of it, in bytes.
        secret_len: usize,
    },
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
    /// A scope is empty or has a character RFC 6749 §3.3 does not allow.
    InvalidScope {
        /// The offending scope.
        scope: String,
    },
    /// Scopes were given to a user that is not configured.
    UnknownScopeUser {
        /// The username the scopes were given to.
        username: String,
    },
    /// A prefix that requires scopes is not under a protected prefix (so no token would be
    /// checked there), or requires none.
    InvalidScopeRequirement {
        /// The prefix as configured.
        prefix: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A custom claim's name is empty, or one this crate or RFC 7519 registers, or there are
    /// too many custom claims.
    InvalidCustomClaim {
        /// The offending name.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The maximum token size is smaller than a token without custom claims can be, or larger
    /// than the verifier reads.
    InvalidMaxTokenSize {
        /// The configured size, in bytes.
        size: usize,
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
            Self::ConflictingKeys => f.write_str(
                "configure one of a secret, a signing key and a datarhei key, not several",
            ),
            Self::EmptyDatarheiSecret => f.write_str(
                "the datarhei key needs a non-empty JWT secret; without one, leave it out for a random key",
            ),
            Self::DatarheiKeyNeedsPlainPassword { username } => write!(
                f,
                "the datarhei key is derived from the first user's password, and {username:?} has a password hash: give that user a plain password, or use a secret of your own"
            ),
            Self::DatarheiKeyTooShort { len, secret_len } => write!(
                f,
                "the datarhei key (username + password + JWT secret) is {len} bytes long; at least 32 bytes are required: make the JWT secret at least {} bytes long (tokens issued with the old key are then refused, once)",
                secret_len + crate::keys::MIN_SECRET_LEN.saturating_sub(*len)
            ),
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
            Self::InvalidScope { scope } => write!(
                f,
                "invalid scope {scope:?}: a scope is printable ASCII without spaces, '\"' or '\\'"
            ),
            Self::UnknownScopeUser { username } => {
                write!(f, "scopes are given to {username:?}, which is not a configured user")
            }
            Self::InvalidScopeRequirement { prefix, reason } => {
                write!(f, "invalid scope requirement for {prefix:?}: {reason}")
            }
            Self::InvalidCustomClaim { name, reason } => {
                write!(f, "invalid custom claim {name:?}: {reason}")
            }
            Self::InvalidMaxTokenSize { size } => write!(
                f,
                "the maximum token size is {size} bytes; it must be between {} and {} bytes",
                crate::token::MIN_MAX_TOKEN_LEN,
                crate::token::MAX_TOKEN_LEN
            ),
            Self::InvalidRedis { reason } => write!(f, "invalid Redis store: {reason}"),
        }
    }
}

impl std::error::Error for BuildError {}

/// An error in a [`JwtLoginConfig`](crate::JwtLoginConfig): the [`BuildError`], and the
/// configuration field that caused it, such as `users[1].password` or `protected_prefixes[0]`,
/// or the environment variable for a configuration read by
/// [`from_env`](crate::JwtLoginConfig::from_env).
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
    /// `login_throttle.window_seconds`, `tenants[0]`; for a configuration read by
    /// [`from_env`](crate::JwtLoginConfig::from_env), the variable that set it, such as
    /// `CORE_API_AUTH_JWT_SECRET`. `None` when the error comes from what
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

/// An environment variable read by [`JwtLoginConfig::from_env`](crate::JwtLoginConfig::from_env)
/// that cannot configure the layer. What the builder refuses is reported later, by `build`, as a
/// [`ConfigError`] that names the variable.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EnvError {
    /// `CORE_API_AUTH_ENABLE` is false. datarhei Core then serves its whole API to anybody;
    /// the layer does not silently turn into a pass-through. An app that means it matches this
    /// error and leaves the layer out.
    AuthDisabled,
    /// A required variable is unset or empty.
    Missing {
        /// The variable.
        variable: &'static str,
    },
    /// A variable's value is not of its type (a boolean as Go's `strconv.ParseBool` reads
    /// one, or a whole number).
    InvalidValue {
        /// The variable.
        variable: &'static str,
        /// Its value (only variables that hold no secret are reported with their value).
        value: String,
        /// What was expected.
        expected: &'static str,
    },
    /// A variable is set that needs a feature this build does not have.
    FeatureMissing {
        /// The variable.
        variable: &'static str,
        /// The Cargo feature it needs.
        feature: &'static str,
    },
    /// Two variables that exclude each other are both set.
    Conflicting {
        /// The variable that cannot be used with the other.
        variable: &'static str,
        /// The other one.
        other: &'static str,
    },
    /// An entry of `CORE_API_AUTH_AUTH0_TENANTS` is not in datarhei Core's format.
    InvalidTenant {
        /// The entry's position in the list, from 0.
        index: usize,
        /// What is wrong with it.
        reason: String,
    },
}

impl fmt::Display for EnvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AuthDisabled => f.write_str(
                "CORE_API_AUTH_ENABLE is false: datarhei Core would serve its API without authentication, and the layer does not turn into a pass-through; unset it (or set it to true), or leave the layer out",
            ),
            Self::Missing { variable } => write!(f, "{variable} must be set"),
            Self::InvalidValue {
                variable,
                value,
                expected,
            } => write!(f, "{variable}={value:?}: expected {expected}"),
            Self::FeatureMissing { variable, feature } => write!(
                f,
                "{variable} is set, but this build lacks the `{feature}` feature: build with --features {feature}"
            ),
            Self::Conflicting { variable, other } => {
                write!(f, "{variable} cannot be used with {other}: unset one of them")
            }
            Self::InvalidTenant { index, reason } => write!(
                f,
                "CORE_API_AUTH_AUTH0_TENANTS: tenant {index}: {reason}"
            ),
        }
    }
}

impl std::error::Error for EnvError {}

// Like `serde_path_to_error`: the build error's message is part of `Display`, so it is not
// returned again as the source.
impl std::error::Error for ConfigError {}
