//! The commands' decisions on the in-memory store: eviction order,
//! lifetime, refresh throttling and modes, pruning, listing, and that an
//! error writes nothing. No server: `MemStore` logs what would replicate.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};

use super::args::CreateOptions;
use super::create::{self, Created};
use super::devices::{run_list, run_revoke};
use super::expire::{run_expire, run_expire_all};
use super::rotate::{self, Rotated};
use super::verify::{self, Verified};
use crate::error::Error;
use crate::events::{Ended, Reason};
use crate::expiry::{Policy, RefreshMode};
use crate::keys;
use crate::record::Ttl;
use crate::rules::{PRUNE_BATCH, USER_REFRESH_BATCH};
use crate::slot::key_slot;
use crate::store::memory::{Key, MemStore, Value};
use crate::token::{self, Digest, WellFormed};
use crate::tokens::Tokens;

mod features;

const NOW: u64 = 1_800_000_000_000;
const SEC: u64 = 1000;

fn policy() -> Policy {
    Policy {
        default_ttl: 3600,
        refresh: RefreshMode::Token,
        refresh_persistent: true,
        refresh_interval: 60,
        max_lifetime: 0,
    }
}

fn tokens(policy: Policy) -> Tokens<MemStore> {
    Tokens::new(MemStore::new(NOW), policy, NOW)
}

/// Move the clock (the store's key expiry and the rules' `now`).
fn at(t: &mut Tokens<MemStore>, now: u64) {
    t.now = now;
    t.store.now = now;
}

fn create_with(t: &mut Tokens<MemStore>, user: &[u8], ttl: Ttl, limit: usize) -> Created {
    static DRAWN: AtomicU64 = AtomicU64::new(1);
    let opts = CreateOptions {
        ttl,
        name: None,
        scopes: vec![],
    };
    create::run(t, user, &opts, limit, |slot| {
        let mut secret = [0u8; 32];
        secret[..8].copy_from_slice(&DRAWN.fetch_add(1, Ordering::Relaxed).to_le_bytes());
        Ok(token::from_secret(b"mt_", &secret, slot))
    })
    .expect("create")
}

fn fresh(slot: u16) -> crate::error::Result<Vec<u8>> {
    static DRAWN: AtomicU64 = AtomicU64::new(1 << 40);
    let mut secret = [0u8; 32];
    secret[..8].copy_from_slice(&DRAWN.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    Ok(token::from_secret(b"mt_", &secret, slot))
}

fn create_scoped(t: &mut Tokens<MemStore>, user: &[u8], scopes: &[&[u8]]) -> Vec<u8> {
    let opts = CreateOptions {
        ttl: Ttl::Default,
        name: Some(b"phone"),
        scopes: scopes.to_vec(),
    };
    create::run(t, user, &opts, 0, fresh).expect("create").token
}

fn rotate(t: &mut Tokens<MemStore>, tok: &[u8], grace: u32) -> Rotated {
    rotate::run(t, checked(tok), grace, 86_400, fresh).expect("rotate")
}

fn new_token(r: Rotated) -> Vec<u8> {
    match r {
        Rotated::New(tok) => tok,
        other => panic!("not rotated: {other:?}"),
    }
}

fn create(t: &mut Tokens<MemStore>, user: &[u8]) -> Vec<u8> {
    create_with(t, user, Ttl::Default, 0).token
}

fn checked(tok: &[u8]) -> WellFormed<'_> {
    WellFormed::check(tok).expect("a well-formed token")
}

fn verify(t: &mut Tokens<MemStore>, tok: &[u8], may_write: bool) -> Verified<'static> {
    verify_scope(t, tok, may_write, None)
}

fn verify_scope(
    t: &mut Tokens<MemStore>,
    tok: &[u8],
    may_write: bool,
    scope: Option<&[u8]>,
) -> Verified<'static> {
    match verify::run(t, checked(tok), may_write, scope).expect("verify") {
        Verified::User { user, refreshed } => Verified::User {
            user: Cow::Owned(user.into_owned()),
            refreshed,
        },
        Verified::Unknown => Verified::Unknown,
        Verified::Ended { removed } => Verified::Ended { removed },
        Verified::Denied => Verified::Denied,
        Verified::Reused => Verified::Reused,
    }
}

