//! A small sorted set, packed as Redis packs one into a listpack: its
//! elements one after another in one buffer, in (score, member) order.
//! Each is the member's length (one byte: never over 64), the member, the
//! score (8 bytes), and the length again, so the buffer is walked from
//! either end. Lookups, ranks and ranges walk it: at most 128 elements,
//! a few cache lines read in order. A key holding 10 members takes ~310
//! bytes in all (Redis ~235, whose listpack stores integer scores in a
//! byte or two), where the member table and skip list of a big set took
//! 2.8 KB.

use super::zset::Range;

/// Redis's zset-max-listpack-entries and zset-max-listpack-value defaults.
pub const MAX_ENTRIES: usize = 128;
pub const MAX_VALUE: usize = 64;

/// Bytes around a member: its length twice and the score.
const FRAME: usize = 10;

#[derive(Default)]
pub struct Packed {
    buf: Vec<u8>,
    len: usize,
}

/// An element's place in the buffer: `start..end`, member at `start + 1`.
#[derive(Clone, Copy)]
struct At {
    start: usize,
    end: usize,
}

impl Packed {
    pub fn len(&self) -> usize {
        self.len
    }

    fn member(&self, at: At) -> &[u8] {
        &self.buf[at.start + 1..at.end - 9]
    }

    fn score(&self, at: At) -> f64 {
        let bytes = self.buf[at.end - 9..at.end - 1]
            .try_into()
            .expect("8 bytes");
        f64::from_le_bytes(bytes)
    }

    fn at(&self, start: usize) -> At {
        At {
            start,
            end: start + self.buf[start] as usize + FRAME,
        }
    }

    fn elements(&self) -> impl Iterator<Item = At> + '_ {
        let mut next = 0;
        std::iter::from_fn(move || {
            (next < self.buf.len()).then(|| {
                let at = self.at(next);
                next = at.end;
                at
            })
        })
    }

    /// `member`'s place and 0-based rank.
    fn find(&self, member: &[u8]) -> Option<(At, usize)> {
        self.elements()
            .enumerate()
            .find(|(_, at)| self.member(*at) == member)
            .map(|(rank, at)| (at, rank))
    }

    pub fn score_of(&self, member: &[u8]) -> Option<f64> {
        self.find(member).map(|(at, _)| self.score(at))
    }

    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        self.find(member).map(|(at, rank)| (rank, self.score(at)))
    }

    /// Whether an element of this member may join the buffer.
    pub fn fits(&self, member: &[u8]) -> bool {
        member.len() <= MAX_VALUE && self.len < MAX_ENTRIES
    }

    /// Inserts a member that is not there, in order. The buffer grows by
    /// what it needs, as a listpack is reallocated at each insert.
    pub fn insert(&mut self, member: &[u8], score: f64) {
        let before = |at: &At| {
            let s = self.score(*at);
            s > score || (s == score && self.member(*at) > member)
        };
        let pos = self
            .elements()
            .find(before)
            .map_or(self.buf.len(), |at| at.start);
        let len = member.len() as u8;
        let mut element = Vec::with_capacity(member.len() + FRAME);
        element.push(len);
        element.extend_from_slice(member);
        element.extend_from_slice(&score.to_le_bytes());
        element.push(len);
        self.buf.reserve_exact(element.len());
        self.buf.splice(pos..pos, element);
        self.len += 1;
    }

    /// Removes `member`; its score if it was there.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let (at, _) = self.find(member)?;
        let score = self.score(at);
        self.buf.drain(at.start..at.end);
        self.len -= 1;
        self.buf.shrink_to_fit();
        Some(score)
    }

    /// Gives `member` (which is there) a new score.
    pub fn rescore(&mut self, member: &[u8], score: f64) {
        self.remove(member);
        self.insert(member, score);
    }

    /// The element ranked `rank` (below `len`).
    fn at_rank(&self, rank: usize) -> At {
        self.elements().nth(rank).expect("rank below the length")
    }

    /// Elements from the one ranked `rank` on, ascending or (`rev`)
    /// descending; empty when `rank` is past the end.
    pub fn walk(&self, rank: usize, rev: bool) -> Walk<'_> {
        let next = match (rank < self.len, rev) {
            (false, _) => None,
            (true, false) => Some(self.at_rank(rank).start),
            (true, true) => Some(self.at_rank(rank).end),
        };
        Walk {
            set: self,
            next,
            rev,
        }
    }

    /// The ranks of the first and last elements in `range`: as Redis reads
    /// a listpack, the first element from the start above the minimum, and
    /// those after it while they are below the maximum.
    pub fn span(&self, range: &impl Range) -> Option<(usize, usize)> {
        if range.is_empty() {
            return None;
        }
        let below_max = |at: &At| range.below_max(self.score(*at), || self.member(*at));
        let mut elements = self.elements().enumerate();
        let (first, _) = elements
            .by_ref()
            .find(|(_, at)| range.above_min(self.score(*at), || self.member(*at)))
            .filter(|(_, at)| below_max(at))?;
        let in_range = elements.take_while(|(_, at)| below_max(at)).count();
        Some((first, first + in_range))
    }

    /// Removes the elements ranked `first..=last` (clamped); how many.
    pub fn remove_ranks(&mut self, first: usize, last: usize) -> usize {
        if first >= self.len || first > last {
            return 0;
        }
        let last = last.min(self.len - 1);
        let (from, to) = (self.at_rank(first).start, self.at_rank(last).end);
        self.buf.drain(from..to);
        self.len -= last - first + 1;
        self.buf.shrink_to_fit();
        last - first + 1
    }

    pub fn memory_usage(&self) -> usize {
        self.buf.capacity()
    }
}

/// Elements in rank order from a starting one, forwards or backwards.
pub struct Walk<'a> {
    set: &'a Packed,
    /// Forwards: where the next element starts; backwards: where it ends.
    next: Option<usize>,
    rev: bool,
}

impl<'a> Iterator for Walk<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<Self::Item> {
        let set = self.set;
        let at = match (self.next?, self.rev) {
            (0, true) => return None,
            (end, true) => {
                let start = end - set.buf[end - 1] as usize - FRAME;
                self.next = Some(start);
                At { start, end }
            }
            (start, false) if start >= set.buf.len() => return None,
            (start, false) => {
                let at = set.at(start);
                self.next = Some(at.end);
                at
            }
        };
        Some((set.member(at), set.score(at)))
    }
}
