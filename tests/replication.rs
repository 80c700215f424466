//! Replication (docs/DESIGN.md, "Writes, replication, persistence"): a replica holds
//! exactly the master's keys, expiries and values; writes travel as their
//! effects (digests and absolute times), never as raw tokens; a command that
//! changes nothing sends nothing; a promoted replica serves every live token.

mod common;
use common::*;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

#[test]
fn tokens_created_on_master_verify_on_replica_with_identical_keys() {
    let (master, replica) = master_and_replica();
    let (mut m, mut r) = (master.conn(), replica.conn());
    let mut made = Vec::new();
    for (user, opts) in [
        (&b"alice"[..], &[][..]),
        (b"alice", &["TTL", "3600", "NAME", "phone"]),
        (b"bob", &["TTL", "100"]),
        (b"\x00bin\xffary", &["NAME", "laptop"]),
        (b"carol", &["TTL", "0"]),
    ] {
        made.push((create(&mut m, user, opts).0, user.to_vec()));
    }
    sync(&mut m);
    for (token, user) in &made {
        assert_eq!(verify_ro(&mut r, token), Some(user.clone()));
    }
    let want = dataset(&mut m);
    assert_eq!(want.len(), 9, "5 entries and 4 indexes: {want:?}");
    assert_eq!(dataset(&mut r), want);
}

#[test]
fn expire_expireall_except_and_revoke_take_effect_on_replica() {
    let (master, replica) = master_and_replica();
    let (mut m, mut r) = (master.conn(), replica.conn());
    let mut tokens = |user: &[u8], n: usize| -> Vec<Vec<u8>> {
        (0..n)
            .map(|_| create(&mut m, user, &["TTL", "600"]).0)
            .collect()
    };
    let a = tokens(b"alice", 3);
    let b = tokens(b"bob", 3);
    let c = tokens(b"carol", 3);
    let d = tokens(b"dave", 2);
    sync(&mut m);
    for t in a.iter().chain(&b).chain(&c).chain(&d) {
        assert!(verify_ro(&mut r, t).is_some(), "live before revocation");
    }

    assert_eq!(m.cmd(&[&b"MTOKEN.EXPIRE"[..], &a[0]]), Reply::Int(1));
    assert_eq!(m.q("MTOKEN.EXPIREALL bob"), Reply::Int(3));
    let except = m.cmd(&[&b"MTOKEN.EXPIREALL"[..], b"carol", b"EXCEPT", &c[1]]);
    assert_eq!(except, Reply::Int(2));
    let id = token_id(&d[0]);
    assert_eq!(m.q(&format!("MTOKEN.REVOKE dave {id}")), Reply::Int(1));
    sync(&mut m);

    let expect = [
        (&a[0], None),
        (&a[1], Some("alice")),
        (&a[2], Some("alice")),
        (&b[0], None),
        (&b[1], None),
        (&b[2], None),
        (&c[0], None),
        (&c[1], Some("carol")),
        (&c[2], None),
        (&d[0], None),
        (&d[1], Some("dave")),
    ];
    for (token, user) in expect {
        let user = user.map(|u| u.as_bytes().to_vec());
        assert_eq!(verify_ro(&mut r, token), user);
    }
    let want = dataset(&mut m);
    assert_eq!(want.len(), 2 + 1 + 1 + 3, "4 entries, 3 indexes");
    assert_eq!(dataset(&mut r), want);
}

