//! The command table (docs/DESIGN.md, "Commands"): each command's name,
//! flags, arity, key spec, documentation, redaction and handler, and its C
//! entry point. Registration, `COMMAND DOCS`, redaction and the README
//! check all read from it.

use std::os::raw::c_int;

use redis_module::raw;

use super::{apply, create, devices, expire, rotate, run, verify, Command, Redact};
use crate::ffi;
use crate::ffi::command::{ArgDoc, ArgType, CommandDef};

/// The C entry point of row `$row` of `COMMANDS` (a unit test checks
/// that each row names its own).
macro_rules! entry_point {
    ($name:ident, $row:expr) => {
        extern "C" fn $name(
            ctx: *mut raw::RedisModuleCtx,
            argv: *mut *mut raw::RedisModuleString,
            argc: c_int,
        ) -> c_int {
            ffi::call(ctx, argv, argc, |ctx, args| run(ctx, args, &COMMANDS[$row]))
        }
    };
}

entry_point!(create_cmd, 0);
entry_point!(verify_cmd, 1);
entry_point!(verify_ro_cmd, 2);
entry_point!(expire_cmd, 3);
entry_point!(expireall_cmd, 4);
entry_point!(list_cmd, 5);
entry_point!(revoke_cmd, 6);
entry_point!(rotate_cmd, 7);
entry_point!(channel_cmd, 8);
entry_point!(apply_cmd, 9);

/// The ACL category of the module's own, where the server can add one.
pub const ACL_CATEGORY: &std::ffi::CStr = c"mtoken";

const RO: u32 = raw::REDISMODULE_CMD_KEY_NOT_KEY
    | raw::REDISMODULE_CMD_KEY_RO
    | raw::REDISMODULE_CMD_KEY_ACCESS;
const RW: u32 = raw::REDISMODULE_CMD_KEY_NOT_KEY | raw::REDISMODULE_CMD_KEY_RW;

const fn arg(name: &'static std::ffi::CStr, kind: ArgType) -> ArgDoc {
    ArgDoc {
        name,
        kind,
        token: None,
        optional: false,
        multiple: false,
    }
}

const fn option(
    token: &'static std::ffi::CStr,
    name: &'static std::ffi::CStr,
    kind: ArgType,
) -> ArgDoc {
    ArgDoc {
        name,
        kind,
        token: Some(token),
        optional: true,
        multiple: false,
    }
}

/// An option that may be given more than once.
const fn repeated(
    token: &'static std::ffi::CStr,
    name: &'static std::ffi::CStr,
    kind: ArgType,
) -> ArgDoc {
    ArgDoc {
        multiple: true,
        ..option(token, name, kind)
    }
}

