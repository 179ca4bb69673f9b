//! The cluster state machine of one node: the node table, slot ownership,
//! epochs, gossip, failure detection and the admin operations of CLUSTER.
//! Pure: time comes in as `now` (unix ms), messages come in decoded and go
//! out through `outbox`; the bus does the I/O.

mod failover;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

use rand::seq::SliceRandom;

use crate::node::{flags, Node, NodeId, SlotSet};
use crate::wire::{Body, Gossip, Header, Kind, Message};
use crate::SLOT_COUNT;
pub use failover::FailoverMode;
#[cfg(test)]
use failover::MANUAL_TIMEOUT_MS;
use failover::{Election, Manual};

/// How long a forgotten node may not be re-added (CLUSTER FORGET).
pub const FORGET_BAN_MS: u64 = 60_000;
/// Failure reports older than this many node timeouts are stale.
const FAIL_REPORT_VALIDITY_MULT: u64 = 2;
/// A primary with slots stays FAIL at least this many node timeouts.
const FAIL_UNDO_TIME_MULT: u64 = 2;

pub struct State {
    pub myself: NodeId,
    pub nodes: HashMap<NodeId, Node>,
    /// Slot → owner.
    pub owner: Vec<Option<NodeId>>,
    pub migrating: BTreeMap<u16, NodeId>,
    pub importing: BTreeMap<u16, NodeId>,
    pub current_epoch: u64,
    pub last_vote_epoch: u64,
    banned: HashMap<NodeId, u64>,
    pub ok: bool,
    /// Primaries serving at least one slot.
    pub size: usize,
    pub sent: [u64; Kind::ALL.len()],
    pub received: [u64; Kind::ALL.len()],
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub node_timeout: u64,
    pub full_coverage: bool,
    /// cluster-link-sendbuf-limit: bytes a link may have queued (0: any).
    pub link_sendbuf_limit: u64,
    /// Links freed for passing it (total_cluster_links_buffer_limit_exceeded).
    pub links_buffer_limit_exceeded: u64,
    /// The configuration changed: nodes.conf must be rewritten.
    pub dirty_conf: bool,
    /// Slot owners, addresses, roles or the state changed: clients' routing
    /// must be rebuilt.
    pub dirty_routing: bool,
    /// Messages to send: to one node, or (None) to every connected node.
    pub outbox: Vec<(Option<NodeId>, Message)>,
    /// Slots this node served until a node with a newer config epoch took
    /// them: their keys must go (Redis's dirty slots).
    pub lost_slots: Vec<u16>,
    /// Slots this node's shard (it, or the primary it replicates) stopped
    /// serving, by any means: their shard channels' subscribers are
    /// unsubscribed (Redis's removeChannelsInSlot).
    pub unserved_slots: Vec<u16>,
    election: Election,
    manual: Option<Manual>,
}

/// A node's identity as configured on this process.
#[derive(Clone)]
pub struct Myself {
    pub ip: String,
    pub port: u16,
    pub cport: u16,
    pub region: String,
    pub zone: String,
}

impl State {
    pub fn new(me: &Myself, node_timeout: u64, full_coverage: bool) -> State {
        let id = NodeId::random();
        let mut node = Node::new(
            id,
            me.ip.clone(),
            me.port,
            me.cport,
            flags::MYSELF | flags::MASTER,
            0,
        );
        node.region = me.region.clone();
        node.zone = me.zone.clone();
        let mut state = State {
            myself: id,
            nodes: HashMap::from([(id, node)]),
            owner: vec![None; SLOT_COUNT],
            migrating: BTreeMap::new(),
            importing: BTreeMap::new(),
            current_epoch: 0,
            last_vote_epoch: 0,
            banned: HashMap::new(),
            ok: false,
            size: 0,
            sent: [0; Kind::ALL.len()],
            received: [0; Kind::ALL.len()],
            bytes_sent: 0,
            bytes_received: 0,
            node_timeout,
            full_coverage,
            link_sendbuf_limit: 0,
            links_buffer_limit_exceeded: 0,
            dirty_conf: true,
            dirty_routing: true,
            outbox: Vec::new(),
            lost_slots: Vec::new(),
            unserved_slots: Vec::new(),
            election: Election::default(),
            manual: None,
        };
        state.update_state();
        state
    }

    pub fn me(&self) -> &Node {
        &self.nodes[&self.myself]
    }

    fn me_mut(&mut self) -> &mut Node {
        self.nodes
            .get_mut(&self.myself)
            .expect("myself is in the table")
    }

    pub fn node(&self, id: &NodeId) -> Option<&Node> {
        self.nodes.get(id)
    }

    /// Looks a node up by the id a user typed.
    pub fn lookup(&self, id: &[u8]) -> Option<&Node> {
        NodeId::parse(id).and_then(|id| self.nodes.get(&id))
    }

    /// The primary whose slots this node serves or replicates.
    pub fn my_primary(&self) -> &Node {
        let me = self.me();
        me.master
            .and_then(|m| self.nodes.get(&m))
            .filter(|_| !me.is_master())
            .unwrap_or(me)
    }

    /// The config epoch shown for a node: a replica shows its primary's.
    pub fn node_epoch(&self, node: &Node) -> u64 {
        match node.master.and_then(|m| self.nodes.get(&m)) {
            Some(m) if node.has(flags::SLAVE) => m.config_epoch,
            _ => node.config_epoch,
        }
    }

    fn changed(&mut self) {
        self.dirty_conf = true;
        self.dirty_routing = true;
    }

    // ---- slot ownership ----

    fn assign(&mut self, slot: u16, to: Option<NodeId>) {
        let shard = self.my_primary().id;
        if self.owner[slot as usize] == Some(shard) && to != Some(shard) {
            self.unserved_slots.push(slot);
        }
        if let Some(old) = self.owner[slot as usize].take() {
            if let Some(n) = self.nodes.get_mut(&old) {
                n.slots.remove(slot);
            }
        }
        if let Some(id) = to {
            if let Some(n) = self.nodes.get_mut(&id) {
                n.slots.insert(slot);
                self.owner[slot as usize] = Some(id);
            }
        }
        self.changed();
    }

    fn clear_node_slots(&mut self, id: NodeId) {
        let slots: Vec<u16> = match self.nodes.get(&id) {
            Some(n) => n.slots.iter().collect(),
            None => return,
        };
        for s in slots {
            self.assign(s, None);
        }
    }

    /// CLUSTER ADDSLOTS / DELSLOTS (and their RANGE forms): all or nothing.
    pub fn add_del_slots(&mut self, slots: &[u16], del: bool) -> Result<(), String> {
        let mut seen = SlotSet::default();
        for &s in slots {
            let owned = self.owner[s as usize].is_some();
            if del && !owned {
                return Err(format!("ERR Slot {s} is already unassigned"));
            }
            if !del && owned {
                return Err(format!("ERR Slot {s} is already busy"));
            }
            if !seen.insert(s) {
                return Err(format!("ERR Slot {s} specified multiple times"));
            }
        }
        let me = self.myself;
        for &s in slots {
            if !del && self.importing.get(&s) == Some(&me) {
                self.importing.remove(&s);
            }
            self.assign(s, (!del).then_some(me));
        }
        self.broadcast_pong();
        self.update_state();
        Ok(())
    }

