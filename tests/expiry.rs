//! Expiry (docs/DESIGN.md, "Expiry"): tokens die with their TTL and leave no key
//! behind; a due VERIFY slides expiries per `refresh-on-verify`, at most
//! once per `refresh-interval`; VERIFY_RO and `none` never change anything;
//! the index lives exactly as long as its longest-lived token.

mod common;
use common::*;

use std::time::{Duration, Instant};

fn entry_expiry(c: &mut Conn, token: &[u8]) -> i64 {
    let key = entry_key(c, token).expect("the token's entry key");
    pexpiretime(c, &key)
}

fn index_expiry(c: &mut Conn, user: &[u8]) -> i64 {
    let key = index_key(c, user).expect("the user's index key");
    pexpiretime(c, &key)
}

/// The token's score in its user's index, as an expiry (-1 for +inf).
fn index_score(c: &mut Conn, user: &[u8], token: &[u8]) -> i64 {
    let key = index_key(c, user).expect("the user's index key");
    let s = c.cmd(&[&b"ZSCORE"[..], &key, &token_digest(token)]).text();
    if s == "inf" {
        -1
    } else {
        s.parse::<f64>().expect("a score") as i64
    }
}

/// `last_used` of a token as `MTOKEN.LIST` shows it (RESP2 flat pairs).
fn last_used(c: &mut Conn, user: &[u8], token: &[u8]) -> i64 {
    let id = token_id(token).into_bytes();
    let devices = c.cmd(&[&b"MTOKEN.LIST"[..], user]).array();
    for d in devices {
        let fields = d.array();
        if fields[1] == Reply::Bulk(id.clone()) {
            return fields[7].int();
        }
    }
    panic!("token not listed for {user:?}")
}

#[test]
fn token_past_its_ttl_stops_verifying_and_leaves_no_key() {
    let srv = Server::start();
    let mut c = srv.conn();
    let (token, _) = create(&mut c, b"alice", &["TTL", "1"]);
    assert_eq!(verify(&mut c, &token), Some(b"alice".to_vec()));
    // Polled with VERIFY_RO: a VERIFY this often would keep sliding it.
    let gone = wait_until(Duration::from_secs(5), || {
        verify_ro(&mut c, &token).is_none()
    });
    assert!(gone, "token still verifies after its TTL");
    // Active expiry reclaims both keys: the user leaves nothing behind.
    assert!(wait_until(Duration::from_secs(5), || c.q("DBSIZE").int() == 0));
    assert_eq!(c.q("MTOKEN.LIST alice"), Reply::Array(vec![]));
}

#[test]
fn user_with_tokens_of_different_ttls_leaves_no_key_after_the_last_expires() {
    let srv = Server::start();
    let mut c = srv.conn();
    let (short, _) = create(&mut c, b"alice", &["TTL", "1"]);
    let (long, _) = create(&mut c, b"alice", &["TTL", "2"]);
    assert_eq!(index_expiry(&mut c, b"alice"), entry_expiry(&mut c, &long));
    assert!(wait_until(Duration::from_secs(5), || verify_ro(
        &mut c, &short
    )
    .is_none()));
    assert_eq!(verify_ro(&mut c, &long), Some(b"alice".to_vec()));
    assert!(
        index_key(&mut c, b"alice").is_some(),
        "index outlived by a token"
    );
    assert!(wait_until(Duration::from_secs(5), || verify_ro(
        &mut c, &long
    )
    .is_none()));
    assert!(wait_until(Duration::from_secs(5), || c.q("DBSIZE").int() == 0));
}

#[test]
fn expired_members_are_pruned_from_the_index_on_the_next_write() {
    let srv = Server::start();
    let mut c = srv.conn();
    let (short, _) = create(&mut c, b"alice", &["TTL", "1"]);
    create(&mut c, b"alice", &[]);
    assert!(wait_until(Duration::from_secs(5), || verify_ro(
        &mut c, &short
    )
    .is_none()));
    let (_, first) = create(&mut c, b"alice", &[]);
    assert_eq!(first, 0);
    let index = index_key(&mut c, b"alice").expect("index");
    let members = c.cmd(&[&b"ZRANGE"[..], &index, b"0", b"-1"]).array();
    assert_eq!(members.len(), 2, "the expired member was pruned");
    assert!(!members.contains(&Reply::Bulk(token_digest(&short))));
    assert_eq!(
        c.cmd(&[&b"MTOKEN.EXPIREALL"[..], b"alice"]),
        Reply::Int(2),
        "only live tokens are counted"
    );
}

