//! `Storage` over Redis keys, with replication of each write's effect
//! (docs/DESIGN.md, "Writes, replication, persistence").
//!
//! A command that changes nothing replicates nothing; Redis wraps a
//! command's several replicated writes in MULTI/EXEC, so replicas and the
//! AOF see them atomically. Keys are opened once per command and kept open:
//! the user's index, and the last token entry used.

use std::sync::RwLockReadGuard;

use super::replicate::Replication;
use super::{IndexInfo, Storage};
use crate::error::{Error, Result};
use crate::expiry;
use crate::ffi::{AclUser, Ctx, Kind, ReadKey, WriteKey};
use crate::keys::{self, EntryName};
use crate::token::Digest;

/// A key kept open, in the mode the command last needed.
enum Open<'c> {
    Read(ReadKey<'c>),
    Write(WriteKey<'c>),
}

impl<'c> Open<'c> {
    fn key(&self) -> &ReadKey<'c> {
        match self {
            Open::Read(k) => k,
            Open::Write(k) => k,
        }
    }
}

pub struct RedisStore<'c> {
    ctx: &'c Ctx,
    ns: RwLockReadGuard<'static, Vec<u8>>,
    /// The caller's ACL user, looked up with the first key opened (a
    /// malformed token opens none).
    acl: Option<Option<AclUser>>,
    /// The command may write: every key it opens needs read and update
    /// permission in the caller's ACL (else read).
    writes: bool,
    /// The user's index: its name and key.
    index: Option<(Vec<u8>, Open<'c>)>,
    entry: Option<((u16, Digest), EntryName, Open<'c>)>,
    /// Where each write goes once made (sent when the store is dropped,
    /// at the end of the command, in the batched mode).
    replication: Replication<'c>,
}

impl<'c> RedisStore<'c> {
    pub fn new(ctx: &'c Ctx, writes: bool) -> Self {
        RedisStore {
            ctx,
            ns: crate::config::NAMESPACE.read(),
            acl: None,
            writes,
            index: None,
            entry: None,
            replication: Replication::new(ctx),
        }
    }

    /// Open a key the caller's ACL lets this command use (the key specs
    /// declare no key names, so this is where `~pattern` grants apply).
    fn open(&mut self, name: &[u8], write: bool) -> Result<Open<'c>> {
        let ctx = self.ctx;
        let acl = self.acl.get_or_insert_with(|| ctx.acl_user()).as_ref();
        let open = if write {
            self.ctx.open_write(acl, name).map(Open::Write)
        } else {
            self.ctx.open_read(acl, name, self.writes).map(Open::Read)
        };
        open.ok_or(Error::NoPerm)
    }

    /// The user's index, opened (for writing with `write`) and type-checked.
    fn index_key(&mut self, user: &[u8], write: bool) -> Result<&mut Open<'c>> {
        let cached = matches!(&self.index, Some((name, open))
            if keys::is_index_of(name, &self.ns, user)
                && (!write || matches!(open, Open::Write(_))));
        if !cached {
            self.index = None; // close before reopening
            let name = keys::user_index(&self.ns, user);
            let open = self.open(&name, write)?;
            if !matches!(open.key().kind(), Kind::Empty | Kind::Zset) {
                return Err(Error::WrongType);
            }
            self.index = Some((name, open));
        }
        match &mut self.index {
            Some((_, open)) => Ok(open),
            None => Err(Error::WrongType),
        }
    }

    /// The user's index opened for writing, its name, and the replication
    /// its writes go to.
    #[allow(clippy::type_complexity)]
    fn index_write(
        &mut self,
        user: &[u8],
    ) -> Result<(&mut WriteKey<'c>, &[u8], &mut Replication<'c>)> {
        self.index_key(user, true)?;
        match &mut self.index {
            Some((name, Open::Write(k))) => Ok((k, name, &mut self.replication)),
            _ => Err(Error::WriteRefused),
        }
    }

    /// A token entry, opened (for writing with `write`) and type-checked.
    fn entry_key(&mut self, slot: u16, digest: &Digest, write: bool) -> Result<&mut Open<'c>> {
        let cached = matches!(&self.entry, Some((id, _, open))
            if *id == (slot, *digest) && (!write || matches!(open, Open::Write(_))));
        if !cached {
            self.entry = None;
            let name = keys::token_entry(&self.ns, slot, digest);
            let open = self.open(&name, write)?;
            if !matches!(open.key().kind(), Kind::Empty | Kind::String) {
                return Err(Error::WrongType);
            }
            self.entry = Some(((slot, *digest), name, open));
        }
        match &mut self.entry {
            Some((_, _, open)) => Ok(open),
            None => Err(Error::WrongType),
        }
    }

    fn entry_write(
        &mut self,
        slot: u16,
        digest: &Digest,
    ) -> Result<(&mut WriteKey<'c>, EntryName)> {
        self.entry_key(slot, digest, true)?;
        match &mut self.entry {
            Some((_, name, Open::Write(k))) => Ok((k, *name)),
            _ => Err(Error::WriteRefused),
        }
    }
}

