//! Unpadded base64url (RFC 4648 §5), the only encoding a compact JWS uses: strict decoding, and
//! encoding.
//!
//! Written here rather than taken from the `base64` crate because it is on the path of every
//! protected request: the crate's general-purpose engine checks each character with a branch and
//! decodes the tail separately, and was a fifth of a verification (BENCHMARKS.md). This decoder
//! decodes four characters per step with four table lookups ORed together (each table holds a
//! character's bits already shifted into place), folds the validity of every character into one
//! value checked at the end, and has no `unsafe`. It accepts exactly what the `base64`
//! crate's `URL_SAFE_NO_PAD` accepts (a test compares the two): the URL-safe alphabet only, no
//! padding, no whitespace, no length of the form `4n + 1`, and the unused low bits of the last
//! character zero, so that every byte string has exactly one encoding.

/// The base64url alphabet: the character of each six-bit value.
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Marks a byte outside the alphabet: a bit no valid character sets, so that an invalid
/// character shows in the OR of all the words decoded.
const INVALID: u32 = 1 << 24;

/// For each of the four positions in a group of four characters, each byte's contribution to
/// the three decoded bytes, already shifted into place (little-endian: decoded byte `i` is bits
/// `8i..8i+8`), or [`INVALID`]. Looking up the four and ORing them decodes a group.
static DECODE: [[u32; 256]; 4] = {
    let alphabet = ALPHABET;
    let mut tables = [[INVALID; 256]; 4];
    let mut i = 0;
    while i < 64 {
        let ch = alphabet[i] as usize;
        let v = i as u32;
        // Byte 0 is aaaaaabb, byte 1 bbbbcccc, byte 2 ccdddddd.
        tables[0][ch] = v << 2;
        tables[1][ch] = (v >> 4) | (v & 0x0F) << 12;
        tables[2][ch] = (v >> 2) << 8 | (v & 0x03) << 22;
        tables[3][ch] = v << 16;
        i += 1;
    }
    tables
};

/// The bits of the second of two final characters that no decoded byte takes.
const UNUSED_OF_TWO: u32 = 0x0F << 12;
/// The bits of the third of three final characters that no decoded byte takes.
const UNUSED_OF_THREE: u32 = 0x03 << 22;

/// Decodes a group of four characters into the low three bytes of a word.
#[inline]
fn group(chars: &[u8]) -> u32 {
    DECODE[0][usize::from(chars[0])]
        | DECODE[1][usize::from(chars[1])]
        | DECODE[2][usize::from(chars[2])]
        | DECODE[3][usize::from(chars[3])]
}

/// How many bytes `encoded_len` characters decode to, or `None` for a length no canonical
/// encoding has (`4n + 1`).
pub(crate) const fn decoded_len(encoded_len: usize) -> Option<usize> {
    match encoded_len % 4 {
        1 => None,
        0 => Some(encoded_len / 4 * 3),
        rem => Some(encoded_len / 4 * 3 + rem - 1),
    }
}

/// Decodes `input` into the start of `out`, answering how many bytes were written; `None` if
/// `input` is not canonical unpadded base64url or `out` is too short (nothing meaningful is left
/// in `out` then).
pub(crate) fn decode(input: &[u8], out: &mut [u8]) -> Option<usize> {
    let len = decoded_len(input.len())?;
    let out = out.get_mut(..len)?;
    let (quads, tail) = input.split_at(input.len() / 4 * 4);
    let (out_quads, out_tail) = out.split_at_mut(quads.len() / 4 * 3);
    // The OR of every decoded word: it has `INVALID` set if any character was invalid.
    let mut seen = 0u32;
    // Eight characters (six bytes) per step: two groups, one store.
    let mut octets = quads.chunks_exact(8);
    let mut out_octets = out_quads.chunks_exact_mut(6);
    for (chars, bytes) in (&mut octets).zip(&mut out_octets) {
        let low = group(&chars[..4]);
        let high = group(&chars[4..]);
        seen |= low | high;
        let word = u64::from(low) | u64::from(high) << 24;
        bytes.copy_from_slice(&word.to_le_bytes()[..6]);
    }
    // A group of four left over (the length of `quads` is a multiple of four).
    if !octets.remainder().is_empty() {
        let word = group(octets.remainder());
        seen |= word;
        out_octets
            .into_remainder()
            .copy_from_slice(&word.to_le_bytes()[..3]);
    }
    // Two or three characters left carry one or two bytes; the bits of the last character that
    // fall past them must be zero, so that no two encodings decode alike.
    let canonical_tail = match *tail {
        [] => true,
        [a, b] => {
            let word = DECODE[0][usize::from(a)] | DECODE[1][usize::from(b)];
            seen |= word;
            out_tail[0] = word.to_le_bytes()[0];
            word & UNUSED_OF_TWO == 0
        }
        [a, b, c] => {
            let word =
                DECODE[0][usize::from(a)] | DECODE[1][usize::from(b)] | DECODE[2][usize::from(c)];
            seen |= word;
            out_tail.copy_from_slice(&word.to_le_bytes()[..2]);
            word & UNUSED_OF_THREE == 0
        }
        _ => unreachable!("fewer than four characters are left"),
    };
    (seen & INVALID == 0 && canonical_tail).then_some(len)
}

