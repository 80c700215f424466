//! Rotated devices: following a replaced token's marker to the device's
//! current token, and logging a whole device out (docs/DESIGN.md,
//! "Rotation").

use super::Tokens;
use crate::error::Result;
use crate::events::Reason;
use crate::record::{Record, Retired};
use crate::store::Storage;
use crate::token::Digest;

/// At most this many replaced tokens are followed from a marker to the
/// device's current token (a grace period is short; chains are shorter).
pub const MAX_HOPS: usize = 8;

impl<S: Storage> Tokens<S> {
    /// The user's current tokens of a rotated device (`family`): read
    /// from every index member, O(N) for N tokens of the user.
    pub fn family(&mut self, user: &[u8], slot: u16, family: &Digest) -> Result<Vec<Digest>> {
        let mut found = Vec::new();
        for (digest, _) in self.members_from(user, f64::NEG_INFINITY, usize::MAX)? {
            let Some(rec) = self.store.entry(slot, &digest)?.and_then(Record::decode) else {
                continue;
            };
            if rec
                .rotation
                .is_some_and(|r| r.family == *family && r.retired.is_none())
            {
                found.push(digest);
            }
        }
        Ok(found)
    }

    /// Log out a rotated device (every current token of `family`) and
    /// delete the marker it was reached by; returns how many live tokens
    /// went. Reads everything first.
    pub fn end_family(
        &mut self,
        user: &[u8],
        slot: u16,
        family: &Digest,
        marker: &Digest,
        reason: Reason,
    ) -> Result<u64> {
        self.require_complete(user, slot)?;
        let doomed = self.family(user, slot, family)?;
        self.store.delete(slot, &[*marker], None)?;
        self.revoke(user, slot, &doomed, false, reason)
    }

    /// From a replaced token's marker, the device's current token, when
    /// the device still has one (followed through at most `MAX_HOPS`
    /// replaced tokens): the marker answers only while it does.
    pub fn current(
        &mut self,
        slot: u16,
        family: &Digest,
        mut retired: Retired,
    ) -> Result<Option<Digest>> {
        for _ in 0..MAX_HOPS {
            let next = retired.successor;
            let Some(value) = self.store.entry(slot, &next)? else {
                // Not there: on a slot being imported it may be on its
                // way (TRYAGAIN), as for any missing entry; else the
                // device is gone.
                self.missing(slot)?;
                return Ok(None);
            };
            let Some(rec) = Record::decode(value) else {
                return Ok(None);
            };
            if rec.rotation.is_none_or(|r| r.family != *family)
                || self.policy.past_deadline(rec.created, self.now)
            {
                return Ok(None);
            }
            match rec.retired() {
                None => return Ok(Some(next)),
                Some(r) => retired = r,
            }
        }
        Ok(None)
    }

    /// The token `EXPIREALL … EXCEPT` keeps: the one named, or, for a
    /// replaced token still within its grace (a request in flight), its
    /// device's current token, so "log out the others" never logs out the
    /// device asking.
    pub fn kept(&mut self, slot: u16, digest: Digest) -> Result<Digest> {
        let replaced = match self.store.entry(slot, &digest)? {
            Some(value) => Record::decode(value)
                .and_then(|r| r.retired().map(|retired| (r.device_id(&digest), retired))),
            None => None,
        };
        match replaced {
            Some((family, retired)) if self.now < retired.grace_end => {
                Ok(self.current(slot, &family, retired)?.unwrap_or(digest))
            }
            _ => Ok(digest),
        }
    }
}
