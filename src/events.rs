//! Logout events (docs/DESIGN.md, "Events"): with `mtoken.events` on, one
//! message per device that stops being valid, on a channel of its user.
//!
//! - channel: `<ns>:{<tag>}:events:<user>`, on the user's cluster slot (the
//!   same `{tag}` as the user's keys), so a sharded publish stays on the
//!   node that owns the user;
//! - message: `<reason> <id> <user>`: a reason word, the device's LIST id
//!   (30 hex chars), one space, then the user id as given (binary-safe:
//!   everything after the second space). Never a token or its digest's key.
//!
//! The pure part (names, formats) is unit-tested; `publish` and
//! `on_key_expired` are the glue over `ffi::events`.

use redis_module::Context;

use crate::config::{EnumConfig, Named};
use crate::ffi::{self, Ctx};
use crate::record::Record;
use crate::token::{self, Digest, DIGEST_LEN};
use crate::{keys, stats};

/// Why a device stopped being valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reason {
    /// `MTOKEN.EXPIRE` (or EXPIRE of a replaced token within its grace).
    Logout,
    /// `MTOKEN.EXPIREALL`, with or without `EXCEPT`.
    ExpireAll,
    /// `MTOKEN.REVOKE`.
    Revoke,
    /// Removed by CREATE to keep the user within `max-tokens-per-user`.
    Evicted,
    /// Past `created + max-lifetime`, removed (or expired) at that point.
    MaxLifetime,
    /// Its TTL ran out (the server expired the entry; Redis 7.2+, Valkey 8+).
    Expired,
    /// A replaced token was presented after its grace period.
    Reuse,
}

impl Reason {
    pub fn word(self) -> &'static str {
        match self {
            Reason::Logout => "logout",
            Reason::ExpireAll => "expireall",
            Reason::Revoke => "revoke",
            Reason::Evicted => "evicted",
            Reason::MaxLifetime => "max-lifetime",
            Reason::Expired => "expired",
            Reason::Reuse => "reuse",
        }
    }
}

/// A device that stopped being valid, to publish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ended {
    pub user: Vec<u8>,
    /// The device's LIST id (its family id once rotated).
    pub id: Digest,
    pub reason: Reason,
}

/// `<reason> <id> <user>`.
pub fn message(e: &Ended) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + 2 * DIGEST_LEN + e.user.len());
    out.extend_from_slice(e.reason.word().as_bytes());
    out.push(b' ');
    out.extend_from_slice(&token::id_of(&e.id));
    out.push(b' ');
    out.extend_from_slice(&e.user);
    out
}

/// `mtoken.events`: off, or published with `SPUBLISH` or `PUBLISH` semantics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Off,
    /// To `SSUBSCRIBE`rs of the channel, on the user's shard only.
    Sharded,
    /// To `SUBSCRIBE`/`PSUBSCRIBE`rs; in a cluster, sent to every node.
    Global,
}

impl Named for Mode {
    const NAMES: &'static [(&'static str, Self)] = &[
        ("off", Mode::Off),
        ("sharded", Mode::Sharded),
        ("global", Mode::Global),
    ];
}

pub static MODE: EnumConfig<Mode> = EnumConfig::new(Mode::Off);

/// Whether this call may publish: events on, and not a replica applying
/// its master's stream or a server loading its data (neither runs module
/// commands, but a key event may fire there).
fn may_publish(ctx: &Ctx) -> Option<bool> {
    let sharded = match MODE.get() {
        Mode::Off => return None,
        Mode::Sharded => true,
        Mode::Global => false,
    };
    let flags = ctx.context_flags();
    let quiet = redis_module::raw::REDISMODULE_CTX_FLAGS_LOADING
        | redis_module::raw::REDISMODULE_CTX_FLAGS_REPLICATED
        | redis_module::raw::REDISMODULE_CTX_FLAGS_SLAVE;
    (flags & quiet == 0).then_some(sharded)
}

/// Publish what a command ended (after it succeeded).
pub fn publish(ctx: &Ctx, ended: &[Ended]) {
    let Some(sharded) = may_publish(ctx) else {
        return;
    };
    let ns = crate::config::NAMESPACE.get_bytes();
    for e in ended {
        if ctx.publish(&keys::user_channel(&ns, &e.user), &message(e), sharded) {
            stats::EVENTS.incr();
        }
    }
}

/// Listen for entries the server expires (where it can say so before
/// they are gone); false where it cannot (Redis 7.0).
pub fn register(ctx: &Context) -> bool {
    ffi::events::on_key_expired(ctx, on_expired)
}

/// A key the server expired: when it is a token entry of this namespace
/// holding a current token, its device ended (`expired`, or
/// `max-lifetime` when that came first). Every other key costs a prefix
/// compare.
fn on_expired(ctx: &Ctx, name: &[u8], value: Option<&[u8]>) {
    if MODE.get() == Mode::Off {
        return;
    }
    // Fired inside a command's key lookup too, on the same thread: a
    // second read of the namespace lock (no writer can be waiting).
    let ns = crate::config::NAMESPACE.get_bytes();
    let Some(digest) = keys::entry_digest(&ns, name) else {
        return;
    };
    let Some(rec) = value.and_then(Record::decode) else {
        return;
    };
    if rec.retired().is_some() {
        return; // a replaced token's marker: the device lives on
    }
    let policy = crate::config::policy();
    let now = ctx.now_ms();
    let reason = if policy.past_deadline(rec.created, now) {
        Reason::MaxLifetime
    } else {
        Reason::Expired
    };
    let ended = Ended {
        user: rec.user.to_vec(),
        id: rec.device_id(&digest),
        reason,
    };
    publish(ctx, &[ended]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Choice;
    use crate::slot;
    use redis_module::configuration::EnumConfigurationValue;

    #[test]
    fn channel_is_on_the_users_slot_and_names_the_user() {
        for user in [&b"alice"[..], b"{tenant}:7", b"sp ace\x00bin"] {
            let c = keys::user_channel(b"mtoken", user);
            assert_eq!(slot::key_slot(&c), slot::key_slot(user));
            assert!(c.starts_with(b"mtoken:{") && c.ends_with(user));
            assert!(contains(&c, b"}:events:"));
        }
    }

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn message_is_reason_id_user() {
        let e = Ended {
            user: b"bob smith".to_vec(),
            id: [0xab; DIGEST_LEN],
            reason: Reason::MaxLifetime,
        };
        let m = message(&e);
        let text = String::from_utf8(m).expect("ascii");
        assert_eq!(text, format!("max-lifetime {} bob smith", "ab".repeat(15)));
    }

    #[test]
    fn every_reason_is_one_lowercase_word() {
        for r in [
            Reason::Logout,
            Reason::ExpireAll,
            Reason::Revoke,
            Reason::Evicted,
            Reason::MaxLifetime,
            Reason::Expired,
            Reason::Reuse,
        ] {
            let w = r.word();
            assert!(
                w.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{w}"
            );
        }
    }

    #[test]
    fn modes_round_trip_through_their_numbers() {
        let (names, numbers) = Choice(Mode::Off).get_options();
        assert_eq!(names, ["off", "sharded", "global"]);
        for ((_, mode), n) in Mode::NAMES.iter().zip(numbers) {
            assert_eq!(Choice::<Mode>::try_from(n).ok(), Some(Choice(*mode)));
        }
        assert!(Choice::<Mode>::try_from(7).is_err());
    }
}
