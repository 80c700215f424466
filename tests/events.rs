//! `mtoken.events`: one message per device that stops being valid, on its
//! user's channel, with the reason; none by default, none from replicas
//! or while loading, sharded on the user's node in a cluster.

mod common;
use common::*;

use std::time::Duration;

const QUIET: Duration = Duration::from_millis(300);

fn channel(c: &mut Conn, user: &[u8]) -> Vec<u8> {
    c.cmd(&[&b"MTOKEN.CHANNEL"[..], user]).bytes()
}

/// A connection subscribed (SSUBSCRIBE) to `user`'s channel.
fn subscriber(port: u16, user: &[u8]) -> Conn {
    let mut s = Conn::open(port);
    let ch = channel(&mut s, user);
    let ack = s.cmd(&[&b"SSUBSCRIBE"[..], &ch]).array();
    assert_eq!(ack[0].text(), "ssubscribe");
    s
}

/// The next sharded message's payload, split as `reason id user`.
fn next_event(s: &mut Conn) -> Option<(String, String, Vec<u8>)> {
    let msg = s.next_within(Duration::from_secs(5))?.array();
    assert_eq!(msg[0].text(), "smessage", "{msg:?}");
    let payload = msg[2].bytes();
    let mut parts = payload.splitn(3, |&b| b == b' ');
    let reason = String::from_utf8(parts.next()?.to_vec()).ok()?;
    let id = String::from_utf8(parts.next()?.to_vec()).ok()?;
    Some((reason, id, parts.next()?.to_vec()))
}

fn nothing_more(s: &mut Conn) {
    assert_eq!(s.next_within(QUIET), None, "an unexpected message");
}

#[test]
fn channel_is_on_the_users_slot() {
    let srv = Server::start();
    let mut c = srv.conn();
    for user in [&b"alice"[..], b"{tenant}:7"] {
        let ch = channel(&mut c, user);
        assert_eq!(cluster_key_slot(&ch), cluster_key_slot(user));
        assert!(ch.starts_with(b"mtoken:{") && ch.ends_with(user));
    }
}

#[test]
fn events_are_off_by_default() {
    let srv = Server::start();
    let mut c = srv.conn();
    let mut s = subscriber(srv.port, b"alice");
    let (tok, _) = create(&mut c, b"alice", &[]);
    c.cmd(&[&b"MTOKEN.EXPIRE"[..], &tok]);
    nothing_more(&mut s);
    assert_eq!(info_counter(&mut c, "events_published"), 0);
}

