//! The sorted-set type: member → score in a `Dict` (O(1) ZSCORE, and the
//! dict's sound ZSCAN cursor) plus a skip list ordered by (score, member)
//! whose links carry spans, as Redis's does, so finding a rank, the element
//! at a rank, or the ends of a score or lex range is O(log n), and a range
//! of k elements is walked or removed in O(log n + k).
//!
//! Layout, for few cache misses: nodes are grouped by height, and the tier
//! of height h keeps each node's h links side by side (as Redis keeps them
//! inline in its node). A link also carries the score of the node it points
//! to, so a search reads only the links of the node it stands on: one miss
//! per step forward, none per step down, and members are read only on
//! equal scores. Nodes are named by (generation, height, slot) in a u32;
//! freed slots are reused. Once most slots are free, a compaction moves
//! every node, in list order and a few per write, into the tiers of the
//! other generation, then drops the old tiers: a set that shrank gives its
//! memory back without a stall proportional to its size.
//! An empty list allocates nothing; tiers appear as nodes need them.

use std::cmp::Ordering;

use rand::Rng;

use super::dict::Dict;
use super::segmented::Segmented;
use super::zset_listpack::{self, Packed};
use crate::db::thin::{ThinAlias, ThinBytes};

/// Enough for 4^32 elements at Redis's p = 1/4.
const MAX_LEVEL: usize = 32;
/// A node name: the generation in the top bit, height - 1 in the next 5
/// bits, the slot in its tier below (so a tier holds up to 2^26 nodes).
const SLOT_BITS: u32 = 26;
const HEIGHT_MASK: u32 = 31;
/// Tiers per generation: one per height.
const GEN_TIERS: usize = MAX_LEVEL;
const SLOT_MASK: u32 = (1 << SLOT_BITS) - 1;
/// No node (past the end), and the header, whose links are kept apart.
/// As nodes they would be of height 32 in the last slots, which that tier
/// never reaches.
const NIL: u32 = u32::MAX;
const HEAD: u32 = u32::MAX - 1;
/// Free slots tolerated before a compaction is considered.
const COMPACT_MIN_FREE: usize = 64;
/// Nodes a compaction visits per element a write added or removed: enough
/// to finish before the set can halve again.
const COMPACT_STEPS: usize = 4;

#[inline]
fn height(node: u32) -> usize {
    ((node >> SLOT_BITS) & HEIGHT_MASK) as usize + 1
}

/// The node's tier: `generation * GEN_TIERS + height - 1`.
#[inline]
fn tier(node: u32) -> usize {
    (node >> SLOT_BITS) as usize
}

#[inline]
fn generation(node: u32) -> usize {
    tier(node) / GEN_TIERS
}

#[inline]
fn slot(node: u32) -> usize {
    (node & SLOT_MASK) as usize
}

/// The last node before a place at each level, and each one's rank.
type Predecessors = ([u32; MAX_LEVEL], [u32; MAX_LEVEL]);

#[derive(Clone, Copy, Debug)]
struct Link {
    next: u32,
    /// Level-0 steps from this node to `next` (to the end when NIL).
    span: u32,
    /// `next`'s score.
    score: f64,
}

const UNLINKED: Link = Link {
    next: NIL,
    span: 0,
    score: 0.0,
};

/// The nodes of one height.
#[derive(Default)]
struct Tier {
    /// `height` links per slot.
    links: Segmented<Link>,
    nodes: Segmented<Node>,
    free: Vec<u32>,
}

struct Node {
    member: ThinBytes,
    score: f64,
    /// The previous node at level 0; NIL for the first.
    prev: u32,
}

/// A range of elements, by score or by member. `member` is only called
/// by lex ranges, so score searches never read members.
pub trait Range {
    /// Whether the element is not below the range's start.
    fn above_min<'m>(&self, score: f64, member: impl FnOnce() -> &'m [u8]) -> bool;
    /// Whether the element is not past the range's end.
    fn below_max<'m>(&self, score: f64, member: impl FnOnce() -> &'m [u8]) -> bool;
    /// Whether no element can be in the range.
    fn is_empty(&self) -> bool;
}

/// `min`/`max` of ZRANGEBYSCORE, `(` making an end exclusive.
#[derive(Clone, Copy, Debug)]
pub struct ScoreRange {
    pub min: f64,
    pub max: f64,
    pub min_ex: bool,
    pub max_ex: bool,
}

impl Range for ScoreRange {
    fn above_min<'m>(&self, score: f64, _: impl FnOnce() -> &'m [u8]) -> bool {
        if self.min_ex {
            score > self.min
        } else {
            score >= self.min
        }
    }

    fn below_max<'m>(&self, score: f64, _: impl FnOnce() -> &'m [u8]) -> bool {
        if self.max_ex {
            score < self.max
        } else {
            score <= self.max
        }
    }

    fn is_empty(&self) -> bool {
        self.min > self.max || (self.min == self.max && (self.min_ex || self.max_ex))
    }
}

/// One end of ZRANGEBYLEX's range: `-`, `+`, `[member` or `(member`.
#[derive(Clone, Copy, Debug)]
pub enum LexBound<'a> {
    Min,
    Max,
    Incl(&'a [u8]),
    Excl(&'a [u8]),
}

impl LexBound<'_> {
    /// Orders bounds as values: `-` below every member, `+` above.
    fn cmp_value(&self, other: &LexBound) -> Ordering {
        self.key().cmp(&other.key())
    }

    fn key(&self) -> (u8, &[u8]) {
        match *self {
            LexBound::Min => (0, &[]),
            LexBound::Incl(m) | LexBound::Excl(m) => (1, m),
            LexBound::Max => (2, &[]),
        }
    }

    /// `-` and `+` count as exclusive, as in Redis, so `[- -]` is empty.
    fn exclusive(&self) -> bool {
        !matches!(self, LexBound::Incl(_))
    }
}

