//! The promises users build on, tried as a hostile client or a careless
//! operator would (docs/DESIGN.md, "What is guaranteed"):
//! - no server-side structure keeps a raw token (ACL LOG, client tracking);
//! - ACL key patterns and read-only grants mean what they say;
//! - an error reply changes nothing: keyspace and replication stream;
//! - sliding expiry slides whatever the TTL and refresh interval;
//! - max-lifetime counts wherever tokens are counted;
//! - replicas receive exactly the values the master applied;
//! - one command's work and replication stay bounded.

mod common;
use common::*;

use std::time::{Duration, Instant};

fn digest(c: &mut Conn) -> String {
    c.q("DEBUG DIGEST").text()
}

fn repl_offset(c: &mut Conn) -> i64 {
    info_field(c, "replication", "master_repl_offset")
}

#[test]
fn a_denied_token_never_lands_in_acl_log() {
    let srv = Server::start();
    let mut admin = srv.conn();
    let (tok, _) = create(&mut admin, b"alice", &[]);
    admin.q("ACL SETUSER edge on >pw +mtoken.verify_ro +mtoken.verify ~user:*");
    let mut edge = srv.conn();
    assert_eq!(edge.q("AUTH edge pw"), Reply::Simple("OK".into()));
    for cmd in ["MTOKEN.VERIFY_RO", "MTOKEN.VERIFY"] {
        let e = edge.cmd(&[cmd.as_bytes(), &tok]).error();
        assert!(e.starts_with("NOPERM"), "{cmd}: {e}");
    }
    let mut log = Vec::new();
    flatten(&admin.q("ACL LOG"), &mut log);
    assert_no_leak("ACL LOG", &log, &[&tok]);
    // The denial is logged, under the entry key's name (a digest).
    assert!(
        contains(&log, b"mtoken:{"),
        "{}",
        String::from_utf8_lossy(&log)
    );
}

/// Send a command on a RESP3 tracking connection: its reply, and the
/// invalidation pushes that came before it.
fn cmd_with_pushes(c: &mut Conn, args: &[&[u8]]) -> (Reply, Vec<u8>) {
    c.send(args).expect("send");
    let mut pushes = Vec::new();
    loop {
        match c.read_reply().expect("reply") {
            p @ Reply::Push(_) => flatten(&p, &mut pushes),
            r => return (r, pushes),
        }
    }
}

#[test]
fn client_tracking_never_holds_a_token_or_a_user_list() {
    let srv = Server::start();
    let mut admin = srv.conn();
    let (tok, _) = create(&mut admin, b"alice", &[]);
    let mut t = srv.conn();
    t.q("HELLO 3");
    assert_eq!(t.q("CLIENT TRACKING on"), Reply::Simple("OK".into()));
    let (r, _) = cmd_with_pushes(&mut t, &[b"MTOKEN.VERIFY_RO", &tok]);
    assert_eq!(r, Reply::Bulk(b"alice".to_vec()));
    cmd_with_pushes(&mut t, &[b"MTOKEN.LIST", b"alice"]);
    assert_eq!(info_field(&mut admin, "stats", "tracking_total_keys"), 0);
    // Tracking works for real keys on this connection.
    cmd_with_pushes(&mut t, &[b"GET", b"somekey"]);
    assert_eq!(info_field(&mut admin, "stats", "tracking_total_keys"), 1);
    // Overflowing the table sends invalidations: none carries a token.
    admin.q("CONFIG SET tracking-table-max-keys 1");
    let mut seen = Vec::new();
    for args in [
        &[&b"GET"[..], b"otherkey"][..],
        &[b"MTOKEN.VERIFY_RO", &tok],
        &[b"GET", b"third"],
        &[b"PING"],
    ] {
        seen.extend(cmd_with_pushes(&mut t, args).1);
    }
    assert!(contains(&seen, b"invalidate"), "no invalidation seen");
    assert_no_leak("invalidation messages", &seen, &[&tok]);
    // A revocation is never hidden by a cached answer: nothing was tracked.
    assert_eq!(admin.cmd(&[&b"MTOKEN.EXPIRE"[..], &tok]).int(), 1);
    let (r, _) = cmd_with_pushes(&mut t, &[b"MTOKEN.VERIFY_RO", &tok]);
    assert_eq!(r, Reply::Nil);
}

