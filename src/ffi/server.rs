//! What the module asks of the server beyond keys and replies: `INFO`
//! fields, module options, and `CLUSTER NODES`.

use std::ffi::CStr;
use std::os::raw::c_int;

use redis_module::{Context, RedisValue};

use super::{api, Ctx};

/// Fields of one `INFO` section, each `None` where the server does not
/// have it (or cannot be asked).
pub fn info_fields(ctx: &Context, section: &CStr, fields: &[&CStr]) -> Vec<Option<String>> {
    let none = || fields.iter().map(|_| None).collect();
    let (Some(get), Some(field), Some(free)) = (
        api!(RedisModule_GetServerInfo),
        api!(RedisModule_ServerInfoGetFieldC),
        api!(RedisModule_FreeServerInfo),
    ) else {
        return none();
    };
    // SAFETY: `ctx` is a live context of the calling thread, `section` a
    // NUL-terminated string; the result is freed below, once.
    let data = unsafe { get(ctx.ctx, section.as_ptr()) };
    if data.is_null() {
        return none();
    }
    let values = fields
        .iter()
        .map(|name| {
            // SAFETY: `data` is live until freed below; a non-null result
            // is a NUL-terminated string owned by `data`, copied at once.
            unsafe {
                let value = field(data, name.as_ptr());
                (!value.is_null()).then(|| CStr::from_ptr(value).to_string_lossy().into_owned())
            }
        })
        .collect();
    // SAFETY: `data` came from `get` with this context and is not used after.
    unsafe { free(ctx.ctx, data) };
    values
}

/// `RedisModule_GetModuleOptionsAll()`: every module option this server
/// knows (Redis 7.2+, Valkey), `None` where it cannot say.
pub fn module_options_all() -> Option<c_int> {
    let all = api!(RedisModule_GetModuleOptionsAll)?;
    // SAFETY: takes nothing and only reads a server constant.
    Some(unsafe { all() })
}

/// Set the module's options; false where the server has no such call.
pub fn set_module_options(ctx: &Context, options: c_int) -> bool {
    let Some(set) = api!(RedisModule_SetModuleOptions) else {
        return false;
    };
    // SAFETY: `ctx` is the load context (options belong to the module it
    // is loading), live for the call.
    unsafe { set(ctx.ctx, options) };
    true
}

/// The text of `CLUSTER NODES`, as run from the current command; `None`
/// when the call fails.
pub fn cluster_nodes(ctx: &Ctx) -> Option<String> {
    // The crate's `Context` has the `call` machinery; it borrows the
    // command's context for this call and frees nothing of it on drop.
    let rctx = Context::new(ctx.raw());
    match rctx.call("CLUSTER", &["NODES"]) {
        Ok(RedisValue::SimpleString(s)) => Some(s),
        Ok(RedisValue::BulkString(s)) => Some(s),
        Ok(RedisValue::StringBuffer(b)) => Some(String::from_utf8_lossy(&b).into_owned()),
        Ok(RedisValue::VerbatimString((_, b))) => Some(String::from_utf8_lossy(&b).into_owned()),
        _ => None,
    }
}
