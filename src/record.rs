//! The value of a token entry key (docs/DESIGN.md, "Keys"): one compact string.
//!
//! ```text
//! 0       high nibble: format version (1); low bits: flags
//!         (bit 0 = has a name, bit 1 = follows mtoken.default-ttl)
//! 1..7    created, ms since epoch, u48 little-endian
//! 7..13   last used, ms since epoch, u48 little-endian
//! 13..17  TTL in seconds (u32 LE) that a refresh slides by; 0 = none
//! 17..    with a name: its length (u16 LE) and the name; then the user id
//! ```
//!
//! Fixed offsets let VERIFY rewrite `last used` in place and replicate it as
//! a 6-byte `SETRANGE`. The value is kept small: up to 44 bytes Redis stores
//! it in the same allocation as its object header (embstr), so a short user
//! id costs no second allocation. Pure: no Redis here.

pub const VERSION: u8 = 1;
pub const LAST_USED_OFFSET: usize = 7;
const HEADER: usize = 17;
const HAS_NAME: u8 = 1;
const FOLLOWS_DEFAULT: u8 = 2;
const U48_MAX: u64 = (1 << 48) - 1;

/// How a token's expiry is chosen: its own TTL, or the module default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ttl {
    /// No `TTL` option was given: follows `mtoken.default-ttl`, also on refresh.
    Default,
    /// `TTL n` seconds; 0 = never expires.
    Explicit(u32),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    pub created: u64,
    pub last_used: u64,
    pub ttl: Ttl,
    pub user: &'a [u8],
    pub name: Option<&'a [u8]>,
}

impl<'a> Record<'a> {
    pub fn encode(&self) -> Vec<u8> {
        let name_len = self.name.map_or(0, |n| 2 + n.len());
        let mut out = Vec::with_capacity(HEADER + name_len + self.user.len());
        let mut flags = VERSION << 4;
        if self.name.is_some() {
            flags |= HAS_NAME;
        }
        let ttl = match self.ttl {
            Ttl::Default => {
                flags |= FOLLOWS_DEFAULT;
                0
            }
            Ttl::Explicit(secs) => secs,
        };
        out.push(flags);
        out.extend_from_slice(&u48(self.created));
        out.extend_from_slice(&u48(self.last_used));
        out.extend_from_slice(&ttl.to_le_bytes());
        if let Some(name) = self.name {
            // Names are at most 256 bytes (checked at the command boundary).
            out.extend_from_slice(&(name.len().min(u16::MAX as usize) as u16).to_le_bytes());
            out.extend_from_slice(name);
        }
        out.extend_from_slice(self.user);
        out
    }

    /// `None` for a value this module did not write (or a future version).
    pub fn decode(bytes: &'a [u8]) -> Option<Record<'a>> {
        if bytes.len() < HEADER || bytes[0] >> 4 != VERSION {
            return None;
        }
        let flags = bytes[0];
        let created = read_u48(&bytes[1..7]);
        let last_used = read_u48(&bytes[7..13]);
        let ttl_secs = u32::from_le_bytes([bytes[13], bytes[14], bytes[15], bytes[16]]);
        let mut rest = &bytes[HEADER..];
        let mut name = None;
        if flags & HAS_NAME != 0 {
            let (len, tail) = rest.split_first_chunk::<2>()?;
            let len = u16::from_le_bytes(*len) as usize;
            if tail.len() < len {
                return None;
            }
            let (n, tail) = tail.split_at(len);
            name = Some(n);
            rest = tail;
        }
        Some(Record {
            created,
            last_used,
            ttl: if flags & FOLLOWS_DEFAULT != 0 {
                Ttl::Default
            } else {
                Ttl::Explicit(ttl_secs)
            },
            user: rest,
            name,
        })
    }
}

/// The 6 bytes stored at `LAST_USED_OFFSET` for a time.
pub fn u48(ms: u64) -> [u8; 6] {
    let b = ms.min(U48_MAX).to_le_bytes();
    [b[0], b[1], b[2], b[3], b[4], b[5]]
}

fn read_u48(b: &[u8]) -> u64 {
    let mut full = [0u8; 8];
    full[..6].copy_from_slice(b);
    u64::from_le_bytes(full)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trips_with_and_without_name() {
        for name in [None, Some(&b""[..]), Some(&b"Pixel 8 \xf0\x9f\x93\xb1"[..])] {
            for ttl in [Ttl::Default, Ttl::Explicit(0), Ttl::Explicit(u32::MAX)] {
                let r = Record {
                    created: 1_764_000_000_123,
                    last_used: 1_764_000_999_999,
                    ttl,
                    user: b"us\x00er",
                    name,
                };
                assert_eq!(Record::decode(&r.encode()), Some(r.clone()));
            }
        }
    }

    #[test]
    fn last_used_sits_at_its_fixed_offset() {
        let r = Record {
            created: 1,
            last_used: 0x0102_0304_0506,
            ttl: Ttl::Default,
            user: b"u",
            name: None,
        };
        let bytes = r.encode();
        assert_eq!(
            &bytes[LAST_USED_OFFSET..LAST_USED_OFFSET + 6],
            &u48(0x0102_0304_0506)
        );
    }

    #[test]
    fn a_short_user_keeps_the_value_within_an_embstr() {
        let r = Record {
            created: 1_800_000_000_000,
            last_used: 1_800_000_000_000,
            ttl: Ttl::Explicit(86400),
            user: b"user:12345",
            name: None,
        };
        // 44 bytes is Redis's embstr limit; 28 keeps robj+sds in a 48-byte bin.
        assert_eq!(r.encode().len(), 27);
    }

    #[test]
    fn foreign_or_truncated_values_do_not_decode() {
        assert_eq!(Record::decode(b""), None);
        assert_eq!(Record::decode(b"hello world, not a record"), None);
        let bytes = Record {
            created: 1,
            last_used: 1,
            ttl: Ttl::Default,
            user: b"",
            name: Some(b"a name"),
        }
        .encode();
        // Cut inside the name, or inside the fixed header.
        assert_eq!(Record::decode(&bytes[..bytes.len() - 1]), None);
        assert_eq!(Record::decode(&bytes[..HEADER + 1]), None);
        assert_eq!(Record::decode(&bytes[..HEADER - 1]), None);
        // Another format version.
        let mut other = bytes.clone();
        other[0] = (2 << 4) | (other[0] & 15);
        assert_eq!(Record::decode(&other), None);
    }
}
