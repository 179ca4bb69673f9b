//! One stored key: a 16-byte table slot pointing to one heap block that
//! holds the expiry, the key and, for strings, the value (as Redis's
//! embstr keeps a small string next to its header). Table slots are what a
//! slot's hash table multiplies by its spare capacity, so every byte kept
//! out of them is a byte more for keys under `maxmemory`.

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::ptr::NonNull;

use super::object::Object;
use super::thin::{get_varint, put_bytes, put_varint, varint_len};

/// Set in `meta` when the block starts with an 8-byte expiry time.
const HAS_EXPIRE: u32 = 1 << 31;
/// Set in `meta` when the block ends with a pointer to an `Object`.
const IS_OBJECT: u32 = 1 << 30;
/// Longest string kept in the block: its length lives in `meta`'s low bits.
/// Longer ones (Redis allows 512 MB by default) go to a `Raw` object.
const INLINE_MAX: usize = (IS_OBJECT - 1) as usize;
const OBJECT_PTR: usize = std::mem::size_of::<*mut Object>();

pub struct Entry {
    /// `[expire_at: u64 LE, if HAS_EXPIRE][key length: LEB128][key]`
    /// then the string value, or with IS_OBJECT a `*mut Object` (unaligned).
    block: NonNull<u8>,
    /// The string value's length, plus the two flags.
    meta: u32,
    /// LRU clock or LFU counter; see `access.rs`.
    pub(super) access: u32,
}

// SAFETY: an Entry owns its block and its object as a Box would, and hands
// out references only through `&self`/`&mut self`.
unsafe impl Send for Entry {}
unsafe impl Sync for Entry {}