#[derive(Clone, Copy, Debug)]
pub struct LexRange<'a> {
    pub min: LexBound<'a>,
    pub max: LexBound<'a>,
}

impl Range for LexRange<'_> {
    fn above_min<'m>(&self, _: f64, member: impl FnOnce() -> &'m [u8]) -> bool {
        match self.min {
            LexBound::Min => true,
            LexBound::Max => false,
            LexBound::Incl(m) => member() >= m,
            LexBound::Excl(m) => member() > m,
        }
    }

    fn below_max<'m>(&self, _: f64, member: impl FnOnce() -> &'m [u8]) -> bool {
        match self.max {
            LexBound::Max => true,
            LexBound::Min => false,
            LexBound::Incl(m) => member() <= m,
            LexBound::Excl(m) => member() < m,
        }
    }

    fn is_empty(&self) -> bool {
        match self.min.cmp_value(&self.max) {
            Ordering::Greater => true,
            Ordering::Equal => self.min.exclusive() || self.max.exclusive(),
            Ordering::Less => false,
        }
    }
}

/// Each level is kept with probability 1/4 (Redis's ZSKIPLIST_P): two
/// random bits per level.
fn random_level() -> usize {
    let bits: u64 = rand::thread_rng().gen();
    (1 + bits.trailing_zeros() as usize / 2).min(MAX_LEVEL)
}

struct SkipList {
    /// The header's links, one per level ever used.
    head: Vec<Link>,
    /// `tiers[g * GEN_TIERS + h - 1]` holds the nodes of generation g and
    /// height h.
    tiers: Vec<Tier>,
    /// The generation new nodes go to.
    generation: usize,
    compaction: Option<Compaction>,
    tail: u32,
    /// Levels in use (at least 1).
    level: usize,
    len: usize,
    /// Free slots in the current generation's tiers.
    free: usize,
}

/// A compaction in progress: a walk along level 0 that moves each node of
/// the old generation into the current one. The walked part is kept
/// consistent by `insert` and `unlink`, so writes may come in between.
struct Compaction {
    /// The next node to visit; NIL when the walk is done.
    cursor: u32,
    /// The last walked node at each level (HEAD before any): the nodes
    /// whose links point at a node the walk moves.
    last: [u32; MAX_LEVEL],
}

impl SkipList {
    fn new() -> SkipList {
        SkipList {
            head: Vec::new(),
            tiers: Vec::new(),
            generation: 0,
            compaction: None,
            tail: NIL,
            level: 1,
            len: 0,
            free: 0,
        }
    }

    #[inline]
    fn link(&self, x: u32, i: usize) -> Link {
        if x == HEAD {
            return self.head.get(i).copied().unwrap_or(UNLINKED);
        }
        self.tiers[tier(x)].links[slot(x) * height(x) + i]
    }

    #[inline]
    fn link_mut(&mut self, x: u32, i: usize) -> &mut Link {
        if x == HEAD {
            if self.head.len() <= i {
                self.head.resize(i + 1, UNLINKED);
            }
            return &mut self.head[i];
        }
        &mut self.tiers[tier(x)].links[slot(x) * height(x) + i]
    }

    #[inline]
    fn node(&self, x: u32) -> &Node {
        &self.tiers[tier(x)].nodes[slot(x)]
    }

    #[inline]
    fn node_mut(&mut self, x: u32) -> &mut Node {
        &mut self.tiers[tier(x)].nodes[slot(x)]
    }

    #[inline]
    fn score(&self, x: u32) -> f64 {
        self.node(x).score
    }

    #[inline]
    fn member(&self, x: u32) -> &[u8] {
        &self.node(x).member
    }

    #[inline]
    fn prev(&self, x: u32) -> u32 {
        self.node(x).prev
    }

    #[inline]
    fn set_prev(&mut self, x: u32, prev: u32) {
        self.node_mut(x).prev = prev;
    }

    /// A new unlinked node of `height`, in the current generation.
    fn alloc(&mut self, height: usize, member: ThinBytes, score: f64) -> u32 {
        let index = self.generation * GEN_TIERS + height - 1;
        if self.tiers.len() <= index {
            self.tiers.resize_with(index + 1, Tier::default);
        }
        let tier = &mut self.tiers[index];
        let node = Node {
            member,
            score,
            prev: NIL,
        };
        let at = match tier.free.pop() {
            Some(at) => {
                let at = at as usize;
                for i in at * height..(at + 1) * height {
                    tier.links[i] = UNLINKED;
                }
                tier.nodes[at] = node;
                self.free -= 1;
                at
            }
            None => {
                let at = tier.nodes.len();
                assert!(at < SLOT_MASK as usize - 1, "sorted set too large");
                for _ in 0..height {
                    tier.links.push(UNLINKED);
                }
                tier.nodes.push(node);
                at
            }
        };
        ((index as u32) << SLOT_BITS) | at as u32
    }

    /// Frees an unlinked node's slot, returning its member. An old
    /// generation's slots are not reused: its tiers go as a whole.
    fn release(&mut self, x: u32) -> ThinBytes {
        let current = generation(x) == self.generation;
        let tier = &mut self.tiers[tier(x)];
        if current {
            tier.free.push(slot(x) as u32);
            self.free += 1;
        }
        std::mem::take(&mut tier.nodes[slot(x)].member)
    }

    /// Whether `link` leads to a node before (score, member).
    #[inline]
    fn leads_before(&self, link: Link, score: f64, member: &[u8]) -> bool {
        link.next != NIL
            && (link.score < score || (link.score == score && self.member(link.next) < member))
    }

