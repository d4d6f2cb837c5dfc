//! Strict verification of compact HS256 JWS.
//!
//! The rules, and why each one is there, are in `SECURITY.md`. In short: a token is accepted only
//! when it is exactly three canonical base64url segments, its header is one this crate would
//! emit (only HS256, no `crit`, no embedded or remote keys, no duplicate members), its HMAC
//! verifies in constant time, and its payload holds every claim this crate issues, each of the
//! right type, exactly once, with the right values.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};

use super::{Claims, TokenUse, base64url};
use crate::error::Rejection;
use crate::keys::{HEADER_B64, KeySet, MAX_KID_LEN};

/// The longest token looked at. Tokens this crate issues are about 350 bytes; anything much
/// longer is refused before any decoding, so an attacker cannot make us do work proportional to
/// what they send.
pub(crate) const MAX_TOKEN_LEN: usize = 4096;

/// The longest encoded header looked at (ours is 36 characters).
const MAX_HEADER_B64_LEN: usize = 256;

/// Payloads up to this size decode into a stack buffer; larger ones (rare, and bounded by
/// [`MAX_TOKEN_LEN`]) into the heap. Ours decode to about 170 bytes plus the username; the
/// buffer is zeroed on every verification, so it is not made larger than that needs.
const STACK_PAYLOAD_LEN: usize = 512;

/// How far in the future `iat` may be before a token counts as not yet valid: enough for clock
/// skew between replicas, far less than any sane token lifetime.
const MAX_IAT_SKEW: i64 = 60;

/// Verifies tokens signed with the configured keys for one issuer.
#[derive(Debug)]
pub(crate) struct TokenVerifier {
    keys: KeySet,
    issuer: Box<str>,
    leeway: i64,
}

impl TokenVerifier {
    pub(crate) fn new(keys: KeySet, issuer: &str, leeway: i64) -> Self {
        Self {
            keys,
            issuer: issuer.into(),
            leeway,
        }
    }

    /// Verifies `token` for `usefor` at time `now` (seconds since the epoch), answering its
    /// claims and its `nbf`, which [`Claims`] do not carry, for the cache to check again on
    /// every hit.
    ///
    /// This is the only function that accepts a token; every route goes through it.
    #[inline]
    pub(crate) fn verify_with_nbf(
        &self,
        token: &[u8],
        usefor: TokenUse,
        now: i64,
    ) -> Result<(Claims, Option<i64>), Rejection> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(Rejection::TokenTooLong);
        }
        let (header, payload, signature) = split(token).ok_or(Rejection::MalformedToken)?;

        // The headers this crate writes are compared byte for byte, which also picks the key;
        // anything else is parsed, strictly, and names its key by `kid`.
        let key = match self.keys.by_header(header) {
            Some(key) => key,
            None => {
                let kid = check_foreign_header(header)?;
                self.keys
                    .by_kid(kid.as_deref())
                    .ok_or(Rejection::UnknownKey)?
            }
        };

        let tag = decode_signature(signature).ok_or(Rejection::MalformedToken)?;
        let signing_input = &token[..header.len() + 1 + payload.len()];
        if !key.verify(signing_input, &tag) {
            return Err(Rejection::BadSignature);
        }

        // Only authenticated bytes are parsed as claims.
        let json_len = base64url::decoded_len(payload.len()).ok_or(Rejection::MalformedToken)?;
        let mut stack = [0u8; STACK_PAYLOAD_LEN];
        let mut heap = Vec::new();
        let buf: &mut [u8] = if json_len <= STACK_PAYLOAD_LEN {
            &mut stack
        } else {
            heap.resize(json_len, 0);
            &mut heap
        };
        let len = base64url::decode(payload, buf).ok_or(Rejection::MalformedToken)?;
        let json = &buf[..len];
        match parse_canonical(json, self.issuer.len()) {
            Some(payload) => self.check_claims(&payload, usefor, now),
            None => {
                let raw: RawClaims<'_> =
                    serde_json::from_slice(json).map_err(|_| Rejection::InvalidClaims)?;
                let payload = raw.complete().ok_or(Rejection::InvalidClaims)?;
                self.check_claims(&payload, usefor, now)
            }
        }
    }

    /// Checks the claims of an authenticated payload, and only then copies them out.
    ///
    /// Inlined, like [`Claims::new`], so that the claims are written once, where the caller
    /// wants them: moving them through each frame was a twelfth of a verification.
    #[inline]
    fn check_claims(
        &self,
        payload: &PayloadClaims<'_>,
        usefor: TokenUse,
        now: i64,
    ) -> Result<(Claims, Option<i64>), Rejection> {
        self.check_times(payload.exp, payload.nbf, payload.iat, now)?;
        if *payload.iss != *self.issuer {
            return Err(Rejection::WrongIssuer);
        }
        match TokenUse::parse(payload.usefor) {
            Some(found) if found == usefor => {}
            Some(_) => return Err(Rejection::WrongTokenUse),
            None => return Err(Rejection::InvalidClaims),
        }
        if payload.sub.is_empty() {
            return Err(Rejection::InvalidClaims);
        }
        let claims = Claims::new(
            payload.iss,
            payload.sub,
            usefor,
            payload.iat,
            payload.exp,
            payload.exi,
            payload.jti,
        );
        Ok((claims, payload.nbf))
    }

    /// Whether a token with these times is valid at `now`: not expired, not before its `nbf`,
    /// not issued in the future. The one place these rules are written; the token cache calls
    /// it on every hit.
    pub(crate) fn check_times(
        &self,
        exp: i64,
        nbf: Option<i64>,
        iat: i64,
        now: i64,
    ) -> Result<(), Rejection> {
        if exp <= now.saturating_sub(self.leeway) {
            return Err(Rejection::Expired);
        }
        if nbf.is_some_and(|nbf| nbf > now.saturating_add(self.leeway))
            || iat > now.saturating_add(MAX_IAT_SKEW.max(self.leeway))
        {
            return Err(Rejection::NotYetValid);
        }
        Ok(())
    }
}

