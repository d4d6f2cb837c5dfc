//! Which route a request path belongs to.
//!
//! Classification looks only at the path, against paths prepared once at build time. Clean
//! paths (the common case) are matched without allocating; only a path with percent escapes,
//! `;` parameters, backslashes, repeated slashes or dot segments is normalised into a new
//! string first, so that no spelling of a protected path reaches the inner service unchecked.

use super::spelling::Spellings;
use crate::error::BuildError;

/// What the layer does with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// Not ours: straight to the inner service.
    PassThrough,
    /// Needs a valid access token.
    Protected,
    /// A valid access token attaches claims; anything else passes on without.
    Optional,
    /// The login route, answered by the layer.
    Login,
    /// The refresh route, answered by the layer.
    Refresh,
    /// The logout route, answered by the layer.
    Logout,
}

/// The configured paths.
#[derive(Debug)]
pub(crate) struct Routes {
    login: Box<str>,
    refresh: Box<str>,
    logout: Box<str>,
    protected: Box<[Box<str>]>,
    optional: Box<[Box<str>]>,
}

impl Routes {
    pub(crate) fn new(
        login: String,
        refresh: String,
        logout: String,
        protected: Vec<String>,
        optional: Vec<String>,
    ) -> Result<Self, BuildError> {
        for path in [&login, &refresh, &logout]
            .into_iter()
            .chain(&protected)
            .chain(&optional)
        {
            check_path(path)?;
        }
        Ok(Self {
            login: login.into(),
            refresh: refresh.into(),
            logout: logout.into(),
            protected: protected
                .into_iter()
                .map(|prefix| prefix.to_ascii_lowercase().into())
                .collect(),
            optional: optional.into_iter().map(Into::into).collect(),
        })
    }

    /// The paths the layer answers itself: login, refresh, logout.
    pub(crate) fn own(&self) -> [&str; 3] {
        [&self.login, &self.refresh, &self.logout]
    }

    /// Classifies a request path (without the query string).
    ///
    /// Inlined into the service's `call`: this runs for every request, including the ones the
    /// layer only passes on, and a clean path needs nothing but a few comparisons.
    #[inline]
    pub(crate) fn classify(&self, path: &str) -> Route {
        if needs_normalizing(path) {
            return self.classify_unclean(path);
        }
        if path == &*self.login {
            return Route::Login;
        }
        if path == &*self.refresh {
            return Route::Refresh;
        }
        if path == &*self.logout {
            return Route::Logout;
        }
        if self.protected.iter().any(|prefix| is_under(path, prefix)) {
            return Route::Protected;
        }
        if self.optional.iter().any(|p| path == &**p) {
            return Route::Optional;
        }
        Route::PassThrough
    }

    /// Classifies a path that needs normalising: protected if its normalised form is under a
    /// protected prefix, passed on otherwise.
    ///
    /// Never one of the exact routes: those are configured clean (`check_path`), so a path
    /// spelled otherwise is not one of them, as it never was. Out of line, so that the copy
    /// and the segment handling do not weigh on the clean path's code.
    #[cold]
    #[inline(never)]
    fn classify_unclean(&self, path: &str) -> Route {
        let spellings = Spellings::of(path);
        if self.protected.iter().any(|prefix| spellings.under(prefix)) {
            Route::Protected
        } else {
            Route::PassThrough
        }
    }
}

/// Whether `path` is `prefix` or lies below it, ignoring ASCII case. `prefix` is lower case
/// ([`Routes::new`] stores it so), so that only the path's bytes need folding.
#[inline]
pub(super) fn is_under(path: &str, prefix: &str) -> bool {
    if prefix == "/" {
        return true;
    }
    let (path, prefix) = (path.as_bytes(), prefix.as_bytes());
    let Some(head) = path.get(..prefix.len()) else {
        return false;
    };
    // Folded without an early exit: the loop has no branch per byte.
    let same = head
        .iter()
        .zip(prefix)
        .fold(true, |same, (&a, &b)| same & (a.to_ascii_lowercase() == b));
    same && path.get(prefix.len()).is_none_or(|&b| b == b'/')
}