    /// The last node before (score, member) at each level, and its rank
    /// (elements up to and including it).
    fn predecessors(&self, score: f64, member: &[u8]) -> Predecessors {
        let [found] = self.search([(score, member)]);
        found
    }

    /// `predecessors` of each target. The searches are independent, so
    /// stepping them in turn lets their cache misses (one a step, the
    /// search's whole cost on a big list) overlap.
    fn search<const N: usize>(&self, targets: [(f64, &[u8]); N]) -> [Predecessors; N] {
        let mut found = [([HEAD; MAX_LEVEL], [0; MAX_LEVEL]); N];
        let mut at = [(HEAD, 0); N];
        // Levels each search has still to finish.
        let mut left = [self.level; N];
        while left.iter().any(|&l| l > 0) {
            for k in 0..N {
                let Some(i) = left[k].checked_sub(1) else {
                    continue;
                };
                let (x, traversed) = at[k];
                let l = self.link(x, i);
                if self.leads_before(l, targets[k].0, targets[k].1) {
                    at[k] = (l.next, traversed + l.span);
                } else {
                    found[k].0[i] = x;
                    found[k].1[i] = traversed;
                    left[k] = i;
                }
            }
        }
        found
    }

    /// Inserts an element that is not in the list.
    fn insert(&mut self, score: f64, member: ThinBytes) {
        let before = self.predecessors(score, &member);
        self.insert_after(score, member, before);
    }

    /// `insert`, given the new element's predecessors.
    fn insert_after(&mut self, score: f64, member: ThinBytes, before: Predecessors) {
        let (mut update, mut rank) = before;
        let level = random_level();
        if level > self.level {
            for i in self.level..level {
                update[i] = HEAD;
                rank[i] = 0;
                self.link_mut(HEAD, i).span = self.len as u32;
            }
            self.level = level;
        }
        let id = self.alloc(level, member, score);
        for i in 0..level {
            let before = self.link(update[i], i);
            let steps = rank[0] - rank[i];
            *self.link_mut(id, i) = Link {
                span: before.span - steps,
                ..before
            };
            *self.link_mut(update[i], i) = Link {
                next: id,
                span: steps + 1,
                score,
            };
        }
        for (i, &u) in update.iter().enumerate().take(self.level).skip(level) {
            self.link_mut(u, i).span += 1;
        }
        self.set_prev(id, if update[0] == HEAD { NIL } else { update[0] });
        match self.link(id, 0).next {
            NIL => self.tail = id,
            next => self.set_prev(next, id),
        }
        self.len += 1;
        // A node that lands in a compaction's walked part becomes the last
        // walked one at the levels where it follows the last walked one.
        let Some(cursor) = self.compaction.as_ref().map(|c| c.cursor) else {
            return;
        };
        let walked =
            cursor == NIL || (score, self.member(id)) < (self.score(cursor), self.member(cursor));
        if let (true, Some(c)) = (walked, self.compaction.as_mut()) {
            for (last, &u) in c.last.iter_mut().zip(&update).take(level) {
                if *last == u {
                    *last = id;
                }
            }
        }
    }

    /// Unlinks node `x`, given its predecessors at every level.
    fn unlink(&mut self, x: u32, update: &[u32; MAX_LEVEL]) {
        let next = self.link(x, 0).next;
        if let Some(c) = &mut self.compaction {
            if c.cursor == x {
                c.cursor = next;
            }
            for (last, &u) in c.last.iter_mut().zip(update).take(height(x)) {
                if *last == x {
                    *last = u;
                }
            }
        }
        for (i, &u) in update.iter().enumerate().take(self.level) {
            let old = self.link(u, i);
            *self.link_mut(u, i) = if old.next == x {
                let through = self.link(x, i);
                Link {
                    span: old.span + through.span - 1,
                    ..through
                }
            } else {
                Link {
                    span: old.span - 1,
                    ..old
                }
            };
        }
        let prev = self.prev(x);
        match next {
            NIL => self.tail = prev,
            next => self.set_prev(next, prev),
        }
        while self.level > 1 && self.link(HEAD, self.level - 1).next == NIL {
            self.level -= 1;
        }
        self.len -= 1;
    }

    /// Removes the element at (score, member), which must be in the list.
    fn remove(&mut self, score: f64, member: &[u8]) {
        let (update, _) = self.predecessors(score, member);
        let x = self.link(update[0], 0).next;
        debug_assert!(x != NIL && self.member(x) == member);
        self.unlink(x, &update);
        self.release(x);
    }

    /// Moves `member` from `old` to `new`; in place when its neighbours
    /// still bracket the new score, as Redis does.
    fn rescore(&mut self, old: f64, member: &[u8], new: f64) {
        // Both places at once: a move needs the second, and searching it
        // beside the first costs little more than the first alone.
        let [(update, rank), (mut to, mut to_rank)] = self.search([(old, member), (new, member)]);
        let x = self.link(update[0], 0).next;
        debug_assert!(x != NIL && self.member(x) == member);
        let (prev, next) = (self.prev(x), self.link(x, 0));
        if (prev == NIL || self.score(prev) < new) && (next.next == NIL || next.score > new) {
            self.node_mut(x).score = new;
            // The links into `x` carry its score.
            for (i, &u) in update.iter().enumerate().take(height(x)) {
                self.link_mut(u, i).score = new;
            }
            return;
        }
        // The new place's predecessors as they will be without `x`: where
        // `x` itself precedes it, `x`'s own predecessor; after `x`, one rank
        // less.
        let x_rank = rank[0] + 1;
        for i in 0..MAX_LEVEL {
            if to[i] == x {
                (to[i], to_rank[i]) = (update[i], rank[i]);
            } else if to_rank[i] >= x_rank {
                to_rank[i] -= 1;
            }
        }
        self.unlink(x, &update);
        let member = self.release(x);
        self.insert_after(new, member, (to, to_rank));
    }

