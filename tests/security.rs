//! Security (docs/DESIGN.md, "Token" and "Observability"): the raw token never reaches
//! the keyspace, SLOWLOG, MONITOR, INFO, the AOF, an RDB file or the log;
//! binary and unicode user ids round-trip; a token hashes to its user's
//! cluster slot.

mod common;
use common::*;

use std::time::Duration;

/// A token with one secret char changed: malformed, but nearly the secret.
fn typo(token: &[u8]) -> Vec<u8> {
    let mut t = token.to_vec();
    t[10] = if t[10] == b'a' { b'b' } else { b'a' };
    t
}

/// Run every command that takes a token, with real tokens, refreshes on.
fn token_traffic(c: &mut Conn) -> Vec<Vec<u8>> {
    config_set(c, "mtoken.refresh-interval", "0");
    config_set(c, "mtoken.refresh-on-verify", "user");
    let (keep, _) = create(c, b"alice", &["NAME", "laptop"]);
    let (gone, _) = create(c, b"alice", &["TTL", "100"]);
    let (other, _) = create(c, b"alice", &[]);
    assert_eq!(verify(c, &keep), Some(b"alice".to_vec()));
    assert_eq!(verify_ro(c, &keep), Some(b"alice".to_vec()));
    assert_eq!(verify(c, &typo(&keep)), None);
    assert_eq!(verify_ro(c, &typo(&keep)), None);
    assert_eq!(c.cmd(&[&b"MTOKEN.EXPIRE"[..], &gone]), Reply::Int(1));
    assert_eq!(c.cmd(&[&b"MTOKEN.EXPIRE"[..], &typo(&gone)]), Reply::Int(0));
    let r = c.cmd(&[&b"MTOKEN.EXPIREALL"[..], b"alice", b"EXCEPT", &keep]);
    assert_eq!(r, Reply::Int(1));
    vec![keep, gone, other]
}

#[test]
fn slowlog_never_shows_a_token() {
    let srv = Server::start();
    let mut c = srv.conn();
    config_set(&mut c, "slowlog-log-slower-than", "0");
    config_set(&mut c, "slowlog-max-len", "1000");
    c.q("SLOWLOG RESET");
    let tokens = token_traffic(&mut c);
    let mut log = Vec::new();
    flatten(&c.q("SLOWLOG GET 1000"), &mut log);
    let names = log.to_ascii_lowercase();
    assert!(contains(&names, b"mtoken.verify"), "nothing was logged");
    assert!(contains(&names, b"mtoken.expireall"), "nothing was logged");
    assert!(contains(&log, b"(redacted)"));
    let refs: Vec<&[u8]> = tokens.iter().map(|t| t.as_slice()).collect();
    assert_no_leak("SLOWLOG", &log, &refs);
}

/// Read a MONITOR stream until `marker` shows, at most `limit` lines.
fn read_monitor_until(m: &mut Conn, marker: &[u8], limit: usize) -> Vec<u8> {
    let mut seen = Vec::new();
    for _ in 0..limit {
        let r = m.read_reply().expect("MONITOR stream");
        let mut line = Vec::new();
        flatten(&r, &mut line);
        seen.extend_from_slice(&line);
        seen.push(b'\n');
        if contains(&line, marker) {
            return seen;
        }
    }
    panic!(
        "marker not seen in {limit} MONITOR lines:\n{}",
        String::from_utf8_lossy(&seen)
    );
}

#[test]
fn monitor_never_shows_a_token() {
    let srv = Server::start();
    let mut m = srv.conn();
    m.send(&["MONITOR"]).expect("send MONITOR");
    assert_eq!(m.read_reply().expect("reply"), Reply::Simple("OK".into()));
    let mut c = srv.conn();
    let tokens = token_traffic(&mut c);
    c.q("PING end-of-test-marker");
    let stream = read_monitor_until(&mut m, b"end-of-test-marker", 10_000);
    let names = stream.to_ascii_lowercase();
    assert!(contains(&names, b"mtoken.verify"), "MONITOR saw nothing");
    assert!(contains(&names, b"mtoken.expire"));
    let refs: Vec<&[u8]> = tokens.iter().map(|t| t.as_slice()).collect();
    assert_no_leak("MONITOR", &stream, &refs);
}

