//! The two ways writes reach replicas and the AOF (docs/DESIGN.md, "Writes,
//! replication, persistence"): one `MTOKEN.APPLY` per command (default) or
//! native commands (`mtoken.replicate-native yes`). Either way a replica
//! and an AOF reload hold exactly the master's dataset; only a native AOF
//! loads without the module; `MTOKEN.APPLY` is refused from clients.

mod common;
use common::*;

const AOF: [&str; 4] = ["--appendonly", "yes", "--appendfsync", "always"];

/// Every kind of write: creates (with TTL, name, none), refreshes (the
/// interval is 0), eviction at a limit, EXPIRE, EXPIREALL EXCEPT, REVOKE.
fn workload(m: &mut Conn) {
    assert_eq!(
        m.q("CONFIG SET mtoken.refresh-interval 0"),
        Reply::Simple("OK".into())
    );
    let (a, _) = create(m, b"alice", &[]);
    let (b, _) = create(m, b"alice", &["TTL", "3600", "NAME", "phone"]);
    create(m, b"bob", &["TTL", "0"]);
    for t in [&a, &b] {
        assert!(verify(m, t).is_some());
    }
    assert_eq!(
        m.q("CONFIG SET mtoken.max-tokens-per-user 2"),
        Reply::Simple("OK".into())
    );
    let (c, _) = create(m, b"alice", &["TTL", "600"]);
    // One of the two older tokens was evicted (the oldest; both may have
    // been created in the same millisecond).
    let left: Vec<_> = [a, b]
        .into_iter()
        .filter(|t| verify(m, t).is_some())
        .collect();
    assert_eq!(left.len(), 1, "one evicted at the limit");
    assert_eq!(
        m.q("CONFIG SET mtoken.max-tokens-per-user 0"),
        Reply::Simple("OK".into())
    );
    assert_eq!(m.cmd(&[&b"MTOKEN.EXPIRE"[..], &left[0]]), Reply::Int(1));
    for _ in 0..3 {
        create(m, b"carol", &["TTL", "900"]);
    }
    let (keep, _) = create(m, b"carol", &[]);
    let except = m.cmd(&[&b"MTOKEN.EXPIREALL"[..], b"carol", b"EXCEPT", &keep]);
    assert_eq!(except, Reply::Int(3));
    let id = token_id(&c);
    assert_eq!(m.q(&format!("MTOKEN.REVOKE alice {id}")), Reply::Int(1));
}

/// How many calls of `command` the server has run (`INFO commandstats`).
fn calls(c: &mut Conn, command: &str) -> i64 {
    let stats = c.q("INFO commandstats").text();
    let prefix = format!("cmdstat_{command}:calls=");
    stats
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn master_and_replica_with(native: &str) -> (Server, Server) {
    let master = Server::with(
        &["replicate-native", native],
        &[&AOF[..], &["--repl-diskless-sync-delay", "0"]].concat(),
    );
    let port = master.port.to_string();
    let replica = Server::with(&[], &["--replicaof", "127.0.0.1", &port]);
    let mut r = replica.conn();
    let up = wait_until(std::time::Duration::from_secs(20), || {
        r.q("INFO replication")
            .text()
            .contains("master_link_status:up")
    });
    assert!(up, "replica never linked:\n{}", replica.log());
    (master, replica)
}

#[test]
fn both_modes_give_the_replica_and_an_aof_reload_the_masters_dataset() {
    for native in ["no", "yes"] {
        let (mut master, replica) = master_and_replica_with(native);
        let (mut m, mut r) = (master.conn(), replica.conn());
        workload(&mut m);
        sync(&mut m);
        let want = dataset(&mut m);
        assert!(want.len() >= 4, "{native}: {want:?}");
        assert_eq!(dataset(&mut r), want, "replicate-native {native}");
        // What the replica ran: one MTOKEN.APPLY per writing command, or
        // the native commands (wrapped in MULTI/EXEC when several).
        let (apply, set) = (calls(&mut r, "mtoken.apply"), calls(&mut r, "set"));
        if native == "no" {
            assert!(apply >= 10 && set == 0, "apply {apply}, set {set}");
            assert_eq!(calls(&mut r, "exec"), 0, "one effect needs no MULTI/EXEC");
        } else {
            assert!(apply == 0 && set >= 6, "apply {apply}, set {set}");
        }
        drop(m);
        master.restart("NOSAVE");
        assert_eq!(
            dataset(&mut master.conn()),
            want,
            "AOF reload, replicate-native {native}"
        );
    }
}

#[test]
fn a_native_aof_loads_without_the_module_and_an_apply_aof_needs_it() {
    let mut native = Server::with(&["replicate-native", "yes"], &AOF);
    workload(&mut native.conn());
    let want = dataset(&mut native.conn());
    native
        .restart_without_module("NOSAVE")
        .unwrap_or_else(|log| panic!("a native AOF should load without the module:\n{log}"));
    assert_eq!(dataset(&mut native.conn()), want);

    let mut apply = Server::with(&[], &AOF);
    workload(&mut apply.conn());
    let log = match apply.restart_without_module("NOSAVE") {
        Ok(()) => panic!("an AOF with MTOKEN.APPLY loaded without the module"),
        Err(log) => log,
    };
    assert!(
        log.to_ascii_lowercase().contains("mtoken.apply"),
        "the refusal names the command:\n{log}"
    );
}

/// A batch as the module encodes it: one SET of `key` to `value`.
fn batch_setting(key: &[u8], value: &[u8]) -> Vec<u8> {
    let mut b = vec![1u8, 1];
    for field in [key, value] {
        b.extend_from_slice(&(field.len() as u32).to_le_bytes());
        b.extend_from_slice(field);
    }
    b.extend_from_slice(&u64::MAX.to_le_bytes());
    b
}

#[test]
fn apply_from_a_client_is_refused_and_changes_nothing() {
    let srv = Server::start();
    let mut c = srv.conn();
    create(&mut c, b"alice", &[]);
    let digest = c.q("DEBUG DIGEST").text();
    let batch = batch_setting(b"mtoken:x", b"forged");
    let direct = c.cmd(&[&b"MTOKEN.APPLY"[..], b"mtoken:x", &batch]).error();
    assert!(direct.contains("internal"), "{direct}");
    assert!(c.cmd(&[&b"MTOKEN.APPLY"[..], b"k", b"garbage"]).is_error());
    assert_eq!(c.q("MULTI"), Reply::Simple("OK".into()));
    c.cmd(&[&b"MTOKEN.APPLY"[..], b"mtoken:x", &batch]);
    let exec = c.q("EXEC").array();
    assert!(exec[0].is_error(), "{exec:?}");
    let script = c.cmd(&[
        &b"EVAL"[..],
        b"return redis.pcall('MTOKEN.APPLY', KEYS[1], ARGV[1])",
        b"1",
        b"mtoken:x",
        &batch,
    ]);
    assert!(script.is_error(), "{script:?}");
    assert_eq!(c.q("DEBUG DIGEST").text(), digest, "nothing changed");
}
