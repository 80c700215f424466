//! Persistence (docs/DESIGN.md, "Writes, replication, persistence"): after an AOF
//! replay or an RDB load the server holds exactly the tokens it had, with
//! the same absolute expiries; no file the server writes holds a raw token.

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Every file under `dir`, recursively, with its bytes.
fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                todo.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                out.push((path, bytes));
            }
        }
    }
    out
}

/// Tokens that must survive a restart (with their users) and tokens that
/// were revoked before it.
struct Population {
    live: Vec<(Vec<u8>, Vec<u8>)>,
    gone: Vec<Vec<u8>>,
}

impl Population {
    fn tokens(&self) -> impl Iterator<Item = &Vec<u8>> {
        self.live.iter().map(|(t, _)| t).chain(&self.gone)
    }
}

/// Tokens with and without TTL and names; some revoked by each command.
fn populate(c: &mut Conn) -> Population {
    let mut live = Vec::new();
    let mut gone = Vec::new();
    let mut keep = |c: &mut Conn, user: &[u8], opts: &[&str]| {
        live.push((create(c, user, opts).0, user.to_vec()));
    };
    keep(c, b"alice", &[]);
    keep(c, b"alice", &["TTL", "3600", "NAME", "phone"]);
    keep(c, b"bob", &["TTL", "0"]);
    keep(c, b"bob", &["TTL", "86400"]);
    keep(c, b"\x00bin\xffary", &["NAME", "laptop"]);

    let (t, _) = create(c, b"alice", &["TTL", "600"]);
    assert_eq!(c.cmd(&[&b"MTOKEN.EXPIRE"[..], &t]), Reply::Int(1));
    gone.push(t);
    for _ in 0..2 {
        gone.push(create(c, b"carol", &["TTL", "600"]).0);
    }
    assert_eq!(c.q("MTOKEN.EXPIREALL carol"), Reply::Int(2));
    let (kept, _) = create(c, b"dave", &["TTL", "900"]);
    let (dropped, _) = create(c, b"dave", &[]);
    let except = c.cmd(&[&b"MTOKEN.EXPIREALL"[..], b"dave", b"EXCEPT", &kept]);
    assert_eq!(except, Reply::Int(1));
    live.push((kept, b"dave".to_vec()));
    gone.push(dropped);
    let (revoked, _) = create(c, b"bob", &["NAME", "old tv"]);
    let id = token_id(&revoked);
    assert_eq!(c.q(&format!("MTOKEN.REVOKE bob {id}")), Reply::Int(1));
    gone.push(revoked);
    Population { live, gone }
}

/// What a restarted server must show: the same keys, absolute expiries and
/// values, every live token verifying and no revoked one.
fn check_restored(srv: &Server, pop: &Population, before: &[KeyState]) {
    let mut c = srv.conn();
    assert_eq!(dataset(&mut c), before, "keys, expiries or values changed");
    for (token, user) in &pop.live {
        assert_eq!(verify(&mut c, token), Some(user.clone()));
    }
    for token in &pop.gone {
        assert_eq!(verify(&mut c, token), None);
    }
}

/// No file in the server's dir holds a raw token (nor its secret part);
/// at least one holds the live tokens' digests, so the search looked in the
/// right place.
fn check_files(srv: &Server, pop: &Population, data_file: impl Fn(&Path) -> bool) {
    let files = files_under(&srv.dir);
    for (path, bytes) in &files {
        for t in pop.tokens() {
            assert!(!contains(bytes, t), "raw token in {}", path.display());
            let secret = &t[3..t.len() - 3];
            assert!(!contains(bytes, secret), "secret in {}", path.display());
        }
    }
    let data: Vec<_> = files.iter().filter(|(p, _)| data_file(p)).collect();
    assert!(!data.is_empty(), "no data file in {}", srv.dir.display());
    for (t, _) in &pop.live {
        let digest = token_digest(t);
        assert!(
            data.iter().any(|(_, bytes)| contains(bytes, &digest)),
            "a live token's digest is in no data file"
        );
    }
}

/// Uncompressed RDB (also the AOF's base file), so that no token could hide
/// in LZF and every digest is visible.
const AOF: [&str; 6] = [
    "--appendonly",
    "yes",
    "--appendfsync",
    "always",
    "--rdbcompression",
    "no",
];

