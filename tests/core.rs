//! Core commands against a real server: CREATE, VERIFY, VERIFY_RO, EXPIRE,
//! EXPIREALL, LIST, REVOKE — the seed's own tests ("Its own tests check" in
//! seed/djforge-redis-multitokens.md), mapped to commands, then what mtoken
//! adds (malformed-token accounting, devices, per-user limit).

mod common;
use common::*;

use std::collections::HashMap;

fn dbsize(c: &mut Conn) -> i64 {
    c.q("DBSIZE").int()
}

fn ttl(c: &mut Conn, key: &[u8]) -> i64 {
    c.cmd(&[&b"TTL"[..], key]).int()
}

fn zcard(c: &mut Conn, key: &[u8]) -> i64 {
    c.cmd(&[&b"ZCARD"[..], key]).int()
}

fn expire(c: &mut Conn, token: &[u8]) -> i64 {
    c.cmd(&[&b"MTOKEN.EXPIRE"[..], token]).int()
}

fn expire_all(c: &mut Conn, user: &[u8]) -> i64 {
    c.cmd(&[&b"MTOKEN.EXPIREALL"[..], user]).int()
}

/// Both keys of a user's single-token state: (index, entry).
fn keys_of(c: &mut Conn, user: &[u8], token: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let index = index_key(c, user).expect("the user's index key");
    let entry = entry_key(c, token).expect("the token's entry key");
    (index, entry)
}

/// The keys and values that belong to `user` and `tokens`, for comparing a
/// user's state before and after another user's commands.
fn state_of(c: &mut Conn, user: &[u8], tokens: &[&[u8]]) -> Vec<KeyState> {
    let index_suffix = [&b"}:u:"[..], user].concat();
    let entries: Vec<Vec<u8>> = tokens
        .iter()
        .map(|t| [&b"}:t:"[..], &token_digest(t)].concat())
        .collect();
    dataset(c)
        .into_iter()
        .filter(|k| k.key.ends_with(&index_suffix) || entries.iter().any(|e| k.key.ends_with(e)))
        .collect()
}

/// `MTOKEN.LIST user` as one map per device (RESP2 flat pairs or RESP3 maps).
fn list(c: &mut Conn, user: &[u8]) -> Vec<HashMap<String, Reply>> {
    c.cmd(&[&b"MTOKEN.LIST"[..], user])
        .array()
        .into_iter()
        .map(|entry| {
            let pairs: Vec<(Reply, Reply)> = match entry {
                Reply::Map(pairs) => pairs,
                Reply::Array(flat) => flat
                    .chunks(2)
                    .map(|p| (p[0].clone(), p[1].clone()))
                    .collect(),
                other => panic!("LIST entry: {other:?}"),
            };
            pairs.into_iter().map(|(k, v)| (k.text(), v)).collect()
        })
        .collect()
}

// ---- the seed's tests, mapped to commands ----------------------------------

#[test]
fn created_token_verifies_to_its_user() {
    let srv = Server::start();
    let mut c = srv.conn();
    let (token, first) = create(&mut c, b"alice", &[]);
    assert_eq!(first, 1);
    assert_eq!(verify(&mut c, &token), Some(b"alice".to_vec()));
    let ro = c.cmd(&[&b"MTOKEN.VERIFY_RO"[..], &token]);
    assert_eq!(ro, Reply::Bulk(b"alice".to_vec()));
}

#[test]
fn new_token_has_a_key_and_a_user() {
    let srv = Server::start();
    let mut c = srv.conn();
    let (token, _) = create(&mut c, b"alice", &[]);
    // mt_ + 43 secret + 6 check + 3 slot chars, all base62.
    assert!(token.starts_with(b"mt_"), "{token:?}");
    assert_eq!(token.len(), 3 + 43 + 6 + 3);
    assert!(token[3..].iter().all(u8::is_ascii_alphanumeric));
    assert_eq!(verify(&mut c, &token), Some(b"alice".to_vec()));
}

