//! The typed layer over the Redis module C API: every `unsafe` of the
//! module lives in this folder (docs/DESIGN.md, "Code layout").
//!
//! Safe wrappers for what redis-module 2.0.8 leaves raw or makes costly:
//! the call boundary (binary-safe arguments tied to the call), replies,
//! keys typed by access (`key`), replication, ACL checks and command
//! registration (`command`). Nothing here panics: a missing API entry point
//! is treated as a no-op or a failed call, never unwrapped.

use std::ffi::CStr;
use std::os::raw::{c_char, c_int};

use redis_module::{raw, RedisString};

pub mod command;
pub mod config;
pub mod events;
pub mod info;
pub mod key;
mod reply;
pub mod server;

pub use key::{Kind, ReadKey, WriteKey};

/// The one way to reach a module API entry point: `api!(RedisModule_X)` is
/// an `Option` of the function, `None` where the server lacks it.
macro_rules! api {
    ($name:ident) => {
        // SAFETY: the server fills these pointers in once, in
        // `RedisModule_Init` at load, before any command or callback runs;
        // afterwards they are only read.
        unsafe { ::redis_module::raw::$name }
    };
}
pub(crate) use api;

/// The context of one command call.
pub struct Ctx {
    raw: *mut raw::RedisModuleCtx,
}

/// Run `f` on one command call: its context and its arguments as byte
/// slices borrowed from Redis for the length of the call (command name
/// first). Returns what a command handler returns to Redis.
pub(crate) fn call(
    ctx: *mut raw::RedisModuleCtx,
    argv: *mut *mut raw::RedisModuleString,
    argc: c_int,
    f: impl FnOnce(&Ctx, &[&[u8]]),
) -> c_int {
    let ctx = Ctx { raw: ctx };
    let argv: &[*mut raw::RedisModuleString] = if argv.is_null() || argc <= 0 {
        &[]
    } else {
        // SAFETY: Redis passes `argc` valid strings that live for the call,
        // and this borrow ends with it.
        unsafe { std::slice::from_raw_parts(argv, argc as usize) }
    };
    const INLINE: usize = 8;
    let mut inline: [&[u8]; INLINE] = [&[]; INLINE];
    let spilled: Vec<&[u8]>;
    let args: &[&[u8]] = if argv.len() <= INLINE {
        for (slot, a) in inline.iter_mut().zip(argv) {
            *slot = arg(*a);
        }
        &inline[..argv.len()]
    } else {
        spilled = argv.iter().map(|a| arg(*a)).collect();
        &spilled
    };
    f(&ctx, args);
    raw::REDISMODULE_OK as c_int
}

/// The bytes of one argument of the current call.
fn arg<'call>(s: *mut raw::RedisModuleString) -> &'call [u8] {
    let mut len = 0usize;
    let p = match api!(RedisModule_StringPtrLen) {
        // SAFETY: `s` is one of the strings Redis passed to this call.
        Some(f) => unsafe { f(s, &mut len) },
        None => std::ptr::null(),
    };
    if p.is_null() {
        return &[];
    }
    // SAFETY: Redis gives `len` bytes at `p`, valid for the call; `call`
    // only lends the slice to the handler, within the call.
    unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) }
}

impl Ctx {
    pub fn raw(&self) -> *mut raw::RedisModuleCtx {
        self.raw
    }

    /// Wall-clock milliseconds since the epoch.
    pub fn now_ms(&self) -> u64 {
        match api!(RedisModule_Milliseconds) {
            // SAFETY: no arguments; reads the server's clock.
            Some(f) => unsafe { f() }.max(0) as u64,
            None => 0,
        }
    }

    /// Hide argument `pos` from MONITOR and SLOWLOG (Redis 7.0+).
    pub fn redact(&self, pos: usize) {
        if let Some(f) = api!(RedisModule_RedactClientCommandArgument) {
            // SAFETY: a command context; Redis checks `pos` against argc.
            unsafe { f(self.raw, pos as c_int) };
        }
    }

    pub fn context_flags(&self) -> u32 {
        match api!(RedisModule_GetContextFlags) {
            // SAFETY: a live context.
            Some(f) => (unsafe { f(self.raw) }) as u32,
            None => 0,
        }
    }

    /// Whether this call came from the replication link or the AOF being
    /// loaded, rather than from a client.
    pub fn from_master_or_aof(&self) -> bool {
        self.context_flags()
            & (raw::REDISMODULE_CTX_FLAGS_REPLICATED | raw::REDISMODULE_CTX_FLAGS_LOADING)
            != 0
    }

    /// Replicate this call as it was received.
    pub fn replicate_verbatim(&self) {
        if let Some(f) = api!(RedisModule_ReplicateVerbatim) {
            // SAFETY: a command context.
            unsafe { f(self.raw) };
        }
    }

    /// Whether the server runs in cluster mode.
    pub fn in_cluster(&self) -> bool {
        self.context_flags() & raw::REDISMODULE_CTX_FLAGS_CLUSTER != 0
    }

