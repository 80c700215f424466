//! Reads and writes on Redis's native types, and their replication
//! (SPEC, "Writes, replication, persistence").
//!
//! Every write made here is replicated right after it, as its effect: the
//! stored digests, values and absolute expiry times, never a command that
//! would re-draw randomness or re-read the clock. A command that changes
//! nothing replicates nothing. Redis wraps a command's several replicated
//! writes in MULTI/EXEC, so replicas and the AOF see them atomically.

use std::sync::RwLockReadGuard;

use crate::error::{Error, Result};
use crate::expiry::{self, Policy};
use crate::ffi::{Ctx, Key, Kind};
use crate::keys;
use crate::record::{self, Record, Ttl};
use crate::slot;
use crate::stats;
use crate::token::Digest;

/// A command's view of the token store: context, namespace, clock, policy.
pub struct Store<'a> {
    pub ctx: &'a Ctx,
    pub ns: RwLockReadGuard<'static, Vec<u8>>,
    pub now: u64,
    pub policy: Policy,
}

/// A user's index (sorted set of digests scored by expiry), opened.
pub struct Index {
    pub key: Key,
    pub name: Vec<u8>,
}

/// A token entry, opened.
pub struct Entry {
    pub key: Key,
    pub name: keys::EntryName,
}

fn ms(t: u64) -> Vec<u8> {
    t.to_string().into_bytes()
}

fn score_arg(expiry: Option<u64>) -> Vec<u8> {
    expiry.map_or_else(|| b"+inf".to_vec(), ms)
}

fn digest_of(member: &[u8]) -> Option<Digest> {
    member.try_into().ok()
}

impl<'a> Store<'a> {
    pub fn new(ctx: &'a Ctx) -> Self {
        Store {
            ctx,
            ns: crate::config::NAMESPACE.read(),
            now: ctx.now_ms(),
            policy: crate::config::policy(),
        }
    }

    /// Open a user's index; WRONGTYPE when the key holds another type.
    pub fn index(&self, user: &[u8], write: bool) -> Result<Index> {
        let name = keys::user_index(&self.ns, user);
        let key = self.ctx.open(&name, write);
        match key.kind() {
            Kind::Empty | Kind::Zset => Ok(Index { key, name }),
            _ => Err(Error::WrongType),
        }
    }

    /// Open a token entry; WRONGTYPE when the key holds another type.
    pub fn entry(&self, slot: u16, digest: &Digest, write: bool) -> Result<Entry> {
        let name = keys::token_entry(&self.ns, slot, digest);
        let key = self.ctx.open(&name, write);
        match key.kind() {
            Kind::Empty | Kind::String => Ok(Entry { key, name }),
            _ => Err(Error::WrongType),
        }
    }

    /// Whether `slot` is being imported into this node (SPEC, "Redis
    /// Cluster and resharding"): then a missing key may be on its way.
    pub fn importing(&self, slot: u16) -> bool {
        !crate::cluster::owns(self.ctx, slot)
    }

    /// On an importing slot, TRYAGAIN unless the user's index and every
    /// live token entry it names have arrived; elsewhere, nothing to check.
    pub fn require_complete(&self, index: &Index, slot: u16) -> Result<()> {
        if !self.importing(slot) {
            return Ok(());
        }
        if index.key.kind() == Kind::Empty {
            return Err(Error::TryAgain);
        }
        for (digest, _) in self.live_members(index) {
            if self.entry(slot, &digest, false)?.key.kind() == Kind::Empty {
                return Err(Error::TryAgain);
            }
        }
        Ok(())
    }

    /// WRONGTYPE (or a corrupt-value error) if any of these entries holds
    /// something the module did not write: checked before a command that
    /// will delete them writes anything.
    pub fn check_entries(&self, slot: u16, digests: &[Digest]) -> Result<()> {
        self.open_entries(slot, digests).map(|_| ())
    }

    /// Remove index members whose expiry has passed. Their entries expired
    /// with them (same absolute time), so only the index needs cleaning.
    pub fn prune(&self, index: &Index) {
        let mut stale = Vec::new();
        index
            .key
            .zrange_with(f64::NEG_INFINITY, self.now as f64, false, |m, s| {
                if s < self.now as f64 {
                    stale.push(m.to_vec());
                }
            });
        if stale.is_empty() {
            return;
        }
        for member in &stale {
            index.key.zrem(member);
        }
        let bound = [b"(".as_slice(), &ms(self.now)].concat();
        self.ctx
            .replicate(c"ZREMRANGEBYSCORE", &[&index.name, b"-inf", &bound]);
    }

