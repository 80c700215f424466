//! An attack pass on rotation, scopes, events and `MTOKEN.APPLY`, as a
//! hostile client or a careless operator would try them. Each test names
//! the README promise it checks: an error reply changes nothing (keyspace
//! and replication offset), no input crashes the server, no raw token
//! leaves the caller's arguments, bounded work per command.

mod common;
use common::*;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

/// What "nothing changed" compares: the keyspace and what replicas and
/// the AOF were sent.
fn state(c: &mut Conn) -> (String, i64) {
    (
        c.q("DEBUG DIGEST").text(),
        info_field(c, "replication", "master_repl_offset"),
    )
}

fn rotate(c: &mut Conn, token: &[u8], grace: &str) -> Reply {
    c.cmd(&[&b"MTOKEN.ROTATE"[..], token, b"GRACE", grace.as_bytes()])
}

// ---------------------------------------------------------------------------
// Batches and records written by hand, in the formats of src/effects.rs and
// src/record.rs.

const NEVER: u64 = u64::MAX;

#[derive(Default)]
struct Batch(Vec<u8>);

impl Batch {
    fn new() -> Batch {
        Batch(vec![1])
    }
    fn field(&mut self, b: &[u8]) -> &mut Self {
        self.0.extend_from_slice(&(b.len() as u32).to_le_bytes());
        self.0.extend_from_slice(b);
        self
    }
    fn u32(&mut self, n: u32) -> &mut Self {
        self.0.extend_from_slice(&n.to_le_bytes());
        self
    }
    fn at(&mut self, at: u64) -> &mut Self {
        self.0.extend_from_slice(&at.to_le_bytes());
        self
    }
    fn op(&mut self, code: u8) -> &mut Self {
        self.0.push(code);
        self
    }
    fn set(&mut self, key: &[u8], value: &[u8], at: u64) -> &mut Self {
        self.op(1).field(key).field(value).at(at)
    }
    fn zadd(&mut self, key: &[u8], at: u64, member: &[u8]) -> &mut Self {
        self.op(2).field(key).at(at).field(member)
    }
    fn expire(&mut self, key: &[u8], at: u64) -> &mut Self {
        self.op(3).field(key).at(at)
    }
    fn setrange(&mut self, key: &[u8], offset: u32, bytes: &[u8]) -> &mut Self {
        self.op(4).field(key).u32(offset).field(bytes)
    }
    fn del(&mut self, keys: &[&[u8]]) -> &mut Self {
        self.op(5).u32(keys.len() as u32);
        for k in keys {
            self.field(k);
        }
        self
    }
    fn zrem(&mut self, key: &[u8], members: &[&[u8]]) -> &mut Self {
        self.op(6).field(key).u32(members.len() as u32);
        for m in members {
            self.field(m);
        }
        self
    }
    fn bytes(&self) -> Vec<u8> {
        self.0.clone()
    }
}

/// Hostile batches: huge offsets, missing keys, wrong types, absurd times,
/// lying counts, truncations, unknown ops.
fn hostile_batches(entry: &[u8], index: &[u8]) -> Vec<Vec<u8>> {
    let huge = 0xffff_fff0u32;
    vec![
        Batch::new().setrange(entry, huge, &[0xaa; 32]).bytes(),
        Batch::new().setrange(entry, 5, &[0xaa; 4096]).bytes(),
        Batch::new()
            .setrange(b"mtoken:{zzz}:t:missing", 0, b"x")
            .bytes(),
        Batch::new().zadd(entry, 5, b"m").bytes(),
        Batch::new().zrem(entry, &[b"m", b""]).bytes(),
        Batch::new().setrange(index, 0, b"x").bytes(),
        Batch::new().set(b"", b"", 0).bytes(),
        Batch::new().set(b"attack:far", b"v", NEVER - 1).bytes(),
        Batch::new().set(b"attack:past", b"v", 1).bytes(),
        Batch::new().expire(b"attack:nothing", 1).bytes(),
        Batch::new().expire(index, NEVER - 1).bytes(),
        Batch::new().zadd(b"attack:z", 0, b"").bytes(),
        Batch::new().del(&[index, index, b"attack:none"]).bytes(),
        Batch::new().zrem(index, &[b"gone"]).bytes(),
        // A DEL that claims 2^32-1 keys; a ZREM that claims 2^31.
        vec![1, 5, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0],
        Batch::new().op(6).field(b"k").u32(1 << 31).bytes(),
        // A field length past the end; an unknown op; another version.
        vec![1, 1, 0xff, 0xff, 0xff, 0x7f, b'k'],
        vec![1, 99],
        vec![2, 1],
        vec![],
        vec![1],
    ]
}

