//! `MTOKEN.CREATE user [TTL seconds] [NAME label]` → `[token, first]`.

use crate::commands::args;
use crate::config;
use crate::error::{Error, Result};
use crate::ffi::{Ctx, Kind};
use crate::record::Record;
use crate::stats;
use crate::store::{user_slot, Entry, Store};
use crate::token::{self, Digest};

pub fn create(ctx: &Ctx, argv: &[&[u8]]) -> Result<()> {
    let [_, user, opts @ ..] = argv else {
        return Err(Error::Arity);
    };
    let user = args::user(user)?;
    let opts = args::create_options(opts)?;
    let store = Store::new(ctx, true);
    let slot = user_slot(user);
    let index = store.index(user, true)?;
    store.require_complete(&index, slot)?;
    let (tok, digest, entry) = draw(&store, slot)?;

    // Decide everything before the first write: an error reply must leave
    // the keyspace, replicas and the AOF as they were.
    let limit = config::max_tokens();
    let (first, doomed) = if limit > 0 && index.key.len() >= limit {
        // Evict the dead first, then the oldest live tokens over the limit.
        let scan = store.scan(&index, slot)?;
        let excess = (scan.found.len() + 1).saturating_sub(limit);
        let mut doomed = scan.dead;
        doomed.extend(scan.found.iter().take(excess).map(|d| d.digest));
        (scan.found.is_empty(), doomed)
    } else {
        let (live, dead) = store.first_live(&index, slot)?;
        (!live, dead)
    };
    let expiry = store.policy.initial(opts.ttl, store.now);
    let rec = Record {
        created: store.now,
        last_used: store.now,
        ttl: opts.ttl,
        user,
        name: opts.name,
    };

    // From here on the command writes.
    store.prune(&index);
    let removed = store.remove(&index, slot, &doomed, false)?;
    stats::EVICTED.add(removed);
    store.insert(&index, &entry, &digest, &rec, expiry)?;
    if doomed.is_empty() {
        store.sync_index_ttl_added(&index, expiry);
    } else {
        store.sync_index_ttl(&index);
    }
    stats::CREATED.incr();

    ctx.reply_array(2);
    ctx.reply_bulk(&tok);
    ctx.reply_int(first as i64);
    Ok(())
}

/// A new token whose entry name is free. A digest collision (2^-120)
/// would overwrite another token: draw again, at most three times.
fn draw(store: &Store, slot: u16) -> Result<(Vec<u8>, Digest, Entry)> {
    let prefix = config::PREFIX.get_bytes();
    for _ in 0..3 {
        let tok = token::generate(&prefix, slot).map_err(|_| Error::NoRandomness)?;
        let digest = token::digest(&tok);
        let entry = store.entry(slot, &digest, true)?;
        if entry.key.kind() == Kind::Empty {
            return Ok((tok, digest, entry));
        }
    }
    Err(Error::DigestCollisions)
}
