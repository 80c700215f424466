//! `MTOKEN.VERIFY token [SCOPE name]` and `MTOKEN.VERIFY_RO token [SCOPE
//! name]`: the user, or nil.
//!
//! The hot path: a malformed token costs a checksum and no key read; a hit
//! costs one SHA-256, one key lookup and, at most once per
//! `refresh-interval`, one write. A scope check reads the same record; a
//! replaced token (rotation) costs a few more reads, and its reuse O(N).

use std::borrow::Cow;

use crate::commands::args::{self, Cursor};
use crate::error::{Error, Result};
use crate::events::Reason;
use crate::ffi::Ctx;
use crate::record::Record;
use crate::rules::{self, OnVerify};
use crate::stats;
use crate::store::Storage;
use crate::token::{self, WellFormed};
use crate::tokens::Tokens;

pub fn verify(ctx: &Ctx, argv: &[&[u8]]) -> Result<()> {
    handle(ctx, argv, true)
}

pub fn verify_ro(ctx: &Ctx, argv: &[&[u8]]) -> Result<()> {
    handle(ctx, argv, false)
}

fn handle(ctx: &Ctx, argv: &[&[u8]], may_write: bool) -> Result<()> {
    let mut args = Cursor::new(argv);
    let tok = args.next_arg()?;
    let name = if may_write {
        "MTOKEN.VERIFY"
    } else {
        "MTOKEN.VERIFY_RO"
    };
    let scope = args::scope_option(name, args.rest())?;
    // Before the store: a malformed token costs no clock or config read.
    let Some(tok) = token::WellFormed::check(tok) else {
        stats::VERIFY_MALFORMED.incr();
        ctx.reply_null();
        return Ok(());
    };
    let mut tokens = super::tokens(ctx, may_write);
    match run(&mut tokens, tok, may_write, scope)? {
        Verified::User { user, refreshed } => {
            stats::VERIFY_HITS.incr();
            if refreshed {
                stats::REFRESHES.incr();
            }
            ctx.reply_bulk(&user);
        }
        Verified::Unknown => {
            stats::VERIFY_MISSES.incr();
            ctx.reply_null();
        }
        Verified::Ended { removed } => {
            if removed {
                stats::LIFETIME_ENDED.incr();
            }
            stats::VERIFY_MISSES.incr();
            ctx.reply_null();
        }
        Verified::Denied => {
            stats::SCOPE_DENIED.incr();
            ctx.reply_null();
        }
        Verified::Reused => {
            stats::REUSE.incr();
            stats::VERIFY_MISSES.incr();
            ctx.reply_null();
        }
    }
    super::publish(ctx, &mut tokens);
    Ok(())
}

#[derive(Debug, PartialEq, Eq)]
pub enum Verified<'a> {
    /// The token's user; `refreshed`: an expiry was slid.
    User {
        user: Cow<'a, [u8]>,
        refreshed: bool,
    },
    /// Well-formed, but no such token (expired, revoked, never issued).
    Unknown,
    /// Past max-lifetime; `removed` when this call deleted it.
    Ended { removed: bool },
    /// The token does not hold the scope asked for.
    Denied,
    /// A replaced token presented after its grace period: its device was
    /// logged out when the call may write.
    Reused,
}

/// Verify a token (holding `scope`, when one is asked); with
/// `may_write`, record its use and slide expiries when due, remove it once
/// past max-lifetime, and log its device out on reuse of a replaced token.
pub fn run<'a, S: Storage>(
    t: &'a mut Tokens<S>,
    tok: WellFormed,
    may_write: bool,
    scope: Option<&[u8]>,
) -> Result<Verified<'a>> {
    let slot = tok.slot();
    let digest = tok.digest();
    let (policy, now) = (t.policy, t.now);
    let found = match t.store.entry(slot, &digest)? {
        None => None,
        Some(e) => {
            let rec = Record::decode(e).ok_or(Error::ForeignValue)?;
            Some(
                match rules::on_verify(&policy, &rec, now, may_write, scope) {
                    OnVerify::Answer => None,
                    on => Some((on, rec.user.to_vec(), rec.device_id(&digest))),
                },
            )
        }
    };
    let Some(next) = found else {
        t.missing(slot)?;
        return Ok(Verified::Unknown);
    };
    match next {
        // The common case: nothing to write, the user straight from the
        // value (the entry is still open).
        None => answer(t, slot, &digest),
        Some((OnVerify::Dead, user, _)) => {
            if may_write {
                // Dead already, so `remove` counts it as no live token.
                t.remove(&user, slot, &[digest], false, Reason::MaxLifetime)?;
            }
            Ok(Verified::Ended { removed: may_write })
        }
        Some((OnVerify::Denied, _, _)) => Ok(Verified::Denied),
        Some((OnVerify::Grace(retired), user, family)) => {
            Ok(match t.current(slot, &family, retired)? {
                Some(_) => Verified::User {
                    user: Cow::Owned(user),
                    refreshed: false,
                },
                None => Verified::Unknown,
            })
        }
        Some((OnVerify::Reused, user, family)) => {
            if may_write {
                t.end_family(&user, slot, &family, &digest, Reason::Reuse)?;
            }
            Ok(Verified::Reused)
        }
        Some((_, user, _)) => {
            let refreshed = t.refresh(&user, slot, &digest)?;
            Ok(Verified::User {
                user: Cow::Owned(user),
                refreshed,
            })
        }
    }
}

fn answer<'a, S: Storage>(
    t: &'a mut Tokens<S>,
    slot: u16,
    digest: &token::Digest,
) -> Result<Verified<'a>> {
    let Some(e) = t.store.entry(slot, digest)? else {
        return Ok(Verified::Unknown);
    };
    let rec = Record::decode(e).ok_or(Error::ForeignValue)?;
    Ok(Verified::User {
        user: Cow::Borrowed(rec.user),
        refreshed: false,
    })
}
