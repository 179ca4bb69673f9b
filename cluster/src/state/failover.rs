//! Replica promotion, as Redis Cluster does it: a replica of a failed
//! primary asks the primaries for votes and takes its primary's slots with
//! a new config epoch once a majority agrees; CLUSTER FAILOVER starts the
//! same election by hand (after the primary pauses its writes, or at once
//! with FORCE), or skips it (TAKEOVER).

use rand::Rng;

use super::State;
use crate::node::{flags, NodeId};
use crate::wire::{mflags, Body, Kind, Message};

/// How long a manual failover may take (Redis's CLUSTER_MF_TIMEOUT).
pub(super) const MANUAL_TIMEOUT_MS: u64 = 5000;

/// A replica's bid to replace its failed primary (Redis's failover_auth_*).
#[derive(Default)]
pub(super) struct Election {
    /// When the vote request goes out (0: none scheduled).
    at: u64,
    /// The epoch the request went out with (0: not sent yet).
    epoch: u64,
    votes: usize,
}

/// A manual failover in progress (Redis's mf_*).
pub(super) struct Manual {
    /// When it is given up.
    end: u64,
    /// On the primary: the replica it paused its writes for.
    replica: Option<NodeId>,
    /// On the replica: the election may start (FORCE, or the primary has
    /// paused its writes).
    can_start: bool,
}

/// CLUSTER FAILOVER's option.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FailoverMode {
    /// The primary pauses its writes first, then the replica is elected.
    Default,
    /// Elected without asking the primary (it may be unreachable).
    Force,
    /// No election: a new config epoch and the slots, at once.
    Takeover,
}

impl State {
    /// Until when this primary's client writes are paused for a manual
    /// failover (0: they are not).
    pub fn writes_paused_until(&self) -> u64 {
        match &self.manual {
            Some(m) if m.replica.is_some() && self.me().is_master() => m.end,
            _ => 0,
        }
    }

    /// The per-message flags of this node's next message of `kind`.
    pub(super) fn mflags(&self, kind: Kind) -> u8 {
        let mut f = 0;
        if self.writes_paused_until() != 0 {
            f |= mflags::PAUSED;
        }
        if kind == Kind::AuthRequest && self.manual.is_some() {
            f |= mflags::FORCEACK;
        }
        f
    }

    /// cluster-replica-no-failover: this node, as a replica, never starts
    /// an election by itself (CLUSTER FAILOVER still does).
    pub fn set_no_failover(&mut self, on: bool) {
        let me = self.me_mut();
        if me.has(flags::NOFAILOVER) != on {
            me.flags ^= flags::NOFAILOVER;
            self.changed();
            self.broadcast_pong();
        }
    }

    /// CLUSTER FAILOVER [FORCE|TAKEOVER], sent to a replica.
    pub fn manual_failover(&mut self, mode: FailoverMode, now: u64) -> Result<(), String> {
        let me = self.me();
        if me.is_master() {
            return Err("ERR You should send CLUSTER FAILOVER to a replica".into());
        }
        let Some(primary) = me.master.and_then(|m| self.nodes.get(&m)) else {
            return Err("ERR I'm a replica but my master is unknown to me".into());
        };
        if mode == FailoverMode::Default && primary.is_failing() {
            return Err("ERR Master is down or failed, please use CLUSTER FAILOVER FORCE".into());
        }
        let primary = primary.id;
        self.election = Election::default();
        self.manual = Some(Manual {
            end: now + MANUAL_TIMEOUT_MS,
            replica: None,
            can_start: mode == FailoverMode::Force,
        });
        match mode {
            FailoverMode::Takeover => {
                tracing::info!("taking over the master (user request)");
                self.bump_epoch();
                self.replace_primary();
            }
            FailoverMode::Force => {
                tracing::info!("forced failover user request accepted");
            }
            FailoverMode::Default => {
                tracing::info!("manual failover user request accepted");
                let msg = self.message(Kind::MfStart, Body::Empty);
                self.outbox.push((Some(primary), msg));
            }
        }
        Ok(())
    }