    /// CLUSTER SETSLOT. `keys_in_slot` is how many keys this node holds in
    /// the slot.
    pub fn set_slot(
        &mut self,
        slot: u16,
        action: SetSlot,
        keys_in_slot: usize,
    ) -> Result<(), String> {
        if !self.me().is_master() {
            return Err("ERR Please use SETSLOT only with masters.".into());
        }
        let me = self.myself;
        let target = |state: &State, id: &[u8], unknown: &str| -> Result<NodeId, String> {
            let node = state
                .lookup(id)
                .ok_or_else(|| format!("{unknown} {}", String::from_utf8_lossy(id)))?;
            if !node.is_master() {
                return Err("ERR Target node is not a master".into());
            }
            Ok(node.id)
        };
        match action {
            SetSlot::Migrating(id) => {
                if self.owner[slot as usize] != Some(me) {
                    return Err(format!("ERR I'm not the owner of hash slot {slot}"));
                }
                let to = target(self, &id, "ERR I don't know about node")?;
                self.migrating.insert(slot, to);
            }
            SetSlot::Importing(id) => {
                if self.owner[slot as usize] == Some(me) {
                    return Err(format!("ERR I'm already the owner of hash slot {slot}"));
                }
                let from = target(self, &id, "ERR I don't know about node")?;
                self.importing.insert(slot, from);
            }
            SetSlot::Stable => {
                self.migrating.remove(&slot);
                self.importing.remove(&slot);
            }
            SetSlot::Node(id) => {
                let to = target(self, &id, "ERR Unknown node")?;
                if self.owner[slot as usize] == Some(me) && to != me && keys_in_slot > 0 {
                    return Err(format!("ERR Can't assign hashslot {slot} to a different node while I still hold keys for this hash slot."));
                }
                if keys_in_slot == 0 {
                    self.migrating.remove(&slot);
                }
                // Taking over an imported slot: a new config epoch makes the
                // change win everywhere (Redis bumps without consensus).
                if to == me && self.importing.remove(&slot).is_some() {
                    self.bump_epoch();
                }
                self.assign(slot, Some(to));
                self.broadcast_pong();
            }
        }
        self.changed();
        self.update_state();
        Ok(())
    }

    /// CLUSTER BUMPEPOCH: a new config epoch unless ours is already the
    /// highest epoch known (Redis's bump without consensus). Returns
    /// (bumped, epoch).
    pub fn bump_epoch(&mut self) -> (bool, u64) {
        let mine = self.me().config_epoch;
        let max = self
            .nodes
            .values()
            .map(|n| n.config_epoch)
            .max()
            .unwrap_or(0)
            .max(self.current_epoch);
        if mine == 0 || mine != max {
            self.current_epoch += 1;
            let e = self.current_epoch;
            self.me_mut().config_epoch = e;
            self.changed();
            self.broadcast_pong();
            (true, e)
        } else {
            (false, mine)
        }
    }

    pub fn set_config_epoch(&mut self, epoch: i64) -> Result<(), String> {
        if epoch < 0 {
            return Err(format!("ERR Invalid config epoch specified: {epoch}"));
        }
        if self.nodes.len() > 1 {
            return Err("ERR The user can assign a config epoch only when the node does not know any other node.".into());
        }
        if self.me().config_epoch != 0 {
            return Err("ERR Node config epoch is already non-zero".into());
        }
        let epoch = epoch as u64;
        self.me_mut().config_epoch = epoch;
        self.current_epoch = self.current_epoch.max(epoch);
        self.changed();
        Ok(())
    }

    pub fn forget(&mut self, id: &[u8], now: u64) -> Result<(), String> {
        let node = self
            .lookup(id)
            .ok_or_else(|| format!("ERR Unknown node {}", String::from_utf8_lossy(id)))?;
        let id = node.id;
        if id == self.myself {
            return Err("ERR I tried hard but I can't forget myself...".into());
        }
        if self.me().has(flags::SLAVE) && self.me().master == Some(id) {
            return Err("ERR Can't forget my master!".into());
        }
        self.banned.insert(id, now + FORGET_BAN_MS);
        self.remove_node(id);
        self.update_state();
        Ok(())
    }

    fn remove_node(&mut self, id: NodeId) {
        self.clear_node_slots(id);
        self.migrating.retain(|_, n| *n != id);
        self.importing.retain(|_, n| *n != id);
        self.nodes.remove(&id);
        for n in self.nodes.values_mut() {
            n.fail_reports.retain(|(r, _)| *r != id);
        }
        self.changed();
    }

    /// CLUSTER REPLICATE. `keys` is the number of keys this node holds.
    pub fn replicate(&mut self, id: &[u8], keys: usize) -> Result<(), String> {
        let node = self
            .lookup(id)
            .ok_or_else(|| format!("ERR Unknown node {}", String::from_utf8_lossy(id)))?;
        let target = node.id;
        if target == self.myself {
            return Err("ERR Can't replicate myself".into());
        }
        if !node.is_master() {
            return Err("ERR I can only replicate a master, not a replica.".into());
        }
        let me = self.me();
        if me.is_master() && (!me.slots.is_empty() || keys != 0) {
            return Err(
                "ERR To set a master the node must be empty and without assigned slots.".into(),
            );
        }
        self.migrating.clear();
        self.importing.clear();
        self.election = Election::default();
        self.manual = None;
        let me = self.me_mut();
        me.flags = (me.flags & !flags::MASTER) | flags::SLAVE;
        me.master = Some(target);
        self.changed();
        self.broadcast_pong();
        self.update_state();
        Ok(())
    }

    /// CLUSTER RESET. `keys` is the number of keys this node holds.
    pub fn reset(&mut self, hard: bool, keys: usize) -> Result<(), String> {
        if self.me().is_master() && keys != 0 {
            return Err(
                "ERR CLUSTER RESET can't be called with master nodes containing keys".into(),
            );
        }
        let me = self.me_mut();
        me.flags = (me.flags & !flags::SLAVE) | flags::MASTER;
        me.master = None;
        self.migrating.clear();
        self.importing.clear();
        self.election = Election::default();
        self.manual = None;
        for s in 0..SLOT_COUNT as u16 {
            if self.owner[s as usize].is_some() {
                self.assign(s, None);
            }
        }
        let others: Vec<NodeId> = self
            .nodes
            .keys()
            .filter(|&&i| i != self.myself)
            .copied()
            .collect();
        for id in others {
            self.remove_node(id);
        }
        if hard {
            self.current_epoch = 0;
            self.last_vote_epoch = 0;
            let mut me = self.nodes.remove(&self.myself).expect("myself");
            me.config_epoch = 0;
            me.id = NodeId::random();
            self.myself = me.id;
            self.nodes.insert(me.id, me);
        }
        self.changed();
        self.update_state();
        Ok(())
    }

    pub fn count_failure_reports(&self, id: &[u8], now: u64) -> Result<usize, String> {
        let node = self
            .lookup(id)
            .ok_or_else(|| format!("ERR Unknown node {}", String::from_utf8_lossy(id)))?;
        let validity = self.node_timeout * FAIL_REPORT_VALIDITY_MULT;
        Ok(node
            .fail_reports
            .iter()
            .filter(|(_, t)| now.saturating_sub(*t) <= validity)
            .count())
    }

    /// The replicas of a primary (CLUSTER REPLICAS).
    pub fn replicas_of(&self, id: &[u8]) -> Result<Vec<&Node>, String> {
        let node = self
            .lookup(id)
            .ok_or_else(|| format!("ERR Unknown node {}", String::from_utf8_lossy(id)))?;
        if !node.is_master() {
            return Err("ERR The specified node is not a master".into());
        }
        let mut out: Vec<&Node> = self
            .nodes
            .values()
            .filter(|n| n.has(flags::SLAVE) && n.master == Some(node.id))
            .collect();
        out.sort_by_key(|n| n.id);
        Ok(out)
    }