#[test]
fn refreshes_reach_the_replica_as_the_same_absolute_expiries() {
    let (master, replica) = master_and_replica();
    let (mut m, mut r) = (master.conn(), replica.conn());
    assert_eq!(m.q("CONFIG SET mtoken.refresh-interval 0").text(), "OK");
    let (t1, _) = create(&mut m, b"alice", &["TTL", "1000"]);
    create(&mut m, b"alice", &["TTL", "2000"]);
    create(&mut m, b"alice", &[]);
    create(&mut m, b"bob", &["TTL", "500"]);
    sync(&mut m);
    let created = dataset(&mut m);
    assert_eq!(dataset(&mut r), created);

    // Token mode: t1's expiry slides.
    tick_ms(&mut m, 1);
    assert_eq!(verify(&mut m, &t1), Some(b"alice".to_vec()));
    sync(&mut m);
    let token_refreshed = dataset(&mut m);
    assert_ne!(token_refreshed, created, "the VERIFY refreshed nothing");
    assert_eq!(dataset(&mut r), token_refreshed);

    // User mode: every TTL token of alice slides; bob's stays.
    assert_eq!(m.q("CONFIG SET mtoken.refresh-on-verify user").text(), "OK");
    tick_ms(&mut m, 1);
    assert_eq!(verify(&mut m, &t1), Some(b"alice".to_vec()));
    sync(&mut m);
    let user_refreshed = dataset(&mut m);
    let moved = user_refreshed
        .iter()
        .zip(&token_refreshed)
        .filter(|(now, before)| now.pexpiretime != before.pexpiretime)
        .count();
    // t1's and the 2000 s token's entries (alice's index keeps no TTL: one
    // of her tokens never expires).
    assert_eq!(moved, 2, "{user_refreshed:?}");
    assert_eq!(dataset(&mut r), user_refreshed);
}

#[test]
fn write_commands_on_replica_get_readonly_error_and_replica_stays_up() {
    let (master, mut replica) = master_and_replica();
    let (mut m, mut r) = (master.conn(), replica.conn());
    let (token, _) = create(&mut m, b"alice", &[]);
    sync(&mut m);

    let refused: [Vec<&[u8]>; 5] = [
        vec![b"MTOKEN.VERIFY", &token],
        vec![b"MTOKEN.CREATE", b"alice"],
        vec![b"MTOKEN.EXPIRE", &token],
        vec![b"MTOKEN.EXPIREALL", b"alice"],
        vec![b"MTOKEN.REVOKE", b"alice", b"00"],
    ];
    for args in refused {
        let reply = r.cmd(&args);
        assert!(
            reply.error().starts_with("READONLY"),
            "{:?}: {reply:?}",
            String::from_utf8_lossy(args[0])
        );
    }
    assert_eq!(r.q("PING"), Reply::Simple("PONG".into()));
    assert!(replica.alive());
    assert_eq!(verify_ro(&mut r, &token), Some(b"alice".to_vec()));
    assert_eq!(dataset(&mut r), dataset(&mut m), "the replica changed");
}

#[test]
fn promoted_replica_verifies_live_tokens_and_not_revoked_ones() {
    let (master, replica) = master_and_replica();
    let (mut m, mut r) = (master.conn(), replica.conn());
    let live = [
        (create(&mut m, b"alice", &[]).0, "alice"),
        (create(&mut m, b"alice", &["TTL", "600"]).0, "alice"),
        (
            create(&mut m, b"bob", &["TTL", "600", "NAME", "tv"]).0,
            "bob",
        ),
    ];
    let gone = [
        create(&mut m, b"alice", &["TTL", "600"]).0,
        create(&mut m, b"carol", &[]).0,
        create(&mut m, b"carol", &[]).0,
    ];
    assert_eq!(m.cmd(&[&b"MTOKEN.EXPIRE"[..], &gone[0]]), Reply::Int(1));
    assert_eq!(m.q("MTOKEN.EXPIREALL carol"), Reply::Int(2));
    sync(&mut m);

    assert_eq!(r.q("REPLICAOF NO ONE").text(), "OK");
    for (token, user) in &live {
        assert_eq!(verify(&mut r, token), Some(user.as_bytes().to_vec()));
    }
    for token in &gone {
        assert_eq!(verify(&mut r, token), None);
    }
    let (fresh, first) = create(&mut r, b"carol", &[]);
    assert_eq!(first, 1, "carol had no live token left");
    assert_eq!(verify(&mut r, &fresh), Some(b"carol".to_vec()));
}

