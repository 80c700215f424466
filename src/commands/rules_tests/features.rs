//! Scopes, rotation and events on the in-memory store.

use super::*;

#[test]
fn a_scoped_token_answers_only_for_its_scopes() {
    let mut t = tokens(policy());
    let scoped = create_scoped(&mut t, b"u", &[b"orders:read", b"profile"]);
    let full = create(&mut t, b"u");
    assert_eq!(verify(&mut t, &scoped, true), user(b"u", false));
    for (tok, scope, want) in [
        (&scoped, &b"orders:read"[..], true),
        (&scoped, b"orders:write", false),
        (&full, b"orders:write", true),
    ] {
        let got = verify_scope(&mut t, tok, false, Some(scope));
        let expected = if want {
            user(b"u", false)
        } else {
            Verified::Denied
        };
        assert_eq!(got, expected, "{:?}", String::from_utf8_lossy(scope));
    }
    // A denied VERIFY writes nothing, even when the token is due.
    at(&mut t, NOW + 120 * SEC);
    let before = t.store.clone_state();
    assert_eq!(
        verify_scope(&mut t, &scoped, true, Some(b"admin")),
        Verified::Denied
    );
    assert_eq!(t.store.clone_state(), before);
    let devices = run_list(&mut t, b"u").expect("list");
    let scopes: Vec<_> = devices.iter().map(|d| d.scopes.clone()).collect();
    assert!(scopes.contains(&Some(vec![b"orders:read".to_vec(), b"profile".to_vec()])));
    assert!(scopes.contains(&None));
}

#[test]
fn tokens_without_scopes_or_rotation_are_stored_as_before() {
    let mut t = tokens(policy());
    let tok = create(&mut t, b"user:12345");
    let name = keys::token_entry(&t.store.ns, token::slot_of(&tok), &token::digest(&tok));
    let Some(Key {
        value: Value::Str(v),
        ..
    }) = t.store.keys.get(&name[..])
    else {
        panic!("no entry");
    };
    // Flags byte: version 1, follows the default TTL; 17-byte header + user.
    assert_eq!(v[0], 0x12);
    assert_eq!(v.len(), 17 + 10);
}

#[test]
fn rotation_keeps_the_device_and_the_old_token_answers_only_within_grace() {
    let p = Policy {
        max_lifetime: 3000,
        ..policy()
    };
    let mut t = tokens(p);
    let old = create_scoped(&mut t, b"u", &[b"read"]);
    let id = token::id_of(&token::digest(&old));
    at(&mut t, NOW + 100 * SEC);
    let new = new_token(rotate(&mut t, &old, 30));
    assert_ne!(new, old);
    assert_eq!(token::slot_of(&new), key_slot(b"u"));
    let effects = names(&t.store.effects);
    assert!(
        effects.ends_with(&["SET", "ZADD", "SET", "ZREM"].map(String::from))
            || effects.contains(&"ZREM".to_string()),
        "{effects:?}"
    );
    // One device: same id, name, scopes, created; fresh TTL capped by max-lifetime.
    let devices = run_list(&mut t, b"u").expect("list");
    assert_eq!(devices.len(), 1);
    let d = &devices[0];
    assert_eq!(token::id_of(&d.id), id);
    assert_eq!(d.name.as_deref(), Some(&b"phone"[..]));
    assert_eq!(d.scopes, Some(vec![b"read".to_vec()]));
    assert_eq!(d.created, NOW);
    assert_eq!(
        d.expires,
        Some(NOW + 100 * SEC + 3600 * SEC).min(Some(NOW + 3000 * SEC))
    );
    // Within grace the old token answers (with its scopes), and writes nothing.
    at(&mut t, NOW + 129 * SEC);
    let before = t.store.clone_state();
    assert_eq!(verify(&mut t, &old, true), user(b"u", false));
    assert_eq!(
        verify_scope(&mut t, &old, true, Some(b"write")),
        Verified::Denied
    );
    assert_eq!(t.store.clone_state(), before);
    assert_eq!(rotate(&mut t, &old, 30), Rotated::Replaced);
    assert_eq!(verify(&mut t, &new, false), user(b"u", false));
    // REVOKE by the device's first id still works after rotation.
    assert_eq!(run_revoke(&mut t, b"u", &id), Ok(1));
    assert_eq!(verify(&mut t, &new, false), Verified::Unknown);
    // The old token no longer answers once its device is gone.
    assert_eq!(verify(&mut t, &old, false), Verified::Unknown);
}

