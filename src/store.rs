//! Reads and writes on Redis's native types, and their replication
//! (docs/DESIGN.md, "Writes, replication, persistence").
//!
//! Every write made here is replicated right after it, as its effect: the
//! stored digests, values and absolute expiry times, never a command that
//! would re-draw randomness or re-read the clock. A command that changes
//! nothing replicates nothing. Redis wraps a command's several replicated
//! writes in MULTI/EXEC, so replicas and the AOF see them atomically.

use std::sync::RwLockReadGuard;

use crate::error::{Error, Result};
use crate::expiry::{self, Policy};
use crate::ffi::{AclUser, Ctx, Key, Kind};
use crate::keys;
use crate::record::{self, Record, Ttl};
use crate::slot;
use crate::stats;
use crate::token::Digest;

/// At most this many stale index members are removed by one command, so
/// that one command's work and replication stay bounded (docs/DESIGN.md,
/// "Cost per command"); the rest go with the user's next writes.
pub const PRUNE_BATCH: usize = 1000;
/// At most this many of the user's other tokens are slid by one VERIFY in
/// `refresh-on-verify user` mode, the soonest-expiring first.
pub const USER_REFRESH_BATCH: usize = 100;

/// A command's view of the token store: context, namespace, clock, policy,
/// and the caller's ACL user that every key opened is checked against.
pub struct Store<'a> {
    pub ctx: &'a Ctx,
    pub ns: RwLockReadGuard<'static, Vec<u8>>,
    pub now: u64,
    pub policy: Policy,
    acl: Option<AclUser>,
    writes: bool,
}

/// What a user's index holds, read with each entry's record.
pub struct Scan {
    /// Live tokens, oldest created first.
    pub found: Vec<Device>,
    /// Members that are no token any more: entry gone, or past max-lifetime.
    pub dead: Vec<Digest>,
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
    /// `writes`: the command may write, so every key it opens needs read
    /// and write permission in the caller's ACL; otherwise read.
    pub fn new(ctx: &'a Ctx, writes: bool) -> Self {
        Store {
            ctx,
            ns: crate::config::NAMESPACE.read(),
            now: ctx.now_ms(),
            policy: crate::config::policy(),
            acl: ctx.acl_user(),
            writes,
        }
    }

    /// Open a key the caller's ACL lets this command use (the key specs
    /// declare no key names, so this is where `~pattern` grants apply).
    fn open(&self, name: &[u8], write: bool) -> Result<Key> {
        self.ctx
            .open_checked(self.acl.as_ref(), name, self.writes, write)
            .ok_or(Error::NoPerm)
    }

    /// Open a user's index; WRONGTYPE when the key holds another type.
    pub fn index(&self, user: &[u8], write: bool) -> Result<Index> {
        let name = keys::user_index(&self.ns, user);
        let key = self.open(&name, write)?;
        match key.kind() {
            Kind::Empty | Kind::Zset => Ok(Index { key, name }),
            _ => Err(Error::WrongType),
        }
    }

    /// Open a token entry; WRONGTYPE when the key holds another type.
    pub fn entry(&self, slot: u16, digest: &Digest, write: bool) -> Result<Entry> {
        let name = keys::token_entry(&self.ns, slot, digest);
        let key = self.open(&name, write)?;
        match key.kind() {
            Kind::Empty | Kind::String => Ok(Entry { key, name }),
            _ => Err(Error::WrongType),
        }
    }

    /// Whether `slot` is being imported into this node (docs/DESIGN.md, "Redis
    /// Cluster and resharding"): then a missing key may be on its way.
    pub fn importing(&self, slot: u16) -> bool {
        crate::cluster::importing(self.ctx, slot)
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

    /// Remove index members whose expiry has passed, at most `PRUNE_BATCH`
    /// of them. Their entries expired with them (same absolute time), so
    /// only the index needs cleaning. The members removed are replicated by
    /// name, so a replica removes exactly these.
    pub fn prune(&self, index: &Index) {
        let mut stale: Vec<Vec<u8>> = Vec::new();
        index
            .key
            .zrange_with(f64::NEG_INFINITY, self.now as f64, false, |m, s| {
                if s < self.now as f64 {
                    stale.push(m.to_vec());
                }
                stale.len() < PRUNE_BATCH
            });
        self.remove_members(index, stale.iter().map(Vec::as_slice));
    }

    /// ZREM these members and replicate the ones that were there.
    fn remove_members<'m>(&self, index: &'m Index, members: impl Iterator<Item = &'m [u8]>) {
        let mut zrem: Vec<&[u8]> = vec![&index.name];
        zrem.extend(members.filter(|m| index.key.zrem(m)));
        if zrem.len() > 1 {
            self.ctx.replicate(c"ZREM", &zrem);
        }
    }

