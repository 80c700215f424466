//! Per-token scopes: CREATE … SCOPE, VERIFY/VERIFY_RO … SCOPE, LIST's
//! `scopes`, the limits and their errors.

mod common;
use common::*;

fn verify_scope(c: &mut Conn, cmd: &str, token: &[u8], scope: &str) -> Option<Vec<u8>> {
    match c.cmd(&[cmd.as_bytes(), token, b"SCOPE", scope.as_bytes()]) {
        Reply::Nil => None,
        Reply::Bulk(u) => Some(u),
        other => panic!("{cmd} reply: {other:?}"),
    }
}

#[test]
fn a_scoped_token_verifies_only_for_its_scopes() {
    let srv = Server::start();
    let mut c = srv.conn();
    let (api, _) = create(
        &mut c,
        b"alice",
        &["NAME", "ci", "SCOPE", "orders:read", "scope", "profile"],
    );
    let (full, _) = create(&mut c, b"alice", &["NAME", "laptop"]);
    let alice = Some(b"alice".to_vec());
    for cmd in ["MTOKEN.VERIFY", "MTOKEN.VERIFY_RO"] {
        assert_eq!(verify_scope(&mut c, cmd, &api, "orders:read"), alice);
        assert_eq!(verify_scope(&mut c, cmd, &api, "profile"), alice);
        assert_eq!(verify_scope(&mut c, cmd, &api, "orders:write"), None);
        // A token created without scopes holds every scope.
        assert_eq!(verify_scope(&mut c, cmd, &full, "orders:write"), alice);
    }
    // Without SCOPE, a scoped token verifies as any token does.
    assert_eq!(verify(&mut c, &api), alice);
    assert_eq!(info_counter(&mut c, "verify_scope_denied"), 2);
    assert_eq!(info_counter(&mut c, "verify_misses"), 0);
}

#[test]
fn list_shows_each_devices_scopes() {
    let srv = Server::start();
    let mut c = srv.conn();
    create(&mut c, b"bob", &["SCOPE", "a", "SCOPE", "b", "SCOPE", "a"]);
    create(&mut c, b"bob", &[]);
    let list = c.q("MTOKEN.LIST bob").array();
    let scopes: Vec<Reply> = list
        .iter()
        .map(|e| {
            let flat = e.array();
            assert_eq!(flat[10].text(), "scopes");
            flat[11].clone()
        })
        .collect();
    // (Created in the same millisecond, the two may list in either order.)
    assert_eq!(scopes.len(), 2);
    assert!(scopes.contains(&Reply::Array(vec![
        Reply::Bulk(b"a".to_vec()),
        Reply::Bulk(b"b".to_vec())
    ])));
    assert!(scopes.contains(&Reply::Nil));
}

#[test]
fn bad_scopes_are_clear_errors_that_change_nothing() {
    let srv = Server::start();
    let mut c = srv.conn();
    let (tok, _) = create(&mut c, b"carol", &["SCOPE", "x"]);
    let before = dataset(&mut c);
    let many: Vec<String> = (0..17).map(|i| format!("s{i}")).collect();
    let mut args: Vec<&str> = vec!["MTOKEN.CREATE", "carol"];
    for s in &many {
        args.extend(["SCOPE", s.as_str()]);
    }
    let long = "a".repeat(65);
    for (args, want) in [
        (
            vec!["MTOKEN.CREATE", "carol", "SCOPE"],
            "ERR SCOPE needs a name",
        ),
        (
            vec!["MTOKEN.CREATE", "carol", "SCOPE", "has space"],
            "ERR a scope is 1 to 64 characters of A-Z a-z 0-9 _ . : / -",
        ),
        (
            vec!["MTOKEN.CREATE", "carol", "SCOPE", &long],
            "ERR a scope is 1 to 64 characters of A-Z a-z 0-9 _ . : / -",
        ),
        (args.clone(), "ERR a token has at most 16 scopes"),
    ] {
        assert_eq!(c.cmd(&args).error(), want, "{args:?}");
    }
    let tok = String::from_utf8(tok).expect("ascii");
    for cmd in ["MTOKEN.VERIFY", "MTOKEN.VERIFY_RO"] {
        assert_eq!(
            c.cmd(&[cmd, tok.as_str(), "SCOPE"]).error(),
            "ERR SCOPE needs a name"
        );
        assert_eq!(
            c.cmd(&[cmd, tok.as_str(), "SCOPES", "x"]).error(),
            format!("ERR unknown option: {cmd} takes SCOPE name")
        );
        assert!(c.cmd(&[cmd, tok.as_str(), "SCOPE", "a\u{e9}"]).is_error());
    }
    assert_eq!(dataset(&mut c), before);
}

/// The scope arguments may follow a token: VERIFY's whole call is
/// redacted from SLOWLOG, as before.
#[test]
fn verify_with_a_scope_is_redacted_from_slowlog() {
    let srv = Server::start();
    let mut c = srv.conn();
    config_set(&mut c, "slowlog-log-slower-than", "0");
    let (tok, _) = create(&mut c, b"dave", &["SCOPE", "read"]);
    verify_scope(&mut c, "MTOKEN.VERIFY", &tok, "read");
    verify_scope(&mut c, "MTOKEN.VERIFY_RO", &tok, "write");
    let mut all = Vec::new();
    flatten(&c.q("SLOWLOG GET 100"), &mut all);
    assert_no_leak("SLOWLOG", &all, &[&tok]);
}
