//! Thin safe wrappers over the parts of the Redis module C API that
//! redis-module 2.0.8 leaves raw or makes costly: binary-safe arguments,
//! replies, keys (strings, sorted sets, absolute expiries) and replication.
//!
//! Nothing here panics: a missing API entry point is treated as a no-op or a
//! failed call, never unwrapped.

use std::ffi::CStr;
use std::os::raw::{c_char, c_int, c_long};
use std::ptr;

use redis_module::{raw, RedisString};

pub mod command;
pub mod config;
pub mod info;
pub mod server;

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

impl Ctx {
    pub fn new(raw: *mut raw::RedisModuleCtx) -> Self {
        Ctx { raw }
    }

    pub fn raw(&self) -> *mut raw::RedisModuleCtx {
        self.raw
    }

    /// Wall-clock milliseconds since the epoch.
    pub fn now_ms(&self) -> u64 {
        match unsafe { raw::RedisModule_Milliseconds } {
            Some(f) => unsafe { f() }.max(0) as u64,
            None => 0,
        }
    }

    /// Hide argument `pos` from MONITOR and SLOWLOG (Redis 7.0+).
    pub fn redact(&self, pos: usize) {
        if let Some(f) = unsafe { raw::RedisModule_RedactClientCommandArgument } {
            unsafe { f(self.raw, pos as c_int) };
        }
    }

    pub fn context_flags(&self) -> u32 {
        match unsafe { raw::RedisModule_GetContextFlags } {
            Some(f) => (unsafe { f(self.raw) }) as u32,
            None => 0,
        }
    }

