//! Pub/sub and the server's key events: publishing a message, and being
//! told of each key the server expires while its value can still be read
//! (docs/DESIGN.md, "Events").
//!
//! `RedisModule_PublishMessage` / `PublishMessageShard` exist from Redis
//! 7.0 (and in Valkey). The key event (`RedisModuleEvent_Key`, subevent
//! `expired`, fired before the key is removed) exists from Redis 7.2 and
//! Valkey 8; on 7.0 subscribing to it fails and is reported as such.

use std::os::raw::c_void;
use std::sync::OnceLock;

use redis_module::{raw, Context, RedisString};

use super::{api, Ctx};

impl Ctx {
    /// Publish `message` on `channel`: as `SPUBLISH` with `sharded` (to the
    /// subscribers of this shard; in a cluster, to the nodes serving the
    /// channel's slot), else as `PUBLISH`. False when the server lacks
    /// the call. Publishing is not replicated: replicas never see it
    /// twice.
    pub fn publish(&self, channel: &[u8], message: &[u8], sharded: bool) -> bool {
        let f = if sharded {
            api!(RedisModule_PublishMessageShard)
        } else {
            api!(RedisModule_PublishMessage)
        };
        let Some(f) = f else {
            return false;
        };
        let channel = RedisString::create_from_slice(self.raw, channel);
        let message = RedisString::create_from_slice(self.raw, message);
        // SAFETY: a live context and two live strings of it, which the
        // server copies into the messages it sends before returning.
        unsafe { f(self.raw, channel.inner, message.inner) };
        true
    }
}

/// What the module does with a key the server expires: its name, and its
/// value when it is a string.
pub type OnExpired = fn(&Ctx, &[u8], Option<&[u8]>);

static ON_EXPIRED: OnceLock<OnExpired> = OnceLock::new();

/// Call `handler` for each key the server expires, before the key is gone
/// (Redis 7.2+, Valkey 8+), whatever `notify-keyspace-events` says.
/// `ctx` is the load context. False where the server has no such event.
pub fn on_key_expired(ctx: &Context, handler: OnExpired) -> bool {
    let Some(subscribe) = api!(RedisModule_SubscribeToServerEvent) else {
        return false;
    };
    let _ = ON_EXPIRED.set(handler);
    let event = raw::RedisModuleEvent {
        id: raw::REDISMODULE_EVENT_KEY,
        dataver: 1,
    };
    // SAFETY: `ctx` is the load context, live for the call; `key_event`
    // has the signature of an event callback and lives as long as the
    // module. A server without the event refuses it (REDISMODULE_ERR).
    (unsafe { subscribe(ctx.ctx, event, Some(key_event)) }) == raw::REDISMODULE_OK as i32
}

extern "C" fn key_event(
    ctx: *mut raw::RedisModuleCtx,
    _event: raw::RedisModuleEvent,
    subevent: u64,
    data: *mut c_void,
) {
    if subevent != raw::REDISMODULE_SUBEVENT_KEY_EXPIRED || data.is_null() {
        return;
    }
    let (Some(handler), Some(name_of), Some(ptr_len)) = (
        ON_EXPIRED.get(),
        api!(RedisModule_GetKeyNameFromModuleKey),
        api!(RedisModule_StringPtrLen),
    ) else {
        return;
    };
    // SAFETY: for this event the server passes a `RedisModuleKeyInfo`
    // holding a key opened for reading, live until the callback returns.
    let key = unsafe { (*data.cast::<raw::RedisModuleKeyInfo>()).key };
    if key.is_null() {
        return;
    }
    // SAFETY: an open key; its name is owned by the key.
    let name = unsafe { name_of(key) };
    if name.is_null() {
        return;
    }
    let mut len = 0usize;
    // SAFETY: a live string; `len` bytes at the result, valid for the
    // callback (the key, and so its name, is closed after it returns).
    let name = unsafe {
        let p = ptr_len(name, &mut len);
        if p.is_null() {
            return;
        }
        std::slice::from_raw_parts(p.cast::<u8>(), len)
    };
    let ctx = Ctx { raw: ctx };
    // SAFETY: the open key above, read only; the slice is used within
    // the callback, while the key stays open and unchanged.
    let value = unsafe { string_value(key) };
    handler(&ctx, name, value);
}

/// The value of an open string key, borrowed; `None` for another type.
///
/// # Safety
/// `key` is an open key that stays open and unwritten while the result
/// is used.
unsafe fn string_value<'k>(key: *mut raw::RedisModuleKey) -> Option<&'k [u8]> {
    let (kind, dma) = (api!(RedisModule_KeyType)?, api!(RedisModule_StringDMA)?);
    // SAFETY: an open key (the caller's contract).
    if unsafe { kind(key) } as isize != raw::REDISMODULE_KEYTYPE_STRING {
        return None;
    }
    let mut len = 0usize;
    // SAFETY: an open string key; READ access does not change it.
    let p = unsafe { dma(key, &mut len, raw::REDISMODULE_READ as i32) };
    if p.is_null() {
        return Some(&[]);
    }
    // SAFETY: `len` readable bytes at `p` while the key is open.
    Some(unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) })
}
