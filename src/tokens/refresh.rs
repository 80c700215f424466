//! Sliding expiries on a due VERIFY (docs/DESIGN.md, "Expiry and refresh").

use super::Tokens;
use crate::error::Result;
use crate::record::{self, Record, Ttl};
use crate::rules::{self, Device, USER_REFRESH_BATCH};
use crate::store::Storage;
use crate::token::Digest;

/// A token read from its entry, for a refresh.
struct Slide {
    digest: Digest,
    ttl: Ttl,
    created: u64,
    expires: Option<u64>,
}

impl<S: Storage> Tokens<S> {
    /// Record a use of a token now and slide expiries as the policy says:
    /// the token's own, and in `user` mode up to `USER_REFRESH_BATCH` of
    /// the user's other tokens, the soonest-expiring first. Returns
    /// whether an expiry changed. Writes nothing when the user has no
    /// index (e.g. it has not migrated here yet): never a second one.
    pub fn refresh(&mut self, user: &[u8], slot: u16, digest: &Digest) -> Result<bool> {
        if self.store.index(user)?.is_none() {
            return Ok(false);
        }
        // Read everything first, then write.
        let Some(own) = self.slide(slot, digest)? else {
            return Ok(false);
        };
        let mut slides = vec![own];
        if rules::refreshes_others(&self.policy) {
            let others = self.members_from(user, self.now as f64, USER_REFRESH_BATCH + 1)?;
            for (other, _) in others {
                if other == *digest || slides.len() > USER_REFRESH_BATCH {
                    continue;
                }
                // Something else at an entry name is not ours to refresh.
                if let Ok(Some(s)) = self.slide(slot, &other) {
                    slides.push(s);
                }
            }
        }
        self.store.patch_entry(
            slot,
            digest,
            record::LAST_USED_OFFSET,
            &record::u48(self.now),
        )?;
        let mut changed = false;
        for s in &slides {
            let d = Device {
                digest: s.digest,
                id: s.digest,
                created: s.created,
                last_used: self.now,
                ttl: s.ttl,
                name: None,
                scopes: None,
                expires: s.expires,
            };
            if let Some(next) = rules::refreshed(&self.policy, self.now, &d, s.expires) {
                self.store.expire_entry(slot, &s.digest, next)?;
                self.store.add_member(user, &s.digest, next)?;
                changed = true;
            }
        }
        self.prune(user)?;
        if changed {
            self.sync_index_ttl(user)?;
        }
        Ok(changed)
    }

    fn slide(&mut self, slot: u16, digest: &Digest) -> Result<Option<Slide>> {
        let expires = self.store.entry_expires(slot, digest)?;
        let Some(rec) = self.store.entry(slot, digest)?.and_then(Record::decode) else {
            return Ok(None);
        };
        Ok(Some(Slide {
            digest: *digest,
            ttl: rec.ttl,
            created: rec.created,
            expires,
        }))
    }
}
