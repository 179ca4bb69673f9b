//! A list: elements packed one after another in chunks of up to 8 KB, as
//! Redis's quicklist packs them into listpacks. An element is its length,
//! its bytes and its length again, written backwards, so a chunk is walked
//! from either end; a 10-byte element takes 12 bytes. One heap block per
//! element (an 8-byte pointer in a ring, and a block rounded up to the
//! allocator's next size) took half as much again as Redis.
//!
//! Pushes and pops at both ends are O(1): the chunk at each end keeps its
//! spare room on the side that end grows. Indexing walks the chunks' counts
//! and then one chunk, as Redis does. The heap bytes held are counted as
//! chunks come and go, so MEMORY USAGE and eviction read them in O(1).

use std::collections::VecDeque;

use crate::db::thin::{get_varint, put_varint, varint_len};

/// Which end of a list (LEFT is the head).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum End {
    Head,
    Tail,
}

/// A chunk's most bytes (Redis's list-max-listpack-size -2). An element
/// longer than that gets a chunk of its own, of its size.
const CHUNK_BYTES: usize = 8192;
/// A new list's first chunk: chunks double from here, so a short list
/// holds little more than its elements.
const FIRST_CHUNK: usize = 32;

#[derive(Default)]
pub struct List {
    chunks: VecDeque<Chunk>,
    len: usize,
    /// The chunks' capacities, summed.
    held: usize,
}

/// Packed elements in `buf[start..end]`; the room before and after is for
/// pushes at that end.
struct Chunk {
    buf: Box<[u8]>,
    start: u32,
    end: u32,
    count: u32,
}

/// Bytes an element of `len` bytes takes in a chunk.
fn packed_len(len: usize) -> usize {
    2 * varint_len(len) + len
}

/// A rebuilt chunk's buffer for `used` bytes: a power of two, as the
/// allocator rounds to, but a long element's own chunk is exact.
fn capacity_for(used: usize) -> usize {
    if used > CHUNK_BYTES {
        used
    } else {
        used.next_power_of_two().max(FIRST_CHUNK)
    }
}

/// Writes `value` packed into `dst`, which is exactly `packed_len` long.
fn pack(dst: &mut [u8], value: &[u8]) {
    let n = varint_len(value.len());
    // SAFETY: `dst` has room for the length, before and after the bytes.
    unsafe { put_varint(dst.as_mut_ptr(), value.len()) };
    dst[n..n + value.len()].copy_from_slice(value);
    let (front, back) = dst.split_at_mut(n + value.len());
    back.copy_from_slice(&front[..n]);
    back.reverse();
}

impl Chunk {
    /// An empty chunk of `cap` bytes whose room is where pushes at `end`
    /// need it.
    fn empty(cap: usize, end: End) -> Chunk {
        let at = match end {
            End::Head => cap,
            End::Tail => 0,
        } as u32;
        Chunk {
            buf: vec![0; cap].into_boxed_slice(),
            start: at,
            end: at,
            count: 0,
        }
    }

    fn used(&self) -> usize {
        (self.end - self.start) as usize
    }

    /// The element whose packed bytes start at `at`: its bytes' range and
    /// where the next one starts.
    fn forward(&self, at: usize) -> (std::ops::Range<usize>, usize) {
        debug_assert!(at < self.end as usize);
        // SAFETY: `at` starts an element, whose length is complete.
        let (len, n) = unsafe { get_varint(self.buf.as_ptr().add(at)) };
        let from = at + n;
        (from..from + len, from + len + n)
    }

    /// The element whose packed bytes end at `at`: its bytes' range and
    /// where it starts.
    fn backward(&self, at: usize) -> (std::ops::Range<usize>, usize) {
        let (mut len, mut shift, mut n) = (0usize, 0, 0);
        loop {
            let byte = self.buf[at - 1 - n];
            n += 1;
            len |= ((byte & 0x7f) as usize) << shift;
            if byte < 0x80 {
                break;
            }
            shift += 7;
        }
        let to = at - n;
        (to - len..to, to - len - n)
    }

    /// Where element `i` of this chunk starts.
    fn offset_of(&self, i: usize) -> usize {
        let count = self.count as usize;
        if i <= count / 2 {
            (0..i).fold(self.start as usize, |at, _| self.forward(at).1)
        } else {
            (i..count).fold(self.end as usize, |at, _| self.backward(at).1)
        }
    }

