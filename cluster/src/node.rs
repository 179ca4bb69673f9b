//! Node ids, node flags, slot bitmaps and one node's entry in the table.

use std::fmt;

use crate::SLOT_COUNT;

/// A node's 160-bit name as 40 lower-case hex characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub [u8; 40]);

impl NodeId {
    pub fn random() -> NodeId {
        use rand::Rng;
        let mut rng = rand::thread_rng();
        let mut id = [0u8; 40];
        for b in id.iter_mut() {
            *b = b"0123456789abcdef"[rng.gen_range(0..16)];
        }
        NodeId(id)
    }

    /// Accepts exactly 40 hex characters (as Redis, case-sensitive lower case
    /// is what nodes produce; upper case is folded so users may paste either).
    pub fn parse(s: &[u8]) -> Option<NodeId> {
        if s.len() != 40 || !s.iter().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut id = [0u8; 40];
        for (d, s) in id.iter_mut().zip(s) {
            *d = s.to_ascii_lowercase();
        }
        Some(NodeId(id))
    }

    pub fn as_str(&self) -> &str {
        // Only hex digits are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Node flags, with Redis's bit values and names.
pub mod flags {
    pub const MASTER: u16 = 1;
    pub const SLAVE: u16 = 2;
    pub const PFAIL: u16 = 4;
    pub const FAIL: u16 = 8;
    pub const MYSELF: u16 = 16;
    pub const HANDSHAKE: u16 = 32;
    pub const NOADDR: u16 = 64;
    pub const MEET: u16 = 128;
    pub const NOFAILOVER: u16 = 512;

    /// In CLUSTER NODES order.
    pub const NAMES: [(u16, &str); 8] = [
        (MYSELF, "myself"),
        (MASTER, "master"),
        (SLAVE, "slave"),
        (PFAIL, "fail?"),
        (FAIL, "fail"),
        (HANDSHAKE, "handshake"),
        (NOADDR, "noaddr"),
        (NOFAILOVER, "nofailover"),
    ];

    /// The flags a node announces about itself on the bus.
    pub const ANNOUNCED: u16 = MASTER | SLAVE | NOFAILOVER;
}

/// A set of slots.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotSet {
    bits: Box<[u64; SLOT_COUNT / 64]>,
    count: usize,
}

impl Default for SlotSet {
    fn default() -> Self {
        SlotSet {
            bits: Box::new([0; SLOT_COUNT / 64]),
            count: 0,
        }
    }
}

impl SlotSet {
    #[inline]
    pub fn contains(&self, slot: u16) -> bool {
        self.bits[slot as usize / 64] & (1 << (slot % 64)) != 0
    }

    pub fn insert(&mut self, slot: u16) -> bool {
        let new = !self.contains(slot);
        self.bits[slot as usize / 64] |= 1 << (slot % 64);
        self.count += new as usize;
        new
    }