    /// The 0-based rank of an element in the list.
    fn rank(&self, score: f64, member: &[u8]) -> usize {
        self.predecessors(score, member).1[0] as usize
    }

    /// The node at a 0-based rank, NIL past the end.
    fn at_rank(&self, rank: usize) -> u32 {
        if rank >= self.len {
            return NIL;
        }
        let target = rank as u32 + 1;
        let (mut x, mut traversed) = (HEAD, 0);
        for i in (0..self.level).rev() {
            loop {
                let l = self.link(x, i);
                if l.next == NIL || traversed + l.span > target {
                    break;
                }
                traversed += l.span;
                x = l.next;
            }
            if traversed == target {
                return x;
            }
        }
        unreachable!("rank {rank} below length {}", self.len)
    }

    /// The ranks of the first and last elements in `range`.
    fn span(&self, range: &impl Range) -> Option<(usize, usize)> {
        if range.is_empty() || self.len == 0 {
            return None;
        }
        let (mut x, mut first) = (HEAD, 0);
        for i in (0..self.level).rev() {
            loop {
                let l = self.link(x, i);
                if l.next == NIL || range.above_min(l.score, || self.member(l.next)) {
                    break;
                }
                first += l.span;
                x = l.next;
            }
        }
        let start = self.link(x, 0);
        if start.next == NIL || !range.below_max(start.score, || self.member(start.next)) {
            return None;
        }
        let (mut x, mut last) = (HEAD, 0);
        for i in (0..self.level).rev() {
            loop {
                let l = self.link(x, i);
                if l.next == NIL || !range.below_max(l.score, || self.member(l.next)) {
                    break;
                }
                last += l.span;
                x = l.next;
            }
        }
        Some((first as usize, last as usize - 1))
    }

    /// Removes the elements ranked `first..=last`, handing each member to
    /// `removed`.
    fn remove_ranks(&mut self, first: usize, last: usize, mut removed: impl FnMut(&[u8])) {
        let mut update = [HEAD; MAX_LEVEL];
        let (mut x, mut traversed) = (HEAD, 0);
        for i in (0..self.level).rev() {
            loop {
                let l = self.link(x, i);
                if l.next == NIL || (traversed + l.span) as usize > first {
                    break;
                }
                traversed += l.span;
                x = l.next;
            }
            update[i] = x;
        }
        // Predecessors stay valid as the nodes after them go one by one.
        let mut x = self.link(x, 0).next;
        for _ in first..=last {
            if x == NIL {
                break;
            }
            let next = self.link(x, 0).next;
            self.unlink(x, &update);
            removed(&self.release(x));
            x = next;
        }
    }

    /// Advances the compaction by `steps` nodes after a write, starting
    /// one once most of the current generation's slots are free.
    fn compact(&mut self, steps: usize) {
        if self.compaction.is_none() {
            if self.free < COMPACT_MIN_FREE || self.free < self.len {
                return;
            }
            self.generation ^= 1;
            self.free = 0;
            self.compaction = Some(Compaction {
                cursor: self.link(HEAD, 0).next,
                last: [HEAD; MAX_LEVEL],
            });
        }
        let Some(mut c) = self.compaction.take() else {
            return;
        };
        for _ in 0..steps {
            if c.cursor == NIL {
                let old = (self.generation ^ 1) * GEN_TIERS;
                for tier in self.tiers.iter_mut().skip(old).take(GEN_TIERS) {
                    *tier = Tier::default();
                }
                return;
            }
            let mut x = c.cursor;
            if generation(x) != self.generation {
                x = self.relocate(x, &c.last);
            }
            c.last[..height(x)].fill(x);
            c.cursor = self.link(x, 0).next;
        }
        self.compaction = Some(c);
    }

    /// Moves node `x` to a slot of the current generation; `last` holds
    /// its predecessors at each of its levels.
    fn relocate(&mut self, x: u32, last: &[u32; MAX_LEVEL]) -> u32 {
        let h = height(x);
        let (score, prev) = (self.score(x), self.prev(x));
        let member = std::mem::take(&mut self.node_mut(x).member);
        let moved = self.alloc(h, member, score);
        for (i, &before) in last.iter().enumerate().take(h) {
            *self.link_mut(moved, i) = self.link(x, i);
            let into = self.link_mut(before, i);
            debug_assert_eq!(into.next, x);
            into.next = moved;
        }
        self.set_prev(moved, prev);
        match self.link(moved, 0).next {
            NIL => self.tail = moved,
            next => self.set_prev(next, moved),
        }
        moved
    }

    fn memory_usage(&self) -> usize {
        self.head.capacity() * std::mem::size_of::<Link>()
            + self.tiers.capacity() * std::mem::size_of::<Tier>()
            + self
                .tiers
                .iter()
                .map(|t| {
                    t.links.capacity() * std::mem::size_of::<Link>()
                        + t.nodes.capacity() * std::mem::size_of::<Node>()
                        + t.free.capacity() * std::mem::size_of::<u32>()
                        + t.nodes.iter().map(|n| n.member.heap_size()).sum::<usize>()
                })
                .sum::<usize>()
    }
}

/// Elements in rank order from a starting node, forwards or backwards.
struct SkipWalk<'a> {
    list: &'a SkipList,
    at: u32,
    rev: bool,
}

impl<'a> Iterator for SkipWalk<'a> {
    type Item = (&'a [u8], f64);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.at == NIL {
            return None;
        }
        let x = self.at;
        self.at = if self.rev {
            self.list.prev(x)
        } else {
            self.list.link(x, 0).next
        };
        Some((self.list.member(x), self.list.score(x)))
    }
}