    /// Send one command to replicas and the AOF, as written here. Several
    /// calls in one command are wrapped in MULTI/EXEC by Redis.
    ///
    /// Up to four arguments go as buffers (`b` format): Redis copies them
    /// once, with no module-side strings to create and free. (Unused
    /// trailing variadic arguments are never read: the format says how many.)
    pub fn replicate(&self, cmd: &CStr, args: &[&[u8]]) {
        const FORMATS: [&CStr; 5] = [c"", c"b", c"bb", c"bbb", c"bbbb"];
        let Some(f) = api!(RedisModule_Replicate) else {
            return;
        };
        let Some(format) = FORMATS.get(args.len()) else {
            let _ = raw::replicate(self.raw, &cmd.to_string_lossy(), args);
            return;
        };
        let a = |i: usize| args.get(i).copied().unwrap_or_default();
        let (a0, a1, a2, a3) = (a(0), a(1), a(2), a(3));
        // SAFETY: `cmd` and `format` are NUL-terminated; the format names
        // as many (pointer, length) pairs as there are arguments, each a
        // live buffer Redis copies before returning.
        unsafe {
            f(
                self.raw,
                cmd.as_ptr(),
                format.as_ptr(),
                a0.as_ptr().cast::<c_char>(),
                a0.len(),
                a1.as_ptr().cast::<c_char>(),
                a1.len(),
                a2.as_ptr().cast::<c_char>(),
                a2.len(),
                a3.as_ptr().cast::<c_char>(),
                a3.len(),
            );
        }
    }

    /// The calling client's ACL user, for key permission checks. `None`
    /// where there is no ACL user to check (the server applies its own
    /// rules there: replication and AOF loading run as no user).
    pub fn acl_user(&self) -> Option<AclUser> {
        let flags = self.context_flags();
        if flags & (raw::REDISMODULE_CTX_FLAGS_REPLICATED | raw::REDISMODULE_CTX_FLAGS_LOADING) != 0
        {
            return None;
        }
        let (current, lookup, free) = (
            api!(RedisModule_GetCurrentUserName)?,
            api!(RedisModule_GetModuleUserFromUserName)?,
            api!(RedisModule_FreeString),
        );
        // SAFETY: a command context has a client with a user outside
        // replication and loading (checked above); the name is freed here
        // and the user in `AclUser::drop`.
        unsafe {
            let name = current(self.raw);
            if name.is_null() {
                return None;
            }
            let user = lookup(name);
            if let Some(free) = free {
                free(self.raw, name);
            }
            (!user.is_null()).then_some(AclUser { ptr: user })
        }
    }

    /// Whether `user` may read `name` (and update it too with `update`).
    /// A denial is logged in `ACL LOG` under the key's name, which holds a
    /// digest, never a token.
    fn acl_allows(&self, user: &AclUser, name: &RedisString, update: bool) -> bool {
        let Some(check) = api!(RedisModule_ACLCheckKeyPermissions) else {
            return true; // the server has no key checks for modules
        };
        let mut flags = raw::REDISMODULE_CMD_KEY_ACCESS;
        if update {
            flags |= raw::REDISMODULE_CMD_KEY_UPDATE;
        }
        // SAFETY: `user` and `name` are live for this call.
        if unsafe { check(user.ptr, name.inner, flags as c_int) } == raw::REDISMODULE_OK as c_int {
            return true;
        }
        if let Some(log) = api!(RedisModule_ACLAddLogEntry) {
            // SAFETY: as above, with this command's context.
            unsafe {
                log(
                    self.raw,
                    user.ptr,
                    name.inner,
                    raw::RedisModuleACLLogEntryReason_REDISMODULE_ACL_LOG_KEY,
                )
            };
        }
        false
    }

    /// Open a key for reading once `user` may read it (and, with
    /// `acl_update`, update it: the command writes); `None` when denied.
    pub fn open_read(
        &self,
        user: Option<&AclUser>,
        name: &[u8],
        acl_update: bool,
    ) -> Option<ReadKey<'_>> {
        let name = RedisString::create_from_slice(self.raw, name);
        if user.is_some_and(|u| !self.acl_allows(u, &name, acl_update)) {
            return None;
        }
        Some(key::open(self, &name, false))
    }

    /// Open a key for writing once `user` may read and update it.
    pub fn open_write(&self, user: Option<&AclUser>, name: &[u8]) -> Option<WriteKey<'_>> {
        let name = RedisString::create_from_slice(self.raw, name);
        if user.is_some_and(|u| !self.acl_allows(u, &name, true)) {
            return None;
        }
        Some(key::open_write(self, &name))
    }
}

/// An ACL user looked up for the current command; freed on drop.
pub struct AclUser {
    ptr: *mut raw::RedisModuleUser,
}

impl Drop for AclUser {
    fn drop(&mut self) {
        if let Some(f) = api!(RedisModule_FreeModuleUser) {
            // SAFETY: `ptr` came from GetModuleUserFromUserName, freed once.
            unsafe { f(self.ptr) };
        }
    }
}