/// A token entry value: flags, times, TTL, then the optional blocks.
struct Rec {
    flags: u8,
    created: u64,
    tail: Vec<u8>,
    user: Vec<u8>,
}

impl Rec {
    fn new(user: &[u8], created: u64) -> Rec {
        Rec {
            flags: 0x10,
            created,
            tail: Vec::new(),
            user: user.to_vec(),
        }
    }
    /// Rotation block: family, state, and for a marker its successor and
    /// grace end.
    fn rotated(mut self, family: &[u8], marker: Option<(&[u8], u64)>) -> Rec {
        self.flags |= 8;
        self.tail.extend_from_slice(family);
        match marker {
            None => self.tail.push(0),
            Some((succ, grace_end)) => {
                self.tail.push(1);
                self.tail.extend_from_slice(succ);
                self.tail.extend_from_slice(&grace_end.to_le_bytes()[..6]);
            }
        }
        self
    }
    /// Raw bytes after the header, with any flag bits.
    fn raw(mut self, flags: u8, tail: &[u8]) -> Rec {
        self.flags |= flags;
        self.tail.extend_from_slice(tail);
        self
    }
    fn bytes(&self) -> Vec<u8> {
        let mut out = vec![self.flags];
        out.extend_from_slice(&self.created.to_le_bytes()[..6]);
        out.extend_from_slice(&self.created.to_le_bytes()[..6]);
        out.extend_from_slice(&600u32.to_le_bytes());
        out.extend_from_slice(&self.tail);
        out.extend_from_slice(&self.user);
        out
    }
}

fn scopes_block(names: &[&[u8]]) -> Vec<u8> {
    let mut out = vec![names.len() as u8];
    for n in names {
        out.push(n.len() as u8);
        out.extend_from_slice(n);
    }
    out
}

// ---------------------------------------------------------------------------

/// README, MTOKEN.APPLY: "refused with an error, nothing changed" for
/// clients — also inside MULTI, from Lua, and from a replica's own clients.
#[test]
fn apply_is_refused_from_every_client_path() {
    let (master, replica) = master_and_replica();
    let mut m = master.conn();
    let (tok, _) = create(&mut m, b"alice", &[]);
    sync(&mut m);
    let entry = entry_key(&mut m, &tok).expect("entry");
    let batch = Batch::new().set(&entry, b"forged", NEVER).bytes();
    let refused = "ERR MTOKEN.APPLY is internal";
    let before = state(&mut m);
    let r = m.cmd(&[&b"MTOKEN.APPLY"[..], &entry, &batch]);
    assert!(r.error().starts_with(refused), "{r:?}");
    // In MULTI: queued, then refused at EXEC.
    m.q("MULTI");
    m.cmd(&[&b"MTOKEN.APPLY"[..], &entry, &batch]);
    let exec = m.q("EXEC").array();
    assert!(exec[0].error().starts_with(refused), "{exec:?}");
    // From Lua.
    let r = m.cmd(&[
        &b"EVAL"[..],
        b"return redis.call('MTOKEN.APPLY', KEYS[1], ARGV[1])",
        b"1",
        &entry,
        &batch,
    ]);
    assert!(r.error().contains("MTOKEN.APPLY is internal"), "{r:?}");
    assert_eq!(state(&mut m), before, "a refused APPLY changed something");
    // A replica's own client, on a writable replica.
    let mut r = replica.conn();
    config_set(&mut r, "replica-read-only", "no");
    let digest = r.q("DEBUG DIGEST").text();
    let reply = r.cmd(&[&b"MTOKEN.APPLY"[..], &entry, &batch]);
    assert!(reply.error().starts_with(refused), "{reply:?}");
    assert_eq!(r.q("DEBUG DIGEST").text(), digest);
    assert_eq!(verify_ro(&mut r, &tok), Some(b"alice".to_vec()));
    assert_eq!(verify(&mut m, &tok), Some(b"alice".to_vec()));
}

