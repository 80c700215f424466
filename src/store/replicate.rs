//! How `RedisStore`'s writes reach replicas and the AOF: each as its own
//! native command (`mtoken.replicate-native yes`; Redis wraps a command's
//! several in MULTI/EXEC), or all of one command's as one `MTOKEN.APPLY`
//! (the default: one command-table lookup and one propagated command
//! instead of several). Both carry the same absolute effects
//! (docs/DESIGN.md, "Writes, replication, persistence").

use crate::effects::Batch;
use crate::ffi::Ctx;

pub struct Replication<'c> {
    ctx: &'c Ctx,
    /// `None`: native commands, sent as they are made.
    batch: Option<Batch>,
}

fn ms(t: u64) -> Vec<u8> {
    t.to_string().into_bytes()
}

impl<'c> Replication<'c> {
    pub fn new(ctx: &'c Ctx) -> Self {
        Replication {
            ctx,
            batch: (!crate::config::replicate_native()).then(Batch::default),
        }
    }

    pub fn set(&mut self, key: &[u8], value: &[u8], at: Option<u64>) {
        match (&mut self.batch, at) {
            (Some(b), _) => b.set(key, value, at),
            (None, Some(at)) => self.ctx.replicate(c"SET", &[key, value, b"PXAT", &ms(at)]),
            (None, None) => self.ctx.replicate(c"SET", &[key, value]),
        }
    }

    pub fn zadd(&mut self, key: &[u8], at: Option<u64>, member: &[u8]) {
        match &mut self.batch {
            Some(b) => b.zadd(key, at, member),
            None => {
                let score = at.map_or_else(|| b"+inf".to_vec(), ms);
                self.ctx.replicate(c"ZADD", &[key, &score, member]);
            }
        }
    }

    pub fn expire(&mut self, key: &[u8], at: Option<u64>) {
        match (&mut self.batch, at) {
            (Some(b), _) => b.expire(key, at),
            (None, Some(at)) => self.ctx.replicate(c"PEXPIREAT", &[key, &ms(at)]),
            (None, None) => self.ctx.replicate(c"PERSIST", &[key]),
        }
    }

    pub fn set_range(&mut self, key: &[u8], offset: u32, bytes: &[u8]) {
        match &mut self.batch {
            Some(b) => b.set_range(key, offset, bytes),
            None => {
                let offset = ms(u64::from(offset));
                self.ctx.replicate(c"SETRANGE", &[key, &offset, bytes]);
            }
        }
    }

    pub fn del(&mut self, keys: &[&[u8]]) {
        match &mut self.batch {
            Some(b) => b.del(keys),
            None => self.ctx.replicate(c"DEL", keys),
        }
    }

    /// `ZREM key members...`; `args` is the key, then the members.
    pub fn zrem(&mut self, args: &[&[u8]]) {
        let Some((key, members)) = args.split_first() else {
            return;
        };
        match &mut self.batch {
            Some(b) => b.zrem(key, members),
            None => self.ctx.replicate(c"ZREM", args),
        }
    }
}

impl Drop for Replication<'_> {
    /// The command's writes, as one `MTOKEN.APPLY` (nothing when none).
    fn drop(&mut self) {
        if let Some(b) = self.batch.as_ref().filter(|b| !b.is_empty()) {
            self.ctx
                .replicate(c"mtoken.apply", &[b.first_key(), b.bytes()]);
        }
    }
}
