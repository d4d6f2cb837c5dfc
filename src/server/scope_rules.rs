//! The scopes path prefixes require: checked on protected routes, after the token.

use http::HeaderValue;

use super::routes::{Route, Routes, check_path};
use super::spelling::Spellings;
use crate::error::BuildError;
use crate::scope::{Scopes, grants_all};
use crate::token::Claims;

/// The configured requirements, in the order they were given.
#[derive(Debug, Default)]
pub(crate) struct ScopeRules {
    rules: Box<[ScopeRule]>,
}

#[derive(Debug)]
struct ScopeRule {
    /// Lower case, as protected prefixes are stored.
    prefix: Box<str>,
    scopes: Scopes,
    /// The `WWW-Authenticate` of its `403`, written once.
    challenge: HeaderValue,
}

impl ScopeRules {
    /// Requirements of `scopes` under each prefix, each prefix a plain path under one of
    /// `routes`' protected prefixes.
    pub(crate) fn new(
        requirements: Vec<(String, Scopes)>,
        routes: &Routes,
        realm: &str,
    ) -> Result<Self, BuildError> {
        let mut rules = Vec::with_capacity(requirements.len());
        for (prefix, scopes) in requirements {
            check_path(&prefix)?;
            let invalid = |reason| BuildError::InvalidScopeRequirement {
                prefix: prefix.clone(),
                reason,
            };
            if routes.classify(&prefix) != Route::Protected {
                return Err(invalid("not under a protected prefix"));
            }
            if scopes.is_empty() {
                return Err(invalid("no scope is required"));
            }
            let challenge = challenge(realm, &scopes).map_err(|()| invalid("invalid header"))?;
            rules.push(ScopeRule {
                prefix: prefix.to_ascii_lowercase().into(),
                scopes,
                challenge,
            });
        }
        Ok(Self {
            rules: rules.into(),
        })
    }

    /// The challenge of the first requirement on `path` that `claims` do not meet; `None` when
    /// they meet all of them. Nothing but a length test when no requirement is configured.
    #[inline]
    pub(crate) fn refusal(&self, path: &str, claims: &Claims) -> Option<&HeaderValue> {
        if self.rules.is_empty() {
            return None;
        }
        self.first_unmet(path, claims)
    }

    fn first_unmet(&self, path: &str, claims: &Claims) -> Option<&HeaderValue> {
        let spellings = Spellings::of(path);
        self.rules
            .iter()
            .filter(|rule| spellings.under(&rule.prefix))
            .find(|rule| !grants_all(claims.scope(), &rule.scopes))
            .map(|rule| &rule.challenge)
    }
}

/// `Bearer realm="...", error="insufficient_scope", scope="..."` (RFC 6750 §3, §3.1). Realm
/// and scopes hold neither `"` nor `\` (both are checked at build time).
pub(crate) fn challenge(realm: &str, scopes: &Scopes) -> Result<HeaderValue, ()> {
    let realm = match realm {
        "" => String::new(),
        realm => format!("realm=\"{realm}\", "),
    };
    let value = format!(
        "Bearer {realm}error=\"insufficient_scope\", scope=\"{}\"",
        scopes.as_str()
    );
    HeaderValue::try_from(value).map_err(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::TokenUse;

    fn routes() -> Routes {
        Routes::new(
            "/api/login".into(),
            "/api/login/refresh".into(),
            "/api/logout".into(),
            vec!["/api/v3".into(), "/admin".into()],
            vec![],
        )
        .unwrap()
    }

    fn claims(scope: &str) -> Claims {
        Claims::new("r", "u", TokenUse::Access, 1, 2, 1, "j").with_more(scope, None)
    }

    fn scopes(list: &str) -> Scopes {
        Scopes::parse(list).unwrap()
    }

    #[test]
    fn every_requirement_over_a_path_applies_in_any_spelling() {
        let rules = ScopeRules::new(
            vec![
                ("/api/v3".into(), scopes("read")),
                ("/api/v3/Process".into(), scopes("write admin")),
            ],
            &routes(),
            "realm",
        )
        .unwrap();
        let refused = |path, scope| {
            rules
                .refusal(path, &claims(scope))
                .map(|h| h.to_str().unwrap().to_owned())
        };
        assert_eq!(refused("/api/v3/ping", "read"), None);
        assert_eq!(
            refused("/api/v3/ping", "write"),
            Some(r#"Bearer realm="realm", error="insufficient_scope", scope="read""#.into())
        );
        assert_eq!(refused("/api/v3/process/1", "read admin write"), None);
        for path in [
            "/api/v3/process",
            "/API/v3/process/1",
            "/api/v3/x/../process",
            "/api/v3/%70rocess",
            // Resolved, these lie outside `/api/v3/process`; a raw-path router still routes
            // them to a handler under it, with `..` in a parameter.
            "/api/v3/process/%2e%2e",
            "/api/v3/process/x%2F..%2F..",
            "/api/v3/process/..",
        ] {
            assert_eq!(
                refused(path, "read write"),
                Some(
                    r#"Bearer realm="realm", error="insufficient_scope", scope="admin write""#
                        .into()
                ),
                "{path}"
            );
        }
        assert_eq!(refused("/api/v3/processes", "read"), None);
        assert_eq!(refused("/admin", ""), None);
        assert_eq!(ScopeRules::default().refusal("/api/v3", &claims("")), None);
    }

    #[test]
    fn requirements_outside_protected_prefixes_or_empty_are_refused_at_build() {
        for (prefix, list) in [
            ("/api", "a"),
            ("/public", "a"),
            ("/api/v3", ""),
            ("api/v3", "a"),
            ("/api/v3/", "a"),
        ] {
            assert!(
                ScopeRules::new(vec![(prefix.into(), scopes(list))], &routes(), "r").is_err(),
                "{prefix} {list:?}"
            );
        }
    }
}
