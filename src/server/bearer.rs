//! Reading the bearer token from the `Authorization` header (RFC 6750 §2.1).

use http::HeaderMap;
use http::header::AUTHORIZATION;

use crate::error::Rejection;
use crate::token::MAX_TOKEN_LEN;

/// The bearer token of a request, or why there is none.
///
/// The scheme is case-insensitive (RFC 9110 §11.1) and followed by one or more spaces (`1*SP`,
/// RFC 6750 §2.1): a tab, or any other whitespace, between the scheme and the token is refused;
/// trailing whitespace is ignored. Exactly one `Authorization` header is allowed: with two, the
/// layer and the inner service could disagree about which one counts. A token in the query
/// string is never looked at (RFC 6750 §2.3 is a "SHOULD NOT").
///
/// Used where the token is not one of ours (an identity provider's, feature `jwks`); our own
/// tokens go through [`verify_bearer`].
#[cfg(any(feature = "jwks", test))]
pub(crate) fn bearer(headers: &HeaderMap) -> Result<&[u8], Rejection> {
    let token = bearer_unchecked(headers)?;
    // token68 characters only: whatever else is there (a space inside, junk, non-ASCII bytes)
    // makes the header malformed rather than being silently dropped.
    if !is_token68(token) {
        return Err(Rejection::MalformedAuthorization);
    }
    Ok(token)
}

/// Verifies the bearer token of a request with `verify`, answering exactly what calling
/// `verify` on the answer of [`bearer`] would, provided `verify` accepts only token68 strings
/// (a JWS verifier does: base64url and dots).
///
/// The token68 check then only matters for tokens `verify` refuses, to report the header rather
/// than the token as malformed; it runs only for them. A protected request with a good token
/// reads the token one time fewer: that pass was as costly as the HMAC on the layer benchmark,
/// being the first to touch the token's bytes (BENCHMARKS.md).
pub(crate) fn verify_bearer<T>(
    headers: &HeaderMap,
    verify: impl FnOnce(&[u8]) -> Result<T, Rejection>,
) -> Result<T, Rejection> {
    let token = bearer_unchecked(headers)?;
    verify(token).map_err(|rejection| {
        if is_token68(token) {
            rejection
        } else {
            Rejection::MalformedAuthorization
        }
    })
}

/// [`bearer`] without the token68 check.
fn bearer_unchecked(headers: &HeaderMap) -> Result<&[u8], Rejection> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let value = values.next().ok_or(Rejection::MissingToken)?;
    if values.next().is_some() {
        return Err(Rejection::DuplicateAuthorization);
    }
    let value = value.as_bytes();
    if value.len() > MAX_TOKEN_LEN + 64 {
        return Err(Rejection::TokenTooLong);
    }
    let (scheme, rest) = value
        .split_at_checked(6)
        .ok_or(Rejection::MalformedAuthorization)?;
    if !scheme.eq_ignore_ascii_case(b"bearer") || rest.first() != Some(&b' ') {
        return Err(Rejection::MalformedAuthorization);
    }
    // Only spaces separate the scheme from the token: `trim_ascii` here would also take tabs,
    // and let `Bearer \t<token>` through although RFC 6750 allows `SP` alone.
    let start = rest.iter().position(|&b| b != b' ').unwrap_or(rest.len());
    let token = rest[start..].trim_ascii_end();
    if token.first().is_none_or(u8::is_ascii_whitespace) {
        return Err(Rejection::MalformedAuthorization);
    }
    Ok(token)
}

