//! `INFO mtoken` counters (docs/DESIGN.md, "Observability"). Counters only: no token,
//! digest or user id is ever printed.

use std::os::raw::c_int;
use std::sync::atomic::{AtomicU64, Ordering};

use redis_module::raw;

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

const FIELDS: [(&std::ffi::CStr, &Counter); 8] = [
    (c"tokens_created", &CREATED),
    (c"verify_hits", &VERIFY_HITS),
    (c"verify_misses", &VERIFY_MISSES),
    (c"verify_malformed", &VERIFY_MALFORMED),
    (c"refreshes", &REFRESHES),
    (c"tokens_revoked", &REVOKED),
    (c"tokens_evicted", &EVICTED),
    (c"tokens_past_max_lifetime", &LIFETIME_ENDED),
];

extern "C" fn info(ctx: *mut raw::RedisModuleInfoCtx, _for_crash_report: c_int) {
    unsafe {
        let (Some(section), Some(field), Some(text)) = (
            raw::RedisModule_InfoAddSection,
            raw::RedisModule_InfoAddFieldULongLong,
            raw::RedisModule_InfoAddFieldCString,
        ) else {
            return;
        };
        if section(ctx, c"stats".as_ptr()) != raw::REDISMODULE_OK as c_int {
            return;
        }
        text(ctx, c"version".as_ptr(), crate::VERSION.as_ptr().cast_mut());
        for (name, counter) in FIELDS {
            field(ctx, name.as_ptr(), counter.get());
        }
    }
}

/// Install the INFO callback (replaces the crate's empty default).
/// `ctx` is the module-load context.
#[allow(clippy::not_unsafe_ptr_arg_deref)]
pub fn register(ctx: *mut raw::RedisModuleCtx) {
    if let Some(f) = unsafe { raw::RedisModule_RegisterInfoFunc } {
        unsafe { f(ctx, Some(info)) };
    }
}
