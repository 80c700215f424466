//! Registering a command with everything a server can be told about it:
//! flags, exact arity, key specs, `COMMAND DOCS` text and ACL categories.
//!
//! Redis 7.0 has `RedisModule_SetCommandInfo` (arity, key specs, docs);
//! ACL categories need 7.2 (`SetCommandACLCategories`) and a category of
//! our own 7.4 / Valkey 8 (`AddACLCategory`). Each is used only when the
//! server has it (docs/DESIGN.md, "Servers").

use std::ffi::CStr;
use std::os::raw::{c_char, c_int};
use std::ptr;

use redis_module::raw;

/// A command's entry point as Redis calls it.
pub type EntryPoint =
    extern "C" fn(*mut raw::RedisModuleCtx, *mut *mut raw::RedisModuleString, c_int) -> c_int;

/// The type of a documented argument (`COMMAND DOCS` "type").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgType {
    /// The argument that routes the command (key spec 0).
    Key,
    String,
    Integer,
}

/// One documented argument: `name`, or `TOKEN name` when `token` is set.
#[derive(Debug)]
pub struct ArgDoc {
    pub name: &'static CStr,
    pub kind: ArgType,
    pub token: Option<&'static CStr>,
    pub optional: bool,
}

/// One command, as the server is told about it.
#[derive(Debug)]
pub struct CommandDef {
    pub name: &'static CStr,
    pub entry: EntryPoint,
    /// `RedisModule_CreateCommand` flags, e.g. `write deny-oom`.
    pub flags: &'static CStr,
    /// ACL categories on servers that take them (`@mtoken` is added apart).
    pub categories: &'static str,
    /// Redis arity: N exact, -N at least N (the command name counts).
    pub arity: i32,
    /// Flags of the key spec of argument 1 (`REDISMODULE_CMD_KEY_*`).
    pub key_flags: u32,
    pub summary: &'static CStr,
    pub complexity: &'static CStr,
    pub since: &'static CStr,
    pub args: &'static [ArgDoc],
}

fn cstr_or_null(s: Option<&'static CStr>) -> *const c_char {
    s.map_or(ptr::null(), CStr::as_ptr)
}

/// Add an ACL category of the module's own; false where the server has no
/// such API (before Redis 7.4 / Valkey 8).
#[allow(clippy::not_unsafe_ptr_arg_deref)]
pub fn add_acl_category(ctx: *mut raw::RedisModuleCtx, name: &CStr) -> bool {
    // SAFETY: the entry point is filled in by the server at load, and
    // `ctx` is the load context the server passed to OnLoad.
    match unsafe { raw::RedisModule_AddACLCategory } {
        Some(f) => (unsafe { f(ctx, name.as_ptr()) }) == raw::REDISMODULE_OK as c_int,
        None => false,
    }
}

/// Whether the server lets a module put its commands in ACL categories.
pub fn has_acl_categories() -> bool {
    // SAFETY: reading a function pointer the server filled in at load.
    unsafe { raw::RedisModule_SetCommandACLCategories }.is_some()
}

/// Create the command, then describe it. `categories` is the final
/// category list for this server (may be empty).
#[allow(clippy::not_unsafe_ptr_arg_deref)]
pub fn register(
    ctx: *mut raw::RedisModuleCtx,
    def: &CommandDef,
    categories: &str,
) -> Result<(), String> {
    let name = def.name.to_string_lossy();
    // SAFETY: API entry points are filled in at load; every pointer passed
    // is a NUL-terminated string or struct that outlives the call (the
    // server copies what it keeps).
    unsafe {
        let create =
            raw::RedisModule_CreateCommand.ok_or("RedisModule_CreateCommand is missing")?;
        if create(
            ctx,
            def.name.as_ptr(),
            Some(def.entry),
            def.flags.as_ptr(),
            1,
            1,
            1,
        ) != raw::REDISMODULE_OK as c_int
        {
            return Err(format!("could not register {name}"));
        }
        let command = match raw::RedisModule_GetCommand {
            Some(get) => get(ctx, def.name.as_ptr()),
            None => ptr::null_mut(),
        };
        if command.is_null() {
            return Err(format!("could not look up {name} after registering it"));
        }
        set_info(command, def).map_err(|()| format!("could not describe {name}"))?;
        if !categories.is_empty() {
            if let Some(set) = raw::RedisModule_SetCommandACLCategories {
                let c = std::ffi::CString::new(categories)
                    .map_err(|_| format!("bad ACL categories for {name}"))?;
                if set(command, c.as_ptr()) != raw::REDISMODULE_OK as c_int {
                    return Err(format!("could not set the ACL categories of {name}"));
                }
            }
        }
    }
    Ok(())
}

