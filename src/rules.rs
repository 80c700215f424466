//! The token lifecycle rules (docs/DESIGN.md, "Expiry and refresh"): who
//! is live, what to evict,
//! when to refresh, what to prune, what LIST shows. Pure: they take the
//! policy, the clock and what the store holds, and return what to change;
//! `tokens.rs` reads the store for them and applies their answers.
//! The expiry arithmetic itself is `expiry::Policy`.

use crate::expiry::{self, Policy, RefreshMode};
use crate::record::{Record, Retired, Ttl};
use crate::token::Digest;

/// At most this many dead index members are removed by one command, so
/// that one command's work and replication stay bounded; the rest go with
/// the user's next writes.
pub const PRUNE_BATCH: usize = 1000;
/// At most this many of the user's other tokens are slid by one VERIFY in
/// `refresh-on-verify user` mode, the soonest-expiring first.
pub const USER_REFRESH_BATCH: usize = 100;

/// A live token as LIST shows it and as the rules weigh it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    pub digest: Digest,
    /// The id LIST shows and REVOKE takes: the digest, or once rotated the
    /// family id (`Record::device_id`).
    pub id: Digest,
    pub created: u64,
    pub last_used: u64,
    pub ttl: Ttl,
    pub name: Option<Vec<u8>>,
    /// `None`: every scope (created without `SCOPE`).
    pub scopes: Option<Vec<Vec<u8>>>,
    /// When it stops being valid: its expiry, capped by max-lifetime.
    pub expires: Option<u64>,
}

/// A token's entry seen now: the device it is, or `None` when it is past
/// its max-lifetime (dead whatever its TTL says) or is a replaced token's
/// marker (never an index member; one found there is no device).
pub fn device(
    policy: &Policy,
    now: u64,
    digest: Digest,
    rec: &Record,
    expires: Option<u64>,
) -> Option<Device> {
    let usable = !policy.past_deadline(rec.created, now) && rec.retired().is_none();
    usable.then(|| Device {
        digest,
        id: rec.device_id(&digest),
        created: rec.created,
        last_used: rec.last_used,
        ttl: rec.ttl,
        name: rec.name.map(<[u8]>::to_vec),
        scopes: rec.scopes.map(|s| s.iter().map(<[u8]>::to_vec).collect()),
        // A max-lifetime set after creation ends the token first.
        expires: policy.cap(rec.created, expires),
    })
}

/// LIST's order: oldest created first (digest breaks ties).
pub fn sort_devices(devices: &mut [Device]) {
    devices.sort_by_key(|d| (d.created, d.digest));
}

/// Whether an index member is stale: its expiry has passed, and its entry
/// expired with it (same absolute time), so only the member is left.
pub fn stale(score: f64, now: u64) -> bool {
    score < now as f64
}

/// What VERIFY does with a token whose entry it found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnVerify {
    /// Answer the user, write nothing.
    Answer,
    /// Answer the user and record the use: slide the expiry (and, in
    /// `user` mode, the user's other tokens').
    Refresh,
    /// Past max-lifetime: answer nil, and remove it when the call may write.
    Dead,
    /// The token does not hold the scope asked for: answer nil, write nothing.
    Denied,
    /// A replaced token within its grace period: answer the user (if the
    /// device is still there), write nothing.
    Grace(Retired),
    /// A replaced token past its grace period: reuse, so revoke the device
    /// when the call may write, and answer nil.
    Reused,
}

/// `scope`: the scope the caller requires, if any.
pub fn on_verify(
    policy: &Policy,
    rec: &Record,
    now: u64,
    may_write: bool,
    scope: Option<&[u8]>,
) -> OnVerify {
    if policy.past_deadline(rec.created, now) {
        OnVerify::Dead
    } else if let Some(retired) = rec.retired() {
        if now < retired.grace_end {
            if rec.allows(scope) {
                OnVerify::Grace(retired)
            } else {
                OnVerify::Denied
            }
        } else {
            OnVerify::Reused
        }
    } else if !rec.allows(scope) {
        OnVerify::Denied
    } else if may_write && policy.due(rec.ttl, rec.last_used, now) {
        OnVerify::Refresh
    } else {
        OnVerify::Answer
    }
}