/// A raw replica connection (`SYNC`): the RDB payload, then the command
/// stream bytes as the master sends them.
struct ReplStream {
    sock: TcpStream,
    stream: Vec<u8>,
}

impl ReplStream {
    /// Connect as a replica; returns the stream and the RDB payload.
    fn sync(port: u16) -> (ReplStream, Vec<u8>) {
        let mut sock = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        sock.write_all(b"SYNC\r\n").expect("send SYNC");
        let mut s = ReplStream {
            sock,
            stream: Vec::new(),
        };
        // Newlines are keep-alives while the master saves; then `$len\r\n`.
        let header = s.fill_until(Duration::from_secs(20), |buf| {
            let start = buf.iter().position(|&b| b != b'\n')?;
            let end = buf[start..].windows(2).position(|w| w == b"\r\n")?;
            Some((start, start + end + 2))
        });
        let (start, body) = header.expect("an RDB header from the master");
        assert_eq!(s.stream[start], b'$', "not a bulk RDB payload");
        let len: usize = std::str::from_utf8(&s.stream[start + 1..body - 2])
            .expect("ascii length")
            .parse()
            .expect("RDB length");
        s.fill_until(Duration::from_secs(20), |buf| {
            (buf.len() >= body + len).then_some(())
        })
        .expect("the whole RDB payload");
        let rdb = s.stream[body..body + len].to_vec();
        s.stream.drain(..body + len);
        (s, rdb)
    }

    /// Read until `done` finds what it wants in the bytes so far, or `limit`.
    fn fill_until<T>(&mut self, limit: Duration, done: impl Fn(&[u8]) -> Option<T>) -> Option<T> {
        let deadline = Instant::now() + limit;
        self.sock
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("read timeout");
        let mut chunk = [0u8; 64 * 1024];
        loop {
            if let Some(found) = done(&self.stream) {
                return Some(found);
            }
            if Instant::now() > deadline {
                return None;
            }
            match self.sock.read(&mut chunk) {
                Ok(0) => panic!("the master closed the replication link"),
                Ok(n) => self.stream.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) => panic!("replication link: {e}"),
            }
        }
    }

    /// Read until the master has sent the command `SET <marker> 1`; returns
    /// every byte before it, consuming it.
    fn until_marker(&mut self, marker: &str) -> Vec<u8> {
        let cmd = resp(&["SET", marker, "1"]);
        let at = self
            .fill_until(Duration::from_secs(10), |buf| {
                buf.windows(cmd.len()).position(|w| w == cmd.as_slice())
            })
            .unwrap_or_else(|| panic!("marker {marker} never arrived"));
        let before = self.stream[..at].to_vec();
        self.stream.drain(..at + cmd.len());
        before
    }
}

fn without_pings(mut bytes: Vec<u8>) -> Vec<u8> {
    let ping = resp(&["PING"]);
    while let Some(at) = bytes.windows(ping.len()).position(|w| w == ping.as_slice()) {
        bytes.drain(at..at + ping.len());
    }
    bytes
}

/// A master whose RDB is uncompressed (so a raw token could not hide in
/// LZF) and that pings its replicas rarely.
fn quiet_master() -> Server {
    Server::with(
        &["refresh-interval", "0"],
        &["--rdbcompression", "no", "--repl-ping-replica-period", "60"],
    )
}

