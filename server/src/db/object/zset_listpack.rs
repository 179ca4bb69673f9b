//! A small sorted set, packed as Redis packs one into a listpack: its
//! elements one after another in one buffer, in (score, member) order.
//! Each is the member's length (one byte: never over 64), the member, the
//! score, and the element's whole length, so the buffer is walked from
//! either end. A score that is an integer (most are: counts, timestamps)
//! takes a byte saying how many follow and that many of its zigzag form,
//! as a listpack stores integers small; any other takes a marker and the
//! 8 bytes of the double. Lookups, ranks and ranges walk the buffer: at
//! most 128 elements, a few cache lines read in order. A key holding 10
//! members takes ~280 bytes in all (Redis ~236), where the member table
//! and skip list of a big set took 2.8 KB.

use smallvec::SmallVec;

use super::zset::Range;

/// Redis's zset-max-listpack-entries and zset-max-listpack-value defaults.
pub const MAX_ENTRIES: usize = 128;
pub const MAX_VALUE: usize = 64;

/// The score marker of a double that is not an integer (or is -0).
const DOUBLE: u8 = 9;

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
        &self.buf[at.start + 1..self.score_at(at.start)]
    }

    /// Where the score of the element starting at `start` begins.
    fn score_at(&self, start: usize) -> usize {
        start + 1 + self.buf[start] as usize
    }

    fn score(&self, at: At) -> f64 {
        let from = self.score_at(at.start);
        let bytes = &self.buf[from + 1..at.end - 1];
        let mut word = [0; 8];
        word[..bytes.len()].copy_from_slice(bytes);
        let word = u64::from_le_bytes(word);
        if self.buf[from] == DOUBLE {
            f64::from_bits(word)
        } else {
            ((word >> 1) as i64 ^ -((word & 1) as i64)) as f64
        }
    }

    fn at(&self, start: usize) -> At {
        let from = self.score_at(start);
        let bytes = match self.buf[from] {
            DOUBLE => 8,
            n => n as usize,
        };
        At {
            start,
            end: from + 1 + bytes + 1,
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
        // On the stack: the longest is 75 bytes (smallvec sizes go 64, 96).
        let mut element: SmallVec<[u8; 96]> = SmallVec::new();
        element.push(member.len() as u8);
        element.extend_from_slice(member);
        let int = score as i64;
        // Exactly an integer: -0 and doubles past 2^63 keep their bits.
        if (int as f64).to_bits() == score.to_bits() {
            let zigzag = ((int << 1) ^ (int >> 63)) as u64;
            let bytes = 8 - zigzag.leading_zeros() as usize / 8;
            element.push(bytes as u8);
            element.extend_from_slice(&zigzag.to_le_bytes()[..bytes]);
        } else {
            element.push(DOUBLE);
            element.extend_from_slice(&score.to_le_bytes());
        }
        element.push(element.len() as u8 + 1);
        self.buf.reserve_exact(element.len());
        self.buf.splice(pos..pos, element);
        self.len += 1;
    }

    /// Removes `member`; its score if it was there.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let score = self.take(member)?;
        self.buf.shrink_to_fit();
        Some(score)
    }

    /// Removes `member`, keeping the buffer's room; its score if it was there.
    fn take(&mut self, member: &[u8]) -> Option<f64> {
        let (at, _) = self.find(member)?;
        let score = self.score(at);
        self.buf.drain(at.start..at.end);
        self.len -= 1;
        Some(score)
    }

    /// Gives `member` (which is there) a new score: the room it leaves is
    /// reused, so the buffer is not shrunk and grown back.
    pub fn rescore(&mut self, member: &[u8], score: f64) {
        self.take(member);
        self.insert(member, score);
        self.buf.shrink_to_fit();
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
                let start = end - set.buf[end - 1] as usize;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_come_back_bit_for_bit() {
        let scores = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            127.0,
            -129.0,
            1_700_000_000_000.0,
            i64::MIN as f64,
            9.3e18,
            -9.3e18,
            2.5,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
        ];
        let mut set = Packed::default();
        for (i, &score) in scores.iter().enumerate() {
            set.insert(format!("m{i}").as_bytes(), score);
        }
        for (i, &score) in scores.iter().enumerate() {
            let stored = set.score_of(format!("m{i}").as_bytes()).unwrap();
            assert_eq!(stored.to_bits(), score.to_bits(), "{score}");
        }
        let forward: Vec<f64> = set.walk(0, false).map(|(_, s)| s).collect();
        let mut backward: Vec<f64> = set.walk(set.len() - 1, true).map(|(_, s)| s).collect();
        backward.reverse();
        assert_eq!(forward, backward);
        assert!(forward.windows(2).all(|w| w[0] <= w[1]));
        // A member takes its bytes and one, a small integer score two, and
        // the element's length one.
        let mut small = Packed::default();
        small.insert(b"abc", 7.0);
        assert_eq!(small.memory_usage(), 3 + 1 + 2 + 1);
    }
}