/// Every claim a payload must have, read but not yet checked, borrowed from the payload (or
/// from the serde reading of it).
#[derive(Debug, PartialEq, Eq)]
struct PayloadClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    usefor: &'a str,
    iat: i64,
    exp: i64,
    exi: i64,
    nbf: Option<i64>,
    jti: &'a str,
}

/// Splits a compact JWS into its three segments; `None` unless there are exactly two dots and
/// the token is UTF-8.
fn split(token: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    split_usual(token).or_else(|| split_general(token))
}

/// [`split`] for the usual shape: a 43-character HS256 signature after the second dot, and
/// everything ASCII; `None` for anything else, however odd, which is left to `split_general`,
/// so the two cannot disagree (a test checks they do not). Checked with passes without an early
/// exit instead of the searches of `split_general`, which were a tenth of a verification
/// (BENCHMARKS.md).
fn split_usual(token: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let second_dot = token.len().checked_sub(44)?;
    if token[second_dot] != b'.' {
        return None;
    }
    // Tokens signed with a key without an id have a header of known length: guess it first.
    let first_dot = if token.get(HEADER_B64.len()) == Some(&b'.')
        && is_ascii_without_dots(&token[..HEADER_B64.len()])
    {
        HEADER_B64.len()
    } else {
        let first_dot = token[..second_dot].iter().position(|&b| b == b'.')?;
        if !token[..first_dot].is_ascii() {
            return None;
        }
        first_dot
    };
    let (header, payload, signature) = (
        &token[..first_dot],
        token.get(first_dot + 1..second_dot)?,
        &token[second_dot + 1..],
    );
    (!header.is_empty()
        && !payload.is_empty()
        && is_ascii_without_dots(payload)
        && is_ascii_without_dots(signature))
    .then_some((header, payload, signature))
}

/// Whether `bytes` are all ASCII and none is a dot. Without an early exit, so that it
/// vectorises; the input is bounded by [`MAX_TOKEN_LEN`].
fn is_ascii_without_dots(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .fold(0u8, |seen, &b| seen | (b & 0x80) | u8::from(b == b'.'))
        == 0
}

/// [`split`] for any token: searches for the dots.
fn split_general(token: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let token = std::str::from_utf8(token).ok()?;
    let (header, rest) = token.split_once('.')?;
    let (payload, signature) = rest.split_once('.')?;
    if signature.contains('.') || header.is_empty() || payload.is_empty() {
        return None;
    }
    Some((header.as_bytes(), payload.as_bytes(), signature.as_bytes()))
}

