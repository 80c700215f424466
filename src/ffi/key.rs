//! Open keys, typed by what the command may do with them.
//!
//! A `ReadKey` reads; a `WriteKey` also writes, through `&mut self`, so a
//! slice borrowed from `read()` cannot outlive a write that may move it.
//! Both close the key when dropped, within the command that opened them.

use std::marker::PhantomData;
use std::ops::Deref;
use std::os::raw::c_int;
use std::ptr;

use redis_module::{raw, RedisString};

use super::{api, Ctx};
use crate::error::{Error, Result};

const OK: c_int = raw::REDISMODULE_OK as c_int;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Empty,
    String,
    Zset,
    Other,
}

/// A key opened for reading; closed on drop. `'c` is the command's context.
pub struct ReadKey<'c> {
    ctx: *mut raw::RedisModuleCtx,
    ptr: *mut raw::RedisModuleKey,
    call: PhantomData<&'c Ctx>,
}

/// A key opened for reading and writing; closed on drop (Redis then
/// signals the key as modified: WATCH and client tracking see it).
pub struct WriteKey<'c>(ReadKey<'c>);

impl<'c> Deref for WriteKey<'c> {
    type Target = ReadKey<'c>;
    fn deref(&self) -> &ReadKey<'c> {
        &self.0
    }
}

pub(super) fn open<'c>(ctx: &'c Ctx, name: &RedisString, write: bool) -> ReadKey<'c> {
    let mode = if write {
        raw::REDISMODULE_READ | raw::REDISMODULE_WRITE
    } else {
        raw::REDISMODULE_READ
    };
    let ptr = match api!(RedisModule_OpenKey) {
        // SAFETY: `name` is a live string of this context; the key is
        // closed on drop, before the command returns (`'c`).
        Some(f) => unsafe { f(ctx.raw(), name.inner, mode as c_int) }.cast(),
        None => ptr::null_mut(),
    };
    ReadKey {
        ctx: ctx.raw(),
        ptr,
        call: PhantomData,
    }
}

pub(super) fn open_write<'c>(ctx: &'c Ctx, name: &RedisString) -> WriteKey<'c> {
    WriteKey(open(ctx, name, true))
}

impl Drop for ReadKey<'_> {
    fn drop(&mut self) {
        if self.ptr.is_null() {
            return;
        }
        if let Some(f) = api!(RedisModule_CloseKey) {
            // SAFETY: `ptr` is an open key of this command, closed once.
            unsafe { f(self.ptr) };
        }
    }
}

