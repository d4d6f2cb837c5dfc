use std::fmt;
use std::sync::Arc;

use arrayvec::ArrayString;
use serde::de::DeserializeOwned;

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
///         Some(claims) => format!("hello, {}", claims.sub()),
///         None => "hello, stranger".to_owned(),
///     }
/// }
/// # assert_eq!(handler(&http::Request::new(())), "hello, stranger");
/// ```
///
/// The claims are read through methods named after them. Their three strings are kept end to
/// end in one buffer inside the value, so that verifying a token allocates nothing: three
/// `String`s were a twelfth of a verification (BENCHMARKS.md). A token's scopes and custom
/// claims, when it has any, are shared behind one `Arc`: a cached token's claims are handed
/// out without copying them.
#[derive(Clone, PartialEq, Eq)]
pub struct Claims {
    /// `iss`, `sub` and `jti`, in this order.
    text: ClaimText,
    /// Where `sub` starts in `text`; `iss` ends there.
    sub_start: u32,
    /// Where `jti` starts in `text`; `sub` ends there.
    jti_start: u32,
    usefor: TokenUse,
    iat: i64,
    exp: i64,
    exi: i64,
    /// `None` for a token without scopes or custom claims (datarhei's, and ours by default).
    more: Option<Arc<MoreClaims>>,
}

/// The claims beyond datarhei's.
#[derive(PartialEq, Eq)]
struct MoreClaims {
    /// The `scope` claim as issued: scopes separated by spaces; empty for none.
    scope: Box<str>,
    /// The application's custom claims, as a JSON object; `None` for none.
    custom: Option<Box<str>>,
}

impl Claims {
    /// Inlined, so that the verifier writes the claims once, in its caller's frame.
    #[inline]
    pub(crate) fn new(
        iss: &str,
        sub: &str,
        usefor: TokenUse,
        iat: i64,
        exp: i64,
        exi: i64,
        jti: &str,
    ) -> Self {
        Self {
            text: ClaimText::new([iss, sub, jti]),
            // The claims of a token no longer than `MAX_TOKEN_LEN` (4096): lengths fit a `u32`.
            sub_start: iss.len() as u32,
            jti_start: (iss.len() + sub.len()) as u32,
            usefor,
            iat,
            exp,
            exi,
            more: None,
        }
    }

    /// These claims with a `scope` claim (space-separated) and custom claims (a JSON object).
    pub(crate) fn with_more(mut self, scope: &str, custom: Option<String>) -> Self {
        if !scope.is_empty() || custom.is_some() {
            self.more = Some(Arc::new(MoreClaims {
                scope: scope.into(),
                custom: custom.map(String::into_boxed_str),
            }));
        }
        self
    }

    /// The issuer: the configured realm.
    #[must_use]
    #[inline]
    pub fn iss(&self) -> &str {
        // Each end is where a string put together in `new` ends: a character boundary.
        &self.text.as_str()[..self.sub_start as usize]
    }

    /// The subject: the username.
    #[must_use]
    #[inline]
    pub fn sub(&self) -> &str {
        &self.text.as_str()[self.sub_start as usize..self.jti_start as usize]
    }

    /// The unique token identifier (a UUID v4 for tokens this crate issues).
    #[must_use]
    #[inline]
    pub fn jti(&self) -> &str {
        &self.text.as_str()[self.jti_start as usize..]
    }

    /// What the token may be used for.
    #[must_use]
    pub const fn usefor(&self) -> TokenUse {
        self.usefor
    }

    /// When the token was issued, in seconds since the Unix epoch.
    #[must_use]
    pub const fn iat(&self) -> i64 {
        self.iat
    }

    /// When the token expires, in seconds since the Unix epoch.
    #[must_use]
    pub const fn exp(&self) -> i64 {
        self.exp
    }

    /// How many seconds the token was issued to be valid for (`exp - iat`).
    #[must_use]
    pub const fn exi(&self) -> i64 {
        self.exi
    }

    /// The `scope` claim: the scopes the login was granted, separated by single spaces; empty
    /// for none.
    #[must_use]
    #[inline]
    pub fn scope(&self) -> &str {
        self.more.as_ref().map_or("", |more| &more.scope)
    }

