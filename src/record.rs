//! The value of a token entry key (docs/DESIGN.md, "Keys"): one compact string.
//!
//! ```text
//! 0       high nibble: format version (1); low bits: flags
//!         (bit 0 = has a name, bit 1 = follows mtoken.default-ttl,
//!          bit 2 = has scopes, bit 3 = rotated)
//! 1..7    created, ms since epoch, u48 little-endian
//! 7..13   last used, ms since epoch, u48 little-endian
//! 13..17  TTL in seconds (u32 LE) that a refresh slides by; 0 = none
//! 17..    rotated: the family id (15 bytes: the first token's digest) and
//!         a state byte, 0 = current, 1 = retired; a retired entry then has
//!         its successor's digest (15 bytes) and the end of its grace
//!         period (u48 LE ms)
//!         with a name: its length (u16 LE) and the name
//!         with scopes: their count (u8), then each one's length (u8) and
//!         bytes
//!         then the user id
//! ```
//!
//! Fixed offsets let VERIFY rewrite `last used` in place and replicate it as
//! a 6-byte `SETRANGE`. The value is kept small: up to 44 bytes Redis stores
//! it in the same allocation as its object header (embstr), so a short user
//! id costs no second allocation. A token without scopes that was never
//! rotated has neither block: its value is byte for byte what it was before
//! either existed (docs/DESIGN.md, "Scopes" and "Rotation"). Pure: no Redis
//! here.

pub const VERSION: u8 = 1;
pub const LAST_USED_OFFSET: usize = 7;
const HEADER: usize = 17;
const HAS_NAME: u8 = 1;
const FOLLOWS_DEFAULT: u8 = 2;
const HAS_SCOPES: u8 = 4;
const ROTATED: u8 = 8;
const DIGEST: usize = 15;
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
    /// `None`: the token holds every scope (created without `SCOPE`).
    pub scopes: Option<Scopes<'a>>,
    /// Set once the device's token has been rotated.
    pub rotation: Option<Rotation>,
}

/// A token's scopes as stored: a count, then each as length and bytes.
/// Checked once when the record is decoded; read without allocating.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scopes<'a>(&'a [u8]);

impl<'a> Scopes<'a> {
    /// The stored form of `names` (at most 255, each at most 255 bytes:
    /// the command boundary allows far fewer).
    pub fn encode(names: &[&[u8]]) -> Vec<u8> {
        let mut out = vec![names.len().min(255) as u8];
        for n in names.iter().take(255) {
            let n = &n[..n.len().min(255)];
            out.push(n.len() as u8);
            out.extend_from_slice(n);
        }
        out
    }

    /// The stored form read back; `None` when it does not parse whole.
    pub fn decode(bytes: &'a [u8]) -> Option<(Scopes<'a>, &'a [u8])> {
        let (&count, mut rest) = bytes.split_first()?;
        for _ in 0..count {
            let (&len, tail) = rest.split_first()?;
            rest = tail.get(len as usize..)?;
        }
        let used = bytes.len() - rest.len();
        Some((Scopes(&bytes[..used]), rest))
    }

    pub fn bytes(&self) -> &'a [u8] {
        self.0
    }

    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> {
        let mut rest = self.0.get(1..).unwrap_or_default();
        std::iter::from_fn(move || {
            let (&len, tail) = rest.split_first()?;
            let (name, tail) = tail.split_at_checked(len as usize)?;
            rest = tail;
            Some(name)
        })
    }

    pub fn contains(&self, name: &[u8]) -> bool {
        self.iter().any(|s| s == name)
    }
}

/// A rotated device's link: its family id (the digest of its first token,
/// which LIST and REVOKE keep using as the device's id) and, for the
/// entry of a token that has been replaced, what replaced it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rotation {
    pub family: [u8; DIGEST],
    pub retired: Option<Retired>,
}

/// A replaced token's entry: kept as a marker, so that presenting it
/// again is recognised (docs/DESIGN.md, "Rotation").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retired {
    pub successor: [u8; DIGEST],
    /// Until then (ms) the token still verifies, for requests in flight.
    pub grace_end: u64,
}

