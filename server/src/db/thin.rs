//! `ThinBytes`: a byte string in one heap block, `[length: LEB128][bytes]`,
//! behind an 8-byte pointer. A `Box<[u8]>` keeps its length beside the
//! pointer, 16 bytes in all; the members of sets and sorted sets are held
//! by the million in tables that multiply every byte of an element by
//! their spare capacity, so the length goes into the block instead, where
//! it usually costs one byte of an allocation rounded up anyway.
//! `ThinPair` puts a hash's field and value in one such block.
//!
//! Also the helpers `Entry` fills its blocks with (LEB128 lengths, bytes).

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::ptr::NonNull;

/// Bytes LEB128 takes for `n`.
#[inline]
pub fn varint_len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

/// Writes `n` in LEB128 at `at`, returning the byte after it.
///
/// # Safety
/// `at` must be valid for `varint_len(n)` bytes of writes.
#[inline]
pub unsafe fn put_varint(mut at: *mut u8, mut n: usize) -> *mut u8 {
    while n >= 0x80 {
        at.write(n as u8 | 0x80);
        at = at.add(1);
        n >>= 7;
    }
    at.write(n as u8);
    at.add(1)
}

/// Copies `bytes` to `at`, returning the byte after them.
///
/// # Safety
/// `at` must be valid for `bytes.len()` bytes of writes.
#[inline]
pub unsafe fn put_bytes(at: *mut u8, bytes: &[u8]) -> *mut u8 {
    std::ptr::copy_nonoverlapping(bytes.as_ptr(), at, bytes.len());
    at.add(bytes.len())
}

/// Reads the LEB128 number at `at`: its value and the bytes it took.
///
/// # Safety
/// `at` must point to a complete LEB128 number.
#[inline]
pub unsafe fn get_varint(at: *const u8) -> (usize, usize) {
    let (mut n, mut shift, mut i) = (0usize, 0, 0);
    loop {
        let byte = *at.add(i);
        i += 1;
        n |= ((byte & 0x7f) as usize) << shift;
        if byte < 0x80 {
            return (n, i);
        }
        shift += 7;
    }
}

pub struct ThinBytes(NonNull<u8>);

/// The empty string's block, shared: `ThinBytes::default()` (what a moved-out
/// element leaves behind) allocates nothing. Never written (`bytes_mut`
/// lends none of it) nor freed.
static EMPTY: u8 = 0;

fn empty() -> NonNull<u8> {
    NonNull::from(&EMPTY)
}

// SAFETY: it owns its block as a Box<[u8]> would, and never mutates it.
unsafe impl Send for ThinBytes {}
unsafe impl Sync for ThinBytes {}

fn layout(len: usize) -> Layout {
    Layout::from_size_align(varint_len(len) + len, 1).expect("byte string fits in memory")
}

impl ThinBytes {
    pub fn new(bytes: &[u8]) -> ThinBytes {
        ThinBytes::concat(&[bytes])
    }

    /// The bytes of `parts` one after another, in one block.
    pub fn concat(parts: &[&[u8]]) -> ThinBytes {
        let len = parts.iter().map(|p| p.len()).sum();
        if len == 0 {
            return ThinBytes::default();
        }
        let layout = layout(len);
        // SAFETY: the layout has room for the length and the parts (≥ 1
        // byte), written in order below.
        unsafe {
            let Some(block) = NonNull::new(alloc(layout)) else {
                handle_alloc_error(layout)
            };
            let mut at = put_varint(block.as_ptr(), len);
            for part in parts {
                at = put_bytes(at, part);
            }
            ThinBytes(block)
        }
    }

    /// The bytes, to change in place.
    fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: `&mut self` is the only reference to the block; the
        // shared empty block has no bytes to write.
        unsafe {
            let (len, at) = get_varint(self.0.as_ptr());
            std::slice::from_raw_parts_mut(self.0.as_ptr().add(at), len)
        }
    }

    /// A second, non-owning name for these bytes (see `ThinAlias`).
    pub fn alias(&self) -> ThinAlias {
        ThinAlias(self.0)
    }

    /// Bytes the block takes on the heap (before the allocator rounds it).
    pub fn heap_size(&self) -> usize {
        if self.0 == empty() {
            return 0;
        }
        layout(self.len()).size()
    }
}

