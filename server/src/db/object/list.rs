//! A list: a ring buffer of elements, O(1) at both ends and by index. The
//! bytes held are counted as they change, so MEMORY USAGE and eviction
//! read the size in O(1) however long the list is.

use std::collections::VecDeque;

use crate::db::thin::ThinBytes;

/// Which end of a list (LEFT is the head).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum End {
    Head,
    Tail,
}

/// Redis's listpack thresholds, as for hashes: OBJECT ENCODING reports
/// small lists as Redis would store them.
const LISTPACK_ENTRIES: usize = 128;
const LISTPACK_VALUE: usize = 64;

#[derive(Default)]
pub struct List {
    items: VecDeque<ThinBytes>,
    /// Sum of the elements' lengths.
    bytes: usize,
}

impl List {
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Pushes a copy of a slice, or an element already allocated (one
    /// moved between lists) without copying it.
    pub fn push(&mut self, end: End, value: impl Into<ThinBytes>) {
        let value = value.into();
        self.bytes += value.len();
        match end {
            End::Head => self.items.push_front(value),
            End::Tail => self.items.push_back(value),
        }
    }

    pub fn pop(&mut self, end: End) -> Option<ThinBytes> {
        let value = match end {
            End::Head => self.items.pop_front(),
            End::Tail => self.items.pop_back(),
        }?;
        self.bytes -= value.len();
        self.shrink();
        Some(value)
    }

    /// Gives back ring space once three quarters of it are unused, so a
    /// list that grew long and was popped short does not keep its peak.
    /// Halving each time keeps pops amortised O(1).
    fn shrink(&mut self) {
        let cap = self.items.capacity();
        if cap > 64 && self.items.len() < cap / 4 {
            self.items.shrink_to(self.items.len() * 2);
        }
    }

    pub fn get(&self, index: usize) -> Option<&[u8]> {
        self.items.get(index).map(|v| &**v)
    }

    /// Replaces the element at `index`; false when out of range.
    pub fn set(&mut self, index: usize, value: &[u8]) -> bool {
        let Some(slot) = self.items.get_mut(index) else {
            return false;
        };
        self.bytes = self.bytes - slot.len() + value.len();
        *slot = value.into();
        true
    }

    /// Inserts before the element at `index` (`len()` appends).
    pub fn insert(&mut self, index: usize, value: &[u8]) {
        self.bytes += value.len();
        self.items.insert(index, value.into());
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &[u8]> + ExactSizeIterator {
        self.items.iter().map(|v| &**v)
    }

    /// Elements `start..=end` (both in range).
    pub fn range(&self, start: usize, end: usize) -> impl DoubleEndedIterator<Item = &[u8]> {
        self.items.range(start..=end).map(|v| &**v)
    }

    /// Removes up to `limit` elements equal to `value` (0: all of them),
    /// scanning from `from`. Returns how many went.
    pub fn remove_matching(&mut self, value: &[u8], limit: usize, from: End) -> usize {
        let matches = || self.items.iter().filter(|v| ***v == *value).count();
        // retain walks head to tail: from the tail, skip the matches that
        // must stay at the front.
        let (mut skip, mut take) = match (from, limit) {
            (_, 0) => (0, usize::MAX),
            (End::Head, n) => (0, n),
            (End::Tail, n) => (matches().saturating_sub(n), n),
        };
        let mut removed_bytes = 0;
        let before = self.items.len();
        self.items.retain(|v| {
            if **v != *value || take == 0 {
                return true;
            }
            if skip > 0 {
                skip -= 1;
                return true;
            }
            take -= 1;
            removed_bytes += v.len();
            false
        });
        self.bytes -= removed_bytes;
        self.shrink();
        before - self.items.len()
    }

    /// Keeps elements `start..=end` (an empty range empties the list) and
    /// returns the removed ones, for the caller to free where it likes.
    pub fn trim(&mut self, keep: Option<(usize, usize)>) -> VecDeque<ThinBytes> {
        let Some((start, end)) = keep else {
            self.bytes = 0;
            return std::mem::take(&mut self.items);
        };
        let mut removed = self.items.split_off(end + 1);
        let kept = self.items.split_off(start);
        removed.extend(std::mem::replace(&mut self.items, kept));
        self.bytes -= removed.iter().map(|v| v.len()).sum::<usize>();
        self.shrink();
        removed
    }

    pub fn encoding(&self) -> &'static str {
        if self.items.len() <= LISTPACK_ENTRIES
            && self.items.iter().all(|v| v.len() <= LISTPACK_VALUE)
        {
            "listpack"
        } else {
            "quicklist"
        }
    }

    /// Heap bytes held: the ring's slots and the elements.
    pub fn memory_usage(&self) -> usize {
        self.items.capacity() * std::mem::size_of::<ThinBytes>() + self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> List {
        let mut l = List::default();
        for i in items {
            l.push(End::Tail, i.as_bytes());
        }
        l
    }

    fn contents(l: &List) -> Vec<String> {
        l.iter()
            .map(|v| String::from_utf8(v.to_vec()).unwrap())
            .collect()
    }

    #[test]
    fn remove_from_either_end() {
        let mut l = list(&["a", "b", "a", "c", "a"]);
        assert_eq!(l.remove_matching(b"a", 2, End::Tail), 2);
        assert_eq!(contents(&l), ["a", "b", "c"]);
        let mut l = list(&["a", "b", "a", "c", "a"]);
        assert_eq!(l.remove_matching(b"a", 2, End::Head), 2);
        assert_eq!(contents(&l), ["b", "c", "a"]);
        assert_eq!(l.remove_matching(b"a", 0, End::Head), 1);
        assert_eq!(l.bytes, 2);
    }

    #[test]
    fn trim_keeps_the_range_and_counts_bytes() {
        let mut l = list(&["a", "bb", "ccc", "dddd"]);
        let removed = l.trim(Some((1, 2)));
        assert_eq!(contents(&l), ["bb", "ccc"]);
        assert_eq!(removed.len(), 2);
        assert_eq!(l.bytes, 5);
        l.trim(None);
        assert!(l.is_empty());
        assert_eq!(l.bytes, 0);
    }

    #[test]
    fn a_list_popped_short_gives_its_space_back() {
        let mut l = list(&[]);
        for _ in 0..10_000 {
            l.push(End::Tail, &b"x"[..]);
        }
        while l.len() > 10 {
            l.pop(End::Head);
        }
        assert!(l.items.capacity() < 100, "{}", l.items.capacity());
    }

    #[test]
    fn set_and_insert_count_bytes() {
        let mut l = list(&["a", "b"]);
        assert!(l.set(1, b"xyz"));
        assert!(!l.set(2, b"x"));
        l.insert(0, b"qq");
        assert_eq!(contents(&l), ["qq", "a", "xyz"]);
        assert_eq!(l.bytes, 6);
        assert_eq!(l.pop(End::Tail).as_deref(), Some(&b"xyz"[..]));
        assert_eq!(l.bytes, 3);
    }
}