/// A token sent with a wrong number of arguments or a bad option is still a
/// token: the error path must redact it too.
#[test]
fn slowlog_and_monitor_redact_tokens_in_rejected_commands() {
    let srv = Server::start();
    let mut m = srv.conn();
    m.send(&["MONITOR"]).expect("send MONITOR");
    assert_eq!(m.read_reply().expect("reply"), Reply::Simple("OK".into()));
    let mut c = srv.conn();
    config_set(&mut c, "slowlog-log-slower-than", "0");
    c.q("SLOWLOG RESET");
    let (token, _) = create(&mut c, b"alice", &[]);
    let t: &[u8] = &token;
    for args in [
        &[&b"MTOKEN.VERIFY"[..], t, b"extra"][..],
        &[b"MTOKEN.VERIFY_RO", t, b"extra"],
        &[b"MTOKEN.EXPIRE", t, b"extra"],
        &[b"MTOKEN.EXPIREALL", b"alice", b"BUT", t],
        &[b"MTOKEN.EXPIREALL", b"alice", b"EXCEPT", t, b"extra"],
        &[b"MTOKEN.EXPIREALL", b"", b"EXCEPT", t],
    ] {
        assert!(c.cmd(args).is_error());
    }
    assert_eq!(verify(&mut c, t), Some(b"alice".to_vec()));
    let mut log = Vec::new();
    flatten(&c.q("SLOWLOG GET 1000"), &mut log);
    assert_no_leak("SLOWLOG", &log, &[t]);
    c.q("PING end-of-test-marker");
    let stream = read_monitor_until(&mut m, b"end-of-test-marker", 10_000);
    assert_no_leak("MONITOR", &stream, &[t]);
}

#[test]
fn raw_token_is_in_no_key_name_and_no_value() {
    let srv = Server::start();
    let mut c = srv.conn();
    let mut tokens = token_traffic(&mut c);
    for user in [&b"bob"[..], b"carol"] {
        for _ in 0..3 {
            let (t, _) = create(&mut c, user, &["NAME", "phone"]);
            verify(&mut c, &t);
            tokens.push(t);
        }
    }
    c.q("MTOKEN.LIST bob");
    let keys = all_keys(&mut c);
    assert_eq!(
        keys.len(),
        3 + 1 + 3 + 3,
        "three indexes, seven live entries"
    );
    let refs: Vec<&[u8]> = tokens.iter().map(|t| t.as_slice()).collect();
    for key in &keys {
        assert_no_leak("a key name", key, &refs);
        let mut dump = Vec::new();
        flatten(&c.cmd(&[&b"DUMP"[..], key]), &mut dump);
        assert_no_leak("DUMP", &dump, &refs);
    }
    for state in dataset(&mut c) {
        for v in &state.value {
            assert_no_leak("a value", v, &refs);
        }
    }
}

#[test]
fn raw_token_never_reaches_the_aof_the_rdb_or_the_log() {
    let srv = Server::with(&[], &["--appendonly", "yes", "--loglevel", "debug"]);
    let mut c = srv.conn();
    let tokens = token_traffic(&mut c);
    assert_eq!(c.q("SAVE"), Reply::Simple("OK".into()));
    let refs: Vec<&[u8]> = tokens.iter().map(|t| t.as_slice()).collect();
    let mut files = vec![srv.dir.clone()];
    let mut checked = 0;
    while let Some(path) = files.pop() {
        if path.is_dir() {
            for e in std::fs::read_dir(&path).expect("read dir").flatten() {
                files.push(e.path());
            }
            continue;
        }
        let bytes = std::fs::read(&path).expect("read file");
        assert_no_leak(&path.display().to_string(), &bytes, &refs);
        checked += 1;
    }
    assert!(checked >= 3, "expected redis.log, dump.rdb and an AOF");
}

