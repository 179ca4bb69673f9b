//! The set type. As in Redis, a set of at most 512 integers is a sorted
//! array of them (an intset, intset.rs: SMEMBERS answers in numeric order
//! as Redis does); the first other member, or the 513th, turns it into a
//! table for good.

use rand::Rng;

use super::dict::Dict;
use super::intset::IntSet;
use crate::commands::parse_i64;
use crate::db::thin::ThinBytes;

/// Redis's set-max-intset-entries default.
const MAX_INTSET: usize = 512;

pub enum Set {
    Ints(IntSet),
    /// Boxed: every object pays for the largest variant.
    Table(Box<Dict<(ThinBytes, ())>>),
}

impl Default for Set {
    fn default() -> Self {
        Set::Ints(IntSet::default())
    }
}

/// A member as a set holds it: an intset's integer, or bytes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Member<'a> {
    Int(i64),
    Bytes(&'a [u8]),
}

impl Member<'_> {
    /// The member as bytes; an integer is formatted into `buf`.
    pub fn bytes<'b>(&'b self, buf: &'b mut itoa::Buffer) -> &'b [u8] {
        match self {
            Member::Int(n) => buf.format(*n).as_bytes(),
            Member::Bytes(b) => b,
        }
    }

    pub fn to_vec(self) -> Vec<u8> {
        self.bytes(&mut itoa::Buffer::new()).to_vec()
    }

    /// The member as an integer if it reads as one (strictly, as Redis's
    /// string2ll: "01" or "+1" stay strings).
    fn int(self) -> Option<i64> {
        match self {
            Member::Int(n) => Some(n),
            Member::Bytes(b) => parse_i64(b),
        }
    }
}

impl Set {
    pub fn len(&self) -> usize {
        match self {
            Set::Ints(v) => v.len(),
            Set::Table(d) => d.len(),
        }
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        self.contains_member(Member::Bytes(member))
    }

    pub fn contains_member(&self, member: Member) -> bool {
        match self {
            Set::Ints(v) => member.int().is_some_and(|n| v.contains(n)),
            Set::Table(d) => d.contains(member.bytes(&mut itoa::Buffer::new())),
        }
    }

    /// Adds `member`; true when it is new.
    pub fn insert(&mut self, member: &[u8]) -> bool {
        self.insert_member(Member::Bytes(member))
    }

    pub fn insert_member(&mut self, member: Member) -> bool {
        if let Set::Ints(v) = self {
            if let Some(n) = member.int() {
                // A full intset converts only for a member it lacks.
                if v.len() < MAX_INTSET || v.contains(n) {
                    return v.insert(n);
                }
            }
            self.convert();
        }
        let Set::Table(d) = self else {
            unreachable!("converted above")
        };
        d.insert(member.bytes(&mut itoa::Buffer::new()), ())
    }

    /// Turns an intset into a table (for good, as Redis does).
    fn convert(&mut self) {
        if let Set::Ints(v) = self {
            let mut d = Box::<Dict<_>>::default();
            let mut buf = itoa::Buffer::new();
            for n in v.iter() {
                d.insert(buf.format(n).as_bytes(), ());
            }
            *self = Set::Table(d);
        }
    }

    /// Removes `member`; true when it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            Set::Ints(v) => parse_i64(member).is_some_and(|n| v.remove(n)),
            Set::Table(d) => d.remove(member),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = Member<'_>> + '_ {
        let (ints, table) = match self {
            Set::Ints(v) => (Some(v.iter()), None),
            Set::Table(d) => (None, Some(d.iter())),
        };
        ints.into_iter()
            .flatten()
            .map(Member::Int)
            .chain(table.into_iter().flatten().map(|(m, ())| Member::Bytes(m)))
    }

