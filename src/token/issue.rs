use base64::Engine as _;
use serde::Serialize;

use super::{BASE64URL, TokenUse};
use crate::family::FamilyId;
use crate::grant::Grant;
use crate::keys::HmacKey;

/// A token just issued, with the claims the store needs of it.
#[derive(Debug)]
pub(crate) struct Issued {
    pub(crate) token: String,
    pub(crate) jti: uuid::fmt::Hyphenated,
    pub(crate) exp: i64,
}

/// A token that was not issued: it would have been longer than the configured maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooLarge {
    pub(crate) len: usize,
    pub(crate) max: usize,
}

impl std::fmt::Display for TooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the token would be {} bytes long, more than the maximum token size of {} bytes",
            self.len, self.max
        )
    }
}

/// Signs new tokens with the current key.
#[derive(Debug)]
pub(crate) struct TokenIssuer {
    key: HmacKey,
    issuer: Box<str>,
    max_len: usize,
}

/// The claims of a new token, written as datarhei Core writes them: members in alphabetical
/// order (the order of the fields), no whitespace; `scope` only when there are scopes, so that
/// a token without them has exactly datarhei's claims. Custom claims follow.
#[derive(Serialize)]
struct Payload<'a> {
    exi: i64,
    exp: i64,
    iat: i64,
    iss: &'a str,
    jti: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    scope: &'a str,
    sub: &'a str,
    usefor: &'static str,
}

/// The length of an HS256 signature in base64url.
const SIGNATURE_LEN: usize = 43;

impl TokenIssuer {
    /// Signs with `key` as `issuer`, tokens of at most `max_len` bytes.
    pub(crate) fn new(key: HmacKey, issuer: &str, max_len: usize) -> Self {
        Self {
            key,
            issuer: issuer.into(),
            max_len,
        }
    }

    /// Issues a token of login `family` with what `grant` says, valid for `lifetime` seconds
    /// from `now`; refused if it would be longer than the maximum token size.
    pub(crate) fn issue(
        &self,
        grant: &Grant<'_>,
        usefor: TokenUse,
        family: FamilyId,
        lifetime: i64,
        now: i64,
    ) -> Result<Issued, TooLarge> {
        let uuid = family.new_jti().hyphenated();
        let mut jti = uuid::Uuid::encode_buffer();
        let exp = now.saturating_add(lifetime);
        let payload = Payload {
            exi: lifetime,
            exp,
            iat: now,
            iss: &self.issuer,
            jti: uuid.encode_lower(&mut jti),
            scope: grant.scope,
            sub: grant.sub,
            usefor: usefor.as_str(),
        };
        let custom = grant.custom.unwrap_or_default();
        // No regrowth.
        let mut json = Vec::with_capacity(
            160 + self.issuer.len() + grant.sub.len() + grant.scope.len() + custom.len(),
        );
        serde_json::to_writer(&mut json, &payload).expect("serialising strings and integers");
        // `{"a":1}` joins `{...,"usefor":"access"}` as `{...,"usefor":"access","a":1}`.
        if let Some(members) = custom.strip_prefix('{').filter(|m| *m != "}") {
            json.pop();
            json.push(b',');
            json.extend_from_slice(members.as_bytes());
        }

        let header = self.key.header_b64();
        // Unpadded base64url: four characters per three bytes, rounded up.
        let len = header.len() + 1 + (json.len() * 4).div_ceil(3) + 1 + SIGNATURE_LEN;
        if len > self.max_len {
            return Err(TooLarge {
                len,
                max: self.max_len,
            });
        }
        let mut token = String::with_capacity(len);
        token.push_str(header);
        token.push('.');
        BASE64URL.encode_string(&json, &mut token);
        let tag = self.key.sign(token.as_bytes());
        token.push('.');
        BASE64URL.encode_string(tag, &mut token);
        debug_assert_eq!(token.len(), len);
        Ok(Issued {
            token,
            jti: uuid,
            exp,
        })
    }
}
