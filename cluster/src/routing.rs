//! What client commands need from the topology, rebuilt on every change so
//! the per-command check is one array lookup under a read lock.

use std::collections::HashMap;

use crate::state::State;
use crate::SLOT_COUNT;

/// No node.
pub const NONE: u16 = u16::MAX;

pub struct Routing {
    /// Slot → index in `addrs` of the primary serving it, or NONE.
    pub owner: Box<[u16]>,
    /// `ip:port` of each node, as -MOVED and -ASK name it.
    pub addrs: Vec<String>,
    pub me: u16,
    /// This node's primary when it is a replica (else `me`).
    pub my_primary: u16,
    /// Slot → node the slot is migrating to / importing from.
    pub migrating: HashMap<u16, u16>,
    pub importing: HashMap<u16, u16>,
    /// cluster_state:ok.
    pub ok: bool,
}

impl Routing {
    pub fn build(state: &State) -> Routing {
        let mut index = HashMap::with_capacity(state.nodes.len());
        let mut addrs = Vec::with_capacity(state.nodes.len());
        for n in state.nodes.values() {
            index.insert(n.id, addrs.len() as u16);
            addrs.push(format!("{}:{}", n.ip, n.port));
        }
        let idx = |id| index.get(id).copied().unwrap_or(NONE);
        // From each primary's slot bitmap (kept equal to `state.owner` by
        // `State::assign`): looking each slot's owner up in `index` cost
        // ~1 ms per rebuild, which redis-cli's reshard pays several times
        // per slot it moves.
        let mut owner = vec![NONE; SLOT_COUNT].into_boxed_slice();
        for n in state.nodes.values().filter(|n| !n.slots.is_empty()) {
            let i = idx(&n.id);
            for slot in n.slots.iter() {
                owner[slot as usize] = i;
            }
        }
        let me = idx(&state.myself);
        let my_primary = idx(&state.my_primary().id);
        Routing {
            owner,
            addrs,
            me,
            my_primary,
            migrating: state.migrating.iter().map(|(s, n)| (*s, idx(n))).collect(),
            importing: state.importing.iter().map(|(s, n)| (*s, idx(n))).collect(),
            ok: state.ok,
        }
    }

    /// Before any cluster state exists: nothing is served.
    pub fn empty() -> Routing {
        Routing {
            owner: vec![NONE; SLOT_COUNT].into_boxed_slice(),
            addrs: Vec::new(),
            me: NONE,
            my_primary: NONE,
            migrating: HashMap::new(),
            importing: HashMap::new(),
            ok: false,
        }
    }
}