#[test]
fn binary_and_unicode_user_ids_round_trip() {
    let srv = Server::start();
    let mut c = srv.conn();
    let users: Vec<Vec<u8>> = vec![
        b"\x00".to_vec(),
        b"a\x00b".to_vec(),
        b"a\x00c".to_vec(),
        b"\xff\xfe\x00\x80".to_vec(),
        b"{tag}".to_vec(),
        b"{tag}x".to_vec(),
        b"}{".to_vec(),
        b"{}".to_vec(),
        b"{".to_vec(),
        "Zoë 👩‍💻 ユーザー".as_bytes().to_vec(),
        b"%s%n%x%%".to_vec(),
        b"line\r\nbreak $5\r\n".to_vec(),
        b"mtoken:{abc}:u:alice".to_vec(),
        vec![0xff; 1024],
    ];
    let mut tokens = Vec::new();
    for u in &users {
        let (t, first) = create(&mut c, u, &["NAME", "dev\x00ice"]);
        assert_eq!(first, 1, "{u:?} collided with another user");
        tokens.push(t);
    }
    for (u, t) in users.iter().zip(&tokens) {
        assert_eq!(verify(&mut c, t).as_ref(), Some(u), "VERIFY for {u:?}");
        assert_eq!(
            verify_ro(&mut c, t).as_ref(),
            Some(u),
            "VERIFY_RO for {u:?}"
        );
        let listed = c.cmd(&[&b"MTOKEN.LIST"[..], u]).array();
        assert_eq!(listed.len(), 1, "LIST for {u:?}");
        let fields = listed[0].array();
        assert_eq!(fields[1], Reply::Bulk(token_id(t).into_bytes()));
        assert_eq!(fields[3], Reply::Bulk(b"dev\x00ice".to_vec()));
    }
    for (u, t) in users.iter().zip(&tokens) {
        let r = c.cmd(&[&b"MTOKEN.EXPIREALL"[..], u]);
        assert_eq!(r, Reply::Int(1), "EXPIREALL for {u:?}");
        assert_eq!(verify(&mut c, t), None);
    }
    assert_eq!(c.q("DBSIZE"), Reply::Int(0));
}

#[test]
fn a_token_hashes_to_its_users_cluster_slot() {
    let srv = Server::with(&[], &["--cluster-enabled", "yes"]);
    let mut c = srv.conn();
    assert_eq!(
        c.q("CLUSTER ADDSLOTSRANGE 0 16383"),
        Reply::Simple("OK".into())
    );
    let up = wait_until(Duration::from_secs(10), || {
        c.q("CLUSTER INFO").text().contains("cluster_state:ok")
    });
    assert!(up, "single-node cluster never came up");
    let users: [&[u8]; 6] = [b"alice", b"42", b"{tenant}:7", b"\x00\xff", b"", b"{}x"];
    for u in users.iter().filter(|u| !u.is_empty()) {
        let (token, _) = create(&mut c, u, &[]);
        let slot = c.cmd(&[&b"CLUSTER"[..], b"KEYSLOT", u]).int();
        let token_slot = c.cmd(&[&b"CLUSTER"[..], b"KEYSLOT", &token]).int();
        assert_eq!(token_slot, slot, "token slot for {u:?}");
        // Both of the user's keys live in that slot too.
        let index = index_key(&mut c, u).expect("index");
        let entry = entry_key(&mut c, &token).expect("entry");
        for key in [&index, &entry] {
            assert_eq!(c.cmd(&[&b"CLUSTER"[..], b"KEYSLOT", key]).int(), slot);
        }
        assert_eq!(verify(&mut c, &token).as_deref(), Some(*u));
        assert_eq!(c.cmd(&[&b"MTOKEN.EXPIREALL"[..], u]), Reply::Int(1));
    }
}

#[test]
fn info_mtoken_prints_only_counters() {
    let srv = Server::start();
    let mut c = srv.conn();
    let tokens = token_traffic(&mut c);
    let info = c.q("INFO mtoken").text();
    let mut fields = 0;
    for line in info.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if line.starts_with('#') {
            continue;
        }
        let (name, value) = line.split_once(':').expect("name:value");
        assert!(name.starts_with("mtoken_"), "{line}");
        if name == "mtoken_version" {
            assert_eq!(value, env!("CARGO_PKG_VERSION"));
            continue;
        }
        assert!(
            name[7..]
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_'),
            "{line}"
        );
        assert!(value.bytes().all(|b| b.is_ascii_digit()), "{line}");
        fields += 1;
    }
    assert_eq!(fields, 12, "{info}"); // counters, besides the version
    let mut everything = Vec::new();
    flatten(&c.q("INFO everything"), &mut everything);
    for t in &tokens {
        assert_no_leak("INFO everything", &everything, &[t]);
        assert!(
            !contains(&everything, token_id(t).as_bytes()),
            "INFO shows an id"
        );
        assert!(
            !contains(&everything, &token_digest(t)),
            "INFO shows a digest"
        );
    }
}