#[test]
fn each_way_a_device_ends_is_one_message_with_its_reason() {
    let srv = Server::with(&["events", "sharded"], &[]);
    let mut c = srv.conn();
    let mut s = subscriber(srv.port, b"alice");
    let id = |t: &[u8]| token_id(t);

    let (a, _) = create(&mut c, b"alice", &[]);
    assert_eq!(c.cmd(&[&b"MTOKEN.EXPIRE"[..], &a]), Reply::Int(1));
    let e = next_event(&mut s).expect("logout");
    assert_eq!(e, ("logout".into(), id(&a), b"alice".to_vec()));

    let (b, _) = create(&mut c, b"alice", &[]);
    let (keep, _) = create(&mut c, b"alice", &[]);
    c.cmd(&[&b"MTOKEN.EXPIREALL"[..], b"alice", b"EXCEPT", &keep]);
    assert_eq!(next_event(&mut s).expect("expireall").1, id(&b));
    nothing_more(&mut s);

    c.cmd(&[&b"MTOKEN.REVOKE"[..], b"alice", id(&keep).as_bytes()]);
    assert_eq!(next_event(&mut s).expect("revoke").0, "revoke");

    config_set(&mut c, "mtoken.max-tokens-per-user", "1");
    let (old, _) = create(&mut c, b"alice", &[]);
    create(&mut c, b"alice", &[]);
    let e = next_event(&mut s).expect("evicted");
    assert_eq!((e.0.as_str(), e.1), ("evicted", id(&old)));
    config_set(&mut c, "mtoken.max-tokens-per-user", "0");

    // Rotation sends nothing; reuse of the replaced token ends the device.
    let (r, _) = create(&mut c, b"alice", &[]);
    let r2 = c.cmd(&[&b"MTOKEN.ROTATE"[..], &r, b"GRACE", b"0"]).bytes();
    nothing_more(&mut s);
    assert_eq!(verify(&mut c, &r), None);
    let e = next_event(&mut s).expect("reuse");
    assert_eq!(
        (e.0.as_str(), e.1),
        ("reuse", id(&r)),
        "the device's first id"
    );

    // max-lifetime lowered: VERIFY finds the token dead and removes it.
    let (m, _) = create(&mut c, b"alice", &[]);
    std::thread::sleep(Duration::from_millis(1100));
    config_set(&mut c, "mtoken.max-lifetime", "1");
    assert_eq!(verify(&mut c, &m), None);
    // (`r2` went with its device at reuse; the one left from the eviction
    // test is past max-lifetime too, and goes at the user's next write.)
    assert_eq!(next_event(&mut s).expect("max-lifetime").0, "max-lifetime");
    config_set(&mut c, "mtoken.max-lifetime", "0");
    let _ = r2;

    // No message ever holds a token.
    let mut all = Vec::new();
    flatten(&c.q("PUBSUB SHARDCHANNELS"), &mut all);
    assert_no_leak("channels", &all, &[&a, &b, &keep, &old, &r, &m]);
    assert_eq!(info_counter(&mut c, "events_published"), 6);
}

#[test]
fn expireall_sends_one_message_per_device_and_none_for_its_other_users() {
    let srv = Server::with(&["events", "sharded"], &[]);
    let mut c = srv.conn();
    let mut s = subscriber(srv.port, b"bob");
    let mut other = subscriber(srv.port, b"bobby");
    let mut ids: Vec<String> = (0..5)
        .map(|_| token_id(&create(&mut c, b"bob", &[]).0))
        .collect();
    create(&mut c, b"bobby", &[]);
    assert_eq!(c.q("MTOKEN.EXPIREALL bob"), Reply::Int(5));
    let mut got: Vec<String> = (0..5)
        .map(|_| {
            let e = next_event(&mut s).expect("message");
            assert_eq!(e.0, "expireall");
            e.1
        })
        .collect();
    got.sort();
    ids.sort();
    assert_eq!(got, ids);
    nothing_more(&mut s);
    nothing_more(&mut other);
}

#[test]
fn global_mode_reaches_pattern_subscribers() {
    let srv = Server::with(&["events", "global"], &[]);
    let mut c = srv.conn();
    let mut p = srv.conn();
    p.q("PSUBSCRIBE mtoken:*:events:*");
    let (tok, _) = create(&mut c, b"carol", &[]);
    c.cmd(&[&b"MTOKEN.EXPIRE"[..], &tok]);
    let msg = p
        .next_within(Duration::from_secs(5))
        .expect("pmessage")
        .array();
    assert_eq!(msg[0].text(), "pmessage");
    assert_eq!(msg[2].bytes(), channel(&mut c, b"carol"));
    assert_eq!(msg[3].text(), format!("logout {} carol", token_id(&tok)));
}

