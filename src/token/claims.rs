use std::fmt;

/// What a token may be used for: the `usefor` claim.
///
/// A refresh token is never accepted where an access token is required, and the reverse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenUse {
    /// Grants access to protected routes (`"access"`).
    Access,
    /// Obtains a new access token from the refresh route (`"refresh"`).
    Refresh,
}

impl TokenUse {
    /// The claim value: `"access"` or `"refresh"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Access => "access",
            Self::Refresh => "refresh",
        }
    }

    /// Parses the exact claim value; anything else (`"Access"`, `"access "`) is `None`.
    pub(crate) fn parse(value: &str) -> Option<Self> {
        match value {
            "access" => Some(Self::Access),
            "refresh" => Some(Self::Refresh),
            _ => None,
        }
    }
}

impl fmt::Display for TokenUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The verified claims of a token.
///
/// On protected routes the layer inserts them into the request's extensions, so a handler can
/// see who is calling:
///
/// ```
/// use tower_jwt_login::Claims;
///
/// fn handler(request: &http::Request<()>) -> String {
///     match request.extensions().get::<Claims>() {
///         Some(claims) => format!("hello, {}", claims.sub),
///         None => "hello, stranger".to_owned(),
///     }
/// }
/// # assert_eq!(handler(&http::Request::new(())), "hello, stranger");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Claims {
    /// The issuer: the configured realm.
    pub iss: String,
    /// The subject: the username.
    pub sub: String,
    /// What the token may be used for.
    pub usefor: TokenUse,
    /// When the token was issued, in seconds since the Unix epoch.
    pub iat: i64,
    /// When the token expires, in seconds since the Unix epoch.
    pub exp: i64,
    /// How many seconds the token was issued to be valid for (`exp - iat`).
    pub exi: i64,
    /// The unique token identifier (a UUID v4 for tokens this crate issues).
    pub jti: String,
}
