//! Memory: creating, refreshing and revoking 100k tokens leaves nothing
//! behind — no key (DBSIZE 0) and no memory (`used_memory` back to where it
//! was, so neither the keyspace nor the module's own allocations leak).

mod common;
use common::*;

use std::time::{Duration, Instant};

const USERS: usize = 1_000;
const PER_ROUND: usize = 20_000;
const CHUNK: usize = 2_000;

fn used_memory(c: &mut Conn) -> i64 {
    let info = c.q("INFO memory").text();
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("used_memory in INFO memory")
}

fn stat(c: &mut Conn, field: &str) -> i64 {
    let info = c.q("INFO mtoken").text();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in INFO mtoken"))
}

/// Send `cmds` pipelined, `CHUNK` at a time; return the replies.
fn pipeline(c: &mut Conn, cmds: &[Vec<Vec<u8>>]) -> Vec<Reply> {
    let mut replies = Vec::with_capacity(cmds.len());
    for chunk in cmds.chunks(CHUNK) {
        for cmd in chunk {
            c.send(cmd).expect("send");
        }
        for _ in chunk {
            replies.push(c.read_reply().expect("reply"));
        }
    }
    replies
}

fn args(parts: &[&[u8]]) -> Vec<Vec<u8>> {
    parts.iter().map(|p| p.to_vec()).collect()
}

#[derive(Clone, Copy)]
enum Revoke {
    EachUser,
    EachToken,
}

/// One round on a fresh connection (closed at the end, so its buffers do
/// not count): 20k tokens across 1k users, each verified (and refreshed),
/// then all revoked.
fn round(srv: &Server, n: usize, revoke: Revoke) {
    let mut c = srv.conn();
    let creates: Vec<_> = (0..PER_ROUND)
        .map(|i| {
            let user = format!("user:{}", i % USERS);
            match i % 3 {
                0 => args(&[b"MTOKEN.CREATE", user.as_bytes()]),
                1 => args(&[b"MTOKEN.CREATE", user.as_bytes(), b"TTL", b"3600"]),
                _ => {
                    let name = format!("device {n}/{i}");
                    args(&[b"MTOKEN.CREATE", user.as_bytes(), b"NAME", name.as_bytes()])
                }
            }
        })
        .collect();
    let tokens: Vec<Vec<u8>> = pipeline(&mut c, &creates)
        .iter()
        .map(|r| r.array()[0].bytes())
        .collect();
    assert_eq!(c.q("DBSIZE").int(), (PER_ROUND + USERS) as i64);

    let verifies: Vec<_> = tokens
        .iter()
        .map(|t| args(&[b"MTOKEN.VERIFY", t]))
        .collect();
    for r in pipeline(&mut c, &verifies) {
        assert!(matches!(r, Reply::Bulk(_)), "VERIFY: {r:?}");
    }

    let revoked_before = stat(&mut c, "mtoken_tokens_revoked");
    match revoke {
        Revoke::EachUser => {
            let cmds: Vec<_> = (0..USERS)
                .map(|u| args(&[b"MTOKEN.EXPIREALL", format!("user:{u}").as_bytes()]))
                .collect();
            let per_user = (PER_ROUND / USERS) as i64;
            for r in pipeline(&mut c, &cmds) {
                assert_eq!(r, Reply::Int(per_user));
            }
        }
        Revoke::EachToken => {
            let cmds: Vec<_> = tokens
                .iter()
                .map(|t| args(&[b"MTOKEN.EXPIRE", t]))
                .collect();
            for r in pipeline(&mut c, &cmds) {
                assert_eq!(r, Reply::Int(1));
            }
        }
    }
    let revoked = stat(&mut c, "mtoken_tokens_revoked") - revoked_before;
    assert_eq!(revoked, PER_ROUND as i64);
    assert_eq!(c.q("DBSIZE").int(), 0, "keys left after round {n}");
}

/// `used_memory` once it has stopped moving (the server shrinks its
/// emptied hash tables in its cron): unchanged for 300 ms.
fn settled_memory(c: &mut Conn) -> i64 {
    let mut last = used_memory(c);
    let mut since = Instant::now();
    let settled = wait_until(Duration::from_secs(20), || {
        let now = used_memory(c);
        if now != last {
            (last, since) = (now, Instant::now());
        }
        since.elapsed() >= Duration::from_millis(300)
    });
    assert!(settled, "used_memory never settled");
    last
}

#[test]
fn creating_and_revoking_100k_tokens_returns_memory_and_keys() {
    let srv = Server::with(
        &["refresh-interval", "0"],
        &["--hz", "100", "--slowlog-log-slower-than", "-1"],
    );
    let mut meter = srv.conn();
    // Warm-up: Redis keeps some buffers at their high-water mark (command
    // propagation, client tables); let both revoke paths reach theirs.
    round(&srv, 0, Revoke::EachUser);
    round(&srv, 1, Revoke::EachToken);
    let start = settled_memory(&mut meter);

    for n in 2..7 {
        let revoke = if n % 2 == 0 {
            Revoke::EachUser
        } else {
            Revoke::EachToken
        };
        round(&srv, n, revoke);
    }
    assert_eq!(meter.q("DBSIZE").int(), 0);
    assert_eq!(
        stat(&mut meter, "mtoken_tokens_created"),
        7 * PER_ROUND as i64
    );
    let mut end = used_memory(&mut meter);
    let back = wait_until(Duration::from_secs(20), || {
        end = used_memory(&mut meter);
        (end - start).abs() * 100 <= start
    });
    assert!(back, "used_memory {end} vs {start} at the start");
}