    /// Makes `need` bytes of room at `end`, moving or growing the buffer
    /// (placing the elements by `place`); false when the chunk is full, and
    /// a new chunk should take the element. A full chunk used at both ends
    /// (a queue) is left for a new one rather than moved at every push.
    fn make_room(&mut self, need: usize, end: End, place: Place) -> bool {
        let cap = self.buf.len();
        let room = match end {
            End::Head => self.start as usize,
            End::Tail => cap - self.end as usize,
        };
        if room >= need {
            return true;
        }
        let used = self.used();
        let free = cap - used;
        // Room enough, on the wrong side: move the elements over; else grow.
        let cap = if free >= need && free >= cap / 4 {
            cap
        } else {
            // By a quarter, about the allocator's next size class: a short
            // list holds little more than its elements, as a listpack
            // (which grows by each element) does; pushes stay amortised O(1).
            let grown = (cap + cap / 4).max(used + need).next_multiple_of(16);
            let grown = grown.clamp(FIRST_CHUNK, CHUNK_BYTES);
            if grown <= cap || used + need > grown {
                return false;
            }
            grown
        };
        // Placed as the chunk's ends want, with the room at `end`.
        let to = match end {
            End::Head => place.start(cap, used).max(need),
            End::Tail => place.start(cap, used).min(cap - used - need),
        };
        self.move_to(cap, to);
        true
    }

    /// Moves the elements to a buffer of `cap` bytes, placed by `place`.
    fn resize(&mut self, cap: usize, place: Place) {
        self.move_to(cap, place.start(cap, self.used()));
    }

    /// Moves the elements to start at `to` of a buffer of `cap` bytes (this
    /// one if it is that size).
    fn move_to(&mut self, cap: usize, to: usize) {
        let (from, used) = (self.start as usize..self.end as usize, self.used());
        if cap == self.buf.len() {
            self.buf.copy_within(from, to);
        } else {
            let mut buf = vec![0; cap].into_boxed_slice();
            buf[to..to + used].copy_from_slice(&self.buf[from]);
            self.buf = buf;
        }
        self.start = to as u32;
        self.end = (to + used) as u32;
    }

    /// Pushes `value`, for which there is room at `end`.
    fn push(&mut self, end: End, value: &[u8]) {
        let n = packed_len(value.len());
        let at = match end {
            End::Head => {
                self.start -= n as u32;
                self.start as usize
            }
            End::Tail => {
                self.end += n as u32;
                self.end as usize - n
            }
        };
        pack(&mut self.buf[at..at + n], value);
        self.count += 1;
    }

    /// Rewrites the packed bytes `at..at + remove` as `insert` (elements
    /// already packed), `added` elements more or fewer.
    fn splice(&mut self, at: usize, remove: usize, insert: &[u8], added: isize) {
        let used = self.used() - remove + insert.len();
        let cap = capacity_for(used);
        let mut buf = vec![0; cap].into_boxed_slice();
        let head = &self.buf[self.start as usize..at];
        let tail = &self.buf[at + remove..self.end as usize];
        let to = Place::Middle.start(cap, used);
        let mut w = to;
        for part in [head, insert, tail] {
            buf[w..w + part.len()].copy_from_slice(part);
            w += part.len();
        }
        self.buf = buf;
        self.start = to as u32;
        self.end = w as u32;
        self.count = (self.count as isize + added) as u32;
    }

    /// Splits off the elements from `i` on into a new chunk.
    fn split_off(&mut self, i: usize) -> Chunk {
        let at = self.offset_of(i);
        let buf: Box<[u8]> = self.buf[at..self.end as usize].into();
        let rest = Chunk {
            end: buf.len() as u32,
            buf,
            start: 0,
            count: self.count - i as u32,
        };
        self.end = at as u32;
        self.count = i as u32;
        self.resize(capacity_for(self.used()), Place::Middle);
        rest
    }
}

/// Where a moved chunk's elements go in its buffer: at the back when it
/// grows at the head, at the front when it grows at the tail, and in the
/// middle when it is both ends or neither.
#[derive(Clone, Copy)]
enum Place {
    Back,
    Front,
    Middle,
}

impl Place {
    fn start(self, cap: usize, used: usize) -> usize {
        match self {
            Place::Back => cap - used,
            Place::Front => 0,
            Place::Middle => (cap - used) / 2,
        }
    }
}