/// ZADD's conditions (Redis's ZADD_IN_* flags).
#[derive(Default, Clone, Copy)]
pub struct AddFlags {
    pub nx: bool,
    pub xx: bool,
    pub gt: bool,
    pub lt: bool,
    pub incr: bool,
}

/// What `ZSet::add` did to a member.
#[derive(Debug, PartialEq)]
pub enum Added {
    New,
    Updated,
    /// Given its own score again: processed, nothing changed.
    Unchanged,
    /// Left alone by NX, XX, GT or LT.
    Skipped,
}

/// An increment whose result is not a number (inf + -inf).
#[derive(Debug)]
pub struct NotANumber;

/// A sorted set: packed while small, as Redis keeps a listpack
/// (zset_listpack.rs); past Redis's limits (129 members, or one over 64
/// bytes) a member → score table beside a skip list, for good.
pub struct ZSet(Repr);

enum Repr {
    Packed(Packed),
    /// Boxed: most sorted sets are small, and every object pays for the
    /// largest variant.
    Skip(Box<Indexed>),
}

/// A big sorted set's two indexes.
struct Indexed {
    /// Member → score. Its fields name the members the skip list's nodes
    /// own, so each member is stored once; every path that frees a node
    /// takes its member out of this dict first (`remove`, `remove_ranks`),
    /// and moving a node (rescore, compaction) keeps its member's block.
    scores: Dict<(ThinAlias, f64)>,
    list: SkipList,
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet(Repr::Packed(Packed::default()))
    }
}

/// Elements in rank order from a starting one, forwards or backwards.
pub struct Walk<'a>(WalkRepr<'a>);

enum WalkRepr<'a> {
    Packed(zset_listpack::Walk<'a>),
    Skip(SkipWalk<'a>),
}

impl<'a> Iterator for Walk<'a> {
    type Item = (&'a [u8], f64);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            WalkRepr::Packed(w) => w.next(),
            WalkRepr::Skip(w) => w.next(),
        }
    }
}

/// What ZADD's `flags` make of an existing member's `current` score
/// given `score` (Redis's zsetAdd), or an error when the sum is not a
/// number.
fn rescore(current: f64, score: f64, flags: AddFlags) -> Result<(Added, f64), NotANumber> {
    if flags.nx {
        return Ok((Added::Skipped, current));
    }
    let new = if flags.incr { current + score } else { score };
    if new.is_nan() {
        return Err(NotANumber);
    }
    Ok(
        if (flags.lt && new >= current) || (flags.gt && new <= current) {
            (Added::Skipped, current)
        } else if new == current {
            (Added::Unchanged, new)
        } else {
            (Added::Updated, new)
        },
    )
}

impl ZSet {
    /// `Object::prefetch_member` for a sorted set.
    pub fn prefetch_member(&self, member: &[u8]) {
        if let Repr::Skip(s) = &self.0 {
            s.scores.prefetch(member);
        }
    }

    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Packed(p) => p.len(),
            Repr::Skip(s) => s.scores.len(),
        }
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match &self.0 {
            Repr::Packed(p) => p.score_of(member),
            Repr::Skip(s) => s.scores.get(member),
        }
    }

    /// Sets `member`'s score (never NaN); true when the member is new.
    pub fn set(&mut self, member: &[u8], score: f64) -> bool {
        matches!(
            self.add(member, score, AddFlags::default()),
            Ok((Added::New, _))
        )
    }

    /// ZADD's step for one member (Redis's zsetAdd): applies `score` (with
    /// `incr`, added to the current one) under `flags`. Returns what
    /// happened and the member's score after it, or an error when the sum
    /// is not a number.
    pub fn add(
        &mut self,
        member: &[u8],
        score: f64,
        flags: AddFlags,
    ) -> Result<(Added, f64), NotANumber> {
        if let Repr::Packed(p) = &mut self.0 {
            match p.score_of(member) {
                Some(current) => {
                    let outcome = rescore(current, score, flags)?;
                    if outcome.0 == Added::Updated {
                        p.rescore(member, outcome.1);
                    }
                    return Ok(outcome);
                }
                None if flags.xx => return Ok((Added::Skipped, 0.0)),
                None if p.fits(member) => {
                    p.insert(member, score);
                    return Ok((Added::New, score));
                }
                None => self.0 = Repr::Skip(Box::new(Indexed::from_packed(p))),
            }
        }
        let Repr::Skip(s) = &mut self.0 else {
            unreachable!("converted above")
        };
        s.add(member, score, flags)
    }

    /// Removes `member`; true when it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match &mut self.0 {
            Repr::Packed(p) => p.remove(member).is_some(),
            Repr::Skip(s) => s.remove(member),
        }
    }

    /// `member`'s 0-based rank by ascending score, and its score.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        match &self.0 {
            Repr::Packed(p) => p.rank(member),
            Repr::Skip(s) => {
                let score = s.scores.get(member)?;
                Some((s.list.rank(score, member), score))
            }
        }
    }

    /// Elements from the one ranked `rank` on, ascending or (`rev`)
    /// descending; empty when `rank` is past the end.
    pub fn walk(&self, rank: usize, rev: bool) -> Walk<'_> {
        Walk(match &self.0 {
            Repr::Packed(p) => WalkRepr::Packed(p.walk(rank, rev)),
            Repr::Skip(s) => WalkRepr::Skip(SkipWalk {
                list: &s.list,
                at: s.list.at_rank(rank),
                rev,
            }),
        })
    }

    /// Every element, ascending.
    pub fn iter(&self) -> Walk<'_> {
        self.walk(0, false)
    }

    /// The ranks of the first and last elements in `range`, None if none is.
    pub fn span(&self, range: &impl Range) -> Option<(usize, usize)> {
        match &self.0 {
            Repr::Packed(p) => p.span(range),
            Repr::Skip(s) => s.list.span(range),
        }
    }

    /// Removes the elements ranked `first..=last` (clamped to the set).
    pub fn remove_ranks(&mut self, first: usize, last: usize) -> usize {
        match &mut self.0 {
            Repr::Packed(p) => p.remove_ranks(first, last),
            Repr::Skip(s) => s.remove_ranks(first, last),
        }
    }

    /// ZSCAN: a packed set comes whole and in score order, as Redis sends
    /// a listpack, whatever the cursor.
    pub fn scan<'a>(
        &'a self,
        cursor: u64,
        count: usize,
        mut emit: impl FnMut(&'a [u8], f64),
    ) -> u64 {
        match &self.0 {
            Repr::Packed(_) => {
                self.iter().for_each(|(member, score)| emit(member, score));
                0
            }
            Repr::Skip(s) => s.scores.scan(cursor, count, emit),
        }
    }

    /// `n` distinct ranks below `len()`: for a packed set in order, as
    /// Redis picks from a listpack (ZRANDMEMBER with a positive count).
    pub fn distinct_ranks(&self, rng: &mut impl rand::Rng, n: usize) -> Vec<usize> {
        let packed = matches!(self.0, Repr::Packed(_));
        super::distinct_picks(rng, self.len(), n, packed)
    }

    pub fn encoding(&self) -> &'static str {
        match self.0 {
            Repr::Packed(_) => "listpack",
            Repr::Skip(_) => "skiplist",
        }
    }

    /// Heap bytes held, for MEMORY USAGE.
    pub fn memory_usage(&self) -> usize {
        match &self.0 {
            Repr::Packed(p) => p.memory_usage(),
            Repr::Skip(s) => {
                std::mem::size_of::<Indexed>() + s.scores.memory_usage() + s.list.memory_usage()
            }
        }
    }
}

