//! Key names (docs/DESIGN.md, "Keys"): every key of a user carries the hash tag of the
//! user's cluster slot, so one user's keys always live together.
//!
//! - token entry: `<ns>:{<tag>}:t:<15-byte digest>`
//! - user index:  `<ns>:{<tag>}:u:<user>`
//!
//! Built as bytes: user ids are binary-safe and may hold NUL.

use std::ops::Deref;

use crate::slot;
use crate::token::{Digest, DIGEST_LEN};

/// The longest namespace `mtoken.namespace` accepts.
pub const MAX_NAMESPACE: usize = 64;
/// `:{` tag `}:` kind `:`
const FRAME: usize = 2 + slot::TAG_LEN + 2 + 2;
const ENTRY_MAX: usize = MAX_NAMESPACE + FRAME + DIGEST_LEN;

/// `<ns>:{<tag>}<kind><rest>`, as the parts to concatenate (`kind` with
/// its colons, e.g. `}:u:`).
fn parts<'a>(ns: &'a [u8], slot: u16, kind: &'static [u8], rest: &'a [u8]) -> [&'a [u8]; 5] {
    [ns, b":{", slot::tag(slot), kind, rest]
}

/// A name of `user`'s on the user's slot: `<ns>:{<tag>}<kind><user>`.
fn of_user(ns: &[u8], kind: &'static [u8], user: &[u8]) -> Vec<u8> {
    let parts = parts(ns, slot::key_slot(user), kind, user);
    let mut name = Vec::with_capacity(parts.iter().map(|p| p.len()).sum());
    for part in parts {
        name.extend_from_slice(part);
    }
    name
}

/// The sorted set of a user's token digests, scored by expiry.
pub fn user_index(ns: &[u8], user: &[u8]) -> Vec<u8> {
    of_user(ns, b"}:u:", user)
}

/// The pub/sub channel of a user's events (docs/DESIGN.md, "Events"): on
/// the user's slot, like the user's keys, so sharded messages are
/// published on the user's node.
pub fn user_channel(ns: &[u8], user: &[u8]) -> Vec<u8> {
    of_user(ns, b"}:events:", user)
}

/// Whether `index`, a name `user_index` built, is `user`'s index key under
/// `ns`, without building it or hashing `user`: the tag between the
/// namespace and the user is the one `user_index` derived from that user.
pub fn is_index_of(index: &[u8], ns: &[u8], user: &[u8]) -> bool {
    index.len() == ns.len() + FRAME + user.len()
        && index.starts_with(ns)
        && index[ns.len()..].starts_with(b":{")
        && index.ends_with(user)
        && index[..index.len() - user.len()].ends_with(b"}:u:")
}

/// The entry of one token, on the token's (= its user's) slot. Built on
/// the stack: VERIFY builds one per call.
pub fn token_entry(ns: &[u8], slot: u16, digest: &Digest) -> EntryName {
    let mut name = EntryName {
        buf: [0; ENTRY_MAX],
        len: 0,
    };
    for part in parts(ns, slot, b"}:t:", digest) {
        // The namespace is validated to fit; never write past the buffer.
        let take = part.len().min(ENTRY_MAX - name.len);
        name.buf[name.len..name.len + take].copy_from_slice(&part[..take]);
        name.len += take;
    }
    name
}

/// The digest in a token entry's key name of namespace `ns`; `None` for
/// any other name (checked by shape: prefix, tag, kind, length).
pub fn entry_digest(ns: &[u8], name: &[u8]) -> Option<Digest> {
    let rest = name.strip_prefix(ns)?.strip_prefix(b":{")?;
    let (tag, rest) = rest.split_at_checked(slot::TAG_LEN)?;
    let digest = rest.strip_prefix(b"}:t:")?;
    let digest = Digest::try_from(digest).ok()?;
    (token_entry(ns, slot::key_slot(tag), &digest)[..] == *name).then_some(digest)
}

/// A token entry's key name (derefs to its bytes).
#[derive(Clone, Copy)]
pub struct EntryName {
    buf: [u8; ENTRY_MAX],
    len: usize,
}

impl Deref for EntryName {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slot::key_slot;
    use crate::token::DIGEST_LEN;

    #[test]
    fn user_keys_and_token_keys_share_the_users_slot() {
        for user in [&b"42"[..], b"{tenant}:7", b"\x00bin\xff", "Zoë".as_bytes()] {
            let s = key_slot(user);
            assert_eq!(key_slot(&user_index(b"mtoken", user)), s);
            assert_eq!(key_slot(&token_entry(b"mtoken", s, &[7; DIGEST_LEN])), s);
        }
    }

    #[test]
    fn key_names_have_the_documented_shape() {
        let k = user_index(b"ns", b"alice");
        assert!(is_index_of(&k, b"ns", b"alice"));
        for (ns, user) in [
            (&b"ns"[..], &b"alic"[..]),
            (b"ns", b"alicee"),
            (b"nt", b"alice"),
            (b"n", b"salice"),
            (b"ns:", b"alice"),
        ] {
            assert!(!is_index_of(&k, ns, user), "{ns:?} {user:?}");
        }
        let tag = slot::tag(key_slot(b"alice"));
        let mut want = b"ns:{".to_vec();
        want.extend_from_slice(tag);
        want.extend_from_slice(b"}:u:alice");
        assert_eq!(k, want);
        let t = token_entry(b"ns", 0, &[0xab; DIGEST_LEN]);
        assert!(t.starts_with(b"ns:{"));
        assert_eq!(&t[t.len() - DIGEST_LEN - 3..t.len() - DIGEST_LEN], b":t:");
        assert_eq!(entry_digest(b"ns", &t), Some([0xab; DIGEST_LEN]));
        assert_eq!(entry_digest(b"ns", &k), None);
        assert_eq!(entry_digest(b"other", &t), None);
        assert_eq!(entry_digest(b"ns", &t[..t.len() - 1]), None);
        // 30 bytes with the default namespace: Redis's 32-byte class.
        assert_eq!(token_entry(b"mtoken", 0, &[1; DIGEST_LEN]).len(), 30);
    }
}
