//! Applying a replicated `MTOKEN.APPLY` batch: the writes the master made,
//! with their absolute values, in order, as the native commands they
//! stand for would (docs/DESIGN.md, "Writes, replication, persistence").
//! Runs only from the replication stream or the AOF, which have no ACL user.

use crate::effects::Op;
use crate::error::{Error, Result};
use crate::expiry;
use crate::ffi::{Ctx, Kind, WriteKey};

fn open<'c>(ctx: &'c Ctx, key: &[u8]) -> Result<WriteKey<'c>> {
    ctx.open_write(None, key).ok_or(Error::WriteRefused)
}

fn zset<'c>(ctx: &'c Ctx, key: &[u8]) -> Result<WriteKey<'c>> {
    let k = open(ctx, key)?;
    match k.kind() {
        Kind::Empty | Kind::Zset => Ok(k),
        _ => Err(Error::WrongType),
    }
}

/// Apply every op; like the native commands in MULTI/EXEC, one that fails
/// (a key of another type than the master had) does not stop the others.
/// Returns the first failure.
pub fn replay(ctx: &Ctx, ops: &[Op]) -> Result<()> {
    let mut first = Ok(());
    for op in ops {
        let done = apply(ctx, op);
        if first.is_ok() {
            first = done;
        }
    }
    first
}

fn apply(ctx: &Ctx, op: &Op) -> Result<()> {
    match op {
        Op::Set { key, value, at } => {
            let mut k = open(ctx, key)?;
            k.set_string(value)?;
            if at.is_some() {
                k.set_expire_at(expiry::clamp(*at))?;
            }
        }
        Op::Zadd { key, at, member } => {
            zset(ctx, key)?.zadd(member, expiry::score(expiry::clamp(*at)))?;
        }
        Op::Expire { key, at } => {
            let mut k = open(ctx, key)?;
            if k.kind() != Kind::Empty {
                k.set_expire_at(expiry::clamp(*at))?;
            }
        }
        Op::SetRange { key, offset, bytes } => {
            open(ctx, key)?.write_at(*offset as usize, bytes)?;
        }
        Op::Del(keys) => {
            for key in keys {
                let mut k = open(ctx, key)?;
                if k.kind() != Kind::Empty {
                    k.delete()?;
                }
            }
        }
        Op::Zrem { key, members } => {
            let mut k = zset(ctx, key)?;
            for m in members {
                k.zrem(m)?;
            }
        }
    }
    Ok(())
}