impl Indexed {
    fn from_packed(packed: &Packed) -> Indexed {
        let mut indexed = Indexed {
            scores: Dict::default(),
            list: SkipList::new(),
        };
        for (member, score) in packed.walk(0, false) {
            indexed
                .add(member, score, AddFlags::default())
                .expect("a number");
        }
        indexed
    }

    /// `ZSet::add` for a big set: one dict lookup unless XX is set.
    fn add(
        &mut self,
        member: &[u8],
        score: f64,
        flags: AddFlags,
    ) -> Result<(Added, f64), NotANumber> {
        if flags.xx {
            let Some(current) = self.scores.get(member) else {
                return Ok((Added::Skipped, 0.0));
            };
            let outcome = rescore(current, score, flags)?;
            if outcome.0 == Added::Updated {
                self.add(member, outcome.1, AddFlags::default())?;
            }
            return Ok(outcome);
        }
        let mut outcome = Ok((Added::New, score));
        let list = &mut self.list;
        let mut stored = None;
        self.scores.upsert_with(
            member,
            score,
            |score| {
                let owned = ThinBytes::from(member);
                let alias = owned.alias();
                stored = Some(owned);
                (alias, score)
            },
            |(_, current), _| {
                outcome = rescore(*current, score, flags);
                if let Ok((Added::Updated, new)) = outcome {
                    list.rescore(*current, member, new);
                    *current = new;
                }
            },
        );
        if let Some(member) = stored {
            self.list.insert(score, member);
            self.list.compact(COMPACT_STEPS);
        }
        outcome
    }

    fn remove(&mut self, member: &[u8]) -> bool {
        let Some((_, score)) = self.scores.take(member) else {
            return false;
        };
        self.list.remove(score, member);
        self.list.compact(COMPACT_STEPS);
        true
    }