/// Whether a path needs normalising before it can be compared: it does not start with `/`, or
/// has a `%`, `;`, `\` or non-ASCII byte, an empty segment (`//`), or a `.` or `..` segment.
///
/// This runs for every request, including the ones the layer only passes on. A clean path has
/// none of those bytes and no `/` followed by `/` or `.`: one pass over neighbouring bytes,
/// with no branch per byte, says so. Only a path that fails it (`/.well-known` as much as
/// `/a/../b`) is read again segment by segment. (Separate scans, `contains("//")` and `split`,
/// were half of the pass-through overhead once; BENCHMARKS.md.)
#[inline]
pub(super) fn needs_normalizing(path: &str) -> bool {
    let bytes = path.as_bytes();
    let Some((&b'/', rest)) = bytes.split_first() else {
        return true;
    };
    let suspicious = bytes
        .iter()
        .zip(rest)
        .fold(false, |suspicious, (&previous, &b)| {
            suspicious
                | matches!(b, b'%' | b';' | b'\\' | 0x80..)
                | ((previous == b'/') & ((b == b'/') | (b == b'.')))
        });
    suspicious && has_unclean_segment(rest)
}

/// [`needs_normalizing`] for the bytes after the leading `/`, segment by segment.
#[cold]
fn has_unclean_segment(rest: &[u8]) -> bool {
    // The length of the segment read so far, and whether it holds only dots.
    let mut segment_len = 0usize;
    let mut only_dots = true;
    for &b in rest {
        match b {
            b'/' => {
                if segment_len == 0 || (only_dots && segment_len <= 2) {
                    return true;
                }
                segment_len = 0;
                only_dots = true;
            }
            b'%' | b';' | b'\\' | 0x80.. => return true,
            _ => {
                segment_len += 1;
                only_dots &= b == b'.';
            }
        }
    }
    // The last segment: empty (a trailing `/`) is fine, `.` and `..` are not.
    segment_len != 0 && only_dots && segment_len <= 2
}