    /// A random member of a non-empty set.
    pub fn random(&self, rng: &mut impl Rng) -> Member<'_> {
        match self {
            Set::Ints(v) => Member::Int(v.get(rng.gen_range(0..v.len()))),
            Set::Table(d) => Member::Bytes(d.random(rng).expect("set is not empty").0),
        }
    }

    /// Members at uniformly random positions: `count` distinct ones
    /// (`distinct`, count below the length) or `count` independent picks.
    pub fn sample(&self, rng: &mut impl Rng, count: usize, distinct: bool) -> Vec<Member<'_>> {
        let len = self.len();
        let positions: Vec<usize> = if distinct {
            rand::seq::index::sample(rng, len, count).into_vec()
        } else {
            (0..count).map(|_| rng.gen_range(0..len)).collect()
        };
        match self {
            Set::Ints(v) => positions
                .into_iter()
                .map(|p| Member::Int(v.get(p)))
                .collect(),
            Set::Table(d) => {
                let at = d.positions();
                positions
                    .into_iter()
                    .map(|p| Member::Bytes(at.get(p).0))
                    .collect()
            }
        }
    }

    /// One SSCAN step (see `Dict::scan`); an intset is returned whole, as
    /// Redis does, with cursor 0.
    pub fn scan<'a>(&'a self, cursor: u64, count: usize, mut emit: impl FnMut(Member<'a>)) -> u64 {
        match self {
            Set::Ints(v) => {
                v.iter().for_each(|n| emit(Member::Int(n)));
                0
            }
            Set::Table(d) => d.scan(cursor, count, |m, ()| emit(Member::Bytes(m))),
        }
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Set::Ints(_) => "intset",
            Set::Table(_) => "hashtable",
        }
    }

    /// Heap bytes held, for MEMORY USAGE.
    pub fn memory_usage(&self) -> usize {
        match self {
            Set::Ints(v) => v.memory_usage(),
            Set::Table(d) => d.memory_usage(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn bytes(m: Member) -> Vec<u8> {
        m.to_vec()
    }

    #[test]
    fn integers_stay_sorted_until_a_string_or_the_513th() {
        let mut s = Set::default();
        for n in [5, -3, 100, 5] {
            s.insert(n.to_string().as_bytes());
        }
        assert_eq!(s.encoding(), "intset");
        let members: Vec<_> = s.iter().map(bytes).collect();
        assert_eq!(members, [b"-3".to_vec(), b"5".to_vec(), b"100".to_vec()]);
        // Not canonical integers: strings, so the set converts.
        assert!(!s.contains(b"05"));
        assert!(s.insert(b"05"));
        assert_eq!(s.encoding(), "hashtable");
        assert!(s.contains(b"5") && s.contains(b"05") && s.contains(b"-3"));
        assert!(s.remove(b"-3"));
        assert_eq!(s.encoding(), "hashtable");

        let mut s = Set::default();
        for n in 0..MAX_INTSET {
            s.insert(n.to_string().as_bytes());
        }
        assert_eq!((s.encoding(), s.len()), ("intset", MAX_INTSET));
        assert!(s.insert(b"-1"));
        assert_eq!((s.encoding(), s.len()), ("hashtable", MAX_INTSET + 1));
        assert!(s.contains(b"511") && s.contains(b"-1"));
    }

    #[test]
    fn membership_across_encodings() {
        let mut ints = Set::default();
        let mut table = Set::default();
        for n in 0..10 {
            ints.insert(n.to_string().as_bytes());
            table.insert(n.to_string().as_bytes());
        }
        table.insert(b"x");
        for m in ints.iter() {
            assert!(table.contains_member(m));
        }
        assert!(!ints.contains_member(Member::Bytes(b"x")));
        assert!(ints.contains_member(Member::Bytes(b"7")));
        assert!(!ints.remove(b"x"));
        assert!(ints.remove(b"7"));
        assert!(!ints.contains(b"7"));
    }

    #[test]
    fn samples_are_members_and_distinct_when_asked() {
        let mut rng = rand::thread_rng();
        for words in [false, true] {
            let mut s = Set::default();
            for n in 0..300 {
                let m = if words {
                    format!("m{n}")
                } else {
                    n.to_string()
                };
                s.insert(m.as_bytes());
            }
            let picked = s.sample(&mut rng, 200, true);
            let unique: HashSet<Vec<u8>> = picked.iter().map(|&m| bytes(m)).collect();
            assert_eq!(unique.len(), 200);
            assert!(picked.iter().all(|&m| s.contains_member(m)));
            assert_eq!(s.sample(&mut rng, 1000, false).len(), 1000);
            assert!(s.contains_member(s.random(&mut rng)));
        }
    }
}
