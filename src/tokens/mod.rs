//! A user's tokens, read from a `Storage` for the rules (`rules.rs`) and
//! changed as they decide: the steps the commands share. Reads come
//! first in each command; once one writes, nothing after it may fail on
//! what an earlier read could have found (docs/DESIGN.md, "Commands").
//! Refreshes are in `refresh.rs`, rotated devices in `rotation.rs`.

use crate::error::{Error, Result};
use crate::events::{Ended, Reason};
use crate::expiry::Policy;
use crate::record::Record;
use crate::rules::{self, Device, PRUNE_BATCH};
use crate::store::Storage;
use crate::token::Digest;

mod refresh;
mod rotation;

/// The first page of index members `first_live` reads records for.
const FIRST_LIVE_PAGE: usize = 16;

pub use rotation::MAX_HOPS;

/// One command's view of the tokens: storage, policy and clock.
pub struct Tokens<S> {
    pub store: S,
    pub policy: Policy,
    pub now: u64,
    /// With events on (`mtoken.events`), the devices this command ended,
    /// to publish once it succeeded; `None`: events off, nothing read
    /// for them.
    pub ended: Option<Vec<Ended>>,
}

/// What a user's index holds, read with each entry's record.
pub struct Scan {
    /// Live tokens, oldest created first.
    pub found: Vec<Device>,
    /// Members that are no token any more: entry gone, or past max-lifetime.
    pub dead: Vec<Digest>,
}

impl<S: Storage> Tokens<S> {
    pub fn new(store: S, policy: Policy, now: u64) -> Self {
        Tokens {
            store,
            policy,
            now,
            ended: None,
        }
    }

    /// A token's entry is missing: TRYAGAIN on a slot being imported (it
    /// may be on its way), else fine — the token is unknown.
    pub fn missing(&mut self, slot: u16) -> Result<()> {
        if self.store.importing(slot) {
            Err(Error::TryAgain)
        } else {
            Ok(())
        }
    }

    /// On an importing slot, TRYAGAIN unless the user's index and every
    /// live token entry it names have arrived; elsewhere, nothing to check.
    pub fn require_complete(&mut self, user: &[u8], slot: u16) -> Result<()> {
        if !self.store.importing(slot) {
            return Ok(());
        }
        if self.store.index(user)?.is_none() {
            return Err(Error::TryAgain);
        }
        for (digest, _) in self.members_from(user, self.now as f64, usize::MAX)? {
            if self.store.entry(slot, &digest)?.is_none() {
                return Err(Error::TryAgain);
            }
        }
        Ok(())
    }

    /// Up to `limit` members (digests) with a score of at least `min`, with
    /// their scores. Members that are not digests (not written by the
    /// module) are skipped.
    pub fn members_from(
        &mut self,
        user: &[u8],
        min: f64,
        limit: usize,
    ) -> Result<Vec<(Digest, f64)>> {
        let mut out = Vec::new();
        self.store.members(user, min, f64::INFINITY, &mut |m, s| {
            if let Ok(d) = Digest::try_from(m) {
                out.push((d, s));
            }
            out.len() < limit
        })?;
        Ok(out)
    }

    /// A token's device: `None` when its entry is gone, `Some(None)` when
    /// it is past max-lifetime. A value the module did not write is an error.
    fn device(&mut self, slot: u16, digest: &Digest) -> Result<Option<Option<Device>>> {
        let expires = self.store.entry_expires(slot, digest)?;
        let Some(value) = self.store.entry(slot, digest)? else {
            return Ok(None);
        };
        let rec = Record::decode(value).ok_or(Error::ForeignValue)?;
        Ok(Some(rules::device(
            &self.policy,
            self.now,
            *digest,
            &rec,
            expires,
        )))
    }

    /// Every live-by-score member with its entry's record: the live
    /// tokens, oldest created first, and the dead members.
    pub fn scan(&mut self, user: &[u8], slot: u16) -> Result<Scan> {
        let mut found = Vec::new();
        let mut dead = Vec::new();
        for (digest, _) in self.members_from(user, self.now as f64, usize::MAX)? {
            match self.device(slot, &digest)?.flatten() {
                Some(d) => found.push(d),
                None => dead.push(digest),
            }
        }
        rules::sort_devices(&mut found);
        Ok(Scan { found, dead })
    }

