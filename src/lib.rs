//! mtoken: many login tokens per user, hashed, kept atomically in Redis.
//! The design is docs/DESIGN.md; this file only registers the module.

pub mod cluster;
pub mod commands;
pub mod compat;
pub mod config;
pub mod effects;
pub mod error;
pub mod events;
pub mod expiry;
pub mod ffi;
pub mod keys;
pub mod record;
pub mod rules;
pub mod slot;
pub mod stats;
pub mod store;
pub mod token;
pub mod tokens;

use redis_module::{Context, RedisString, Status};

/// The crate version, as `INFO mtoken` shows it (`mtoken_version`).
pub const VERSION: &std::ffi::CStr = match std::ffi::CStr::from_bytes_with_nul(
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes(),
) {
    Ok(v) => v,
    Err(_) => c"unknown",
};

/// The crate version as `MODULE LIST` shows it: major * 10000 + minor * 100
/// + patch (0.1.0 is 100).
pub const VERSION_NUMBER: i32 = {
    let v = env!("CARGO_PKG_VERSION").as_bytes();
    let (mut parts, mut i, mut n) = ([0i32; 3], 0, 0);
    while i < v.len() && n < 3 {
        if v[i] == b'.' {
            n += 1;
        } else if v[i].is_ascii_digit() {
            parts[n] = parts[n] * 10 + (v[i] - b'0') as i32;
        } else {
            break; // a pre-release tag ends the number
        }
        i += 1;
    }
    parts[0] * 10000 + parts[1] * 100 + parts[2]
};

#[cfg_attr(test, allow(dead_code))]
fn init(ctx: &Context, args: &[RedisString]) -> Status {
    slot::init();
    compat::init(ctx);
    let loaded = config::register(ctx, args).and_then(|()| commands::register(ctx));
    stats::register(ctx);
    // Where the server cannot tell of an entry before expiring it (Redis
    // 7.0), TTL expiry publishes nothing (docs/DESIGN.md, "Events").
    events::register(ctx);
    match loaded {
        Ok(()) => Status::Ok,
        Err(e) => {
            // RedisModule_Log takes a printf format: never pass a bare '%'.
            ctx.log_warning(&format!("mtoken: {e}").replace('%', "%%"));
            Status::Err
        }
    }
}

#[cfg(not(test))]
redis_module::redis_module! {
    name: "mtoken",
    version: VERSION_NUMBER,
    allocator: (redis_module::alloc::RedisAlloc, redis_module::alloc::RedisAlloc),
    data_types: [],
    init: init,
    commands: [],
}