    fn remove_ranks(&mut self, first: usize, last: usize) -> usize {
        let before = self.scores.len();
        let scores = &mut self.scores;
        self.list.remove_ranks(first, last, |member| {
            scores.remove(member);
        });
        let removed = before - self.scores.len();
        // Pops come in runs (ZPOPMIN/ZPOPMAX pipelines, a consumer
        // draining a queue): the next one removes the new first or last
        // member from `scores`, whose lookup is fetched now.
        let end = match (first, self.list.len) {
            (0, len) if len > 0 => self.list.link(HEAD, 0).next,
            (_, len) if first == len && len > 0 => self.list.tail,
            _ => NIL,
        };
        if end != NIL {
            self.scores.prefetch(self.list.member(end));
        }
        self.list.compact(removed * COMPACT_STEPS);
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::SeedableRng;

    /// A big set's skip list.
    fn list(z: &ZSet) -> &SkipList {
        match &z.0 {
            Repr::Skip(s) => &s.list,
            Repr::Packed(_) => panic!("a packed set has no skip list"),
        }
    }

    /// `check` for a big set's list; a packed set's order is what
    /// `elements` compares.
    fn check_set(z: &ZSet) {
        if let Repr::Skip(s) = &z.0 {
            check(&s.list);
        }
    }

    /// Checks every link's span and score and the back links against
    /// level 0.
    fn check(list: &SkipList) {
        let mut order = Vec::new();
        let mut x = list.link(HEAD, 0).next;
        let mut prev = NIL;
        while x != NIL {
            assert_eq!(list.prev(x), prev);
            order.push(x);
            prev = x;
            x = list.link(x, 0).next;
        }
        assert_eq!(order.len(), list.len);
        assert_eq!(list.tail, prev);
        let pos = |id: u32| {
            if id == HEAD {
                0
            } else {
                order.iter().position(|&o| o == id).unwrap() + 1
            }
        };
        for i in 0..list.level {
            let mut x = HEAD;
            loop {
                let l = list.link(x, i);
                let to = if l.next == NIL {
                    list.len + 1
                } else {
                    pos(l.next)
                };
                let expected = to - pos(x) - (l.next == NIL) as usize;
                assert_eq!(l.span as usize, expected, "span at level {i}");
                if l.next == NIL {
                    break;
                }
                assert_eq!(l.score, list.score(l.next), "cached score at level {i}");
                x = l.next;
            }
        }
        for w in order.windows(2) {
            let a = (list.score(w[0]), list.member(w[0]));
            let b = (list.score(w[1]), list.member(w[1]));
            assert!(a < b);
        }
        let old = order
            .iter()
            .filter(|&&x| generation(x) != list.generation)
            .count();
        let used: usize = list
            .tiers
            .iter()
            .skip(list.generation * GEN_TIERS)
            .take(GEN_TIERS)
            .map(|t| t.nodes.len() - t.free.len())
            .sum();
        assert_eq!(used + old, list.len, "every used slot is linked");
        match &list.compaction {
            None => assert_eq!(old, 0, "old generation left without a compaction"),
            Some(c) => assert_eq!(list.link(c.last[0], 0).next, c.cursor),
        }
    }

    /// The sorted (score, member) pairs a naive model holds.
    type Model = Vec<(f64, Vec<u8>)>;

    fn model_set(model: &mut Model, member: &[u8], score: f64) {
        model.retain(|(_, m)| m != member);
        let at = model.partition_point(|(s, m)| (*s, m.as_slice()) < (score, member));
        model.insert(at, (score, member.to_vec()));
    }

    fn elements(z: &ZSet) -> Model {
        z.iter().map(|(m, s)| (s, m.to_vec())).collect()
    }

    #[test]
    fn matches_a_sorted_vec_under_random_operations() {
        // 400 members: a skip list soon; 100: packed throughout.
        for (members, encoding) in [(400, "skiplist"), (100, "listpack")] {
            let z = random_operations(members);
            assert_eq!(z.encoding(), encoding);
        }
    }

    fn random_operations(members: usize) -> ZSet {
        let mut rng = SmallRng::seed_from_u64(7);
        let mut z = ZSet::default();
        let mut model: Model = Vec::new();
        for step in 0..20_000 {
            let member = format!("m{}", rng.gen_range(0..members)).into_bytes();
            // Few distinct scores, so ties ordered by member are common.
            let score = rng.gen_range(0..50) as f64 / 2.0;
            match rng.gen_range(0..10) {
                0..=4 => {
                    let new = z.score(&member).is_none();
                    assert_eq!(z.set(&member, score), new);
                    model_set(&mut model, &member, score);
                }
                5 | 6 => {
                    let had = model.iter().any(|(_, m)| *m == member);
                    assert_eq!(z.remove(&member), had);
                    model.retain(|(_, m)| *m != member);
                }
                7 => {
                    if !model.is_empty() {
                        let a = rng.gen_range(0..model.len());
                        // Now and then most of the set, so the tiers get rebuilt.
                        let width = if rng.gen_ratio(1, 30) { 400 } else { 5 };
                        let b = (a + rng.gen_range(0..width)).min(model.len() - 1);
                        assert_eq!(z.remove_ranks(a, b), b - a + 1);
                        model.drain(a..=b);
                    }
                }
                8 => {
                    let (lo, hi) = (score, score + rng.gen_range(0..10) as f64);
                    let range = ScoreRange {
                        min: lo,
                        max: hi,
                        min_ex: rng.gen(),
                        max_ex: rng.gen(),
                    };
                    let inside: Vec<usize> = (0..model.len())
                        .filter(|&i| {
                            range.above_min(model[i].0, || &[][..])
                                && range.below_max(model[i].0, || &[][..])
                        })
                        .collect();
                    let expected = inside.first().map(|&f| (f, *inside.last().unwrap()));
                    assert_eq!(z.span(&range), expected, "{range:?}");
                }
                _ => {
                    if let Some(i) = (!model.is_empty()).then(|| rng.gen_range(0..model.len())) {
                        let (s, m) = &model[i];
                        assert_eq!(z.rank(m), Some((i, *s)));
                        assert_eq!(z.walk(i, false).next(), Some((&m[..], *s)));
                        let back: Vec<_> = z.walk(i, true).map(|(m, _)| m.to_vec()).collect();
                        let expected: Vec<_> =
                            model[..=i].iter().rev().map(|(_, m)| m.clone()).collect();
                        assert_eq!(back, expected);
                    }
                }
            }
            assert_eq!(z.len(), model.len());
            if step % 500 == 0 {
                check_set(&z);
                assert_eq!(elements(&z), model);
            }
        }
        check_set(&z);
        assert_eq!(elements(&z), model);
        z
    }

    #[test]
    fn writes_during_a_compaction_keep_the_list_whole() {
        let mut rng = SmallRng::seed_from_u64(11);
        let mut z = ZSet::default();
        let mut model: Model = Vec::new();
        let mut during = 0;
        for step in 0..12_000 {
            // Grows to ~1500, then mostly shrinks: compactions start and
            // run across many writes of every kind.
            let member = format!("m{}", rng.gen_range(0..3000)).into_bytes();
            let score = rng.gen_range(0..40) as f64;
            let grow = if step < 3000 { 8 } else { 3 };
            match rng.gen_range(0..10) {
                r if r < grow => {
                    z.set(&member, score);
                    model_set(&mut model, &member, score);
                }
                8 if !model.is_empty() => {
                    let a = rng.gen_range(0..model.len());
                    let b = (a + rng.gen_range(0..3)).min(model.len() - 1);
                    assert_eq!(z.remove_ranks(a, b), b - a + 1);
                    model.drain(a..=b);
                }
                _ => {
                    let had = model.iter().any(|(_, m)| *m == member);
                    assert_eq!(z.remove(&member), had);
                    model.retain(|(_, m)| *m != member);
                }
            }
            during += matches!(&z.0, Repr::Skip(s) if s.list.compaction.is_some()) as usize;
            if step % 97 == 0 {
                check_set(&z);
                assert_eq!(elements(&z), model);
            }
        }
        check_set(&z);
        assert_eq!(elements(&z), model);
        assert!(during > 200, "writes during compactions: {during}");
    }

    #[test]
    fn add_follows_zadd_flags() {
        let mut z = ZSet::default();
        let flags = |nx, xx, gt, lt, incr| AddFlags {
            nx,
            xx,
            gt,
            lt,
            incr,
        };
        let none = AddFlags::default();
        assert_eq!(z.add(b"a", 1.0, none).unwrap(), (Added::New, 1.0));
        assert_eq!(z.add(b"a", 1.0, none).unwrap(), (Added::Unchanged, 1.0));
        assert_eq!(z.add(b"a", 2.0, none).unwrap(), (Added::Updated, 2.0));
        let nx = flags(true, false, false, false, false);
        assert_eq!(z.add(b"a", 5.0, nx).unwrap().0, Added::Skipped);
        assert_eq!(z.add(b"b", 5.0, nx).unwrap(), (Added::New, 5.0));
        let xx = flags(false, true, false, false, false);
        assert_eq!(z.add(b"c", 1.0, xx).unwrap().0, Added::Skipped);
        assert_eq!(z.score(b"c"), None);
        assert_eq!(z.add(b"b", 0.5, xx).unwrap(), (Added::Updated, 0.5));
        let gt = flags(false, false, true, false, false);
        assert_eq!(z.add(b"a", 1.0, gt).unwrap().0, Added::Skipped);
        assert_eq!(z.add(b"a", 3.0, gt).unwrap(), (Added::Updated, 3.0));
        let lt_incr = flags(false, false, false, true, true);
        assert_eq!(z.add(b"a", 1.0, lt_incr).unwrap().0, Added::Skipped);
        assert_eq!(z.add(b"a", -1.0, lt_incr).unwrap(), (Added::Updated, 2.0));
        let incr = flags(false, false, false, false, true);
        assert_eq!(z.add(b"a", f64::INFINITY, incr).unwrap().1, f64::INFINITY);
        assert!(z.add(b"a", f64::NEG_INFINITY, incr).is_err());
        assert_eq!(z.score(b"a"), Some(f64::INFINITY));
        let order: Vec<_> = z.iter().map(|(m, _)| m.to_vec()).collect();
        assert_eq!(order, [b"b".to_vec(), b"a".to_vec()]);
        check_set(&z);
    }

    #[test]
    fn lex_ranges() {
        let mut z = ZSet::default();
        for m in ["a", "b", "c", "d", "e"] {
            z.set(m.as_bytes(), 0.0);
        }
        let span = |min, max| z.span(&LexRange { min, max });
        use LexBound::*;
        assert_eq!(span(Min, Max), Some((0, 4)));
        assert_eq!(span(Incl(b"b"), Excl(b"d")), Some((1, 2)));
        assert_eq!(span(Excl(b"b"), Incl(b"d")), Some((2, 3)));
        assert_eq!(span(Excl(b"a0"), Max), Some((1, 4)));
        assert_eq!(span(Incl(b"c"), Incl(b"c")), Some((2, 2)));
        assert_eq!(span(Incl(b"c"), Excl(b"c")), None);
        assert_eq!(span(Min, Min), None);
        assert_eq!(span(Max, Max), None);
        assert_eq!(span(Incl(b"z"), Max), None);
        assert_eq!(span(Incl(b"d"), Incl(b"b")), None);
    }

    #[test]
    fn rescoring_keeps_order_and_infinities_sort_at_the_ends() {
        let mut z = ZSet::default();
        z.set(b"a", 1.0);
        z.set(b"b", 2.0);
        z.set(b"c", f64::INFINITY);
        z.set(b"d", f64::NEG_INFINITY);
        assert!(!z.set(b"a", 3.0));
        let order: Vec<_> = z.iter().map(|(m, _)| m.to_vec()).collect();
        assert_eq!(
            order,
            [b"d".to_vec(), b"b".to_vec(), b"a".to_vec(), b"c".to_vec()]
        );
        assert!(!z.set(b"a", 2.5)); // stays between its neighbours: in place
        assert_eq!(z.rank(b"a"), Some((2, 2.5)));
        check_set(&z);
    }

    #[test]
    fn encoding_turns_to_skiplist_for_good() {
        let mut z = ZSet::default();
        for i in 0..zset_listpack::MAX_ENTRIES {
            z.set(format!("{i}").as_bytes(), i as f64);
        }
        assert_eq!(z.encoding(), "listpack");
        z.set(b"one more", 0.0);
        assert_eq!(z.encoding(), "skiplist");
        z.remove(b"one more");
        assert_eq!(z.encoding(), "skiplist");
        let mut z = ZSet::default();
        z.set(&[b'x'; zset_listpack::MAX_VALUE + 1], 0.0);
        assert_eq!(z.encoding(), "skiplist");
    }

    #[test]
    fn arena_is_compacted_after_mass_removal() {
        let mut z = ZSet::default();
        for i in 0..10_000 {
            z.set(format!("m{i}").as_bytes(), (i % 100) as f64);
        }
        let full = list(&z).memory_usage();
        assert_eq!(z.remove_ranks(0, 9_899), 9_900);
        for i in 0..50 {
            let m = z.walk(0, false).next().unwrap().0.to_vec();
            assert!(z.remove(&m), "{i}");
        }
        assert_eq!(z.len(), 50);
        assert!(list(&z).memory_usage() < full / 10);
        check_set(&z);
        let ranks: Vec<_> = (0..50)
            .map(|r| z.walk(r, false).next().unwrap().1)
            .collect();
        assert!(ranks.windows(2).all(|w| w[0] <= w[1]));
    }
}
