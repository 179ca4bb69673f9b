//! A growable array that never moves what it holds: segments of doubling
//! size (8, 16, 32, … elements) up to 16384 elements, then more of that
//! size, added as it grows. A Vec doubles by copying everything, which for
//! a sorted set of a million members is one stall of 10–20 ms (the copy,
//! and faulting in the new pages at once) for every client of its slot;
//! here growing costs one allocation. Segments stop doubling so that room
//! allocated ahead stays small: the allocator counts it as used memory
//! whether or not it was touched (doubling to the end, a million-member
//! sorted set held ~40% more node room than nodes). Indexing finds a
//! doubling segment from the position's highest bit.

use std::ops::{Index, IndexMut};

/// The first segment holds 1 << FIRST_BITS elements…
const FIRST_BITS: u32 = 3;
/// …and none more than 1 << LAST_BITS.
const LAST_BITS: u32 = 14;
/// Elements in the segments of doubling size.
const DOUBLING: usize = (1 << (LAST_BITS + 1)) - (1 << FIRST_BITS);
/// Segments of doubling size.
const DOUBLING_SEGMENTS: usize = (LAST_BITS - FIRST_BITS + 1) as usize;

pub struct Segmented<T> {
    segments: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for Segmented<T> {
    fn default() -> Self {
        Segmented {
            segments: Vec::new(),
            len: 0,
        }
    }
}

/// The segment and offset of element `i`.
#[inline]
fn locate(i: usize) -> (usize, usize) {
    if i >= DOUBLING {
        let past = i - DOUBLING;
        return (
            DOUBLING_SEGMENTS + (past >> LAST_BITS),
            past & ((1 << LAST_BITS) - 1),
        );
    }
    let p = i + (1 << FIRST_BITS);
    let top = usize::BITS - 1 - p.leading_zeros();
    ((top - FIRST_BITS) as usize, p - (1 << top))
}

impl<T> Segmented<T> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn push(&mut self, value: T) {
        let (segment, _) = locate(self.len);
        if segment == self.segments.len() {
            let bits = (segment as u32 + FIRST_BITS).min(LAST_BITS);
            self.segments.push(Vec::with_capacity(1 << bits));
        }
        self.segments[segment].push(value);
        self.len += 1;
    }

    /// Elements it has room for without allocating.
    pub fn capacity(&self) -> usize {
        self.segments.iter().map(Vec::capacity).sum()
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.segments.iter().flatten()
    }
}

impl<T> Index<usize> for Segmented<T> {
    type Output = T;
    #[inline]
    fn index(&self, i: usize) -> &T {
        let (segment, offset) = locate(i);
        &self.segments[segment][offset]
    }
}

impl<T> IndexMut<usize> for Segmented<T> {
    #[inline]
    fn index_mut(&mut self, i: usize) -> &mut T {
        let (segment, offset) = locate(i);
        &mut self.segments[segment][offset]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_stay_where_they_were_put() {
        let mut s = Segmented::default();
        let mut first = None;
        for i in 0..10_000usize {
            s.push(i);
            let at = &s[0] as *const usize;
            assert_eq!(*first.get_or_insert(at), at, "moved at {i}");
        }
        assert_eq!(s.len(), 10_000);
        assert!((0..10_000).all(|i| s[i] == i));
        assert!(s.iter().copied().eq(0..10_000));
        s[5_000] = 7;
        assert_eq!(s[5_000], 7);
        assert!(s.capacity() >= 10_000 && s.capacity() < 2 * 10_000 + 16);
    }

    #[test]
    fn big_arrays_hold_at_most_one_segment_ahead() {
        let mut s = Segmented::default();
        let n = 3 * DOUBLING + 5;
        for i in 0..n {
            s.push(i);
        }
        assert!((0..n).all(|i| s[i] == i));
        assert!(s.iter().copied().eq(0..n));
        assert!(s.capacity() >= n && s.capacity() < n + (1 << LAST_BITS));
        // Every segment is full but the last, and none is over the cap.
        let (last, _) = locate(n - 1);
        assert_eq!(s.segments.len(), last + 1);
        for (k, seg) in s.segments.iter().enumerate() {
            assert!(seg.capacity() <= 1 << LAST_BITS);
            if k < last {
                assert_eq!(seg.len(), seg.capacity());
            }
        }
    }
}