/// How many characters encode `len` bytes.
pub(crate) const fn encoded_len(len: usize) -> usize {
    len / 3 * 4 + [0, 2, 3][len % 3]
}

/// Appends the unpadded base64url encoding of `bytes` to `out`.
///
/// Written here for the same reason as [`decode`]: the `base64` crate's encoder went through a
/// scalar tail for most of a token's payload, a sixth of issuing a pair (BENCHMARKS.md).
pub(crate) fn encode_into(bytes: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    out.resize(start + encoded_len(bytes.len()), 0);
    let out = &mut out[start..];
    let (groups, tail) = bytes.split_at(bytes.len() / 3 * 3);
    let (out_groups, out_tail) = out.split_at_mut(groups.len() / 3 * 4);
    let char_of = |word: u32, shift: u32| ALPHABET[(word >> shift) as usize & 0x3F];
    for (group, chars) in groups.chunks_exact(3).zip(out_groups.chunks_exact_mut(4)) {
        let word = u32::from(group[0]) << 16 | u32::from(group[1]) << 8 | u32::from(group[2]);
        chars.copy_from_slice(&[
            char_of(word, 18),
            char_of(word, 12),
            char_of(word, 6),
            char_of(word, 0),
        ]);
    }
    match *tail {
        [] => {}
        [a] => {
            let word = u32::from(a) << 16;
            out_tail.copy_from_slice(&[char_of(word, 18), char_of(word, 12)]);
        }
        [a, b] => {
            let word = u32::from(a) << 16 | u32::from(b) << 8;
            out_tail.copy_from_slice(&[char_of(word, 18), char_of(word, 12), char_of(word, 6)]);
        }
        _ => unreachable!("fewer than three bytes are left"),
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    /// Ours, as an owned vector.
    fn ours(input: &[u8]) -> Option<Vec<u8>> {
        let mut out = vec![0u8; input.len()];
        decode(input, &mut out).map(|len| out[..len].to_vec())
    }

    fn reference(input: &[u8]) -> Option<Vec<u8>> {
        URL_SAFE_NO_PAD.decode(input).ok()
    }

    #[test]
    fn decodes_what_the_base64_crate_encodes() {
        let data: Vec<u8> = (0..=255).collect();
        for len in 0..data.len() {
            let encoded = URL_SAFE_NO_PAD.encode(&data[..len]);
            assert_eq!(ours(encoded.as_bytes()).as_deref(), Some(&data[..len]));
        }
    }

    #[test]
    fn agrees_with_the_base64_crate_on_every_short_input() {
        // Every string of up to four characters over the alphabet's edges, padding, the
        // standard alphabet's `+` and `/`, whitespace, a dot and non-ASCII: the tails, where
        // the canonical-bits rule lives.
        let chars = b"AQgwBPfv_-9+/= .\xff\x00";
        let mut inputs = vec![Vec::new()];
        for _ in 0..4 {
            let mut longer = Vec::new();
            for input in &inputs {
                for &ch in chars {
                    let mut next: Vec<u8> = input.clone();
                    next.push(ch);
                    longer.push(next);
                }
            }
            inputs.extend(longer);
            inputs.sort();
            inputs.dedup();
        }
        for input in &inputs {
            assert_eq!(ours(input), reference(input), "{input:?}");
        }
    }

    #[test]
    fn agrees_with_the_base64_crate_on_every_mutation_of_a_token_segment() {
        let encoded = URL_SAFE_NO_PAD.encode(br#"{"exi":600,"sub":"zo\u00eb","usefor":"access"}"#);
        let encoded = encoded.as_bytes();
        for at in 0..encoded.len() {
            for byte in 0..=255u8 {
                let mut replaced = encoded.to_vec();
                replaced[at] = byte;
                assert_eq!(ours(&replaced), reference(&replaced), "{at} {byte}");
            }
            let mut deleted = encoded.to_vec();
            deleted.remove(at);
            assert_eq!(ours(&deleted), reference(&deleted), "deleted {at}");
        }
    }

    #[test]
    fn encodes_as_the_base64_crate_does_and_decodes_back() {
        // Bytes of every value, at every length up to 300, after a prefix already in the buffer.
        let data: Vec<u8> = (0..300u32).map(|i| (i * 167 + 13) as u8).collect();
        for len in 0..data.len() {
            let mut out = b"prefix.".to_vec();
            encode_into(&data[..len], &mut out);
            let encoded = &out[b"prefix.".len()..];
            assert_eq!(encoded, URL_SAFE_NO_PAD.encode(&data[..len]).as_bytes());
            assert_eq!(encoded.len(), encoded_len(len));
            assert_eq!(ours(encoded).as_deref(), Some(&data[..len]));
        }
    }

    #[test]
    fn a_short_output_buffer_is_refused_not_overrun() {
        assert_eq!(decode(b"AAAA", &mut [0u8; 2]), None);
        assert_eq!(decode(b"AAAA", &mut [0u8; 3]), Some(3));
        assert_eq!(decoded_len(5), None);
        assert_eq!(decoded_len(43), Some(32));
    }
}