    // ---- messages ----

    /// This node's header for a message of `kind`.
    pub fn header(&self, kind: Kind) -> Header<'_> {
        let me = self.me();
        let primary = self.my_primary();
        Header {
            kind,
            sender: me.id,
            current_epoch: self.current_epoch,
            config_epoch: primary.config_epoch,
            flags: me.flags & flags::ANNOUNCED,
            mflags: self.mflags(kind),
            master: me.master.filter(|_| !me.is_master()),
            ip: Cow::Borrowed(&me.ip),
            port: me.port,
            cport: me.cport,
            region: Cow::Borrowed(&me.region),
            zone: Cow::Borrowed(&me.zone),
            slots: Cow::Borrowed(&primary.slots),
        }
    }

    pub fn message(&self, kind: Kind, body: Body) -> Message {
        self.header(kind).message(body)
    }

    /// Counts a PUBLISH that came over the bus; true when it is to be
    /// delivered: only a known node's, past the handshake, as in Redis.
    pub fn accept_publish(&mut self, msg: &Message, len: usize) -> bool {
        self.received[Kind::Publish as usize] += 1;
        self.bytes_received += len as u64;
        msg.head.sender != self.myself
            && self
                .nodes
                .get(&msg.head.sender)
                .is_some_and(|n| !n.has(flags::HANDSHAKE))
    }

    /// PING / PONG / MEET for `to`, with gossip about a few other nodes and
    /// about every node we consider failing (Redis's choice of entries).
    pub fn ping(&mut self, kind: Kind, to: Option<NodeId>, now: u64) -> Message {
        let candidates: Vec<&Node> = self
            .nodes
            .values()
            .filter(|n| {
                n.id != self.myself && Some(n.id) != to && !n.has(flags::HANDSHAKE | flags::NOADDR)
            })
            .collect();
        let wanted = (self.nodes.len() / 10).max(3).min(candidates.len());
        let mut rng = rand::thread_rng();
        let mut chosen: Vec<&Node> = candidates
            .choose_multiple(&mut rng, wanted)
            .copied()
            .filter(|n| !n.has(flags::PFAIL))
            .collect();
        chosen.extend(candidates.iter().filter(|n| n.has(flags::PFAIL)));
        let gossip = chosen
            .iter()
            .map(|n| Gossip {
                id: n.id,
                ip: n.ip.clone(),
                port: n.port,
                cport: n.cport,
                flags: n.flags & !flags::MYSELF,
            })
            .collect();
        if kind == Kind::Ping {
            if let Some(n) = to.and_then(|id| self.nodes.get_mut(&id)) {
                if n.ping_sent == 0 {
                    n.ping_sent = now;
                }
            }
        }
        self.message(kind, Body::Gossip(gossip))
    }

    /// Tells every node about a configuration change now rather than at the
    /// next ping.
    fn broadcast_pong(&mut self) {
        let msg = self.ping(Kind::Pong, None, 0);
        self.outbox.push((None, msg));
    }

    fn is_banned(&mut self, id: &NodeId, now: u64) -> bool {
        match self.banned.get(id) {
            Some(&until) if until > now => true,
            Some(_) => {
                self.banned.remove(id);
                false
            }
            None => false,
        }
    }

    /// A node learned from a MEET or a MEET's answer.
    pub fn add_met(&mut self, msg: &Message, ip: &str, cport: u16, now: u64) {
        let mut node = Node::new(
            msg.head.sender,
            ip.to_string(),
            msg.head.port,
            cport,
            msg.head.flags & flags::ANNOUNCED,
            now,
        );
        node.pong_received = now;
        self.nodes.insert(msg.head.sender, node);
        self.changed();
    }

    /// Why a MEET from `msg`'s sender is refused, if it is.
    pub fn refuse_meet(&self, msg: &Message) -> Option<String> {
        let region = &self.me().region;
        (msg.head.region != *region).then(|| {
            format!(
                "ERR Can't meet a node of region '{}' from region '{region}': all nodes of a cluster share one region",
                msg.head.region
            )
        })
    }

    /// Handles a message that arrived on the bus from `peer_ip`, on a
    /// connection whose local address is `local_ip`. Returns the reply to
    /// send on the same connection, if any.
    pub fn process(
        &mut self,
        msg: &Message,
        peer_ip: &str,
        local_ip: &str,
        now: u64,
    ) -> Option<Message> {
        self.received[msg.head.kind as usize] += 1;
        if msg.head.sender == self.myself {
            // Our own MEET looped back (a node told to meet itself).
            return (msg.head.kind == Kind::Meet).then(|| self.ping(Kind::Pong, None, now));
        }
        let known = self.nodes.contains_key(&msg.head.sender);
        if msg.head.kind == Kind::Meet {
            if let Some(why) = self.refuse_meet(msg) {
                return Some(self.message(Kind::Reject, Body::Reject(why)));
            }
            if self.me().ip.is_empty() && !local_ip.is_empty() {
                self.me_mut().ip = local_ip.to_string();
                self.changed();
            }
            if !known {
                if self.is_banned(&msg.head.sender, now) {
                    return None;
                }
                let ip = if msg.head.ip.is_empty() {
                    peer_ip
                } else {
                    &msg.head.ip
                };
                self.add_met(msg, ip, msg.head.cport, now);
            }
        } else if !known {
            return None;
        }
        if msg.head.kind == Kind::Reject {
            // Our handshake was refused: that node is not for this cluster.
            self.banned.insert(msg.head.sender, now + FORGET_BAN_MS);
            self.remove_node(msg.head.sender);
            self.update_state();
            return None;
        }
        // Redis knows a node in handshake by a temporary name only: it
        // answers its PING or MEET and takes nothing else from it until the
        // PONG that ends the handshake. Its slots would otherwise count
        // before it is met, and vanish if the handshake times out.
        let sender = msg.head.sender;
        if self.nodes[&sender].has(flags::HANDSHAKE) && msg.head.kind != Kind::Pong {
            let answer = matches!(msg.head.kind, Kind::Ping | Kind::Meet);
            return answer.then(|| self.ping(Kind::Pong, Some(sender), now));
        }
        self.update_sender(msg, peer_ip);
        let reply = match (&msg.head.kind, &msg.body) {
            (Kind::Ping | Kind::Meet, _) => Some(self.ping(Kind::Pong, Some(msg.head.sender), now)),
            (Kind::Pong, _) => {
                self.pong_received(msg.head.sender, now);
                None
            }
            (Kind::Fail, Body::Fail(id)) => {
                if let Some(n) = self.nodes.get_mut(id).filter(|n| n.id != self.myself) {
                    if !n.has(flags::FAIL) {
                        n.flags = (n.flags | flags::FAIL) & !flags::PFAIL;
                        n.fail_time = now;
                        self.changed();
                    }
                }
                None
            }
            _ => None,
        };
        if let Body::Gossip(entries) = &msg.body {
            if !self.nodes[&msg.head.sender].has(flags::HANDSHAKE) {
                self.process_gossip(msg.head.sender, entries, now);
            }
        }
        self.failover_message(msg, now);
        self.update_state();
        reply
    }

    fn update_sender(&mut self, msg: &Message, peer_ip: &str) {
        if msg.head.current_epoch > self.current_epoch {
            self.current_epoch = msg.head.current_epoch;
            self.dirty_conf = true;
        }
        let ip = if msg.head.ip.is_empty() {
            peer_ip
        } else {
            &msg.head.ip
        };
        let id = msg.head.sender;
        let node = self.nodes.get_mut(&id).expect("sender is known");
        if node.ip != ip || node.port != msg.head.port || node.cport != msg.head.cport {
            node.ip = ip.to_string();
            node.port = msg.head.port;
            node.cport = msg.head.cport;
            self.dirty_conf = true;
            self.dirty_routing = true;
        }
        if node.region != msg.head.region || node.zone != msg.head.zone {
            node.region = msg.head.region.to_string();
            node.zone = msg.head.zone.to_string();
            self.dirty_conf = true;
        }
        let nofailover = msg.head.flags & flags::NOFAILOVER;
        if node.flags & flags::NOFAILOVER != nofailover {
            node.flags = (node.flags & !flags::NOFAILOVER) | nofailover;
            self.dirty_conf = true;
        }
        if msg.head.flags & flags::SLAVE != 0 {
            let was_master = node.is_master();
            if was_master || node.master != msg.head.master {
                node.flags = (node.flags & !flags::MASTER) | flags::SLAVE;
                node.master = msg.head.master;
                self.changed();
                if was_master {
                    self.clear_node_slots(id);
                }
            }
            return;
        }
        if !node.is_master() {
            node.flags = (node.flags & !flags::SLAVE) | flags::MASTER;
            node.master = None;
            self.changed();
        }
        let node = self.nodes.get_mut(&id).expect("sender is known");
        if node.config_epoch != msg.head.config_epoch {
            node.config_epoch = msg.head.config_epoch;
            self.dirty_conf = true;
        }
        if node.slots != *msg.head.slots {
            self.update_slots_from(id, msg);
        }
        // Two primaries with one config epoch: the one with the smaller id
        // takes a new epoch, so slot conflicts always have a winner.
        if self.me().is_master()
            && msg.head.config_epoch == self.me().config_epoch
            && id > self.myself
        {
            self.current_epoch += 1;
            let e = self.current_epoch;
            self.me_mut().config_epoch = e;
            self.changed();
            tracing::info!("config epoch collision with {id}: moved to config epoch {e}");
        }
    }

    /// A primary claims `msg.head.slots`: each slot it claims goes to it if it is
    /// unassigned or its owner's config epoch is older.
    fn update_slots_from(&mut self, sender: NodeId, msg: &Message) {
        let mut lost = 0;
        let mine = self.my_primary().id;
        let mut took_mine = false;
        for s in msg.head.slots.iter() {
            let owner = self.owner[s as usize];
            if owner == Some(sender) || self.importing.contains_key(&s) {
                continue;
            }
            let wins = match owner.and_then(|o| self.nodes.get(&o)) {
                None => true,
                Some(o) => o.config_epoch < msg.head.config_epoch,
            };
            if wins {
                took_mine |= owner == Some(mine);
                if owner == Some(self.myself) {
                    lost += 1;
                    self.migrating.remove(&s);
                    self.lost_slots.push(s);
                }
                self.assign(s, Some(sender));
            }
        }
        if lost > 0 {
            tracing::warn!("{lost} slots moved to {sender}, which has a newer config epoch");
        }
        if took_mine {
            self.follow_new_primary(sender);
        }
    }

    fn pong_received(&mut self, id: NodeId, now: u64) {
        let timeout = self.node_timeout;
        let node = self.nodes.get_mut(&id).expect("sender is known");
        node.pong_received = now;
        node.ping_sent = 0;
        let mut changed = node.has(flags::HANDSHAKE);
        node.flags &= !(flags::HANDSHAKE | flags::MEET);
        if node.has(flags::PFAIL) {
            node.flags &= !flags::PFAIL;
        } else if node.has(flags::FAIL) {
            // Redis's rule: a replica or a primary without slots is back at
            // once; a primary with slots after the undo time.
            let undo = !node.is_master()
                || node.slots.is_empty()
                || now.saturating_sub(node.fail_time) > timeout * FAIL_UNDO_TIME_MULT;
            if undo {
                node.flags &= !flags::FAIL;
                changed = true;
                tracing::info!("clear FAIL state for node {id}: it is reachable again");
            }
        }
        if changed {
            self.changed();
        }
    }

    fn process_gossip(&mut self, sender: NodeId, entries: &[Gossip], now: u64) {
        let sender_is_master = self.nodes[&sender].is_master();
        for g in entries {
            if g.id == self.myself {
                continue;
            }
            if let Some(node) = self.nodes.get_mut(&g.id) {
                if sender_is_master {
                    node.fail_reports.retain(|(r, _)| *r != sender);
                    if g.flags & (flags::PFAIL | flags::FAIL) != 0 {
                        node.fail_reports.push((sender, now));
                        self.mark_failing_if_needed(g.id, now);
                    }
                }
                continue;
            }
            if g.flags & flags::NOADDR != 0 || g.ip.is_empty() || self.is_banned(&g.id, now) {
                continue;
            }
            // A node we did not know: meet it ourselves.
            let node = Node::new(
                g.id,
                g.ip.clone(),
                g.port,
                g.cport,
                flags::HANDSHAKE | flags::MEET,
                now,
            );
            self.nodes.insert(g.id, node);
            self.changed();
        }
    }

    fn mark_failing_if_needed(&mut self, id: NodeId, now: u64) {
        let quorum = self.size / 2 + 1;
        let validity = self.node_timeout * FAIL_REPORT_VALIDITY_MULT;
        let me_master = self.me().is_master();
        let Some(node) = self.nodes.get_mut(&id) else {
            return;
        };
        if !node.has(flags::PFAIL) || node.has(flags::FAIL) {
            return;
        }
        node.fail_reports
            .retain(|(_, t)| now.saturating_sub(*t) <= validity);
        let failures = node.fail_reports.len() + me_master as usize;
        if failures < quorum {
            return;
        }
        node.flags = (node.flags | flags::FAIL) & !flags::PFAIL;
        node.fail_time = now;
        tracing::info!("marking node {id} as failing (quorum reached)");
        let msg = self.message(Kind::Fail, Body::Fail(id));
        self.outbox.push((None, msg));
        self.changed();
    }

    /// Redis's clusterCron, run 10 times a second: handshake timeouts,
    /// pings, PFAIL detection. Returns the nodes to ping now.
    pub fn cron(&mut self, now: u64, iteration: u64) -> Vec<NodeId> {
        let timeout = self.node_timeout;
        let handshake_timeout = timeout.max(1000);
        let expired: Vec<NodeId> = self
            .nodes
            .values()
            .filter(|n| {
                n.has(flags::HANDSHAKE) && now.saturating_sub(n.created) > handshake_timeout
            })
            .map(|n| n.id)
            .collect();
        for id in expired {
            self.remove_node(id);
        }
        self.banned.retain(|_, until| *until > now);
        let mut to_ping = Vec::new();
        // Once a second, the least recently heard of five random nodes.
        if iteration.is_multiple_of(10) {
            let candidates: Vec<&Node> = self
                .nodes
                .values()
                .filter(|n| {
                    n.id != self.myself
                        && n.connected
                        && n.ping_sent == 0
                        && !n.has(flags::HANDSHAKE)
                })
                .collect();
            if let Some(n) = candidates
                .choose_multiple(&mut rand::thread_rng(), 5)
                .min_by_key(|n| n.pong_received)
            {
                to_ping.push(n.id);
            }
        }
        let mut state_may_change = false;
        for n in self.nodes.values_mut() {
            if n.id == self.myself || n.has(flags::NOADDR | flags::HANDSHAKE) {
                continue;
            }
            if n.connected
                && n.ping_sent == 0
                && now.saturating_sub(n.pong_received) > timeout / 2
                && !to_ping.contains(&n.id)
            {
                to_ping.push(n.id);
            }
            if n.ping_sent != 0 && now.saturating_sub(n.ping_sent) > timeout && !n.is_failing() {
                tracing::debug!("*** NODE {} possibly failing", n.id);
                n.flags |= flags::PFAIL;
                state_may_change = true;
            }
        }
        if state_may_change || iteration.is_multiple_of(10) {
            self.update_state();
        }
        self.failover_cron(now);
        to_ping
    }

    /// A link to `id` could not be made: failure detection must still run,
    /// so count it as a ping that went unanswered (Redis does the same).
    pub fn link_failed(&mut self, id: &NodeId, now: u64) {
        if let Some(n) = self.nodes.get_mut(id) {
            n.connected = false;
            if n.ping_sent == 0 {
                n.ping_sent = now;
            }
        }
    }

    /// Recomputes cluster_state and cluster_size.
    pub fn update_state(&mut self) {
        let mut ok = true;
        if self.full_coverage {
            ok = self.owner.iter().all(|o| {
                o.and_then(|o| self.nodes.get(&o))
                    .is_some_and(|n| !n.has(flags::FAIL))
            });
        }
        let serving = self
            .nodes
            .values()
            .filter(|n| n.is_master() && !n.slots.is_empty());
        let (mut size, mut reachable) = (0, 0);
        for n in serving {
            size += 1;
            reachable += !n.is_failing() as usize;
        }
        if reachable < size / 2 + 1 {
            ok = false;
        }
        self.size = size;
        if ok != self.ok {
            tracing::info!("cluster state changed: {}", if ok { "ok" } else { "fail" });
            self.ok = ok;
            self.dirty_routing = true;
        }
    }

    // ---- rendering ----

    /// One CLUSTER NODES line (with `aux` for nodes.conf: region and zone).
    pub fn node_line(&self, n: &Node, conf: bool) -> String {
        let mut line = format!("{} {}", n.id, n.address());
        if conf {
            let _ = write!(
                line,
                ",,region={},zone={}",
                escape(&n.region),
                escape(&n.zone)
            );
        }
        let master = match n.master {
            Some(m) if n.has(flags::SLAVE) => m.to_string(),
            _ => "-".into(),
        };
        let myself = n.id == self.myself;
        let (ping, pong) = if myself || conf {
            (0, 0)
        } else {
            (n.ping_sent, n.pong_received)
        };
        let _ = write!(
            line,
            " {} {master} {ping} {pong} {} {}",
            n.flag_names(),
            self.node_epoch(n),
            if n.connected || myself {
                "connected"
            } else {
                "disconnected"
            }
        );
        for (a, b) in n.slots.ranges() {
            if a == b {
                let _ = write!(line, " {a}");
            } else {
                let _ = write!(line, " {a}-{b}");
            }
        }
        if myself {
            for (s, to) in &self.migrating {
                let _ = write!(line, " [{s}->-{to}]");
            }
            for (s, from) in &self.importing {
                let _ = write!(line, " [{s}-<-{from}]");
            }
        }
        line
    }

    fn sorted_nodes(&self) -> Vec<&Node> {
        let mut nodes: Vec<&Node> = self.nodes.values().collect();
        nodes.sort_by_key(|n| (n.id != self.myself, n.id));
        nodes
    }

    /// CLUSTER NODES.
    pub fn nodes_text(&self) -> String {
        let mut out = String::new();
        for n in self.sorted_nodes() {
            out.push_str(&self.node_line(n, false));
            out.push('\n');
        }
        out
    }

    /// The nodes.conf text.
    pub fn conf_text(&self) -> String {
        let mut out = String::new();
        for n in self
            .sorted_nodes()
            .into_iter()
            .filter(|n| !n.has(flags::HANDSHAKE))
        {
            out.push_str(&self.node_line(n, true));
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "vars currentEpoch {} lastVoteEpoch {}",
            self.current_epoch, self.last_vote_epoch
        );
        out
    }

    /// CLUSTER INFO.
    pub fn info_text(&self) -> String {
        let (mut assigned, mut pfail, mut fail) = (0, 0, 0);
        for o in self.owner.iter().flatten() {
            assigned += 1;
            match self.nodes.get(o) {
                Some(n) if n.has(flags::FAIL) => fail += 1,
                Some(n) if n.has(flags::PFAIL) => pfail += 1,
                _ => {}
            }
        }
        let mut out = format!(
            "cluster_state:{}\r\ncluster_slots_assigned:{assigned}\r\ncluster_slots_ok:{}\r\ncluster_slots_pfail:{pfail}\r\ncluster_slots_fail:{fail}\r\ncluster_known_nodes:{}\r\ncluster_size:{}\r\ncluster_current_epoch:{}\r\ncluster_my_epoch:{}\r\n",
            if self.ok { "ok" } else { "fail" },
            assigned - pfail - fail,
            self.nodes.len(),
            self.size,
            self.current_epoch,
            self.node_epoch(self.me()),
        );
        for (counts, dir) in [(&self.sent, "sent"), (&self.received, "received")] {
            for k in Kind::ALL {
                if counts[k as usize] > 0 {
                    let _ = write!(
                        out,
                        "cluster_stats_messages_{}_{dir}:{}\r\n",
                        k.name(),
                        counts[k as usize]
                    );
                }
            }
            let _ = write!(
                out,
                "cluster_stats_messages_{dir}:{}\r\n",
                counts.iter().sum::<u64>()
            );
        }
        let _ = write!(
            out,
            "cluster_stats_bytes_sent:{}\r\ncluster_stats_bytes_received:{}\r\ntotal_cluster_links_buffer_limit_exceeded:{}\r\n",
            self.bytes_sent, self.bytes_received, self.links_buffer_limit_exceeded
        );
        out
    }

    // ---- nodes.conf ----

    /// Rebuilds the state from a nodes.conf text. `me` overrides what this
    /// process is configured as (port, region …).
    pub fn load(
        text: &str,
        me: &Myself,
        node_timeout: u64,
        full_coverage: bool,
        now: u64,
    ) -> Result<State, String> {
        let mut state = State::new(me, node_timeout, full_coverage);
        state.nodes.clear();
        let mut myself = None;
        let mut open: Vec<(u16, bool, NodeId)> = Vec::new();
        let mut slots: Vec<(NodeId, u16, u16)> = Vec::new();
        for (lineno, line) in text.lines().enumerate() {
            let bad = |what: &str| format!("line {}: {what}: {line}", lineno + 1);
            let f: Vec<&str> = line.split(' ').filter(|s| !s.is_empty()).collect();
            if f.is_empty() {
                continue;
            }
            if f[0] == "vars" {
                for kv in f[1..].chunks(2) {
                    let v: u64 = kv
                        .get(1)
                        .and_then(|v| v.parse().ok())
                        .ok_or_else(|| bad("bad vars"))?;
                    match kv[0] {
                        "currentEpoch" => state.current_epoch = v,
                        "lastVoteEpoch" => state.last_vote_epoch = v,
                        _ => {}
                    }
                }
                continue;
            }
            if f.len() < 8 {
                return Err(bad("too few fields"));
            }
            let id = NodeId::parse(f[0].as_bytes()).ok_or_else(|| bad("bad node id"))?;
            let mut aux = f[1].split(',');
            let addr = aux.next().unwrap_or("");
            let (hostport, cport) = addr.rsplit_once('@').ok_or_else(|| bad("bad address"))?;
            let (ip, port) = hostport
                .rsplit_once(':')
                .ok_or_else(|| bad("bad address"))?;
            let port: u16 = port.parse().map_err(|_| bad("bad port"))?;
            let cport: u16 = cport.parse().map_err(|_| bad("bad bus port"))?;
            let mut node = Node::new(id, ip.to_string(), port, cport, 0, now);
            for kv in aux.skip(1) {
                match kv.split_once('=') {
                    Some(("region", v)) => node.region = unescape(v),
                    Some(("zone", v)) => node.zone = unescape(v),
                    _ => {}
                }
            }
            for name in f[2].split(',') {
                if let Some((bit, _)) = flags::NAMES.iter().find(|(_, n)| *n == name) {
                    node.flags |= bit;
                }
            }
            // Failure suspicion and handshakes do not survive a restart.
            node.flags &= !(flags::PFAIL | flags::HANDSHAKE | flags::MEET);
            if f[3] != "-" {
                node.master =
                    Some(NodeId::parse(f[3].as_bytes()).ok_or_else(|| bad("bad master id"))?);
            }
            node.config_epoch = f[6].parse().map_err(|_| bad("bad config epoch"))?;
            node.pong_received = now;
            if node.has(flags::MYSELF) {
                if myself.is_some() {
                    return Err(bad("two nodes flagged myself"));
                }
                myself = Some(id);
            }
            for s in &f[8..] {
                if let Some(inner) = s.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
                    let (slot, migrating, other) = if let Some((a, b)) = inner.split_once("->-") {
                        (a, true, b)
                    } else if let Some((a, b)) = inner.split_once("-<-") {
                        (a, false, b)
                    } else {
                        return Err(bad("bad open slot"));
                    };
                    let slot = parse_slot(slot).ok_or_else(|| bad("bad slot"))?;
                    let other =
                        NodeId::parse(other.as_bytes()).ok_or_else(|| bad("bad node id"))?;
                    open.push((slot, migrating, other));
                    continue;
                }
                let (a, b) = s.split_once('-').unwrap_or((s, s));
                match (parse_slot(a), parse_slot(b)) {
                    (Some(a), Some(b)) if a <= b => slots.push((id, a, b)),
                    _ => return Err(bad("bad slot")),
                }
            }
            state.nodes.insert(id, node);
        }
        let myself = myself.ok_or("no node is flagged myself")?;
        state.myself = myself;
        for (id, a, b) in slots {
            for s in a..=b {
                state.assign(s, Some(id));
            }
        }
        for (slot, migrating, other) in open {
            if state.nodes.contains_key(&other) {
                if migrating {
                    state.migrating.insert(slot, other);
                } else {
                    state.importing.insert(slot, other);
                }
            }
        }
        let node = state.me_mut();
        node.flags &= !flags::FAIL;
        node.port = me.port;
        node.cport = me.cport;
        node.region.clone_from(&me.region);
        node.zone.clone_from(&me.zone);
        if !me.ip.is_empty() {
            node.ip.clone_from(&me.ip);
        }
        state.changed();
        state.update_state();
        Ok(state)
    }
}