/// The command table (docs/DESIGN.md, "Commands"). Argument 1 of every
/// command is declared as a key, so cluster routing and CROSSSLOT checks
/// work; its key spec is flagged `NOT_KEY`, because a user id or a token is
/// not a key name: Redis then keeps it out of ACL key checks and `ACL LOG`,
/// and the module checks the real key names itself (see `Store`).
///
/// `VERIFY_RO` and `LIST` are not flagged `readonly`: Redis remembers the
/// "keys" of readonly commands in the client-tracking table, which would
/// keep the raw token there. Not being `write`, they still run on replicas.
pub const COMMANDS: [Command; 10] = [
    Command {
        def: CommandDef {
            name: c"mtoken.create",
            entry: create_cmd,
            flags: c"write deny-oom",
            categories: "write slow",
            arity: -2,
            key_flags: RW | raw::REDISMODULE_CMD_KEY_INSERT,
            summary: c"Creates a login token for a user and returns it with whether it is the user's first live token.",
            complexity: c"O(1) without a per-user limit; O(N) for N tokens of the user when one must be evicted.",
            since: c"0.1.0",
            args: &[
                arg(c"user", ArgType::Key),
                option(c"TTL", c"seconds", ArgType::Integer),
                option(c"NAME", c"label", ArgType::String),
                repeated(c"SCOPE", c"name", ArgType::String),
            ],
        },
        handler: create::create,
        redact: Redact::Nothing,
        internal: false,
    },
    Command {
        def: CommandDef {
            name: c"mtoken.verify",
            entry: verify_cmd,
            flags: c"write fast",
            categories: "write fast",
            arity: -2,
            key_flags: RW | raw::REDISMODULE_CMD_KEY_ACCESS | raw::REDISMODULE_CMD_KEY_UPDATE,
            summary: c"Returns the user a token belongs to, or nil (also when it lacks the SCOPE asked for); may slide the token's expiry.",
            complexity: c"O(1); in refresh-on-verify user mode O(B) for a bounded batch B of the user's tokens; O(N) for N tokens of the user when a rotated token is reused.",
            since: c"0.1.0",
            args: &[
                arg(c"token", ArgType::Key),
                option(c"SCOPE", c"name", ArgType::String),
            ],
        },
        handler: verify::verify,
        redact: Redact::All,
        internal: false,
    },
    Command {
        def: CommandDef {
            name: c"mtoken.verify_ro",
            entry: verify_ro_cmd,
            flags: c"fast",
            categories: "read fast",
            arity: -2,
            key_flags: RO,
            summary: c"Returns the user a token belongs to, or nil (also when it lacks the SCOPE asked for), without writing anything (runs on replicas).",
            complexity: c"O(1)",
            since: c"0.1.0",
            args: &[
                arg(c"token", ArgType::Key),
                option(c"SCOPE", c"name", ArgType::String),
            ],
        },
        handler: verify::verify_ro,
        redact: Redact::All,
        internal: false,
    },
    Command {
        def: CommandDef {
            name: c"mtoken.expire",
            entry: expire_cmd,
            flags: c"write fast",
            categories: "write fast",
            arity: 2,
            key_flags: RW | raw::REDISMODULE_CMD_KEY_DELETE,
            summary: c"Logs one device out: removes the token. Returns 1 if it was removed, 0 if not found.",
            complexity: c"O(log N) for N tokens of the user",
            since: c"0.1.0",
            args: &[arg(c"token", ArgType::Key)],
        },
        handler: expire::expire,
        redact: Redact::All,
        internal: false,
    },
    Command {
        def: CommandDef {
            name: c"mtoken.expireall",
            entry: expireall_cmd,
            flags: c"write",
            categories: "write slow",
            arity: -2,
            key_flags: RW | raw::REDISMODULE_CMD_KEY_DELETE,
            summary: c"Logs a user out everywhere, or everywhere but the device holding the EXCEPT token. Returns the number of live tokens removed.",
            complexity: c"O(N) for N tokens of the user",
            since: c"0.1.0",
            args: &[
                arg(c"user", ArgType::Key),
                option(c"EXCEPT", c"token", ArgType::String),
            ],
        },
        handler: expire::expire_all,
        redact: Redact::AfterUser,
        internal: false,
    },
    Command {
        def: CommandDef {
            name: c"mtoken.list",
            entry: list_cmd,
            flags: c"",
            categories: "read slow",
            arity: 2,
            key_flags: RO,
            summary: c"Lists a user's live tokens (devices): id, name, created, last used, expires.",
            complexity: c"O(N) for N tokens of the user",
            since: c"0.1.0",
            args: &[arg(c"user", ArgType::Key)],
        },
        handler: devices::list,
        redact: Redact::Nothing,
        internal: false,
    },
    Command {
        def: CommandDef {
            name: c"mtoken.revoke",
            entry: revoke_cmd,
            flags: c"write fast",
            categories: "write fast",
            arity: 3,
            key_flags: RW | raw::REDISMODULE_CMD_KEY_DELETE,
            summary: c"Logs out the device with the id that MTOKEN.LIST showed. Returns 1 if removed, 0 if not found.",
            complexity: c"O(log N) for N tokens of the user",
            since: c"0.1.0",
            args: &[arg(c"user", ArgType::Key), arg(c"id", ArgType::String)],
        },
        handler: devices::revoke,
        redact: Redact::Nothing,
        internal: false,
    },
    Command {
        def: CommandDef {
            name: c"mtoken.rotate",
            entry: rotate_cmd,
            flags: c"write deny-oom fast",
            categories: "write fast",
            arity: -2,
            key_flags: RW | raw::REDISMODULE_CMD_KEY_INSERT,
            summary: c"Replaces a token by a new one for the same device; the old one answers for GRACE seconds, and its later use logs the device out. Returns the new token, or nil.",
            complexity: c"O(log N) for N tokens of the user; O(N) when a replaced token is presented again.",
            since: c"0.2.0",
            args: &[
                arg(c"token", ArgType::Key),
                option(c"GRACE", c"seconds", ArgType::Integer),
            ],
        },
        handler: rotate::rotate,
        redact: Redact::All,
        internal: false,
    },
    Command {
        def: CommandDef {
            name: c"mtoken.channel",
            entry: channel_cmd,
            flags: c"fast",
            categories: "read fast",
            arity: 2,
            key_flags: RO,
            summary: c"Returns the pub/sub channel of a user's logout events (mtoken.events).",
            complexity: c"O(1)",
            since: c"0.2.0",
            args: &[arg(c"user", ArgType::Key)],
        },
        handler: devices::channel,
        redact: Redact::Nothing,
        internal: false,
    },
    Command {
        def: CommandDef {
            name: c"mtoken.apply",
            entry: apply_cmd,
            flags: c"write",
            categories: "write slow",
            arity: 3,
            // One of INSERT, DELETE, UPDATE at most (the server's rule).
            key_flags: raw::REDISMODULE_CMD_KEY_RW | raw::REDISMODULE_CMD_KEY_UPDATE,
            summary: c"Internal: applies one mtoken command's writes on a replica or when loading the AOF; refused from clients.",
            complexity: c"O(N) for the N writes in the batch",
            since: c"0.2.0",
            args: &[arg(c"key", ArgType::Key), arg(c"batch", ArgType::String)],
        },
        handler: apply::apply,
        redact: Redact::Nothing,
        internal: true,
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::command::EntryPoint;

    #[test]
    fn each_row_has_its_own_entry_point() {
        let entries: [EntryPoint; 10] = [
            create_cmd,
            verify_cmd,
            verify_ro_cmd,
            expire_cmd,
            expireall_cmd,
            list_cmd,
            revoke_cmd,
            rotate_cmd,
            channel_cmd,
            apply_cmd,
        ];
        for (row, entry) in COMMANDS.iter().zip(entries) {
            assert_eq!(row.def.entry as usize, entry as usize, "{:?}", row.def.name);
        }
    }
}
