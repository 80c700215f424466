//! Device management (docs/DESIGN.md, "Commands": LIST, REVOKE, EXPIREALL .. EXCEPT;
//! "Expiry": refresh-interval, max-lifetime, max-tokens-per-user): what a
//! user's device list shows, in RESP2 and RESP3, how devices are logged out,
//! how often a VERIFY writes, and that the list is the same on a replica and
//! after a restart.

mod common;
use common::*;

use std::collections::HashSet;
use std::time::Duration;

/// One `MTOKEN.LIST` entry.
#[derive(Clone, Debug, PartialEq)]
struct Device {
    id: String,
    name: Option<Vec<u8>>,
    created: i64,
    last_used: i64,
    expires: i64,
}

impl Device {
    /// From the entry's field/value pairs, which must come in this order.
    fn from_pairs(pairs: &[(Reply, Reply)]) -> Device {
        let fields: Vec<String> = pairs.iter().map(|(k, _)| k.text()).collect();
        assert_eq!(
            fields,
            ["id", "name", "created", "last_used", "expires", "scopes"]
        );
        Device {
            id: pairs[0].1.text(),
            name: match &pairs[1].1 {
                Reply::Nil => None,
                other => Some(other.bytes()),
            },
            created: pairs[2].1.int(),
            last_used: pairs[3].1.int(),
            expires: pairs[4].1.int(),
        }
    }
}

/// Which shape every LIST entry must have.
#[derive(Clone, Copy, PartialEq)]
enum Shape {
    /// RESP2: a flat array of 12 (field, value, ...).
    Flat,
    /// RESP3: a map of 6.
    Map,
}

fn list_as(c: &mut Conn, user: &[u8], shape: Shape) -> Vec<Device> {
    c.cmd(&[&b"MTOKEN.LIST"[..], user])
        .array()
        .iter()
        .map(|entry| match (entry, shape) {
            (Reply::Map(pairs), Shape::Map) => Device::from_pairs(pairs),
            (Reply::Array(flat), Shape::Flat) => {
                assert_eq!(flat.len(), 12, "flat entry: {flat:?}");
                let pairs: Vec<_> = flat
                    .chunks(2)
                    .map(|p| (p[0].clone(), p[1].clone()))
                    .collect();
                Device::from_pairs(&pairs)
            }
            (other, _) => panic!("unexpected LIST entry shape: {other:?}"),
        })
        .collect()
}

/// `MTOKEN.LIST user` on a RESP2 connection.
fn list(c: &mut Conn, user: &[u8]) -> Vec<Device> {
    list_as(c, user, Shape::Flat)
}

fn ids(devices: &[Device]) -> Vec<String> {
    devices.iter().map(|d| d.id.clone()).collect()
}

fn revoke(c: &mut Conn, user: &[u8], id: &[u8]) -> i64 {
    c.cmd(&[&b"MTOKEN.REVOKE"[..], user, id]).int()
}

fn expire_all_except(c: &mut Conn, user: &[u8], token: &[u8]) -> i64 {
    c.cmd(&[&b"MTOKEN.EXPIREALL"[..], user, b"EXCEPT", token])
        .int()
}

fn dbsize(c: &mut Conn) -> i64 {
    c.q("DBSIZE").int()
}

/// The server's dirty counter (`rdb_changes_since_last_save`): Redis bumps
/// it for every write a command makes and propagates, with or without
/// replicas, so it detects a write where `master_repl_offset` (0 until a
/// replica has attached) cannot.
fn writes(c: &mut Conn) -> u64 {
    let info = c.q("INFO persistence").text();
    info.lines()
        .find_map(|l| l.strip_prefix("rdb_changes_since_last_save:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no rdb_changes_since_last_save:\n{info}"))
}

/// A user's live token count as its index holds it.
fn zcard(c: &mut Conn, user: &[u8]) -> i64 {
    match index_key(c, user) {
        Some(index) => c.cmd(&[&b"ZCARD"[..], &index]).int(),
        None => 0,
    }
}

// ---- LIST: fields and order ------------------------------------------------

