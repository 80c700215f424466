//! `MTOKEN.LIST user` (the user's devices) and `MTOKEN.REVOKE user id`
//! (log out the device a LIST showed, without its token).

use crate::commands::args;
use crate::error::{Error, Result};
use crate::ffi::Ctx;
use crate::stats;
use crate::store::{user_slot, Store};
use crate::token;

pub fn list(ctx: &Ctx, argv: &[&[u8]]) -> Result<()> {
    let [_, user] = argv else {
        return Err(Error::Arity);
    };
    let user = args::user(user)?;
    let store = Store::new(ctx, false);
    let index = store.index(user, false)?;
    store.require_complete(&index, user_slot(user))?;
    let devices = store.scan(&index, user_slot(user))?;
    ctx.reply_array(devices.found.len());
    for d in &devices.found {
        ctx.reply_map(5);
        ctx.reply_bulk(b"id");
        ctx.reply_bulk(&token::id_of(&d.digest));
        ctx.reply_bulk(b"name");
        match &d.name {
            Some(n) => ctx.reply_bulk(n),
            None => ctx.reply_null(),
        }
        ctx.reply_bulk(b"created");
        ctx.reply_int(d.created as i64);
        ctx.reply_bulk(b"last_used");
        ctx.reply_int(d.last_used as i64);
        ctx.reply_bulk(b"expires");
        ctx.reply_int(d.expires.map_or(-1, |e| e as i64));
    }
    Ok(())
}

pub fn revoke(ctx: &Ctx, argv: &[&[u8]]) -> Result<()> {
    let [_, user, id] = argv else {
        return Err(Error::Arity);
    };
    let user = args::user(user)?;
    let store = Store::new(ctx, true);
    let index = store.index(user, true)?;
    store.require_complete(&index, user_slot(user))?;
    let Some(digest) = token::digest_from_id(id) else {
        ctx.reply_int(0);
        return Ok(());
    };
    // Only a member of this user's index: another user's id removes nothing.
    if index.key.zscore(&digest).is_none() {
        ctx.reply_int(0);
        return Ok(());
    }
    let removed = store.remove(&index, user_slot(user), &[digest], false)?;
    store.prune(&index);
    stats::REVOKED.add(removed);
    ctx.reply_int(removed as i64);
    Ok(())
}
