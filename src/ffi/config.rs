//! Module-config plumbing that redis-module 2.0.8 leaves to the module: a
//! string config whose getter returns a string Redis never frees, and
//! `RedisModule_LoadConfigs`.

use std::os::raw::c_int;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{RwLock, RwLockReadGuard};

use redis_module::configuration::{ConfigurationContext, ConfigurationValue};
use redis_module::{raw, Context, RedisError, RedisString};

use super::api;
use crate::error::Error;

/// A string config with a validity check, so that CONFIG SET of a bad
/// value fails with a sentence and leaves the old value in place.
pub struct StringConfig {
    value: RwLock<Vec<u8>>,
    shown: ShownString,
    check: fn(&[u8]) -> Result<(), &'static str>,
}

impl StringConfig {
    /// Empty until the server sets it (to the default or a configured value).
    pub const fn new(check: fn(&[u8]) -> Result<(), &'static str>) -> Self {
        StringConfig {
            value: RwLock::new(Vec::new()),
            shown: ShownString(AtomicPtr::new(ptr::null_mut())),
            check,
        }
    }

    pub fn get_bytes(&self) -> Vec<u8> {
        self.read().clone()
    }

    /// The value without a copy, for the length of one command.
    pub fn read(&self) -> RwLockReadGuard<'_, Vec<u8>> {
        self.value.read().unwrap_or_else(|e| e.into_inner())
    }
}

/// For the crate's string-config callbacks only: its getter hands what
/// `get` returns to Redis with `take()`, which neither side frees.
impl ConfigurationValue<RedisString> for StringConfig {
    fn get(&self, _: &ConfigurationContext) -> RedisString {
        self.shown.get(|| self.get_bytes())
    }

    fn set(&self, _: &ConfigurationContext, val: RedisString) -> Result<(), RedisError> {
        let bytes = val.as_slice();
        (self.check)(bytes).map_err(RedisError::Str)?;
        let mut guard = self.value.write().unwrap_or_else(|e| e.into_inner());
        *guard = bytes.to_vec();
        self.shown.clear();
        Ok(())
    }
}

/// The string a string config last showed Redis. Redis copies what a
/// string config's getter returns and never frees it, so the module keeps
/// that string until the value changes: one string per value, none per
/// CONFIG GET.
struct ShownString(AtomicPtr<raw::RedisModuleString>);

impl ShownString {
    /// The kept string, made from `current` on the first call after a
    /// change. The result is the kept string itself, not a reference of its
    /// own: it must reach Redis through the crate's getter, never be dropped.
    fn get(&self, current: impl FnOnce() -> Vec<u8>) -> RedisString {
        let mut shown = self.0.load(Ordering::Relaxed);
        if shown.is_null() {
            let owned = RedisString::create_from_slice(ptr::null_mut(), &current());
            shown = owned.inner;
            // Owned from here by `self.0`, freed by `clear`.
            std::mem::forget(owned);
            self.0.store(shown, Ordering::Relaxed);
        }
        // SAFETY: this handle shares `shown` without a reference count of
        // its own (safe to write, unsound to drop). The crate's getter, the
        // only caller, turns it back into a bare pointer with `take()`, so
        // it is never dropped and `shown` stays live until `clear`. Getter
        // and setter run with the GIL held, never at once.
        RedisString::from_redis_module_string(ptr::null_mut(), shown)
    }

    /// Free the kept string (the value changed); the next `get` makes one.
    fn clear(&self) {
        let old = self.0.swap(ptr::null_mut(), Ordering::Relaxed);
        if !old.is_null() {
            // Created without a context in `get` and owned by `self.0`
            // alone: Redis copied it each time it was shown.
            drop(RedisString::from_redis_module_string(ptr::null_mut(), old));
        }
    }
}

/// Apply the registered configs: the server's config-file lines for the
/// module, else the defaults given at registration. Refused when a value is
/// (the server logs which).
pub fn load(ctx: &Context) -> Result<(), Error> {
    let load = api!(RedisModule_LoadConfigs).ok_or(Error::NoModuleConfigs)?;
    // SAFETY: `ctx` is the load context the server passed to OnLoad, the
    // only context this is called with, and live for the call.
    let status = unsafe { load(ctx.ctx) };
    if status == raw::REDISMODULE_OK as c_int {
        Ok(())
    } else {
        Err(Error::ConfigRefused)
    }
}