/// What ROTATE writes, decided from the old token's record and expiry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rotation {
    /// The new token's expiry: a fresh TTL from now, capped at the
    /// device's max-lifetime deadline (from its first creation).
    pub expires: Option<u64>,
    /// When the old token stops answering (now + grace, ms).
    pub grace_end: u64,
    /// The old entry's (the marker's) expiry: never later than the old
    /// token would have expired, and at most `window` past the rotation
    /// (but at least its grace), so markers do not pile up.
    pub marker_expires: u64,
}

pub fn rotation(
    policy: &Policy,
    now: u64,
    rec: &Record,
    old_expires: Option<u64>,
    grace_secs: u32,
    window_secs: u64,
) -> Rotation {
    let grace_end = now.saturating_add(grace_secs as u64 * 1000);
    let kept = now
        .saturating_add(window_secs.saturating_mul(1000))
        .max(grace_end);
    Rotation {
        expires: policy.cap(rec.created, policy.initial(rec.ttl, now)),
        grace_end,
        marker_expires: old_expires.map_or(kept, |e| e.min(kept)),
    }
}

/// Whether a refresh also slides the user's other tokens.
pub fn refreshes_others(policy: &Policy) -> bool {
    policy.refresh == RefreshMode::User
}

/// The expiry a refresh gives a token now, if it changes (`None`: keep).
pub fn refreshed(
    policy: &Policy,
    now: u64,
    d: &Device,
    current: Option<u64>,
) -> Option<Option<u64>> {
    if policy.refresh == RefreshMode::None {
        return None;
    }
    policy.refreshed(d.ttl, d.created, current, now)
}

/// What CREATE does to the user's other tokens.
#[derive(Debug, PartialEq, Eq)]
pub struct Eviction {
    /// The user had no live token before (the new one is the first).
    pub first: bool,
    /// Tokens to delete: the dead ones, then the oldest live ones beyond
    /// `limit - 1`, so that with the new one the user has at most `limit`.
    pub doomed: Vec<Digest>,
}

/// `live`: the user's live tokens, oldest created first (`sort_devices`);
/// `dead`: index members that are no token any more. `limit` 0: none.
pub fn evict(limit: usize, live: &[Device], dead: Vec<Digest>) -> Eviction {
    let excess = if limit == 0 {
        0
    } else {
        (live.len() + 1).saturating_sub(limit)
    };
    let mut doomed = dead;
    doomed.extend(live.iter().take(excess).map(|d| d.digest));
    Eviction {
        first: live.is_empty(),
        doomed,
    }
}

/// Whether CREATE must read every token of the user to apply `limit`
/// (otherwise it only needs to know whether one is live).
pub fn needs_eviction_scan(limit: usize, members: usize) -> bool {
    limit > 0 && members >= limit
}

/// The index's expiry: its longest-lived member's (`None`: one never
/// expires), so that a user whose tokens are all gone leaves no key.
pub fn index_expiry(max_score: f64) -> Option<u64> {
    expiry::clamp(expiry::from_score(max_score))
}