#[test]
fn token_mode_due_verify_slides_the_expiry_back_up() {
    let srv = Server::start();
    let mut c = srv.conn();
    config_set(&mut c, "mtoken.refresh-interval", "0");
    let (token, _) = create(&mut c, b"alice", &["TTL", "100"]);
    let before = entry_expiry(&mut c, &token);
    tick_ms(&mut c, 5);
    let now = server_ms(&mut c) as i64;
    assert_eq!(verify(&mut c, &token), Some(b"alice".to_vec()));
    let after = entry_expiry(&mut c, &token);
    assert!(after >= before + 5, "expiry {before} -> {after}");
    assert!(
        (now + 100_000..now + 101_000).contains(&after),
        "{after} vs now {now}"
    );
    assert_eq!(index_score(&mut c, b"alice", &token), after);
    assert_eq!(index_expiry(&mut c, b"alice"), after);
    assert_eq!(info_counter(&mut c, "refreshes"), 1);
}

#[test]
fn verify_within_the_refresh_interval_writes_nothing() {
    let srv = Server::start();
    let mut c = srv.conn();
    config_set(&mut c, "mtoken.refresh-interval", "3600");
    let (token, _) = create(&mut c, b"alice", &["TTL", "100"]);
    let before = dataset(&mut c);
    let used = last_used(&mut c, b"alice", &token);
    tick_ms(&mut c, 5);
    for _ in 0..3 {
        assert_eq!(verify(&mut c, &token), Some(b"alice".to_vec()));
    }
    assert_eq!(dataset(&mut c), before, "expiry or value changed");
    assert_eq!(last_used(&mut c, b"alice", &token), used);
    assert_eq!(info_counter(&mut c, "refreshes"), 0);
}

#[test]
fn due_verify_records_the_last_use() {
    let srv = Server::start();
    let mut c = srv.conn();
    config_set(&mut c, "mtoken.refresh-interval", "0");
    let (token, _) = create(&mut c, b"alice", &[]);
    let created = last_used(&mut c, b"alice", &token);
    tick_ms(&mut c, 5);
    let now = server_ms(&mut c) as i64;
    verify(&mut c, &token);
    let used = last_used(&mut c, b"alice", &token);
    assert!(
        used >= now && used > created,
        "last_used {created} -> {used}"
    );
}

#[test]
fn token_mode_refreshes_only_the_verified_token() {
    let srv = Server::start();
    let mut c = srv.conn();
    config_set(&mut c, "mtoken.refresh-interval", "0");
    let (t1, _) = create(&mut c, b"alice", &["TTL", "100"]);
    let (t2, _) = create(&mut c, b"alice", &["TTL", "100"]);
    let t2_before = entry_expiry(&mut c, &t2);
    tick_ms(&mut c, 5);
    verify(&mut c, &t1);
    assert!(entry_expiry(&mut c, &t1) > t2_before);
    assert_eq!(entry_expiry(&mut c, &t2), t2_before);
    assert_eq!(index_score(&mut c, b"alice", &t2), t2_before);
}

#[test]
fn user_mode_refreshes_the_users_other_tokens_but_not_other_users() {
    let srv = Server::start();
    let mut c = srv.conn();
    config_set(&mut c, "mtoken.refresh-interval", "0");
    config_set(&mut c, "mtoken.refresh-on-verify", "user");
    let (t1, _) = create(&mut c, b"alice", &["TTL", "100"]);
    let (t2, _) = create(&mut c, b"alice", &["TTL", "50"]);
    let (b1, _) = create(&mut c, b"bob", &["TTL", "100"]);
    let t2_before = entry_expiry(&mut c, &t2);
    let bob_before = entry_expiry(&mut c, &b1);
    let bob_index_before = index_expiry(&mut c, b"bob");
    tick_ms(&mut c, 5);
    let now = server_ms(&mut c) as i64;
    verify(&mut c, &t1);
    // Each of alice's tokens slides by its own TTL.
    let t1_after = entry_expiry(&mut c, &t1);
    let t2_after = entry_expiry(&mut c, &t2);
    assert!((now + 100_000..now + 101_000).contains(&t1_after));
    assert!((now + 50_000..now + 51_000).contains(&t2_after));
    assert!(t2_after > t2_before);
    assert_eq!(index_score(&mut c, b"alice", &t2), t2_after);
    assert_eq!(index_expiry(&mut c, b"alice"), t1_after);
    assert_eq!(entry_expiry(&mut c, &b1), bob_before);
    assert_eq!(index_expiry(&mut c, b"bob"), bob_index_before);
}