#[test]
fn list_shows_every_live_token_oldest_first_with_its_fields() {
    let srv = Server::start();
    let mut c = srv.conn();
    let before = server_ms(&mut c) as i64;
    let mut made = Vec::new();
    for opts in [
        &[][..],
        &["NAME", "laptop"],
        &["TTL", "600"],
        &["TTL", "60", "NAME", "phone"],
        &["TTL", "0", "NAME", "tv"],
    ] {
        made.push((create(&mut c, b"alice", opts).0, opts));
        tick_ms(&mut c, 2);
    }
    let after = server_ms(&mut c) as i64;
    create(&mut c, b"bob", &["NAME", "bob's"]);

    let devices = list(&mut c, b"alice");
    assert_eq!(devices.len(), made.len(), "{devices:?}");
    let mut last_created = 0;
    for (d, (token, opts)) in devices.iter().zip(&made) {
        // The id names the token's digest: 30 lowercase hex chars that
        // neither are nor contain the token.
        assert_eq!(d.id, token_id(token), "listed in creation order");
        assert_eq!(d.id.len(), 30);
        assert!(d
            .id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert!(!contains(d.id.as_bytes(), token) && !contains(token, d.id.as_bytes()));

        let name = opts
            .iter()
            .position(|o| *o == "NAME")
            .map(|i| opts[i + 1].as_bytes().to_vec());
        assert_eq!(d.name, name);

        assert!((before..=after).contains(&d.created), "created {d:?}");
        assert!(d.created > last_created, "oldest first, distinct times");
        last_created = d.created;
        assert_eq!(d.last_used, d.created, "never used yet");

        let entry = entry_key(&mut c, token).expect("entry key");
        assert_eq!(d.expires, pexpiretime(&mut c, &entry));
        let ttl = opts
            .iter()
            .position(|o| *o == "TTL")
            .map(|i| opts[i + 1].parse::<i64>().expect("ttl"));
        match ttl {
            Some(secs) if secs > 0 => assert_eq!(d.expires, d.created + secs * 1000),
            _ => assert_eq!(d.expires, -1, "no TTL, default-ttl 0, or TTL 0"),
        }
    }

    let raw = c.q("MTOKEN.LIST alice");
    let text = format!("{raw:?}");
    for (token, _) in &made {
        let secret = String::from_utf8_lossy(&token[3..46]).into_owned();
        assert!(!text.contains(&secret), "LIST leaks a token: {text}");
    }
    assert_eq!(list(&mut c, b"bob").len(), 1, "bob's own list");
    assert_eq!(c.q("MTOKEN.LIST nobody"), Reply::Array(vec![]));
    assert_eq!(dbsize(&mut c), 2 + 6, "LIST created no key");
}

#[test]
fn list_names_and_users_are_binary_safe() {
    let srv = Server::start();
    let mut c = srv.conn();
    let user = b"u\x00s\xffer\r\n";
    let long: Vec<u8> = (0..=255u8).collect();
    assert_eq!(long.len(), 256);
    let names: [&[u8]; 4] = [b"\x00", b"a\x00b\r\n$5\r\n", &long, b""];
    let mut tokens = Vec::new();
    for name in names {
        let r = c.cmd(&[&b"MTOKEN.CREATE"[..], user, b"NAME", name]).array();
        tokens.push(r[0].bytes());
        tick_ms(&mut c, 2);
    }
    let over: Vec<u8> = vec![b'x'; 257];
    let r = c.cmd(&[&b"MTOKEN.CREATE"[..], user, b"NAME", &over]);
    assert!(r.error().starts_with("ERR"), "257-byte name: {r:?}");

    let devices = list(&mut c, user);
    assert_eq!(devices.len(), 4);
    for ((d, name), token) in devices.iter().zip(names).zip(&tokens) {
        assert_eq!(d.id, token_id(token));
        // An empty NAME is a name: "" and not nil.
        assert_eq!(d.name.as_deref(), Some(name));
    }
    assert_eq!(list(&mut c, b"u"), vec![], "the user is not cut at NUL");
}

#[test]
fn list_is_a_flat_array_in_resp2_and_a_map_per_entry_in_resp3() {
    let srv = Server::start();
    let mut c = srv.conn();
    create(&mut c, b"alice", &["TTL", "600", "NAME", "laptop"]);
    tick_ms(&mut c, 2);
    create(&mut c, b"alice", &[]);
    let resp2 = list_as(&mut c, b"alice", Shape::Flat);
    assert_eq!(resp2.len(), 2);
    assert_eq!(resp2[1].name, None);

    let hello = c.q("HELLO 3");
    assert!(matches!(hello, Reply::Map(_)), "HELLO 3: {hello:?}");
    let resp3 = list_as(&mut c, b"alice", Shape::Map);
    assert_eq!(resp3, resp2, "same entries in both protocols");
    // A missing name is RESP3's null, not an empty string.
    let raw = c.q("MTOKEN.LIST alice").array();
    let Reply::Map(pairs) = &raw[1] else {
        panic!("not a map: {:?}", raw[1]);
    };
    assert_eq!(pairs[1], (Reply::Bulk(b"name".to_vec()), Reply::Nil));
    assert_eq!(c.q("MTOKEN.LIST nobody"), Reply::Array(vec![]));
}

#[test]
fn list_of_a_thousand_tokens_is_complete_and_sorted_by_creation() {
    let srv = Server::start();
    let mut c = srv.conn();
    let mut tokens = HashSet::new();
    for _batch in 0..4 {
        for i in 0..250 {
            let name = format!("device {i}");
            c.send(&["MTOKEN.CREATE", "alice", "NAME", &name])
                .expect("send");
        }
        for _ in 0..250 {
            let r = c.read_reply().expect("reply").array();
            tokens.insert(r[0].bytes());
        }
    }
    assert_eq!(tokens.len(), 1000);
    let devices = list(&mut c, b"alice");
    assert_eq!(devices.len(), 1000);
    let listed: HashSet<String> = ids(&devices).into_iter().collect();
    let made: HashSet<String> = tokens.iter().map(|t| token_id(t)).collect();
    assert_eq!(listed, made, "every token listed once");
    let order: Vec<(i64, &str)> = devices.iter().map(|d| (d.created, d.id.as_str())).collect();
    assert!(
        order.windows(2).all(|w| w[0] <= w[1]),
        "not sorted by created"
    );
}

// ---- expired tokens --------------------------------------------------------

#[test]
fn expired_tokens_are_never_listed_even_before_redis_deletes_them() {
    // Active expiry off: the expired entry stays in memory until touched,
    // so LIST must not rely on Redis having removed it.
    let srv = Server::with(&[], &["--enable-debug-command", "yes"]);
    let mut c = srv.conn();
    assert_eq!(c.q("DEBUG SET-ACTIVE-EXPIRE 0").text(), "OK");
    let (short, _) = create(&mut c, b"alice", &["TTL", "1", "NAME", "short"]);
    tick_ms(&mut c, 2);
    let (long, _) = create(&mut c, b"alice", &["TTL", "600"]);
    tick_ms(&mut c, 2);
    let (forever, _) = create(&mut c, b"alice", &[]);
    assert_eq!(list(&mut c, b"alice").len(), 3);

    let gone = wait_until(Duration::from_secs(5), || {
        let now = server_ms(&mut c) as i64;
        let devices = list(&mut c, b"alice");
        for d in &devices {
            assert!(
                d.expires == -1 || d.expires >= now,
                "listed after its expiry ({now}): {d:?}"
            );
        }
        devices.len() == 2
    });
    assert!(gone, "the TTL 1 token stayed listed");
    assert_eq!(
        ids(&list(&mut c, b"alice")),
        [token_id(&long), token_id(&forever)]
    );
    assert_eq!(verify(&mut c, &short), None);
    assert_eq!(list(&mut c, b"alice").len(), 2);
}

// ---- REVOKE ----------------------------------------------------------------

#[test]
fn revoke_by_listed_id_returns_1_and_the_token_stops_verifying() {
    let srv = Server::start();
    let mut c = srv.conn();
    let (laptop, _) = create(&mut c, b"alice", &["NAME", "laptop"]);
    let (phone, _) = create(&mut c, b"alice", &["TTL", "600", "NAME", "phone"]);
    let listed = list(&mut c, b"alice");
    let phone_id = listed
        .iter()
        .find(|d| d.name.as_deref() == Some(b"phone"))
        .expect("phone listed")
        .id
        .clone();

    assert_eq!(revoke(&mut c, b"alice", phone_id.as_bytes()), 1);
    assert_eq!(verify(&mut c, &phone), None);
    assert_eq!(verify_ro(&mut c, &phone), None);
    assert_eq!(entry_key(&mut c, &phone), None, "entry deleted");
    assert_eq!(ids(&list(&mut c, b"alice")), [token_id(&laptop)]);
    assert_eq!(verify(&mut c, &laptop), Some(b"alice".to_vec()));
    assert_eq!(info_counter(&mut c, "tokens_revoked"), 1);
    assert_eq!(revoke(&mut c, b"alice", phone_id.as_bytes()), 0, "again");

    // Revoking the last device leaves no key behind.
    assert_eq!(revoke(&mut c, b"alice", token_id(&laptop).as_bytes()), 1);
    assert_eq!(dbsize(&mut c), 0);
}

#[test]
fn revoke_of_an_unknown_or_malformed_id_returns_0_and_changes_nothing() {
    let srv = Server::start();
    let mut c = srv.conn();
    let (token, _) = create(&mut c, b"alice", &["TTL", "600"]);
    let (other, _) = create(&mut c, b"alice", &[]);
    assert_eq!(c.cmd(&[&b"MTOKEN.EXPIRE"[..], &other]), Reply::Int(1));
    let before = dataset(&mut c);
    let dirty = writes(&mut c);

    let id = token_id(&token);
    let unknown = token_id(b"never issued");
    let mut bad: Vec<Vec<u8>> = vec![
        unknown.into_bytes(),
        token_id(&other).into_bytes(), // expired already
        b"".to_vec(),
        b"xyz".to_vec(),
        id.as_bytes()[..id.len() - 1].to_vec(),
        format!("{id}0").into_bytes(),
        "g".repeat(id.len()).into_bytes(),
        format!("{}\x00", &id[..id.len() - 1]).into_bytes(),
        token.clone(),        // the token is not its id
        token_digest(&token), // nor are its raw digest bytes
    ];
    bad.push(vec![0xff; id.len()]);
    for b in &bad {
        assert_eq!(revoke(&mut c, b"alice", b), 0, "id {b:?}");
    }
    assert_eq!(revoke(&mut c, b"nobody", id.as_bytes()), 0);
    assert_eq!(dataset(&mut c), before);
    assert_eq!(writes(&mut c), dirty, "nothing written");
    assert_eq!(verify(&mut c, &token), Some(b"alice".to_vec()));
}

#[test]
fn revoke_with_another_users_id_returns_0_and_removes_nothing() {
    let srv = Server::start();
    let mut c = srv.conn();
    let (alices, _) = create(&mut c, b"alice", &["NAME", "a"]);
    let (bobs, _) = create(&mut c, b"bob", &["NAME", "b"]);
    let before = dataset(&mut c);
    assert_eq!(revoke(&mut c, b"alice", token_id(&bobs).as_bytes()), 0);
    assert_eq!(revoke(&mut c, b"bob", token_id(&alices).as_bytes()), 0);
    assert_eq!(dataset(&mut c), before);
    assert_eq!(verify(&mut c, &alices), Some(b"alice".to_vec()));
    assert_eq!(verify(&mut c, &bobs), Some(b"bob".to_vec()));
    assert_eq!(ids(&list(&mut c, b"alice")), [token_id(&alices)]);
    assert_eq!(ids(&list(&mut c, b"bob")), [token_id(&bobs)]);
}

// ---- EXPIREALL .. EXCEPT ---------------------------------------------------

#[test]
fn expireall_except_own_token_removes_all_others_and_keeps_it() {
    let srv = Server::start();
    let mut c = srv.conn();
    let tokens: Vec<_> = (0..5)
        .map(|i| {
            let ttl = if i % 2 == 0 { "600" } else { "0" };
            create(&mut c, b"alice", &["TTL", ttl]).0
        })
        .collect();
    let keep = &tokens[2];
    assert_eq!(expire_all_except(&mut c, b"alice", keep), 4);
    assert_eq!(verify(&mut c, keep), Some(b"alice".to_vec()));
    for t in tokens.iter().filter(|t| *t != keep) {
        assert_eq!(verify(&mut c, t), None);
    }
    assert_eq!(ids(&list(&mut c, b"alice")), [token_id(keep)]);
    assert_eq!(dbsize(&mut c), 2, "one entry and its index");
    assert_eq!(expire_all_except(&mut c, b"alice", keep), 0, "only it left");
    assert_eq!(verify(&mut c, keep), Some(b"alice".to_vec()));
}

#[test]
fn expireall_except_a_foreign_token_removes_all_and_leaves_the_foreign_one() {
    let srv = Server::start();
    let mut c = srv.conn();
    let alices: Vec<_> = (0..3).map(|_| create(&mut c, b"alice", &[]).0).collect();
    let (bobs, _) = create(&mut c, b"bob", &["TTL", "600", "NAME", "b"]);
    let bob_list = list(&mut c, b"bob");
    assert_eq!(expire_all_except(&mut c, b"alice", &bobs), 3);
    for t in &alices {
        assert_eq!(verify(&mut c, t), None);
    }
    assert_eq!(list(&mut c, b"alice"), vec![]);
    assert_eq!(index_key(&mut c, b"alice"), None);
    assert_eq!(verify(&mut c, &bobs), Some(b"bob".to_vec()));
    assert_eq!(list(&mut c, b"bob"), bob_list);
}

#[test]
fn expireall_except_a_malformed_token_removes_all() {
    let srv = Server::start();
    let mut c = srv.conn();
    let tokens: Vec<_> = (0..3).map(|_| create(&mut c, b"alice", &[]).0).collect();
    // A real token with one secret char changed fails its checksum.
    let mut bent = tokens[0].clone();
    bent[10] = if bent[10] == b'a' { b'b' } else { b'a' };
    assert_eq!(expire_all_except(&mut c, b"alice", &bent), 3);
    for t in &tokens {
        assert_eq!(verify(&mut c, t), None);
    }
    assert_eq!(dbsize(&mut c), 0);
    create(&mut c, b"alice", &[]);
    assert_eq!(expire_all_except(&mut c, b"alice", b"garbage"), 1);
    assert_eq!(dbsize(&mut c), 0);
}

// ---- last used and refresh-interval ----------------------------------------

#[test]
fn verifies_within_the_refresh_interval_write_nothing() {
    let srv = Server::start(); // refresh-interval 60
    let mut c = srv.conn();
    let (token, _) = create(&mut c, b"alice", &["TTL", "600"]);
    tick_ms(&mut c, 2);
    let listed = list(&mut c, b"alice");
    let before = dataset(&mut c);
    let dirty = writes(&mut c);
    for _ in 0..50 {
        assert_eq!(verify(&mut c, &token), Some(b"alice".to_vec()));
    }
    assert_eq!(writes(&mut c), dirty, "a VERIFY that is not due wrote");
    assert_eq!(dataset(&mut c), before);
    assert_eq!(list(&mut c, b"alice"), listed, "last_used unchanged");
    assert_eq!(info_counter(&mut c, "verify_hits"), 50);
}

#[test]
fn a_due_verify_writes_once_and_the_next_ones_within_the_interval_do_not() {
    let srv = Server::start();
    let mut c = srv.conn();
    config_set(&mut c, "mtoken.refresh-interval", "1");
    let (token, _) = create(&mut c, b"alice", &["TTL", "600"]);
    let created = list(&mut c, b"alice")[0].created;
    tick_ms(&mut c, 1000); // now due

    let dirty = writes(&mut c);
    let t0 = server_ms(&mut c) as i64;
    assert_eq!(verify(&mut c, &token), Some(b"alice".to_vec()));
    let after_first = writes(&mut c);
    assert!(after_first > dirty, "the due VERIFY wrote nothing");
    let d = list(&mut c, b"alice")[0].clone();
    assert!(d.last_used >= t0 && d.last_used >= created + 1000, "{d:?}");
    assert_eq!(d.expires, d.last_used + 600_000, "slid by its TTL");

    let before = dataset(&mut c);
    for _ in 0..20 {
        assert_eq!(verify(&mut c, &token), Some(b"alice".to_vec()));
    }
    // The burst runs well within a second of the write: none is due.
    assert!((server_ms(&mut c) as i64) < d.last_used + 1000, "too slow");
    assert_eq!(writes(&mut c), after_first, "second write within interval");
    assert_eq!(dataset(&mut c), before);
    assert_eq!(list(&mut c, b"alice")[0], d);
}

#[test]
fn with_refresh_interval_0_each_verify_moves_last_used_forward() {
    let srv = Server::start();
    let mut c = srv.conn();
    config_set(&mut c, "mtoken.refresh-interval", "0");
    let (token, _) = create(&mut c, b"alice", &["TTL", "600"]);
    let mut last = list(&mut c, b"alice")[0].clone();
    for _ in 0..3 {
        tick_ms(&mut c, 2);
        let dirty = writes(&mut c);
        assert_eq!(verify(&mut c, &token), Some(b"alice".to_vec()));
        assert!(writes(&mut c) > dirty, "VERIFY wrote nothing");
        let now = list(&mut c, b"alice")[0].clone();
        assert!(now.last_used > last.last_used, "{now:?} after {last:?}");
        assert_eq!(now.created, last.created);
        assert_eq!(now.expires, now.last_used + 600_000);
        last = now;
    }
}

#[test]
fn verify_ro_never_changes_last_used() {
    let srv = Server::start();
    let mut c = srv.conn();
    config_set(&mut c, "mtoken.refresh-interval", "0");
    let (token, _) = create(&mut c, b"alice", &["TTL", "600"]);
    let listed = list(&mut c, b"alice");
    let before = dataset(&mut c);
    let dirty = writes(&mut c);
    for _ in 0..3 {
        tick_ms(&mut c, 2);
        assert_eq!(verify_ro(&mut c, &token), Some(b"alice".to_vec()));
    }
    assert_eq!(list(&mut c, b"alice"), listed);
    assert_eq!(dataset(&mut c), before);
    assert_eq!(writes(&mut c), dirty);
}

// ---- max-lifetime ----------------------------------------------------------

#[test]
fn sliding_refresh_never_passes_max_lifetime_and_verify_fails_after_it() {
    let srv = Server::start();
    let mut c = srv.conn();
    config_set(&mut c, "mtoken.max-lifetime", "2");
    config_set(&mut c, "mtoken.refresh-interval", "0");
    let (token, _) = create(&mut c, b"alice", &["TTL", "60"]);
    let d = list(&mut c, b"alice")[0].clone();
    let deadline = d.created + 2000;
    assert_eq!(d.expires, deadline, "capped from created + 60 s");

    let mut refused = false;
    let ended = wait_until(Duration::from_secs(6), || {
        let t0 = server_ms(&mut c) as i64;
        let v = verify(&mut c, &token);
        let t1 = server_ms(&mut c) as i64;
        if t1 < deadline {
            assert_eq!(v, Some(b"alice".to_vec()), "refused before deadline");
        }
        if t0 >= deadline {
            assert_eq!(v, None, "accepted after the deadline");
        }
        if let Some(entry) = entry_key(&mut c, &token) {
            let at = pexpiretime(&mut c, &entry);
            assert!(at <= deadline, "slid past the deadline: {at} > {deadline}");
        }
        if v.is_some() {
            let listed = list(&mut c, b"alice");
            assert!(listed.iter().all(|d| d.expires <= deadline), "{listed:?}");
        }
        refused = v.is_none();
        refused && t0 >= deadline
    });
    assert!(ended && refused, "the token outlived max-lifetime");
    assert_eq!(list(&mut c, b"alice"), vec![]);
}

#[test]
fn a_token_past_max_lifetime_is_unlisted_then_removed_and_counted_by_verify() {
    let srv = Server::start(); // refresh-interval 60: no VERIFY is due
    let mut c = srv.conn();
    // Created before the cap, its key lives for 600 s.
    let (token, _) = create(&mut c, b"alice", &["TTL", "600"]);
    let (kept, _) = create(&mut c, b"bob", &["TTL", "600"]);
    let created = list(&mut c, b"alice")[0].created;
    let bob_created = list(&mut c, b"bob")[0].created;
    config_set(&mut c, "mtoken.max-lifetime", "1");

    let unlisted = wait_until(Duration::from_secs(5), || list(&mut c, b"alice").is_empty());
    assert!(unlisted, "listed past max-lifetime");
    assert!(
        server_ms(&mut c) as i64 >= created + 1000,
        "unlisted too early"
    );
    assert!(entry_key(&mut c, &token).is_some(), "LIST deleted nothing");

    assert_eq!(verify(&mut c, &token), None);
    assert_eq!(info_counter(&mut c, "tokens_past_max_lifetime"), 1);
    assert_eq!(entry_key(&mut c, &token), None, "VERIFY removed the entry");
    assert_eq!(index_key(&mut c, b"alice"), None, "and its index");
    // VERIFY_RO also refuses it once bob's is past the cap as well.
    assert!(wait_until(Duration::from_secs(5), || {
        server_ms(&mut c) as i64 >= bob_created + 1000
    }));
    assert_eq!(verify_ro(&mut c, &kept), None);
    assert!(
        entry_key(&mut c, &kept).is_some(),
        "VERIFY_RO wrote nothing"
    );
    assert_eq!(info_counter(&mut c, "tokens_past_max_lifetime"), 1);
}

// ---- max-tokens-per-user ---------------------------------------------------

#[test]
fn max_tokens_per_user_3_keeps_the_3_newest_of_5() {
    let srv = Server::start();
    let mut c = srv.conn();
    config_set(&mut c, "mtoken.max-tokens-per-user", "3");
    let mut tokens = Vec::new();
    for i in 0..5 {
        let name = format!("dev{i}");
        tokens.push(create(&mut c, b"alice", &["NAME", &name]).0);
        assert!(list(&mut c, b"alice").len() <= 3);
        tick_ms(&mut c, 2);
    }
    for t in &tokens[..2] {
        assert_eq!(verify(&mut c, t), None, "an old token survived");
    }
    for t in &tokens[2..] {
        assert_eq!(verify(&mut c, t), Some(b"alice".to_vec()));
    }
    let listed = list(&mut c, b"alice");
    let want: Vec<String> = tokens[2..].iter().map(|t| token_id(t)).collect();
    assert_eq!(ids(&listed), want);
    assert_eq!(info_counter(&mut c, "tokens_evicted"), 2);
    assert_eq!(zcard(&mut c, b"alice"), 3);
    assert_eq!(dbsize(&mut c), 4, "three entries and the index");
}

#[test]
fn max_tokens_per_user_holds_under_concurrent_creates() {
    const THREADS: usize = 20;
    const EACH: usize = 10;
    const LIMIT: usize = 5;
    let srv = Server::start();
    let mut c = srv.conn();
    config_set(&mut c, "mtoken.max-tokens-per-user", &LIMIT.to_string());

    // Each CREATE runs in a MULTI with a LIST, so every thread sees the
    // state right after its own create: at most LIMIT live, its own among
    // them, and its token's creation time.
    let made: Vec<(Vec<u8>, i64)> = in_parallel(&srv, THREADS, |_, c| {
        let mut made = Vec::new();
        for _ in 0..EACH {
            assert_eq!(c.q("MULTI").text(), "OK");
            assert_eq!(c.q("MTOKEN.CREATE alice").text(), "QUEUED");
            assert_eq!(c.q("MTOKEN.LIST alice").text(), "QUEUED");
            let exec = c.q("EXEC").array();
            let token = exec[0].array()[0].bytes();
            let id = token_id(&token);
            let flat = exec[1].array();
            assert!(flat.len() <= LIMIT, "{} live", flat.len());
            let mine = flat
                .iter()
                .map(|e| {
                    let pairs: Vec<_> = e
                        .array()
                        .chunks(2)
                        .map(|p| (p[0].clone(), p[1].clone()))
                        .collect();
                    Device::from_pairs(&pairs)
                })
                .find(|d| d.id == id)
                .expect("the new token is listed");
            made.push((token, mine.created));
        }
        made
    })
    .into_iter()
    .flatten()
    .collect();
    assert_eq!(made.len(), THREADS * EACH);

    let listed = list(&mut c, b"alice");
    assert_eq!(listed.len(), LIMIT);
    assert_eq!(zcard(&mut c, b"alice"), LIMIT as i64);
    assert_eq!(dbsize(&mut c), LIMIT as i64 + 1, "entries and the index");
    let live: HashSet<String> = ids(&listed).into_iter().collect();
    let mut newest_evicted = 0;
    for (token, created) in &made {
        if live.contains(&token_id(token)) {
            assert_eq!(verify(&mut c, token), Some(b"alice".to_vec()));
        } else {
            assert_eq!(verify(&mut c, token), None, "evicted token verifies");
            newest_evicted = newest_evicted.max(*created);
        }
    }
    let oldest_live = listed.iter().map(|d| d.created).min().expect("5 live");
    assert!(
        oldest_live >= newest_evicted,
        "a newer token ({newest_evicted}) was evicted before {oldest_live}"
    );
    let evicted = (THREADS * EACH - LIMIT) as u64;
    assert_eq!(info_counter(&mut c, "tokens_evicted"), evicted);
}

// ---- replicas and restarts -------------------------------------------------

#[test]
fn replica_lists_exactly_what_the_master_lists() {
    let master = Server::with(
        &["refresh-interval", "0"],
        &["--repl-diskless-sync-delay", "0"],
    );
    let mut m = master.conn();
    // Some state before the replica attaches (full sync), some after
    // (the replication stream).
    let (laptop, _) = create(&mut m, b"alice", &["NAME", "laptop"]);
    tick_ms(&mut m, 2);
    let (phone, _) = create(&mut m, b"alice", &["TTL", "600", "NAME", "ph\x00ne"]);
    tick_ms(&mut m, 2);
    let port = master.port.to_string();
    let replica = Server::with(&[], &["--replicaof", "127.0.0.1", &port]);
    let mut r = replica.conn();
    let up = wait_until(Duration::from_secs(20), || {
        r.q("INFO replication")
            .text()
            .contains("master_link_status:up")
    });
    assert!(up, "replica never linked:\n{}", replica.log());

    let (tablet, _) = create(&mut m, b"alice", &["TTL", "3600", "NAME", "tablet"]);
    let (tv, _) = create(&mut m, b"alice", &["NAME", "tv"]);
    let bobs: Vec<_> = (0..3)
        .map(|_| create(&mut m, b"bob", &["TTL", "600"]).0)
        .collect();
    tick_ms(&mut m, 2);
    assert_eq!(verify(&mut m, &tablet), Some(b"alice".to_vec())); // last_used
    assert_eq!(revoke(&mut m, b"alice", token_id(&tv).as_bytes()), 1);
    assert_eq!(expire_all_except(&mut m, b"bob", &bobs[1]), 2);
    assert_eq!(m.q("WAIT 1 5000"), Reply::Int(1), "replica did not ack");

    for user in [&b"alice"[..], b"bob"] {
        let on_master = list(&mut m, user);
        assert_eq!(list(&mut r, user), on_master, "LIST differs on replica");
        assert!(!on_master.is_empty());
    }
    let alice = list(&mut r, b"alice");
    let want = [token_id(&laptop), token_id(&phone), token_id(&tablet)];
    assert_eq!(ids(&alice), want);
    assert_eq!(alice[1].name.as_deref(), Some(&b"ph\x00ne"[..]));
    assert!(alice[2].last_used > alice[2].created, "VERIFY's last use");
    assert_eq!(ids(&list(&mut r, b"bob")), [token_id(&bobs[1])]);
    assert_eq!(verify_ro(&mut r, &tv), None);
}

/// Tokens of every kind for `alice`, one used since, one revoked.
fn populate(c: &mut Conn) -> Vec<Device> {
    config_set(c, "mtoken.refresh-interval", "0");
    let mut made = Vec::new();
    for opts in [
        &["TTL", "3600", "NAME", "phone"][..],
        &["NAME", "lap\x00top"],
        &["TTL", "0"],
        &["TTL", "600"],
    ] {
        made.push(create(c, b"alice", opts).0);
        tick_ms(c, 2);
    }
    create(c, b"bob", &["TTL", "86400"]);
    assert_eq!(verify(c, &made[0]), Some(b"alice".to_vec()));
    assert_eq!(revoke(c, b"alice", token_id(&made[3]).as_bytes()), 1);
    let devices = list(c, b"alice");
    let want: Vec<String> = made[..3].iter().map(|t| token_id(t)).collect();
    assert_eq!(ids(&devices), want);
    assert!(
        devices[0].last_used > devices[0].created,
        "VERIFY's last use"
    );
    devices
}

#[test]
fn list_is_unchanged_after_an_aof_restart() {
    let mut srv = Server::with(&[], &["--appendonly", "yes"]);
    let mut c = srv.conn();
    let alice = populate(&mut c);
    let bob = list(&mut c, b"bob");
    srv.restart("NOSAVE"); // only the AOF can bring them back
    let mut c = srv.conn();
    assert_eq!(list(&mut c, b"alice"), alice);
    assert_eq!(list(&mut c, b"bob"), bob);
}

#[test]
fn list_is_unchanged_after_an_rdb_restart() {
    let mut srv = Server::with(&[], &["--appendonly", "no"]);
    let mut c = srv.conn();
    let alice = populate(&mut c);
    let bob = list(&mut c, b"bob");
    assert_eq!(c.q("SAVE").text(), "OK");
    srv.restart("NOSAVE"); // the dump.rdb of SAVE above is what loads
    let mut c = srv.conn();
    assert_eq!(list(&mut c, b"alice"), alice);
    assert_eq!(list(&mut c, b"bob"), bob);
}