fn user(name: &[u8], refreshed: bool) -> Verified<'static> {
    Verified::User {
        user: Cow::Owned(name.to_vec()),
        refreshed,
    }
}

fn names(effects: &[Vec<Vec<u8>>]) -> Vec<String> {
    effects
        .iter()
        .map(|e| String::from_utf8_lossy(&e[0]).into_owned())
        .collect()
}

fn entry_expiry(t: &Tokens<MemStore>, tok: &[u8]) -> Option<u64> {
    let name = keys::token_entry(&t.store.ns, token::slot_of(tok), &token::digest(tok));
    t.store.keys.get(&name[..]).and_then(|k| k.expires)
}

#[test]
fn create_writes_entry_member_and_index_ttl_and_says_first() {
    let mut t = tokens(policy());
    let first = create_with(&mut t, b"alice", Ttl::Default, 0);
    assert!(first.first);
    assert_eq!(names(&t.store.effects), ["SET", "ZADD", "PEXPIREAT"]);
    assert_eq!(entry_expiry(&t, &first.token), Some(NOW + 3600 * SEC));
    assert!(!create_with(&mut t, b"alice", Ttl::Default, 0).first);
    assert_eq!(verify(&mut t, &first.token, false), user(b"alice", false));
}

#[test]
fn the_limit_evicts_the_dead_first_then_the_oldest() {
    let p = Policy {
        max_lifetime: 100,
        ..policy()
    };
    let mut t = tokens(p);
    let old = create(&mut t, b"u");
    at(&mut t, NOW + 50 * SEC);
    let a = create(&mut t, b"u");
    at(&mut t, NOW + 51 * SEC);
    let b = create(&mut t, b"u");
    // `old` is past max-lifetime at NOW + 100 s: evicted uncounted.
    at(&mut t, NOW + 100 * SEC);
    let c = create_with(&mut t, b"u", Ttl::Default, 3);
    assert_eq!(c.evicted, 0);
    assert_eq!(verify(&mut t, &old, false), Verified::Unknown);
    // At the limit again: the oldest live token (`a`) goes, counted.
    let d = create_with(&mut t, b"u", Ttl::Default, 3);
    assert_eq!(d.evicted, 1);
    assert_eq!(verify(&mut t, &a, false), Verified::Unknown);
    for tok in [&b, &c.token, &d.token] {
        assert_eq!(verify(&mut t, tok, false), user(b"u", false));
    }
}

#[test]
fn max_lifetime_ends_a_token_whatever_its_ttl() {
    let p = Policy {
        max_lifetime: 60,
        ..policy()
    };
    let mut t = tokens(p);
    let tok = create_with(&mut t, b"u", Ttl::Explicit(0), 0).token;
    assert_eq!(entry_expiry(&t, &tok), Some(NOW + 60 * SEC));
    // VERIFY_RO answers nil and writes nothing; VERIFY removes it. (The
    // entry outlives its cap only when max-lifetime was set after creation.)
    t.policy.max_lifetime = 30;
    at(&mut t, NOW + 30 * SEC);
    let before = t.store.effects.len();
    assert_eq!(
        verify(&mut t, &tok, false),
        Verified::Ended { removed: false }
    );
    assert_eq!(t.store.effects.len(), before);
    assert_eq!(
        verify(&mut t, &tok, true),
        Verified::Ended { removed: true }
    );
    assert_eq!(names(&t.store.effects[before..]), ["DEL", "ZREM"]);
    assert_eq!(verify(&mut t, &tok, true), Verified::Unknown);
}

