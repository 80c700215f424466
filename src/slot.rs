//! Redis Cluster key slots (CRC16/XMODEM mod 16384, with `{hash tag}` rules)
//! and the table of short base62 strings that land on each slot.
//!
//! One table serves two jobs (docs/DESIGN.md, "Token" and "Keys"): it is the hash tag in
//! every key of a user, and the 3-char suffix that moves a token onto its
//! user's slot. Every string in it is exactly 3 base62 chars; all 16384 slots
//! are reachable that way (checked by a unit test).

use std::sync::OnceLock;

pub const SLOTS: usize = 16384;
pub const TAG_LEN: usize = 3;

pub const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

const fn crc16_table() -> [u16; 256] {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = (i as u16) << 8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

static CRC16: [u16; 256] = crc16_table();

/// `SLICED[k][x]`: the CRC of byte `x` followed by `k` zero bytes.
const fn sliced_tables() -> [[u16; 256]; 8] {
    let mut t = [[0u16; 256]; 8];
    t[0] = crc16_table();
    let mut k = 1;
    while k < 8 {
        let mut x = 0;
        while x < 256 {
            let prev = t[k - 1][x];
            t[k][x] = (prev << 8) ^ t[0][(prev >> 8) as usize];
            x += 1;
        }
        k += 1;
    }
    t
}

static SLICED: [[u16; 256]; 8] = sliced_tables();

fn crc16_bytewise(crc: u16, data: &[u8]) -> u16 {
    data.iter().fold(crc, |crc, &b| {
        (crc << 8) ^ CRC16[(((crc >> 8) as u8) ^ b) as usize]
    })
}

/// CRC16/XMODEM, as Redis's `crc16()`. Eight bytes per step (VERIFY hashes
/// every token it is given to find its slot).
pub fn crc16(data: &[u8]) -> u16 {
    let mut chunks = data.chunks_exact(8);
    let mut crc = 0u16;
    for c in &mut chunks {
        let t = &SLICED;
        crc = t[7][(c[0] ^ (crc >> 8) as u8) as usize]
            ^ t[6][(c[1] ^ crc as u8) as usize]
            ^ t[5][c[2] as usize]
            ^ t[4][c[3] as usize]
            ^ t[3][c[4] as usize]
            ^ t[2][c[5] as usize]
            ^ t[1][c[6] as usize]
            ^ t[0][c[7] as usize];
    }
    crc16_bytewise(crc, chunks.remainder())
}

/// The part of a key that Redis hashes: the first non-empty `{...}`, or all.
pub fn hashed_part(key: &[u8]) -> &[u8] {
    if let Some(open) = key.iter().position(|&b| b == b'{') {
        if let Some(len) = key[open + 1..].iter().position(|&b| b == b'}') {
            if len > 0 {
                return &key[open + 1..open + 1 + len];
            }
        }
    }
    key
}

/// `CLUSTER KEYSLOT key`.
pub fn key_slot(key: &[u8]) -> u16 {
    crc16(hashed_part(key)) & (SLOTS as u16 - 1)
}

/// For each slot, a 3-char base62 string whose CRC16 lands on it.
fn table() -> &'static [[u8; TAG_LEN]; SLOTS] {
    static TABLE: OnceLock<Box<[[u8; TAG_LEN]; SLOTS]>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = Box::new([[0u8; TAG_LEN]; SLOTS]);
        let mut filled = [false; SLOTS];
        for &a in BASE62 {
            for &b in BASE62 {
                for &c in BASE62 {
                    let s = [a, b, c];
                    let slot = key_slot(&s) as usize;
                    if !filled[slot] {
                        filled[slot] = true;
                        table[slot] = s;
                    }
                }
            }
        }
        table
    })
}

/// Build the table now (at module load) rather than on the first command.
pub fn init() {
    let _ = table();
}

/// The hash tag (and token suffix) for `slot`: 3 base62 chars with that slot.
pub fn tag(slot: u16) -> &'static [u8; TAG_LEN] {
    &table()[slot as usize % SLOTS]
}

