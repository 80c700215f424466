//! MTOKEN.ROTATE: a new token for the same device, the old one within its
//! grace period, reuse detection after it; on a replica, after an AOF
//! reload and on a three-master cluster.

mod common;
use common::*;

use std::time::Duration;

fn rotate(c: &mut Conn, token: &[u8], grace: &str) -> Option<Vec<u8>> {
    match c.cmd(&[&b"MTOKEN.ROTATE"[..], token, b"GRACE", grace.as_bytes()]) {
        Reply::Nil => None,
        Reply::Bulk(t) => Some(t),
        other => panic!("ROTATE reply: {other:?}"),
    }
}

/// LIST's entries as (field name → value) lists.
fn devices(c: &mut Conn, user: &[u8]) -> Vec<Vec<(String, Reply)>> {
    c.cmd(&[&b"MTOKEN.LIST"[..], user])
        .array()
        .iter()
        .map(|e| {
            e.array()
                .chunks(2)
                .map(|p| (p[0].text(), p[1].clone()))
                .collect()
        })
        .collect()
}

fn field(d: &[(String, Reply)], name: &str) -> Reply {
    d.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("no {name}"))
}

#[test]
fn rotate_keeps_the_device_and_gives_a_fresh_ttl() {
    let srv = Server::start();
    let mut c = srv.conn();
    let (old, _) = create(
        &mut c,
        b"alice",
        &["NAME", "phone", "TTL", "600", "SCOPE", "read"],
    );
    let before = devices(&mut c, b"alice");
    std::thread::sleep(Duration::from_millis(20));
    let new = rotate(&mut c, &old, "30").expect("rotated");
    assert_ne!(new, old);
    assert_eq!(cluster_key_slot(&new), cluster_key_slot(b"alice"));
    assert_eq!(verify(&mut c, &new), Some(b"alice".to_vec()));
    let after = devices(&mut c, b"alice");
    assert_eq!(after.len(), 1, "one device");
    for name in ["id", "name", "created", "scopes"] {
        assert_eq!(field(&after[0], name), field(&before[0], name), "{name}");
    }
    assert!(field(&after[0], "expires").int() > field(&before[0], "expires").int());
    // Within grace the old token answers, and still holds only its scopes.
    assert_eq!(verify(&mut c, &old), Some(b"alice".to_vec()));
    let r = c.cmd(&[&b"MTOKEN.VERIFY"[..], &old, b"SCOPE", b"write"]);
    assert_eq!(r, Reply::Nil);
    // A second rotation of the old token within grace changes nothing.
    let data = dataset(&mut c);
    assert_eq!(rotate(&mut c, &old, "30"), None);
    assert_eq!(dataset(&mut c), data);
    // REVOKE by the device's (first) id logs the rotated device out.
    let id = field(&after[0], "id").bytes();
    assert_eq!(
        c.cmd(&[&b"MTOKEN.REVOKE"[..], b"alice", &id]),
        Reply::Int(1)
    );
    assert_eq!(verify(&mut c, &new), None);
    assert_eq!(verify(&mut c, &old), None, "no device: the grace ends too");
    assert_eq!(info_counter(&mut c, "tokens_rotated"), 1);
}

#[test]
fn a_replaced_token_presented_after_grace_logs_the_device_out() {
    let srv = Server::start();
    let mut c = srv.conn();
    let (a, _) = create(&mut c, b"bob", &[]);
    let (other, _) = create(&mut c, b"bob", &["NAME", "laptop"]);
    let b = rotate(&mut c, &a, "0").expect("rotated");
    let cc = rotate(&mut c, &b, "0").expect("rotated twice");
    // The thief replays `a`: nil, and the device (now `cc`) is gone.
    assert_eq!(verify(&mut c, &a), None);
    assert_eq!(verify(&mut c, &cc), None);
    assert_eq!(verify(&mut c, &other), Some(b"bob".to_vec()));
    assert_eq!(info_counter(&mut c, "rotation_reuse"), 1);
    assert_eq!(devices(&mut c, b"bob").len(), 1);
    // ROTATE and VERIFY_RO of a replaced token: nil; ROTATE logs out too.
    let (d, _) = create(&mut c, b"bob", &[]);
    let e = rotate(&mut c, &d, "0").expect("rotated");
    assert_eq!(verify_ro(&mut c, &d), None);
    assert_eq!(verify_ro(&mut c, &e), Some(b"bob".to_vec()));
    assert_eq!(rotate(&mut c, &d, "0"), None);
    assert_eq!(verify_ro(&mut c, &e), None);
    // Unknown and malformed tokens: nil, nothing written.
    let data = dataset(&mut c);
    assert_eq!(rotate(&mut c, b"mt_nope", "0"), None);
    let mut gone = e.clone();
    gone[5] = if gone[5] == b'a' { b'b' } else { b'a' };
    assert_eq!(rotate(&mut c, &gone, "0"), None);
    assert_eq!(dataset(&mut c), data);
}