/// README, security notes: no input crashes the server. A crafted AOF
/// with hostile `MTOKEN.APPLY` batches loads; the server keeps running and
/// the batches' well-formed writes are applied.
#[test]
fn hostile_apply_batches_in_the_aof_never_crash_the_server() {
    let mut srv = Server::with(&[], &["--appendonly", "yes"]);
    let mut c = srv.conn();
    let (tok, _) = create(&mut c, b"alice", &[]);
    let entry = entry_key(&mut c, &tok).expect("entry");
    let index = index_key(&mut c, b"alice").expect("index");
    let dir = srv.dir.clone();
    drop(c);
    srv.stop("NOSAVE");
    // The incremental AOF file of the multi-part AOF (Redis 7+, Valkey).
    let aof_dir = dir.join("appendonlydir");
    let incr = std::fs::read_dir(&aof_dir)
        .expect("appendonlydir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.to_string_lossy().ends_with(".incr.aof"))
        .expect("an incr AOF file");
    let mut aof = std::fs::OpenOptions::new()
        .append(true)
        .open(&incr)
        .expect("open AOF");
    for batch in hostile_batches(&entry, &index) {
        aof.write_all(&resp(&[&b"MTOKEN.APPLY"[..], b"k", &batch]))
            .expect("write AOF");
    }
    // A last, well-formed batch is still applied after all of them.
    let ok = Batch::new().set(b"attack:last", b"applied", NEVER).bytes();
    aof.write_all(&resp(&[&b"MTOKEN.APPLY"[..], b"k", &ok]))
        .expect("write AOF");
    drop(aof);
    srv.restart("NOSAVE");
    assert!(srv.alive(), "server died loading the AOF:\n{}", srv.log());
    let mut c = srv.conn();
    assert_eq!(c.q("PING"), Reply::Simple("PONG".into()));
    assert_eq!(c.q("GET attack:last"), Reply::Bulk(b"applied".to_vec()));
    // The entry survived the out-of-range SETRANGEs untouched.
    assert_eq!(verify(&mut c, &tok), Some(b"alice".to_vec()));
}

/// The name of the first complete RESP command in `buf`, and its length.
fn first_command(buf: &[u8]) -> Option<(Vec<u8>, usize)> {
    let line = |at: usize| -> Option<(usize, usize)> {
        let end = at + buf.get(at..)?.windows(2).position(|w| w == b"\r\n")?;
        let n = std::str::from_utf8(&buf[at + 1..end]).ok()?.parse().ok()?;
        Some((n, end + 2))
    };
    let (argc, mut at) = line(0)?;
    let mut name = None;
    for _ in 0..argc {
        let (len, start) = line(at)?;
        let arg = buf.get(start..start + len)?;
        name.get_or_insert_with(|| arg.to_vec());
        at = start + len + 2;
        if buf.len() < at {
            return None;
        }
    }
    Some((name?, at))
}

/// Reads and discards what a replica sends its master (REPLCONF ACK).
fn drain(mut s: std::net::TcpStream) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
    });
}