/// Decodes an HS256 signature: exactly 43 canonical base64url characters.
fn decode_signature(signature: &[u8]) -> Option<[u8; 32]> {
    if signature.len() != 43 {
        return None;
    }
    let mut tag = [0u8; 32];
    base64url::decode(signature, &mut tag)?;
    Some(tag)
}

/// Checks a header that is not byte for byte one of ours: it must be a JSON object with `alg`
/// exactly `"HS256"`, optionally `typ` `"JWT"` and a `kid`, and nothing else, each member once.
/// Answers the `kid`, if any.
fn check_foreign_header(header: &[u8]) -> Result<Option<String>, Rejection> {
    if header.len() > MAX_HEADER_B64_LEN {
        return Err(Rejection::UnsupportedHeader);
    }
    let mut buf = [0u8; MAX_HEADER_B64_LEN / 4 * 3];
    let len = base64url::decode(header, &mut buf).ok_or(Rejection::MalformedToken)?;
    serde_json::from_slice::<AcceptedHeader>(&buf[..len])
        .map(|header| header.kid)
        .map_err(|_| Rejection::UnsupportedHeader)
}

/// Reads a payload written exactly as [`TokenIssuer`](super::TokenIssuer) writes it, or `None`
/// to leave it to the general (serde) parser.
///
/// A fast path, because serde took a third of a verification (BENCHMARKS.md). It accepts only a
/// strict subset of what the serde path accepts and reads it to the same values: the seven
/// members in the issuer's order, each once, no whitespace, no `nbf`, no other member, strings
/// without escapes or control characters (valid UTF-8), integers as plain digits without a
/// leading zero that fit an `i64`, nothing after the object. Anything else, including every
/// malformed payload, returns `None` and is judged by the serde path alone; a test checks the
/// two agree on every mutation of a canonical payload.
///
/// `issuer_len` is the length of the configured issuer, the expected length of `iss`: a guess
/// that saves searching for the closing quote when right, and costs nothing when wrong.
fn parse_canonical(json: &[u8], issuer_len: usize) -> Option<PayloadClaims<'_>> {
    // serde refuses invalid UTF-8 inside strings, and any non-ASCII byte outside them is a
    // syntax error: requiring the whole payload to be UTF-8 accepts nothing serde refuses.
    // (Checking each string instead costs more: four calls on short strings.)
    let json = std::str::from_utf8(json).ok()?;
    let rest = json.strip_prefix(r#"{"exi":"#)?;
    let (exi, rest) = canonical_integer(rest)?;
    let rest = rest.strip_prefix(r#","exp":"#)?;
    let (exp, rest) = canonical_timestamp(rest)?;
    let rest = rest.strip_prefix(r#","iat":"#)?;
    let (iat, rest) = canonical_timestamp(rest)?;
    let rest = rest.strip_prefix(r#","iss":""#)?;
    let (iss, rest) = canonical_string(rest, issuer_len)?;
    let rest = rest.strip_prefix(r#","jti":""#)?;
    let (jti, rest) = canonical_string(rest, UUID_LEN)?;
    let rest = rest.strip_prefix(r#","sub":""#)?;
    // `usefor` comes last and has one of two values, so the subject is everything up to that
    // ending: its length is known without searching for its closing quote. A quote inside it
    // (which could make the ending part of the subject) fails the check below.
    let (sub, usefor) = [TokenUse::Access, TokenUse::Refresh]
        .into_iter()
        .find_map(|usefor| Some((rest.strip_suffix(payload_ending(usefor))?, usefor)))?;
    if !is_plain(sub.as_bytes()) {
        return None;
    }
    let usefor = usefor.as_str();
    Some(PayloadClaims {
        iss,
        sub,
        usefor,
        iat,
        exp,
        exi,
        nbf: None,
        jti,
    })
}

/// The end of a canonical payload after the subject, for each `usefor`.
const fn payload_ending(usefor: TokenUse) -> &'static str {
    match usefor {
        TokenUse::Access => r#"","usefor":"access"}"#,
        TokenUse::Refresh => r#"","usefor":"refresh"}"#,
    }
}

/// Whether `bytes` can be the contents of a JSON string as they are: no quote, no escape, no
/// control character. Without an early exit, so that it vectorises.
fn is_plain(bytes: &[u8]) -> bool {
    bytes.iter().fold(true, |plain, &b| {
        plain & (b != b'"') & (b != b'\\') & (b >= 0x20)
    })
}

/// [`canonical_integer`] for a number that usually has ten digits, as Unix times do from 2001
/// to 2286: `exp` and `iat`.
///
/// Ten digits are checked and read with straight-line code (the length is a constant, so the
/// loops unroll); counting the digits one branch at a time was most of the cost of reading the
/// integers, themselves a fifteenth of a verification (BENCHMARKS.md). Any other number is left
/// to `canonical_integer`: the answer is the same either way.
fn canonical_timestamp(input: &str) -> Option<(i64, &str)> {
    if let Some((digits, rest)) = input.as_bytes().split_first_chunk::<10>()
        && digits[0] != b'0'
        && digits.iter().fold(true, |all, b| all & b.is_ascii_digit())
        && rest.first().is_some_and(|b| !b.is_ascii_digit())
    {
        let value = digits
            .iter()
            .fold(0i64, |value, &b| value * 10 + i64::from(b - b'0'));
        // Ten ASCII digits: a character boundary.
        return Some((value, &input[digits.len()..]));
    }
    canonical_integer(input)
}

/// A non-negative JSON integer at the start of `input` (`0`, or digits not starting with `0`)
/// that fits an `i64`, and what follows it.
fn canonical_integer(input: &str) -> Option<(i64, &str)> {
    let bytes = input.as_bytes();
    let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || (bytes[0] == b'0' && digits > 1) {
        return None;
    }
    // Eighteen digits always fit an `i64`: only longer numbers need overflow checks, which
    // otherwise cost a branch per digit.
    let value = if digits <= 18 {
        bytes[..digits]
            .iter()
            .fold(0i64, |value, &b| value * 10 + i64::from(b - b'0'))
    } else {
        bytes[..digits].iter().try_fold(0i64, |value, &b| {
            value.checked_mul(10)?.checked_add(i64::from(b - b'0'))
        })?
    };
    Some((value, &input[digits..]))
}

/// The length of a hyphenated UUID, the `jti` of our tokens.
const UUID_LEN: usize = 36;

/// The contents of a JSON string at the start of `input` up to its closing quote (consumed),
/// if they have no escape and no control character; and what follows it.
///
/// `expected_len` is a guess at the length of the contents. Searching byte by byte for the
/// closing quote was a tenth of a verification (BENCHMARKS.md); when the guess is right, one
/// pass without an early exit (which vectorises) checks there is no earlier quote instead.
/// When it is wrong, the search runs: the answer is the same either way.
fn canonical_string(input: &str, expected_len: usize) -> Option<(&str, &str)> {
    let bytes = input.as_bytes();
    let end = if bytes.get(expected_len) == Some(&b'"') && is_plain(&bytes[..expected_len]) {
        expected_len
    } else {
        let end = bytes.iter().position(|&b| b == b'"')?;
        // An escape before the first quote may be escaping it: not ours to read.
        if !bytes[..end]
            .iter()
            .fold(true, |plain, &b| plain & (b != b'\\') & (b >= 0x20))
        {
            return None;
        }
        end
    };
    // `end` is at an ASCII byte, so a character boundary.
    let (contents, rest) = input.split_at(end);
    Some((contents, &rest[1..]))
}

/// A string that borrows from the input when it has no escapes, so that verifying one of our
/// own tokens copies nothing until the claims are handed out.
struct CowStr<'a>(Cow<'a, str>);

impl<'de> de::Deserialize<'de> for CowStr<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CowStrVisitor;
        impl<'de> Visitor<'de> for CowStrVisitor {
            type Value = CowStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(CowStrVisitor)
    }
}

/// Fills `slot` with the next value, refusing a member seen before (RFC 7515 §5.2 lets a
/// parser either reject duplicates or take the last one; taking any one is how a second
/// `usefor` smuggles a refresh token past a check that read the first).
fn fill<'de, A, T>(slot: &mut Option<T>, map: &mut A) -> Result<(), A::Error>
where
    A: MapAccess<'de>,
    T: de::Deserialize<'de>,
{
    if slot.is_some() {
        return Err(de::Error::custom("duplicate member"));
    }
    *slot = Some(map.next_value()?);
    Ok(())
}

/// The most members of a payload this crate does not know (and ignores, RFC 7519 §4) that are
/// tolerated; they are remembered only to refuse duplicates among them.
const MAX_UNKNOWN_CLAIMS: usize = 16;

/// The claims as they appear in the payload, before any check.
#[derive(Default)]
struct RawClaims<'a> {
    iss: Option<Cow<'a, str>>,
    sub: Option<Cow<'a, str>>,
    usefor: Option<Cow<'a, str>>,
    iat: Option<i64>,
    exp: Option<i64>,
    exi: Option<i64>,
    nbf: Option<i64>,
    jti: Option<Cow<'a, str>>,
}

impl RawClaims<'_> {
    /// The claims, if the payload has every one this crate issues.
    fn complete(&self) -> Option<PayloadClaims<'_>> {
        Some(PayloadClaims {
            iss: self.iss.as_deref()?,
            sub: self.sub.as_deref()?,
            usefor: self.usefor.as_deref()?,
            iat: self.iat?,
            exp: self.exp?,
            exi: self.exi?,
            nbf: self.nbf,
            jti: self.jti.as_deref()?,
        })
    }
}