    /// Send one command to replicas and the AOF, as written here. Several
    /// calls in one command are wrapped in MULTI/EXEC by Redis.
    ///
    /// Up to four arguments go as buffers (`b` format): Redis copies them
    /// once, with no module-side strings to create and free. (Unused
    /// trailing variadic arguments are never read: the format says how many.)
    pub fn replicate(&self, cmd: &CStr, args: &[&[u8]]) {
        const FORMATS: [&CStr; 5] = [c"", c"b", c"bb", c"bbb", c"bbbb"];
        let Some(f) = (unsafe { raw::RedisModule_Replicate }) else {
            return;
        };
        let Some(format) = FORMATS.get(args.len()) else {
            let _ = raw::replicate(self.raw, &cmd.to_string_lossy(), args);
            return;
        };
        let a = |i: usize| args.get(i).copied().unwrap_or_default();
        let (a0, a1, a2, a3) = (a(0), a(1), a(2), a(3));
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

    /// Open a key; the module never keeps it past the command.
    pub fn open(&self, name: &[u8], write: bool) -> Key {
        self.open_string(&RedisString::create_from_slice(self.raw, name), write)
    }

    fn open_string(&self, name: &RedisString, write: bool) -> Key {
        let mode = if write {
            raw::REDISMODULE_READ | raw::REDISMODULE_WRITE
        } else {
            raw::REDISMODULE_READ
        };
        // SAFETY: `name` is a live string of this context; the key is
        // closed on drop, within the command.
        let ptr = match unsafe { raw::RedisModule_OpenKey } {
            Some(f) => {
                unsafe { f(self.raw, name.inner, mode as c_int) }.cast::<raw::RedisModuleKey>()
            }
            None => ptr::null_mut(),
        };
        Key { ctx: self.raw, ptr }
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
        // SAFETY: entry points filled in at load; a command context has a
        // client with a user outside replication and loading (checked above).
        unsafe {
            let name = raw::RedisModule_GetCurrentUserName?(self.raw);
            if name.is_null() {
                return None;
            }
            let user = raw::RedisModule_GetModuleUserFromUserName.map(|f| f(name));
            if let Some(free) = raw::RedisModule_FreeString {
                free(self.raw, name);
            }
            let ptr = user.filter(|p| !p.is_null())?;
            Some(AclUser { ptr })
        }
    }

    /// Open a key (for writing with `write`) after checking that `user`
    /// may read it, and write it too with `acl_write`. A denial is logged in
    /// `ACL LOG` under the key's name, which holds a digest, never a token.
    pub fn open_checked(
        &self,
        user: Option<&AclUser>,
        name: &[u8],
        acl_write: bool,
        write: bool,
    ) -> Option<Key> {
        let name = RedisString::create_from_slice(self.raw, name);
        if let Some(user) = user {
            let mut flags = raw::REDISMODULE_CMD_KEY_ACCESS;
            if acl_write {
                flags |= raw::REDISMODULE_CMD_KEY_UPDATE;
            }
            // SAFETY: `user` and `name` are live for this call.
            let check = unsafe { raw::RedisModule_ACLCheckKeyPermissions };
            if let Some(check) = check {
                if unsafe { check(user.ptr, name.inner, flags as c_int) }
                    != raw::REDISMODULE_OK as c_int
                {
                    if let Some(log) = unsafe { raw::RedisModule_ACLAddLogEntry } {
                        unsafe {
                            log(
                                self.raw,
                                user.ptr,
                                name.inner,
                                raw::RedisModuleACLLogEntryReason_REDISMODULE_ACL_LOG_KEY,
                            )
                        };
                    }
                    return None;
                }
            }
        }
        Some(self.open_string(&name, write))
    }

    // Replies. Each returns nothing: the handler's return code is set by the caller.

    pub fn reply_null(&self) {
        if let Some(f) = unsafe { raw::RedisModule_ReplyWithNull } {
            unsafe { f(self.raw) };
        }
    }

    pub fn reply_bulk(&self, bytes: &[u8]) {
        if let Some(f) = unsafe { raw::RedisModule_ReplyWithStringBuffer } {
            unsafe { f(self.raw, bytes.as_ptr().cast::<c_char>(), bytes.len()) };
        }
    }

    pub fn reply_int(&self, n: i64) {
        if let Some(f) = unsafe { raw::RedisModule_ReplyWithLongLong } {
            unsafe { f(self.raw, n) };
        }
    }

    pub fn reply_array(&self, len: usize) {
        if let Some(f) = unsafe { raw::RedisModule_ReplyWithArray } {
            unsafe { f(self.raw, len as c_long) };
        }
    }

    /// A map of `len` pairs; Redis sends it as a flat array to RESP2 clients.
    pub fn reply_map(&self, len: usize) {
        match unsafe { raw::RedisModule_ReplyWithMap } {
            Some(f) => unsafe { f(self.raw, len as c_long) },
            None => {
                self.reply_array(len * 2);
                0
            }
        };
    }

    pub fn reply_error(&self, msg: &str) {
        // Messages are module constants: no client bytes, no NUL, no CRLF.
        let mut c = Vec::with_capacity(msg.len() + 1);
        c.extend(msg.bytes().filter(|&b| b != 0 && b != b'\r' && b != b'\n'));
        c.push(0);
        if let Some(f) = unsafe { raw::RedisModule_ReplyWithError } {
            unsafe { f(self.raw, c.as_ptr().cast::<c_char>()) };
        }
    }

    pub fn wrong_arity(&self) {
        if let Some(f) = unsafe { raw::RedisModule_WrongArity } {
            unsafe { f(self.raw) };
        }
    }
}

/// An ACL user looked up for the current command; freed on drop.
pub struct AclUser {
    ptr: *mut raw::RedisModuleUser,
}

impl Drop for AclUser {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from GetModuleUserFromUserName and is freed once.
        if let Some(f) = unsafe { raw::RedisModule_FreeModuleUser } {
            unsafe { f(self.ptr) };
        }
    }
}

/// The bytes of a command argument (binary-safe, borrowed from Redis).
/// `s` must be a string Redis handed to the current call.
#[allow(clippy::not_unsafe_ptr_arg_deref)]
pub fn arg<'a>(s: *mut raw::RedisModuleString) -> &'a [u8] {
    let mut len = 0usize;
    let p = match unsafe { raw::RedisModule_StringPtrLen } {
        Some(f) => unsafe { f(s, &mut len) },
        None => ptr::null(),
    };
    if p.is_null() {
        return &[];
    }
    unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Empty,
    String,
    Zset,
    Other,
}