    /// Keep the index's TTL equal to its longest-lived token's expiry, so a
    /// user whose tokens are all gone leaves no key behind.
    pub fn sync_index_ttl(&self, index: &Index) {
        let Some(max) = index.key.zmax() else {
            return; // empty: Redis deleted the key with its last member
        };
        self.set_index_ttl(index, expiry::from_score(max));
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
        let want = expiry::clamp(want);
        if index.key.expire_at() == want {
            return;
        }
        self.expire_key(&index.key, &index.name, want);
    }

    /// Apply an expiry to a key and replicate the value applied.
    fn expire_key(&self, key: &Key, name: &[u8], at: Option<u64>) {
        let at = expiry::clamp(at);
        key.set_expire_at(at);
        match at {
            Some(at) => self.ctx.replicate(c"PEXPIREAT", &[name, &ms(at)]),
            None => self.ctx.replicate(c"PERSIST", &[name]),
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
        let expiry = expiry::clamp(expiry);
        let value = rec.encode();
        if !entry.key.set_string(&value) {
            return Err(Error::WriteFailed);
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
        if index.key.zadd(digest, expiry::score(expiry)) {
            self.ctx
                .replicate(c"ZADD", &[&index.name, &score_arg(expiry), digest]);
        }
    }

    /// Give a token a new expiry, in its entry and in its index member.
    pub fn set_expiry(&self, index: &Index, entry: &Entry, digest: &Digest, expiry: Option<u64>) {
        let expiry = expiry::clamp(expiry);
        self.expire_key(&entry.key, &entry.name, expiry);
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
    /// changes) any that holds another type than a string.
    fn open_entries(&self, slot: u16, digests: &[Digest]) -> Result<Vec<Entry>> {
        digests.iter().map(|d| self.entry(slot, d, true)).collect()
    }

    /// Delete token entries and their index members; returns how many
    /// live tokens went (a token past max-lifetime is dead already and is
    /// removed uncounted). `all` says the digests are every member of the
    /// index: then the index goes too, with the entries, in one `DEL`.
    /// Otherwise one DEL and one ZREM are replicated for the lot.
    ///
    /// Fails (WRONGTYPE) before writing anything if an entry holds another
    /// type. Without a max-lifetime the values are not read: reading a
    /// short string through the module API reallocates it.
    pub fn remove(&self, index: &Index, slot: u16, digests: &[Digest], all: bool) -> Result<u64> {
        if digests.is_empty() {
            return Ok(0);
        }
        let entries = self.open_entries(slot, digests)?;
        let mut deleted: Vec<&[u8]> = Vec::with_capacity(digests.len() + 1);
        let mut live = 0;
        for entry in &entries {
            if entry.key.kind() == Kind::Empty {
                continue;
            }
            let dead = self.policy.max_lifetime > 0
                && entry
                    .key
                    .read()
                    .and_then(Record::decode)
                    .is_some_and(|r| self.policy.past_deadline(r.created, self.now));
            live += u64::from(!dead);
            entry.key.delete();
            deleted.push(&entry.name);
        }
        if all && index.key.kind() != Kind::Empty {
            index.key.delete();
            deleted.push(&index.name);
            self.ctx.replicate(c"DEL", &deleted);
            return Ok(live);
        }
        if !deleted.is_empty() {
            self.ctx.replicate(c"DEL", &deleted);
        }
        self.remove_members(index, digests.iter().map(|d| &d[..]));
        self.sync_index_ttl(index);
        Ok(live)
    }

    /// The index's members (digests) with their scores, live ones only.
    pub fn live_members(&self, index: &Index) -> Vec<(Digest, f64)> {
        self.members(index, self.now as f64, usize::MAX)
    }

    /// Up to `limit` members (digests) with a score of at least `min`, with
    /// their scores. Members that are not digests (not written by the
    /// module) are skipped.
    pub fn members(&self, index: &Index, min: f64, limit: usize) -> Vec<(Digest, f64)> {
        let mut out = Vec::with_capacity(index.key.len().min(limit));
        index.key.zrange_with(min, f64::INFINITY, false, |m, s| {
            if let Some(d) = digest_of(m) {
                out.push((d, s));
            }
            out.len() < limit
        });
        out
    }

    /// Whether the user has a live token, and the dead members (past
    /// max-lifetime, or entry gone) met before finding one, at most
    /// `PRUNE_BATCH`. Reads no record without a max-lifetime.
    pub fn first_live(&self, index: &Index, slot: u16) -> Result<(bool, Vec<Digest>)> {
        if self.policy.max_lifetime == 0 {
            return Ok((
                !self.members(index, self.now as f64, 1).is_empty(),
                Vec::new(),
            ));
        }
        let mut dead = Vec::new();
        for (digest, _) in self.live_members(index) {
            let past = self.with_record(slot, &digest, |_, rec| {
                self.policy.past_deadline(rec.created, self.now)
            })?;
            if past == Some(false) {
                return Ok((true, dead));
            }
            if dead.len() < PRUNE_BATCH {
                dead.push(digest);
            }
        }
        Ok((false, dead))
    }

    /// `f` of a token's entry and record, read-only; `None` when the entry
    /// is gone. A value there that the module did not write is an error.
    fn with_record<T>(
        &self,
        slot: u16,
        digest: &Digest,
        f: impl FnOnce(&Entry, &Record) -> T,
    ) -> Result<Option<T>> {
        let entry = self.entry(slot, digest, false)?;
        let Some(bytes) = entry.key.read() else {
            return Ok(None);
        };
        let rec = Record::decode(bytes).ok_or(Error::Corrupt)?;
        Ok(Some(f(&entry, &rec)))
    }

    /// Every live-by-score member with its entry's record: the live
    /// tokens, oldest created first, and the dead members. A value at an
    /// entry name that the module did not write is an error (before any
    /// write by the caller).
    pub fn scan(&self, index: &Index, slot: u16) -> Result<Scan> {
        let mut found = Vec::new();
        let mut dead = Vec::new();
        for (digest, _) in self.live_members(index) {
            let device = self.with_record(slot, &digest, |entry, rec| {
                (!self.policy.past_deadline(rec.created, self.now)).then(|| Device {
                    digest,
                    created: rec.created,
                    last_used: rec.last_used,
                    name: rec.name.map(|n| n.to_vec()),
                    // A max-lifetime set after creation ends the token first.
                    expires: self.policy.cap(rec.created, entry.key.expire_at()),
                })
            })?;
            match device.flatten() {
                Some(d) => found.push(d),
                None => dead.push(digest),
            }
        }
        found.sort_by_key(|d| (d.created, d.digest));
        Ok(Scan { found, dead })
    }

    /// Slide a token's expiry (and, in `user` mode, up to
    /// `USER_REFRESH_BATCH` of the user's other tokens) if due. Returns true
    /// when something was written. `rec` must not borrow the entry's value:
    /// writing `last used` may move it.
    pub fn refresh(&self, entry: &Entry, digest: &Digest, rec: &Record, slot: u16) -> Result<bool> {
        if !self.policy.due(rec.ttl, rec.last_used, self.now) {
            return Ok(false);
        }
        let index = self.index(rec.user, true)?;
        if index.key.kind() == Kind::Empty {
            // No index to keep in step (e.g. it has not migrated here yet):
            // write nothing rather than start a second one.
            return Ok(false);
        }
        // Read everything first, then write.
        let others = match self.policy.refresh {
            expiry::RefreshMode::User => self.refresh_batch(&index, slot, digest),
            _ => Vec::new(),
        };
        self.touch(entry);
        let mut changed = false;
        if self.policy.refresh != expiry::RefreshMode::None {
            changed |= self.refresh_one(&index, entry, digest, rec.ttl, rec.created);
        }
        for (e, d, ttl, created) in &others {
            changed |= self.refresh_one(&index, e, d, *ttl, *created);
        }
        self.prune(&index);
        if changed {
            self.sync_index_ttl(&index);
            stats::REFRESHES.incr();
        }
        Ok(true)
    }

    /// The user's other tokens a user-mode refresh slides: the
    /// soonest-expiring live ones, at most `USER_REFRESH_BATCH`. Something
    /// else at an entry name is not ours to refresh and is skipped.
    fn refresh_batch(
        &self,
        index: &Index,
        slot: u16,
        presented: &Digest,
    ) -> Vec<(Entry, Digest, Ttl, u64)> {
        let mut out = Vec::new();
        for (other, _) in self.members(index, self.now as f64, USER_REFRESH_BATCH + 1) {
            if &other == presented || out.len() == USER_REFRESH_BATCH {
                continue;
            }
            let Ok(e) = self.entry(slot, &other, true) else {
                continue;
            };
            let Some((ttl, created)) = e
                .key
                .read()
                .and_then(Record::decode)
                .map(|r| (r.ttl, r.created))
            else {
                continue;
            };
            out.push((e, other, ttl, created));
        }
        out
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

/// The slot all of a user's keys live on.
pub fn user_slot(user: &[u8]) -> u16 {
    slot::key_slot(user)
}