/// Whether every byte is a token68 character (RFC 9110 §11.2).
///
/// Folded with `&` instead of stopping at the first bad byte: without the early exit the loop
/// vectorises, where `all` took one seventh of a protected request (BENCHMARKS.md). The answer
/// reveals nothing about where a bad byte is, and the header is bounded.
fn is_token68(token: &[u8]) -> bool {
    token.iter().fold(true, |ok, &b| {
        ok & (b.is_ascii_alphanumeric()
            | (b == b'-')
            | (b == b'_')
            | (b == b'.')
            | (b == b'~')
            | (b == b'+')
            | (b == b'/')
            | (b == b'='))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn parse(values: &[&[u8]]) -> Result<Vec<u8>, Rejection> {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(AUTHORIZATION, HeaderValue::from_bytes(v).unwrap());
        }
        bearer(&headers).map(<[u8]>::to_vec)
    }

    #[test]
    fn accepted_spellings() {
        for value in [
            &b"Bearer a.b.c"[..],
            b"bearer a.b.c",
            b"BEARER a.b.c",
            b"Bearer    a.b.c",
            b"Bearer a.b.c  ",
            b"Bearer a.b.c\t",
        ] {
            assert_eq!(parse(&[value]).unwrap(), b"a.b.c", "{value:?}");
        }
    }

    /// `verify_bearer` answers as `bearer` followed by a verifier that accepts only token68
    /// strings, for every spelling above and for verifiers that accept or refuse.
    #[test]
    fn verify_bearer_answers_as_bearer_then_verify() {
        let spellings: [&[&[u8]]; 19] = [
            &[],
            &[b"Bearer\ta.b.c"],
            &[b"Bearer \ta.b.c"],
            &[b"Bearer a.b.c"],
            &[b"bearer a.b.c  "],
            &[b"Bearer    a.b.c\t"],
            &[b"Bearer a.b.c", b"Bearer a.b.c"],
            &[b"Basic YWRtaW46cHc="],
            &[b"Bearer"],
            &[b"Bearer "],
            &[b"Bearera.b.c"],
            &[b"Bearer a.b c"],
            &[b"Bearer a.b.c junk"],
            &[b"Bearer a.b.\xc3\xa9"],
            &[b"Bearer a+b/c=~"],
            &[b"Bearer a.b.c!"],
            &[b"Bearer a.b.\"c\""],
            &[b"Bearer a.b.c;"],
            &[b"Bearer a.b.c,d"],
        ];
        // Accepts base64url and dots (a subset of token68), refuses everything else; or refuses
        // everything with a token error.
        let accepting = |token: &[u8]| {
            if token
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
            {
                Ok(token.to_vec())
            } else {
                Err(Rejection::MalformedToken)
            }
        };
        let refusing = |_: &[u8]| Err::<Vec<u8>, _>(Rejection::BadSignature);
        for values in spellings {
            let mut headers = HeaderMap::new();
            for v in values {
                headers.append(AUTHORIZATION, HeaderValue::from_bytes(v).unwrap());
            }
            assert_eq!(
                verify_bearer(&headers, accepting),
                bearer(&headers).and_then(accepting),
                "{values:?}"
            );
            assert_eq!(
                verify_bearer(&headers, refusing),
                bearer(&headers).and_then(refusing),
                "{values:?}"
            );
        }
    }

    #[test]
    fn refused_spellings() {
        assert_eq!(parse(&[]), Err(Rejection::MissingToken));
        for value in [
            &b"Basic YWRtaW46cHc="[..],
            b"Bearer",
            b"Bearer ",
            b"Bearer    ",
            b"Bearera.b.c",
            b"Bearer a.b c",
            b"Bearer a.b.c junk",
            b"Bearer a.b.\xc3\xa9",
            b"Token a.b.c",
            b"Bearer\ta.b.c",
            b"Bearer \ta.b.c",
            b"Bearer \t a.b.c",
            b"Bearer  \ta.b.c",
            b"Bearer \t",
        ] {
            assert_eq!(
                parse(&[value]),
                Err(Rejection::MalformedAuthorization),
                "{value:?}"
            );
        }
        assert_eq!(
            parse(&[b"Bearer a.b.c", b"Bearer a.b.c"]),
            Err(Rejection::DuplicateAuthorization)
        );
    }
}