/// An open key, closed on drop.
pub struct Key {
    ctx: *mut raw::RedisModuleCtx,
    ptr: *mut raw::RedisModuleKey,
}

impl Drop for Key {
    fn drop(&mut self) {
        if !self.ptr.is_null() {
            if let Some(f) = unsafe { raw::RedisModule_CloseKey } {
                unsafe { f(self.ptr) };
            }
        }
    }
}

impl Key {
    pub fn kind(&self) -> Kind {
        if self.ptr.is_null() {
            return Kind::Empty;
        }
        let t = match unsafe { raw::RedisModule_KeyType } {
            Some(f) => (unsafe { f(self.ptr) }) as u32,
            None => raw::REDISMODULE_KEYTYPE_EMPTY as u32,
        };
        match t {
            x if x == raw::REDISMODULE_KEYTYPE_EMPTY as u32 => Kind::Empty,
            x if x == raw::REDISMODULE_KEYTYPE_STRING as u32 => Kind::String,
            x if x == raw::REDISMODULE_KEYTYPE_ZSET as u32 => Kind::Zset,
            _ => Kind::Other,
        }
    }

    /// The value of a string key, without copying.
    pub fn read(&self) -> Option<&[u8]> {
        if self.kind() != Kind::String {
            return None;
        }
        let mut len = 0usize;
        let p = unsafe {
            raw::RedisModule_StringDMA?(self.ptr, &mut len, raw::REDISMODULE_READ as c_int)
        };
        if p.is_null() {
            return Some(&[]);
        }
        Some(unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) })
    }

    /// Overwrite `bytes` at `offset` of a string key in place (keeps its TTL).
    pub fn write_at(&self, offset: usize, bytes: &[u8]) -> bool {
        if self.kind() != Kind::String {
            return false;
        }
        let mut len = 0usize;
        let Some(dma) = (unsafe { raw::RedisModule_StringDMA }) else {
            return false;
        };
        let p = unsafe { dma(self.ptr, &mut len, raw::REDISMODULE_WRITE as c_int) };
        if p.is_null() || offset + bytes.len() > len {
            return false;
        }
        unsafe {
            ptr::copy_nonoverlapping(bytes.as_ptr(), p.cast::<u8>().add(offset), bytes.len())
        };
        true
    }

    /// Set a string value (drops any TTL the key had).
    pub fn set_string(&self, value: &[u8]) -> bool {
        if self.ptr.is_null() {
            return false;
        }
        let s = RedisString::create_from_slice(self.ctx, value);
        match unsafe { raw::RedisModule_StringSet } {
            Some(f) => (unsafe { f(self.ptr, s.inner) }) == raw::REDISMODULE_OK as c_int,
            None => false,
        }
    }

    /// Absolute expiry in ms, or `None` for a key without one.
    pub fn expire_at(&self) -> Option<u64> {
        let at = unsafe { raw::RedisModule_GetAbsExpire?(self.ptr) };
        (at >= 0).then_some(at as u64)
    }

    /// Set (or with `None` remove) the absolute expiry of an existing key.
    /// The caller clamps `at` (see `expiry::clamp`) and replicates that value.
    pub fn set_expire_at(&self, at: Option<u64>) {
        if self.ptr.is_null() {
            return;
        }
        unsafe {
            match at {
                Some(ms) => {
                    if let Some(f) = raw::RedisModule_SetAbsExpire {
                        f(self.ptr, ms.min(i64::MAX as u64) as i64);
                    }
                }
                None => {
                    if let Some(f) = raw::RedisModule_SetExpire {
                        f(self.ptr, raw::REDISMODULE_NO_EXPIRE as i64);
                    }
                }
            }
        }
    }

    pub fn delete(&self) {
        if self.ptr.is_null() {
            return;
        }
        if let Some(f) = unsafe { raw::RedisModule_DeleteKey } {
            unsafe { f(self.ptr) };
        }
    }

    /// Number of members of a sorted set (0 when empty).
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        match unsafe { raw::RedisModule_ValueLength } {
            Some(f) if !self.ptr.is_null() => unsafe { f(self.ptr) },
            _ => 0,
        }
    }

    pub fn zadd(&self, member: &[u8], score: f64) -> bool {
        if self.ptr.is_null() {
            return false;
        }
        let m = RedisString::create_from_slice(self.ctx, member);
        match unsafe { raw::RedisModule_ZsetAdd } {
            Some(f) => {
                (unsafe { f(self.ptr, score, m.inner, ptr::null_mut()) })
                    == raw::REDISMODULE_OK as c_int
            }
            None => false,
        }
    }

    /// Remove a member; true when it was there. An emptied set is deleted.
    pub fn zrem(&self, member: &[u8]) -> bool {
        if self.kind() != Kind::Zset {
            return false;
        }
        let m = RedisString::create_from_slice(self.ctx, member);
        let mut deleted: c_int = 0;
        match unsafe { raw::RedisModule_ZsetRem } {
            Some(f) => {
                (unsafe { f(self.ptr, m.inner, &mut deleted) }) == raw::REDISMODULE_OK as c_int
                    && deleted != 0
            }
            None => false,
        }
    }

    pub fn zscore(&self, member: &[u8]) -> Option<f64> {
        if self.kind() != Kind::Zset {
            return None;
        }
        let m = RedisString::create_from_slice(self.ctx, member);
        let mut score = 0f64;
        let ok = unsafe { raw::RedisModule_ZsetScore?(self.ptr, m.inner, &mut score) };
        (ok == raw::REDISMODULE_OK as c_int).then_some(score)
    }

    /// Call `f` with each member (borrowed) and score, `min <= score <= max`
    /// (or `min < score` when `min_exclusive`), in score order, until `f`
    /// returns false.
    pub fn zrange_with(
        &self,
        min: f64,
        max: f64,
        min_exclusive: bool,
        mut f: impl FnMut(&[u8], f64) -> bool,
    ) {
        if self.kind() != Kind::Zset {
            return;
        }
        // SAFETY: the key is an open sorted set; the range iterator is
        // stopped before returning, and each element is freed after use.
        unsafe {
            let (Some(first), Some(current), Some(next), Some(end), Some(stop)) = (
                raw::RedisModule_ZsetFirstInScoreRange,
                raw::RedisModule_ZsetRangeCurrentElement,
                raw::RedisModule_ZsetRangeNext,
                raw::RedisModule_ZsetRangeEndReached,
                raw::RedisModule_ZsetRangeStop,
            ) else {
                return;
            };
            if first(self.ptr, min, max, min_exclusive as c_int, 0) != raw::REDISMODULE_OK as c_int
            {
                return;
            }
            while end(self.ptr) == 0 {
                let mut score = 0f64;
                let ele = current(self.ptr, &mut score);
                if ele.is_null() {
                    break;
                }
                let ele = RedisString::from_redis_module_string(self.ctx, ele);
                if !f(arg(ele.inner), score) || next(self.ptr) == 0 {
                    break;
                }
            }
            stop(self.ptr);
        }
    }

    /// The highest score in a sorted set.
    pub fn zmax(&self) -> Option<f64> {
        if self.kind() != Kind::Zset {
            return None;
        }
        unsafe {
            let last = raw::RedisModule_ZsetLastInScoreRange?;
            let current = raw::RedisModule_ZsetRangeCurrentElement?;
            let stop = raw::RedisModule_ZsetRangeStop?;
            if last(self.ptr, f64::NEG_INFINITY, f64::INFINITY, 0, 0)
                != raw::REDISMODULE_OK as c_int
            {
                return None;
            }
            let mut score = 0f64;
            let ele = current(self.ptr, &mut score);
            stop(self.ptr);
            if ele.is_null() {
                return None;
            }
            drop(RedisString::from_redis_module_string(self.ctx, ele));
            Some(score)
        }
    }
}