#[test]
fn first_token_is_flagged_first_and_the_second_is_not() {
    let srv = Server::start();
    let mut c = srv.conn();
    assert_eq!(create(&mut c, b"alice", &[]).1, 1);
    assert_eq!(create(&mut c, b"alice", &[]).1, 0);
    // Another user's first token is first for that user.
    assert_eq!(create(&mut c, b"bob", &[]).1, 1);
    // Logged out everywhere: the next token is first again.
    assert_eq!(expire_all(&mut c, b"alice"), 2);
    assert_eq!(create(&mut c, b"alice", &[]).1, 1);
}

#[test]
fn after_create_the_users_index_has_one_member_that_resolves() {
    let srv = Server::start();
    let mut c = srv.conn();
    let (token, _) = create(&mut c, b"alice", &[]);
    assert_eq!(dbsize(&mut c), 2);
    let index = index_key(&mut c, b"alice").expect("index key");
    assert_eq!(c.cmd(&[&b"TYPE"[..], &index]).text(), "zset");
    let members = c.cmd(&[&b"ZRANGE"[..], &index, b"0", b"-1"]).array();
    assert_eq!(members.len(), 1);
    let member = members[0].bytes();
    assert_eq!(member, token_digest(&token));
    // The member names the token's entry key, which names the user.
    let entry = entry_key(&mut c, &token).expect("entry key");
    assert!(entry.ends_with(&member));
    let value = c.cmd(&[&b"GET"[..], &entry]).bytes();
    assert!(contains(&value, b"alice"), "{value:?}");
    assert_eq!(verify(&mut c, &token), Some(b"alice".to_vec()));
}

#[test]
fn raw_token_is_not_stored_as_a_key() {
    let srv = Server::start();
    let mut c = srv.conn();
    let (token, _) = create(&mut c, b"alice", &[]);
    assert_eq!(c.cmd(&[&b"EXISTS"[..], &token]), Reply::Int(0));
    for key in all_keys(&mut c) {
        assert!(!contains(&key, &token), "token inside key {key:?}");
        assert!(!contains(&key, &token[3..46]), "secret inside key {key:?}");
    }
}

#[test]
fn second_token_is_stored_beside_the_first_and_both_verify() {
    let srv = Server::start();
    let mut c = srv.conn();
    let (t1, _) = create(&mut c, b"alice", &[]);
    let (t2, _) = create(&mut c, b"alice", &[]);
    assert_ne!(t1, t2);
    let index = index_key(&mut c, b"alice").expect("index key");
    assert_eq!(zcard(&mut c, &index), 2);
    assert_eq!(dbsize(&mut c), 3, "one index and two entries");
    assert_eq!(verify(&mut c, &t1), Some(b"alice".to_vec()));
    assert_eq!(verify(&mut c, &t2), Some(b"alice".to_vec()));
}

#[test]
fn each_token_verifies_to_its_own_user() {
    let srv = Server::start();
    let mut c = srv.conn();
    let (a, _) = create(&mut c, b"alice", &[]);
    let (b, _) = create(&mut c, b"bob", &[]);
    assert_eq!(verify(&mut c, &a), Some(b"alice".to_vec()));
    assert_eq!(verify(&mut c, &b), Some(b"bob".to_vec()));
    assert_eq!(verify_ro(&mut c, &a), Some(b"alice".to_vec()));
    assert_eq!(verify_ro(&mut c, &b), Some(b"bob".to_vec()));
}

#[test]
fn token_with_its_last_or_first_char_cut_off_is_rejected() {
    let srv = Server::start();
    let mut c = srv.conn();
    let (token, _) = create(&mut c, b"alice", &[]);
    let n = token.len();
    assert_eq!(verify(&mut c, &token[..n - 1]), None);
    assert_eq!(verify(&mut c, &token[1..]), None);
    assert_eq!(verify_ro(&mut c, &token[..n - 1]), None);
    assert_eq!(verify_ro(&mut c, &token[1..]), None);
    // The whole token still works.
    assert_eq!(verify(&mut c, &token), Some(b"alice".to_vec()));
}

