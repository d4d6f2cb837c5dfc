use super::{TokenUse, base64url};
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
    /// The issuer as a JSON string (quoted and escaped), written once here rather than per token.
    issuer_json: Box<str>,
}

impl TokenIssuer {
    pub(crate) fn new(key: HmacKey, issuer: &str) -> Self {
        let issuer_json = serde_json::to_string(issuer).expect("serialising a string");
        Self {
            key,
            issuer_json: issuer_json.into(),
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
        let jti = uuid.encode_lower(&mut jti);
        let mut json = Vec::with_capacity(160 + self.issuer_json.len() + sub.len());
        write_payload(
            &mut json,
            &Payload {
                exi: lifetime,
                exp: now.saturating_add(lifetime),
                iat: now,
                iss_json: &self.issuer_json,
                jti,
                sub,
                usefor,
            },
        );

        let header = self.key.header_b64();
        let mut token = Vec::with_capacity(
            header.len() + 1 + base64url::encoded_len(json.len()) + 1 + base64url::encoded_len(32),
        );
        token.extend_from_slice(header.as_bytes());
        token.push(b'.');
        base64url::encode_into(&json, &mut token);
        let tag = self.key.sign(&token);
        token.push(b'.');
        base64url::encode_into(&tag, &mut token);
        Issued {
            token: String::from_utf8(token).expect("base64url and the header are ASCII"),
            jti: uuid,
            exp: now.saturating_add(lifetime),
        }
    }
}

/// The claims of a new token.
struct Payload<'a> {
    exi: i64,
    exp: i64,
    iat: i64,
    /// Already a JSON string.
    iss_json: &'a str,
    /// A hyphenated UUID: nothing to escape.
    jti: &'a str,
    sub: &'a str,
    usefor: TokenUse,
}

/// Writes the payload as datarhei Core does: a JSON object, members in alphabetical order, no
/// whitespace.
///
/// By hand rather than with a derived `Serialize`: serde_json spent a fifth of issuing a pair
/// on the member names and the fixed strings (BENCHMARKS.md). Only the subject, which comes from
/// a request, goes through serde_json, for its string escaping; a test checks the output is byte
/// for byte what the derived serialisation wrote.
fn write_payload(json: &mut Vec<u8>, payload: &Payload<'_>) {
    json.extend_from_slice(br#"{"exi":"#);
    write_integer(json, payload.exi);
    json.extend_from_slice(br#","exp":"#);
    write_integer(json, payload.exp);
    json.extend_from_slice(br#","iat":"#);
    write_integer(json, payload.iat);
    json.extend_from_slice(br#","iss":"#);
    json.extend_from_slice(payload.iss_json.as_bytes());
    json.extend_from_slice(br#","jti":""#);
    json.extend_from_slice(payload.jti.as_bytes());
    json.extend_from_slice(br#"","sub":"#);
    serde_json::to_writer(&mut *json, payload.sub).expect("writing a string to a Vec");
    json.extend_from_slice(br#","usefor":""#);
    json.extend_from_slice(payload.usefor.as_str().as_bytes());
    json.extend_from_slice(br#""}"#);
}

/// Writes `value` in decimal, as JSON (and serde_json) writes an integer.
fn write_integer(json: &mut Vec<u8>, value: i64) {
    // i64::MIN has 19 digits and a sign.
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = value.unsigned_abs();
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if value < 0 {
        json.push(b'-');
    }
    json.extend_from_slice(&digits[at..]);
}

#[cfg(test)]
mod tests {
    use serde::Serialize;

    use super::*;

    /// The derived serialisation the hand-written one replaced.
    #[derive(Serialize)]
    struct Derived<'a> {
        exi: i64,
        exp: i64,
        iat: i64,
        iss: &'a str,
        jti: &'a str,
        sub: &'a str,
        usefor: &'static str,
    }

    #[test]
    fn payload_is_byte_for_byte_what_serde_json_writes() {
        let strings = [
            "admin",
            "",
            "zoë ☃ 𝄞",
            "quote\" backslash\\ slash/",
            "control \u{0} \u{1f} \u{7f} \n\t\r\u{8}\u{c}",
            "\u{2028}\u{2029}</script>",
        ];
        let integers = [
            0,
            1,
            9,
            10,
            600,
            1_700_000_000,
            -1,
            -600,
            i64::MAX,
            i64::MIN,
        ];
        for (i, sub) in strings.iter().enumerate() {
            for (j, &exi) in integers.iter().enumerate() {
                let iss = strings[(i + j) % strings.len()];
                let (exp, iat) = (integers[(j + 3) % integers.len()], integers[(j + 7) % 10]);
                let usefor = if j % 2 == 0 {
                    TokenUse::Access
                } else {
                    TokenUse::Refresh
                };
                let jti = "0b5e3a5c-8e1f-4b4e-9d3a-2f0f7a0c1d2e";
                let iss_json = serde_json::to_string(iss).unwrap();
                let mut ours = Vec::new();
                write_payload(
                    &mut ours,
                    &Payload {
                        exi,
                        exp,
                        iat,
                        iss_json: &iss_json,
                        jti,
                        sub,
                        usefor,
                    },
                );
                let derived = serde_json::to_vec(&Derived {
                    exi,
                    exp,
                    iat,
                    iss,
                    jti,
                    sub,
                    usefor: usefor.as_str(),
                })
                .unwrap();
                assert_eq!(
                    String::from_utf8(ours).unwrap(),
                    String::from_utf8(derived).unwrap()
                );
            }
        }
    }
}