impl<'de> de::Deserialize<'de> for RawClaims<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ClaimsVisitor;
        impl<'de> Visitor<'de> for ClaimsVisitor {
            type Value = RawClaims<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object of claims")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut raw = RawClaims::default();
                let cow = |slot: &mut Option<Cow<'de, str>>, map: &mut A| {
                    let mut value: Option<CowStr<'de>> = slot.take().map(CowStr);
                    fill(&mut value, map)?;
                    *slot = value.map(|v| v.0);
                    Ok::<_, A::Error>(())
                };
                let mut unknown: Vec<Cow<'de, str>> = Vec::new();
                while let Some(CowStr(key)) = map.next_key::<CowStr<'de>>()? {
                    match &*key {
                        "iss" => cow(&mut raw.iss, &mut map)?,
                        "sub" => cow(&mut raw.sub, &mut map)?,
                        "usefor" => cow(&mut raw.usefor, &mut map)?,
                        "jti" => cow(&mut raw.jti, &mut map)?,
                        "iat" => fill(&mut raw.iat, &mut map)?,
                        "exp" => fill(&mut raw.exp, &mut map)?,
                        "exi" => fill(&mut raw.exi, &mut map)?,
                        "nbf" => fill(&mut raw.nbf, &mut map)?,
                        // This crate issues no audience; a token that names one was meant for
                        // somebody else (RFC 7519 §4.1.3).
                        "aud" => return Err(de::Error::custom("aud is not accepted")),
                        _ => {
                            if unknown.contains(&key) || unknown.len() == MAX_UNKNOWN_CLAIMS {
                                return Err(de::Error::custom("duplicate or too many members"));
                            }
                            unknown.push(key);
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(raw)
            }
        }
        deserializer.deserialize_map(ClaimsVisitor)
    }
}

