//! Registering a command with everything a server can be told about it:
//! flags, exact arity, key specs, `COMMAND DOCS` text and ACL categories.
//!
//! Redis 7.0 has `RedisModule_SetCommandInfo` (arity, key specs, docs);
//! ACL categories need 7.2 (`SetCommandACLCategories`) and a category of
//! our own 7.4 / Valkey 8 (`AddACLCategory`). Each is used only when the
//! server has it (docs/DESIGN.md, "Servers").

use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int};
use std::ptr::{self, NonNull};

use redis_module::{raw, Context};

use super::api;
use crate::error::Error;

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
    /// May be given more than once (`[SCOPE name [SCOPE name ...]]`).
    pub multiple: bool,
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
pub fn add_acl_category(ctx: &Context, name: &CStr) -> bool {
    let Some(add) = api!(RedisModule_AddACLCategory) else {
        return false;
    };
    // SAFETY: `ctx` is the load context the server passed to OnLoad, live
    // for the call; `name` is NUL-terminated and copied by the server.
    (unsafe { add(ctx.ctx, name.as_ptr()) }) == raw::REDISMODULE_OK as c_int
}

/// Whether the server lets a module put its commands in ACL categories.
pub fn has_acl_categories() -> bool {
    api!(RedisModule_SetCommandACLCategories).is_some()
}

/// Create the command, then describe it. `categories` is the final
/// category list for this server (may be empty). `ctx` is the load context.
pub fn register(ctx: &Context, def: &CommandDef, categories: &str) -> Result<(), Error> {
    let create = api!(RedisModule_CreateCommand).ok_or(Error::ApiMissing {
        name: "RedisModule_CreateCommand",
    })?;
    // SAFETY: `ctx` is the load context, live for the call; name and flags
    // are NUL-terminated and copied by the server; `def.entry` is an
    // `extern "C"` function of the signature the server calls, for the
    // life of the module.
    let created = unsafe {
        create(
            ctx.ctx,
            def.name.as_ptr(),
            Some(def.entry),
            def.flags.as_ptr(),
            1,
            1,
            1,
        )
    };
    if created != raw::REDISMODULE_OK as c_int {
        return Err(Error::CommandNotRegistered { command: def.name });
    }
    let command =
        Command::find(ctx, def.name).ok_or(Error::CommandNotFound { command: def.name })?;
    if !command.set_info(def) {
        return Err(Error::CommandNotDescribed { command: def.name });
    }
    if !categories.is_empty() && !command.set_categories(categories) {
        return Err(Error::AclCategoriesRefused {
            command: def.name,
            categories: categories.to_string(),
        });
    }
    Ok(())
}

/// A command of this module the server knows; only made by `find`.
struct Command(NonNull<raw::RedisModuleCommand>);

impl Command {
    /// The command called `name`, created by this module with `ctx`.
    fn find(ctx: &Context, name: &CStr) -> Option<Command> {
        let get = api!(RedisModule_GetCommand)?;
        // SAFETY: `ctx` is the load context, `name` NUL-terminated; the
        // result is null or a command that lives as long as the module.
        NonNull::new(unsafe { get(ctx.ctx, name.as_ptr()) }).map(Command)
    }

    /// `RedisModule_SetCommandACLCategories`, where the server has it
    /// (else the command keeps the categories its flags imply): false when
    /// refused.
    fn set_categories(&self, categories: &str) -> bool {
        let Some(set) = api!(RedisModule_SetCommandACLCategories) else {
            return true;
        };
        let Ok(c) = CString::new(categories) else {
            return false;
        };
        // SAFETY: `self.0` is a live command (see `find`); `c` is
        // NUL-terminated and outlives the call, which copies what it keeps.
        (unsafe { set(self.0.as_ptr(), c.as_ptr()) }) == raw::REDISMODULE_OK as c_int
    }

    /// `RedisModule_SetCommandInfo`: arity, one key spec for argument 1,
    /// docs; false when refused. Where the server lacks it, the legacy key
    /// range given at creation stands.
    fn set_info(&self, def: &CommandDef) -> bool {
        let Some(set) = api!(RedisModule_SetCommandInfo) else {
            return true;
        };
        // Version 1 of the structs, with this build's sizes: a server reads
        // each array with the stride given here.
        let version = raw::RedisModuleCommandInfoVersion {
            version: 1,
            sizeof_historyentry: std::mem::size_of::<raw::RedisModuleCommandHistoryEntry>(),
            sizeof_keyspec: std::mem::size_of::<raw::RedisModuleCommandKeySpec>(),
            sizeof_arg: std::mem::size_of::<raw::RedisModuleCommandArg>(),
        };
        // The second spec, all zero, ends the array.
        let mut specs: [raw::RedisModuleCommandKeySpec; 2] = [zeroed(), zeroed()];
        specs[0].flags = def.key_flags as u64;
        specs[0].begin_search_type =
            raw::RedisModuleKeySpecBeginSearchType_REDISMODULE_KSPEC_BS_INDEX;
        specs[0].bs.index.pos = 1;
        specs[0].find_keys_type = raw::RedisModuleKeySpecFindKeysType_REDISMODULE_KSPEC_FK_RANGE;
        specs[0].fk.range.lastkey = 0;
        specs[0].fk.range.keystep = 1;
        specs[0].fk.range.limit = 0;

        let mut args: Vec<raw::RedisModuleCommandArg> = Vec::with_capacity(def.args.len() + 1);
        for a in def.args {
            let mut arg: raw::RedisModuleCommandArg = zeroed();
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
            if a.multiple {
                arg.flags |= raw::REDISMODULE_CMD_ARG_MULTIPLE_TOKEN as c_int;
            }
            args.push(arg);
        }
        args.push(zeroed()); // ends the array

        let mut info: raw::RedisModuleCommandInfo = zeroed();
        info.version = &version;
        info.summary = def.summary.as_ptr();
        info.complexity = def.complexity.as_ptr();
        info.since = def.since.as_ptr();
        info.arity = def.arity as c_int;
        info.key_specs = specs.as_mut_ptr();
        info.args = args.as_mut_ptr();
        // SAFETY: `self.0` is a live command (see `find`); `info` and every
        // array and string it points to outlive the call, the arrays end
        // with an all-zero element and have the strides `version` states,
        // and the server copies what it keeps.
        (unsafe { set(self.0.as_ptr(), &info) }) == raw::REDISMODULE_OK as c_int
    }
}

/// The C structs of `RedisModule_SetCommandInfo`, valid all-zero: null
/// pointers, zero numbers and enum values, no flags (the server's
/// "unset").
///
/// # Safety
/// Implement only for structs whose every field (through unions and
/// arrays) is an integer, a raw pointer or an `Option` of a function
/// pointer.
unsafe trait Zeroable {}

// SAFETY: bindgen structs of integers (enums are `u32` aliases) and raw
// pointers, and for key specs unions of such structs.
unsafe impl Zeroable for raw::RedisModuleCommandKeySpec {}
// SAFETY: as above: integers and raw pointers only.
unsafe impl Zeroable for raw::RedisModuleCommandArg {}
// SAFETY: as above: integers and raw pointers only.
unsafe impl Zeroable for raw::RedisModuleCommandInfo {}

fn zeroed<T: Zeroable>() -> T {
    // SAFETY: all-zero bytes are a valid `T` (the `Zeroable` contract).
    unsafe { std::mem::zeroed() }
}