/// README, security notes: no input crashes the server — here a fake
/// master sending a replica the same hostile batches over the replication
/// link.
#[test]
fn hostile_apply_batches_from_a_fake_master_never_crash_a_replica() {
    // An empty RDB this server version writes, for the full sync.
    let seed = Server::start();
    let mut s = seed.conn();
    assert_eq!(s.q("SAVE"), Reply::Simple("OK".into()));
    let rdb = std::fs::read(seed.dir.join("dump.rdb")).expect("dump.rdb");

    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let mut replica = Server::with(&[], &["--appendonly", "yes"]);
    let mut r = replica.conn();
    r.cmd(&["REPLICAOF", "127.0.0.1", &port.to_string()]);
    let (mut link, _) = listener.accept().expect("the replica connects");
    link.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    // Answer the handshake (PING, REPLCONF ..., pipelined on some
    // servers) one reply per command, until PSYNC.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut pending: Vec<u8> = Vec::new();
    'handshake: loop {
        assert!(Instant::now() < deadline, "no PSYNC from the replica");
        let mut buf = [0u8; 1024];
        let n = link.read(&mut buf).expect("handshake");
        pending.extend_from_slice(&buf[..n]);
        while let Some((name, used)) = first_command(&pending) {
            pending.drain(..used);
            match name.to_ascii_uppercase().as_slice() {
                b"PSYNC" | b"SYNC" => break 'handshake,
                b"PING" => link.write_all(b"+PONG\r\n").expect("reply"),
                _ => link.write_all(b"+OK\r\n").expect("reply"),
            }
        }
    }
    let replid = "a".repeat(40);
    link.write_all(format!("+FULLRESYNC {replid} 0\r\n${}\r\n", rdb.len()).as_bytes())
        .expect("fullresync");
    link.write_all(&rdb).expect("rdb");
    drain(link.try_clone().expect("clone"));
    let up = wait_until(Duration::from_secs(10), || {
        r.q("INFO replication")
            .text()
            .contains("master_link_status:up")
    });
    assert!(up, "replica did not sync:\n{}", replica.log());
    // Keys for the batches to hit: a string and a sorted set.
    let setup = Batch::new()
        .set(b"mtoken:{abc}:t:entry", &[0x10; 30], NEVER)
        .zadd(b"mtoken:{abc}:u:u", NEVER, b"m")
        .bytes();
    link.write_all(&resp(&[&b"MTOKEN.APPLY"[..], b"k", &setup]))
        .expect("send");
    for batch in hostile_batches(b"mtoken:{abc}:t:entry", b"mtoken:{abc}:u:u") {
        link.write_all(&resp(&[&b"MTOKEN.APPLY"[..], b"k", &batch]))
            .expect("send");
    }
    // One write of a batch fails (a ZADD at a string), the others apply,
    // as native commands in MULTI/EXEC would.
    let partial = Batch::new()
        .set(b"attack:partial", b"kept", NEVER)
        .zadd(b"mtoken:{abc}:t:entry", 1, b"m")
        .expire(b"attack:partial", 4_000_000_000_000)
        .bytes();
    link.write_all(&resp(&[&b"MTOKEN.APPLY"[..], b"k", &partial]))
        .expect("send");
    let ok = Batch::new().set(b"attack:last", b"applied", NEVER).bytes();
    link.write_all(&resp(&[&b"MTOKEN.APPLY"[..], b"k", &ok]))
        .expect("send");
    let applied = wait_until(Duration::from_secs(10), || {
        r.q("GET attack:last") == Reply::Bulk(b"applied".to_vec())
    });
    assert!(applied, "the last batch never applied:\n{}", replica.log());
    assert!(replica.alive(), "replica died:\n{}", replica.log());
    assert_eq!(r.q("PING"), Reply::Simple("PONG".into()));
    assert_eq!(r.q("GET attack:partial"), Reply::Bulk(b"kept".to_vec()));
    // The replica's AOF holds what it applied: a restart from it gives
    // the same dataset (README, "Writes, replication, persistence").
    r.q("REPLICAOF NO ONE");
    // The AOF the sync started is written (until then SHUTDOWN refuses).
    let written = wait_until(Duration::from_secs(10), || {
        let info = r.q("INFO persistence").text();
        info.contains("aof_rewrite_in_progress:0") && info.contains("aof_rewrite_scheduled:0")
    });
    assert!(written, "the replica's AOF rewrite never ended");
    // (SCAN first: it drops the keys already expired, which DEBUG DIGEST
    // would count.)
    let keys_before = dataset(&mut r);
    let before = r.q("DEBUG DIGEST").text();
    drop(r);
    replica.restart("NOSAVE");
    let mut r = replica.conn();
    let keys_after = dataset(&mut r);
    assert_eq!(keys_after, keys_before);
    assert_eq!(r.q("DEBUG DIGEST").text(), before, "AOF reload differs");
}