    /// Keep the index's TTL equal to its longest-lived token's expiry, so a
    /// user whose tokens are all gone leaves no key behind.
    pub fn sync_index_ttl(&self, index: &Index) {
        let Some(max) = index.key.zmax() else {
            return; // empty: Redis deleted the key with its last member
        };
        let want = max.is_finite().then_some(max.max(0.0) as u64);
        self.set_index_ttl(index, want);
    }

    /// The same after adding one member with expiry `added`, without
    /// walking the index: its TTL already equals the old maximum.
    pub fn sync_index_ttl_added(&self, index: &Index, added: Option<u64>) {
        let want = if index.key.len() == 1 {
            added
        } else {
            match (index.key.expire_at(), added) {
                (Some(current), Some(added)) => Some(current.max(added)),
                _ => None, // an immortal member, old or new
            }
        };
        self.set_index_ttl(index, want);
    }

    fn set_index_ttl(&self, index: &Index, want: Option<u64>) {
        if index.key.expire_at() == want {
            return;
        }
        index.key.set_expire_at(want);
        match want {
            Some(at) => self.ctx.replicate(c"PEXPIREAT", &[&index.name, &ms(at)]),
            None => self.ctx.replicate(c"PERSIST", &[&index.name]),
        }
    }

    /// Write a new token entry and its index member.
    pub fn insert(
        &self,
        index: &Index,
        entry: &Entry,
        digest: &Digest,
        rec: &Record,
        expiry: Option<u64>,
    ) -> Result<()> {
        let value = rec.encode();
        if !entry.key.set_string(&value) {
            return Err(Error::Corrupt);
        }
        match expiry {
            Some(at) => {
                entry.key.set_expire_at(Some(at));
                self.ctx
                    .replicate(c"SET", &[&entry.name, &value, b"PXAT", &ms(at)]);
            }
            None => self.ctx.replicate(c"SET", &[&entry.name, &value]),
        }
        self.set_member(index, digest, expiry);
        Ok(())
    }

    fn set_member(&self, index: &Index, digest: &Digest, expiry: Option<u64>) {
        index.key.zadd(digest, expiry::score(expiry));
        self.ctx
            .replicate(c"ZADD", &[&index.name, &score_arg(expiry), digest]);
    }

    /// Give a token a new expiry, in its entry and in its index member.
    pub fn set_expiry(&self, index: &Index, entry: &Entry, digest: &Digest, expiry: Option<u64>) {
        entry.key.set_expire_at(expiry);
        match expiry {
            Some(at) => self.ctx.replicate(c"PEXPIREAT", &[&entry.name, &ms(at)]),
            None => self.ctx.replicate(c"PERSIST", &[&entry.name]),
        }
        self.set_member(index, digest, expiry);
    }

    /// Record a use of the token now (in place: the entry keeps its TTL).
    pub fn touch(&self, entry: &Entry) {
        let bytes = record::u48(self.now);
        if entry.key.write_at(record::LAST_USED_OFFSET, &bytes) {
            let offset = ms(record::LAST_USED_OFFSET as u64);
            self.ctx
                .replicate(c"SETRANGE", &[&entry.name, &offset, &bytes]);
        }
    }

    /// Open entries for writing, refusing (WRONGTYPE, before anything
    /// changes) any that holds another type than a string. The value is not
    /// read: reading a short string through the module API reallocates it.
    fn open_entries(&self, slot: u16, digests: &[Digest]) -> Result<Vec<Entry>> {
        digests.iter().map(|d| self.entry(slot, d, true)).collect()
    }

    /// Delete token entries and their index members; returns how many
    /// entries existed. `all` says the digests are every member of the
    /// index: then the index goes too, with the entries, in one `DEL`.
    /// Otherwise one DEL and one ZREM are replicated for the lot.
    pub fn remove(&self, index: &Index, slot: u16, digests: &[Digest], all: bool) -> Result<u64> {
        if digests.is_empty() {
            return Ok(0);
        }
        let entries = self.open_entries(slot, digests)?;
        let mut deleted: Vec<&[u8]> = Vec::with_capacity(digests.len() + 1);
        for entry in &entries {
            if entry.key.kind() != Kind::Empty {
                entry.key.delete();
                deleted.push(&entry.name);
            }
        }
        let existed = deleted.len() as u64;
        if all && index.key.kind() != Kind::Empty {
            index.key.delete();
            deleted.push(&index.name);
            self.ctx.replicate(c"DEL", &deleted);
            return Ok(existed);
        }
        if !deleted.is_empty() {
            self.ctx.replicate(c"DEL", &deleted);
        }
        let mut zrem: Vec<&[u8]> = vec![&index.name];
        zrem.extend(
            digests
                .iter()
                .filter(|d| index.key.zrem(&d[..]))
                .map(|d| &d[..]),
        );
        if zrem.len() > 1 {
            self.ctx.replicate(c"ZREM", &zrem);
        }
        self.sync_index_ttl(index);
        Ok(existed)
    }