impl List {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How chunk `i`'s elements are placed when it moves.
    fn place(&self, i: usize) -> Place {
        match (i == 0, i + 1 == self.chunks.len()) {
            (true, false) => Place::Back,
            (false, true) => Place::Front,
            _ => Place::Middle,
        }
    }

    fn end_chunk(&self, end: End) -> usize {
        match end {
            End::Head => 0,
            End::Tail => self.chunks.len() - 1,
        }
    }

    pub fn push(&mut self, end: End, value: &[u8]) {
        let need = packed_len(value.len());
        let fits = !self.chunks.is_empty() && {
            let i = self.end_chunk(end);
            let place = self.place(i);
            let before = self.chunks[i].buf.len();
            let fits = self.chunks[i].make_room(need, end, place);
            self.held = self.held + self.chunks[i].buf.len() - before;
            fits
        };
        if !fits {
            // A long list's next chunk will fill: no doubling on the way.
            let cap = if self.chunks.is_empty() {
                FIRST_CHUNK
            } else {
                CHUNK_BYTES
            };
            let chunk = Chunk::empty(cap.max(need), end);
            self.held += chunk.buf.len();
            // Most lists are one chunk: no room for three more beside it.
            if self.chunks.is_empty() {
                self.chunks.reserve_exact(1);
            }
            match end {
                End::Head => self.chunks.push_front(chunk),
                End::Tail => self.chunks.push_back(chunk),
            }
        }
        let i = self.end_chunk(end);
        self.chunks[i].push(end, value);
        self.len += 1;
    }

    /// Pops the element at `end`, handing its bytes to `f` before they go.
    pub fn pop_with<R>(&mut self, end: End, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
        if self.len == 0 {
            return None;
        }
        let i = self.end_chunk(end);
        let chunk = &mut self.chunks[i];
        let result = match end {
            End::Head => {
                let (bytes, next) = chunk.forward(chunk.start as usize);
                chunk.start = next as u32;
                f(&chunk.buf[bytes])
            }
            End::Tail => {
                let (bytes, start) = chunk.backward(chunk.end as usize);
                chunk.end = start as u32;
                f(&chunk.buf[bytes])
            }
        };
        chunk.count -= 1;
        self.len -= 1;
        self.tidy(i);
        Some(result)
    }

    /// Drops chunk `i` once empty, and gives back room once three
    /// quarters of it are unused, so a list popped short does not keep
    /// its peak. Halving each time keeps pops amortised O(1).
    fn tidy(&mut self, i: usize) {
        let place = self.place(i);
        let chunk = &mut self.chunks[i];
        let cap = chunk.buf.len();
        if chunk.count == 0 {
            self.held -= cap;
            self.chunks.remove(i);
        } else if cap > FIRST_CHUNK && chunk.used() < cap / 4 {
            chunk.resize(capacity_for(chunk.used() * 2), place);
            self.held = self.held - cap + chunk.buf.len();
        }
    }

    /// The chunk holding element `index` (< len) and its index there,
    /// counted from the nearer end.
    fn locate(&self, mut index: usize) -> (usize, usize) {
        if index < self.len / 2 {
            for (i, chunk) in self.chunks.iter().enumerate() {
                if index < chunk.count as usize {
                    return (i, index);
                }
                index -= chunk.count as usize;
            }
        } else {
            let mut from_back = self.len - 1 - index;
            for (i, chunk) in self.chunks.iter().enumerate().rev() {
                if from_back < chunk.count as usize {
                    return (i, chunk.count as usize - 1 - from_back);
                }
                from_back -= chunk.count as usize;
            }
        }
        unreachable!("index {index} is past the list's {} elements", self.len)
    }

    pub fn get(&self, index: usize) -> Option<&[u8]> {
        if index >= self.len {
            return None;
        }
        let (i, j) = self.locate(index);
        let chunk = &self.chunks[i];
        Some(&chunk.buf[chunk.forward(chunk.offset_of(j)).0])
    }

    /// Replaces the element at `index`; false when out of range.
    pub fn set(&mut self, index: usize, value: &[u8]) -> bool {
        if index >= self.len {
            return false;
        }
        let (i, j) = self.locate(index);
        let chunk = &self.chunks[i];
        let at = chunk.offset_of(j);
        let old = chunk.forward(at).1 - at;
        self.replace(i, at, old, value, 0);
        true
    }

