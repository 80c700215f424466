//! `MTOKEN.CREATE user [TTL seconds] [NAME label] [SCOPE name ...]` →
//! `[token, first]`.

use crate::commands::args::{self, CreateOptions, Cursor};
use crate::config;
use crate::error::{Error, Result};
use crate::events::Reason;
use crate::ffi::Ctx;
use crate::record::{Record, Scopes};
use crate::rules::{self, Eviction};
use crate::stats;
use crate::store::Storage;
use crate::token::{self, Digest};
use crate::tokens::Tokens;

pub fn create(ctx: &Ctx, argv: &[&[u8]]) -> Result<()> {
    let mut args = Cursor::new(argv);
    let user = args.next_user()?;
    let opts = args::create_options(args.rest())?;
    let prefix = config::PREFIX.read();
    let mut tokens = super::tokens(ctx, true);
    let created = run(&mut tokens, user, &opts, config::max_tokens(), |slot| {
        token::generate(&prefix, slot).map_err(|_| Error::NoRandomness)
    })?;
    stats::EVICTED.add(created.evicted);
    stats::CREATED.incr();
    ctx.reply_array(2);
    ctx.reply_bulk(&created.token);
    ctx.reply_int(created.first as i64);
    super::publish(ctx, &mut tokens);
    Ok(())
}

pub struct Created {
    pub token: Vec<u8>,
    pub first: bool,
    /// Live tokens evicted to keep the user within the limit.
    pub evicted: u64,
}

/// Create a token for `user`, drawn by `fresh` for the user's slot,
/// keeping the user within `limit` live tokens (0: no limit).
pub fn run<S: Storage>(
    t: &mut Tokens<S>,
    user: &[u8],
    opts: &CreateOptions,
    limit: usize,
    mut fresh: impl FnMut(u16) -> Result<Vec<u8>>,
) -> Result<Created> {
    let slot = crate::slot::key_slot(user);
    let members = t.store.index(user)?.map_or(0, |i| i.len);
    t.require_complete(user, slot)?;
    let (token, digest) = draw(t, slot, &mut fresh)?;

    // Decide everything before the first write: an error reply must leave
    // the keyspace, replicas and the AOF as they were.
    let Eviction { first, doomed } = if rules::needs_eviction_scan(limit, members) {
        let scan = t.scan(user, slot)?;
        rules::evict(limit, &scan.found, scan.dead)
    } else {
        let (live, dead) = t.first_live(user, slot)?;
        Eviction {
            first: !live,
            doomed: dead,
        }
    };
    let expires = t.policy.initial(opts.ttl, t.now);
    let scopes = (!opts.scopes.is_empty()).then(|| Scopes::encode(&opts.scopes));
    let value = Record {
        created: t.now,
        last_used: t.now,
        ttl: opts.ttl,
        user,
        name: opts.name,
        scopes: scopes.as_deref().and_then(Scopes::decode).map(|(s, _)| s),
        rotation: None,
    }
    .encode();

    // From here on the command writes.
    t.prune(user)?;
    let evicted = t.remove(user, slot, &doomed, false, Reason::Evicted)?;
    t.store.put_entry(slot, &digest, &value, expires)?;
    t.store.add_member(user, &digest, expires)?;
    if doomed.is_empty() {
        t.sync_index_ttl_added(user, expires)?;
    } else {
        t.sync_index_ttl(user)?;
    }
    Ok(Created {
        token,
        first,
        evicted,
    })
}

/// A new token whose entry name is free. A digest collision (2^-120)
/// would overwrite another token: draw again, at most three times.
pub(super) fn draw<S: Storage>(
    t: &mut Tokens<S>,
    slot: u16,
    fresh: &mut impl FnMut(u16) -> Result<Vec<u8>>,
) -> Result<(Vec<u8>, Digest)> {
    for _ in 0..3 {
        let tok = fresh(slot)?;
        let digest = token::digest(&tok);
        if !t.store.entry_exists(slot, &digest)? {
            return Ok((tok, digest));
        }
    }
    Err(Error::DigestCollisions)
}