/// What a key holds, as commands see it.
pub enum Value<'a> {
    Str(&'a [u8]),
    Obj(&'a Object),
}

/// What goes after the key in a new block.
enum Tail<'a> {
    Str(&'a [u8]),
    Obj(NonNull<Object>),
}

fn block_layout(len: usize) -> Layout {
    Layout::from_size_align(len, 1).expect("entry block fits in memory")
}

/// Allocates and fills a block; returns it with its `meta`.
fn new_block(expire_at: Option<u64>, key: &[u8], tail: Tail<'_>) -> (NonNull<u8>, u32) {
    let (tail_len, mut meta) = match tail {
        Tail::Str(v) => (v.len(), v.len() as u32),
        Tail::Obj(_) => (OBJECT_PTR, IS_OBJECT),
    };
    let head = expire_at.map_or(0, |_| 8);
    let len = head + varint_len(key.len()) + key.len() + tail_len;
    let layout = block_layout(len);
    // SAFETY: `len` ≥ 1 (the key length takes a byte), and the writes below
    // fill exactly the `len` bytes it counted, in order.
    unsafe {
        let Some(block) = NonNull::new(alloc(layout)) else {
            handle_alloc_error(layout)
        };
        let mut at = block.as_ptr();
        if let Some(expire) = expire_at {
            at = put_bytes(at, &expire.to_le_bytes());
            meta |= HAS_EXPIRE;
        }
        at = put_varint(at, key.len());
        at = put_bytes(at, key);
        match tail {
            Tail::Str(v) => {
                put_bytes(at, v);
            }
            Tail::Obj(obj) => (at as *mut *mut Object).write_unaligned(obj.as_ptr()),
        }
        (block, meta)
    }
}

impl Entry {
    pub fn new_string(key: &[u8], value: &[u8], expire_at: Option<u64>, access: u32) -> Entry {
        if value.len() > INLINE_MAX {
            return Entry::new_object(key, Object::Raw(value.to_vec()), expire_at, access);
        }
        let (block, meta) = new_block(expire_at, key, Tail::Str(value));
        Entry {
            block,
            meta,
            access,
        }
    }

    pub fn new_object(key: &[u8], obj: Object, expire_at: Option<u64>, access: u32) -> Entry {
        let obj = NonNull::from(Box::leak(Box::new(obj)));
        let (block, meta) = new_block(expire_at, key, Tail::Obj(obj));
        Entry {
            block,
            meta,
            access,
        }
    }

    /// Where the key starts in the block, and its length.
    #[inline]
    fn key_span(&self) -> (usize, usize) {
        let at = if self.meta & HAS_EXPIRE != 0 { 8 } else { 0 };
        // SAFETY: the block holds a complete LEB128 length at `at`.
        let (len, used) = unsafe { get_varint(self.block.as_ptr().add(at)) };
        (at + used, len)
    }

    #[inline]
    fn key_end(&self) -> usize {
        let (start, len) = self.key_span();
        start + len
    }

    /// Bytes after the key: the string, or the object pointer.
    #[inline]
    fn tail_len(&self) -> usize {
        if self.meta & IS_OBJECT != 0 {
            OBJECT_PTR
        } else {
            (self.meta & !(HAS_EXPIRE | IS_OBJECT)) as usize
        }
    }

    #[inline]
    fn block_len(&self) -> usize {
        self.key_end() + self.tail_len()
    }

    /// The bytes after the key: an inline string's value.
    #[inline]
    fn tail(&self) -> &[u8] {
        self.bytes(self.key_end(), self.tail_len())
    }

    /// `len` bytes of the block from `start`.
    #[inline]
    fn bytes(&self, start: usize, len: usize) -> &[u8] {
        // SAFETY: callers ask only for spans inside the block.
        unsafe { std::slice::from_raw_parts(self.block.as_ptr().add(start), len) }
    }

    #[inline]
    fn object_ptr(&self) -> Option<*mut Object> {
        (self.meta & IS_OBJECT != 0).then(|| {
            // SAFETY: with IS_OBJECT the block ends with the pointer.
            unsafe {
                (self.block.as_ptr().add(self.key_end()) as *const *mut Object).read_unaligned()
            }
        })
    }

    /// Tells live entries apart without reading their block (which costs
    /// a cache miss): where the block is.
    #[inline]
    pub fn id(&self) -> usize {
        self.block.as_ptr() as usize
    }

    #[inline]
    pub fn key(&self) -> &[u8] {
        let (start, len) = self.key_span();
        self.bytes(start, len)
    }

    #[inline]
    pub fn expire_at(&self) -> Option<u64> {
        (self.meta & HAS_EXPIRE != 0)
            .then(|| u64::from_le_bytes(self.bytes(0, 8).try_into().unwrap()))
    }

    #[inline]
    pub fn is_expired(&self, now: u64) -> bool {
        self.expire_at().is_some_and(|at| at <= now)
    }

    /// Changes the expiry; only the slot may call it, as it counts volatile keys.
    pub(super) fn set_expire(&mut self, expire_at: Option<u64>) {
        match (expire_at, self.expire_at()) {
            (None, None) => {}
            (Some(at), Some(_)) => {
                // SAFETY: with HAS_EXPIRE the block starts with 8 bytes for it.
                unsafe {
                    std::ptr::copy_nonoverlapping(at.to_le_bytes().as_ptr(), self.block.as_ptr(), 8)
                }
            }
            _ => {
                let tail = match self.object_ptr() {
                    // SAFETY: the pointer came from Box::leak and stays owned
                    // by this entry: only the block around it is replaced.
                    Some(obj) => Tail::Obj(unsafe { NonNull::new_unchecked(obj) }),
                    None => Tail::Str(self.tail()),
                };
                let (block, meta) = new_block(expire_at, self.key(), tail);
                self.free_block();
                (self.block, self.meta) = (block, meta);
            }
        }
    }

    /// Frees the block (not the object it may point to).
    fn free_block(&mut self) {
        // SAFETY: the block was allocated with this length by `new_block`.
        unsafe { dealloc(self.block.as_ptr(), block_layout(self.block_len())) }
    }

    #[inline]
    pub fn value(&self) -> Value<'_> {
        match self.object() {
            None => Value::Str(self.tail()),
            Some(Object::Raw(s)) => Value::Str(s),
            Some(other) => Value::Obj(other),
        }
    }

    /// The string value, or None for other types.
    #[inline]
    pub fn string(&self) -> Option<&[u8]> {
        match self.value() {
            Value::Str(s) => Some(s),
            Value::Obj(_) => None,
        }
    }

    /// Replaces the value with a string, keeping key and expiry.
    pub fn set_string(&mut self, value: &[u8]) {
        *self = Entry::new_string(self.key(), value, self.expire_at(), self.access);
    }

    /// A growable copy of the string value, for APPEND and SETRANGE: the
    /// value moves to a `Raw` object so repeated appends stay amortised O(1).
    pub fn string_mut(&mut self) -> Option<&mut Vec<u8>> {
        if self.object_ptr().is_none() {
            let raw = Object::Raw(self.tail().to_vec());
            *self = Entry::new_object(self.key(), raw, self.expire_at(), self.access);
        }
        match self.object_mut() {
            Some(Object::Raw(s)) => Some(s),
            _ => None,
        }
    }

    /// The raw LRU/LFU field (see `access.rs`).
    pub fn access(&self) -> u32 {
        self.access
    }

    pub fn object(&self) -> Option<&Object> {
        // SAFETY: the object is owned by this entry and borrowed with it.
        self.object_ptr().map(|obj| unsafe { &*obj })
    }

    pub fn object_mut(&mut self) -> Option<&mut Object> {
        // SAFETY: as in `object`, and `&mut self` makes the borrow unique.
        self.object_ptr().map(|obj| unsafe { &mut *obj })
    }

    pub fn type_name(&self) -> &'static str {
        match self.value() {
            Value::Str(_) => "string",
            Value::Obj(o) => o.type_name(),
        }
    }

    /// Bytes this entry holds on the heap plus its table slot, as MEMORY
    /// USAGE reports it.
    pub fn memory_usage(&self) -> usize {
        std::mem::size_of::<Entry>()
            + self.block_len()
            + self.object().map_or(0, Object::memory_usage)
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        if let Some(obj) = self.object_ptr() {
            // SAFETY: the pointer came from Box::leak in `new_object`.
            drop(unsafe { Box::from_raw(obj) });
        }
        self.free_block();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_is_compact() {
        assert_eq!(std::mem::size_of::<Entry>(), 16);
    }

    #[test]
    fn expiry_round_trip_keeps_key_and_value() {
        let mut e = Entry::new_string(b"key", b"value", None, 0);
        assert_eq!(e.expire_at(), None);
        e.set_expire(Some(123));
        assert_eq!(
            (e.key(), e.string(), e.expire_at()),
            (&b"key"[..], Some(&b"value"[..]), Some(123))
        );
        e.set_expire(Some(456));
        assert_eq!(e.expire_at(), Some(456));
        e.set_expire(None);
        assert_eq!(
            (e.key(), e.string(), e.expire_at()),
            (&b"key"[..], Some(&b"value"[..]), None)
        );
    }

    #[test]
    fn append_moves_to_raw() {
        let mut e = Entry::new_string(b"k", b"ab", Some(9), 0);
        e.string_mut().unwrap().extend_from_slice(b"cd");
        assert_eq!(e.string(), Some(&b"abcd"[..]));
        assert_eq!(e.expire_at(), Some(9));
        assert_eq!(e.type_name(), "string");
    }

    #[test]
    fn long_keys_take_longer_length_prefixes() {
        for len in [0, 127, 128, 16_383, 16_384, 70_000] {
            let key = vec![b'k'; len];
            let mut e = Entry::new_string(&key, b"v", None, 0);
            assert_eq!((e.key(), e.string()), (&key[..], Some(&b"v"[..])));
            e.set_expire(Some(7));
            assert_eq!(
                (e.key(), e.string(), e.expire_at()),
                (&key[..], Some(&b"v"[..]), Some(7))
            );
        }
    }

    #[derive(Clone, Debug)]
    enum Op {
        SetExpire(Option<u64>),
        SetString(Vec<u8>),
        Append(Vec<u8>),
        Touch(u32),
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        let bytes = proptest::collection::vec(any::<u8>(), 0..300);
        prop_oneof![
            proptest::option::of(any::<u64>()).prop_map(Op::SetExpire),
            bytes.clone().prop_map(Op::SetString),
            bytes.prop_map(Op::Append),
            any::<u32>().prop_map(Op::Touch),
        ]
    }

    proptest::proptest! {
        /// Any sequence of edits reads back as a plain model of key, value
        /// and expiry says, inline or as an object.
        #[test]
        fn edits_match_a_model(
            key in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
            first in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
            as_object: bool,
            ops in proptest::collection::vec(op(), 0..20),
        ) {
            let (mut value, mut expire, mut access) = (first.clone(), None, 0);
            let mut e = if as_object {
                Entry::new_object(&key, Object::Raw(first), None, 0)
            } else {
                Entry::new_string(&key, &first, None, 0)
            };
            for op in ops {
                match op {
                    Op::SetExpire(at) => {
                        e.set_expire(at);
                        expire = at;
                    }
                    Op::SetString(v) => {
                        e.set_string(&v);
                        value = v;
                    }
                    Op::Append(v) => {
                        e.string_mut().unwrap().extend_from_slice(&v);
                        value.extend_from_slice(&v);
                    }
                    Op::Touch(a) => {
                        e.access = a;
                        access = a;
                    }
                }
                proptest::prop_assert_eq!(e.key(), &key[..]);
                proptest::prop_assert_eq!(e.string(), Some(&value[..]));
                proptest::prop_assert_eq!(e.expire_at(), expire);
                proptest::prop_assert_eq!(e.access(), access);
            }
        }
    }
}
