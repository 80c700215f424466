//! Replies. Each writes one element of the call's reply and returns
//! nothing: the command's return code is set at the call boundary.

use std::os::raw::{c_char, c_long};

use super::{api, Ctx};

impl Ctx {
    pub fn reply_null(&self) {
        if let Some(f) = api!(RedisModule_ReplyWithNull) {
            // SAFETY: a command context.
            unsafe { f(self.raw()) };
        }
    }

    pub fn reply_bulk(&self, bytes: &[u8]) {
        if let Some(f) = api!(RedisModule_ReplyWithStringBuffer) {
            // SAFETY: `bytes` is live for the call; Redis copies it.
            unsafe { f(self.raw(), bytes.as_ptr().cast::<c_char>(), bytes.len()) };
        }
    }

    pub fn reply_int(&self, n: i64) {
        if let Some(f) = api!(RedisModule_ReplyWithLongLong) {
            // SAFETY: a command context.
            unsafe { f(self.raw(), n) };
        }
    }

    pub fn reply_array(&self, len: usize) {
        if let Some(f) = api!(RedisModule_ReplyWithArray) {
            // SAFETY: a command context; `len` elements follow.
            unsafe { f(self.raw(), len as c_long) };
        }
    }

    /// A map of `len` pairs; Redis sends it as a flat array to RESP2 clients.
    pub fn reply_map(&self, len: usize) {
        match api!(RedisModule_ReplyWithMap) {
            // SAFETY: a command context; `len` pairs follow.
            Some(f) => {
                unsafe { f(self.raw(), len as c_long) };
            }
            None => self.reply_array(len * 2),
        }
    }

    pub fn reply_error(&self, msg: &str) {
        // Messages are the module's own: no client bytes, no NUL, no CRLF.
        let mut c = Vec::with_capacity(msg.len() + 1);
        c.extend(msg.bytes().filter(|&b| b != 0 && b != b'\r' && b != b'\n'));
        c.push(0);
        if let Some(f) = api!(RedisModule_ReplyWithError) {
            // SAFETY: `c` is NUL-terminated and live for the call.
            unsafe { f(self.raw(), c.as_ptr().cast::<c_char>()) };
        }
    }

    pub fn reply_ok(&self) {
        if let Some(f) = api!(RedisModule_ReplyWithSimpleString) {
            // SAFETY: a command context and a NUL-terminated constant.
            unsafe { f(self.raw(), c"OK".as_ptr()) };
        }
    }

    pub fn wrong_arity(&self) {
        if let Some(f) = api!(RedisModule_WrongArity) {
            // SAFETY: a command context.
            unsafe { f(self.raw()) };
        }
    }
}
