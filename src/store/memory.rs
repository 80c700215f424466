//! `Storage` in memory, for unit tests of the rules and commands without a
//! server: the same key names and value layout as `RedisStore`, a clock
//! for key expiry, a set of importing slots, and a log of the effects a
//! Redis store would replicate.

use std::collections::{BTreeMap, HashSet};

use super::{IndexInfo, Storage};
use crate::error::{Error, Result};
use crate::expiry;
use crate::keys;
use crate::token::Digest;

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Str(Vec<u8>),
    /// Members with their scores (kept in insertion order; read sorted).
    Zset(Vec<(Vec<u8>, f64)>),
    /// Any other type (a list, a hash, ...): for WRONGTYPE paths.
    Other,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Key {
    pub value: Value,
    pub expires: Option<u64>,
}

#[derive(Default)]
pub struct MemStore {
    pub ns: Vec<u8>,
    /// Keys whose expiry is at or before `now` are gone.
    pub now: u64,
    pub keys: BTreeMap<Vec<u8>, Key>,
    pub importing: HashSet<u16>,
    /// Each write as Redis would replicate it: command name and arguments.
    pub effects: Vec<Vec<Vec<u8>>>,
    /// Index members handed to `members` callbacks: how much of an index
    /// a command walked.
    pub visited: usize,
}

impl MemStore {
    pub fn new(now: u64) -> Self {
        MemStore {
            ns: b"mtoken".to_vec(),
            now,
            ..Default::default()
        }
    }

    /// The keys and how many effects were logged: what an error must not change.
    pub fn clone_state(&self) -> (BTreeMap<Vec<u8>, Key>, usize) {
        (self.keys.clone(), self.effects.len())
    }

    fn live(&self, name: &[u8]) -> Option<&Key> {
        self.keys
            .get(name)
            .filter(|k| k.expires.is_none_or(|e| e > self.now))
    }

    fn live_mut(&mut self, name: &[u8]) -> Option<&mut Key> {
        if self.live(name).is_none() {
            self.keys.remove(name); // expired: gone, as Redis would on access
        }
        self.keys.get_mut(name)
    }

    fn entry_name(&self, slot: u16, digest: &Digest) -> Vec<u8> {
        keys::token_entry(&self.ns, slot, digest).to_vec()
    }

    fn index_name(&self, user: &[u8]) -> Vec<u8> {
        keys::user_index(&self.ns, user)
    }

    fn effect(&mut self, parts: &[&[u8]]) {
        self.effects
            .push(parts.iter().map(|p| p.to_vec()).collect());
    }

    /// The index's members sorted by score then member, as Redis orders them.
    fn zset(&self, user: &[u8]) -> Result<Vec<(Vec<u8>, f64)>> {
        match self.live(&self.index_name(user)).map(|k| &k.value) {
            None => Ok(Vec::new()),
            Some(Value::Zset(m)) => {
                let mut m = m.clone();
                m.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
                Ok(m)
            }
            Some(_) => Err(Error::WrongType),
        }
    }

    fn zset_mut(&mut self, user: &[u8]) -> Result<&mut Vec<(Vec<u8>, f64)>> {
        let name = self.index_name(user);
        if self.live_mut(&name).is_none() {
            self.keys.insert(
                name.clone(),
                Key {
                    value: Value::Zset(Vec::new()),
                    expires: None,
                },
            );
        }
        match self.keys.get_mut(&name).map(|k| &mut k.value) {
            Some(Value::Zset(m)) => Ok(m),
            _ => Err(Error::WrongType),
        }
    }

    fn set_expiry(&mut self, name: Vec<u8>, at: Option<u64>) -> Result<()> {
        let at = expiry::clamp(at);
        let key = self.live_mut(&name).ok_or(Error::WriteRefused)?;
        key.expires = at;
        match at {
            Some(at) => self.effect(&[b"PEXPIREAT", &name, at.to_string().as_bytes()]),
            None => self.effect(&[b"PERSIST", &name]),
        }
        Ok(())
    }
}

impl Storage for MemStore {
    fn importing(&mut self, slot: u16) -> bool {
        self.importing.contains(&slot)
    }

    fn entry(&mut self, slot: u16, digest: &Digest) -> Result<Option<&[u8]>> {
        let name = self.entry_name(slot, digest);
        match self.live(&name).map(|k| &k.value) {
            None => Ok(None),
            Some(Value::Str(v)) => Ok(Some(v)),
            Some(_) => Err(Error::WrongType),
        }
    }

    fn entry_expires(&mut self, slot: u16, digest: &Digest) -> Result<Option<u64>> {
        self.entry(slot, digest)?;
        let name = self.entry_name(slot, digest);
        Ok(self.live(&name).and_then(|k| k.expires))
    }

    fn entry_exists(&mut self, slot: u16, digest: &Digest) -> Result<bool> {
        Ok(self.entry(slot, digest)?.is_some())
    }