/// `RedisModule_SetCommandInfo`: arity, one key spec for argument 1, docs.
unsafe fn set_info(command: *mut raw::RedisModuleCommand, def: &CommandDef) -> Result<(), ()> {
    let Some(set) = raw::RedisModule_SetCommandInfo else {
        return Ok(()); // nothing to describe with: the legacy key range stands
    };
    // Version 1 of the structs, with this build's sizes: a server reads
    // each array with the stride given here.
    let version = raw::RedisModuleCommandInfoVersion {
        version: 1,
        sizeof_historyentry: std::mem::size_of::<raw::RedisModuleCommandHistoryEntry>(),
        sizeof_keyspec: std::mem::size_of::<raw::RedisModuleCommandKeySpec>(),
        sizeof_arg: std::mem::size_of::<raw::RedisModuleCommandArg>(),
    };
    // SAFETY: all-zero is the documented terminator of both arrays and a
    // valid value of these plain C structs.
    let mut specs: [raw::RedisModuleCommandKeySpec; 2] = std::mem::zeroed();
    specs[0].flags = def.key_flags as u64;
    specs[0].begin_search_type = raw::RedisModuleKeySpecBeginSearchType_REDISMODULE_KSPEC_BS_INDEX;
    specs[0].bs.index.pos = 1;
    specs[0].find_keys_type = raw::RedisModuleKeySpecFindKeysType_REDISMODULE_KSPEC_FK_RANGE;
    specs[0].fk.range.lastkey = 0;
    specs[0].fk.range.keystep = 1;
    specs[0].fk.range.limit = 0;

    let mut args: Vec<raw::RedisModuleCommandArg> = Vec::with_capacity(def.args.len() + 1);
    for a in def.args {
        let mut arg: raw::RedisModuleCommandArg = std::mem::zeroed();
        arg.name = a.name.as_ptr();
        arg.type_ = match a.kind {
            ArgType::Key => raw::RedisModuleCommandArgType_REDISMODULE_ARG_TYPE_KEY,
            ArgType::String => raw::RedisModuleCommandArgType_REDISMODULE_ARG_TYPE_STRING,
            ArgType::Integer => raw::RedisModuleCommandArgType_REDISMODULE_ARG_TYPE_INTEGER,
        };
        arg.key_spec_index = if a.kind == ArgType::Key { 0 } else { -1 };
        arg.token = cstr_or_null(a.token);
        arg.flags = if a.optional {
            raw::REDISMODULE_CMD_ARG_OPTIONAL as c_int
        } else {
            raw::REDISMODULE_CMD_ARG_NONE as c_int
        };
        args.push(arg);
    }
    args.push(std::mem::zeroed());

    let mut info: raw::RedisModuleCommandInfo = std::mem::zeroed();
    info.version = &version;
    info.summary = def.summary.as_ptr();
    info.complexity = def.complexity.as_ptr();
    info.since = def.since.as_ptr();
    info.arity = def.arity as c_int;
    info.key_specs = specs.as_mut_ptr();
    info.args = args.as_mut_ptr();
    if set(command, &info) == raw::REDISMODULE_OK as c_int {
        Ok(())
    } else {
        Err(())
    }
}