/// The same after adding one member expiring at `added` to an index of
/// `len` members (with it) whose expiry was `current`, without a walk.
pub fn index_expiry_added(len: usize, current: Option<u64>, added: Option<u64>) -> Option<u64> {
    let at = if len == 1 {
        added
    } else {
        match (current, added) {
            (Some(current), Some(added)) => Some(current.max(added)),
            _ => None, // an immortal member, old or new
        }
    };
    expiry::clamp(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000_000;

    fn policy() -> Policy {
        Policy {
            default_ttl: 3600,
            refresh: RefreshMode::Token,
            refresh_persistent: false,
            refresh_interval: 60,
            max_lifetime: 0,
        }
    }

    fn dev(n: u8, created: u64) -> Device {
        Device {
            digest: [n; 15],
            created,
            last_used: created,
            id: [n; 15],
            ttl: Ttl::Default,
            name: None,
            scopes: None,
            expires: None,
        }
    }

    #[test]
    fn eviction_takes_the_dead_then_the_oldest() {
        let live = [dev(1, 10), dev(2, 20), dev(3, 30)];
        let e = evict(3, &live, vec![[9; 15]]);
        assert_eq!(e.doomed, vec![[9; 15], [1; 15]]);
        assert!(!e.first);
        let e = evict(2, &live, vec![]);
        assert_eq!(e.doomed, vec![[1; 15], [2; 15]]);
        // Limit 1: every live token goes; the user had one, so not first.
        let e = evict(1, &live, vec![]);
        assert_eq!(e.doomed.len(), 3);
        assert!(!e.first);
        // No limit, or under it: only the dead.
        assert_eq!(evict(0, &live, vec![[9; 15]]).doomed, vec![[9; 15]]);
        assert!(evict(5, &live, vec![]).doomed.is_empty());
        assert!(evict(5, &[], vec![[9; 15]]).first);
    }

    #[test]
    fn verify_answers_refreshes_when_due_and_ends_at_max_lifetime() {
        let rec = |created, last_used| Record {
            created,
            last_used,
            ttl: Ttl::Explicit(3600),
            user: b"u",
            name: None,
            scopes: None,
            rotation: None,
        };
        let on_verify = |p: &Policy, r: &Record, now, w| on_verify(p, r, now, w, None);
        let p = policy();
        assert_eq!(
            on_verify(&p, &rec(NOW, NOW), NOW + 59_999, true),
            OnVerify::Answer
        );
        assert_eq!(
            on_verify(&p, &rec(NOW, NOW), NOW + 60_000, true),
            OnVerify::Refresh
        );
        assert_eq!(
            on_verify(&p, &rec(NOW, NOW), NOW + 60_000, false),
            OnVerify::Answer
        );
        let p = Policy {
            max_lifetime: 100,
            ..p
        };
        assert_eq!(
            on_verify(&p, &rec(NOW, NOW), NOW + 100_000, false),
            OnVerify::Dead
        );
        assert_eq!(
            on_verify(&p, &rec(NOW, NOW), NOW + 99_999, false),
            OnVerify::Answer
        );
    }

    #[test]
    fn refresh_in_each_mode() {
        let d = Device {
            ttl: Ttl::Explicit(10),
            ..dev(1, NOW)
        };
        let later = NOW + 60_000;
        for (mode, want, others) in [
            (RefreshMode::None, None, false),
            (RefreshMode::Token, Some(Some(later + 10_000)), false),
            (RefreshMode::User, Some(Some(later + 10_000)), true),
        ] {
            let p = Policy {
                refresh: mode,
                ..policy()
            };
            assert_eq!(
                refreshed(&p, later, &d, Some(NOW + 10_000)),
                want,
                "{mode:?}"
            );
            assert_eq!(refreshes_others(&p), others);
        }
    }

    #[test]
    fn devices_past_max_lifetime_are_dead_and_expiry_is_capped() {
        let rec = Record {
            created: NOW,
            last_used: NOW,
            ttl: Ttl::Default,
            user: b"u",
            name: Some(b"phone"),
            scopes: None,
            rotation: None,
        };
        let p = Policy {
            max_lifetime: 60,
            ..policy()
        };
        let d = device(&p, NOW + 1, [1; 15], &rec, None).expect("live");
        assert_eq!(d.expires, Some(NOW + 60_000));
        assert_eq!(d.name.as_deref(), Some(&b"phone"[..]));
        assert_eq!(device(&p, NOW + 60_000, [1; 15], &rec, None), None);
        let mut v = vec![dev(2, 5), dev(1, 5), dev(3, 1)];
        sort_devices(&mut v);
        assert_eq!(v.iter().map(|d| d.digest[0]).collect::<Vec<_>>(), [3, 1, 2]);
    }

    #[test]
    fn index_follows_its_longest_lived_member() {
        assert_eq!(index_expiry(f64::INFINITY), None);
        assert_eq!(index_expiry(1e20), Some(expiry::MAX_MS));
        assert_eq!(index_expiry_added(1, Some(5), Some(3)), Some(3));
        assert_eq!(index_expiry_added(2, Some(5), Some(3)), Some(5));
        assert_eq!(index_expiry_added(2, Some(5), Some(9)), Some(9));
        assert_eq!(index_expiry_added(2, None, Some(9)), None);
        assert_eq!(index_expiry_added(2, Some(5), None), None);
        assert!(stale(NOW as f64 - 1.0, NOW) && !stale(NOW as f64, NOW));
        assert!(
            needs_eviction_scan(2, 2) && !needs_eviction_scan(2, 1) && !needs_eviction_scan(0, 9)
        );
    }

    #[test]
    fn verify_with_a_scope_and_of_a_replaced_token() {
        use crate::record::{Rotation as Link, Scopes};
        let held = Scopes::encode(&[b"read"]);
        let mut rec = Record {
            created: NOW,
            last_used: NOW,
            ttl: Ttl::Explicit(3600),
            user: b"u",
            name: None,
            scopes: None,
            rotation: None,
        };
        let p = policy();
        // Without scopes a token holds every scope.
        assert_eq!(on_verify(&p, &rec, NOW, true, Some(b"x")), OnVerify::Answer);
        rec.scopes = Scopes::decode(&held).map(|(s, _)| s);
        assert_eq!(on_verify(&p, &rec, NOW, true, Some(b"x")), OnVerify::Denied);
        assert_eq!(
            on_verify(&p, &rec, NOW, true, Some(b"read")),
            OnVerify::Answer
        );
        // Denied before due: a denied call never refreshes.
        assert_eq!(
            on_verify(&p, &rec, NOW + 60_000, true, Some(b"x")),
            OnVerify::Denied
        );
        let retired = Retired {
            successor: [2; 15],
            grace_end: NOW + 30_000,
        };
        rec.rotation = Some(Link {
            family: [1; 15],
            retired: Some(retired),
        });
        assert_eq!(
            on_verify(&p, &rec, NOW + 29_999, true, None),
            OnVerify::Grace(retired)
        );
        assert_eq!(
            on_verify(&p, &rec, NOW + 29_999, true, Some(b"x")),
            OnVerify::Denied
        );
        assert_eq!(
            on_verify(&p, &rec, NOW + 30_000, false, None),
            OnVerify::Reused
        );
        assert!(device(&p, NOW, [3; 15], &rec, None).is_none());
    }

    #[test]
    fn rotation_keeps_the_deadline_and_bounds_the_marker() {
        let rec = Record {
            created: NOW - 1000 * SEC_MS,
            last_used: NOW,
            ttl: Ttl::Explicit(600),
            user: b"u",
            name: None,
            scopes: None,
            rotation: None,
        };
        let p = Policy {
            max_lifetime: 1100,
            ..policy()
        };
        let r = rotation(&p, NOW, &rec, Some(NOW + 500 * SEC_MS), 30, 86_400);
        // Fresh TTL 600 s, but the device's deadline is 100 s away.
        assert_eq!(r.expires, Some(NOW + 100 * SEC_MS));
        assert_eq!(r.grace_end, NOW + 30 * SEC_MS);
        assert_eq!(r.marker_expires, NOW + 500 * SEC_MS);
        // A token that never expires leaves a marker for the window only.
        let r = rotation(&policy(), NOW, &rec, None, 30, 3600);
        assert_eq!(r.expires, Some(NOW + 600 * SEC_MS));
        assert_eq!(r.marker_expires, NOW + 3600 * SEC_MS);
        // At least the grace period, whatever the window.
        assert_eq!(
            rotation(&policy(), NOW, &rec, None, 30, 0).marker_expires,
            NOW + 30 * SEC_MS
        );
    }

    const SEC_MS: u64 = 1000;
}