    /// The index's members (digests) with their scores, live ones only.
    pub fn live_members(&self, index: &Index) -> Vec<(Digest, f64)> {
        self.members(index, self.now as f64)
    }

    /// Members (digests) with a score of at least `min`, with their scores.
    /// Members that are not digests (not written by the module) are skipped.
    pub fn members(&self, index: &Index, min: f64) -> Vec<(Digest, f64)> {
        let mut out = Vec::with_capacity(index.key.len());
        index.key.zrange_with(min, f64::INFINITY, false, |m, s| {
            if let Some(d) = digest_of(m) {
                out.push((d, s));
            }
        });
        out
    }

    /// Members and their entries' records, oldest created first. Members
    /// whose entry is gone are returned in `orphans`.
    pub fn devices(&self, index: &Index, slot: u16) -> Result<Devices> {
        let mut found = Vec::new();
        let mut orphans = Vec::new();
        for (digest, _) in self.live_members(index) {
            let entry = self.entry(slot, &digest, false)?;
            let Some(bytes) = entry.key.read() else {
                orphans.push(digest);
                continue;
            };
            let rec = Record::decode(bytes).ok_or(Error::Corrupt)?;
            if self.policy.past_deadline(rec.created, self.now) {
                orphans.push(digest);
                continue;
            }
            found.push(Device {
                digest,
                created: rec.created,
                last_used: rec.last_used,
                name: rec.name.map(|n| n.to_vec()),
                // A max-lifetime set after creation ends the token first.
                expires: self.policy.cap(rec.created, entry.key.expire_at()),
            });
        }
        found.sort_by_key(|d| (d.created, d.digest));
        Ok(Devices { found, orphans })
    }

    /// Slide a token's expiry (and its user's, in `user` mode) if due.
    /// Returns true when something was written. `rec` must not borrow the
    /// entry's value: writing `last used` may move it.
    pub fn refresh(&self, entry: &Entry, digest: &Digest, rec: &Record, slot: u16) -> Result<bool> {
        if !self.policy.due(rec.last_used, self.now) {
            return Ok(false);
        }
        let index = self.index(rec.user, true)?;
        if index.key.kind() == Kind::Empty {
            // No index to keep in step (e.g. it has not migrated here yet):
            // write nothing rather than start a second one.
            return Ok(false);
        }
        self.touch(entry);
        let mut changed = false;
        match self.policy.refresh {
            expiry::RefreshMode::None => {}
            expiry::RefreshMode::Token => {
                changed |= self.refresh_one(&index, entry, digest, rec.ttl, rec.created);
            }
            expiry::RefreshMode::User => {
                for (other, _) in self.live_members(&index) {
                    if &other == digest {
                        changed |= self.refresh_one(&index, entry, digest, rec.ttl, rec.created);
                        continue;
                    }
                    // Something else at an entry name is not ours to refresh.
                    let Ok(e) = self.entry(slot, &other, true) else {
                        continue;
                    };
                    let Some(r) = e.key.read().and_then(Record::decode) else {
                        continue;
                    };
                    let (ttl, created) = (r.ttl, r.created);
                    changed |= self.refresh_one(&index, &e, &other, ttl, created);
                }
            }
        }
        self.prune(&index);
        if changed {
            self.sync_index_ttl(&index);
            stats::REFRESHES.incr();
        }
        Ok(true)
    }

    fn refresh_one(
        &self,
        index: &Index,
        entry: &Entry,
        digest: &Digest,
        ttl: Ttl,
        created: u64,
    ) -> bool {
        let current = entry.key.expire_at();
        match self.policy.refreshed(ttl, created, current, self.now) {
            Some(next) => {
                self.set_expiry(index, entry, digest, next);
                true
            }
            None => false,
        }
    }
}

pub struct Device {
    pub digest: Digest,
    pub created: u64,
    pub last_used: u64,
    pub name: Option<Vec<u8>>,
    pub expires: Option<u64>,
}

pub struct Devices {
    pub found: Vec<Device>,
    pub orphans: Vec<Digest>,
}

/// The slot all of a user's keys live on.
pub fn user_slot(user: &[u8]) -> u16 {
    slot::key_slot(user)
}