    /// Whether the user has a live token, and the dead members met before
    /// finding one, at most `PRUNE_BATCH`. Reads no record without a
    /// max-lifetime.
    pub fn first_live(&mut self, user: &[u8], slot: u16) -> Result<(bool, Vec<Digest>)> {
        if self.policy.max_lifetime == 0 {
            let mut live = false;
            self.store
                .members(user, self.now as f64, f64::INFINITY, &mut |m, _| {
                    live = Digest::try_from(m).is_ok();
                    !live
                })?;
            return Ok((live, Vec::new()));
        }
        // Members are read a page at a time, the page doubling: the first
        // live one ends the walk, so a user with N live tokens costs one
        // short page, not N (README, CREATE: O(log N) plus the dead
        // members met). Skipping the pages already read costs at most as
        // much again as reading them.
        let mut dead = Vec::new();
        let (mut skip, mut page) = (0usize, FIRST_LIVE_PAGE);
        loop {
            let mut batch = Vec::new();
            let mut seen = 0usize;
            self.store
                .members(user, self.now as f64, f64::INFINITY, &mut |m, _| {
                    seen += 1;
                    if seen > skip {
                        if let Ok(d) = Digest::try_from(m) {
                            batch.push(d);
                        }
                    }
                    seen < skip + page
                })?;
            for digest in &batch {
                if let Some(Some(_)) = self.device(slot, digest)? {
                    return Ok((true, dead));
                }
                if dead.len() < PRUNE_BATCH {
                    dead.push(*digest);
                }
            }
            if seen < skip + page {
                return Ok((false, dead)); // the index ended within this page
            }
            skip += page;
            page = page.saturating_mul(2);
        }
    }

    /// Remove stale index members (`rules::stale`), at most `PRUNE_BATCH`.
    pub fn prune(&mut self, user: &[u8]) -> Result<()> {
        let now = self.now;
        let mut stale: Vec<Vec<u8>> = Vec::new();
        self.store
            .members(user, f64::NEG_INFINITY, now as f64, &mut |m, s| {
                if rules::stale(s, now) {
                    stale.push(m.to_vec());
                }
                stale.len() < PRUNE_BATCH
            })?;
        if stale.is_empty() {
            return Ok(());
        }
        let members: Vec<&[u8]> = stale.iter().map(Vec::as_slice).collect();
        self.store.remove_members(user, &members)
    }

    /// Keep the index's TTL equal to its longest-lived token's expiry.
    pub fn sync_index_ttl(&mut self, user: &[u8]) -> Result<()> {
        let Some(max) = self.store.max_score(user)? else {
            return Ok(()); // empty: Redis deleted the key with its last member
        };
        let want = rules::index_expiry(max);
        match self.store.index(user)? {
            Some(info) if info.expires != want => self.store.expire_index(user, want),
            _ => Ok(()),
        }
    }

    /// The same after adding one member expiring at `added`, without a walk.
    pub fn sync_index_ttl_added(&mut self, user: &[u8], added: Option<u64>) -> Result<()> {
        let Some(info) = self.store.index(user)? else {
            return Ok(());
        };
        let want = rules::index_expiry_added(info.len, info.expires, added);
        if info.expires == want {
            return Ok(());
        }
        self.store.expire_index(user, want)
    }

    /// Delete tokens, entries and index members; returns how many live
    /// tokens went (one past max-lifetime is dead already and goes
    /// uncounted). `all` says the digests are every member of the index:
    /// then the index goes too, in the same `DEL`. Fails (WRONGTYPE) before
    /// writing anything if the index or an entry holds another type.
    /// With events on, each device removed is recorded as ended for
    /// `reason` (for `MaxLifetime` when it was past it already).
    pub fn remove(
        &mut self,
        user: &[u8],
        slot: u16,
        digests: &[Digest],
        all: bool,
        reason: Reason,
    ) -> Result<u64> {
        self.store.index(user)?; // type-checked before any write
        if digests.is_empty() {
            return Ok(0);
        }
        // Without a max-lifetime or events no value is read: reading a
        // short string through the module API reallocates it.
        let mut dead = 0;
        let mut ended = Vec::new();
        let events = self.ended.is_some();
        if self.policy.max_lifetime > 0 || events {
            let (policy, now) = (self.policy, self.now);
            for digest in digests {
                let Ok(Some(rec)) = self.store.entry(slot, digest) else {
                    continue;
                };
                let Some(rec) = Record::decode(rec) else {
                    continue;
                };
                let past = policy.past_deadline(rec.created, now);
                dead += past as usize;
                if events && rec.retired().is_none() {
                    ended.push(Ended {
                        user: user.to_vec(),
                        id: rec.device_id(digest),
                        reason: if past { Reason::MaxLifetime } else { reason },
                    });
                }
            }
        }
        let existed = self.store.delete(slot, digests, all.then_some(user))?;
        if let Some(out) = &mut self.ended {
            out.extend(ended);
        }
        if !all {
            let members: Vec<&[u8]> = digests.iter().map(|d| &d[..]).collect();
            self.store.remove_members(user, &members)?;
            self.sync_index_ttl(user)?;
        }
        Ok(existed.saturating_sub(dead) as u64)
    }

    /// Log tokens out: `remove`, then prune what else went stale.
    pub fn revoke(
        &mut self,
        user: &[u8],
        slot: u16,
        digests: &[Digest],
        all: bool,
        reason: Reason,
    ) -> Result<u64> {
        let removed = self.remove(user, slot, digests, all, reason)?;
        self.prune(user)?;
        Ok(removed)
    }
}