/// An immortal (`TTL 0`) token, default-ttl 50, a due refresh: its TTL.
fn refresh_ttl0_token(persistent: &str) -> (Server, i64, i64) {
    let srv = Server::start();
    let mut c = srv.conn();
    config_set(&mut c, "mtoken.default-ttl", "50");
    config_set(&mut c, "mtoken.refresh-interval", "0");
    config_set(&mut c, "mtoken.refresh-persistent", persistent);
    let (token, _) = create(&mut c, b"alice", &["TTL", "0"]);
    assert_eq!(entry_expiry(&mut c, &token), -1);
    let now = server_ms(&mut c) as i64;
    verify(&mut c, &token);
    let expiry = entry_expiry(&mut c, &token);
    assert_eq!(index_expiry(&mut c, b"alice"), expiry);
    (srv, now, expiry)
}

#[test]
fn refresh_persistent_yes_gives_a_ttl0_token_the_default_ttl() {
    let (_srv, now, expiry) = refresh_ttl0_token("yes");
    assert!((now + 50_000..now + 51_000).contains(&expiry), "{expiry}");
}

#[test]
fn refresh_persistent_no_keeps_a_ttl0_token_immortal() {
    let (_srv, _now, expiry) = refresh_ttl0_token("no");
    assert_eq!(expiry, -1);
}

#[test]
fn refresh_on_verify_none_never_changes_an_expiry() {
    let srv = Server::start();
    let mut c = srv.conn();
    config_set(&mut c, "mtoken.refresh-on-verify", "none");
    config_set(&mut c, "mtoken.refresh-interval", "0");
    config_set(&mut c, "mtoken.default-ttl", "50");
    let (mortal, _) = create(&mut c, b"alice", &["TTL", "100"]);
    let (immortal, _) = create(&mut c, b"alice", &["TTL", "0"]);
    let before: Vec<_> = dataset(&mut c)
        .into_iter()
        .map(|k| (k.key, k.pexpiretime))
        .collect();
    tick_ms(&mut c, 5);
    for t in [&mortal, &immortal, &mortal] {
        assert_eq!(verify(&mut c, t), Some(b"alice".to_vec()));
    }
    let after: Vec<_> = dataset(&mut c)
        .into_iter()
        .map(|k| (k.key, k.pexpiretime))
        .collect();
    assert_eq!(after, before);
    assert_eq!(info_counter(&mut c, "refreshes"), 0);
}

#[test]
fn verify_ro_never_changes_anything() {
    let srv = Server::start();
    let mut c = srv.conn();
    config_set(&mut c, "mtoken.refresh-on-verify", "user");
    config_set(&mut c, "mtoken.refresh-interval", "0");
    config_set(&mut c, "mtoken.default-ttl", "50");
    let (mortal, _) = create(&mut c, b"alice", &["TTL", "100"]);
    let (immortal, _) = create(&mut c, b"alice", &["TTL", "0"]);
    let (follows, _) = create(&mut c, b"alice", &[]);
    let before = dataset(&mut c);
    tick_ms(&mut c, 5);
    for t in [&mortal, &immortal, &follows] {
        assert_eq!(verify_ro(&mut c, t), Some(b"alice".to_vec()));
    }
    assert_eq!(dataset(&mut c), before, "VERIFY_RO wrote something");
    assert_eq!(info_counter(&mut c, "refreshes"), 0);
    // The same VERIFY_RO on a token made to look stale by max-lifetime
    // answers nil and still deletes nothing.
    config_set(&mut c, "mtoken.max-lifetime", "1");
    let stale = wait_until(Duration::from_secs(5), || {
        verify_ro(&mut c, &mortal).is_none()
    });
    assert!(stale, "a token past max-lifetime still verifies");
    assert!(
        entry_key(&mut c, &mortal).is_some(),
        "VERIFY_RO deleted a key"
    );
}

