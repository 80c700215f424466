//! Which cluster slots this node serves, for the importing-slot rule (docs/DESIGN.md,
//! "Redis Cluster and resharding").
//!
//! Redis runs a command for a slot this node does not own only when the
//! client sent ASKING, i.e. while the slot is being imported here. Then a
//! user's keys may still be on their way, and a command that finds one
//! missing must answer TRYAGAIN rather than nil or a second index.
//!
//! Ownership is read from `CLUSTER NODES` and cached. The cache errs on the
//! safe side: ownership of a slot only changes at the very end of an import
//! (a stale view then says "not owned" and costs a retry), and it is re-read
//! at most every `MAX_AGE_MS`, or `RECHECK_MS` before answering TRYAGAIN, so
//! no client can make every request pay for a `CLUSTER NODES`.

use std::sync::Mutex;

use crate::ffi::{server, Ctx};
use crate::slot::SLOTS;

const MAX_AGE_MS: u64 = 1000;
const RECHECK_MS: u64 = 50;

struct View {
    fetched: u64,
    slots: Vec<SlotState>,
}

/// What this node is to a slot, from `CLUSTER NODES`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotState {
    /// Served here (by this master, or by the master this replica follows).
    Owned,
    /// Marked `[slot-<-node]` on this node: keys may still be on their way.
    Importing,
    /// Another node's: Redis redirects clients before the module runs.
    Elsewhere,
}

static VIEW: Mutex<Option<View>> = Mutex::new(None);

/// Each slot's state for this node (a replica sees its master's slots),
/// from `CLUSTER NODES` output. `None` when the text has no `myself` line.
pub fn slot_states(nodes: &str) -> Option<Vec<SlotState>> {
    let lines: Vec<Vec<&str>> = nodes
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|f| f.len() >= 8)
        .collect();
    let me = lines
        .iter()
        .find(|f| f[2].split(',').any(|flag| flag == "myself"))?;
    let is_replica = me[2]
        .split(',')
        .any(|flag| flag == "slave" || flag == "replica");
    let master = if is_replica {
        lines.iter().find(|f| f[0] == me[3])?
    } else {
        me
    };
    let mut states = vec![SlotState::Elsewhere; SLOTS];
    for range in &master[8..] {
        if let Some(marker) = range.strip_prefix('[') {
            // [slot-<-id] importing here; [slot->-id] migrating away (still ours).
            if let Some((slot, _)) = marker.split_once("-<-") {
                let slot = slot.parse::<usize>().ok()?;
                if slot < SLOTS {
                    states[slot] = SlotState::Importing;
                }
            }
            continue;
        }
        let (lo, hi) = match range.split_once('-') {
            Some((a, b)) => (a.parse::<usize>().ok()?, b.parse::<usize>().ok()?),
            None => {
                let s = range.parse::<usize>().ok()?;
                (s, s)
            }
        };
        if lo <= hi && lo < SLOTS {
            states[lo..=hi.min(SLOTS - 1)].fill(SlotState::Owned);
        }
    }
    Some(states)
}

fn fetch(ctx: &Ctx) -> Option<Vec<SlotState>> {
    slot_states(&server::cluster_nodes(ctx)?)
}

/// Whether `slot` may be being imported into this node: not owned here.
/// Commands declare argument 1 as their key, so Redis runs one for a slot
/// this node does not own only with ASKING on an importing slot; a slot
/// the cached view calls another node's is a view older than the
/// `IMPORTING` mark, and is treated as importing too (docs/DESIGN.md,
/// "Redis Cluster"). Always false outside cluster mode, and where
/// `CLUSTER NODES` cannot be read.
pub fn importing(ctx: &Ctx, slot: u16) -> bool {
    if !ctx.in_cluster() {
        return false;
    }
    let now = ctx.now_ms();
    let mut view = VIEW.lock().unwrap_or_else(|e| e.into_inner());
    let age = |v: &Option<View>| {
        v.as_ref()
            .map_or(u64::MAX, |v| now.saturating_sub(v.fetched))
    };
    let state = |v: &Option<View>| v.as_ref().map(|v| v.slots[slot as usize % SLOTS]);
    // Ownership changes at the very end of an import: a stale "importing"
    // is re-read after RECHECK_MS before it costs a client a retry.
    if age(&view) >= MAX_AGE_MS
        || (state(&view) != Some(SlotState::Owned) && age(&view) >= RECHECK_MS)
    {
        if let Some(slots) = fetch(ctx) {
            *view = Some(View {
                fetched: now,
                slots,
            });
        }
    }
    state(&view).is_some_and(|s| s != SlotState::Owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NODES: &str = "\
07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@31004 slave e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238317239 4 connected
67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 127.0.0.1:30002@31002 master - 0 1426238316232 2 connected 5461-10922
292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f 127.0.0.1:30003@31003 master - 0 1426238318243 3 connected 10923-16383 [100-<-67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1]
e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@31001 myself,master - 0 0 1 connected 0-5460 7000 [200->-292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f]
";

    fn owned_slots(text: &str) -> Option<Vec<bool>> {
        slot_states(text).map(|s| s.iter().map(|x| *x == SlotState::Owned).collect())
    }

    #[test]
    fn master_owns_its_ranges_and_single_slots() {
        let owned = owned_slots(NODES).expect("parsed");
        assert!(owned[0] && owned[5460] && owned[7000] && owned[200]);
        assert!(!owned[5461] && !owned[16383] && !owned[10923]);
    }

    #[test]
    fn replica_sees_its_masters_slots() {
        let text = NODES
            .replace("myself,master", "master")
            .replace(" slave e7d1", " myself,slave e7d1");
        let owned = owned_slots(&text).expect("parsed");
        assert!(owned[0] && owned[7000] && !owned[8000]);
    }

    #[test]
    fn importing_node_does_not_own_the_slot_yet() {
        let text = NODES
            .replace("myself,master", "master")
            .replace("30003@31003 master", "30003@31003 myself,master");
        let states = slot_states(&text).expect("parsed");
        assert_eq!(states[100], SlotState::Importing, "importing is not owning");
        assert_eq!(states[10923], SlotState::Owned);
        // Not owned and not importing: another node's slot.
        assert_eq!(states[0], SlotState::Elsewhere);
    }

    #[test]
    fn garbage_gives_no_view() {
        assert_eq!(slot_states(""), None);
        assert_eq!(slot_states("not cluster nodes output"), None);
        assert!(slot_states("id a myself,master - 0 0 1 connected x-y").is_none());
    }
}