#[test]
fn a_read_only_key_grant_can_verify_ro_and_list_but_not_write() {
    let srv = Server::start();
    let mut admin = srv.conn();
    let (tok, _) = create(&mut admin, b"alice", &[]);
    admin.q("ACL SETUSER ro on >pw +mtoken.verify_ro +mtoken.list +mtoken.verify %R~mtoken:*");
    let mut ro = srv.conn();
    assert_eq!(ro.q("AUTH ro pw"), Reply::Simple("OK".into()));
    assert_eq!(verify_ro(&mut ro, &tok), Some(b"alice".to_vec()));
    assert_eq!(ro.q("MTOKEN.LIST alice").array().len(), 1);
    let before = digest(&mut admin);
    let e = ro.cmd(&[&b"MTOKEN.VERIFY"[..], &tok]).error();
    assert!(e.starts_with("NOPERM"), "{e}");
    assert_eq!(digest(&mut admin), before);
}

#[test]
fn a_key_pattern_grant_still_restricts_the_modules_keys() {
    let srv = Server::start();
    let mut admin = srv.conn();
    let (tok, _) = create(&mut admin, b"alice", &[]);
    admin.q("ACL SETUSER other on >pw +@all ~other:*");
    let mut o = srv.conn();
    assert_eq!(o.q("AUTH other pw"), Reply::Simple("OK".into()));
    let before = digest(&mut admin);
    for args in [
        vec![&b"MTOKEN.CREATE"[..], b"alice"],
        vec![b"MTOKEN.VERIFY_RO", &tok],
        vec![b"MTOKEN.VERIFY", &tok],
        vec![b"MTOKEN.EXPIRE", &tok],
        vec![b"MTOKEN.EXPIREALL", b"alice"],
        vec![b"MTOKEN.LIST", b"alice"],
    ] {
        let e = o.cmd(&args).error();
        assert!(e.starts_with("NOPERM"), "{args:?}: {e}");
    }
    assert_eq!(digest(&mut admin), before);
    // A grant on the namespace lets the same user in.
    admin.q("ACL SETUSER other ~mtoken:*");
    assert_eq!(verify(&mut o, &tok), Some(b"alice".to_vec()));
}

/// The case: with a per-user limit, a foreign value at one of the
/// user's entry names made CREATE answer an error after writing a token.
#[test]
fn create_that_fails_writes_nothing_anywhere() {
    let (master, _replica) = master_and_replica();
    let mut m = master.conn();
    config_set(&mut m, "mtoken.max-tokens-per-user", "2");
    let (a, _) = create(&mut m, b"alice", &[]);
    create(&mut m, b"alice", &[]);
    let entry = entry_key(&mut m, &a).expect("entry");
    m.cmd(&[&b"SET"[..], &entry, b"not a record", b"KEEPTTL"]);
    sync(&mut m);
    let (before, offset) = (digest(&mut m), repl_offset(&mut m));
    for _ in 0..3 {
        assert!(m.q("MTOKEN.CREATE alice").is_error());
    }
    assert_eq!(digest(&mut m), before);
    assert_eq!(repl_offset(&mut m), offset);
    assert_eq!(m.q("DBSIZE").int(), 3);
}

