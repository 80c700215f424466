//! `MTOKEN.CREATE user [TTL seconds] [NAME label]` → `[token, first]`.

use crate::commands::args;
use crate::config;
use crate::error::{Error, Result};
use crate::ffi::{Ctx, Kind};
use crate::record::Record;
use crate::stats;
use crate::store::{user_slot, Store};
use crate::token;

pub fn create(ctx: &Ctx, argv: &[&[u8]]) -> Result<()> {
    if argv.len() < 2 {
        return Err(Error::Arity);
    }
    let user = args::user(argv[1])?;
    let opts = args::create_options(&argv[2..])?;
    let store = Store::new(ctx);
    let slot = user_slot(user);
    let index = store.index(user, true)?;
    store.require_complete(&index, slot)?;
    let prefix = config::PREFIX.get_bytes();

    // A digest collision (2^-120) would overwrite another token: draw again.
    let mut draws = 0;
    let (tok, digest, entry) = loop {
        let tok = token::generate(&prefix, slot).map_err(|_| Error::NoRandomness)?;
        let digest = token::digest(&tok);
        let entry = store.entry(slot, &digest, true)?;
        if entry.key.kind() == Kind::Empty {
            break (tok, digest, entry);
        }
        draws += 1;
        if draws == 3 {
            return Err(Error::NoRandomness);
        }
    };

    let limit = config::max_tokens();
    if limit > 0 && index.key.len() >= limit {
        // Eviction below deletes entries: check them before writing anything.
        let members: Vec<_> = store
            .live_members(&index)
            .into_iter()
            .map(|(d, _)| d)
            .collect();
        store.check_entries(slot, &members)?;
    }

    // Every check has passed: from here on the command writes.
    store.prune(&index);
    let first = index.key.len() == 0;
    let expiry = store.policy.initial(opts.ttl, store.now);
    let rec = Record {
        created: store.now,
        last_used: store.now,
        ttl: opts.ttl,
        user,
        name: opts.name,
    };
    store.insert(&index, &entry, &digest, &rec, expiry)?;
    drop(entry);

    if limit > 0 && index.key.len() > limit {
        let devices = store.devices(&index, slot)?;
        let mut doomed = devices.orphans;
        let older: Vec<_> = devices
            .found
            .iter()
            .filter(|d| d.digest != digest)
            .collect();
        let excess = (older.len() + 1).saturating_sub(limit);
        doomed.extend(older.iter().take(excess).map(|d| d.digest));
        let evicted = store.remove(&index, slot, &doomed, false)?;
        stats::EVICTED.add(evicted);
        store.sync_index_ttl(&index);
    } else {
        store.sync_index_ttl_added(&index, expiry);
    }
    stats::CREATED.incr();

    ctx.reply_array(2);
    ctx.reply_bulk(&tok);
    ctx.reply_int(first as i64);
    Ok(())
}
