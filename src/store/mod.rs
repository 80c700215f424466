//! Storage: the small interface the token rules are applied through
//! (docs/DESIGN.md, "Code layout"). A user's tokens are a sorted-set index
//! of digests scored by expiry, and one string entry per token; this trait
//! reads and writes them by user and by (slot, digest), never by raw key.
//!
//! `redis::RedisStore` is the implementation over Redis keys: it checks
//! ACL permissions and types, and replicates each write as its effect.
//! `memory::MemStore` (tests only) keeps the same layout in a map and logs
//! the effects, so the rules can be tested without a server.

use crate::error::Result;
use crate::token::Digest;

pub mod redis;
pub mod replay;
mod replicate;

#[cfg(test)]
pub mod memory;

/// A user's index, when it exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexInfo {
    /// Members, live or not.
    pub len: usize,
    /// The index key's own expiry.
    pub expires: Option<u64>,
}

/// Reads and writes of one command. Reads that find another type than the
/// layout's answer `WrongType`, keys the caller's ACL user may not use
/// `NoPerm`, before anything is written. Every write is replicated, as the
/// effect applied: values and absolute times, never a command that would
/// re-draw randomness or re-read the clock.
pub trait Storage {
    /// Whether `slot` may be being imported into this node, so that a
    /// missing key may still be on its way (docs/DESIGN.md, "Redis Cluster").
    fn importing(&mut self, slot: u16) -> bool;

    /// A token's entry value (its record); `None` when there is none.
    fn entry(&mut self, slot: u16, digest: &Digest) -> Result<Option<&[u8]>>;
    /// A token entry's expiry (read apart: VERIFY's hit path never needs it).
    fn entry_expires(&mut self, slot: u16, digest: &Digest) -> Result<Option<u64>>;
    /// Whether a token's entry exists (opened for writing: a command asks
    /// this before creating it).
    fn entry_exists(&mut self, slot: u16, digest: &Digest) -> Result<bool>;
    /// The user's index; `None` when there is none.
    fn index(&mut self, user: &[u8]) -> Result<Option<IndexInfo>>;
    /// Each index member with `min <= score <= max`, in score order, until
    /// `f` returns false.
    fn members(
        &mut self,
        user: &[u8],
        min: f64,
        max: f64,
        f: &mut dyn FnMut(&[u8], f64) -> bool,
    ) -> Result<()>;
    /// One member's score.
    fn score(&mut self, user: &[u8], member: &[u8]) -> Result<Option<f64>>;
    /// The highest score in the index.
    fn max_score(&mut self, user: &[u8]) -> Result<Option<f64>>;

    /// Write a token entry with its expiry (`SET … [PXAT]`).
    fn put_entry(
        &mut self,
        slot: u16,
        digest: &Digest,
        value: &[u8],
        expires: Option<u64>,
    ) -> Result<()>;
    /// Overwrite bytes of an entry in place, keeping its TTL (`SETRANGE`).
    fn patch_entry(
        &mut self,
        slot: u16,
        digest: &Digest,
        offset: usize,
        bytes: &[u8],
    ) -> Result<()>;
    /// Set or remove an entry's expiry (`PEXPIREAT` / `PERSIST`).
    fn expire_entry(&mut self, slot: u16, digest: &Digest, at: Option<u64>) -> Result<()>;
    /// Delete these entries, and with `index_of` that user's index too, in
    /// one `DEL`; returns how many entries existed. Checks every key's type
    /// before deleting any.
    fn delete(&mut self, slot: u16, digests: &[Digest], index_of: Option<&[u8]>) -> Result<usize>;
    /// Add a member to the user's index, or change its score (`ZADD`).
    fn add_member(&mut self, user: &[u8], digest: &Digest, expires: Option<u64>) -> Result<()>;
    /// Remove members from the user's index (`ZREM` of those that were there).
    fn remove_members(&mut self, user: &[u8], members: &[&[u8]]) -> Result<()>;
    /// Set or remove the index's expiry (`PEXPIREAT` / `PERSIST`).
    fn expire_index(&mut self, user: &[u8], at: Option<u64>) -> Result<()>;
}
