//! One command's writes as one replicated effect (docs/DESIGN.md, "Writes,
//! replication, persistence"): `MTOKEN.APPLY key batch`, where the batch
//! lists the writes the command made, with their absolute values, in order.
//! A replica, or the server loading the AOF, applies exactly these writes.
//! Pure: bytes in, bytes out.
//!
//! ```text
//! batch   = VERSION op*
//! op      = SET key value at | ZADD key at member | EXPIRE key at
//!         | SETRANGE key offset bytes | DEL count key* | ZREM key count member*
//! key, value, member, bytes = u32 LE length, then the bytes
//! at      = u64 LE ms since the epoch; u64::MAX = no expiry (a score of +inf)
//! offset, count = u32 LE
//! ```

pub const VERSION: u8 = 1;
/// The `at` of "no expiry".
const NEVER: u64 = u64::MAX;

const SET: u8 = 1;
const ZADD: u8 = 2;
const EXPIRE: u8 = 3;
const SETRANGE: u8 = 4;
const DEL: u8 = 5;
const ZREM: u8 = 6;

/// One write, as applied.
#[derive(Clone, Debug, PartialEq)]
pub enum Op<'a> {
    /// `SET key value [PXAT at]`.
    Set {
        key: &'a [u8],
        value: &'a [u8],
        at: Option<u64>,
    },
    /// `ZADD key score member`, the score an expiry (`None`: +inf).
    Zadd {
        key: &'a [u8],
        at: Option<u64>,
        member: &'a [u8],
    },
    /// `PEXPIREAT key at`, or `PERSIST key` for `None`.
    Expire { key: &'a [u8], at: Option<u64> },
    /// `SETRANGE key offset bytes`.
    SetRange {
        key: &'a [u8],
        offset: u32,
        bytes: &'a [u8],
    },
    /// `DEL key [key ...]`.
    Del(Vec<&'a [u8]>),
    /// `ZREM key member [member ...]`.
    Zrem {
        key: &'a [u8],
        members: Vec<&'a [u8]>,
    },
}

/// The writes of one command, encoded as they are made.
#[derive(Default)]
pub struct Batch {
    buf: Vec<u8>,
}

fn at_bytes(at: Option<u64>) -> [u8; 8] {
    at.unwrap_or(NEVER).to_le_bytes()
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The encoded batch (empty when nothing was written).
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// The key of the first write: `MTOKEN.APPLY`'s key argument.
    pub fn first_key(&self) -> &[u8] {
        let mut r = Reader(self.buf.get(2..).unwrap_or_default());
        let key = match self.buf.get(1) {
            Some(&DEL) => r.u32().and_then(|_| r.field()),
            Some(_) => r.field(),
            None => None,
        };
        key.unwrap_or_default()
    }

    fn op(&mut self, code: u8) {
        if self.buf.is_empty() {
            // Enough for a CREATE (entry, member, index expiry) at once.
            self.buf.reserve(256);
            self.buf.push(VERSION);
        }
        self.buf.push(code);
    }

    fn field(&mut self, bytes: &[u8]) {
        // Keys, values and members are far below 4 GiB (bounded by the
        // module's argument limits).
        self.buf
            .extend_from_slice(&(bytes.len().min(u32::MAX as usize) as u32).to_le_bytes());
        self.buf.extend_from_slice(bytes);
    }

    pub fn set(&mut self, key: &[u8], value: &[u8], at: Option<u64>) {
        self.op(SET);
        self.field(key);
        self.field(value);
        self.buf.extend_from_slice(&at_bytes(at));
    }

    pub fn zadd(&mut self, key: &[u8], at: Option<u64>, member: &[u8]) {
        self.op(ZADD);
        self.field(key);
        self.buf.extend_from_slice(&at_bytes(at));
        self.field(member);
    }

    pub fn expire(&mut self, key: &[u8], at: Option<u64>) {
        self.op(EXPIRE);
        self.field(key);
        self.buf.extend_from_slice(&at_bytes(at));
    }

    pub fn set_range(&mut self, key: &[u8], offset: u32, bytes: &[u8]) {
        self.op(SETRANGE);
        self.field(key);
        self.buf.extend_from_slice(&offset.to_le_bytes());
        self.field(bytes);
    }

    pub fn del(&mut self, keys: &[&[u8]]) {
        self.op(DEL);
        self.buf
            .extend_from_slice(&(keys.len() as u32).to_le_bytes());
        for k in keys {
            self.field(k);
        }
    }

    pub fn zrem(&mut self, key: &[u8], members: &[&[u8]]) {
        self.op(ZREM);
        self.field(key);
        self.buf
            .extend_from_slice(&(members.len() as u32).to_le_bytes());
        for m in members {
            self.field(m);
        }
    }
}

/// A reader over an encoded batch; every read is bounds-checked.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn at(&mut self) -> Option<Option<u64>> {
        let at = u64::from_le_bytes(self.take(8)?.try_into().ok()?);
        Some((at != NEVER).then_some(at))
    }

    fn field(&mut self) -> Option<&'a [u8]> {
        let len = self.u32()? as usize;
        self.take(len)
    }

    fn fields(&mut self) -> Option<Vec<&'a [u8]>> {
        let n = self.u32()? as usize;
        // Each field takes at least 4 bytes: a count beyond that is a lie.
        if n > self.0.len() / 4 {
            return None;
        }
        (0..n).map(|_| self.field()).collect()
    }
}

