//! What a login grants: a subject, its scopes and the application's custom claims, written into
//! every token of the login and carried over by each refresh.

use std::fmt;

use serde::Serialize;
use serde_json::Value;

use crate::error::BuildError;
use crate::scope::Scopes;

/// The most custom claims a login may carry: the verifier reads at most this many members it
/// does not know.
pub(crate) const MAX_CUSTOM_CLAIMS: usize = 16;

/// Names a custom claim may not take: RFC 7519 §4.1's, RFC 8693 §4's, and this crate's own.
const RESERVED_NAMES: [&str; 13] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "nbf",
    "iat",
    "jti",
    "usefor",
    "exi",
    "scope",
    "client_id",
    "act",
    "may_act",
];

/// What the tokens of one login say beyond their times: whom they are for, and what they allow.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Grant<'a> {
    pub(crate) sub: &'a str,
    /// The `scope` claim: scopes separated by single spaces; empty for none.
    pub(crate) scope: &'a str,
    /// The custom claims as a JSON object; `None` for none.
    pub(crate) custom: Option<&'a str>,
}

/// Who logged in, and how: what an application's
/// [`custom_claims`](crate::JwtLoginBuilder::custom_claims) are computed from.
#[derive(Debug)]
#[non_exhaustive]
pub struct Login<'a> {
    /// The username: the tokens' `sub`.
    pub username: &'a str,
    /// How the user logged in.
    pub source: LoginSource<'a>,
    /// The scopes the login is granted.
    pub scopes: &'a Scopes,
}

/// How a user logged in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoginSource<'a> {
    /// With a username and password of a configured user.
    Password,
    /// With an access token of an identity provider tenant.
    IdentityProvider {
        /// The tenant's issuer (`iss`).
        issuer: &'a str,
    },
}

/// The application's function, its claims already turned into JSON.
pub(crate) type MakeClaims = dyn Fn(&Login<'_>) -> Result<Value, serde_json::Error> + Send + Sync;

/// The application's custom claims: their declared names, and the function that computes them.
pub(crate) struct CustomClaims {
    names: Box<[Box<str>]>,
    make: Box<MakeClaims>,
}

/// Why custom claims could not be written into a token: the application's mistake, which the
/// server logs and answers `500`.
#[derive(Debug)]
pub(crate) enum CustomClaimsError {
    Serialize(serde_json::Error),
    NotAnObject,
    Undeclared(String),
}

impl fmt::Display for CustomClaimsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Serialize(error) => write!(f, "the custom claims could not be written: {error}"),
            Self::NotAnObject => f.write_str("the custom claims are not a JSON object"),
            Self::Undeclared(name) => {
                write!(
                    f,
                    "the custom claim {name:?} is not among the declared names"
                )
            }
        }
    }
}