/// TTL expiry: Redis 7.2+ and Valkey tell the module before the entry is
/// gone, so the user is known; Redis 7.0 cannot, and sends nothing.
#[test]
fn ttl_expiry_is_published_where_the_server_can_say_so() {
    let srv = Server::with(&["events", "sharded"], &[]);
    let mut c = srv.conn();
    let mut s = subscriber(srv.port, b"dave");
    let (tok, _) = create(&mut c, b"dave", &["TTL", "1"]);
    // A rotated device expires once, under its first id: its replaced
    // token's marker expiring is no event.
    let (x, _) = create(&mut c, b"dave", &["TTL", "1"]);
    let y = c.cmd(&[&b"MTOKEN.ROTATE"[..], &x, b"GRACE", b"0"]).bytes();
    std::thread::sleep(Duration::from_millis(1200));
    // Touch the entries: lazy expiry on every server, active expiry too.
    assert_eq!(verify(&mut c, &tok), None);
    assert_eq!(verify(&mut c, &x), None);
    assert_eq!(verify(&mut c, &y), None);
    let version = server_version(&mut c);
    let valkey = c.q("INFO server").text().contains("valkey_version");
    if version >= (7, 2) || valkey {
        let mut got: Vec<_> = (0..2)
            .map(|_| next_event(&mut s).expect("expired"))
            .collect();
        got.sort();
        let mut want = vec![
            ("expired".to_string(), token_id(&tok), b"dave".to_vec()),
            ("expired".to_string(), token_id(&x), b"dave".to_vec()),
        ];
        want.sort();
        assert_eq!(got, want);
    }
    nothing_more(&mut s);
}

#[test]
fn replicas_and_aof_loading_publish_nothing() {
    let master = Server::with(&["events", "sharded"], &["--repl-diskless-sync-delay", "0"]);
    let port = master.port.to_string();
    let replica = Server::with(&["events", "sharded"], &["--replicaof", "127.0.0.1", &port]);
    let mut r = replica.conn();
    assert!(wait_until(Duration::from_secs(20), || r
        .q("INFO replication")
        .text()
        .contains("master_link_status:up")));
    let mut m = master.conn();
    let mut on_master = subscriber(master.port, b"erin");
    let mut on_replica = subscriber(replica.port, b"erin");
    let (tok, _) = create(&mut m, b"erin", &["TTL", "1"]);
    let (b, _) = create(&mut m, b"erin", &[]);
    m.cmd(&[&b"MTOKEN.EXPIRE"[..], &b]);
    sync(&mut m);
    assert_eq!(next_event(&mut on_master).expect("logout").0, "logout");
    nothing_more(&mut on_master);
    nothing_more(&mut on_replica);
    std::thread::sleep(Duration::from_millis(1100));
    verify(&mut m, &tok);
    sync(&mut m);
    nothing_more(&mut on_replica);
    assert_eq!(info_counter(&mut r, "events_published"), 0);

    // An AOF reload replays effects: nothing is published while loading.
    let aof = ["--appendonly", "yes", "--appendfsync", "always"];
    let mut srv = Server::with(&["events", "sharded"], &aof);
    let mut c = srv.conn();
    for _ in 0..3 {
        let (t, _) = create(&mut c, b"frank", &[]);
        c.cmd(&[&b"MTOKEN.EXPIRE"[..], &t]);
    }
    let (live, _) = create(&mut c, b"frank", &[]);
    srv.restart("NOSAVE");
    let mut c = srv.conn();
    assert_eq!(info_counter(&mut c, "events_published"), 0);
    let mut s = subscriber(srv.port, b"frank");
    c.cmd(&[&b"MTOKEN.EXPIRE"[..], &live]);
    assert_eq!(next_event(&mut s).expect("logout").1, token_id(&live));
    assert_eq!(info_counter(&mut c, "events_published"), 1);
}

#[test]
fn on_a_cluster_the_message_is_published_on_the_users_node() {
    let cluster = Cluster::with(3, &["events", "sharded"]);
    let mut client = cluster.client();
    for user in [&b"u1"[..], b"u2", b"u3"] {
        let home = client.port_for(user);
        let mut s = subscriber(home, user);
        let (tok, _) = client.create(user, &[]);
        assert_eq!(client.int(&[&b"MTOKEN.EXPIRE"[..], &tok]), 1);
        let e = next_event(&mut s).expect("logout on the user's node");
        assert_eq!(e, ("logout".into(), token_id(&tok), user.to_vec()));
        nothing_more(&mut s);
    }
}
