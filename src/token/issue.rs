use base64::Engine as _;
use serde::Serialize;

use super::{BASE64URL, TokenUse};
use crate::family::FamilyId;
use crate::keys::HmacKey;

/// A token just issued, with the claims the store needs of it.
#[derive(Debug)]
pub(crate) struct Issued {
    pub(crate) token: String,
    pub(crate) jti: uuid::fmt::Hyphenated,
    pub(crate) exp: i64,
}

/// Signs new tokens with the current key.
#[derive(Debug)]
pub(crate) struct TokenIssuer {
    key: HmacKey,
    issuer: Box<str>,
}

/// The claims of a new token, written as datarhei Core writes them: members in alphabetical
/// order (the order of the fields), no whitespace.
#[derive(Serialize)]
struct Payload<'a> {
    exi: i64,
    exp: i64,
    iat: i64,
    iss: &'a str,
    jti: &'a str,
    sub: &'a str,
    usefor: &'static str,
}

impl TokenIssuer {
    pub(crate) fn new(key: HmacKey, issuer: &str) -> Self {
        Self {
            key,
            issuer: issuer.into(),
        }
    }

    /// Issues a token of login `family` for `sub`, valid for `lifetime` seconds from `now`.
    pub(crate) fn issue(
        &self,
        sub: &str,
        usefor: TokenUse,
        family: FamilyId,
        lifetime: i64,
        now: i64,
    ) -> Issued {
        let uuid = family.new_jti().hyphenated();
        let mut jti = uuid::Uuid::encode_buffer();
        let exp = now.saturating_add(lifetime);
        let payload = Payload {
            exi: lifetime,
            exp,
            iat: now,
            iss: &self.issuer,
            jti: uuid.encode_lower(&mut jti),
            sub,
            usefor: usefor.as_str(),
        };
        let mut json = Vec::with_capacity(160 + self.issuer.len() + sub.len()); // No regrowth.
        serde_json::to_writer(&mut json, &payload).expect("serialising strings and integers");

        let header = self.key.header_b64();
        let mut token = String::with_capacity(header.len() + json.len() / 3 * 4 + 50);
        token.push_str(header);
        token.push('.');
        BASE64URL.encode_string(&json, &mut token);
        let tag = self.key.sign(token.as_bytes());
        token.push('.');
        BASE64URL.encode_string(tag, &mut token);
        Issued {
            token,
            jti: uuid,
            exp,
        }
    }
}