    pub fn remove(&mut self, slot: u16) -> bool {
        let had = self.contains(slot);
        self.bits[slot as usize / 64] &= !(1 << (slot % 64));
        self.count -= had as usize;
        had
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The slots in order, word by word (a set bit costs one step, an
    /// empty word one test).
    pub fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        self.bits.iter().enumerate().flat_map(|(i, &word)| {
            let base = (i * 64) as u16;
            std::iter::successors((word != 0).then_some(word), |w| {
                let rest = w & (w - 1);
                (rest != 0).then_some(rest)
            })
            .map(move |w| base + w.trailing_zeros() as u16)
        })
    }

    /// Contiguous runs as inclusive (start, end) pairs, in slot order.
    /// Run by run, not bit by bit: every bus message (a PUBLISH too)
    /// carries the sender's slots.
    pub fn ranges(&self) -> Vec<(u16, u16)> {
        let mut out: Vec<(u16, u16)> = Vec::new();
        for (i, &word) in self.bits.iter().enumerate() {
            let base = (i * 64) as u16;
            let mut w = word;
            while w != 0 {
                let start = w.trailing_zeros();
                let len = (!(w >> start)).trailing_zeros();
                let (a, b) = (base + start as u16, base + (start + len - 1) as u16);
                match out.last_mut() {
                    Some((_, end)) if *end + 1 == a => *end = b,
                    _ => out.push((a, b)),
                }
                w &= u64::MAX.checked_shl(start + len).unwrap_or(0);
            }
        }
        out
    }

    pub fn words(&self) -> &[u64; SLOT_COUNT / 64] {
        &self.bits
    }

    pub fn from_words(words: [u64; SLOT_COUNT / 64]) -> SlotSet {
        let count = words.iter().map(|w| w.count_ones() as usize).sum();
        SlotSet {
            bits: Box::new(words),
            count,
        }
    }
}

/// One node as this node sees it.
#[derive(Clone)]
pub struct Node {
    pub id: NodeId,
    pub ip: String,
    pub port: u16,
    pub cport: u16,
    pub flags: u16,
    pub master: Option<NodeId>,
    /// When the ping now awaiting its pong was sent (0: none pending).
    pub ping_sent: u64,
    pub pong_received: u64,
    pub config_epoch: u64,
    /// The slots this node serves in this node's view.
    pub slots: SlotSet,
    pub region: String,
    pub zone: String,
    /// Masters that reported this node PFAIL or FAIL, and when.
    pub fail_reports: Vec<(NodeId, u64)>,
    pub fail_time: u64,
    /// When this node (a primary) last voted for one of its replicas to
    /// replace it: one vote per failing primary per two node timeouts.
    pub voted_time: u64,
    /// When the entry was created (handshakes expire).
    pub created: u64,
    /// An outbound bus link is connected.
    pub connected: bool,
}

impl Node {
    pub fn new(id: NodeId, ip: String, port: u16, cport: u16, flags: u16, now: u64) -> Node {
        Node {
            id,
            ip,
            port,
            cport,
            flags,
            master: None,
            ping_sent: 0,
            pong_received: 0,
            voted_time: 0,
            config_epoch: 0,
            slots: SlotSet::default(),
            region: String::new(),
            zone: String::new(),
            fail_reports: Vec::new(),
            fail_time: 0,
            created: now,
            connected: false,
        }
    }

    #[inline]
    pub fn has(&self, flag: u16) -> bool {
        self.flags & flag != 0
    }

    pub fn is_master(&self) -> bool {
        self.has(flags::MASTER)
    }

    pub fn is_failing(&self) -> bool {
        self.has(flags::PFAIL | flags::FAIL)
    }

    /// `ip:port@cport`, as CLUSTER NODES prints it.
    pub fn address(&self) -> String {
        format!("{}:{}@{}", self.ip, self.port, self.cport)
    }

    pub fn flag_names(&self) -> String {
        let names: Vec<&str> = flags::NAMES
            .iter()
            .filter(|(f, _)| self.has(*f))
            .map(|(_, n)| *n)
            .collect();
        if names.is_empty() {
            "noflags".into()
        } else {
            names.join(",")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_set_ranges() {
        let mut s = SlotSet::default();
        for slot in [0, 1, 2, 5, 16383] {
            s.insert(slot);
        }
        assert!(!s.insert(1));
        assert_eq!(s.len(), 5);
        assert_eq!(s.ranges(), vec![(0, 2), (5, 5), (16383, 16383)]);
        assert!(s.remove(5));
        assert_eq!(SlotSet::from_words(*s.words()), s);
    }

    #[test]
    fn ranges_and_iter_match_a_bit_by_bit_walk() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for density in [1, 8, 60, 64] {
            let mut s = SlotSet::default();
            for slot in 0..SLOT_COUNT as u16 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                if seed % 64 < density {
                    s.insert(slot);
                }
            }
            let walk: Vec<u16> = (0..SLOT_COUNT as u16).filter(|&x| s.contains(x)).collect();
            assert_eq!(s.iter().collect::<Vec<u16>>(), walk, "density {density}/64");
            let mut naive: Vec<(u16, u16)> = Vec::new();
            for slot in walk {
                match naive.last_mut() {
                    Some((_, end)) if *end + 1 == slot => *end = slot,
                    _ => naive.push((slot, slot)),
                }
            }
            assert_eq!(s.ranges(), naive, "density {density}/64");
        }
    }

    #[test]
    fn node_ids() {
        let id = NodeId::random();
        assert_eq!(NodeId::parse(id.as_str().as_bytes()), Some(id));
        assert!(NodeId::parse(b"xyz").is_none());
        assert!(NodeId::parse(&[b'g'; 40]).is_none());
    }
}