#[test]
fn refresh_is_throttled_to_once_per_interval() {
    let mut t = tokens(policy());
    let tok = create(&mut t, b"u");
    let before = t.store.effects.len();
    at(&mut t, NOW + 59 * SEC);
    assert_eq!(verify(&mut t, &tok, true), user(b"u", false));
    assert_eq!(t.store.effects.len(), before, "not due: nothing written");
    at(&mut t, NOW + 60 * SEC);
    assert_eq!(verify(&mut t, &tok, true), user(b"u", true));
    assert_eq!(
        names(&t.store.effects[before..]),
        ["SETRANGE", "PEXPIREAT", "ZADD", "PEXPIREAT"]
    );
    assert_eq!(entry_expiry(&t, &tok), Some(NOW + 3660 * SEC));
    let after = t.store.effects.len();
    at(&mut t, NOW + 119 * SEC);
    verify(&mut t, &tok, true);
    assert_eq!(t.store.effects.len(), after, "the last use was at +60 s");
}

#[test]
fn each_refresh_mode_slides_what_it_says() {
    for mode in [RefreshMode::None, RefreshMode::Token, RefreshMode::User] {
        let mut t = tokens(Policy {
            refresh: mode,
            ..policy()
        });
        let other = create(&mut t, b"u");
        let tok = create(&mut t, b"u");
        at(&mut t, NOW + 600 * SEC);
        let slid = mode != RefreshMode::None;
        assert_eq!(verify(&mut t, &tok, true), user(b"u", slid), "{mode:?}");
        let own = if slid {
            NOW + 4200 * SEC
        } else {
            NOW + 3600 * SEC
        };
        assert_eq!(entry_expiry(&t, &tok), Some(own), "{mode:?}");
        let theirs = if mode == RefreshMode::User {
            own
        } else {
            NOW + 3600 * SEC
        };
        assert_eq!(entry_expiry(&t, &other), Some(theirs), "{mode:?}");
    }
}

#[test]
fn user_mode_slides_a_bounded_batch_soonest_expiring_first() {
    let mut t = tokens(Policy {
        refresh: RefreshMode::User,
        ..policy()
    });
    let mut all = Vec::new();
    for i in 0..USER_REFRESH_BATCH + 20 {
        at(&mut t, NOW + i as u64);
        all.push(create(&mut t, b"u"));
    }
    let presented = all.pop().expect("one");
    at(&mut t, NOW + 600 * SEC);
    verify(&mut t, &presented, true);
    let slid = |t: &Tokens<MemStore>, tok: &Vec<u8>| entry_expiry(t, tok) == Some(NOW + 4200 * SEC);
    assert!(all[..USER_REFRESH_BATCH].iter().all(|tok| slid(&t, tok)));
    assert!(!all[USER_REFRESH_BATCH..].iter().any(|tok| slid(&t, tok)));
}

#[test]
fn pruning_removes_stale_members_in_bounded_batches() {
    let mut t = tokens(policy());
    let user: &[u8] = b"u";
    let name = keys::user_index(&t.store.ns, user);
    let members = (0..PRUNE_BATCH + 5)
        .map(|i| {
            (
                (i as u64).to_le_bytes().to_vec(),
                (NOW - 1 - i as u64) as f64,
            )
        })
        .collect();
    t.store.keys.insert(
        name.clone(),
        Key {
            value: Value::Zset(members),
            expires: None,
        },
    );
    create(&mut t, user);
    let len = |t: &Tokens<MemStore>| match &t.store.keys[&name].value {
        Value::Zset(m) => m.len(),
        _ => 0,
    };
    assert_eq!(
        len(&t),
        5 + 1,
        "1000 stale members pruned, the new one added"
    );
    create(&mut t, user);
    assert_eq!(len(&t), 2);
}