#[test]
fn replication_stream_carries_digests_never_raw_tokens() {
    let master = quiet_master();
    let mut m = master.conn();
    let (before_sync, _) = create(&mut m, b"alice", &["NAME", "old phone"]);
    let (mut link, rdb) = ReplStream::sync(master.port);
    assert!(contains(&rdb, &token_digest(&before_sync)), "RDB lacks it");
    assert!(
        !contains(&rdb, &before_sync),
        "raw token in the RDB payload"
    );

    let mut tokens = vec![before_sync];
    for (user, opts) in [
        (&b"alice"[..], &["TTL", "600"][..]),
        (b"alice", &["NAME", "tablet"]),
        (b"bob", &["TTL", "60"]),
        (b"bob", &[]),
        (b"carol", &["TTL", "600"]),
    ] {
        tokens.push(create(&mut m, user, opts).0);
    }
    for t in &tokens {
        assert!(verify(&mut m, t).is_some()); // refresh-interval 0: writes
    }
    assert_eq!(m.q("CONFIG SET mtoken.refresh-on-verify user").text(), "OK");
    assert!(verify(&mut m, &tokens[1]).is_some());
    assert_eq!(m.cmd(&[&b"MTOKEN.EXPIRE"[..], &tokens[2]]), Reply::Int(1));
    let except = m.cmd(&[&b"MTOKEN.EXPIREALL"[..], b"bob", b"EXCEPT", &tokens[3]]);
    assert_eq!(except, Reply::Int(1));
    let id = token_id(&tokens[5]);
    assert_eq!(m.q(&format!("MTOKEN.REVOKE carol {id}")), Reply::Int(1));
    assert_eq!(m.q("SET marker 1").text(), "OK");

    let stream = link.until_marker("marker");
    for t in &tokens[1..] {
        assert!(contains(&stream, &token_digest(t)), "digest not replicated");
    }
    for t in &tokens {
        assert!(!contains(&stream, t), "raw token in the replication stream");
        // Not even the secret part without prefix and suffix.
        assert!(!contains(&stream, &t[3..t.len() - 3]));
    }
}

#[test]
fn commands_that_change_nothing_replicate_nothing() {
    let master = quiet_master();
    let mut m = master.conn();
    assert_eq!(m.q("CONFIG SET mtoken.refresh-interval 60").text(), "OK");
    let (token, _) = create(&mut m, b"alice", &["TTL", "600"]);
    let (gone, _) = create(&mut m, b"alice", &[]);
    assert_eq!(m.cmd(&[&b"MTOKEN.EXPIRE"[..], &gone]), Reply::Int(1));
    let (mut link, _) = ReplStream::sync(master.port);
    assert_eq!(m.q("SET before 1").text(), "OK");
    link.until_marker("before");

    // A hit that is not due, a miss, a malformed token, and writes that
    // find nothing to remove.
    for _ in 0..3 {
        assert_eq!(verify(&mut m, &token), Some(b"alice".to_vec()));
    }
    for mode in ["user", "none", "token"] {
        let set = format!("CONFIG SET mtoken.refresh-on-verify {mode}");
        assert_eq!(m.q(&set).text(), "OK");
        assert_eq!(verify(&mut m, &token), Some(b"alice".to_vec()));
    }
    assert_eq!(verify_ro(&mut m, &token), Some(b"alice".to_vec()));
    assert_eq!(verify(&mut m, &gone), None);
    assert_eq!(verify(&mut m, b"mt_not_a_token"), None);
    assert_eq!(m.cmd(&[&b"MTOKEN.EXPIRE"[..], &gone]), Reply::Int(0));
    assert_eq!(m.q("MTOKEN.EXPIREALL nobody"), Reply::Int(0));
    let except = m.cmd(&[&b"MTOKEN.EXPIREALL"[..], b"nobody", b"EXCEPT", &token]);
    assert_eq!(except, Reply::Int(0));
    let unknown = token_id(&gone);
    assert_eq!(
        m.q(&format!("MTOKEN.REVOKE alice {unknown}")),
        Reply::Int(0)
    );
    assert_eq!(m.q("MTOKEN.REVOKE alice xyz"), Reply::Int(0));
    assert_eq!(m.q("MTOKEN.LIST alice").array().len(), 1);
    assert!(m.q("MTOKEN.CREATE alice TTL -1").is_error());
    assert_eq!(m.q("SET after 1").text(), "OK");

    let between = without_pings(link.until_marker("after"));
    assert!(
        between.is_empty(),
        "replicated: {:?}",
        String::from_utf8_lossy(&between)
    );
}
