use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;

use super::TokenUse;
use crate::keys::HmacKey;

/// Signs new tokens with the current key.
#[derive(Debug)]
pub(crate) struct TokenIssuer {
    key: HmacKey,
    issuer: Box<str>,
}

/// The payload as it is written: members in alphabetical order, as datarhei Core writes them.
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

    /// Issues a token for `sub`, valid for `lifetime` seconds from `now`.
    pub(crate) fn issue(&self, sub: &str, usefor: TokenUse, lifetime: i64, now: i64) -> String {
        let mut jti = uuid::Uuid::encode_buffer();
        let jti = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut jti);
        let payload = Payload {
            exi: lifetime,
            exp: now.saturating_add(lifetime),
            iat: now,
            iss: &self.issuer,
            jti,
            sub,
            usefor: usefor.as_str(),
        };
        // Claims are small; 256 bytes covers them without a reallocation for usual names.
        let mut json = Vec::with_capacity(256);
        serde_json::to_writer(&mut json, &payload).expect("serialising strings and integers");

        let header = self.key.header_b64();
        let mut token = String::with_capacity(header.len() + json.len() * 4 / 3 + 48);
        token.push_str(header);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&json, &mut token);
        let tag = self.key.sign(token.as_bytes());
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(tag, &mut token);
        token
    }
}