#[test]
fn grace_errors_change_nothing_and_the_token_is_redacted() {
    let srv = Server::start();
    let mut c = srv.conn();
    config_set(&mut c, "slowlog-log-slower-than", "0");
    let (tok, _) = create(&mut c, b"carol", &[]);
    let data = dataset(&mut c);
    let t = String::from_utf8(tok.clone()).expect("ascii");
    for (args, want) in [
        (
            vec!["MTOKEN.ROTATE", &t, "GRACE", "3601"],
            "ERR GRACE must be a whole number of seconds from 0 to 3600",
        ),
        (
            vec!["MTOKEN.ROTATE", &t, "GRACE", "-1"],
            "ERR GRACE must be a whole number of seconds from 0 to 3600",
        ),
        (
            vec!["MTOKEN.ROTATE", &t, "GRACE"],
            "ERR GRACE needs a number of seconds",
        ),
        (
            vec!["MTOKEN.ROTATE", &t, "TTL", "5"],
            "ERR unknown option: MTOKEN.ROTATE takes GRACE seconds",
        ),
    ] {
        assert_eq!(c.cmd(&args).error(), want);
    }
    assert_eq!(dataset(&mut c), data);
    let new = rotate(&mut c, &tok, "5").expect("rotated");
    let mut all = Vec::new();
    flatten(&c.q("SLOWLOG GET 100"), &mut all);
    assert_no_leak("SLOWLOG", &all, &[&tok, &new]);
}

#[test]
fn a_replica_holds_exactly_the_rotated_state() {
    let (master, replica) = master_and_replica();
    let mut m = master.conn();
    let mut r = replica.conn();
    let (a, _) = create(&mut m, b"dave", &["SCOPE", "read", "TTL", "600"]);
    let b = rotate(&mut m, &a, "0").expect("rotated");
    sync(&mut m);
    assert_eq!(dataset(&mut r), dataset(&mut m));
    assert_eq!(verify_ro(&mut r, &b), Some(b"dave".to_vec()));
    assert_eq!(verify_ro(&mut r, &a), None);
    // Reuse on the master: the replica loses the device too.
    assert_eq!(verify(&mut m, &a), None);
    sync(&mut m);
    assert_eq!(verify_ro(&mut r, &b), None);
    assert_eq!(dataset(&mut r), dataset(&mut m));
}

#[test]
fn aof_reload_keeps_the_rotated_token_and_the_marker() {
    let aof = ["--appendonly", "yes", "--appendfsync", "always"];
    let mut srv = Server::with(&[], &aof);
    let mut c = srv.conn();
    let (a, _) = create(&mut c, b"erin", &["NAME", "tablet"]);
    let b = rotate(&mut c, &a, "0").expect("rotated");
    let (x, _) = create(&mut c, b"erin", &[]);
    let y = rotate(&mut c, &x, "0").expect("rotated");
    let before = dataset(&mut c);
    srv.restart("NOSAVE");
    let mut c = srv.conn();
    assert_eq!(dataset(&mut c), before);
    assert_eq!(verify(&mut c, &b), Some(b"erin".to_vec()));
    // The marker came back with its absolute expiry: reuse is detected.
    assert_eq!(verify(&mut c, &x), None);
    assert_eq!(verify(&mut c, &y), None);
    assert_eq!(verify(&mut c, &b), Some(b"erin".to_vec()));
}

#[test]
fn rotation_on_a_cluster_stays_on_the_users_node() {
    let cluster = Cluster::start(3);
    let mut client = cluster.client();
    for user in [&b"u1"[..], b"u2", b"{x}u3"] {
        let (a, _) = client.create(user, &[]);
        let b = match client.cmd(&[&b"MTOKEN.ROTATE"[..], &a, b"GRACE", b"0"]) {
            Reply::Bulk(t) => t,
            other => panic!("ROTATE: {other:?}"),
        };
        assert_eq!(cluster_key_slot(&b), cluster_key_slot(user));
        assert_eq!(client.verify(&b), Some(user.to_vec()));
        // Reuse: the device is gone on its node.
        assert_eq!(client.verify(&a), None);
        assert_eq!(client.verify(&b), None);
    }
    assert_eq!(client.moved, 0);
}
