//! `MTOKEN.EXPIRE token` (log one device out) and
//! `MTOKEN.EXPIREALL user [EXCEPT token]` (log out everywhere, or everywhere
//! but here).

use crate::commands::args;
use crate::error::{Error, Result};
use crate::ffi::Ctx;
use crate::record::Record;
use crate::stats;
use crate::store::{user_slot, Store};
use crate::token;

pub fn expire(ctx: &Ctx, argv: &[&[u8]]) -> Result<()> {
    let [_, tok] = argv else {
        return Err(Error::Arity);
    };
    if !token::well_formed(tok) {
        ctx.reply_int(0);
        return Ok(());
    }
    let store = Store::new(ctx, true);
    let slot = token::slot_of(tok);
    let digest = token::digest(tok);
    let entry = store.entry(slot, &digest, true)?;
    let Some(bytes) = entry.key.read() else {
        if store.importing(slot) {
            return Err(Error::TryAgain);
        }
        ctx.reply_int(0);
        return Ok(());
    };
    let user = Record::decode(bytes).ok_or(Error::Corrupt)?.user.to_vec();
    drop(entry);
    let index = store.index(&user, true)?;
    store.require_complete(&index, slot)?;
    let removed = store.remove(&index, slot, &[digest], false)?;
    store.prune(&index);
    stats::REVOKED.add(removed);
    ctx.reply_int(removed as i64);
    Ok(())
}

pub fn expire_all(ctx: &Ctx, argv: &[&[u8]]) -> Result<()> {
    if argv.len() < 2 {
        return Err(Error::Arity);
    }
    let user = args::user(argv[1])?;
    let except = args::except_option(&argv[2..])?;
    // A malformed or foreign EXCEPT token matches none of the user's tokens.
    let keep = except.filter(|t| token::well_formed(t)).map(token::digest);
    let store = Store::new(ctx, true);
    let index = store.index(user, true)?;
    store.require_complete(&index, user_slot(user))?;
    let total = index.key.len();
    let doomed: Vec<_> = store
        .members(&index, f64::NEG_INFINITY, usize::MAX)
        .into_iter()
        .map(|(d, _)| d)
        .filter(|d| Some(*d) != keep)
        .collect();
    let all = doomed.len() == total;
    let removed = store.remove(&index, user_slot(user), &doomed, all)?;
    store.prune(&index);
    stats::REVOKED.add(removed);
    ctx.reply_int(removed as i64);
    Ok(())
}