    /// MFSTART from one of this primary's replicas: pause writes and tell
    /// it so; it starts its election once it has seen the pause.
    pub(super) fn manual_failover_asked(&mut self, from: NodeId, now: u64) {
        let mine = self
            .nodes
            .get(&from)
            .is_some_and(|n| n.has(flags::SLAVE) && n.master == Some(self.myself));
        if !mine || !self.me().is_master() {
            return;
        }
        tracing::info!("manual failover requested by replica {from}");
        self.manual = Some(Manual {
            end: now + MANUAL_TIMEOUT_MS,
            replica: Some(from),
            can_start: false,
        });
        // Clients' writes wait from now on (published with the routing).
        self.dirty_routing = true;
        let ping = self.ping(Kind::Ping, Some(from), now);
        self.outbox.push((Some(from), ping));
    }

    /// Looks at a message for what failover needs: the primary's pause
    /// during a manual failover, a vote request, a vote.
    pub(super) fn failover_message(&mut self, msg: &Message, now: u64) {
        let head = &msg.head;
        match head.kind {
            Kind::AuthRequest => self.vote(msg, now),
            Kind::AuthAck => {
                let voter = self.nodes.get(&head.sender);
                let counts = voter.is_some_and(|v| v.is_master() && !v.slots.is_empty())
                    && self.election.epoch != 0
                    && head.current_epoch >= self.election.epoch;
                if counts {
                    self.election.votes += 1;
                    self.promote_if_elected(now);
                }
            }
            Kind::MfStart => self.manual_failover_asked(head.sender, now),
            _ => {
                let from_primary = self.my_primary().id == head.sender;
                if let Some(m) = self.manual.as_mut().filter(|_| from_primary) {
                    if head.mflags & mflags::PAUSED != 0 && !m.can_start {
                        // Without a replication stream there is nothing
                        // to catch up on: the pause is all it waits for.
                        tracing::info!("all master writes paused: starting the manual failover");
                        m.can_start = true;
                    }
                }
            }
        }
    }

    /// Redis's clusterSendFailoverAuthIfNeeded: a primary serving slots
    /// votes once per epoch, once per failing primary every two node
    /// timeouts, and only for a replica whose claim is not older than the
    /// slots' current owners.
    fn vote(&mut self, msg: &Message, now: u64) {
        let head = &msg.head;
        let me = self.me();
        if !me.is_master() || me.slots.is_empty() {
            return;
        }
        let refuse = |why: &str| {
            tracing::info!("failover auth denied to {}: {why}", head.sender);
        };
        if head.current_epoch < self.current_epoch {
            return refuse("its current epoch is older than mine");
        }
        if self.last_vote_epoch == self.current_epoch {
            return refuse("already voted in this epoch");
        }
        let Some(requester) = self.nodes.get(&head.sender) else {
            return;
        };
        if requester.is_master() {
            return refuse("it is a master");
        }
        let Some(primary) = requester.master.and_then(|m| self.nodes.get(&m)) else {
            return refuse("its master is unknown to me");
        };
        let forced = head.mflags & mflags::FORCEACK != 0;
        if !primary.has(flags::FAIL) && !forced {
            return refuse("its master is not failing");
        }
        if primary.voted_time != 0 && now.saturating_sub(primary.voted_time) < self.node_timeout * 2
        {
            return refuse("voted for a replica of the same master too recently");
        }
        let stale = head.slots.iter().any(|s| {
            self.owner[s as usize]
                .and_then(|o| self.nodes.get(&o))
                .is_some_and(|o| o.config_epoch > head.config_epoch)
        });
        if stale {
            return refuse("its slots have newer owners");
        }
        let primary = primary.id;
        self.last_vote_epoch = self.current_epoch;
        self.dirty_conf = true;
        if let Some(p) = self.nodes.get_mut(&primary) {
            p.voted_time = now;
        }
        tracing::info!(
            "failover auth granted to {} for epoch {}",
            head.sender,
            self.current_epoch
        );
        let ack = self.message(Kind::AuthAck, Body::Empty);
        self.outbox.push((Some(head.sender), ack));
    }