    /// Inserts before the element at `index` (`len()` appends).
    pub fn insert(&mut self, index: usize, value: &[u8]) {
        if index == 0 || index == self.len {
            let end = if index == 0 { End::Head } else { End::Tail };
            return self.push(end, value);
        }
        let (i, j) = self.locate(index);
        let at = self.chunks[i].offset_of(j);
        self.replace(i, at, 0, value, 1);
        self.len += 1;
    }

    /// Splices `value` over `remove` packed bytes at `at` of chunk `i`,
    /// splitting the chunk if it outgrew CHUNK_BYTES.
    fn replace(&mut self, i: usize, at: usize, remove: usize, value: &[u8], added: isize) {
        let mut packed = vec![0; packed_len(value.len())];
        pack(&mut packed, value);
        let chunk = &mut self.chunks[i];
        let before = chunk.buf.len();
        chunk.splice(at, remove, &packed, added);
        if chunk.used() > CHUNK_BYTES && chunk.count > 1 {
            let half = chunk.count as usize / 2;
            let rest = chunk.split_off(half);
            self.held += rest.buf.len();
            self.chunks.insert(i + 1, rest);
        }
        self.held = self.held + self.chunks[i].buf.len() - before;
    }

    pub fn iter(&self) -> Iter<'_> {
        self.range_iter(0, self.len)
    }

    /// Elements `start..=end` (both in range).
    pub fn range(&self, start: usize, end: usize) -> Iter<'_> {
        self.range_iter(start, end + 1)
    }

    fn range_iter(&self, start: usize, end: usize) -> Iter<'_> {
        let mut iter = Iter {
            list: self,
            front: (0, 0),
            front_bytes: &[],
            back: None,
            end,
            left: end - start,
        };
        if start < end {
            let (i, j) = self.locate(start);
            let chunk = &self.chunks[i];
            iter.front = (i, chunk.offset_of(j));
            iter.front_bytes = &chunk.buf[..chunk.end as usize];
        }
        iter
    }

    /// Removes up to `limit` elements equal to `value` (0: all of them),
    /// scanning from `from`. Returns how many went.
    pub fn remove_matching(&mut self, value: &[u8], limit: usize, from: End) -> usize {
        // Walks head to tail: from the tail, skip the matches that must
        // stay at the front.
        let (mut skip, mut take) = match (from, limit) {
            (_, 0) => (0, usize::MAX),
            (End::Head, n) => (0, n),
            (End::Tail, n) => (
                self.iter()
                    .filter(|v| *v == value)
                    .count()
                    .saturating_sub(n),
                n,
            ),
        };
        let mut removed = 0;
        for i in 0..self.chunks.len() {
            if take == 0 {
                break;
            }
            let chunk = &self.chunks[i];
            let (mut at, mut kept) = (chunk.start as usize, Vec::new());
            let mut gone = 0;
            while at < chunk.end as usize {
                let (bytes, next) = chunk.forward(at);
                if take > 0 && chunk.buf[bytes] == *value {
                    if skip > 0 {
                        skip -= 1;
                    } else {
                        take -= 1;
                        gone += 1;
                        at = next;
                        continue;
                    }
                }
                kept.extend_from_slice(&chunk.buf[at..next]);
                at = next;
            }
            if gone > 0 {
                let (start, used) = (chunk.start as usize, chunk.used());
                let before = chunk.buf.len();
                self.chunks[i].splice(start, used, &kept, -(gone as isize));
                self.held = self.held + self.chunks[i].buf.len() - before;
                removed += gone;
            }
        }
        self.len -= removed;
        self.drop_empty_chunks();
        removed
    }

    fn drop_empty_chunks(&mut self) {
        let held = &mut self.held;
        self.chunks.retain(|c| {
            if c.count == 0 {
                *held -= c.buf.len();
            }
            c.count > 0
        });
    }

    /// Keeps elements `start..=end` (an empty range empties the list).
    pub fn trim(&mut self, keep: Option<(usize, usize)>) {
        let Some((start, end)) = keep else {
            *self = List::default();
            return;
        };
        // Cut the tail first: `start` counts from the head.
        for (cut, from) in [(self.len - 1 - end, End::Tail), (start, End::Head)] {
            let mut left = cut;
            while left > 0 {
                let i = self.end_chunk(from);
                let count = self.chunks[i].count as usize;
                if count <= left {
                    self.held -= self.chunks[i].buf.len();
                    match from {
                        End::Head => self.chunks.pop_front(),
                        End::Tail => self.chunks.pop_back(),
                    };
                    left -= count;
                    continue;
                }
                let chunk = &mut self.chunks[i];
                match from {
                    End::Head => chunk.start = chunk.offset_of(left) as u32,
                    End::Tail => chunk.end = chunk.offset_of(count - left) as u32,
                }
                chunk.count -= left as u32;
                self.tidy(i);
                left = 0;
            }
            self.len -= cut;
        }
    }

    /// Redis 7.0 stores every list as a quicklist (listpack lists came
    /// with 7.2), and OBJECT ENCODING says so.
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    /// Heap bytes held: the chunks and the ring of them.
    pub fn memory_usage(&self) -> usize {
        self.held + self.chunks.capacity() * std::mem::size_of::<Chunk>()
    }
}

