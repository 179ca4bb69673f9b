//! A growable array that never moves what it holds: segments of doubling
//! size (8, 16, 32, … elements), added as it grows. A Vec doubles by
//! copying everything, which for a sorted set of a million members is one
//! stall of 10–20 ms (the copy, and faulting in the new pages at once) for
//! every client of its slot; here growing costs one allocation, and pages
//! are touched as elements arrive. Indexing finds the segment from the
//! position's highest bit.

use std::ops::{Index, IndexMut};

/// The first segment holds 1 << FIRST_BITS elements.
const FIRST_BITS: u32 = 3;

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
            self.segments
                .push(Vec::with_capacity(1 << (segment as u32 + FIRST_BITS)));
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
}