#[test]
fn presenting_a_replaced_token_after_grace_logs_the_device_out() {
    let mut t = tokens(policy());
    t.ended = Some(Vec::new());
    let a = create(&mut t, b"u");
    let other = create(&mut t, b"u");
    let b = new_token(rotate(&mut t, &a, 5));
    let c = new_token(rotate(&mut t, &b, 5));
    at(&mut t, NOW + 5 * SEC);
    // The thief's copy of `a`: reuse; the family (now `c`) goes, `other` stays.
    assert_eq!(verify(&mut t, &a, true), Verified::Reused);
    assert_eq!(verify(&mut t, &c, false), Verified::Unknown);
    assert_eq!(verify(&mut t, &other, false), user(b"u", false));
    assert_eq!(verify(&mut t, &a, true), Verified::Unknown);
    let ended = t.ended.take().expect("events on");
    assert_eq!(
        ended,
        [Ended {
            user: b"u".to_vec(),
            id: token::digest(&a),
            reason: Reason::Reuse,
        }]
    );
    // VERIFY_RO sees reuse but writes nothing; ROTATE with it logs out too.
    let d = create(&mut t, b"u");
    let e = new_token(rotate(&mut t, &d, 0));
    let before = t.store.clone_state();
    assert_eq!(verify(&mut t, &d, false), Verified::Reused);
    assert_eq!(t.store.clone_state(), before);
    assert_eq!(rotate(&mut t, &d, 0), Rotated::Reused);
    assert_eq!(verify(&mut t, &e, false), Verified::Unknown);
}

#[test]
fn the_marker_leaves_the_index_and_expires_no_later_than_the_old_token() {
    let mut t = tokens(policy());
    let a = create_with(&mut t, b"u", Ttl::Explicit(600), 0).token;
    let b = new_token(rotate(&mut t, &a, 30));
    assert_eq!(entry_expiry(&t, &a), Some(NOW + 600 * SEC));
    let index = keys::user_index(&t.store.ns, b"u");
    let Some(Key {
        value: Value::Zset(members),
        ..
    }) = t.store.keys.get(&index)
    else {
        panic!("no index");
    };
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].0, token::digest(&b).to_vec());
    // CREATE's `first` and EXPIREALL's count ignore the marker.
    assert_eq!(run_expire_all(&mut t, b"u", None), Ok(1));
    assert!(create_with(&mut t, b"u", Ttl::Default, 0).first);
    // After EXPIREALL the old token answers nothing, even within grace.
    assert_eq!(verify(&mut t, &a, false), Verified::Unknown);
}

#[test]
fn events_name_the_device_and_the_reason_of_each_removal() {
    let p = Policy {
        max_lifetime: 100,
        ..policy()
    };
    let mut t = tokens(p);
    t.ended = Some(Vec::new());
    let a = create(&mut t, b"u");
    let b = create(&mut t, b"u");
    at(&mut t, NOW + 10 * SEC);
    let c = create(&mut t, b"u");
    let ended = |t: &mut Tokens<MemStore>| -> Vec<(Digest, Reason)> {
        t.ended
            .replace(Vec::new())
            .unwrap_or_default()
            .into_iter()
            .map(|e| (e.id, e.reason))
            .collect()
    };
    assert!(ended(&mut t).is_empty());
    assert_eq!(run_expire(&mut t, checked(&a)), Ok(1));
    assert_eq!(ended(&mut t), [(token::digest(&a), Reason::Logout)]);
    // Limit 1: `b` and `c` evicted for the new one.
    create_with(&mut t, b"u", Ttl::Default, 1);
    let mut got = ended(&mut t);
    got.sort();
    let mut want = vec![
        (token::digest(&b), Reason::Evicted),
        (token::digest(&c), Reason::Evicted),
    ];
    want.sort();
    assert_eq!(got, want);
    let d = create(&mut t, b"u");
    // max-lifetime lowered after creation: the entry outlives its deadline.
    t.policy.max_lifetime = 50;
    at(&mut t, NOW + 100 * SEC);
    assert_eq!(verify(&mut t, &d, true), Verified::Ended { removed: true });
    assert_eq!(ended(&mut t), [(token::digest(&d), Reason::MaxLifetime)]);
    let e = create(&mut t, b"u");
    // CREATE removed the token left from the limit, past its deadline now.
    assert_eq!(ended(&mut t).len(), 1);
    let id = token::id_of(&token::digest(&e));
    assert_eq!(run_revoke(&mut t, b"u", &id), Ok(1));
    assert_eq!(ended(&mut t), [(token::digest(&e), Reason::Revoke)]);
    let f = create(&mut t, b"u");
    let g = create(&mut t, b"u");
    assert_eq!(run_expire_all(&mut t, b"u", Some(token::digest(&g))), Ok(1));
    assert_eq!(ended(&mut t), [(token::digest(&f), Reason::ExpireAll)]);
    // Events off: nothing is collected.
    t.ended = None;
    assert_eq!(run_expire(&mut t, checked(&g)), Ok(1));
    assert!(t.ended.is_none());
}

#[test]
fn expireall_except_a_replaced_token_in_its_grace_keeps_its_device() {
    let mut t = tokens(policy());
    let old = create(&mut t, b"u");
    let other = create(&mut t, b"u");
    let new = new_token(rotate(&mut t, &old, 30));
    // A request in flight still carries the old token: "log out the
    // others" keeps the device asking, under its current token.
    assert_eq!(
        run_expire_all(&mut t, b"u", Some(token::digest(&old))),
        Ok(1)
    );
    assert_eq!(verify(&mut t, &new, false), user(b"u", false));
    assert_eq!(verify(&mut t, &other, false), Verified::Unknown);
    // Past the grace the old token is no way to keep anything.
    at(&mut t, NOW + 31 * SEC);
    assert_eq!(
        run_expire_all(&mut t, b"u", Some(token::digest(&old))),
        Ok(1)
    );
    assert_eq!(verify(&mut t, &new, false), Verified::Unknown);
}
