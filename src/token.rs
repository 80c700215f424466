//! The token format (docs/DESIGN.md, "Token"): `PREFIX SECRET CHECK SLOT`.
//!
//! - `SECRET`: 256 bits from the OS CSPRNG, base62, 43 chars;
//! - `CHECK`: CRC32 of `PREFIX SECRET`, base62, 6 chars, so that a typo or a
//!   scanner's false positive is rejected before any key is read;
//! - `SLOT`: 3 base62 chars that put the whole token on its user's cluster slot.
//!
//! Pure: no Redis here. The stored form is `digest()`, never the token.

use sha2::{Digest as _, Sha256};

use crate::slot::{self, BASE62, TAG_LEN};

pub const SECRET_LEN: usize = 43;
pub const CHECK_LEN: usize = 6;
pub const MAX_PREFIX_LEN: usize = 32;
/// Bytes of SHA-256 kept: 120 bits still cost 2^120 to invert, and with
/// them a token entry's key name (30 bytes) fits Redis's 32-byte
/// allocation class instead of the 48-byte one.
pub const DIGEST_LEN: usize = 15;

pub type Digest = [u8; DIGEST_LEN];

/// A token prefix: `[A-Za-z0-9_]`, at most 32 chars (may be empty).
pub fn valid_prefix(prefix: &[u8]) -> bool {
    prefix.len() <= MAX_PREFIX_LEN && all_class(prefix, 2)
}

/// Character classes by byte: bit 0 = base62, bit 1 = prefix (`_` too).
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        if b.is_ascii_alphanumeric() {
            t[c] = 3;
        } else if b == b'_' {
            t[c] = 2;
        }
        c += 1;
    }
    t
};

/// Whether every byte has class `bit`: one table lookup per byte, folded
/// without early exit (the hot path of VERIFY checks every token).
fn all_class(bytes: &[u8], bit: u8) -> bool {
    bytes.iter().fold(bit, |acc, &c| acc & CLASS[c as usize]) == bit
}

/// The 43 base62 digits (most significant first) of a 256-bit big-endian
/// number. Long division by 62^5 on 32-bit limbs: a few hundred cheap
/// operations, where digit-by-digit division costs tens of thousands.
fn base62_secret(secret: &[u8; 32]) -> [u8; SECRET_LEN] {
    const CHUNK: u64 = 62u64.pow(5); // < 2^32
    let mut limbs = [0u32; 8];
    for (limb, bytes) in limbs.iter_mut().zip(secret.chunks_exact(4)) {
        *limb = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    }
    // 9 chunks of 5 digits = 45 >= 43; the top two digits are always 0.
    let mut digits = [b'0'; 45];
    for chunk in (0..9).rev() {
        let mut rem = 0u64;
        for limb in limbs.iter_mut() {
            let cur = (rem << 32) | *limb as u64;
            *limb = (cur / CHUNK) as u32;
            rem = cur % CHUNK;
        }
        for pos in (chunk * 5..chunk * 5 + 5).rev() {
            digits[pos] = BASE62[(rem % 62) as usize];
            rem /= 62;
        }
    }
    let mut out = [0u8; SECRET_LEN];
    out.copy_from_slice(&digits[45 - SECRET_LEN..]);
    out
}

/// CRC32 in 6 base62 digits (62^6 > 2^32), without allocating: VERIFY
/// computes it for every token.
fn check_chars(head: &[u8]) -> [u8; CHECK_LEN] {
    let mut crc = crc32fast::hash(head);
    let mut out = [b'0'; CHECK_LEN];
    for digit in out.iter_mut().rev() {
        *digit = BASE62[(crc % 62) as usize];
        crc /= 62;
    }
    out
}

/// A new token for a user on `slot`, from 32 bytes of OS randomness.
pub fn generate(prefix: &[u8], slot: u16) -> Result<Vec<u8>, getrandom::Error> {
    let mut secret = [0u8; 32];
    getrandom::getrandom(&mut secret)?;
    Ok(from_secret(prefix, &secret, slot))
}