/// A header other than our own byte-for-byte ones that is still acceptable, and the key it names.
struct AcceptedHeader {
    kid: Option<String>,
}

impl<'de> de::Deserialize<'de> for AcceptedHeader {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct HeaderVisitor;
        impl<'de> Visitor<'de> for HeaderVisitor {
            type Value = AcceptedHeader;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JOSE header")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut alg: Option<CowStr<'de>> = None;
                let mut typ: Option<CowStr<'de>> = None;
                let mut kid: Option<CowStr<'de>> = None;
                while let Some(CowStr(key)) = map.next_key::<CowStr<'de>>()? {
                    match &*key {
                        "alg" => fill(&mut alg, &mut map)?,
                        "typ" => fill(&mut typ, &mut map)?,
                        // Only ever compared with the configured ids, never used as a path,
                        // a URL or a query (RFC 8725 §3.10).
                        "kid" => fill(&mut kid, &mut map)?,
                        // `crit`, `jwk`, `jku`, `x5u`, `x5c`, `cty`, ...: this crate uses
                        // none of them, so none is allowed to change how a token is read.
                        _ => return Err(de::Error::custom("header member not accepted")),
                    }
                }
                // The algorithm is pinned: RFC 8725 §3.1.
                if alg.is_none_or(|alg| alg.0 != "HS256") {
                    return Err(de::Error::custom("only HS256 is accepted"));
                }
                if typ.is_some_and(|typ| !typ.0.eq_ignore_ascii_case("JWT")) {
                    return Err(de::Error::custom("typ must be JWT"));
                }
                if kid.as_ref().is_some_and(|kid| kid.0.len() > MAX_KID_LEN) {
                    return Err(de::Error::custom("kid too long"));
                }
                Ok(AcceptedHeader {
                    kid: kid.map(|kid| kid.0.into_owned()),
                })
            }
        }
        deserializer.deserialize_map(HeaderVisitor)
    }
}

