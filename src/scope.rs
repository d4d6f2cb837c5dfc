//! Scopes: what a token allows beyond "logged in" (RFC 6749 §3.3), as the access token's
//! `scope` claim carries them (a space-separated string, RFC 8693 §4.2 / RFC 9068 §2.2.3).

use std::fmt;

use crate::error::BuildError;

/// A set of scopes: each a non-empty run of printable ASCII without space, `"` or `\`
/// (RFC 6749 §3.3), kept sorted and without duplicates, so that two equal sets write the same
/// claim.
///
/// ```
/// use tower_jwt_login::Scopes;
///
/// let scopes = Scopes::new(["write", "read", "write"])?;
/// assert_eq!(scopes.as_str(), "read write");
/// assert!(scopes.contains("read") && !scopes.contains("admin"));
/// assert!(Scopes::new(["two words"]).is_err());
/// # Ok::<_, tower_jwt_login::BuildError>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Scopes {
    /// The scopes in order, separated by one space; empty for none.
    joined: Box<str>,
}

impl Scopes {
    /// The set of `scopes`.
    ///
    /// # Errors
    ///
    /// [`BuildError::InvalidScope`] for an empty scope or one with a character RFC 6749 §3.3
    /// does not allow (space, `"`, `\`, control or non-ASCII characters).
    pub fn new<I, S>(scopes: I) -> Result<Self, BuildError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut sorted = Vec::new();
        for scope in scopes {
            let scope = scope.as_ref();
            if !is_scope_token(scope) {
                return Err(BuildError::InvalidScope {
                    scope: scope.to_owned(),
                });
            }
            sorted.push(scope.to_owned());
        }
        Ok(Self::from_valid(sorted))
    }

    /// Reads a space-separated list (a `scope` claim, an environment variable): runs of spaces
    /// separate, so `" a  b "` is `a` and `b`.
    ///
    /// # Errors
    ///
    /// As [`Scopes::new`], for a scope with a character that is not allowed.
    pub fn parse(list: &str) -> Result<Self, BuildError> {
        Self::new(list.split(' ').filter(|scope| !scope.is_empty()))
    }

    /// The valid ones of `scopes`; the others are dropped. For scopes from elsewhere (an
    /// identity provider's token) that are no reason to refuse a login.
    pub(crate) fn valid_of<'a>(scopes: impl IntoIterator<Item = &'a str>) -> Self {
        let valid = scopes.into_iter().filter(|scope| is_scope_token(scope));
        Self::from_valid(valid.map(str::to_owned).collect())
    }

    fn from_valid(mut scopes: Vec<String>) -> Self {
        scopes.sort_unstable();
        scopes.dedup();
        Self {
            joined: scopes.join(" ").into(),
        }
    }

    /// The scopes as the `scope` claim writes them: sorted, separated by one space; empty for
    /// none.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.joined
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.joined.is_empty()
    }

    /// The scopes, in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        split(&self.joined)
    }

    /// Whether `scope` is one of them.
    #[must_use]
    pub fn contains(&self, scope: &str) -> bool {
        self.iter().any(|own| own == scope)
    }

    /// The scopes of `self` that are also in `other`.
    #[must_use]
    pub(crate) fn intersection(&self, other: &Self) -> Self {
        let kept = self.iter().filter(|scope| other.contains(scope));
        Self::from_valid(kept.map(str::to_owned).collect())
    }
}

impl fmt::Debug for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// The scopes of a space-separated `scope` claim.
pub(crate) fn split(claim: &str) -> impl Iterator<Item = &str> {
    claim.split(' ').filter(|scope| !scope.is_empty())
}

/// Whether every scope of `required` is in the space-separated `granted`. No allocation: the
/// protected path calls it on every request under a prefix that requires scopes.
pub(crate) fn grants_all(granted: &str, required: &Scopes) -> bool {
    required
        .iter()
        .all(|scope| split(granted).any(|own| own == scope))
}

/// `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`, RFC 6749 §3.3.
fn is_scope_token(scope: &str) -> bool {
    !scope.is_empty()
        && scope
            .bytes()
            .all(|b| matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_validated_sorted_and_deduplicated() {
        let scopes = Scopes::new(["b", "a:read", "b", "urn:x/y!"]).unwrap();
        assert_eq!(scopes.as_str(), "a:read b urn:x/y!");
        assert_eq!(scopes.iter().count(), 3);
        assert_eq!(Scopes::parse("  b a:read  urn:x/y! ").unwrap(), scopes);
        assert!(Scopes::new::<_, &str>([]).unwrap().is_empty());
        for bad in ["", "a b", "a\"", "a\\b", "é", "a\tb", "\u{7f}"] {
            assert_eq!(
                Scopes::new([bad]).unwrap_err(),
                BuildError::InvalidScope { scope: bad.into() },
                "{bad:?}"
            );
        }
        assert!(Scopes::parse("ok a\"b").is_err());
        assert_eq!(
            Scopes::valid_of(["b", "", "a b", "a:read", "é"]).as_str(),
            "a:read b"
        );
        assert_eq!(format!("{scopes:?}"), r#"{"a:read", "b", "urn:x/y!"}"#);
    }

    #[test]
    fn a_requirement_is_met_only_by_every_scope_it_names() {
        let required = Scopes::new(["read", "write"]).unwrap();
        assert!(grants_all("admin read write", &required));
        assert!(grants_all("write read", &required));
        assert!(!grants_all("read", &required));
        assert!(!grants_all("read writer", &required));
        assert!(!grants_all("", &required));
        assert!(grants_all("", &Scopes::default()));
        let granted = Scopes::new(["read", "write", "admin"]).unwrap();
        assert_eq!(granted.intersection(&required), required);
    }
}