    /// Redis's clusterHandleSlaveFailover, run by the cron: schedules an
    /// election once this replica's primary is FAIL (or a manual failover
    /// may start), sends the vote request when its time comes, and starts
    /// over when an election times out.
    pub(super) fn failover_cron(&mut self, now: u64) {
        if let Some(m) = &self.manual {
            if now > m.end {
                tracing::info!("manual failover timed out");
                self.manual = None;
                self.dirty_routing = true;
            }
        }
        let manual = self.manual_ready(now);
        if !self.election_wanted(now) {
            return;
        }
        let timeout = self.election_timeout();
        let e = &mut self.election;
        if e.at == 0 || now > e.at + timeout * 2 {
            // A manual failover goes at once; otherwise a random delay lets
            // the failure reach every primary first and keeps the
            // replicas' requests apart.
            e.at = if manual {
                now
            } else {
                now + 500 + rand::thread_rng().gen_range(0..500)
            };
            e.epoch = 0;
            e.votes = 0;
            tracing::info!("start of election delayed for {} ms", e.at - now);
            if !manual {
                return;
            }
        }
        if now < e.at || now > e.at + timeout || e.epoch != 0 {
            return;
        }
        self.current_epoch += 1;
        self.election.epoch = self.current_epoch;
        self.dirty_conf = true;
        tracing::info!(
            "starting a failover election for epoch {}",
            self.current_epoch
        );
        let request = self.message(Kind::AuthRequest, Body::Empty);
        self.outbox.push((None, request));
    }

    /// A vote arrived: with a majority, and while the election still
    /// stands (its primary failing or a manual failover on, not timed
    /// out: late votes for a stale request count for nothing), promotes.
    fn promote_if_elected(&mut self, now: u64) {
        let quorum = self.size / 2 + 1;
        if self.election.votes < quorum || !self.election_stands(now) {
            return;
        }
        tracing::info!(
            "failover election won: I'm the new master (config epoch {})",
            self.election.epoch
        );
        let epoch = self.election.epoch;
        self.me_mut().config_epoch = epoch;
        self.replace_primary();
    }

    /// Whether this replica should be in an election: its primary (serving
    /// slots) is FAIL and it may fail over by itself, or a manual failover
    /// may start and has not timed out (to the ms: the primary's pause
    /// ends just after, and no vote may count once writes go on there).
    fn election_wanted(&self, now: u64) -> bool {
        let primary = self.my_primary();
        if primary.id == self.myself {
            return false;
        }
        let by_itself = primary.has(flags::FAIL) && !self.me().has(flags::NOFAILOVER);
        (by_itself || self.manual_ready(now)) && !primary.slots.is_empty()
    }

    /// A manual failover may start its election and has not timed out.
    fn manual_ready(&self, now: u64) -> bool {
        self.manual
            .as_ref()
            .is_some_and(|m| m.can_start && now <= m.end)
    }

    /// How long an election waits for votes (Redis's auth_timeout).
    fn election_timeout(&self) -> u64 {
        (self.node_timeout * 2).max(2000)
    }

    fn election_stands(&self, now: u64) -> bool {
        let e = &self.election;
        e.epoch != 0 && now <= e.at + self.election_timeout() && self.election_wanted(now)
    }

    /// Redis's clusterFailoverReplaceYourMaster: this replica becomes a
    /// primary serving its old primary's slots, and says so at once.
    fn replace_primary(&mut self) {
        let old = self.my_primary();
        if old.id == self.myself {
            return;
        }
        let slots: Vec<u16> = old.slots.iter().collect();
        let me = self.me_mut();
        me.flags = (me.flags & !flags::SLAVE) | flags::MASTER;
        me.master = None;
        let myself = self.myself;
        for s in slots {
            self.assign(s, Some(myself));
        }
        self.election = Election::default();
        self.manual = None;
        self.changed();
        self.update_state();
        self.broadcast_pong();
    }

    /// After `sender` took slots: Redis's rule that a primary left with no
    /// slots, or a replica whose primary was left with none, follows the
    /// node that took them (it has just been promoted over them).
    pub(super) fn follow_new_primary(&mut self, sender: NodeId) {
        let mine = self.my_primary().id;
        if !self.nodes[&mine].slots.is_empty() || mine == sender {
            return;
        }
        tracing::info!(
            "configuration change detected: reconfiguring myself as a replica of {sender}"
        );
        let me = self.me_mut();
        me.flags = (me.flags & !flags::MASTER) | flags::SLAVE;
        me.master = Some(sender);
        self.migrating.clear();
        self.importing.clear();
        self.election = Election::default();
        self.manual = None;
        self.changed();
        self.broadcast_pong();
    }
}