#[cfg(test)]
mod fast_path_tests {
    use super::*;

    /// Both parsers' reading of a payload, comparable: `None` when the parser refuses it or
    /// a claim is missing.
    fn serde(json: &[u8]) -> Option<String> {
        let raw = serde_json::from_slice::<RawClaims<'_>>(json).ok()?;
        raw.complete().map(|payload| format!("{payload:?}"))
    }

    fn fast(json: &[u8], issuer_len: usize) -> Option<String> {
        parse_canonical(json, issuer_len).map(|payload| format!("{payload:?}"))
    }

    /// The fast path must read a payload exactly as serde does, or leave it to serde.
    /// With the issuer's length guessed right, wrong and not at all (the other strings' guesses
    /// are fixed: a UUID's length and `"access"`'s).
    fn assert_agrees(json: &[u8]) {
        for issuer_len in [ISSUER_LEN, 1, 0] {
            if let Some(fast) = fast(json, issuer_len) {
                assert_eq!(
                    Some(fast),
                    serde(json),
                    "{:?}",
                    String::from_utf8_lossy(json)
                );
            }
        }
    }

    const ISSUER_LEN: usize = "datarhei-core".len();

    const CANONICAL: &[u8] = br#"{"exi":600,"exp":1700000600,"iat":1700000000,"iss":"datarhei-core","jti":"0b5e3a5c-8e1f-4b4e-9d3a-2f0f7a0c1d2e","sub":"admin","usefor":"access"}"#;

    #[test]
    fn issued_payload_takes_the_fast_path_and_reads_as_serde_reads_it() {
        let reading = fast(CANONICAL, ISSUER_LEN);
        assert_eq!(reading, fast(CANONICAL, 0));
        assert!(reading.is_some());
        assert_eq!(reading, serde(CANONICAL));
        let unicode = r#"{"exi":0,"exp":9223372036854775807,"iat":0,"iss":"r","jti":"j","sub":"zoë ☃","usefor":"refresh"}"#;
        assert!(parse_canonical(unicode.as_bytes(), ISSUER_LEN).is_some());
        assert_agrees(unicode.as_bytes());
    }

    #[test]
    fn anything_but_the_canonical_form_is_left_to_serde() {
        for json in [
            &br#"{"exi":600,"exp":1700000600,"iat":1700000000,"iss":"a\"b","jti":"j","sub":"s","usefor":"access"}"#[..],
            br#"{"exi":600,"exp":1700000600,"iat":1700000000,"iss":"a\u0041","jti":"j","sub":"s","usefor":"access"}"#,
            br#"{"exi":600,"exp":1700000600,"iat":1700000000,"iss":"i","jti":"j","sub":"s","usefor":"access","nbf":1}"#,
            br#"{"exi":600,"exp":1700000600,"iat":1700000000,"iss":"i","jti":"j","sub":"s","usefor":"access"} "#,
            br#"{"exi":600,"exp":-1,"iat":1700000000,"iss":"i","jti":"j","sub":"s","usefor":"access"}"#,
            br#"{"exi":600,"exp":01,"iat":1700000000,"iss":"i","jti":"j","sub":"s","usefor":"access"}"#,
            br#"{"exi":600,"exp":1e9,"iat":1700000000,"iss":"i","jti":"j","sub":"s","usefor":"access"}"#,
            br#"{"exi":600,"exp":9223372036854775808,"iat":0,"iss":"i","jti":"j","sub":"s","usefor":"access"}"#,
            b"{\"exi\":600,\"exp\":1,\"iat\":1,\"iss\":\"i\",\"jti\":\"j\",\"sub\":\"s\x01\",\"usefor\":\"access\"}",
            b"{\"exi\":600,\"exp\":1,\"iat\":1,\"iss\":\"i\",\"jti\":\"j\",\"sub\":\"\xff\",\"usefor\":\"access\"}",
            br#"{"exp":1,"exi":600,"iat":1,"iss":"i","jti":"j","sub":"s","usefor":"access"}"#,
        ] {
            assert!(
                [ISSUER_LEN, 1, 0]
                    .iter()
                    .all(|&issuer_len| parse_canonical(json, issuer_len).is_none()),
                "{:?}",
                String::from_utf8_lossy(json)
            );
        }
    }