impl Storage for RedisStore<'_> {
    fn importing(&mut self, slot: u16) -> bool {
        crate::cluster::importing(self.ctx, slot)
    }

    fn entry(&mut self, slot: u16, digest: &Digest) -> Result<Option<&[u8]>> {
        Ok(self.entry_key(slot, digest, false)?.key().read())
    }

    fn entry_expires(&mut self, slot: u16, digest: &Digest) -> Result<Option<u64>> {
        Ok(self.entry_key(slot, digest, false)?.key().expire_at())
    }

    fn entry_exists(&mut self, slot: u16, digest: &Digest) -> Result<bool> {
        Ok(self.entry_key(slot, digest, true)?.key().kind() != Kind::Empty)
    }

    fn index(&mut self, user: &[u8]) -> Result<Option<IndexInfo>> {
        let write = self.writes;
        let key = self.index_key(user, write)?.key();
        Ok((key.kind() != Kind::Empty).then(|| IndexInfo {
            len: key.len(),
            expires: key.expire_at(),
        }))
    }

    fn members(
        &mut self,
        user: &[u8],
        min: f64,
        max: f64,
        f: &mut dyn FnMut(&[u8], f64) -> bool,
    ) -> Result<()> {
        let write = self.writes;
        self.index_key(user, write)?.key().zrange_with(min, max, f);
        Ok(())
    }

    fn score(&mut self, user: &[u8], member: &[u8]) -> Result<Option<f64>> {
        let write = self.writes;
        Ok(self.index_key(user, write)?.key().zscore(member))
    }

    fn max_score(&mut self, user: &[u8]) -> Result<Option<f64>> {
        let write = self.writes;
        Ok(self.index_key(user, write)?.key().zmax())
    }

    fn put_entry(
        &mut self,
        slot: u16,
        digest: &Digest,
        value: &[u8],
        expires: Option<u64>,
    ) -> Result<()> {
        let expires = expiry::clamp(expires);
        let (key, name) = self.entry_write(slot, digest)?;
        key.set_string(value)?;
        if expires.is_some() {
            key.set_expire_at(expires)?;
        }
        self.replication.set(&name, value, expires);
        Ok(())
    }

    fn patch_entry(
        &mut self,
        slot: u16,
        digest: &Digest,
        offset: usize,
        bytes: &[u8],
    ) -> Result<()> {
        let (key, name) = self.entry_write(slot, digest)?;
        key.write_at(offset, bytes)?;
        self.replication.set_range(&name, offset as u32, bytes);
        Ok(())
    }

    fn expire_entry(&mut self, slot: u16, digest: &Digest, at: Option<u64>) -> Result<()> {
        let at = expiry::clamp(at);
        let (key, name) = self.entry_write(slot, digest)?;
        key.set_expire_at(at)?;
        self.replication.expire(&name, at);
        Ok(())
    }

    fn delete(&mut self, slot: u16, digests: &[Digest], index_of: Option<&[u8]>) -> Result<usize> {
        self.entry = None;
        // One handle per key: a second one would point at a deleted value.
        let unique: Vec<Digest>;
        let digests = if digests.len() > 1 {
            let mut sorted = digests.to_vec();
            sorted.sort_unstable();
            sorted.dedup();
            unique = sorted;
            &unique[..]
        } else {
            digests
        };
        // Open and check every key before deleting any.
        let mut found: Vec<(EntryName, WriteKey)> = Vec::with_capacity(digests.len());
        for digest in digests {
            let name = keys::token_entry(&self.ns, slot, digest);
            let Open::Write(key) = self.open(&name, true)? else {
                return Err(Error::WriteRefused);
            };
            match key.kind() {
                Kind::Empty => {}
                Kind::String => found.push((name, key)),
                _ => return Err(Error::WrongType),
            }
        }
        let index = match index_of {
            Some(user) => {
                self.index_write(user)?;
                self.index.take()
            }
            None => None,
        };
        let mut deleted: Vec<&[u8]> = Vec::with_capacity(found.len() + 1);
        for (name, key) in &mut found {
            key.delete()?;
            deleted.push(name);
        }
        let entries = deleted.len();
        let mut index = index;
        if let Some((name, Open::Write(key))) = &mut index {
            if key.kind() != Kind::Empty {
                key.delete()?;
                deleted.push(name);
            }
        }
        if !deleted.is_empty() {
            self.replication.del(&deleted);
        }
        Ok(entries)
    }

    fn add_member(&mut self, user: &[u8], digest: &Digest, expires: Option<u64>) -> Result<()> {
        let expires = expiry::clamp(expires);
        let (key, name, replication) = self.index_write(user)?;
        key.zadd(digest, expiry::score(expires))?;
        replication.zadd(name, expires, digest);
        Ok(())
    }

    fn remove_members(&mut self, user: &[u8], members: &[&[u8]]) -> Result<()> {
        let (key, name, replication) = self.index_write(user)?;
        let mut zrem: Vec<&[u8]> = Vec::with_capacity(members.len() + 1);
        zrem.push(name);
        for m in members {
            if key.zrem(m)? {
                zrem.push(m);
            }
        }
        if zrem.len() > 1 {
            replication.zrem(&zrem);
        }
        Ok(())
    }

    fn expire_index(&mut self, user: &[u8], at: Option<u64>) -> Result<()> {
        let at = expiry::clamp(at);
        let (key, name, replication) = self.index_write(user)?;
        key.set_expire_at(at)?;
        replication.expire(name, at);
        Ok(())
    }
}