/// The 3-char suffix that, appended to `head`, gives the whole token `slot`.
///
/// CRC16 with a zero initial value is linear over GF(2), so
/// `crc(head ++ s) = crc(head ++ "\0\0\0") ^ crc(s)`: the suffix is a table
/// lookup, not a search.
pub fn suffix_for(head: &[u8], slot: u16) -> [u8; TAG_LEN] {
    let base = [0u8; TAG_LEN].iter().fold(crc16(head), |crc, &b| {
        (crc << 8) ^ CRC16[(((crc >> 8) as u8) ^ b) as usize]
    });
    let want = (slot ^ base) & (SLOTS as u16 - 1);
    *tag(want)
}

/// Whether `s` is the suffix `suffix_for` picks for some slot: by
/// linearity the suffix of a token on slot `x` is `tag(crc16(s) & mask)`
/// whatever the head, so only those 16384 of the 238328 strings occur.
pub fn is_canonical_suffix(s: &[u8]) -> bool {
    s.len() == TAG_LEN && tag(crc16(s) & (SLOTS as u16 - 1))[..] == *s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc16_matches_redis_reference_vector() {
        // The check value of CRC16/XMODEM, and Redis's cluster spec example.
        assert_eq!(crc16(b"123456789"), 0x31C3);
    }

    #[test]
    fn sliced_crc16_equals_the_bytewise_one() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for len in 0..200 {
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            assert_eq!(crc16(&data), crc16_bytewise(0, &data), "len {len}");
        }
    }

    #[test]
    fn key_slot_matches_known_cluster_keyslot_answers() {
        // Values from `CLUSTER KEYSLOT` on a real server.
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"bar"), 5061);
        assert_eq!(key_slot(b"hello"), 866);
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
    }

    #[test]
    fn hash_tag_rules_follow_redis() {
        assert_eq!(hashed_part(b"{a}b"), b"a");
        assert_eq!(hashed_part(b"x{a}b{c}"), b"a");
        // Empty tag: the whole key is hashed.
        assert_eq!(hashed_part(b"{}a"), b"{}a");
        // Unclosed brace: whole key.
        assert_eq!(hashed_part(b"a{b"), b"a{b");
        // First `{` with first `}` after it.
        assert_eq!(hashed_part(b"{{a}}"), b"{a");
        assert_eq!(hashed_part(b"a}{b}"), b"b");
    }

    #[test]
    fn every_slot_has_a_three_char_base62_tag() {
        for slot in 0..SLOTS as u16 {
            let t = tag(slot);
            assert!(t.iter().all(|c| BASE62.contains(c)));
            assert_eq!(key_slot(t), slot, "tag {:?}", t);
            // Used inside `{...}` the tag decides the slot of the whole key.
            let mut key = b"mtoken:{".to_vec();
            key.extend_from_slice(t);
            key.extend_from_slice(b"}:u:{other}");
            assert_eq!(key_slot(&key), slot);
        }
    }

    #[test]
    fn only_table_suffixes_are_canonical() {
        let mut canonical = 0;
        for &a in BASE62 {
            for &b in BASE62 {
                for &c in BASE62 {
                    canonical += is_canonical_suffix(&[a, b, c]) as usize;
                }
            }
        }
        assert_eq!(canonical, SLOTS);
        for slot in (0..SLOTS as u16).step_by(97) {
            assert!(is_canonical_suffix(&suffix_for(b"mt_head", slot)));
        }
    }

    #[test]
    fn suffix_moves_any_head_onto_any_slot() {
        let heads: [&[u8]; 4] = [
            b"",
            b"mt_",
            b"mt_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH",
            b"x",
        ];
        for head in heads {
            for slot in (0..SLOTS as u16).step_by(7) {
                let mut whole = head.to_vec();
                whole.extend_from_slice(&suffix_for(head, slot));
                assert_eq!(key_slot(&whole), slot);
            }
        }
    }
}
