//! `INFO mtoken` counters (README.md, "Observability"). Counters only: no token,
//! digest or user id is ever printed.

use std::sync::atomic::{AtomicU64, Ordering};

use redis_module::Context;

use crate::ffi::info::{self, Field};

pub struct Counter(AtomicU64);

impl Counter {
    const fn new() -> Self {
        Counter(AtomicU64::new(0))
    }
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    pub fn incr(&self) {
        self.add(1);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

pub static CREATED: Counter = Counter::new();
pub static VERIFY_HITS: Counter = Counter::new();
pub static VERIFY_MISSES: Counter = Counter::new();
pub static VERIFY_MALFORMED: Counter = Counter::new();
pub static REFRESHES: Counter = Counter::new();
pub static REVOKED: Counter = Counter::new();
pub static EVICTED: Counter = Counter::new();
pub static LIFETIME_ENDED: Counter = Counter::new();
pub static SCOPE_DENIED: Counter = Counter::new();
pub static ROTATED: Counter = Counter::new();
pub static REUSE: Counter = Counter::new();
pub static EVENTS: Counter = Counter::new();

static FIELDS: [Field; 12] = [
    (c"tokens_created", &CREATED),
    (c"verify_hits", &VERIFY_HITS),
    (c"verify_misses", &VERIFY_MISSES),
    (c"verify_malformed", &VERIFY_MALFORMED),
    (c"refreshes", &REFRESHES),
    (c"tokens_revoked", &REVOKED),
    (c"tokens_evicted", &EVICTED),
    (c"tokens_past_max_lifetime", &LIFETIME_ENDED),
    (c"verify_scope_denied", &SCOPE_DENIED),
    (c"tokens_rotated", &ROTATED),
    (c"rotation_reuse", &REUSE),
    (c"events_published", &EVENTS),
];

/// Show the counters as `INFO mtoken_stats` (with `mtoken_version`).
pub fn register(ctx: &Context) {
    info::register(ctx, c"stats", crate::VERSION, &FIELDS);
}