/// Crafted values at a token's entry name, with the rotation and scope
/// flags set but truncated, looping or out of bounds.
fn crafted_values(own: &[u8], other: &[u8], now: u64) -> Vec<(&'static str, Vec<u8>)> {
    let far = (1u64 << 48) - 1;
    let user = b"eve";
    vec![
        (
            "marker succeeding itself, grace forever",
            Rec::new(user, now).rotated(own, Some((own, far))).bytes(),
        ),
        (
            "marker to another device's current token",
            Rec::new(user, now).rotated(own, Some((other, far))).bytes(),
        ),
        (
            "marker past grace, family of another device",
            Rec::new(user, now).rotated(other, Some((other, 1))).bytes(),
        ),
        (
            "current token whose family is another token",
            Rec::new(user, now).rotated(other, None).bytes(),
        ),
        (
            "rotation flag, block cut short",
            Rec::new(b"", now).raw(8, &own[..10]).bytes(),
        ),
        (
            "rotation flag, unknown state",
            Rec::new(user, now)
                .raw(8, &[own, &[7][..]].concat())
                .bytes(),
        ),
        (
            "marker cut inside its grace end",
            Rec::new(b"", now)
                .raw(8, &[own, &[1][..], other, &[1, 2][..]].concat())
                .bytes(),
        ),
        (
            "scope count past the bytes",
            Rec::new(b"", now).raw(4, &[200, 3, b'a']).bytes(),
        ),
        (
            "forty scopes, past the limit of 16",
            Rec::new(user, now)
                .raw(4, &scopes_block(&vec![&b"read"[..]; 40]))
                .bytes(),
        ),
        (
            "name length past the end",
            Rec::new(b"", now).raw(1, &[0xff, 0xff, b'n']).bytes(),
        ),
        (
            "every flag, marker, far future created",
            Rec::new(user, far)
                .rotated(own, Some((own, far)))
                .raw(1 | 4, &[2, 0, b'n', b'm', 1, 1, b'x'])
                .bytes(),
        ),
        ("another record format version", {
            let mut b = Rec::new(user, now).bytes();
            b[0] = 0x2f;
            b
        }),
    ]
}

/// README: every check comes before the first write, so an error reply
/// changed nothing (keyspace and replication offset); no stored value
/// crashes the server; markers are never listed or counted.
#[test]
fn crafted_records_get_an_error_or_nil_and_errors_change_nothing() {
    let mut srv = Server::start();
    let mut c = srv.conn();
    let now = server_ms(&mut c);
    let mut errors = 0;
    for with_index_member in [false, true] {
        for case in 0..crafted_values(&[0; 15], &[0; 15], now).len() {
            for cmd in 0..11 {
                c.q("FLUSHALL");
                let (own, _) = create(&mut c, b"eve", &["TTL", "600"]);
                let (other, _) = create(&mut c, b"eve", &["TTL", "600"]);
                let d_own = token_digest(&own);
                let d_other = token_digest(&other);
                let (label, value) = crafted_values(&d_own, &d_other, now).swap_remove(case);
                let entry = entry_key(&mut c, &own).expect("entry");
                c.cmd(&[&b"SET"[..], &entry, &value]);
                if !with_index_member {
                    let index = index_key(&mut c, b"eve").expect("index");
                    c.cmd(&[&b"ZREM"[..], &index, &d_own]);
                }
                let args = command_args(&own, &other, cmd);
                let before = state(&mut c);
                let r = c.cmd(&args);
                let name = String::from_utf8_lossy(&args[0]).into_owned();
                assert!(srv.alive(), "{label}: {name} crashed the server");
                match &r {
                    Reply::Error(e) => {
                        assert!(
                            e.starts_with("ERR a key in the mtoken namespace"),
                            "{label}: {name} -> {e}"
                        );
                        assert_eq!(state(&mut c), before, "{label}: {name} erred and wrote");
                        errors += 1;
                    }
                    Reply::Nil | Reply::Int(_) | Reply::Bulk(_) | Reply::Array(_) => {}
                    other => panic!("{label}: {name} -> {other:?}"),
                }
                // Whatever happened, the other device still answers (it
                // is no marker's successor it could be ended through),
                // unless this command removed it.
                let _ = verify_ro(&mut c, &other);
            }
        }
    }
    assert!(errors > 0, "no crafted value was refused");
    assert!(srv.alive());
}

