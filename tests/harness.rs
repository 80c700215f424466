//! The harness itself: what it promises every other test file (see
//! tests/common/mod.rs) — unique scratch dirs, bounded waits on external
//! tools, and a dead server failing its test with its log.

mod common;
use common::*;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

#[test]
fn scratch_dirs_are_unique_across_threads() {
    let dirs: Vec<_> = (0..4)
        .map(|_| std::thread::spawn(|| (0..100).map(|_| scratch_dir("uniq")).collect::<Vec<_>>()))
        .flat_map(|t| t.join().expect("thread"))
        .collect();
    let distinct: BTreeSet<_> = dirs.iter().collect();
    assert_eq!(distinct.len(), 400);
    for d in &dirs {
        assert!(d.is_dir(), "{} was not created", d.display());
        std::fs::remove_dir(d).expect("empty scratch dir");
    }
}

#[test]
fn a_tool_past_its_deadline_is_killed_and_fails_with_its_output() {
    let started = Instant::now();
    let tool = Tool::spawn("sh", &["-c", "echo started; exec sleep 30"]);
    let failure = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        tool.wait(Duration::from_millis(300))
    }))
    .expect_err("the wait must fail");
    let msg = failure
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "waited {:?}",
        started.elapsed()
    );
    assert!(
        msg.contains("still running after") && msg.contains("started"),
        "{msg}"
    );
}

#[test]
fn a_tool_is_abandoned_as_soon_as_its_abort_check_fires() {
    let tool = Tool::spawn("sleep", &["30"]);
    let started = Instant::now();
    let failure = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        tool.wait_or(Duration::from_secs(60), || Some("a node died".into()))
    }))
    .expect_err("the wait must fail");
    let msg = failure
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(msg.contains("a node died"), "{msg}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn a_server_that_dies_fails_its_test_with_its_log() {
    let failure = std::panic::catch_unwind(|| {
        let mut srv = Server::start();
        let _ = srv.conn().try_cmd(&["SHUTDOWN", "NOSAVE"]);
        assert!(wait_until(Duration::from_secs(10), || !srv.alive()));
        // Dropping `srv` here must fail the test.
    })
    .expect_err("a dead server must fail the test");
    let msg = failure
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(msg.contains("died during the test"), "{msg}");
    // The tail of the server's own log (its shutdown lines) is in the message.
    assert!(msg.to_lowercase().contains("shutdown"), "{msg}");
}