/// Every key a command touches, replaced by every other type or by bad
/// bytes of the right type: each command either succeeds or answers an
/// error that left the keyspace and the replication stream as they were.
#[test]
fn errors_change_nothing_whatever_sits_at_the_modules_keys() {
    let (master, _replica) = master_and_replica();
    let mut m = master.conn();
    config_set(&mut m, "mtoken.max-tokens-per-user", "2");
    config_set(&mut m, "mtoken.refresh-interval", "0");
    let replacements: &[&[&str]] = &[
        &["SET", "K", "not a record"],
        &["SET", "K", "\x10\x00"],
        &["RPUSH", "K", "a"],
        &["HSET", "K", "a", "b"],
        &["SADD", "K", "a"],
        &["ZADD", "K", "1", "a"],
        &["XADD", "K", "*", "a", "b"],
    ];
    let mut errors = 0;
    for target in ["entry", "index"] {
        for rep in replacements {
            m.q("FLUSHALL");
            let (a, _) = create(&mut m, b"alice", &["NAME", "a"]);
            let (b, _) = create(&mut m, b"alice", &[]);
            let key = match target {
                "entry" => entry_key(&mut m, &b).expect("entry"),
                _ => index_key(&mut m, b"alice").expect("index"),
            };
            m.cmd(&[&b"DEL"[..], &key]);
            let args: Vec<&[u8]> = rep
                .iter()
                .map(|x| if *x == "K" { &key[..] } else { x.as_bytes() })
                .collect();
            assert!(!m.cmd(&args).is_error());
            let id = token_id(&b);
            let commands: Vec<Vec<&[u8]>> = vec![
                vec![b"MTOKEN.CREATE", b"alice"],
                vec![b"MTOKEN.VERIFY", &a],
                vec![b"MTOKEN.VERIFY", &b],
                vec![b"MTOKEN.VERIFY_RO", &b],
                vec![b"MTOKEN.EXPIRE", &b],
                vec![b"MTOKEN.EXPIRE", &a],
                vec![b"MTOKEN.EXPIREALL", b"alice", b"EXCEPT", &a],
                vec![b"MTOKEN.EXPIREALL", b"alice"],
                vec![b"MTOKEN.LIST", b"alice"],
                vec![b"MTOKEN.REVOKE", b"alice", id.as_bytes()],
            ];
            for cmd in &commands {
                sync(&mut m);
                let (before, offset) = (digest(&mut m), repl_offset(&mut m));
                let r = m.cmd(cmd);
                if r.is_error() {
                    errors += 1;
                    let what = format!("{target} as {rep:?}: {cmd:?} -> {r:?}");
                    assert_eq!(digest(&mut m), before, "{what}");
                    assert_eq!(repl_offset(&mut m), offset, "{what}");
                }
            }
        }
    }
    assert!(
        errors > 20,
        "expected the crafted keys to cause errors: {errors}"
    );
}