/// A list's elements in order, from both ends.
pub struct Iter<'a> {
    list: &'a List,
    /// Chunk and byte of the next element from the front, and that
    /// chunk's bytes up to its end.
    front: (usize, usize),
    front_bytes: &'a [u8],
    /// Chunk and byte of the end of the next element from the back, found
    /// when first asked for (LRANGE reads forwards only).
    back: Option<(usize, usize)>,
    /// The index after the last element.
    end: usize,
    left: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let (mut i, mut at) = self.front;
        if at == self.front_bytes.len() {
            i += 1;
            let chunk = &self.list.chunks[i];
            self.front_bytes = &chunk.buf[..chunk.end as usize];
            at = chunk.start as usize;
        }
        let (len, n) = match self.front_bytes[at] {
            short @ 0..0x80 => (short as usize, 1),
            // SAFETY: `at` starts an element, whose length is complete.
            _ => unsafe { get_varint(self.front_bytes.as_ptr().add(at)) },
        };
        let from = at + n;
        self.front = (i, from + len + n);
        Some(&self.front_bytes[from..from + len])
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let chunks = &self.list.chunks;
        let (mut i, mut at) = *self.back.get_or_insert_with(|| {
            let (i, j) = self.list.locate(self.end - 1);
            let chunk = &chunks[i];
            (i, chunk.forward(chunk.offset_of(j)).1)
        });
        if at == chunks[i].start as usize {
            i -= 1;
            at = chunks[i].end as usize;
        }
        let (bytes, start) = chunks[i].backward(at);
        self.back = Some((i, start));
        Some(&chunks[i].buf[bytes])
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
        assert_eq!(contents(&l), ["b", "c"]);
    }

    #[test]
    fn trim_keeps_the_range() {
        let mut l = list(&["a", "bb", "ccc", "dddd"]);
        l.trim(Some((1, 2)));
        assert_eq!(contents(&l), ["bb", "ccc"]);
        l.trim(None);
        assert!(l.is_empty());
        assert_eq!(l.memory_usage(), 0);
    }

    #[test]
    fn a_list_popped_short_gives_its_space_back() {
        let mut l = list(&[]);
        for _ in 0..10_000 {
            l.push(End::Tail, b"x");
        }
        while l.len() > 10 {
            l.pop_with(End::Head, |_| ());
        }
        assert!(l.memory_usage() < 200, "{}", l.memory_usage());
    }

    #[test]
    fn elements_are_packed_with_their_lengths_only() {
        let mut l = list(&[]);
        for i in 0..100_000 {
            l.push(End::Head, format!("element:{i}").as_bytes());
        }
        // 14 bytes on average, and two of length: 16 bytes.
        let per_element = l.memory_usage() as f64 / l.len() as f64;
        assert!(per_element < 17.0, "{per_element}");
    }

    #[test]
    fn long_elements_and_lengths_of_several_bytes() {
        let big = vec![7u8; 3 * CHUNK_BYTES];
        let mid = vec![9u8; 300];
        let mut l = list(&["a"]);
        l.push(End::Tail, &big);
        l.push(End::Head, &mid);
        l.insert(2, &mid);
        assert_eq!(l.get(3), Some(&big[..]));
        assert_eq!(l.iter().rev().nth(1), Some(&mid[..]));
        assert_eq!(l.pop_with(End::Tail, |v| v.len()), Some(big.len()));
        assert!(l.set(1, &big));
        assert_eq!(
            l.iter().map(<[u8]>::len).collect::<Vec<_>>(),
            [300, big.len(), 300]
        );
    }

    #[derive(Debug, Clone)]
    enum Op {
        Push(bool, Vec<u8>),
        Pop(bool),
        Set(usize, Vec<u8>),
        Insert(usize, Vec<u8>),
        Remove(u8, usize, bool),
        Trim(usize, usize),
        Range(usize, usize),
    }

    fn value() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            8 => proptest::collection::vec(0u8..3, 0..4),
            2 => proptest::collection::vec(any::<u8>(), 100..400),
            1 => proptest::collection::vec(any::<u8>(), 5000..9000),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            20 => (any::<bool>(), value()).prop_map(|(h, v)| Op::Push(h, v)),
            6 => any::<bool>().prop_map(Op::Pop),
            3 => (any::<usize>(), value()).prop_map(|(i, v)| Op::Set(i, v)),
            3 => (any::<usize>(), value()).prop_map(|(i, v)| Op::Insert(i, v)),
            2 => (0u8..3, 0usize..4, any::<bool>()).prop_map(|(b, n, h)| Op::Remove(b, n, h)),
            1 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Op::Trim(a, b)),
            3 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Op::Range(a, b)),
        ]
    }

    fn end(head: bool) -> End {
        if head {
            End::Head
        } else {
            End::Tail
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        /// The list agrees with a VecDeque of elements under every
        /// operation, read both ways, and counts what it holds.
        #[test]
        fn behaves_as_a_deque(ops in proptest::collection::vec(op(), 1..300)) {
            let mut l = List::default();
            let mut model: VecDeque<Vec<u8>> = VecDeque::new();
            for op in ops {
                match op {
                    Op::Push(head, v) => {
                        l.push(end(head), &v);
                        if head { model.push_front(v) } else { model.push_back(v) }
                    }
                    Op::Pop(head) => {
                        let got = l.pop_with(end(head), <[u8]>::to_vec);
                        let want = if head { model.pop_front() } else { model.pop_back() };
                        prop_assert_eq!(got, want);
                    }
                    Op::Set(i, v) if !model.is_empty() => {
                        let i = i % model.len();
                        prop_assert!(l.set(i, &v));
                        model[i] = v;
                    }
                    Op::Insert(i, v) => {
                        let i = i % (model.len() + 1);
                        l.insert(i, &v);
                        model.insert(i, v);
                    }
                    Op::Remove(b, limit, head) => {
                        let v = vec![b];
                        let got = l.remove_matching(&v, limit, end(head));
                        let mut positions: Vec<usize> =
                            (0..model.len()).filter(|&i| model[i] == v).collect();
                        if !head {
                            positions.reverse();
                        }
                        if limit > 0 {
                            positions.truncate(limit);
                        }
                        positions.sort_unstable();
                        for &i in positions.iter().rev() {
                            model.remove(i);
                        }
                        prop_assert_eq!(got, positions.len());
                    }
                    Op::Trim(a, b) if !model.is_empty() => {
                        let (a, b) = (a % model.len(), b % model.len());
                        let keep = (a <= b).then_some((a, b));
                        l.trim(keep);
                        model = match keep {
                            Some((a, b)) => model.range(a..=b).cloned().collect(),
                            None => VecDeque::new(),
                        };
                    }
                    Op::Range(a, b) if !model.is_empty() => {
                        let (a, b) = (a % model.len(), b % model.len());
                        let (a, b) = (a.min(b), a.max(b));
                        let got: Vec<&[u8]> = l.range(a, b).collect();
                        let want: Vec<&[u8]> = model.range(a..=b).map(|v| &v[..]).collect();
                        prop_assert_eq!(&got, &want);
                        let back: Vec<&[u8]> = l.range(a, b).rev().collect();
                        let want_back: Vec<&[u8]> = want.into_iter().rev().collect();
                        prop_assert_eq!(back, want_back);
                        prop_assert_eq!(l.get(a), Some(&model[a][..]));
                    }
                    _ => {}
                }
                prop_assert_eq!(l.len(), model.len());
                prop_assert!(l.iter().eq(model.iter().map(|v| &v[..])));
                prop_assert!(l.iter().rev().eq(model.iter().rev().map(|v| &v[..])));
                let held: usize = l.chunks.iter().map(|c| c.buf.len()).sum();
                prop_assert_eq!(l.held, held);
                prop_assert!(l.chunks.iter().all(|c| c.count > 0));
                let counted: usize = l.chunks.iter().map(|c| c.count as usize).sum();
                prop_assert_eq!(counted, l.len());
            }
        }
    }
}
