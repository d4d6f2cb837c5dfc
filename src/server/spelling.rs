//! How a server may read a path that needs normalising, for matching it against prefixes.

use std::borrow::Cow;

use super::routes::{is_under, needs_normalizing};

/// The ways a server may read a path: decoded with `..` resolved, and, where it differs, the
/// same with each `..` kept as a segment of its own (see `normalize_with`). A router that
/// matches the raw path (axum, matchit) sends `/api/v3/%2e%2e` or `/api/v3/a%2F..%2F..` to a
/// handler under `/api/v3` with `..` in a parameter, while the resolved path lies outside: a
/// prefix applies when either spelling is under it.
pub(crate) struct Spellings<'a> {
    /// Borrowed when nothing needs changing.
    pub(super) resolved: Cow<'a, str>,
    /// `None` when it is the resolved spelling.
    literal: Option<Cow<'a, str>>,
}

impl<'a> Spellings<'a> {
    pub(crate) fn of(path: &'a str) -> Self {
        if !needs_normalizing(path) {
            return Self {
                resolved: Cow::Borrowed(path),
                literal: None,
            };
        }
        let resolved = normalize_with(path, true);
        let literal = Some(normalize_with(path, false)).filter(|literal| *literal != resolved);
        Self { resolved, literal }
    }

    /// Whether either spelling is `prefix` or lies below it (see [`is_under`]).
    pub(crate) fn under(&self, prefix: &str) -> bool {
        is_under(&self.resolved, prefix)
            || self
                .literal
                .as_deref()
                .is_some_and(|literal| is_under(literal, prefix))
    }
}

/// The path as a server that decodes it would see it: percent-decoded (invalid escapes kept as
/// they are), `\` read as `/`, `;` parameters dropped from each segment, empty and `.` segments
/// removed, and `..` resolved (or kept as a segment).
fn normalize_with(path: &str, resolve_dots: bool) -> Cow<'_, str> {
    let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
    let mut segments: Vec<&str> = Vec::new();
    for segment in decoded.split(['/', '\\']) {
        let segment = segment.split(';').next().unwrap_or("");
        match segment {
            "" | "." => {}
            ".." if resolve_dots => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = String::with_capacity(decoded.len() + 1);
    for segment in &segments {
        out.push('/');
        out.push_str(segment);
    }
    if out.is_empty() {
        out.push('/');
    }
    Cow::Owned(out)
}
