//! `MTOKEN.EXPIRE token` (log one device out) and
//! `MTOKEN.EXPIREALL user [EXCEPT token]` (log out everywhere, or everywhere
//! but here).

use crate::commands::args::{self, Cursor};
use crate::error::{Error, Result};
use crate::events::Reason;
use crate::ffi::Ctx;
use crate::record::Record;
use crate::slot::key_slot;
use crate::store::Storage;
use crate::token::{self, Digest, WellFormed};
use crate::tokens::Tokens;

pub fn expire(ctx: &Ctx, argv: &[&[u8]]) -> Result<()> {
    let mut args = Cursor::new(argv);
    let tok = args.next_arg()?;
    args.done()?;
    let mut tokens = super::tokens(ctx, true);
    let removed = match token::WellFormed::check(tok) {
        Some(tok) => run_expire(&mut tokens, tok)?,
        None => 0,
    };
    super::reply_revoked(ctx, removed);
    super::publish(ctx, &mut tokens);
    Ok(())
}

pub fn expire_all(ctx: &Ctx, argv: &[&[u8]]) -> Result<()> {
    let mut args = Cursor::new(argv);
    let user = args.next_user()?;
    let except = args::except_option(args.rest())?;
    // A malformed or foreign EXCEPT token matches none of the user's tokens.
    let keep = except
        .and_then(token::WellFormed::check)
        .map(WellFormed::digest);
    let mut tokens = super::tokens(ctx, true);
    let removed = run_expire_all(&mut tokens, user, keep)?;
    super::reply_revoked(ctx, removed);
    super::publish(ctx, &mut tokens);
    Ok(())
}

/// Remove one token; returns 1 if it was live, else 0. A replaced
/// token (rotation) logs its device out: the device's current token goes.
pub fn run_expire<S: Storage>(t: &mut Tokens<S>, tok: WellFormed) -> Result<u64> {
    let slot = tok.slot();
    let digest = tok.digest();
    let found = match t.store.entry(slot, &digest)? {
        Some(e) => {
            let rec = Record::decode(e).ok_or(Error::ForeignValue)?;
            let family = rec.retired().and(rec.rotation).map(|r| r.family);
            Some((rec.user.to_vec(), family))
        }
        None => None,
    };
    if let Some((user, Some(family))) = &found {
        return t.end_family(user, slot, family, &digest, Reason::Logout);
    }
    let Some((user, _)) = found else {
        t.missing(slot)?;
        return Ok(0);
    };
    t.require_complete(&user, slot)?;
    t.revoke(&user, slot, &[digest], false, Reason::Logout)
}

/// Remove every token of `user` but `keep`; returns how many were live.
pub fn run_expire_all<S: Storage>(
    t: &mut Tokens<S>,
    user: &[u8],
    keep: Option<Digest>,
) -> Result<u64> {
    let slot = key_slot(user);
    let total = t.store.index(user)?.map_or(0, |i| i.len);
    t.require_complete(user, slot)?;
    let keep = match keep {
        Some(digest) => Some(t.kept(slot, digest)?),
        None => None,
    };
    let doomed: Vec<Digest> = t
        .members_from(user, f64::NEG_INFINITY, usize::MAX)?
        .into_iter()
        .map(|(d, _)| d)
        .filter(|d| Some(*d) != keep)
        .collect();
    let all = doomed.len() == total;
    t.revoke(user, slot, &doomed, all, Reason::ExpireAll)
}