fn command_args(own: &[u8], other: &[u8], which: usize) -> Vec<Vec<u8>> {
    let b = |s: &str| s.as_bytes().to_vec();
    let all = [
        vec![b("MTOKEN.VERIFY"), own.to_vec()],
        vec![b("MTOKEN.VERIFY"), own.to_vec(), b("SCOPE"), b("read")],
        vec![b("MTOKEN.VERIFY_RO"), own.to_vec(), b("SCOPE"), b("x")],
        vec![b("MTOKEN.ROTATE"), own.to_vec()],
        vec![b("MTOKEN.ROTATE"), other.to_vec(), b("GRACE"), b("0")],
        vec![b("MTOKEN.EXPIRE"), own.to_vec()],
        vec![b("MTOKEN.LIST"), b("eve")],
        vec![b("MTOKEN.REVOKE"), b("eve"), token_id(own).into_bytes()],
        vec![b("MTOKEN.REVOKE"), b("eve"), token_id(other).into_bytes()],
        vec![b("MTOKEN.EXPIREALL"), b("eve"), b("EXCEPT"), other.to_vec()],
        vec![b("MTOKEN.CREATE"), b("eve")],
    ];
    all[which].clone()
}

/// README, MTOKEN.ROTATE: one atomic command, so concurrent ROTATEs of the
/// same token give exactly one new token; the others answer nil (within
/// grace: nothing changes), and the device is not logged out.
#[test]
fn concurrent_rotates_of_one_token_give_one_new_token() {
    let srv = Server::start();
    let mut c = srv.conn();
    let (tok, _) = create(&mut c, b"zoe", &["TTL", "600"]);
    let shared = std::sync::Arc::new(tok.clone());
    let replies = in_parallel(&srv, 12, move |_, c| {
        let t = shared.clone();
        (0..5)
            .map(|_| c.cmd(&[&b"MTOKEN.ROTATE"[..], &t[..]]))
            .collect::<Vec<_>>()
    });
    let new: Vec<Vec<u8>> = replies
        .iter()
        .flatten()
        .filter_map(|r| match r {
            Reply::Bulk(t) => Some(t.clone()),
            Reply::Nil => None,
            other => panic!("ROTATE -> {other:?}"),
        })
        .collect();
    assert_eq!(new.len(), 1, "exactly one rotation wins");
    assert_eq!(verify(&mut c, &new[0]), Some(b"zoe".to_vec()));
    assert_eq!(verify(&mut c, &tok), Some(b"zoe".to_vec()), "within grace");
    assert_eq!(info_counter(&mut c, "rotation_reuse"), 0);
    let list = c.cmd(&["MTOKEN.LIST", "zoe"]).array();
    assert_eq!(list.len(), 1);
}

/// README: REVOKE by a rotated device's id, EXPIREALL with markers around,
/// the per-user limit and max-lifetime with rotated devices.
#[test]
fn rotated_devices_under_revoke_expireall_limit_and_max_lifetime() {
    let srv = Server::start();
    let mut c = srv.conn();
    // REVOKE by the first id after three rotations.
    let (a, _) = create(&mut c, b"ann", &[]);
    let (keep, _) = create(&mut c, b"ann", &[]);
    let mut cur = a.clone();
    for _ in 0..3 {
        cur = rotate(&mut c, &cur, "60").bytes();
    }
    let r = c.cmd(&[&b"MTOKEN.REVOKE"[..], b"ann", token_id(&a).as_bytes()]);
    assert_eq!(r, Reply::Int(1));
    assert_eq!(verify(&mut c, &cur), None);
    assert_eq!(verify(&mut c, &a), None, "its markers answer nothing");
    assert_eq!(verify(&mut c, &keep), Some(b"ann".to_vec()));
    // REVOKE by a replaced token's own (non-first) id: nothing.
    let (b0, _) = create(&mut c, b"ann", &[]);
    let b1 = rotate(&mut c, &b0, "60").bytes();
    let b2 = rotate(&mut c, &b1, "60").bytes();
    let before = state(&mut c);
    let r = c.cmd(&[&b"MTOKEN.REVOKE"[..], b"ann", token_id(&b1).as_bytes()]);
    assert_eq!(r, Reply::Int(0));
    assert_eq!(state(&mut c), before);
    // EXPIREALL counts devices, not markers; markers then answer nothing,
    // and their reuse after grace finds no device and crashes nothing.
    let r = c.cmd(&["MTOKEN.EXPIREALL", "ann"]);
    assert_eq!(r, Reply::Int(2));
    for t in [&b0, &b1, &b2, &keep] {
        assert_eq!(verify(&mut c, t), None);
    }
    let (d0, _) = create(&mut c, b"ann", &[]);
    let d1 = rotate(&mut c, &d0, "0").bytes();
    assert_eq!(c.cmd(&["MTOKEN.EXPIREALL", "ann"]), Reply::Int(1));
    assert_eq!(rotate(&mut c, &d0, "0"), Reply::Nil);
    assert_eq!(verify(&mut c, &d1), None);
    assert_eq!(c.cmd(&["MTOKEN.LIST", "ann"]).array().len(), 0);

    // The limit: a rotated device keeps its creation time, so it is the
    // oldest and goes first; its old token then answers nothing.
    config_set(&mut c, "mtoken.max-tokens-per-user", "2");
    let (e0, _) = create(&mut c, b"bea", &[]);
    tick_ms(&mut c, 2);
    let (f, _) = create(&mut c, b"bea", &[]);
    let e1 = rotate(&mut c, &e0, "60").bytes();
    let (g, _) = create(&mut c, b"bea", &[]);
    assert_eq!(verify(&mut c, &e1), None, "the oldest device was evicted");
    assert_eq!(verify(&mut c, &e0), None, "its grace ends with it");
    for t in [&f, &g] {
        assert_eq!(verify(&mut c, t), Some(b"bea".to_vec()));
    }
    let list = c.cmd(&["MTOKEN.LIST", "bea"]).array();
    assert_eq!(list.len(), 2);
    config_set(&mut c, "mtoken.max-tokens-per-user", "0");

    // max-lifetime: a rotation does not extend the device's life.
    let (h0, _) = create(&mut c, b"cid", &[]);
    tick_ms(&mut c, 300);
    config_set(&mut c, "mtoken.max-lifetime", "1");
    let h1 = rotate(&mut c, &h0, "60").bytes();
    let e = entry_key(&mut c, &h1).expect("entry");
    let created = server_ms(&mut c) - 300;
    assert!(pexpiretime(&mut c, &e) <= (created + 1000) as i64 + 50);
    tick_ms(&mut c, 800);
    assert_eq!(verify(&mut c, &h1), None);
    assert_eq!(rotate(&mut c, &h0, "60"), Reply::Nil);
    assert_eq!(c.cmd(&["MTOKEN.LIST", "cid"]).array().len(), 0);
}