    fn index(&mut self, user: &[u8]) -> Result<Option<IndexInfo>> {
        let name = self.index_name(user);
        match self.live(&name) {
            None => Ok(None),
            Some(Key {
                value: Value::Zset(m),
                expires,
            }) => Ok(Some(IndexInfo {
                len: m.len(),
                expires: *expires,
            })),
            Some(_) => Err(Error::WrongType),
        }
    }

    fn members(
        &mut self,
        user: &[u8],
        min: f64,
        max: f64,
        f: &mut dyn FnMut(&[u8], f64) -> bool,
    ) -> Result<()> {
        for (m, s) in self.zset(user)? {
            if s < min || s > max {
                continue;
            }
            self.visited += 1;
            if !f(&m, s) {
                break;
            }
        }
        Ok(())
    }

    fn score(&mut self, user: &[u8], member: &[u8]) -> Result<Option<f64>> {
        Ok(self
            .zset(user)?
            .iter()
            .find(|(m, _)| m == member)
            .map(|(_, s)| *s))
    }

    fn max_score(&mut self, user: &[u8]) -> Result<Option<f64>> {
        Ok(self.zset(user)?.last().map(|(_, s)| *s))
    }

    fn put_entry(
        &mut self,
        slot: u16,
        digest: &Digest,
        value: &[u8],
        expires: Option<u64>,
    ) -> Result<()> {
        let name = self.entry_name(slot, digest);
        let expires = expiry::clamp(expires);
        self.keys.insert(
            name.clone(),
            Key {
                value: Value::Str(value.to_vec()),
                expires,
            },
        );
        match expires {
            Some(at) => self.effect(&[b"SET", &name, value, b"PXAT", at.to_string().as_bytes()]),
            None => self.effect(&[b"SET", &name, value]),
        }
        Ok(())
    }

    fn patch_entry(
        &mut self,
        slot: u16,
        digest: &Digest,
        offset: usize,
        bytes: &[u8],
    ) -> Result<()> {
        let name = self.entry_name(slot, digest);
        match self.live_mut(&name).map(|k| &mut k.value) {
            Some(Value::Str(v)) if offset + bytes.len() <= v.len() => {
                v[offset..offset + bytes.len()].copy_from_slice(bytes);
            }
            _ => return Err(Error::WriteRefused),
        }
        self.effect(&[b"SETRANGE", &name, offset.to_string().as_bytes(), bytes]);
        Ok(())
    }

    fn expire_entry(&mut self, slot: u16, digest: &Digest, at: Option<u64>) -> Result<()> {
        let name = self.entry_name(slot, digest);
        self.set_expiry(name, at)
    }

    fn delete(&mut self, slot: u16, digests: &[Digest], index_of: Option<&[u8]>) -> Result<usize> {
        let mut names: Vec<Vec<u8>> = digests.iter().map(|d| self.entry_name(slot, d)).collect();
        names.sort();
        names.dedup();
        for name in &names {
            if matches!(self.live(name), Some(k) if !matches!(k.value, Value::Str(_))) {
                return Err(Error::WrongType);
            }
        }
        if let Some(user) = index_of {
            self.zset(user)?;
        }
        names.retain(|n| self.live(n).is_some());
        let entries = names.len();
        if let Some(user) = index_of {
            let index = self.index_name(user);
            if self.live(&index).is_some() {
                names.push(index);
            }
        }
        for name in &names {
            self.keys.remove(name);
        }
        if !names.is_empty() {
            let mut del: Vec<&[u8]> = vec![b"DEL"];
            del.extend(names.iter().map(Vec::as_slice));
            self.effect(&del);
        }
        Ok(entries)
    }

    fn add_member(&mut self, user: &[u8], digest: &Digest, expires: Option<u64>) -> Result<()> {
        let expires = expiry::clamp(expires);
        let score = expiry::score(expires);
        let set = self.zset_mut(user)?;
        match set.iter_mut().find(|(m, _)| m == digest) {
            Some(member) => member.1 = score,
            None => set.push((digest.to_vec(), score)),
        }
        let name = self.index_name(user);
        let score = expires.map_or_else(|| b"+inf".to_vec(), |t| t.to_string().into_bytes());
        self.effect(&[b"ZADD", &name, &score, digest]);
        Ok(())
    }

    fn remove_members(&mut self, user: &[u8], members: &[&[u8]]) -> Result<()> {
        let name = self.index_name(user);
        let mut removed: Vec<&[u8]> = vec![b"ZREM", &name];
        if let Some(Key {
            value: Value::Zset(set),
            ..
        }) = self.live_mut(&name)
        {
            for m in members {
                if let Some(pos) = set.iter().position(|(x, _)| x == m) {
                    set.remove(pos);
                    removed.push(m);
                }
            }
            if set.is_empty() {
                self.keys.remove(&name);
            }
        }
        if removed.len() > 2 {
            let removed: Vec<Vec<u8>> = removed.iter().map(|p| p.to_vec()).collect();
            self.effects.push(removed);
        }
        Ok(())
    }

    fn expire_index(&mut self, user: &[u8], at: Option<u64>) -> Result<()> {
        let name = self.index_name(user);
        self.set_expiry(name, at)
    }
}
