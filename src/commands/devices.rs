//! `MTOKEN.LIST user` (the user's devices) and `MTOKEN.REVOKE user id`
//! (log out the device a LIST showed, without its token).

use crate::commands::args::Cursor;
use crate::error::Result;
use crate::events::Reason;
use crate::ffi::Ctx;
use crate::keys;
use crate::rules::Device;
use crate::slot::key_slot;
use crate::store::Storage;
use crate::token;
use crate::tokens::Tokens;

pub fn list(ctx: &Ctx, argv: &[&[u8]]) -> Result<()> {
    let mut args = Cursor::new(argv);
    let user = args.next_user()?;
    args.done()?;
    let devices = run_list(&mut super::tokens(ctx, false), user)?;
    ctx.reply_array(devices.len());
    for d in &devices {
        ctx.reply_map(6);
        ctx.reply_bulk(b"id");
        ctx.reply_bulk(&token::id_of(&d.id));
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
        ctx.reply_bulk(b"scopes");
        match &d.scopes {
            Some(scopes) => {
                ctx.reply_array(scopes.len());
                for s in scopes {
                    ctx.reply_bulk(s);
                }
            }
            None => ctx.reply_null(),
        }
    }
    Ok(())
}

pub fn revoke(ctx: &Ctx, argv: &[&[u8]]) -> Result<()> {
    let mut args = Cursor::new(argv);
    let user = args.next_user()?;
    let id = args.next_arg()?;
    args.done()?;
    let mut tokens = super::tokens(ctx, true);
    let removed = run_revoke(&mut tokens, user, id)?;
    super::reply_revoked(ctx, removed);
    super::publish(ctx, &mut tokens);
    Ok(())
}

/// The user's live tokens, oldest first.
pub fn run_list<S: Storage>(t: &mut Tokens<S>, user: &[u8]) -> Result<Vec<Device>> {
    let slot = key_slot(user);
    t.store.index(user)?;
    t.require_complete(user, slot)?;
    Ok(t.scan(user, slot)?.found)
}

/// Remove the user's token with this LIST id; 1 if it was live, else 0.
/// Another user's id removes nothing. The id of a rotated device is its
/// family id, no index member: its current token is found by reading the
/// user's entries (O(N), for rotated devices only).
pub fn run_revoke<S: Storage>(t: &mut Tokens<S>, user: &[u8], id: &[u8]) -> Result<u64> {
    let slot = key_slot(user);
    t.store.index(user)?;
    t.require_complete(user, slot)?;
    let Some(digest) = token::digest_from_id(id) else {
        return Ok(0);
    };
    if t.store.score(user, &digest)?.is_none() {
        let family = t.family(user, slot, &digest)?;
        if family.is_empty() {
            return Ok(0);
        }
        return t.revoke(user, slot, &family, false, Reason::Revoke);
    }
    t.revoke(user, slot, &[digest], false, Reason::Revoke)
}

/// `MTOKEN.CHANNEL user`: the channel `mtoken.events` publishes the user's
/// events on (docs/DESIGN.md, "Events"). Reads no key.
pub fn channel(ctx: &Ctx, argv: &[&[u8]]) -> Result<()> {
    let mut args = Cursor::new(argv);
    let user = args.next_user()?;
    args.done()?;
    let ns = crate::config::NAMESPACE.read();
    ctx.reply_bulk(&keys::user_channel(&ns, user));
    Ok(())
}
