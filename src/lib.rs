//! mtoken: many login tokens per user, hashed, kept atomically in Redis.
//! The contract is SPEC.md; this file only registers the module.

pub mod cluster;
pub mod commands;
pub mod compat;
pub mod config;
pub mod error;
pub mod expiry;
pub mod ffi;
pub mod keys;
pub mod record;
pub mod slot;
pub mod stats;
pub mod store;
pub mod token;

use redis_module::{Context, RedisString, Status};

#[cfg_attr(test, allow(dead_code))]
fn init(ctx: &Context, args: &[RedisString]) -> Status {
    slot::init();
    compat::init(ctx);
    let loaded = config::register(ctx, args).and_then(|()| commands::register(ctx.ctx));
    stats::register(ctx.ctx);
    match loaded {
        Ok(()) => Status::Ok,
        Err(msg) => {
            // RedisModule_Log takes a printf format: never pass a bare '%'.
            ctx.log_warning(&format!("mtoken: {msg}").replace('%', "%%"));
            Status::Err
        }
    }
}

#[cfg(not(test))]
redis_module::redis_module! {
    name: "mtoken",
    version: 1,
    allocator: (redis_module::alloc::RedisAlloc, redis_module::alloc::RedisAlloc),
    data_types: [],
    init: init,
    commands: [],
}