/// README, Events: one message per device that ends, `<reason> <id>
/// <user>`, never a token; the id of a rotated device is its first id,
/// never the digest of its current token. `CONFIG SET mtoken.events` at
/// run time takes effect at the next command.
#[test]
fn events_never_carry_a_token_or_a_current_digest() {
    let srv = Server::start();
    let mut c = srv.conn();
    let chan = c.cmd(&["MTOKEN.CHANNEL", "dan"]).bytes();
    let mut sub = srv.conn();
    sub.cmd(&[&b"SSUBSCRIBE"[..], &chan]);
    let mut pattern = srv.conn();
    pattern.cmd(&["PSUBSCRIBE", "mtoken:*"]);
    let next = |s: &mut Conn| s.next_within(Duration::from_millis(300));
    let (a0, _) = create(&mut c, b"dan", &[]);
    // Off by default: nothing.
    let a1 = rotate(&mut c, &a0, "0").bytes();
    assert_eq!(verify(&mut c, &a0), None, "reuse");
    assert!(next(&mut sub).is_none());
    config_set(&mut c, "mtoken.events", "sharded");
    let (b0, _) = create(&mut c, b"dan", &["SCOPE", "read"]);
    let b1 = rotate(&mut c, &b0, "0").bytes();
    let b2 = rotate(&mut c, &b1, "0").bytes();
    assert!(next(&mut sub).is_none(), "rotation sends nothing");
    assert_eq!(verify(&mut c, &b1), None, "reuse");
    let msg = next(&mut sub).expect("a reuse message");
    let mut flat = Vec::new();
    flatten(&msg, &mut flat);
    assert!(contains(
        &flat,
        format!("reuse {} dan", token_id(&b0)).as_bytes()
    ));
    assert_no_leak("event", &flat, &[&a0, &a1, &b0, &b1, &b2]);
    for t in [&b1, &b2] {
        assert!(!contains(&flat, token_id(t).as_bytes()), "a current digest");
    }
    assert!(next(&mut sub).is_none(), "one message per device");
    assert!(next(&mut pattern).is_none(), "sharded: no PUBLISH");
    // Global at run time: PSUBSCRIBE gets it, SSUBSCRIBE does not.
    config_set(&mut c, "mtoken.events", "global");
    let (d, _) = create(&mut c, b"dan", &[]);
    assert_eq!(c.cmd(&[&b"MTOKEN.EXPIRE"[..], &d]), Reply::Int(1));
    let msg = next(&mut pattern).expect("a global message");
    let mut flat = Vec::new();
    flatten(&msg, &mut flat);
    assert!(contains(
        &flat,
        format!("logout {} dan", token_id(&d)).as_bytes()
    ));
    assert_no_leak("event", &flat, &[&d]);
    assert!(next(&mut sub).is_none());
    // Off again: nothing, and the command still works.
    config_set(&mut c, "mtoken.events", "off");
    let (e, _) = create(&mut c, b"dan", &[]);
    assert_eq!(c.cmd(&[&b"MTOKEN.EXPIRE"[..], &e]), Reply::Int(1));
    assert!(next(&mut pattern).is_none() && next(&mut sub).is_none());
}