impl ReadKey<'_> {
    pub fn kind(&self) -> Kind {
        let t = match api!(RedisModule_KeyType) {
            // SAFETY: `ptr` is an open key (checked non-null).
            Some(f) if !self.ptr.is_null() => (unsafe { f(self.ptr) }) as isize,
            _ => raw::REDISMODULE_KEYTYPE_EMPTY,
        };
        match t {
            raw::REDISMODULE_KEYTYPE_EMPTY => Kind::Empty,
            raw::REDISMODULE_KEYTYPE_STRING => Kind::String,
            raw::REDISMODULE_KEYTYPE_ZSET => Kind::Zset,
            _ => Kind::Other,
        }
    }

    /// The value of a string key, without copying; `None` for another type.
    pub fn read(&self) -> Option<&[u8]> {
        if self.kind() != Kind::String {
            return None;
        }
        let dma = api!(RedisModule_StringDMA)?;
        let mut len = 0usize;
        // SAFETY: an open string key; READ access does not change it.
        let p = unsafe { dma(self.ptr, &mut len, raw::REDISMODULE_READ as c_int) };
        if p.is_null() {
            return Some(&[]);
        }
        // SAFETY: Redis gives `len` readable bytes at `p`, valid until the
        // key is written or closed; the borrow of `self` outlives neither
        // (writes take `&mut WriteKey`).
        Some(unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) })
    }

    /// Absolute expiry in ms, or `None` for a key without one.
    pub fn expire_at(&self) -> Option<u64> {
        let f = api!(RedisModule_GetAbsExpire)?;
        if self.ptr.is_null() {
            return None;
        }
        // SAFETY: an open key.
        let at = unsafe { f(self.ptr) };
        (at >= 0).then_some(at as u64)
    }

    /// Number of members of a sorted set (0 when empty).
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        match api!(RedisModule_ValueLength) {
            // SAFETY: an open key (checked non-null).
            Some(f) if !self.ptr.is_null() => unsafe { f(self.ptr) },
            _ => 0,
        }
    }

    pub fn zscore(&self, member: &[u8]) -> Option<f64> {
        if self.kind() != Kind::Zset {
            return None;
        }
        let f = api!(RedisModule_ZsetScore)?;
        let m = RedisString::create_from_slice(self.ctx, member);
        let mut score = 0f64;
        // SAFETY: an open sorted set and a live string of this context.
        let ok = unsafe { f(self.ptr, m.inner, &mut score) };
        (ok == OK).then_some(score)
    }

    /// Call `f` with each member (borrowed) and score, `min <= score <=
    /// max`, in score order, until `f` returns false.
    pub fn zrange_with(&self, min: f64, max: f64, mut f: impl FnMut(&[u8], f64) -> bool) {
        if self.kind() != Kind::Zset {
            return;
        }
        let (Some(first), Some(current), Some(next), Some(end), Some(stop)) = (
            api!(RedisModule_ZsetFirstInScoreRange),
            api!(RedisModule_ZsetRangeCurrentElement),
            api!(RedisModule_ZsetRangeNext),
            api!(RedisModule_ZsetRangeEndReached),
            api!(RedisModule_ZsetRangeStop),
        ) else {
            return;
        };
        // SAFETY: the key is an open sorted set; the range iterator is
        // stopped before returning, each element is freed after its use
        // (`RedisString` drop), and `f` gets it only for that call.
        unsafe {
            if first(self.ptr, min, max, 0, 0) != OK {
                return;
            }
            while end(self.ptr) == 0 {
                let mut score = 0f64;
                let ele = current(self.ptr, &mut score);
                if ele.is_null() {
                    break;
                }
                let ele = RedisString::from_redis_module_string(self.ctx, ele);
                if !f(ele.as_slice(), score) || next(self.ptr) == 0 {
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
        let (last, current, stop) = (
            api!(RedisModule_ZsetLastInScoreRange)?,
            api!(RedisModule_ZsetRangeCurrentElement)?,
            api!(RedisModule_ZsetRangeStop)?,
        );
        // SAFETY: as in `zrange_with`: an open sorted set, the iterator
        // stopped, the element freed.
        unsafe {
            if last(self.ptr, f64::NEG_INFINITY, f64::INFINITY, 0, 0) != OK {
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

fn done(code: c_int) -> Result<()> {
    if code == OK {
        Ok(())
    } else {
        Err(Error::WriteRefused)
    }
}

impl WriteKey<'_> {
    fn ptr(&self) -> Result<*mut raw::RedisModuleKey> {
        if self.0.ptr.is_null() {
            Err(Error::WriteRefused)
        } else {
            Ok(self.0.ptr)
        }
    }

    /// Overwrite `bytes` at `offset` of a string key in place (keeps its TTL).
    pub fn write_at(&mut self, offset: usize, bytes: &[u8]) -> Result<()> {
        if self.kind() != Kind::String {
            return Err(Error::WriteRefused);
        }
        let dma = api!(RedisModule_StringDMA).ok_or(Error::WriteRefused)?;
        let mut len = 0usize;
        // SAFETY: an open string key, opened for writing.
        let p = unsafe { dma(self.ptr()?, &mut len, raw::REDISMODULE_WRITE as c_int) };
        if p.is_null() || offset.checked_add(bytes.len()).is_none_or(|end| end > len) {
            return Err(Error::WriteRefused);
        }
        // SAFETY: `offset + bytes.len() <= len` writable bytes at `p`, and
        // `bytes` (the caller's) cannot overlap the key's value.
        unsafe {
            ptr::copy_nonoverlapping(bytes.as_ptr(), p.cast::<u8>().add(offset), bytes.len())
        };
        Ok(())
    }

    /// Set a string value (drops any TTL the key had).
    pub fn set_string(&mut self, value: &[u8]) -> Result<()> {
        let f = api!(RedisModule_StringSet).ok_or(Error::WriteRefused)?;
        let s = RedisString::create_from_slice(self.0.ctx, value);
        // SAFETY: a key opened for writing and a live string of this context.
        done(unsafe { f(self.ptr()?, s.inner) })
    }

    /// Set (or with `None` remove) the absolute expiry of an existing key.
    /// The caller clamps `at` (see `expiry::clamp`) and replicates that value.
    pub fn set_expire_at(&mut self, at: Option<u64>) -> Result<()> {
        let key = self.ptr()?;
        match at {
            Some(ms) => {
                let f = api!(RedisModule_SetAbsExpire).ok_or(Error::WriteRefused)?;
                // SAFETY: an existing key opened for writing.
                done(unsafe { f(key, ms.min(i64::MAX as u64) as i64) })
            }
            None => {
                let f = api!(RedisModule_SetExpire).ok_or(Error::WriteRefused)?;
                // SAFETY: as above.
                done(unsafe { f(key, raw::REDISMODULE_NO_EXPIRE as i64) })
            }
        }
    }

    pub fn delete(&mut self) -> Result<()> {
        let f = api!(RedisModule_DeleteKey).ok_or(Error::WriteRefused)?;
        // SAFETY: a key opened for writing.
        done(unsafe { f(self.ptr()?) })
    }

    /// Add a member or change its score (creates the set when empty).
    pub fn zadd(&mut self, member: &[u8], score: f64) -> Result<()> {
        let f = api!(RedisModule_ZsetAdd).ok_or(Error::WriteRefused)?;
        let m = RedisString::create_from_slice(self.0.ctx, member);
        // SAFETY: a key opened for writing, a live string, no flags out.
        done(unsafe { f(self.ptr()?, score, m.inner, ptr::null_mut()) })
    }

    /// Remove a member; true when it was there. An emptied set is deleted.
    pub fn zrem(&mut self, member: &[u8]) -> Result<bool> {
        if self.kind() != Kind::Zset {
            return Ok(false);
        }
        let f = api!(RedisModule_ZsetRem).ok_or(Error::WriteRefused)?;
        let m = RedisString::create_from_slice(self.0.ctx, member);
        let mut deleted: c_int = 0;
        // SAFETY: an open sorted set opened for writing, a live string.
        done(unsafe { f(self.ptr()?, m.inner, &mut deleted) })?;
        Ok(deleted != 0)
    }
}