/// Two byte strings in one block, a hash's field and its value: a
/// `ThinBytes` of `[first's length: LEB128][first][second]`. One 8-byte
/// pointer and one allocation per field, where two `ThinBytes` took two
/// of each.
pub struct ThinPair(ThinBytes);

impl ThinPair {
    pub fn new(first: &[u8], second: &[u8]) -> ThinPair {
        let mut len = [0u8; 10];
        // SAFETY: 10 bytes hold any 64-bit LEB128 number.
        unsafe { put_varint(len.as_mut_ptr(), first.len()) };
        let len = &len[..varint_len(first.len())];
        ThinPair(ThinBytes::concat(&[len, first, second]))
    }

    /// Where `second` starts in the block's bytes, and `first`'s range.
    fn split(&self) -> (usize, std::ops::Range<usize>) {
        // SAFETY: the bytes start with the complete length `new` wrote.
        let (len, n) = unsafe { get_varint(self.0.as_ptr()) };
        (n + len, n..n + len)
    }

    pub fn first(&self) -> &[u8] {
        &self.0[self.split().1]
    }

    pub fn second(&self) -> &[u8] {
        &self.0[self.split().0..]
    }

    /// Replaces the second string, in the same block when its length is
    /// the same.
    pub fn set_second(&mut self, second: &[u8]) {
        let (at, _) = self.split();
        if self.0.len() - at == second.len() {
            self.0.bytes_mut()[at..].copy_from_slice(second);
        } else {
            *self = ThinPair::new(self.first(), second);
        }
    }

    /// Bytes the block takes on the heap (before the allocator rounds it).
    pub fn heap_size(&self) -> usize {
        self.0.heap_size()
    }
}

/// The bytes in `block`, which starts with their length.
///
/// # Safety
/// `block` must be a live block of a `ThinBytes` (or the empty one) for 'a.
#[inline]
unsafe fn view<'a>(block: NonNull<u8>) -> &'a [u8] {
    let (len, at) = get_varint(block.as_ptr());
    std::slice::from_raw_parts(block.as_ptr().add(at), len)
}

/// The bytes of a `ThinBytes` owned elsewhere, by the same 8-byte pointer,
/// so a structure indexing elements it stores (a sorted set's member →
/// score table, whose members the skip list owns) does not hold each twice.
/// Valid while its owner lives: whoever holds aliases
/// drops each before its owner.
pub struct ThinAlias(NonNull<u8>);

// SAFETY: as the `ThinBytes` it names, which is Send and Sync.
unsafe impl Send for ThinAlias {}
unsafe impl Sync for ThinAlias {}

impl Deref for ThinAlias {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        // SAFETY: the owner's block is alive (the holder's contract).
        unsafe { view(self.0) }
    }
}

impl Deref for ThinBytes {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        // SAFETY: it owns the block.
        unsafe { view(self.0) }
    }
}

impl Default for ThinBytes {
    fn default() -> ThinBytes {
        ThinBytes(empty())
    }
}

impl Drop for ThinBytes {
    fn drop(&mut self) {
        if self.0 == empty() {
            return;
        }
        // SAFETY: allocated by `new` with the layout of this length.
        unsafe { dealloc(self.0.as_ptr(), layout(self.len())) }
    }
}

impl Clone for ThinBytes {
    fn clone(&self) -> ThinBytes {
        ThinBytes::new(self)
    }
}

impl From<&[u8]> for ThinBytes {
    fn from(bytes: &[u8]) -> ThinBytes {
        ThinBytes::new(bytes)
    }
}

impl From<Vec<u8>> for ThinBytes {
    fn from(bytes: Vec<u8>) -> ThinBytes {
        ThinBytes::new(&bytes)
    }
}