#[test]
fn a_token_used_more_often_than_its_ttl_never_expires() {
    let srv = Server::start();
    let mut c = srv.conn();
    config_set(&mut c, "mtoken.refresh-interval", "3");
    let (tok, _) = create(&mut c, b"u", &["TTL", "2"]);
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(4500) {
        assert_eq!(
            verify(&mut c, &tok),
            Some(b"u".to_vec()),
            "died after {:?}",
            start.elapsed()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    // Writes stay throttled: at most one per TTL/2 (1 s), not one per use.
    let refreshes = info_counter(&mut c, "refreshes");
    assert!((3..=6).contains(&refreshes), "{refreshes} refreshes");
}

#[test]
fn max_lifetime_counts_wherever_tokens_are_counted() {
    let srv = Server::start();
    let mut c = srv.conn();
    create(&mut c, b"u", &[]);
    create(&mut c, b"u", &["NAME", "old"]);
    config_set(&mut c, "mtoken.max-lifetime", "1");
    tick_ms(&mut c, 1100);
    // Both are past their deadline: the user has no live token.
    let (fresh, first) = create(&mut c, b"u", &[]);
    assert_eq!(first, 1);
    // Touching the user removed the dead ones.
    assert_eq!(c.q("DBSIZE").int(), 2);
    assert_eq!(c.q("MTOKEN.LIST u").array().len(), 1);
    create(&mut c, b"u", &[]);
    tick_ms(&mut c, 1100);
    // One of the remaining two is live again after a fresh CREATE...
    config_set(&mut c, "mtoken.max-lifetime", "0");
    let (_live, _) = create(&mut c, b"u", &[]);
    config_set(&mut c, "mtoken.max-lifetime", "1");
    // ...so EXPIREALL counts just it, not the two past their deadline.
    assert_eq!(c.q("MTOKEN.EXPIREALL u").int(), 1);
    assert_eq!(verify(&mut c, &fresh), None);
    assert_eq!(c.q("DBSIZE").int(), 0);
}

#[test]
fn eviction_at_the_limit_takes_dead_tokens_first_and_counts_only_live_ones() {
    let srv = Server::start();
    let mut c = srv.conn();
    let (old, _) = create(&mut c, b"u", &[]);
    tick_ms(&mut c, 1100);
    let (young, _) = create(&mut c, b"u", &[]);
    config_set(&mut c, "mtoken.max-lifetime", "1");
    config_set(&mut c, "mtoken.max-tokens-per-user", "2");
    let evicted = info_counter(&mut c, "tokens_evicted");
    let (new, first) = create(&mut c, b"u", &[]);
    assert_eq!(first, 0, "the young token is still live");
    // The dead one made room: nothing live was evicted.
    assert_eq!(info_counter(&mut c, "tokens_evicted"), evicted);
    assert_eq!(verify_ro(&mut c, &old), None);
    assert_eq!(verify_ro(&mut c, &young), Some(b"u".to_vec()));
    assert_eq!(verify_ro(&mut c, &new), Some(b"u".to_vec()));
    assert_eq!(c.q("DBSIZE").int(), 3);
}

#[test]
fn replicas_receive_the_clamped_expiry_the_master_applied() {
    let (master, replica) = master_and_replica();
    let (mut m, mut r) = (master.conn(), replica.conn());
    let (a, _) = create(&mut m, b"alice", &["TTL", "100"]);
    create(&mut m, b"alice", &["TTL", "100"]);
    let index = index_key(&mut m, b"alice").expect("index");
    let fake = vec![7u8; 15];
    m.cmd(&[&b"ZADD"[..], &index, b"1e20", &fake]);
    assert_eq!(m.cmd(&[&b"MTOKEN.EXPIRE"[..], &a]).int(), 1);
    sync(&mut m);
    let at = pexpiretime(&mut m, &index);
    assert!(at > 0, "{at}");
    assert_eq!(pexpiretime(&mut r, &index), at);
    assert_eq!(dataset(&mut r), dataset(&mut m));
}

/// One user with 100k tokens, `refresh-on-verify user` and a refresh on
/// every VERIFY: each VERIFY slides a bounded batch, replicates a bounded
/// number of bytes, and the replica stays connected through 100 of them.
/// (Time per VERIFY is measured by `make bench`, docs/PERFORMANCE.md.)
#[test]
fn user_mode_refresh_is_bounded_with_100k_tokens() {
    let (master, replica) = master_and_replica();
    let (mut m, mut r) = (master.conn(), replica.conn());
    let n = 100_000;
    let mut tokens = Vec::with_capacity(n);
    for chunk in 0..n / 1000 {
        for _ in 0..1000 {
            m.send(&["MTOKEN.CREATE", "whale", "TTL", "3600"])
                .expect("send");
        }
        for _ in 0..1000 {
            let reply = m.read_reply().expect("reply").array();
            tokens.push(reply[0].bytes());
        }
        let _ = chunk;
    }
    sync(&mut m);
    let full_syncs = info_field(&mut m, "stats", "sync_full");
    config_set(&mut m, "mtoken.refresh-on-verify", "user");
    config_set(&mut m, "mtoken.refresh-interval", "0");
    let mut most = 0;
    for t in tokens.iter().step_by(n / 100) {
        let before = repl_offset(&mut m);
        assert_eq!(verify(&mut m, t), Some(b"whale".to_vec()));
        most = most.max(repl_offset(&mut m) - before);
    }
    // 101 tokens slid (an expiry and an index score each) and one SETRANGE.
    assert!(most < 40_000, "one VERIFY replicated {most} bytes");
    sync(&mut m);
    assert_eq!(info_field(&mut m, "stats", "sync_full"), full_syncs);
    assert_eq!(info_field(&mut m, "replication", "connected_slaves"), 1);
    assert_eq!(
        verify_ro(&mut r, &tokens[0]),
        Some(b"whale".to_vec()),
        "replica in step"
    );
}
