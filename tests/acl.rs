//! ACL (docs/DESIGN.md, "Pitfalls": module commands have no ACL category on 7.0, so
//! they are granted by name): an application user can hold exactly the
//! MTOKEN commands it needs and still be denied the keyspace.

mod common;
use common::*;

fn login(srv: &Server, user: &str) -> Conn {
    let mut c = srv.conn();
    assert_eq!(c.q(&format!("AUTH {user} pw")).text(), "OK");
    c
}

fn assert_noperm(reply: Reply, what: &str) {
    assert!(
        matches!(&reply, Reply::Error(e) if e.starts_with("NOPERM")),
        "{what}: {reply:?}"
    );
}

#[test]
fn app_user_uses_granted_mtoken_commands_but_cannot_read_keys() {
    let srv = Server::start();
    let mut admin = srv.conn();
    let grant = "ACL SETUSER app on >pw +mtoken.verify +mtoken.create \
                 +mtoken.expire +mtoken.expireall ~*";
    assert_eq!(admin.q(grant).text(), "OK");
    let mut app = login(&srv, "app");

    let (t1, first) = create(&mut app, b"alice", &["TTL", "600"]);
    assert_eq!(first, 1);
    let (t2, _) = create(&mut app, b"alice", &[]);
    let (t3, _) = create(&mut app, b"alice", &[]);
    assert_eq!(verify(&mut app, &t1), Some(b"alice".to_vec()));
    let except = app.cmd(&[&b"MTOKEN.EXPIREALL"[..], b"alice", b"EXCEPT", &t1]);
    assert_eq!(except, Reply::Int(2));
    assert_eq!(app.cmd(&[&b"MTOKEN.EXPIRE"[..], &t1]), Reply::Int(1));
    for t in [&t1, &t2, &t3] {
        assert_eq!(verify(&mut app, t), None);
    }

    let (live, _) = create(&mut app, b"bob", &[]);
    let key = all_keys(&mut admin)
        .into_iter()
        .find(|k| contains(k, b":u:bob"))
        .expect("bob's index");
    assert_noperm(app.cmd(&[&b"GET"[..], &key]), "GET");
    assert_noperm(app.cmd(&[&b"ZRANGE"[..], &key, b"0", b"-1"]), "ZRANGE");
    assert_noperm(app.q("HGETALL anything"), "HGETALL");
    assert_noperm(app.q("KEYS *"), "KEYS");
    assert_noperm(app.q("SCAN 0"), "SCAN");
    assert_noperm(app.q("DEL anything"), "DEL");
    // Granted by name: the commands not named stay denied.
    assert_noperm(app.q("MTOKEN.LIST bob"), "MTOKEN.LIST");
    assert_noperm(app.cmd(&[&b"MTOKEN.VERIFY_RO"[..], &live]), "VERIFY_RO");
    assert_eq!(verify(&mut app, &live), Some(b"bob".to_vec()));
}

#[test]
fn verify_ro_only_user_can_verify_but_not_create_or_revoke() {
    let srv = Server::start();
    let mut admin = srv.conn();
    let grant = "ACL SETUSER checker on >pw +mtoken.verify_ro ~*";
    assert_eq!(admin.q(grant).text(), "OK");
    let (token, _) = create(&mut admin, b"alice", &[]);
    let keys_before = dataset(&mut admin);
    let mut checker = login(&srv, "checker");

    let ro = checker.cmd(&[&b"MTOKEN.VERIFY_RO"[..], &token]);
    assert_eq!(ro, Reply::Bulk(b"alice".to_vec()));
    assert_noperm(checker.q("MTOKEN.CREATE alice"), "CREATE");
    assert_noperm(checker.cmd(&[&b"MTOKEN.VERIFY"[..], &token]), "VERIFY");
    assert_noperm(checker.cmd(&[&b"MTOKEN.EXPIRE"[..], &token]), "EXPIRE");
    assert_noperm(checker.q("MTOKEN.EXPIREALL alice"), "EXPIREALL");
    assert_noperm(checker.q("GET x"), "GET");
    assert_eq!(dataset(&mut admin), keys_before, "a denied command wrote");
    assert_eq!(verify(&mut admin, &token), Some(b"alice".to_vec()));
}