#[test]
fn aof_restart_keeps_live_tokens_revocations_and_absolute_expiries() {
    let mut srv = Server::with(&[], &AOF);
    let pop = populate(&mut srv.conn());
    let before = dataset(&mut srv.conn());
    assert_eq!(before.len(), 6 + 4, "6 live entries, 4 user indexes");
    srv.restart("NOSAVE");
    assert!(!srv.dir.join("dump.rdb").exists(), "loaded from an RDB");
    check_restored(&srv, &pop, &before);
    check_files(&srv, &pop, |p| {
        p.to_string_lossy().contains("appendonlydir")
    });
}

#[test]
fn rdb_save_and_restart_keep_live_tokens_revocations_and_absolute_expiries() {
    let mut srv = Server::with(&[], &["--rdbcompression", "no"]);
    let pop = populate(&mut srv.conn());
    let before = dataset(&mut srv.conn());
    assert_eq!(srv.conn().q("SAVE").text(), "OK");
    srv.restart("NOSAVE");
    check_restored(&srv, &pop, &before);
    check_files(&srv, &pop, |p| p.ends_with("dump.rdb"));
}

/// Poll until the server's clock has moved on by a millisecond, so that a
/// refresh computes a new absolute expiry.
fn tick(c: &mut Conn) {
    let ms = |c: &mut Conn| {
        let t = c.q("TIME").array();
        let secs: u64 = t[0].text().parse().expect("seconds");
        let micros: u64 = t[1].text().parse().expect("micros");
        secs * 1000 + micros / 1000
    };
    let start = ms(c);
    assert!(wait_until(Duration::from_secs(5), || ms(c) > start));
}

#[test]
fn aof_replay_of_refreshes_restores_the_same_absolute_expiries() {
    let mut srv = Server::with(&["refresh-interval", "0"], &AOF);
    let mut c = srv.conn();
    let (a1, _) = create(&mut c, b"alice", &["TTL", "1000"]);
    let (a2, _) = create(&mut c, b"alice", &["TTL", "2000"]);
    let (b1, _) = create(&mut c, b"bob", &["TTL", "500"]);
    let (b2, _) = create(&mut c, b"bob", &["TTL", "0"]);
    let created = dataset(&mut c);

    tick(&mut c);
    assert_eq!(verify(&mut c, &a1), Some(b"alice".to_vec()));
    tick(&mut c);
    assert_eq!(c.q("CONFIG SET mtoken.refresh-on-verify user").text(), "OK");
    assert_eq!(verify(&mut c, &b1), Some(b"bob".to_vec()));
    tick(&mut c);
    assert_eq!(verify(&mut c, &a2), Some(b"alice".to_vec()));
    let before = dataset(&mut c);
    let moved = before
        .iter()
        .zip(&created)
        .filter(|(now, then)| now.pexpiretime != then.pexpiretime)
        .count();
    // a1, a2, b1 and alice's index TTL (b2 never expires: a refresh gives
    // it none, default-ttl being 0; so bob's index has no TTL).
    assert_eq!(moved, 4, "refreshes did not happen: {before:?}");

    srv.restart("NOSAVE");
    let mut c = srv.conn();
    assert_eq!(dataset(&mut c), before, "expiries moved on AOF replay");
    for t in [&a1, &a2, &b1, &b2] {
        assert!(verify(&mut c, t).is_some());
    }
}

#[test]
fn aof_rewrite_then_restart_keeps_live_tokens_and_absolute_expiries() {
    let mut srv = Server::with(&[], &AOF);
    let pop = populate(&mut srv.conn());
    let before = dataset(&mut srv.conn());
    let mut c = srv.conn();
    let rewrites = |c: &mut Conn| {
        let info = c.q("INFO persistence").text();
        info.lines()
            .find_map(|l| l.strip_prefix("aof_rewrites:"))
            .and_then(|v| v.trim().parse::<i64>().ok())
            .expect("aof_rewrites")
    };
    let done_before = rewrites(&mut c);
    assert!(c.q("BGREWRITEAOF").text().contains("rewriting"));
    assert!(wait_until(Duration::from_secs(20), || {
        let info = c.q("INFO persistence").text();
        rewrites(&mut c) > done_before
            && info.contains("aof_rewrite_in_progress:0")
            && info.contains("aof_rewrite_scheduled:0")
    }));
    srv.restart("NOSAVE");
    check_restored(&srv, &pop, &before);
    check_files(&srv, &pop, |p| {
        p.to_string_lossy().contains("appendonlydir")
    });
}