    /// Every single-byte change, insertion and deletion of a canonical payload either takes the
    /// fast path to the same reading as serde, or is left to serde.
    #[test]
    fn fast_path_agrees_with_serde_on_every_mutation() {
        let replacements = b"0019-+.eE \\\"\x01\x7f,:{}[]an";
        for at in 0..=CANONICAL.len() {
            if at < CANONICAL.len() {
                let mut deleted = CANONICAL.to_vec();
                deleted.remove(at);
                assert_agrees(&deleted);
            }
            for &byte in replacements {
                let mut inserted = CANONICAL.to_vec();
                inserted.insert(at, byte);
                assert_agrees(&inserted);
                if at < CANONICAL.len() {
                    let mut replaced = CANONICAL.to_vec();
                    replaced[at] = byte;
                    assert_agrees(&replaced);
                }
            }
        }
    }
}

#[cfg(test)]
mod split_tests {
    use super::{split, split_general};
    use crate::keys::HEADER_B64;

    #[test]
    fn split_accepts_exactly_two_dots_around_non_empty_header_and_payload() {
        assert_eq!(split(b"h.p.s"), Some((&b"h"[..], &b"p"[..], &b"s"[..])));
        assert_eq!(split(b"h.p."), Some((&b"h"[..], &b"p"[..], &b""[..])));
        for token in [
            &b""[..],
            b"hps",
            b"h..s",
            b"h.\xff.s",
            b".",
            b"..",
            b"...",
            b"h.p.s.",
            b"h.p.s.x",
            b"h.p.q.s",
            b"h..p.s",
            b".p.s",
            b"h..s",
            b"h.\xff.s",
        ] {
            assert_eq!(split(token), None, "{:?}", String::from_utf8_lossy(token));
        }
    }

    /// The fast path of `split` answers exactly what the general search does, on genuine
    /// shapes (with the usual header length and others) and on every single-byte change and
    /// deletion of them.
    #[test]
    fn fast_split_agrees_with_the_general_search() {
        for header_len in [
            HEADER_B64.len(),
            20,
            HEADER_B64.len() - 1,
            HEADER_B64.len() + 1,
        ] {
            let token = format!(
                "{}.{}.{}",
                "h".repeat(header_len),
                "p".repeat(60),
                "s".repeat(43)
            );
            let token = token.as_bytes();
            assert!(split(token).is_some());
            for at in 0..token.len() {
                for byte in [b'.', b'a', b'\xff', b'\xc3', b' ', 0] {
                    let mut changed = token.to_vec();
                    changed[at] = byte;
                    assert_eq!(split(&changed), split_general(&changed), "{at} {byte}");
                    changed.remove(at);
                    assert_eq!(split(&changed), split_general(&changed), "{at} removed");
                }
            }
        }
        for token in [
            &b".p.sssssssssssssssssssssssssssssssssssssssssss"[..],
            b"h..sssssssssssssssssssssssssssssssssssssssssss",
            b"h.p.ss\xc3\xa9sssssssssssssssssssssssssssssssssssssss",
            b"hhhh.sssssssssssssssssss.sssssssssssssssssssssss",
        ] {
            assert_eq!(split(token), split_general(token), "{token:?}");
        }
    }
}