#[test]
fn expiring_a_users_only_token_removes_both_keys() {
    let srv = Server::start();
    let mut c = srv.conn();
    let (token, _) = create(&mut c, b"alice", &[]);
    assert_eq!(dbsize(&mut c), 2);
    assert_eq!(expire(&mut c, &token), 1);
    assert_eq!(dbsize(&mut c), 0);
    assert_eq!(verify(&mut c, &token), None);
    assert_eq!(expire(&mut c, &token), 0, "already gone");
}

#[test]
fn expiring_one_of_two_tokens_leaves_the_other_working() {
    let srv = Server::start();
    let mut c = srv.conn();
    let (t1, _) = create(&mut c, b"alice", &[]);
    let (t2, _) = create(&mut c, b"alice", &[]);
    assert_eq!(expire(&mut c, &t1), 1);
    assert_eq!(verify(&mut c, &t1), None);
    assert_eq!(verify(&mut c, &t2), Some(b"alice".to_vec()));
    let index = index_key(&mut c, b"alice").expect("index key");
    let members = c.cmd(&[&b"ZRANGE"[..], &index, b"0", b"-1"]).array();
    assert_eq!(members, vec![Reply::Bulk(token_digest(&t2))]);
    assert_eq!(dbsize(&mut c), 2);
}

#[test]
fn expire_and_expireall_leave_other_users_untouched() {
    let srv = Server::start();
    let mut c = srv.conn();
    let (b1, _) = create(&mut c, b"bob", &["TTL", "500"]);
    let (b2, _) = create(&mut c, b"bob", &[]);
    let bob_before = state_of(&mut c, b"bob", &[&b1, &b2]);
    assert_eq!(bob_before.len(), 3);
    let (a1, _) = create(&mut c, b"alice", &[]);
    let (a2, _) = create(&mut c, b"alice", &["TTL", "100"]);
    let (a3, _) = create(&mut c, b"alice", &[]);

    assert_eq!(expire(&mut c, &a1), 1);
    assert_eq!(state_of(&mut c, b"bob", &[&b1, &b2]), bob_before);
    assert_eq!(c.cmd(&[&b"MTOKEN.EXPIREALL"[..], b"alice"]), Reply::Int(2));
    assert_eq!(state_of(&mut c, b"bob", &[&b1, &b2]), bob_before);

    for t in [&a1, &a2, &a3] {
        assert_eq!(verify(&mut c, t), None);
    }
    assert_eq!(verify(&mut c, &b1), Some(b"bob".to_vec()));
    assert_eq!(verify(&mut c, &b2), Some(b"bob".to_vec()));
    assert_eq!(dbsize(&mut c), 3, "only bob's keys are left");
}

#[test]
fn expireall_removes_every_token_of_the_user() {
    let srv = Server::start();
    let mut c = srv.conn();
    let tokens: Vec<_> = (0..5)
        .map(|i| create(&mut c, b"alice", &["NAME", &format!("dev{i}")]).0)
        .collect();
    assert_eq!(expire_all(&mut c, b"alice"), 5);
    for t in &tokens {
        assert_eq!(verify(&mut c, t), None);
    }
    assert_eq!(dbsize(&mut c), 0);
    assert_eq!(expire_all(&mut c, b"alice"), 0, "nothing left to remove");
}

#[test]
fn expireall_on_a_user_without_tokens_returns_zero() {
    let srv = Server::start();
    let mut c = srv.conn();
    assert_eq!(expire_all(&mut c, b"nobody"), 0);
    assert_eq!(
        dbsize(&mut c),
        0,
        "no key created for a user without tokens"
    );
    assert_eq!(
        c.q("MTOKEN.EXPIREALL nobody EXCEPT mt_whatever"),
        Reply::Int(0)
    );
    assert_eq!(dbsize(&mut c), 0);
}