/// README, Redis Cluster: on a slot being imported, a command that finds a
/// key it needs missing answers TRYAGAIN and changes nothing — also a
/// replaced token within its grace whose successor has not arrived (it
/// is valid: nil would log a request in flight out).
#[test]
fn a_replaced_token_on_an_importing_slot_answers_tryagain_until_its_successor_arrives() {
    let cluster = Cluster::start(3);
    let ports = cluster.ports();
    let tag = cluster.tag_on(0, "rot");
    let slot = cluster_key_slot(tag.as_bytes()).to_string();
    let user = format!("{{{tag}}}:ivy").into_bytes();
    let mut client = cluster.client();
    let (old, _) = client.create(&user, &[]);
    let new = client
        .cmd(&[&b"MTOKEN.ROTATE"[..], &old, b"GRACE", b"3600"])
        .bytes();
    let (mut src, mut dst) = (cluster.nodes[0].conn(), cluster.nodes[1].conn());
    let ok = Reply::Simple("OK".into());
    let importing = ["CLUSTER", "SETSLOT", &slot, "IMPORTING", &cluster.ids[0]];
    assert_eq!(dst.cmd(&importing), ok);
    let migrating = ["CLUSTER", "SETSLOT", &slot, "MIGRATING", &cluster.ids[1]];
    assert_eq!(src.cmd(&migrating), ok);
    // Only the old token's marker arrives.
    let marker = {
        let keys = src.cmd(&["CLUSTER", "GETKEYSINSLOT", &slot, "10"]).array();
        let suffix = [&b"}:t:"[..], &token_digest(&old)].concat();
        keys.iter()
            .map(|k| k.bytes())
            .find(|k| k.ends_with(&suffix))
            .expect("the marker")
    };
    let port = ports[1].to_string();
    let r = src.cmd(&[
        &b"MIGRATE"[..],
        b"127.0.0.1",
        port.as_bytes(),
        b"",
        b"0",
        b"5000",
        b"KEYS",
        &marker,
    ]);
    assert_eq!(r, ok);
    for cmd in ["MTOKEN.VERIFY", "MTOKEN.VERIFY_RO"] {
        let before = state(&mut dst);
        assert_eq!(dst.q("ASKING"), ok);
        let r = dst.cmd(&[cmd.as_bytes(), &old]);
        assert!(
            matches!(&r, Reply::Error(e) if e.starts_with("TRYAGAIN")),
            "{cmd} of a token within grace, successor not arrived: {r:?}"
        );
        assert_eq!(state(&mut dst), before);
    }
    // The rest arrives: the old token answers again, within its grace.
    let rest: Vec<Vec<u8>> = src
        .cmd(&["CLUSTER", "GETKEYSINSLOT", &slot, "10"])
        .array()
        .iter()
        .map(|k| k.bytes())
        .collect();
    let mut args: Vec<&[u8]> = vec![
        b"MIGRATE",
        b"127.0.0.1",
        port.as_bytes(),
        b"",
        b"0",
        b"5000",
        b"KEYS",
    ];
    args.extend(rest.iter().map(|k| k.as_slice()));
    assert_eq!(src.cmd(&args), ok);
    for t in [&old, &new] {
        assert_eq!(dst.q("ASKING"), ok);
        assert_eq!(
            dst.cmd(&[&b"MTOKEN.VERIFY"[..], t]),
            Reply::Bulk(user.clone())
        );
    }
}