impl<'a> Record<'a> {
    pub fn encode(&self) -> Vec<u8> {
        let name_len = self.name.map_or(0, |n| 2 + n.len());
        let scopes_len = self.scopes.map_or(0, |s| s.0.len());
        let rotation_len = self
            .rotation
            .map_or(0, |r| DIGEST + 1 + r.retired.map_or(0, |_| DIGEST + 6));
        let mut out =
            Vec::with_capacity(HEADER + rotation_len + name_len + scopes_len + self.user.len());
        let mut flags = VERSION << 4;
        if self.name.is_some() {
            flags |= HAS_NAME;
        }
        if self.scopes.is_some() {
            flags |= HAS_SCOPES;
        }
        if self.rotation.is_some() {
            flags |= ROTATED;
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
        if let Some(r) = self.rotation {
            out.extend_from_slice(&r.family);
            match r.retired {
                None => out.push(0),
                Some(retired) => {
                    out.push(1);
                    out.extend_from_slice(&retired.successor);
                    out.extend_from_slice(&u48(retired.grace_end));
                }
            }
        }
        if let Some(name) = self.name {
            // Names are at most 256 bytes (checked at the command boundary).
            let name = &name[..name.len().min(u16::MAX as usize)];
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(name);
        }
        if let Some(scopes) = self.scopes {
            out.extend_from_slice(scopes.0);
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
        let mut rotation = None;
        if flags & ROTATED != 0 {
            let (family, tail) = rest.split_first_chunk::<DIGEST>()?;
            let (&state, tail) = tail.split_first()?;
            rest = tail;
            let retired = match state {
                0 => None,
                1 => {
                    let (successor, tail) = rest.split_first_chunk::<DIGEST>()?;
                    let (grace_end, tail) = tail.split_first_chunk::<6>()?;
                    rest = tail;
                    Some(Retired {
                        successor: *successor,
                        grace_end: read_u48(grace_end),
                    })
                }
                _ => return None,
            };
            rotation = Some(Rotation {
                family: *family,
                retired,
            });
        }
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
        let mut scopes = None;
        if flags & HAS_SCOPES != 0 {
            let (s, tail) = Scopes::decode(rest)?;
            scopes = Some(s);
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
            scopes,
            rotation,
        })
    }

    /// The device's id, as LIST shows it: the family id once rotated,
    /// else the token's own digest.
    pub fn device_id(&self, digest: &[u8; DIGEST]) -> [u8; DIGEST] {
        self.rotation.map_or(*digest, |r| r.family)
    }

    /// Whether the token may be used for `scope` (`None`: no scope asked).
    pub fn allows(&self, scope: Option<&[u8]>) -> bool {
        match (scope, self.scopes) {
            (Some(want), Some(held)) => held.contains(want),
            _ => true,
        }
    }

    /// The entry of a replaced token (a marker), not a usable token.
    pub fn retired(&self) -> Option<Retired> {
        self.rotation.and_then(|r| r.retired)
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
                    scopes: None,
                    rotation: None,
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
            scopes: None,
            rotation: None,
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
            scopes: None,
            rotation: None,
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
            scopes: None,
            rotation: None,
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

    #[test]
    fn scopes_and_rotation_round_trip_in_every_combination() {
        let stored = Scopes::encode(&[b"orders:read", b"", b"x"]);
        let (scopes, rest) = Scopes::decode(&stored).expect("scopes");
        assert!(rest.is_empty());
        assert_eq!(
            scopes.iter().collect::<Vec<_>>(),
            [&b"orders:read"[..], b"", b"x"]
        );
        assert!(scopes.contains(b"x") && !scopes.contains(b"orders"));
        let rotations = [
            None,
            Some(Rotation {
                family: [7; DIGEST],
                retired: None,
            }),
            Some(Rotation {
                family: [7; DIGEST],
                retired: Some(Retired {
                    successor: [9; DIGEST],
                    grace_end: 1_800_000_030_000,
                }),
            }),
        ];
        for rotation in rotations {
            for scopes in [None, Some(scopes)] {
                for name in [None, Some(&b"phone"[..])] {
                    let r = Record {
                        created: 1,
                        last_used: 2,
                        ttl: Ttl::Explicit(60),
                        user: b"alice",
                        name,
                        scopes,
                        rotation,
                    };
                    let bytes = r.encode();
                    assert_eq!(Record::decode(&bytes), Some(r.clone()));
                    // Cut anywhere inside the blocks: never a record.
                    for cut in HEADER..bytes.len() - r.user.len() {
                        assert_eq!(Record::decode(&bytes[..cut]), None, "cut at {cut}");
                    }
                }
            }
        }
    }

    #[test]
    fn scope_checks_and_device_ids() {
        let stored = Scopes::encode(&[b"read"]);
        let mut r = Record {
            created: 1,
            last_used: 1,
            ttl: Ttl::Default,
            user: b"u",
            name: None,
            scopes: None,
            rotation: None,
        };
        assert!(r.allows(None) && r.allows(Some(b"anything")));
        r.scopes = Scopes::decode(&stored).map(|(s, _)| s);
        assert!(r.allows(None) && r.allows(Some(b"read")) && !r.allows(Some(b"write")));
        assert_eq!(r.device_id(&[1; DIGEST]), [1; DIGEST]);
        r.rotation = Some(Rotation {
            family: [2; DIGEST],
            retired: None,
        });
        assert_eq!(r.device_id(&[1; DIGEST]), [2; DIGEST]);
        assert_eq!(r.retired(), None);
    }

    #[test]
    fn an_unknown_rotation_state_does_not_decode() {
        let mut bytes = Record {
            created: 1,
            last_used: 1,
            ttl: Ttl::Default,
            user: b"u",
            name: None,
            scopes: None,
            rotation: Some(Rotation {
                family: [2; DIGEST],
                retired: None,
            }),
        }
        .encode();
        bytes[HEADER + DIGEST] = 2;
        assert_eq!(Record::decode(&bytes), None);
    }
}