#[test]
fn expireall_except_keeps_only_that_token() {
    let srv = Server::start();
    let mut c = srv.conn();
    let (keep, _) = create(&mut c, b"alice", &[]);
    let (t2, _) = create(&mut c, b"alice", &[]);
    let (t3, _) = create(&mut c, b"alice", &[]);
    let (other, _) = create(&mut c, b"bob", &[]);
    let r = c.cmd(&[&b"MTOKEN.EXPIREALL"[..], b"alice", b"EXCEPT", &keep]);
    assert_eq!(r, Reply::Int(2));
    assert_eq!(verify(&mut c, &keep), Some(b"alice".to_vec()));
    assert_eq!(verify(&mut c, &t2), None);
    assert_eq!(verify(&mut c, &t3), None);
    // Another user's token as EXCEPT protects nothing of alice's, and
    // nothing of bob's is removed.
    let r = c.cmd(&[&b"MTOKEN.EXPIREALL"[..], b"alice", b"EXCEPT", &other]);
    assert_eq!(r, Reply::Int(1));
    assert_eq!(verify(&mut c, &keep), None);
    assert_eq!(verify(&mut c, &other), Some(b"bob".to_vec()));
}

// ---- the seed's TTL tests ---------------------------------------------------

#[test]
fn without_a_default_ttl_keys_never_expire() {
    let srv = Server::start();
    let mut c = srv.conn();
    let (token, _) = create(&mut c, b"alice", &[]);
    let (index, entry) = keys_of(&mut c, b"alice", &token);
    assert_eq!(ttl(&mut c, &index), -1);
    assert_eq!(ttl(&mut c, &entry), -1);
}

#[test]
fn default_ttl_1000_gives_token_and_index_a_ttl_near_1000() {
    let srv = Server::start();
    let mut c = srv.conn();
    config_set(&mut c, "mtoken.default-ttl", "1000");
    let (token, _) = create(&mut c, b"alice", &[]);
    let (index, entry) = keys_of(&mut c, b"alice", &token);
    for key in [&index, &entry] {
        let t = ttl(&mut c, key);
        assert!((995..=1000).contains(&t), "TTL {t}");
    }
    assert_eq!(pexpiretime(&mut c, &index), pexpiretime(&mut c, &entry));
}

/// The seed's "reset with OVERWRITE_NONE_TTL": an immortal token, then a
/// default TTL, then a due refresh.
fn refresh_immortal_token(persistent: &str) -> (Server, i64, i64) {
    let srv = Server::start();
    let mut c = srv.conn();
    let (token, _) = create(&mut c, b"alice", &[]);
    let (index, entry) = keys_of(&mut c, b"alice", &token);
    assert_eq!(ttl(&mut c, &entry), -1);
    config_set(&mut c, "mtoken.default-ttl", "1000");
    config_set(&mut c, "mtoken.refresh-persistent", persistent);
    config_set(&mut c, "mtoken.refresh-interval", "0");
    assert_eq!(verify(&mut c, &token), Some(b"alice".to_vec()));
    let (ti, te) = (ttl(&mut c, &index), ttl(&mut c, &entry));
    (srv, ti, te)
}

#[test]
fn refresh_with_refresh_persistent_yes_gives_immortal_tokens_a_ttl() {
    let (_srv, index_ttl, entry_ttl) = refresh_immortal_token("yes");
    assert!((995..=1000).contains(&entry_ttl), "entry TTL {entry_ttl}");
    assert!((995..=1000).contains(&index_ttl), "index TTL {index_ttl}");
}

#[test]
fn refresh_with_refresh_persistent_no_keeps_immortal_tokens_immortal() {
    let (_srv, index_ttl, entry_ttl) = refresh_immortal_token("no");
    assert_eq!(entry_ttl, -1);
    assert_eq!(index_ttl, -1);
}

