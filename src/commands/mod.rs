//! Command registration and the call boundary: arguments in, one reply out.
//!
//! Handlers get the arguments as borrowed byte slices (no copies, no
//! UTF-8 assumptions) and return `Result<()>`: they write their reply only
//! on success, after every check, so an error reply means nothing changed.

use std::os::raw::{c_char, c_int};

use redis_module::raw;

use crate::error::{Error, Result};
use crate::ffi::{self, Ctx};

pub mod args;
mod create;
mod devices;
mod expire;
mod verify;

type Handler = fn(&Ctx, &[&[u8]]) -> Result<()>;

/// Run a handler on raw arguments and turn its error into a reply.
fn run(
    ctx: *mut raw::RedisModuleCtx,
    argv: *mut *mut raw::RedisModuleString,
    argc: c_int,
    handler: Handler,
) -> c_int {
    let ctx = Ctx::new(ctx);
    let argv: &[*mut raw::RedisModuleString] = if argv.is_null() || argc <= 0 {
        &[]
    } else {
        unsafe { std::slice::from_raw_parts(argv, argc as usize) }
    };
    const INLINE: usize = 8;
    let mut inline: [&[u8]; INLINE] = [&[]; INLINE];
    let spilled: Vec<&[u8]>;
    let args: &[&[u8]] = if argv.len() <= INLINE {
        for (slot, a) in inline.iter_mut().zip(argv) {
            *slot = ffi::arg(*a);
        }
        &inline[..argv.len()]
    } else {
        spilled = argv.iter().map(|a| ffi::arg(*a)).collect();
        &spilled
    };
    match handler(&ctx, args) {
        Ok(()) => {}
        Err(Error::Arity) => ctx.wrong_arity(),
        Err(e) => ctx.reply_error(e.message()),
    }
    raw::REDISMODULE_OK as c_int
}

macro_rules! entry_point {
    ($name:ident, $handler:path) => {
        extern "C" fn $name(
            ctx: *mut raw::RedisModuleCtx,
            argv: *mut *mut raw::RedisModuleString,
            argc: c_int,
        ) -> c_int {
            run(ctx, argv, argc, $handler)
        }
    };
}

entry_point!(create_cmd, create::create);
entry_point!(verify_cmd, verify::verify);
entry_point!(verify_ro_cmd, verify::verify_ro);
entry_point!(expire_cmd, expire::expire);
entry_point!(expireall_cmd, expire::expire_all);
entry_point!(list_cmd, devices::list);
entry_point!(revoke_cmd, devices::revoke);

type EntryPoint =
    extern "C" fn(*mut raw::RedisModuleCtx, *mut *mut raw::RedisModuleString, c_int) -> c_int;

/// Name, entry point, flags. Every command's key is argument 1 (first 1,
/// last 1, step 1), so cluster routing and CROSSSLOT checks work.
const COMMANDS: [(&std::ffi::CStr, EntryPoint, &std::ffi::CStr); 7] = [
    (c"mtoken.create", create_cmd, c"write deny-oom"),
    (c"mtoken.verify", verify_cmd, c"write fast"),
    (c"mtoken.verify_ro", verify_ro_cmd, c"readonly fast"),
    (c"mtoken.expire", expire_cmd, c"write fast"),
    (c"mtoken.expireall", expireall_cmd, c"write"),
    (c"mtoken.list", list_cmd, c"readonly"),
    (c"mtoken.revoke", revoke_cmd, c"write fast"),
];

/// `ctx` is the module-load context Redis passed to `RedisModule_OnLoad`.
#[allow(clippy::not_unsafe_ptr_arg_deref)]
pub fn register(ctx: *mut raw::RedisModuleCtx) -> std::result::Result<(), String> {
    let Some(create) = (unsafe { raw::RedisModule_CreateCommand }) else {
        return Err("RedisModule_CreateCommand is missing".into());
    };
    for (name, entry, flags) in COMMANDS {
        let ok = unsafe {
            create(
                ctx,
                name.as_ptr(),
                Some(entry),
                flags.as_ptr().cast::<c_char>(),
                1,
                1,
                1,
            )
        };
        if ok != raw::REDISMODULE_OK as c_int {
            return Err(format!("could not register {}", name.to_string_lossy()));
        }
    }
    Ok(())
}
