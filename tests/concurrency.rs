//! Concurrency (the seed's lost updates): many clients logging one user in
//! and out at once lose no token, and the user's index and token entries
//! stay in step, so "log out everywhere" reaches every token.

mod common;
use common::*;

use std::collections::HashSet;
use std::sync::{Arc, Barrier};
use std::thread;

#[test]
fn concurrent_creates_for_one_user_lose_no_token() {
    const THREADS: usize = 20;
    const EACH: usize = 50;
    let srv = Server::start();
    let made: Vec<(Vec<u8>, i64)> = in_parallel(&srv, THREADS, |_, c| {
        (0..EACH)
            .map(|_| create(c, b"alice", &[]))
            .collect::<Vec<_>>()
    })
    .into_iter()
    .flatten()
    .collect();
    assert_eq!(made.len(), THREADS * EACH);
    let distinct: HashSet<&Vec<u8>> = made.iter().map(|(t, _)| t).collect();
    assert_eq!(
        distinct.len(),
        THREADS * EACH,
        "a token was handed out twice"
    );
    let firsts = made.iter().filter(|(_, first)| *first == 1).count();
    assert_eq!(firsts, 1, "exactly one login was the user's first");

    let mut c = srv.conn();
    for (t, _) in &made {
        assert_eq!(verify(&mut c, t), Some(b"alice".to_vec()));
    }
    let index = index_key(&mut c, b"alice").expect("index");
    assert_eq!(
        c.cmd(&[&b"ZCARD"[..], &index]),
        Reply::Int((THREADS * EACH) as i64)
    );
    assert_eq!(c.q("DBSIZE"), Reply::Int((THREADS * EACH + 1) as i64));
    assert_eq!(
        c.q("MTOKEN.EXPIREALL alice"),
        Reply::Int((THREADS * EACH) as i64)
    );
    assert_eq!(c.q("DBSIZE"), Reply::Int(0));
    for (t, _) in made.iter().step_by(97) {
        assert_eq!(verify(&mut c, t), None);
    }
}

#[test]
fn concurrent_logins_and_logouts_keep_index_and_entries_in_step() {
    const THREADS: usize = 10;
    const EACH: usize = 40;
    let srv = Server::start();
    let results = in_parallel(&srv, THREADS, |_, c| {
        let mut kept = Vec::new();
        let mut dropped = Vec::new();
        for i in 0..EACH {
            let (t, _) = create(c, b"alice", &["TTL", "600"]);
            assert_eq!(verify(c, &t), Some(b"alice".to_vec()));
            if i % 2 == 0 {
                let r = c.cmd(&[&b"MTOKEN.EXPIRE"[..], &t]);
                assert_eq!(r, Reply::Int(1));
                dropped.push(t);
            } else {
                kept.push(t);
            }
        }
        (kept, dropped)
    });
    let mut kept = Vec::new();
    let mut dropped = Vec::new();
    for (k, d) in results {
        kept.extend(k);
        dropped.extend(d);
    }
    let mut c = srv.conn();
    for t in &kept {
        assert_eq!(verify_ro(&mut c, t), Some(b"alice".to_vec()));
    }
    for t in &dropped {
        assert_eq!(verify_ro(&mut c, t), None);
    }
    // Every index member has its entry, and every entry is in the index.
    let index = index_key(&mut c, b"alice").expect("index");
    let members: HashSet<Vec<u8>> = c
        .cmd(&[&b"ZRANGE"[..], &index, b"0", b"-1"])
        .array()
        .iter()
        .map(|m| m.bytes())
        .collect();
    let want: HashSet<Vec<u8>> = kept.iter().map(|t| token_digest(t)).collect();
    assert_eq!(members, want);
    let entries = all_keys(&mut c)
        .into_iter()
        .filter(|k| contains(k, b"}:t:"))
        .count();
    assert_eq!(entries, kept.len());
    assert_eq!(c.q("MTOKEN.EXPIREALL alice"), Reply::Int(kept.len() as i64));
    assert_eq!(c.q("DBSIZE"), Reply::Int(0));
}

#[test]
fn logout_everywhere_during_logins_leaves_no_stray_token() {
    const LOGINS: usize = 300;
    let srv = Server::start();
    let mut creator = srv.conn();
    let mut killer = srv.conn();
    let barrier = Arc::new(Barrier::new(2));
    let b2 = Arc::clone(&barrier);
    let logins = thread::spawn(move || {
        b2.wait();
        (0..LOGINS)
            .map(|_| create(&mut creator, b"alice", &[]).0)
            .collect::<Vec<_>>()
    });
    barrier.wait();
    let mut removed = 0;
    for _ in 0..50 {
        removed += killer.q("MTOKEN.EXPIREALL alice").int();
    }
    let tokens = logins.join().expect("login thread");
    // Whatever the interleaving, one more logout reaches every survivor.
    removed += killer.q("MTOKEN.EXPIREALL alice").int();
    assert_eq!(removed, LOGINS as i64, "a token escaped logout everywhere");
    for t in tokens.iter().step_by(7) {
        assert_eq!(verify(&mut killer, t), None);
    }
    assert_eq!(killer.q("DBSIZE"), Reply::Int(0));
}