#[test]
fn a_refresh_resets_only_that_users_keys() {
    let srv = Server::start();
    let mut c = srv.conn();
    config_set(&mut c, "mtoken.default-ttl", "1000");
    config_set(&mut c, "mtoken.refresh-on-verify", "user");
    let (a1, _) = create(&mut c, b"alice", &[]);
    let (a2, _) = create(&mut c, b"alice", &[]);
    let (b1, _) = create(&mut c, b"bob", &[]);
    let bob_before = state_of(&mut c, b"bob", &[&b1]);
    config_set(&mut c, "mtoken.default-ttl", "2000");
    config_set(&mut c, "mtoken.refresh-interval", "0");
    assert_eq!(verify(&mut c, &a1), Some(b"alice".to_vec()));
    let index = index_key(&mut c, b"alice").expect("alice's index");
    let alice_keys = [
        index,
        entry_key(&mut c, &a1).expect("a1"),
        entry_key(&mut c, &a2).expect("a2"),
    ];
    for key in &alice_keys {
        let t = ttl(&mut c, key);
        assert!((1995..=2000).contains(&t), "alice's key TTL {t}");
    }
    assert_eq!(state_of(&mut c, b"bob", &[&b1]), bob_before);
}

/// A token created without TTL under default-ttl 1000, then default-ttl
/// changed to `new_default`, then a due refresh: (index TTL, entry TTL).
fn refresh_after_default_change(new_default: &str) -> (Server, i64, i64) {
    let srv = Server::start();
    let mut c = srv.conn();
    config_set(&mut c, "mtoken.default-ttl", "1000");
    let (token, _) = create(&mut c, b"alice", &[]);
    let (index, entry) = keys_of(&mut c, b"alice", &token);
    assert!(ttl(&mut c, &entry) > 0);
    config_set(&mut c, "mtoken.default-ttl", new_default);
    config_set(&mut c, "mtoken.refresh-interval", "0");
    assert_eq!(verify(&mut c, &token), Some(b"alice".to_vec()));
    let (ti, te) = (ttl(&mut c, &index), ttl(&mut c, &entry));
    (srv, ti, te)
}

#[test]
fn a_ttl_becomes_immortal_when_default_ttl_changes_to_0() {
    let (_srv, index_ttl, entry_ttl) = refresh_after_default_change("0");
    assert_eq!(entry_ttl, -1);
    assert_eq!(index_ttl, -1);
}

#[test]
fn a_ttl_becomes_2000_when_default_ttl_changes_to_2000() {
    let (_srv, index_ttl, entry_ttl) = refresh_after_default_change("2000");
    assert!((1995..=2000).contains(&entry_ttl), "entry TTL {entry_ttl}");
    assert!((1995..=2000).contains(&index_ttl), "index TTL {index_ttl}");
}

// ---- beyond the seed -------------------------------------------------------

/// Every one-character change, every cut and every extension of a real
/// token is rejected; those the checksum catches count as malformed (no key
/// read). A change in the 3 slot chars (outside the checksum) is malformed
/// when it makes a suffix no token can have, else a miss (README, "Token").
#[test]
fn altered_tokens_never_verify_and_checksum_failures_count_as_malformed() {
    let srv = Server::start();
    let mut c = srv.conn();
    let (token, _) = create(&mut c, b"alice", &[]);
    let n = token.len();
    let mut malformed = Vec::new();
    let mut well_formed_but_wrong = Vec::new();
    for i in 0..n {
        let mut t = token.clone();
        t[i] = if t[i] == b'a' { b'b' } else { b'a' };
        if i >= n - 3 {
            well_formed_but_wrong.push(t);
        } else {
            malformed.push(t);
        }
    }
    for len in [0, 1, 3, 10, 46, n - 4, n - 1] {
        malformed.push(token[..len].to_vec());
    }
    malformed.push(token[1..].to_vec());
    malformed.push([&token[..], b"a"].concat());
    malformed.push([&b"a"[..], &token].concat());
    malformed.push([&token[..], &token[..]].concat());

    let before = (
        info_counter(&mut c, "verify_malformed"),
        info_counter(&mut c, "verify_misses"),
    );
    for t in malformed.iter().chain(&well_formed_but_wrong) {
        assert_eq!(verify(&mut c, t), None, "{:?}", String::from_utf8_lossy(t));
        assert_eq!(verify_ro(&mut c, t), None);
    }
    let after = (
        info_counter(&mut c, "verify_malformed"),
        info_counter(&mut c, "verify_misses"),
    );
    let suffix_malformed = after.0 - before.0 - 2 * malformed.len() as u64;
    assert!(suffix_malformed <= 2 * well_formed_but_wrong.len() as u64);
    assert_eq!(
        suffix_malformed + (after.1 - before.1),
        2 * well_formed_but_wrong.len() as u64
    );
    assert_eq!(verify(&mut c, &token), Some(b"alice".to_vec()));
    assert_eq!(info_counter(&mut c, "verify_hits"), 1);
}