impl CustomClaims {
    /// `make`'s claims as JSON, for [`CustomClaims::new`].
    pub(crate) fn erase<T, F>(make: F) -> Box<MakeClaims>
    where
        T: Serialize,
        F: Fn(&Login<'_>) -> T + Send + Sync + 'static,
    {
        Box::new(move |login| serde_json::to_value(make(login)))
    }

    /// Claims named `names`, computed by `make` at each login.
    pub(crate) fn new(names: Vec<String>, make: Box<MakeClaims>) -> Result<Self, BuildError> {
        let invalid = |name: &str, reason| {
            Err(BuildError::InvalidCustomClaim {
                name: name.to_owned(),
                reason,
            })
        };
        if names.len() > MAX_CUSTOM_CLAIMS {
            return invalid(&names[MAX_CUSTOM_CLAIMS], "more than 16 custom claims");
        }
        for (i, name) in names.iter().enumerate() {
            if name.is_empty() {
                return invalid(name, "the name is empty");
            }
            if !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'))
            {
                return invalid(
                    name,
                    "a name is ASCII letters, digits, '_', '-', '.' or ':'",
                );
            }
            // In any case: a reader that matches names ignoring case (Go's encoding/json does)
            // would take `Sub` for `sub`.
            if RESERVED_NAMES
                .iter()
                .any(|reserved| reserved.eq_ignore_ascii_case(name))
            {
                return invalid(name, "the name is a registered or reserved claim");
            }
            if names[..i].contains(name) {
                return invalid(name, "the name is declared twice");
            }
        }
        Ok(Self {
            names: names.into_iter().map(String::into_boxed_str).collect(),
            make,
        })
    }

    /// The claims of `login`, as a JSON object; `None` when there are none.
    pub(crate) fn claims(&self, login: &Login<'_>) -> Result<Option<String>, CustomClaimsError> {
        let value = (self.make)(login).map_err(CustomClaimsError::Serialize)?;
        let Value::Object(members) = value else {
            return Err(CustomClaimsError::NotAnObject);
        };
        if let Some(name) = members.keys().find(|name| !self.declares(name)) {
            return Err(CustomClaimsError::Undeclared(name.clone()));
        }
        if members.is_empty() {
            return Ok(None);
        }
        serde_json::to_string(&members)
            .map(Some)
            .map_err(CustomClaimsError::Serialize)
    }

    /// The members of `custom` (a JSON object a token carried) whose names are still declared:
    /// what a refresh carries over. `None` when none is left.
    pub(crate) fn still_declared(&self, custom: &str) -> Option<String> {
        let mut members: serde_json::Map<String, Value> = serde_json::from_str(custom).ok()?;
        members.retain(|name, _| self.declares(name));
        if members.is_empty() {
            return None;
        }
        serde_json::to_string(&members).ok()
    }

    fn declares(&self, name: &str) -> bool {
        self.names.iter().any(|declared| **declared == *name)
    }
}

impl fmt::Debug for CustomClaims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CustomClaims")
            .field("names", &self.names)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn declared(names: &[&str]) -> Result<CustomClaims, BuildError> {
        let names = names.iter().map(|name| (*name).to_owned()).collect();
        let make = |login: &Login<'_>| json!({ "tenant": login.username });
        CustomClaims::new(names, CustomClaims::erase(make))
    }

    #[test]
    fn reserved_empty_duplicate_and_too_many_names_are_refused_at_build() {
        for name in RESERVED_NAMES
            .iter()
            .chain(&["", "SUB", "Usefor", "a b", "é", "a\"b"])
        {
            assert!(
                matches!(
                    declared(&[name]),
                    Err(BuildError::InvalidCustomClaim { .. })
                ),
                "{name:?}"
            );
        }
        assert!(declared(&["a", "a"]).is_err());
        let many: Vec<String> = (0..=MAX_CUSTOM_CLAIMS).map(|i| format!("c{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert!(declared(&many).is_err());
        assert!(declared(&many[..MAX_CUSTOM_CLAIMS]).is_ok());
    }

    #[test]
    fn only_declared_members_of_an_object_are_written() {
        let scopes = Scopes::default();
        let login = Login {
            username: "ann",
            source: LoginSource::Password,
            scopes: &scopes,
        };
        let claims = declared(&["tenant"]).unwrap();
        assert_eq!(
            claims.claims(&login).unwrap().as_deref(),
            Some(r#"{"tenant":"ann"}"#)
        );
        let other = declared(&["plan"]).unwrap();
        assert!(matches!(
            other.claims(&login),
            Err(CustomClaimsError::Undeclared(name)) if name == "tenant"
        ));
        let list = CustomClaims::new(vec!["a".into()], CustomClaims::erase(|_| [1, 2])).unwrap();
        assert!(matches!(
            list.claims(&login),
            Err(CustomClaimsError::NotAnObject)
        ));
        let none = CustomClaims::new(vec!["a".into()], CustomClaims::erase(|_| json!({}))).unwrap();
        assert_eq!(none.claims(&login).unwrap(), None);
        assert_eq!(
            claims
                .still_declared(r#"{"plan":"pro","tenant":"ann"}"#)
                .as_deref(),
            Some(r#"{"tenant":"ann"}"#)
        );
        assert_eq!(other.still_declared(r#"{"tenant":"ann"}"#), None);
    }
}
