//! `MTOKEN.VERIFY token` and `MTOKEN.VERIFY_RO token`: the user, or nil.
//!
//! The hot path: a malformed token costs a checksum and no key read; a hit
//! costs one SHA-256, one key lookup and, at most once per
//! `refresh-interval`, one write.

use crate::error::{Error, Result};
use crate::ffi::Ctx;
use crate::record::Record;
use crate::stats;
use crate::store::Store;
use crate::token;

pub fn verify(ctx: &Ctx, args: &[&[u8]]) -> Result<()> {
    run(ctx, args, true)
}

pub fn verify_ro(ctx: &Ctx, args: &[&[u8]]) -> Result<()> {
    run(ctx, args, false)
}

fn run(ctx: &Ctx, args: &[&[u8]], may_write: bool) -> Result<()> {
    let [_, tok] = args else {
        return Err(Error::Arity);
    };
    if !token::well_formed(tok) {
        stats::VERIFY_MALFORMED.incr();
        ctx.reply_null();
        return Ok(());
    }
    let store = Store::new(ctx, may_write);
    let slot = token::slot_of(tok);
    let digest = token::digest(tok);
    let entry = store.entry(slot, &digest, false)?;
    let Some(bytes) = entry.key.read() else {
        if store.importing(slot) {
            return Err(Error::TryAgain);
        }
        stats::VERIFY_MISSES.incr();
        ctx.reply_null();
        return Ok(());
    };
    let rec = Record::decode(bytes).ok_or(Error::Corrupt)?;
    let past_deadline = store.policy.past_deadline(rec.created, store.now);
    let due = may_write && store.policy.due(rec.ttl, rec.last_used, store.now);
    if !past_deadline && !due {
        // The common case: nothing to write, reply straight from the value.
        stats::VERIFY_HITS.incr();
        ctx.reply_bulk(rec.user);
        return Ok(());
    }
    // Copy what we need: writing may move the value under `bytes`.
    let user = rec.user.to_vec();
    let rec = Record {
        user: &user,
        name: None,
        ..rec
    };
    drop(entry);
    if past_deadline {
        if may_write {
            let index = store.index(&user, true)?;
            // Dead already, so `remove` counts it as no live token.
            store.remove(&index, slot, &[digest], false)?;
            stats::LIFETIME_ENDED.incr();
        }
        stats::VERIFY_MISSES.incr();
        ctx.reply_null();
        return Ok(());
    }
    let entry = store.entry(slot, &digest, true)?;
    store.refresh(&entry, &digest, &rec, slot)?;
    stats::VERIFY_HITS.incr();
    ctx.reply_bulk(&user);
    Ok(())
}
