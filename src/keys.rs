//! Key names (SPEC, "Keys"): every key of a user carries the hash tag of the
//! user's cluster slot, so one user's keys always live together.
//!
//! - token entry: `<ns>:{<tag>}:t:<16-byte digest>`
//! - user index:  `<ns>:{<tag>}:u:<user>`
//!
//! Built as bytes: user ids are binary-safe and may hold NUL.

use crate::slot;
use crate::token::Digest;

fn with_tag(ns: &[u8], slot: u16, kind: u8, rest: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(ns.len() + slot::TAG_LEN + 5 + rest.len());
    key.extend_from_slice(ns);
    key.extend_from_slice(b":{");
    key.extend_from_slice(slot::tag(slot));
    key.extend_from_slice(b"}:");
    key.push(kind);
    key.push(b':');
    key.extend_from_slice(rest);
    key
}

/// The sorted set of a user's token digests, scored by expiry.
pub fn user_index(ns: &[u8], user: &[u8]) -> Vec<u8> {
    with_tag(ns, slot::key_slot(user), b'u', user)
}

/// The entry of one token, on the token's (= its user's) slot.
pub fn token_entry(ns: &[u8], slot: u16, digest: &Digest) -> Vec<u8> {
    with_tag(ns, slot, b't', digest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slot::key_slot;

    #[test]
    fn user_keys_and_token_keys_share_the_users_slot() {
        for user in [&b"42"[..], b"{tenant}:7", b"\x00bin\xff", "Zoë".as_bytes()] {
            let s = key_slot(user);
            assert_eq!(key_slot(&user_index(b"mtoken", user)), s);
            assert_eq!(key_slot(&token_entry(b"mtoken", s, &[7; 16])), s);
        }
    }

    #[test]
    fn key_names_have_the_documented_shape() {
        let k = user_index(b"ns", b"alice");
        let tag = slot::tag(key_slot(b"alice"));
        let mut want = b"ns:{".to_vec();
        want.extend_from_slice(tag);
        want.extend_from_slice(b"}:u:alice");
        assert_eq!(k, want);
        let t = token_entry(b"ns", 0, &[0xab; 16]);
        assert!(t.starts_with(b"ns:{"));
        assert_eq!(&t[t.len() - 19..t.len() - 16], b":t:");
    }
}