/// A configured path must be absolute and already normalised, so that it means one thing.
pub(super) fn check_path(path: &str) -> Result<(), BuildError> {
    let reason = if !path.starts_with('/') {
        Some("must start with '/'")
    } else if path.len() > 1 && path.ends_with('/') {
        Some("must not end with '/'")
    } else if needs_normalizing(path) || path.contains(['?', '#']) || path.bytes().any(|b| b < b' ')
    {
        Some("must be a plain path: no '%', ';', '\\', '?', '#', empty or dot segments")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(BuildError::InvalidPath {
            path: path.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;

    /// The resolved spelling.
    fn normalize(path: &str) -> Cow<'_, str> {
        Spellings::of(path).resolved
    }

    fn routes() -> Routes {
        Routes::new(
            "/api/login".into(),
            "/api/login/refresh".into(),
            "/api/logout".into(),
            vec!["/api/v3".into()],
            vec!["/api".into()],
        )
        .unwrap()
    }

    #[test]
    fn every_spelling_of_a_protected_path_is_protected() {
        let routes = routes();
        for path in [
            "/api/v3",
            "/api/v3/ping",
            "//api/v3/ping",
            "/api//v3/ping",
            "/api/x/../v3/ping",
            "/api/./v3/ping",
            "/%61pi/v3/ping",
            "/api%2Fv3/ping",
            "/api%2fv3/ping",
            "/api;x=1/v3/ping",
            "/api/v3;x/ping",
            "/api/v3/ping/",
            "/API/V3/PING",
            "/api\\v3/ping",
            "/api/%2e%2e/api/v3/ping",
            "/x/../../api/v3",
            // Resolved, these leave `/api/v3`; a router that matches the raw path still sends
            // them to a handler under it (`/api/v3/{id}` with `id = ".."`).
            "/api/v3/%2e%2e",
            "/api/v3/..",
            "/api/v3/a%2F..%2F..%2Fx",
            "/api/v3/a/%2E%2E/%2e%2e/x",
        ] {
            assert_eq!(routes.classify(path), Route::Protected, "{path}");
        }
    }

    #[test]
    fn other_paths_are_classified_exactly() {
        let routes = routes();
        assert_eq!(routes.classify("/api/login"), Route::Login);
        assert_eq!(routes.classify("/api/login/refresh"), Route::Refresh);
        assert_eq!(routes.classify("/api/logout"), Route::Logout);
        assert_eq!(routes.classify("/api"), Route::Optional);
        for path in [
            "/",
            "/ping",
            "/api/v31",
            "/api/v",
            "/api/",
            "/apiv3",
            "/api/login/",
        ] {
            assert_eq!(routes.classify(path), Route::PassThrough, "{path}");
        }
    }

    /// Every string of at most `max` of `pieces`, the empty one included, each once.
    fn every_path(pieces: &[&str], max: usize) -> Vec<String> {
        let mut paths = vec![String::new()];
        for _ in 0..max {
            let longer: Vec<String> = paths
                .iter()
                .flat_map(|p| pieces.iter().map(move |c| format!("{p}{c}")))
                .collect();
            paths.extend(longer);
            paths.sort();
            paths.dedup();
        }
        paths
    }

    /// The rule as it reads in words, one scan per clause: what the single pass must agree with.
    fn needs_normalizing_spelled_out(path: &str) -> bool {
        !path.starts_with('/')
            || path
                .bytes()
                .any(|b| matches!(b, b'%' | b';' | b'\\') || !b.is_ascii())
            || path.contains("//")
            || path
                .split('/')
                .any(|segment| segment == "." || segment == "..")
    }

    #[test]
    fn single_pass_check_agrees_with_the_rule_on_every_short_path() {
        let paths = every_path(&["/", ".", "a", "%", ";", "\\", "é"], 6);
        assert!(paths.len() > 100_000);
        for path in &paths {
            assert_eq!(
                needs_normalizing(path),
                needs_normalizing_spelled_out(path),
                "{path:?}"
            );
        }
    }

    /// Classification as it reads in words: the exact routes on the path as sent, the protected
    /// prefixes on its normalised form. What the split into a clean and an unclean path must
    /// agree with.
    fn classify_spelled_out(routes: &Routes, path: &str) -> Route {
        let exact = [
            (&routes.login, Route::Login),
            (&routes.refresh, Route::Refresh),
            (&routes.logout, Route::Logout),
        ];
        if let Some((_, route)) = exact.iter().find(|(p, _)| path == &***p) {
            return *route;
        }
        // Written out here rather than through `is_under`, which is under test as well; the
        // second spelling keeps `..` as a segment, as a router matching the raw path reads it.
        let normalized = normalize(path).to_ascii_lowercase();
        let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
        let kept: Vec<&str> = decoded
            .split(['/', '\\'])
            .map(|segment| segment.split(';').next().unwrap_or(""))
            .filter(|segment| !matches!(*segment, "" | "."))
            .collect();
        let literal = format!("/{}", kept.join("/")).to_ascii_lowercase();
        let under = |prefix: &str| {
            let prefix = prefix.to_ascii_lowercase();
            [&normalized, &literal].iter().any(|spelling| {
                prefix == "/" || **spelling == prefix || spelling.starts_with(&format!("{prefix}/"))
            })
        };
        if routes.protected.iter().any(|prefix| under(prefix)) {
            return Route::Protected;
        }
        if routes.optional.iter().any(|p| path == &**p) {
            return Route::Optional;
        }
        Route::PassThrough
    }

    #[test]
    fn classification_agrees_with_the_rule_on_every_short_path() {
        // Every route of `routes()` is spelled with these pieces, so each is reached both clean
        // and in its unclean spellings.
        let pieces = [
            "/api", "/v3", "/login", "/refresh", "/logout", "/", ".", "..", "%2e", "%", "\\", ";",
            "A", "api",
        ];
        let paths = every_path(&pieces, 4);
        assert!(paths.len() > 30_000);
        let routes = routes();
        let mut seen = std::collections::HashSet::new();
        for path in &paths {
            let route = routes.classify(path);
            assert_eq!(route, classify_spelled_out(&routes, path), "{path:?}");
            seen.insert(format!("{route:?}"));
        }
        assert_eq!(seen.len(), 6, "every route reached: {seen:?}");
    }

    #[test]
    fn prefixes_configured_in_upper_case_match_in_any_case() {
        let routes = Routes::new(
            "/api/login".into(),
            "/api/login/refresh".into(),
            "/api/logout".into(),
            vec!["/API/V3".into()],
            vec![],
        )
        .unwrap();
        for path in ["/api/v3/ping", "/API/V3", "/Api/V3/x", "//api/v3/ping"] {
            assert_eq!(routes.classify(path), Route::Protected, "{path}");
        }
        assert_eq!(routes.classify("/api/v4"), Route::PassThrough);
    }

    #[test]
    fn clean_paths_are_not_copied() {
        assert!(matches!(normalize("/api/v3/ping"), Cow::Borrowed(_)));
        assert!(matches!(normalize("/ping"), Cow::Borrowed(_)));
        assert_eq!(normalize("/a/%2e%2e/b//c/./d;e"), "/b/c/d");
    }
}