/// Region and zone are free text; in nodes.conf the characters that
/// separate fields are written as %XX.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | ',' | '=' | ' ' | '\n' | '\r' | '\t') {
            let _ = write!(out, "%{:02X}", c as u32);
        } else {
            out.push(c);
        }
    }
    out
}

fn unescape(s: &str) -> String {
    let mut out = Vec::with_capacity(s.len());
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let hex = (bytes[i] == b'%')
            .then(|| s.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match hex {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_slot(s: &str) -> Option<u16> {
    s.parse::<u16>().ok().filter(|&s| (s as usize) < SLOT_COUNT)
}

/// CLUSTER SETSLOT's actions (node ids as the user typed them).
pub enum SetSlot {
    Importing(Vec<u8>),
    Migrating(Vec<u8>),
    Node(Vec<u8>),
    Stable,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me(port: u16) -> Myself {
        Myself {
            ip: "127.0.0.1".into(),
            port,
            cport: port + 10000,
            region: "default".into(),
            zone: String::new(),
        }
    }

    /// Delivers every pending message between the nodes until none is left.
    fn settle(states: &mut [State], now: u64) {
        for _ in 0..20 {
            let mut pending = Vec::new();
            for (i, s) in states.iter_mut().enumerate() {
                for (to, m) in s.outbox.drain(..) {
                    pending.push((i, to, m));
                }
            }
            if pending.is_empty() {
                return;
            }
            for (from, to, m) in pending {
                for (j, st) in states.iter_mut().enumerate() {
                    let target = st.myself;
                    if j != from
                        && to.is_none_or(|t| t == target)
                        && st.nodes.contains_key(&m.head.sender)
                    {
                        let _ = st.process(&m, "127.0.0.1", "127.0.0.1", now);
                    }
                }
            }
        }
    }

    /// a MEETs b, as the bus does it: b processes the MEET, a the answer.
    fn meet(states: &mut [State], a: usize, b: usize, now: u64) {
        let m = states[a].ping(Kind::Meet, None, now);
        let reply = states[b]
            .process(&m, "127.0.0.1", "127.0.0.1", now)
            .unwrap();
        let cport = states[b].me().cport;
        states[a].add_met(&reply, "127.0.0.1", cport, now);
        states[a].process(&reply, "127.0.0.1", "127.0.0.1", now);
    }

    fn exchange(states: &mut [State], now: u64) {
        for i in 0..states.len() {
            for j in 0..states.len() {
                if i != j && states[i].nodes.contains_key(&states[j].myself) {
                    let m = states[i].ping(Kind::Ping, Some(states[j].myself), now);
                    if let Some(r) = states[j].process(&m, "127.0.0.1", "127.0.0.1", now) {
                        states[i].process(&r, "127.0.0.1", "127.0.0.1", now);
                    }
                }
            }
        }
        settle(states, now);
    }

    fn three() -> Vec<State> {
        let mut s: Vec<State> = (0..3)
            .map(|i| State::new(&me(7000 + i), 1000, false))
            .collect();
        let ranges = [(0u16, 5460u16), (5461, 10922), (10923, 16383)];
        for (i, (a, b)) in ranges.into_iter().enumerate() {
            let slots: Vec<u16> = (a..=b).collect();
            s[i].add_del_slots(&slots, false).unwrap();
            s[i].set_config_epoch(i as i64 + 1).unwrap();
            s[i].outbox.clear();
        }
        meet(&mut s, 1, 0, 1);
        meet(&mut s, 2, 0, 1);
        for _ in 0..3 {
            exchange(&mut s, 2);
        }
        s
    }

    #[test]
    fn nodes_meet_and_agree() {
        let s = three();
        for st in &s {
            assert_eq!(st.nodes.len(), 3, "{}", st.nodes_text());
            assert!(st.ok);
            assert_eq!(st.size, 3);
            assert_eq!(st.owner[0], Some(s[0].myself));
            assert_eq!(st.owner[16383], Some(s[2].myself));
            assert!(st.nodes.values().all(|n| !n.has(flags::HANDSHAKE)));
        }
    }

    /// `three()` plus a fourth node replicating the first.
    fn three_and_a_replica() -> Vec<State> {
        let mut s = three();
        s.push(State::new(&me(7003), 1000, false));
        meet(&mut s, 3, 0, 3);
        exchange(&mut s, 4);
        exchange(&mut s, 5);
        let primary = s[0].myself.to_string();
        s[3].replicate(primary.as_bytes(), 0).unwrap();
        exchange(&mut s, 6);
        for st in &s {
            assert!(
                st.nodes[&s[3].myself].has(flags::SLAVE),
                "{}",
                st.nodes_text()
            );
        }
        s
    }

    /// Runs every node's cron at `now` and delivers what it sends.
    fn tick(states: &mut [State], now: u64) {
        for st in states.iter_mut() {
            st.cron(now, 1);
        }
        settle(states, now);
    }

    /// The replica (index 3) serves the first primary's slots with a
    /// config epoch above every other, and the others agree.
    fn assert_promoted(s: &[State], replica: usize) {
        let new = s[replica].myself;
        let epoch = s[replica].me().config_epoch;
        for st in s {
            let n = &st.nodes[&new];
            assert!(n.is_master(), "{}", st.nodes_text());
            assert_eq!(n.slots.len(), 5461, "{}", st.nodes_text());
            assert_eq!(st.owner[0], Some(new));
            assert_eq!(n.config_epoch, epoch);
        }
        assert!(s.iter().all(|st| st
            .nodes
            .values()
            .all(|n| n.id == new || n.config_epoch < epoch)));
    }

    #[test]
    fn takeover_promotes_at_once_and_the_old_primary_follows() {
        let mut s = three_and_a_replica();
        let old = s[0].myself;
        s[3].manual_failover(FailoverMode::Takeover, 10).unwrap();
        settle(&mut s, 10);
        exchange(&mut s, 11);
        assert_promoted(&s, 3);
        // The old primary lost every slot to it: it now replicates it, and
        // drops the keys of those slots.
        assert!(s[0].me().has(flags::SLAVE));
        assert_eq!(s[0].me().master, Some(s[3].myself));
        assert_eq!(s[0].lost_slots.len(), 5461);
        assert!(s[1].nodes[&old].has(flags::SLAVE), "{}", s[1].nodes_text());
        // A primary can't be failed over.
        let err = s[3].manual_failover(FailoverMode::Force, 12).unwrap_err();
        assert_eq!(err, "ERR You should send CLUSTER FAILOVER to a replica");
    }

    #[test]
    fn manual_failover_pauses_the_primary_then_wins_the_election() {
        let mut s = three_and_a_replica();
        s[3].manual_failover(FailoverMode::Default, 100).unwrap();
        // MFSTART reaches the primary, which pauses writes and says so.
        let (to, mfstart) = s[3].outbox.pop().unwrap();
        assert_eq!(to, Some(s[0].myself));
        s[0].process(&mfstart, "127.0.0.1", "", 100);
        assert_eq!(s[0].writes_paused_until(), 100 + MANUAL_TIMEOUT_MS);
        let ping = s[0].outbox.pop().unwrap().1;
        assert_ne!(ping.head.mflags & crate::wire::mflags::PAUSED, 0);
        s[3].process(&ping, "127.0.0.1", "", 101);
        // The cron sends the vote request at once; every primary votes
        // although no one is failing (FORCEACK).
        tick(&mut s, 150);
        assert_promoted(&s, 3);
        exchange(&mut s, 200);
        assert!(s[0].me().has(flags::SLAVE));
        assert_eq!(
            s[0].writes_paused_until(),
            0,
            "the pause ends with the failover"
        );
    }

    #[test]
    fn manual_failover_times_out_and_lifts_the_pause() {
        let mut s = three_and_a_replica();
        s[3].manual_failover(FailoverMode::Default, 100).unwrap();
        let (_, mfstart) = s[3].outbox.pop().unwrap();
        s[0].process(&mfstart, "127.0.0.1", "", 100);
        assert!(s[0].writes_paused_until() > 0);
        s[0].outbox.clear();
        s[0].cron(100 + MANUAL_TIMEOUT_MS + 1, 1);
        assert_eq!(s[0].writes_paused_until(), 0);
        assert!(s[0].me().is_master() && s[3].me().has(flags::SLAVE));
    }

    #[test]
    fn votes_arriving_after_the_manual_failover_ended_count_for_nothing() {
        let mut s = three_and_a_replica();
        s[3].manual_failover(FailoverMode::Force, 100).unwrap();
        s[3].cron(100, 1);
        let (_, request) = s[3]
            .outbox
            .drain(..)
            .find(|(_, m)| m.head.kind == Kind::AuthRequest)
            .unwrap();
        // Two voters were stopped: their votes come after the manual
        // failover timed out.
        let late: Vec<Message> = (1..3)
            .map(|i| {
                s[i].process(&request, "127.0.0.1", "", 100);
                let (_, ack) = s[i].outbox.pop().unwrap();
                assert_eq!(ack.head.kind, Kind::AuthAck);
                ack
            })
            .collect();
        s[3].cron(100 + MANUAL_TIMEOUT_MS + 1, 1);
        for ack in &late {
            s[3].process(ack, "127.0.0.1", "", 100 + MANUAL_TIMEOUT_MS + 2);
        }
        assert!(s[3].me().has(flags::SLAVE), "{}", s[3].nodes_text());
    }

    #[test]
    fn failed_primary_is_replaced_by_its_replica() {
        let mut s = three_and_a_replica();
        let dead = s.remove(0);
        // Detected and agreed FAIL (two of three primaries).
        for st in s.iter_mut() {
            st.link_failed(&dead.myself, 1000);
            st.cron(2100, 1);
        }
        exchange(&mut s, 2200);
        assert!(s.iter().all(|st| st.nodes[&dead.myself].has(flags::FAIL)));
        // Not before the random election delay (500..1000 ms).
        tick(&mut s, 2300);
        assert!(s[2].me().has(flags::SLAVE));
        tick(&mut s, 3300);
        assert_promoted(&s, 2);
        // The dead primary comes back: it learns of the newer owner of its
        // slots and becomes its replica.
        let mut all = vec![dead];
        all.append(&mut s);
        exchange(&mut all, 9000);
        assert!(all[0].me().has(flags::SLAVE), "{}", all[0].nodes_text());
        assert_eq!(all[0].me().master, Some(all[3].myself));
        assert_eq!(all[0].owner[0], Some(all[3].myself));
    }

    #[test]
    fn a_primary_votes_once_per_epoch_and_not_for_a_live_primary() {
        let mut s = three_and_a_replica();
        let request = |s: &mut Vec<State>, mflags: u8| {
            s[3].current_epoch += 1;
            let mut m = s[3].message(Kind::AuthRequest, Body::Empty);
            m.head.mflags = mflags;
            s[1].process(&m, "127.0.0.1", "", 50);
            s[1].outbox
                .drain(..)
                .filter(|(_, m)| m.head.kind == Kind::AuthAck)
                .count()
        };
        // The primary is healthy: no vote without FORCEACK.
        assert_eq!(request(&mut s, 0), 0);
        assert_eq!(request(&mut s, crate::wire::mflags::FORCEACK), 1);
        // Voted for a replica of that primary too recently.
        assert_eq!(request(&mut s, crate::wire::mflags::FORCEACK), 0);
        assert_eq!(s[1].last_vote_epoch, s[1].current_epoch - 1);
    }

    #[test]
    fn a_node_in_handshake_claims_nothing_until_its_pong() {
        let mut s = three();
        // A new node claims slots 0..100 with a newer config epoch.
        let mut d = State::new(&me(7010), 1000, false);
        d.add_del_slots(&(0..100).collect::<Vec<u16>>(), false)
            .unwrap();
        d.set_config_epoch(9).unwrap();
        let g = Gossip {
            id: d.myself,
            ip: "127.0.0.1".into(),
            port: 7010,
            cport: 17010,
            flags: flags::MASTER,
        };
        let gossip = s[0].message(Kind::Ping, Body::Gossip(vec![g]));
        s[1].process(&gossip, "127.0.0.1", "", 10);
        assert!(s[1].nodes[&d.myself].has(flags::HANDSHAKE));
        // Its own PING is answered, its claim ignored.
        let ping = d.message(Kind::Ping, Body::Gossip(vec![]));
        let pong = s[1].process(&ping, "127.0.0.1", "", 11).unwrap();
        assert_eq!(pong.head.kind, Kind::Pong);
        assert_ne!(s[1].owner[5], Some(d.myself));
        // The PONG to our MEET ends the handshake: now it counts.
        let pong = d.message(Kind::Pong, Body::Gossip(vec![]));
        s[1].process(&pong, "127.0.0.1", "", 12);
        assert!(!s[1].nodes[&d.myself].has(flags::HANDSHAKE));
        assert_eq!(s[1].owner[5], Some(d.myself));
    }

    #[test]
    fn failure_detection_and_recovery() {
        let mut s = three();
        let dead = s[2].myself;
        let mut alive: Vec<State> = s.drain(..2).collect();
        // Pings to the dead node go unanswered past the node timeout.
        for st in alive.iter_mut() {
            st.link_failed(&dead, 10);
            st.cron(1100, 1);
            assert!(st.nodes[&dead].has(flags::PFAIL));
        }
        // Gossip carries the suspicion; two of three primaries agree.
        exchange(&mut alive, 1200);
        for st in &alive {
            assert!(st.nodes[&dead].has(flags::FAIL), "{}", st.nodes_text());
        }
        // Back, but a primary with slots stays FAIL for the undo time.
        let back = s.pop().unwrap();
        let pong = back.message(Kind::Pong, Body::Gossip(vec![]));
        alive[0].process(&pong, "127.0.0.1", "", 1500);
        assert!(alive[0].nodes[&dead].has(flags::FAIL));
        alive[0].process(&pong, "127.0.0.1", "", 3300);
        assert!(!alive[0].nodes[&dead].has(flags::FAIL));
    }

    #[test]
    fn unknown_senders_are_ignored_and_regions_refused() {
        let mut s = three();
        let mut stranger = State::new(&me(7100), 1000, false);
        let ping = stranger.ping(Kind::Ping, None, 5);
        assert!(s[0].process(&ping, "127.0.0.1", "", 5).is_none());
        assert_eq!(s[0].nodes.len(), 3);
        stranger.me_mut().region = "elsewhere".into();
        let meet = stranger.ping(Kind::Meet, None, 5);
        let reply = s[0].process(&meet, "127.0.0.1", "", 5).unwrap();
        assert_eq!(reply.head.kind, Kind::Reject);
        assert_eq!(s[0].nodes.len(), 3);
    }

    #[test]
    fn publish_is_delivered_from_known_nodes_only_and_counted() {
        let mut s = three();
        let publish = |from: &State| {
            from.message(
                Kind::Publish,
                Body::Publish {
                    channel: "news".into(),
                    message: "hi".into(),
                },
            )
        };
        s[0].outbox.clear();
        s[0].dirty_conf = false;
        let m = publish(&s[1]);
        assert!(s[0].accept_publish(&m, 100));
        let stranger = State::new(&me(7100), 1000, false);
        assert!(!s[0].accept_publish(&publish(&stranger), 100));
        let info = s[0].info_text();
        assert!(
            info.contains("cluster_stats_messages_publish_received:2\r\n"),
            "{info}"
        );
        // Nothing else changed: a PUBLISH is not gossip.
        assert!(s[0].outbox.is_empty() && !s[0].dirty_conf);
        assert_eq!(s[0].nodes.len(), 3);
    }

    #[test]
    fn higher_config_epoch_wins_slots() {
        let mut s = three();
        let owner1 = s[1].myself;
        // Node 0 claims a slot of node 1 with a newer epoch.
        s[0].current_epoch = 10;
        s[0].me_mut().config_epoch = 10;
        let me0 = s[0].myself;
        s[0].assign(6000, Some(me0));
        exchange(&mut s, 3);
        for st in &s {
            assert_eq!(st.owner[6000], Some(s[0].myself));
            assert_eq!(st.owner[6001], Some(owner1));
        }
        assert_eq!(s[1].lost_slots, vec![6000]);
    }

    #[test]
    fn epoch_collision_bumps_smaller_id() {
        let mut s: Vec<State> = (0..2)
            .map(|i| State::new(&me(7000 + i), 1000, false))
            .collect();
        meet(&mut s, 0, 1, 1);
        exchange(&mut s, 2);
        exchange(&mut s, 3);
        assert_ne!(s[0].me().config_epoch, s[1].me().config_epoch);
    }

    #[test]
    fn conf_round_trip() {
        let mut s = three();
        let peer = s[1].myself;
        s[0].nodes.get_mut(&peer).unwrap().zone = "eu west, 1a=%".into();
        let other = s[1].myself.0.to_vec();
        s[0].set_slot(1, SetSlot::Migrating(other.clone()), 0)
            .unwrap();
        s[0].set_slot(6000, SetSlot::Importing(other), 0).unwrap();
        let text = s[0].conf_text();
        let loaded = State::load(&text, &me(7000), 1000, false, 5).unwrap();
        assert_eq!(loaded.myself, s[0].myself);
        assert_eq!(loaded.conf_text(), text);
        assert_eq!(loaded.current_epoch, s[0].current_epoch);
        assert_eq!(loaded.nodes[&peer].zone, "eu west, 1a=%");
        assert!(State::load("garbage", &me(7000), 1000, false, 5).is_err());
    }

    #[test]
    fn admin_errors() {
        let mut s = State::new(&me(7000), 1000, false);
        s.add_del_slots(&[1, 2], false).unwrap();
        assert_eq!(
            s.add_del_slots(&[2], false).unwrap_err(),
            "ERR Slot 2 is already busy"
        );
        assert_eq!(
            s.add_del_slots(&[3, 3], false).unwrap_err(),
            "ERR Slot 3 specified multiple times"
        );
        assert_eq!(
            s.add_del_slots(&[5], true).unwrap_err(),
            "ERR Slot 5 is already unassigned"
        );
        s.set_config_epoch(5).unwrap();
        assert!(s.set_config_epoch(6).is_err());
        assert_eq!(s.bump_epoch(), (false, 5));
        s.current_epoch = 7;
        assert_eq!(s.bump_epoch(), (true, 8));
        assert_eq!(s.me().config_epoch, 8);
        s.me_mut().config_epoch = 5;
        let line = s.nodes_text();
        assert!(
            line.ends_with(" myself,master - 0 0 5 connected 1-2\n"),
            "{line}"
        );
        let myself = s.myself;
        assert!(s.forget(&myself.0, 0).is_err());
        assert!(s.replicate(&myself.0, 0).is_err());
    }
}