    /// The scopes of the `scope` claim, one by one.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        crate::scope::split(self.scope())
    }

    /// Whether the token grants `scope`.
    ///
    /// ```
    /// # use tower_jwt_login::Claims;
    /// fn may_delete(claims: &Claims) -> bool {
    ///     claims.has_scope("streams:delete")
    /// }
    /// ```
    #[must_use]
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes().any(|own| own == scope)
    }

    /// The application's custom claims (see
    /// [`JwtLoginBuilder::custom_claims`](crate::JwtLoginBuilder::custom_claims)), read into
    /// `T`: any type that deserialises from a JSON object of those claims. A token without
    /// custom claims reads as the empty object `{}`, so optional fields read as absent.
    ///
    /// ```
    /// # use tower_jwt_login::Claims;
    /// #[derive(serde::Deserialize)]
    /// struct Tenant {
    ///     tenant: String,
    /// }
    ///
    /// fn tenant(claims: &Claims) -> Option<String> {
    ///     claims.extra::<Tenant>().ok().map(|extra| extra.tenant)
    /// }
    /// ```
    ///
    /// # Errors
    ///
    /// The `serde_json` error when the custom claims do not fit `T`.
    pub fn extra<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.custom_json().unwrap_or("{}"))
    }

    /// The custom claims as the JSON object they were read from, if any.
    pub(crate) fn custom_json(&self) -> Option<&str> {
        self.more.as_ref()?.custom.as_deref()
    }
}

impl fmt::Debug for Claims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Claims")
            .field("iss", &self.iss())
            .field("sub", &self.sub())
            .field("usefor", &self.usefor)
            .field("iat", &self.iat)
            .field("exp", &self.exp)
            .field("exi", &self.exi)
            .field("jti", &self.jti())
            .field("scope", &self.scope())
            // Their values are the application's: only whether there are any.
            .field("custom", &self.custom_json().is_some())
            .finish()
    }
}

/// How many bytes of claim strings are kept inside a [`Claims`] value (a UUID, the default realm
/// and a username of up to nineteen characters); longer ones take one allocation. `Claims` is then 128
/// bytes, which the compiler copies with a few vector moves rather than a call to `memcpy`.
const INLINE_TEXT: usize = 68;

/// Strings put end to end: inside the value when they fit, else in one allocation. Which one
/// depends only on the total length, so the derived equality compares contents.
#[derive(Clone, PartialEq, Eq)]
enum ClaimText {
    Inline(ArrayString<INLINE_TEXT>),
    Heap(Box<str>),
}

impl ClaimText {
    fn new(parts: [&str; 3]) -> Self {
        let mut inline = ArrayString::new();
        for part in parts {
            if inline.try_push_str(part).is_err() {
                return Self::Heap(parts.concat().into_boxed_str());
            }
        }
        Self::Inline(inline)
    }

    fn as_str(&self) -> &str {
        match self {
            Self::Inline(text) => text,
            Self::Heap(text) => text,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_are_copied_without_memcpy() {
        assert!(size_of::<Claims>() <= 128, "{}", size_of::<Claims>());
    }

    /// Inline or not, each claim reads back; where one string ends and the next begins is part
    /// of the value, so moving a character from one claim to the next makes different claims.
    #[test]
    fn each_claim_reads_back_whatever_its_length() {
        let long = "é".repeat(INLINE_TEXT);
        let short = &long[..INLINE_TEXT - 4];
        let jti = "6f1c2b4e-1f0a-4c39-9f6e-2f1d6c0b7a11";
        for [iss, sub, jti] in [
            ["datarhei-core", "admin", jti],
            ["", "", ""],
            ["", "x", ""],
            [&long, "admin", "jti"],
            ["iss", &long, "jti"],
            ["iss", "sub", &long],
            [short, "ab", "cd"],
            [short, "ab", "cde"],
        ] {
            let claims = Claims::new(iss, sub, TokenUse::Refresh, 1, 3, 2, jti);
            assert_eq!([claims.iss(), claims.sub(), claims.jti()], [iss, sub, jti]);
            assert_eq!(
                (claims.usefor(), claims.iat(), claims.exp()),
                (TokenUse::Refresh, 1, 3)
            );
            assert_eq!((claims.exi(), claims.clone()), (2, claims));
        }
        let claims = |iss, sub, jti| Claims::new(iss, sub, TokenUse::Access, 1, 3, 2, jti);
        assert_ne!(claims("ab", "", "c"), claims("a", "b", "c"));
        assert_ne!(claims("a", "bc", ""), claims("a", "b", "c"));
        assert_eq!(claims(&long, "b", "c"), claims(&long, "b", "c"));
        assert_eq!(
            format!("{:?}", claims("realm", "admin", "id")),
            r#"Claims { iss: "realm", sub: "admin", usefor: Access, iat: 1, exp: 3, exi: 2, jti: "id", scope: "", custom: false }"#
        );
    }
}
