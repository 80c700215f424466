//! The module's `INFO` section: a version line and a fixed table of
//! counters, written by a callback the server calls with no data of ours,
//! so the table is kept here from registration on.

use std::ffi::CStr;
use std::os::raw::c_int;
use std::sync::OnceLock;

use redis_module::{raw, Context};

use super::api;
use crate::stats::Counter;

/// A counter's field name (the server prefixes the module's name) and value.
pub type Field = (&'static CStr, &'static Counter);

struct Section {
    name: &'static CStr,
    version: &'static CStr,
    fields: &'static [Field],
}

static SECTION: OnceLock<Section> = OnceLock::new();

/// Show `INFO <module>_<name>` with a `version` field and `fields`
/// (replaces the crate's empty default). Once per load: a second call
/// keeps the first table.
pub fn register(
    ctx: &Context,
    name: &'static CStr,
    version: &'static CStr,
    fields: &'static [Field],
) {
    let _ = SECTION.set(Section {
        name,
        version,
        fields,
    });
    let Some(register) = api!(RedisModule_RegisterInfoFunc) else {
        return;
    };
    // SAFETY: `ctx` is the load context the server passed to OnLoad, live
    // for the call; `info` has the signature of an info callback.
    unsafe { register(ctx.ctx, Some(info)) };
}

extern "C" fn info(ctx: *mut raw::RedisModuleInfoCtx, _for_crash_report: c_int) {
    let (Some(s), Some(section), Some(field), Some(text)) = (
        SECTION.get(),
        api!(RedisModule_InfoAddSection),
        api!(RedisModule_InfoAddFieldULongLong),
        api!(RedisModule_InfoAddFieldCString),
    ) else {
        return;
    };
    // SAFETY: `ctx` is the info context the server passes to this callback,
    // live until it returns; every name and value is a NUL-terminated
    // string with a static lifetime, which the server copies.
    unsafe {
        if section(ctx, s.name.as_ptr()) != raw::REDISMODULE_OK as c_int {
            return;
        }
        text(ctx, c"version".as_ptr(), s.version.as_ptr());
        for (name, counter) in s.fields {
            field(ctx, name.as_ptr(), counter.get());
        }
    }
}