/// The token for given secret bytes (deterministic; `generate` feeds it).
pub fn from_secret(prefix: &[u8], secret: &[u8; 32], slot: u16) -> Vec<u8> {
    let mut token = Vec::with_capacity(prefix.len() + SECRET_LEN + CHECK_LEN + TAG_LEN);
    token.extend_from_slice(prefix);
    token.extend_from_slice(&base62_secret(secret));
    let check = check_chars(&token);
    token.extend_from_slice(&check);
    let suffix = slot::suffix_for(&token, slot);
    token.extend_from_slice(&suffix);
    token
}

/// Whether `token` is well formed: any valid prefix, 43 base62 chars, a
/// matching CRC32, and a slot suffix that `from_secret` could have made.
/// Reads no key.
///
/// The CRC32 covers prefix and secret. The suffix cannot be inside it (it
/// is chosen after, to fix the CRC16 of the whole token), so it is checked
/// for being the table's suffix for the slot it gives: that rejects about
/// half of all one-character typos in the last three characters; the
/// others cost one digest and one key lookup, as an unknown token does
/// (docs/DESIGN.md, "Token").
pub fn well_formed(token: &[u8]) -> bool {
    let fixed = SECRET_LEN + CHECK_LEN + TAG_LEN;
    if token.len() < fixed || token.len() > fixed + MAX_PREFIX_LEN {
        return false;
    }
    let prefix_len = token.len() - fixed;
    let (head, rest) = token.split_at(prefix_len + SECRET_LEN);
    let (check, suffix) = rest.split_at(CHECK_LEN);
    all_class(&head[..prefix_len], 2)
        && all_class(&head[prefix_len..], 1)
        && all_class(rest, 1)
        && check == check_chars(head)
        && slot::is_canonical_suffix(suffix)
}

/// A token that passed `well_formed`, checked once at the command
/// boundary: its slot and digest are only asked of checked tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WellFormed<'a>(&'a [u8]);

impl<'a> WellFormed<'a> {
    pub fn check(token: &'a [u8]) -> Option<Self> {
        well_formed(token).then_some(WellFormed(token))
    }

    pub fn slot(self) -> u16 {
        slot_of(self.0)
    }

    pub fn digest(self) -> Digest {
        digest(self.0)
    }
}

/// What is stored for a token: the first 120 bits of SHA-256(token).
pub fn digest(token: &[u8]) -> Digest {
    let full = Sha256::digest(token);
    let mut out = [0u8; DIGEST_LEN];
    out.copy_from_slice(&full[..DIGEST_LEN]);
    out
}

/// The cluster slot of a well-formed token, as `CLUSTER KEYSLOT` computes
/// it: a token has no `{`, so no hash tag to look for.
pub fn slot_of(token: &[u8]) -> u16 {
    slot::crc16(token) & (slot::SLOTS as u16 - 1)
}

/// The public, non-secret id of a token shown by `MTOKEN.LIST`: the digest in hex.
pub fn id_of(digest: &Digest) -> Vec<u8> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = Vec::with_capacity(DIGEST_LEN * 2);
    for b in digest {
        out.push(HEX[(b >> 4) as usize]);
        out.push(HEX[(b & 15) as usize]);
    }
    out
}