/// The writes of an encoded batch; `None` when it is not one this version
/// wrote (truncated, unknown op, trailing bytes, another version).
pub fn decode(batch: &[u8]) -> Option<Vec<Op<'_>>> {
    let (&version, rest) = batch.split_first()?;
    if version != VERSION {
        return None;
    }
    let mut r = Reader(rest);
    let mut ops = Vec::new();
    while let Some(&code) = r.0.first() {
        r.0 = &r.0[1..];
        ops.push(match code {
            SET => Op::Set {
                key: r.field()?,
                value: r.field()?,
                at: r.at()?,
            },
            ZADD => Op::Zadd {
                key: r.field()?,
                at: r.at()?,
                member: r.field()?,
            },
            EXPIRE => Op::Expire {
                key: r.field()?,
                at: r.at()?,
            },
            SETRANGE => Op::SetRange {
                key: r.field()?,
                offset: r.u32()?,
                bytes: r.field()?,
            },
            DEL => Op::Del(r.fields()?),
            ZREM => Op::Zrem {
                key: r.field()?,
                members: r.fields()?,
            },
            _ => return None,
        });
    }
    Some(ops)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_op_round_trips_in_order() {
        let mut b = Batch::default();
        assert!(b.is_empty());
        b.set(b"k", b"v\x00alue", Some(1_800_000_000_000));
        b.set(b"k2", b"", None);
        b.zadd(b"idx", None, b"member");
        b.zadd(b"idx", Some(5), b"m2");
        b.expire(b"idx", Some((1 << 48) - 1));
        b.expire(b"k", None);
        b.set_range(b"k", 7, b"\x01\x02");
        b.del(&[b"a", b"b"]);
        b.zrem(b"idx", &[b"m", b""]);
        assert_eq!(b.first_key(), b"k");
        let ops = decode(b.bytes()).expect("decodes");
        assert_eq!(
            ops,
            vec![
                Op::Set {
                    key: b"k",
                    value: b"v\x00alue",
                    at: Some(1_800_000_000_000)
                },
                Op::Set {
                    key: b"k2",
                    value: b"",
                    at: None
                },
                Op::Zadd {
                    key: b"idx",
                    at: None,
                    member: b"member"
                },
                Op::Zadd {
                    key: b"idx",
                    at: Some(5),
                    member: b"m2"
                },
                Op::Expire {
                    key: b"idx",
                    at: Some((1 << 48) - 1)
                },
                Op::Expire {
                    key: b"k",
                    at: None
                },
                Op::SetRange {
                    key: b"k",
                    offset: 7,
                    bytes: b"\x01\x02"
                },
                Op::Del(vec![b"a", b"b"]),
                Op::Zrem {
                    key: b"idx",
                    members: vec![b"m", b""]
                },
            ]
        );
    }

    #[test]
    fn damaged_batches_do_not_decode() {
        let mut b = Batch::default();
        b.set(b"key", b"value", Some(9));
        b.del(&[b"a"]);
        let mut d = Batch::default();
        d.del(&[b"first", b"second"]);
        assert_eq!(d.first_key(), b"first");
        let bytes = b.bytes();
        for cut in 1..bytes.len() {
            // A cut inside an op fails; a cut between ops is a shorter batch.
            if let Some(ops) = decode(&bytes[..cut]) {
                assert!(ops.len() < 2, "cut at {cut}");
            }
        }
        assert_eq!(decode(b""), None);
        let mut other = bytes.to_vec();
        other[0] = 2;
        assert_eq!(decode(&other), None, "another version");
        let mut unknown = bytes.to_vec();
        unknown.push(99);
        assert_eq!(decode(&unknown), None, "unknown op");
        // A DEL claiming 2^32-1 keys in a few bytes.
        assert_eq!(decode(&[VERSION, DEL, 0xff, 0xff, 0xff, 0xff, 0]), None);
    }

    proptest::proptest! {
        #[test]
        fn decoding_any_bytes_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let _ = decode(&bytes);
            let mut with_version = vec![VERSION];
            with_version.extend_from_slice(&bytes);
            let _ = decode(&with_version);
        }
    }
}