#[test]
fn list_shows_live_devices_oldest_first_and_revoke_takes_an_id() {
    let mut t = tokens(policy());
    let a = create(&mut t, b"u");
    at(&mut t, NOW + SEC);
    let b = create(&mut t, b"u");
    create_with(&mut t, b"u", Ttl::Explicit(1), 0);
    at(&mut t, NOW + 3 * SEC);
    let list = run_list(&mut t, b"u").expect("list");
    let digests: Vec<_> = list.iter().map(|d| d.digest).collect();
    assert_eq!(digests, [token::digest(&a), token::digest(&b)]);
    let id = token::id_of(&token::digest(&a));
    assert_eq!(run_revoke(&mut t, b"someone-else", &id), Ok(0));
    assert_eq!(run_revoke(&mut t, b"u", &id), Ok(1));
    assert_eq!(run_revoke(&mut t, b"u", &id), Ok(0));
    assert_eq!(run_list(&mut t, b"u").expect("list").len(), 1);
}

#[test]
fn expire_and_expire_all_count_live_tokens() {
    let mut t = tokens(policy());
    let a = create(&mut t, b"u");
    let b = create(&mut t, b"u");
    let c = create(&mut t, b"u");
    assert_eq!(run_expire(&mut t, checked(&a)), Ok(1));
    assert_eq!(run_expire(&mut t, checked(&a)), Ok(0));
    assert!(WellFormed::check(b"not a token").is_none());
    assert_eq!(run_expire_all(&mut t, b"u", Some(token::digest(&b))), Ok(1));
    assert_eq!(verify(&mut t, &b, false), user(b"u", false));
    assert_eq!(verify(&mut t, &c, false), Verified::Unknown);
    assert_eq!(run_expire_all(&mut t, b"u", None), Ok(1));
    assert!(t.store.keys.is_empty(), "entries and index all gone");
}

#[test]
fn an_error_writes_nothing() {
    let mut t = tokens(Policy {
        max_lifetime: 3600,
        ..policy()
    });
    let a = create(&mut t, b"u");
    create(&mut t, b"u");
    // Something else at the first token's entry name.
    let entry = keys::token_entry(&t.store.ns, key_slot(b"u"), &token::digest(&a));
    t.store.keys.insert(
        entry.to_vec(),
        Key {
            value: Value::Other,
            expires: None,
        },
    );
    let before = t.store.clone_state();
    assert_eq!(
        verify::run(&mut t, checked(&a), true, None),
        Err(Error::WrongType)
    );
    assert_eq!(run_expire_all(&mut t, b"u", None), Err(Error::WrongType));
    assert_eq!(
        run_list(&mut t, b"u").map(|l| l.len()),
        Err(Error::WrongType)
    );
    let opts = CreateOptions {
        ttl: Ttl::Default,
        name: None,
        scopes: vec![],
    };
    let created = create::run(&mut t, b"u", &opts, 1, |slot| {
        Ok(token::from_secret(b"", &[9; 32], slot))
    });
    assert_eq!(created.err(), Some(Error::WrongType));
    assert_eq!(t.store.clone_state(), before);
}

#[test]
fn a_missing_key_on_an_importing_slot_is_tryagain() {
    let mut t = tokens(policy());
    let tok = create(&mut t, b"u");
    t.store.importing.insert(key_slot(b"u"));
    assert_eq!(verify(&mut t, &tok, true), user(b"u", false));
    let other = token::from_secret(b"mt_", &[7; 32], key_slot(b"u"));
    assert_eq!(
        verify::run(&mut t, checked(&other), true, None),
        Err(Error::TryAgain)
    );
    t.store
        .keys
        .retain(|k, _| !k.windows(3).any(|w| w == b":t:"));
    assert_eq!(
        run_list(&mut t, b"u").map(|l| l.len()),
        Err(Error::TryAgain)
    );
}

/// README, MTOKEN.CREATE: O(log N) plus the pruned members, also with a
/// max-lifetime (then `first` reads records until it meets a live one).
#[test]
fn create_with_max_lifetime_does_not_walk_every_token() {
    let mut t = tokens(Policy {
        max_lifetime: 86_400,
        ..policy()
    });
    for _ in 0..1_000 {
        create(&mut t, b"big");
    }
    t.store.visited = 0;
    create(&mut t, b"big");
    assert!(
        t.store.visited < 100,
        "CREATE walked {} of 1000 index members",
        t.store.visited
    );
}