/// The digest an id names, or `None` when it is not 30 hex chars.
pub fn digest_from_id(id: &[u8]) -> Option<Digest> {
    if id.len() != DIGEST_LEN * 2 {
        return None;
    }
    let nibble = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = [0u8; DIGEST_LEN];
    for (i, pair) in id.chunks(2).enumerate() {
        out[i] = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slot::key_slot;

    fn sample(slot: u16) -> Vec<u8> {
        generate(b"mt_", slot).expect("os randomness")
    }

    #[test]
    fn generated_token_has_the_documented_shape() {
        let t = sample(42);
        assert_eq!(t.len(), 3 + SECRET_LEN + CHECK_LEN + TAG_LEN);
        assert!(t.starts_with(b"mt_"));
        assert!(t[3..].iter().all(|c| c.is_ascii_alphanumeric()));
        assert!(well_formed(&t));
    }

    #[test]
    fn generated_token_lands_on_the_requested_slot() {
        for slot in (0..16384u16).step_by(97).chain([0, 16383]) {
            let t = sample(slot);
            assert_eq!(key_slot(&t), slot);
            assert_eq!(slot_of(&t), slot);
        }
    }

    #[test]
    fn token_slot_equals_user_slot_including_hash_tags() {
        let users: [&[u8]; 5] = [
            b"42",
            b"alice@example.com",
            b"{tenant1}:bob",
            b"x{}y",
            b"\x00\xff{\x01}",
        ];
        for user in users {
            let t = sample(key_slot(user));
            assert_eq!(key_slot(&t), key_slot(user));
        }
    }

    #[test]
    fn secrets_differ_between_calls() {
        assert_ne!(sample(1), sample(1));
    }

    #[test]
    fn secret_digits_are_the_base62_number() {
        // 1 -> "0...01"; 62 -> "0...10"; 2^256-1 -> a known top digit.
        let mut one = [0u8; 32];
        one[31] = 1;
        assert_eq!(&base62_secret(&one)[40..], b"001");
        let mut sixty_two = [0u8; 32];
        sixty_two[31] = 62;
        assert_eq!(&base62_secret(&sixty_two)[40..], b"010");
        // Check the whole conversion against a slow reference.
        let x: [u8; 32] = core::array::from_fn(|i| (i as u8).wrapping_mul(151).wrapping_add(7));
        let mut num = x.to_vec();
        let mut want = [b'0'; SECRET_LEN];
        for pos in (0..SECRET_LEN).rev() {
            let mut rem = 0u32;
            for byte in num.iter_mut() {
                let cur = (rem << 8) | *byte as u32;
                *byte = (cur / 62) as u8;
                rem = cur % 62;
            }
            want[pos] = BASE62[rem as usize];
        }
        assert!(num.iter().all(|&b| b == 0), "43 digits hold 256 bits");
        assert_eq!(base62_secret(&x), want);
    }

    #[test]
    fn secret_encodes_all_256_bits() {
        let max = from_secret(b"", &[0xff; 32], 0);
        let zero = from_secret(b"", &[0; 32], 0);
        assert_eq!(&zero[..SECRET_LEN], &[b'0'; SECRET_LEN][..]);
        assert_ne!(&max[..SECRET_LEN], &zero[..SECRET_LEN]);
        // 62^43 > 2^256: the top digit of the largest secret is small but set.
        assert!(max[0] != b'0');
    }

    #[test]
    fn shorter_longer_or_altered_tokens_are_rejected() {
        let t = sample(7);
        assert!(!well_formed(&t[1..]));
        assert!(!well_formed(&t[..t.len() - 1]));
        let mut longer = t.clone();
        longer.push(b'a');
        // A longer token parses with a longer prefix, whose checksum fails.
        assert!(!well_formed(&longer));
        // Every single-character change in prefix, secret or check is caught.
        let checked = t.len() - TAG_LEN;
        for i in 0..checked {
            let mut bad = t.clone();
            bad[i] = if bad[i] == b'a' { b'b' } else { b'a' };
            assert!(!well_formed(&bad), "position {i}");
        }
    }

    #[test]
    fn altered_slot_chars_are_rejected_or_move_slot() {
        // The canonical-suffix check rejects some changes of a slot char;
        // any other change gives a token of another slot (whose digest is
        // on no entry there), never a second token of the same slot.
        let mut accepted = 0;
        for _ in 0..20 {
            let t = sample(7);
            let last = t.len() - 1;
            for &c in BASE62.iter().filter(|&&c| c != t[last]) {
                let mut bad = t.clone();
                bad[last] = c;
                if well_formed(&bad) {
                    accepted += 1;
                    assert_ne!(slot_of(&bad), 7);
                }
            }
        }
        assert!(accepted > 0, "some changes pass the suffix check");
    }

    #[test]
    fn garbage_is_not_well_formed() {
        assert!(!well_formed(b""));
        assert!(!well_formed(&[0u8; 55]));
        assert!(!well_formed(&[b'{'; 60]));
        assert!(!well_formed(&vec![b'a'; 5000]));
        let mut nonascii = sample(1);
        nonascii[10] = 0xC3;
        assert!(!well_formed(&nonascii));
    }

    #[test]
    fn any_valid_prefix_is_accepted_when_parsing() {
        for prefix in [&b""[..], b"app_", b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"] {
            let t = generate(prefix, 3).expect("randomness");
            assert!(well_formed(&t));
            assert_eq!(slot_of(&t), 3);
        }
        assert!(!valid_prefix(b"has-dash"));
        assert!(!valid_prefix(&[b'a'; 33]));
    }

    #[test]
    fn digest_is_sha256_truncated_to_120_bits() {
        // SHA-256("abc") = ba7816bf 8f01cfea 414140de 5dae2223 ...
        assert_eq!(
            id_of(&digest(b"abc")),
            b"ba7816bf8f01cfea414140de5dae22".to_vec()
        );
    }

    proptest::proptest! {
        #[test]
        fn parser_never_panics_and_rejects_random_bytes(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..120)) {
            // A random 55-byte string passes the CRC32 with odds 2^-32.
            let _ = well_formed(&bytes);
            let _ = digest_from_id(&bytes);
            let _ = slot_of(&bytes);
        }

        #[test]
        fn every_generated_token_parses_and_lands_on_its_slot(
            secret in proptest::array::uniform32(proptest::num::u8::ANY),
            slot in 0u16..16384,
            prefix in "[A-Za-z0-9_]{0,32}",
        ) {
            let t = from_secret(prefix.as_bytes(), &secret, slot);
            proptest::prop_assert!(well_formed(&t));
            proptest::prop_assert_eq!(slot_of(&t), slot);
        }

        #[test]
        fn one_changed_byte_before_the_slot_chars_is_always_caught(
            secret in proptest::array::uniform32(proptest::num::u8::ANY),
            pos in 0usize..52,
            byte in proptest::num::u8::ANY,
        ) {
            let mut t = from_secret(b"mt_", &secret, 1);
            proptest::prop_assume!(t[pos] != byte);
            t[pos] = byte;
            proptest::prop_assert!(!well_formed(&t));
        }
    }

    #[test]
    fn ids_round_trip_and_reject_non_hex() {
        let d = digest(b"some token");
        assert_eq!(digest_from_id(&id_of(&d)), Some(d));
        assert_eq!(digest_from_id(b"zz"), None);
        assert_eq!(digest_from_id(&[b'g'; 30]), None);
        assert_eq!(digest_from_id(&[b'0'; 33]), None);
        assert_eq!(digest_from_id("é".repeat(15).as_bytes()), None);
    }
}

#[cfg(test)]
mod typo_tests {
    use super::*;

    /// Every one-character typo in prefix, secret or check digits is
    /// malformed (CRC32 catches every error within one byte); in the slot
    /// suffix, the share the README states is.
    #[test]
    fn one_character_typos_are_caught_as_the_readme_says() {
        let tok = from_secret(b"mt_", &[7u8; 32], 4242);
        assert!(well_formed(&tok));
        let suffix_at = tok.len() - TAG_LEN;
        let (mut suffix_typos, mut suffix_caught) = (0, 0);
        for pos in 0..tok.len() {
            for &c in BASE62.iter().chain(b"_") {
                if c == tok[pos] {
                    continue;
                }
                let mut typo = tok.clone();
                typo[pos] = c;
                if pos < suffix_at {
                    assert!(!well_formed(&typo), "typo at {pos} passed");
                } else if c != b'_' {
                    suffix_typos += 1;
                    suffix_caught += !well_formed(&typo) as usize;
                }
            }
        }
        let share = suffix_caught as f64 / suffix_typos as f64;
        assert!(share > 0.3, "suffix typos caught: {share}");
    }
}