#[test]
fn index_expiry_is_the_latest_of_its_tokens_expiries() {
    let srv = Server::start();
    let mut c = srv.conn();
    let (t10, _) = create(&mut c, b"alice", &["TTL", "10"]);
    assert_eq!(index_expiry(&mut c, b"alice"), entry_expiry(&mut c, &t10));
    let (t100, _) = create(&mut c, b"alice", &["TTL", "100"]);
    let (t50, _) = create(&mut c, b"alice", &["TTL", "50"]);
    let e100 = entry_expiry(&mut c, &t100);
    assert_eq!(index_expiry(&mut c, b"alice"), e100);
    for t in [&t10, &t50, &t100] {
        assert_eq!(index_score(&mut c, b"alice", t), entry_expiry(&mut c, t));
    }
    // The longest-lived token goes: the index shrinks to the next one.
    assert_eq!(c.cmd(&[&b"MTOKEN.EXPIRE"[..], &t100]), Reply::Int(1));
    assert_eq!(index_expiry(&mut c, b"alice"), entry_expiry(&mut c, &t50));
    // An immortal token makes the index immortal, and its end undoes that.
    let (forever, _) = create(&mut c, b"alice", &["TTL", "0"]);
    assert_eq!(index_expiry(&mut c, b"alice"), -1);
    assert_eq!(index_score(&mut c, b"alice", &forever), -1);
    assert_eq!(c.cmd(&[&b"MTOKEN.EXPIRE"[..], &forever]), Reply::Int(1));
    assert_eq!(index_expiry(&mut c, b"alice"), entry_expiry(&mut c, &t50));
}

#[test]
fn max_lifetime_caps_the_first_expiry_and_every_refresh() {
    let srv = Server::start();
    let mut c = srv.conn();
    config_set(&mut c, "mtoken.max-lifetime", "100");
    config_set(&mut c, "mtoken.refresh-interval", "0");
    let (token, _) = create(&mut c, b"alice", &["TTL", "1000"]);
    let (forever, _) = create(&mut c, b"alice", &["TTL", "0"]);
    let devices = c.q("MTOKEN.LIST alice").array();
    let created = devices[0].array()[5].int();
    let cap = created + 100_000;
    assert_eq!(entry_expiry(&mut c, &token), cap);
    let forever_created = devices[1].array()[5].int();
    assert_eq!(entry_expiry(&mut c, &forever), forever_created + 100_000);
    tick_ms(&mut c, 5);
    verify(&mut c, &token);
    assert_eq!(
        entry_expiry(&mut c, &token),
        cap,
        "a refresh went past the cap"
    );
}

#[test]
fn token_past_max_lifetime_is_removed_by_verify() {
    let srv = Server::start();
    let mut c = srv.conn();
    let (token, _) = create(&mut c, b"alice", &[]);
    let (other, _) = create(&mut c, b"alice", &[]);
    // Set after creation: the keys have no TTL, only the cap applies.
    config_set(&mut c, "mtoken.max-lifetime", "1");
    let dead = wait_until(Duration::from_secs(5), || verify(&mut c, &token).is_none());
    assert!(dead, "token verifies past max-lifetime");
    assert!(entry_key(&mut c, &token).is_none(), "VERIFY left the entry");
    assert_eq!(info_counter(&mut c, "tokens_past_max_lifetime"), 1);
    config_set(&mut c, "mtoken.max-lifetime", "0");
    assert_eq!(verify(&mut c, &other), Some(b"alice".to_vec()));
}

/// Real time: a 1-second token verified every 150 ms lives well past 1 s.
#[test]
fn verifying_regularly_keeps_a_short_lived_token_alive() {
    let srv = Server::start();
    let mut c = srv.conn();
    config_set(&mut c, "mtoken.refresh-interval", "0");
    let (token, _) = create(&mut c, b"alice", &["TTL", "1"]);
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(2000) {
        assert_eq!(
            verify(&mut c, &token),
            Some(b"alice".to_vec()),
            "died after {:?}",
            start.elapsed()
        );
        // Pacing the client, not waiting for the server.
        std::thread::sleep(Duration::from_millis(150));
    }
    assert!(wait_until(Duration::from_secs(5), || verify_ro(
        &mut c, &token
    )
    .is_none()));
}