impl<const N: usize> From<&[u8; N]> for ThinBytes {
    fn from(bytes: &[u8; N]) -> ThinBytes {
        ThinBytes::new(bytes)
    }
}

impl PartialEq for ThinBytes {
    fn eq(&self, other: &ThinBytes) -> bool {
        **self == **other
    }
}

impl Eq for ThinBytes {}

/// As `[u8]` hashes, so a table may hash a borrowed slice to find it.
impl Hash for ThinBytes {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (**self).hash(state)
    }
}

impl std::fmt::Debug for ThinBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn holds_any_length_in_eight_bytes() {
        assert_eq!(std::mem::size_of::<ThinBytes>(), 8);
        assert_eq!(std::mem::size_of::<Option<ThinBytes>>(), 8);
        for len in [0, 1, 127, 128, 300, 16_383, 16_384, 70_000] {
            let bytes: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let thin = ThinBytes::from(&bytes[..]);
            assert_eq!(&*thin, &bytes[..]);
            let heap = if len == 0 { 0 } else { varint_len(len) + len };
            assert_eq!(thin.heap_size(), heap);
            assert_eq!(&*thin.clone(), &bytes[..]);
        }
    }

    #[test]
    fn a_pair_holds_both_strings_in_one_block() {
        for (first, second) in [(0, 0), (5, 0), (0, 5), (3, 9), (200, 70_000)] {
            let a: Vec<u8> = (0..first).map(|i| i as u8).collect();
            let b: Vec<u8> = (0..second).map(|i| (i * 7) as u8).collect();
            let mut pair = ThinPair::new(&a, &b);
            assert_eq!((pair.first(), pair.second()), (&a[..], &b[..]));
            let total = varint_len(first) + first + second;
            assert_eq!(pair.heap_size(), varint_len(total) + total);
            let same_length: Vec<u8> = b.iter().map(|x| x ^ 1).collect();
            pair.set_second(&same_length);
            assert_eq!((pair.first(), pair.second()), (&a[..], &same_length[..]));
            pair.set_second(b"longer than before");
            assert_eq!(
                (pair.first(), pair.second()),
                (&a[..], &b"longer than before"[..])
            );
        }
    }

    #[test]
    fn the_empty_string_shares_one_block() {
        let mut empty = ThinBytes::default();
        assert_eq!(&*empty, b"");
        assert_eq!(empty, ThinBytes::from(b""));
        assert_eq!(empty.heap_size(), 0);
        assert!(empty.bytes_mut().is_empty());
        let mut full = ThinBytes::from(b"now longer");
        let taken = std::mem::take(&mut full);
        assert_eq!((&*taken, &*full), (&b"now longer"[..], &b""[..]));
    }

    #[test]
    fn an_alias_reads_its_owners_bytes() {
        let owner = ThinBytes::from(b"member");
        let alias = owner.alias();
        assert_eq!(&*alias, b"member");
        // Moving the owner does not move its block.
        let moved = owner;
        assert_eq!(&*alias, &*moved);
        assert_eq!(&*ThinBytes::default().alias(), b"");
    }

    #[test]
    fn hashes_and_compares_as_its_bytes() {
        let hasher = hashbrown::DefaultHashBuilder::default();
        let thin = ThinBytes::from(b"field");
        assert_eq!(hasher.hash_one(&thin), hasher.hash_one(&b"field"[..]));
        assert_eq!(thin, ThinBytes::from(b"field"));
        assert_ne!(thin, ThinBytes::from(b"fielD"));
    }

    #[test]
    fn varints_round_trip() {
        let mut buf = [0u8; 10];
        for n in [0, 1, 127, 128, 255, 16_383, 16_384, usize::MAX >> 1] {
            // SAFETY: 10 bytes hold any 64-bit LEB128 number.
            let (read, used) = unsafe {
                let end = put_varint(buf.as_mut_ptr(), n);
                assert_eq!(end.offset_from(buf.as_ptr()) as usize, varint_len(n));
                get_varint(buf.as_ptr())
            };
            assert_eq!((read, used), (n, varint_len(n)));
        }
    }
}