#[test]
fn list_shows_each_device_oldest_first_with_its_id_and_name() {
    let srv = Server::start();
    let mut c = srv.conn();
    let (laptop, _) = create(&mut c, b"alice", &["NAME", "laptop"]);
    tick_ms(&mut c, 2);
    let (phone, _) = create(&mut c, b"alice", &["TTL", "100", "NAME", "phone"]);
    tick_ms(&mut c, 2);
    let (_bare, _) = create(&mut c, b"alice", &[]);
    let devices = list(&mut c, b"alice");
    assert_eq!(devices.len(), 3);
    assert_eq!(
        devices[0]["id"],
        Reply::Bulk(token_id(&laptop).into_bytes())
    );
    assert_eq!(devices[0]["name"], Reply::Bulk(b"laptop".to_vec()));
    assert_eq!(devices[0]["expires"], Reply::Int(-1));
    assert_eq!(devices[1]["id"], Reply::Bulk(token_id(&phone).into_bytes()));
    assert_eq!(devices[1]["name"], Reply::Bulk(b"phone".to_vec()));
    assert!(devices[2]["name"].is_nil(), "no NAME: {:?}", devices[2]);
    let created: Vec<i64> = devices.iter().map(|d| d["created"].int()).collect();
    assert!(
        created[0] < created[1] && created[1] < created[2],
        "{created:?}"
    );
    let phone_expires = devices[1]["expires"].int();
    assert_eq!(phone_expires, created[1] + 100_000);
    let entry = entry_key(&mut c, &phone).expect("phone entry");
    assert_eq!(pexpiretime(&mut c, &entry), phone_expires);
    for d in &devices {
        assert_eq!(d["last_used"], d["created"], "never used yet");
    }
    assert_eq!(c.q("MTOKEN.LIST nobody"), Reply::Array(vec![]));
}

#[test]
fn list_replies_with_maps_under_resp3() {
    let srv = Server::start();
    let mut c = srv.conn();
    assert!(!c.q("HELLO 3").is_error());
    create(&mut c, b"alice", &["NAME", "laptop"]);
    let r = c.q("MTOKEN.LIST alice").array();
    assert_eq!(r.len(), 1);
    let Reply::Map(pairs) = &r[0] else {
        panic!("expected a map, got {:?}", r[0]);
    };
    let fields: Vec<String> = pairs.iter().map(|(k, _)| k.text()).collect();
    assert_eq!(
        fields,
        ["id", "name", "created", "last_used", "expires", "scopes"]
    );
}

