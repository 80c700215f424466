//! `MTOKEN.ROTATE token [GRACE seconds]` → a new token for the same device,
//! or nil (docs/DESIGN.md, "Rotation").
//!
//! The old token's entry stays as a marker: it answers for `GRACE` seconds
//! (requests already in flight), and presenting it later is reuse, which
//! logs the whole device out.

use crate::commands::args::{self, Cursor};
use crate::config;
use crate::error::{Error, Result};
use crate::events::Reason;
use crate::ffi::Ctx;
use crate::record::{Record, Retired, Rotation, Scopes};
use crate::rules;
use crate::stats;
use crate::store::Storage;
use crate::token::{self, WellFormed};
use crate::tokens::Tokens;

pub fn rotate(ctx: &Ctx, argv: &[&[u8]]) -> Result<()> {
    let mut args = Cursor::new(argv);
    let tok = args.next_arg()?;
    let grace = args::grace_option(args.rest())?;
    // Before the store: a malformed token costs no clock or config read.
    let Some(tok) = WellFormed::check(tok) else {
        ctx.reply_null();
        return Ok(());
    };
    let prefix = config::PREFIX.read();
    let mut tokens = super::tokens(ctx, true);
    let rotated = run(&mut tokens, tok, grace, config::reuse_window(), |slot| {
        token::generate(&prefix, slot).map_err(|_| Error::NoRandomness)
    })?;
    match rotated {
        Rotated::New(token) => {
            stats::ROTATED.incr();
            ctx.reply_bulk(&token);
        }
        Rotated::Reused => {
            stats::REUSE.incr();
            ctx.reply_null();
        }
        Rotated::Ended => {
            stats::LIFETIME_ENDED.incr();
            ctx.reply_null();
        }
        Rotated::Unknown | Rotated::Replaced => ctx.reply_null(),
    }
    super::publish(ctx, &mut tokens);
    Ok(())
}

#[derive(Debug, PartialEq, Eq)]
pub enum Rotated {
    /// The new token.
    New(Vec<u8>),
    /// Unknown, expired or revoked: nothing written.
    Unknown,
    /// Already replaced, within its grace period: nothing written.
    Replaced,
    /// Already replaced, past its grace period: the device was logged out.
    Reused,
    /// Past max-lifetime: removed.
    Ended,
}

/// Replace `tok` by a token drawn by `fresh` for the same device: same
/// user, id, name, scopes, created time (so the same max-lifetime
/// deadline), a fresh TTL. The old entry becomes a marker that answers
/// for `grace` seconds and is kept at most `window` seconds.
pub fn run<S: Storage>(
    t: &mut Tokens<S>,
    tok: WellFormed,
    grace: u32,
    window: u64,
    mut fresh: impl FnMut(u16) -> Result<Vec<u8>>,
) -> Result<Rotated> {
    let slot = tok.slot();
    let digest = tok.digest();
    let (policy, now) = (t.policy, t.now);
    let old_expires = t.store.entry_expires(slot, &digest)?;
    let Some(value) = t.store.entry(slot, &digest)? else {
        t.missing(slot)?;
        return Ok(Rotated::Unknown);
    };
    let old = Record::decode(value).ok_or(Error::ForeignValue)?;
    let user = old.user.to_vec();
    let family = old.device_id(&digest);
    if policy.past_deadline(old.created, now) {
        t.require_complete(&user, slot)?;
        t.remove(&user, slot, &[digest], false, Reason::MaxLifetime)?;
        return Ok(Rotated::Ended);
    }
    if let Some(retired) = old.retired() {
        if now < retired.grace_end {
            return Ok(Rotated::Replaced);
        }
        t.end_family(&user, slot, &family, &digest, Reason::Reuse)?;
        return Ok(Rotated::Reused);
    }
    let plan = rules::rotation(&policy, now, &old, old_expires, grace, window);
    // Owned copies: the record borrows the store, which the next reads move.
    let (created, ttl) = (old.created, old.ttl);
    let name = old.name.map(<[u8]>::to_vec);
    let scopes = old.scopes.map(|s| s.bytes().to_vec());
    let last_used = old.last_used;

    // Decide everything before the first write.
    t.require_complete(&user, slot)?;
    let (token, next) = super::create::draw(t, slot, &mut fresh)?;
    let scopes = scopes.as_deref().and_then(Scopes::decode).map(|(s, _)| s);
    let record = |last_used, retired| Record {
        created,
        last_used,
        ttl,
        user: &user,
        name: name.as_deref(),
        scopes,
        rotation: Some(Rotation { family, retired }),
    };
    let current = record(now, None).encode();
    let marker = record(
        last_used,
        Some(Retired {
            successor: next,
            grace_end: plan.grace_end,
        }),
    )
    .encode();

    // From here on the command writes.
    t.prune(&user)?;
    t.store.put_entry(slot, &next, &current, plan.expires)?;
    t.store.add_member(&user, &next, plan.expires)?;
    t.store
        .put_entry(slot, &digest, &marker, Some(plan.marker_expires))?;
    t.store.remove_members(&user, &[&digest[..]])?;
    t.sync_index_ttl(&user)?;
    Ok(Rotated::New(token))
}
