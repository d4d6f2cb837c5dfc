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

        // Encoded in place with `encode_slice`: `encode_string` goes through a chunked encoder
        // whose scalar tail took 15% of issuing a pair (BENCHMARKS.md).
        let header = self.key.header_b64();
        let payload_len = base64::encoded_len(json.len(), false).expect("claims are small");
        let signature_len = base64::encoded_len(32, false).expect("32 bytes");
        let mut token = Vec::with_capacity(header.len() + 1 + payload_len + 1 + signature_len);
        token.extend_from_slice(header.as_bytes());
        token.push(b'.');
        append_base64(&mut token, &json, payload_len);
        let tag = self.key.sign(&token);
        token.push(b'.');
        append_base64(&mut token, &tag, signature_len);
        String::from_utf8(token).expect("base64url and the header are ASCII")
    }
}

/// Appends the unpadded base64url encoding of `bytes`, `encoded_len` characters long.
fn append_base64(out: &mut Vec<u8>, bytes: &[u8], encoded_len: usize) {
    let start = out.len();
    out.resize(start + encoded_len, 0);
    let written = URL_SAFE_NO_PAD
        .encode_slice(bytes, &mut out[start..])
        .expect("room for exactly the encoded length");
    debug_assert_eq!(written, encoded_len);
}