#[test]
fn revoke_by_a_listed_id_logs_that_device_out_only() {
    let srv = Server::start();
    let mut c = srv.conn();
    let (laptop, _) = create(&mut c, b"alice", &["NAME", "laptop"]);
    let (phone, _) = create(&mut c, b"alice", &["NAME", "phone"]);
    let (bobs, _) = create(&mut c, b"bob", &[]);
    let id = token_id(&phone);
    // Bob cannot revoke alice's device by its id.
    assert_eq!(c.cmd(&["MTOKEN.REVOKE", "bob", &id]), Reply::Int(0));
    assert_eq!(verify(&mut c, &phone), Some(b"alice".to_vec()));
    assert_eq!(c.cmd(&["MTOKEN.REVOKE", "alice", &id]), Reply::Int(1));
    assert_eq!(verify(&mut c, &phone), None);
    assert_eq!(verify(&mut c, &laptop), Some(b"alice".to_vec()));
    assert_eq!(verify(&mut c, &bobs), Some(b"bob".to_vec()));
    assert_eq!(c.cmd(&["MTOKEN.REVOKE", "alice", &id]), Reply::Int(0));
    for bad in ["", "xyz", &"z".repeat(32), &id[..id.len() - 1]] {
        assert_eq!(c.cmd(&["MTOKEN.REVOKE", "alice", bad]), Reply::Int(0));
    }
    let left = list(&mut c, b"alice");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["name"], Reply::Bulk(b"laptop".to_vec()));
}

#[test]
fn max_tokens_per_user_evicts_the_oldest_token() {
    let srv = Server::start();
    let mut c = srv.conn();
    config_set(&mut c, "mtoken.max-tokens-per-user", "2");
    let (t1, _) = create(&mut c, b"alice", &[]);
    tick_ms(&mut c, 2);
    let (t2, _) = create(&mut c, b"alice", &[]);
    tick_ms(&mut c, 2);
    let (b1, _) = create(&mut c, b"bob", &[]);
    let (t3, _) = create(&mut c, b"alice", &[]);
    assert_eq!(verify(&mut c, &t1), None, "the oldest was evicted");
    assert_eq!(verify(&mut c, &t2), Some(b"alice".to_vec()));
    assert_eq!(verify(&mut c, &t3), Some(b"alice".to_vec()));
    assert_eq!(verify(&mut c, &b1), Some(b"bob".to_vec()));
    assert_eq!(info_counter(&mut c, "tokens_evicted"), 1);
    let index = index_key(&mut c, b"alice").expect("index");
    assert_eq!(zcard(&mut c, &index), 2);
    assert_eq!(dbsize(&mut c), 5, "two indexes, three entries");
}

#[test]
fn namespace_and_token_prefix_apply_to_new_tokens() {
    let srv = Server::start();
    let mut c = srv.conn();
    config_set(&mut c, "mtoken.namespace", "auth");
    config_set(&mut c, "mtoken.token-prefix", "app_");
    let (token, _) = create(&mut c, b"alice", &[]);
    assert!(token.starts_with(b"app_"), "{token:?}");
    assert_eq!(verify(&mut c, &token), Some(b"alice".to_vec()));
    let keys = all_keys(&mut c);
    assert_eq!(keys.len(), 2);
    assert!(keys.iter().all(|k| k.starts_with(b"auth:{")), "{keys:?}");
    // An empty prefix is allowed: the token is the bare 52 chars.
    config_set(&mut c, "mtoken.token-prefix", "");
    let (bare, _) = create(&mut c, b"alice", &[]);
    assert_eq!(bare.len(), 52);
    assert_eq!(verify(&mut c, &bare), Some(b"alice".to_vec()));
}

#[test]
fn info_counts_creates_hits_misses_and_revocations() {
    let srv = Server::start();
    let mut c = srv.conn();
    let (t1, _) = create(&mut c, b"alice", &[]);
    let (t2, _) = create(&mut c, b"alice", &[]);
    create(&mut c, b"alice", &[]);
    verify(&mut c, &t1);
    verify_ro(&mut c, &t2);
    c.cmd(&[&b"MTOKEN.EXPIRE"[..], &t1]);
    verify(&mut c, &t1);
    expire_all(&mut c, b"alice");
    assert_eq!(info_counter(&mut c, "tokens_created"), 3);
    assert_eq!(info_counter(&mut c, "verify_hits"), 2);
    assert_eq!(info_counter(&mut c, "verify_misses"), 1);
    assert_eq!(info_counter(&mut c, "verify_malformed"), 0);
    assert_eq!(info_counter(&mut c, "tokens_revoked"), 3);
}
