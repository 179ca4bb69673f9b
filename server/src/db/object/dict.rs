//! The table behind hashes (field → value), big sets (member → ()) and
//! sorted sets (member → score), with a scan cursor that keeps Redis's
//! HSCAN/SSCAN/ZSCAN guarantee (a field present for the whole iteration is
//! returned at least once) whatever inserts, deletes and resizes happen
//! between calls.
//!
//! Why this shape: a cursor into one open-addressing table (hashbrown) is
//! unsound, because elements move when the table grows or rehashes in place
//! after deletes; an insertion-ordered map (indexmap) moves the last element
//! into every deleted slot, so a field can jump behind the cursor and be
//! missed. Redis's answer is a table where an element's bucket is a pure
//! function of its hash and the table size (`hash & mask`) and a cursor that
//! walks buckets in reverse-binary order: when the table doubles, bucket `b`
//! splits into `b` and `b + size`, which that order visits together; when it
//! halves, two buckets merge into one not yet visited or visited as a pair.
//! Here each "bucket" is a small hashbrown table (a shard) chosen by hash
//! bits 32.., so lookups stay O(1) and hashbrown's own probing (low bits and
//! top 7 bits) is unaffected, and a scan step returns whole shards.
//!
//! The table changes size a shard at a time, as linear hashing does, not
//! all at once: rebuilding a million-field set in one go stalls every
//! client of its slot for tens of ms (Redis rehashes incrementally for the
//! same reason). Between `base` and twice as many shards, the first ones
//! are split in two (shard `b` and `b + base`) and the rest are not yet;
//! a scan visits a shard and, if split, its other half, as Redis's
//! dictScan visits a small table's bucket and its expansions in the big
//! one while it rehashes.

use std::hash::BuildHasher;

use hashbrown::hash_table::Entry;
use hashbrown::{DefaultHashBuilder, HashTable};
use smallvec::SmallVec;

use crate::db::probe;
use crate::db::thin::{ThinAlias, ThinBytes, ThinPair};

/// How a dict holds its fields: owning them (`ThinBytes`), or naming
/// bytes another structure owns (`ThinAlias`: a sorted set's members).
pub trait Field: std::ops::Deref<Target = [u8]> {
    /// Heap bytes the dict owns for it, for MEMORY USAGE.
    fn heap_size(&self) -> usize;
}

impl Field for ThinBytes {
    fn heap_size(&self) -> usize {
        ThinBytes::heap_size(self)
    }
}

impl Field for ThinAlias {
    fn heap_size(&self) -> usize {
        0
    }
}

type Shard<E> = HashTable<E>;

/// What a dict holds for each field: the field, and a value readers see
/// as `Ref` (a hash's value as a byte slice, a score by value).
pub trait Element {
    type Ref<'a>: Copy
    where
        Self: 'a;
    fn field(&self) -> &[u8];
    fn value(&self) -> Self::Ref<'_>;
    /// Heap bytes it owns, for MEMORY USAGE.
    fn heap_size(&self) -> usize;
}

/// A hash's field and value, in one block.
impl Element for ThinPair {
    type Ref<'a> = &'a [u8];
    #[inline]
    fn field(&self) -> &[u8] {
        self.first()
    }
    fn value(&self) -> &[u8] {
        self.second()
    }
    fn heap_size(&self) -> usize {
        ThinPair::heap_size(self)
    }
}

/// A field and a value held apart: a set's members, a sorted set's
/// member names and scores.
impl<F: Field, V: DictValue> Element for (F, V) {
    type Ref<'a>
        = V::Ref<'a>
    where
        Self: 'a;
    #[inline]
    fn field(&self) -> &[u8] {
        &self.0
    }
    fn value(&self) -> V::Ref<'_> {
        self.1.view()
    }
    fn heap_size(&self) -> usize {
        self.0.heap_size() + self.1.heap_size()
    }
}

/// A value held apart from its field (`(F, V)` elements).
pub trait DictValue {
    type Ref<'a>: Copy
    where
        Self: 'a;
    fn view(&self) -> Self::Ref<'_>;
    /// Heap bytes the value owns, for MEMORY USAGE.
    fn heap_size(&self) -> usize;
}

impl DictValue for () {
    type Ref<'a> = ();
    fn view(&self) {}
    fn heap_size(&self) -> usize {
        0
    }
}

impl DictValue for f64 {
    type Ref<'a> = f64;
    fn view(&self) -> f64 {
        *self
    }
    fn heap_size(&self) -> usize {
        0
    }
}

/// Shards split when they hold this many fields on average, so a hash up
/// to Redis's listpack size (128) is one shard and HSCAN returns it whole.
const GROW_AT: usize = 128;
/// …and merge below this average (half of the post-split 64, for hysteresis).
const SHRINK_AT: usize = 32;
/// Shard bits come from hash bits 32..56, below hashbrown's top-7-bit tag.
const MAX_SHARDS: usize = 1 << 24;

pub struct Dict<E = ThinPair> {
    /// `base() + split` of them; a field lives in `self.shard_of(hash)`.
    shards: SmallVec<[Shard<E>; 1]>,
    /// Each shard's `probe::hint` (0: not known), for `prefetch`.
    probes: SmallVec<[u64; 1]>,
    len: usize,
    hasher: DefaultHashBuilder,
}

impl<E> Default for Dict<E> {
    fn default() -> Self {
        let mut shards = SmallVec::new();
        shards.push(Shard::new());
        Dict {
            shards,
            probes: smallvec::smallvec![0],
            len: 0,
            hasher: DefaultHashBuilder::default(),
        }
    }
}

/// A field's shard among `shards` of which `base` come before the splits:
/// its bucket among twice `base`, or the shard not yet split that holds it.
#[inline]
fn shard_of(hash: u64, base: usize, shards: usize) -> usize {
    let bucket = (hash >> 32) as usize & (2 * base - 1);
    if bucket < shards {
        bucket
    } else {
        bucket - base
    }
}

/// A stored field's hash again, which hashbrown asks for when it moves
/// fields (growing, shrinking) and which moving them between shards needs.
fn rehash<E: Element>(hasher: &DefaultHashBuilder) -> impl Fn(&E) -> u64 + Copy + '_ {
    move |e| hasher.hash_one(e.field())
}

impl<E: Element> Dict<E> {
    #[inline]
    fn hash(&self, field: &[u8]) -> u64 {
        self.hasher.hash_one(field)
    }

    /// A power of two: the shards before any split (the largest power of
    /// two up to their number, so it need not be stored).
    #[inline]
    fn base(&self) -> usize {
        1 << (usize::BITS - 1 - self.shards.len().leading_zeros())
    }

    #[inline]
    fn shard_at(&self, hash: u64) -> usize {
        shard_of(hash, self.base(), self.shards.len())
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn get(&self, field: &[u8]) -> Option<E::Ref<'_>> {
        let hash = self.hash(field);
        self.shards[self.shard_at(hash)]
            .find(hash, |e| e.field() == field)
            .map(|e| e.value())
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Inserts the element `make` builds from `arg` for `field` when it is
    /// absent, or hands the existing one and `arg` to `update`; true when
    /// the field is new.
    pub fn upsert_with<T>(
        &mut self,
        field: &[u8],
        arg: T,
        make: impl FnOnce(T) -> E,
        update: impl FnOnce(&mut E, T),
    ) -> bool {
        let hash = self.hash(field);
        let at = self.shard_at(hash);
        let (placed, new) =
            match self.shards[at].entry(hash, |e| e.field() == field, rehash(&self.hasher)) {
                Entry::Occupied(mut o) => {
                    update(o.get_mut(), arg);
                    (o, false)
                }
                Entry::Vacant(v) => (v.insert(make(arg)), true),
            };
        self.probes[at] = probe::hint(placed);
        if new {
            self.len += 1;
            if self.len > GROW_AT * self.shards.len() && self.shards.len() < MAX_SHARDS {
                self.split_one();
            }
        }
        new
    }

    /// Fetches the cache lines a lookup of `field` reads first, if its
    /// shard's place is known: for a pipeline's next command on this key.
    pub fn prefetch(&self, field: &[u8]) {
        let hash = self.hash(field);
        probe::prefetch_lookup::<E>(self.probes[self.shard_at(hash)], hash);
    }

    /// Removes `field`; true when it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        self.take(field).is_some()
    }

    /// Removes `field` and returns its element.
    pub fn take(&mut self, field: &[u8]) -> Option<E> {
        let hash = self.hash(field);
        let n = self.shards.len();
        let at = self.shard_at(hash);
        let shard = &mut self.shards[at];
        let Ok(found) = shard.find_entry(hash, |e| e.field() == field) else {
            return None;
        };
        let (element, _) = found.remove();
        self.len -= 1;
        if n > 1 && self.len < SHRINK_AT * n {
            self.merge_one();
        } else if shard.capacity() > 16 && shard.len() * 4 < shard.capacity() {
            // Give memory back as Redis shrinks a mostly empty dict. Moving
            // fields inside one shard cannot confuse a cursor.
            shard.shrink_to(shard.len() * 2, rehash(&self.hasher));
            self.probes[at] = 0;
        }
        Some(element)
    }

    /// Splits the next shard not yet split: its fields of the upper
    /// bucket move to a new last shard.
    fn split_one(&mut self) {
        let base = self.base();
        let from = self.shards.len() - base;
        let source = &mut self.shards[from];
        let rehash = rehash(&self.hasher);
        let mut upper = Shard::with_capacity(source.len() / 2 + source.len() / 8);
        for item in source.extract_if(|item| (rehash(item) >> 32) as usize & base != 0) {
            upper.insert_unique(rehash(&item), item, rehash);
        }
        // Keep the usual slack, not room for the fields that left.
        source.shrink_to(source.len() + source.len() / 4, rehash);
        self.probes[from] = 0;
        self.shards.push(upper);
        self.probes.push(0);
    }

    /// Merges the last shard back into the one it was split from.
    fn merge_one(&mut self) {
        let rehash = rehash(&self.hasher);
        let upper = self.shards.pop().expect("more than one shard");
        self.probes.pop();
        let from = self.shards.len() - self.base();
        self.probes[from] = 0;
        let into = &mut self.shards[from];
        into.reserve(upper.len(), rehash);
        for item in upper {
            into.insert_unique(rehash(&item), item, rehash);
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&[u8], E::Ref<'_>)> + '_ {
        self.shards
            .iter()
            .flat_map(|s| s.iter())
            .map(|e| (e.field(), e.value()))
    }

    /// One HSCAN/SSCAN/ZSCAN step: emits whole shards from `cursor` on
    /// until at least `count` fields were emitted, and returns the next
    /// cursor (0: done).
    /// This is Redis's dictScan: the cursor's low bits name a shard among
    /// `base`, and it advances by incrementing its bit-reversed value.
    pub fn scan<'a>(
        &'a self,
        cursor: u64,
        count: usize,
        mut emit: impl FnMut(&'a [u8], E::Ref<'a>),
    ) -> u64 {
        let base = self.base();
        let mask = (base - 1) as u64;
        let split = self.shards.len() - base;
        let mut v = cursor;
        let mut emitted = 0;
        loop {
            let at = (v & mask) as usize;
            // A split shard's other half holds the rest of its bucket.
            let other = (at < split).then(|| at + base);
            for shard in std::iter::once(at).chain(other).map(|i| &self.shards[i]) {
                for e in shard.iter() {
                    emit(e.field(), e.value());
                }
                emitted += shard.len();
            }
            // Set the bits above the mask so the increment carries through
            // them and only the masked bits change.
            v |= !mask;
            v = v.reverse_bits().wrapping_add(1).reverse_bits();
            if v == 0 || emitted >= count {
                return v;
            }
        }
    }

    /// A random field, None when empty: a random non-empty shard, then a
    /// random field of it. Shards hold similar numbers of fields, so this is
    /// close to uniform (as Redis's dictGetFairRandomKey) and costs
    /// O(shard size) where `positions` costs O(shards).
    pub fn random(&self, rng: &mut impl rand::Rng) -> Option<(&[u8], E::Ref<'_>)> {
        if self.len == 0 {
            return None;
        }
        loop {
            let shard = &self.shards[rng.gen_range(0..self.shards.len())];
            if !shard.is_empty() {
                let e = shard.iter().nth(rng.gen_range(0..shard.len()))?;
                return Some((e.field(), e.value()));
            }
        }
    }

    /// Random access by position (0..len, in iteration order), for
    /// HRANDFIELD and SRANDMEMBER: O(shards) to build, O(log shards + shard
    /// size) per get.
    pub fn positions(&self) -> Positions<'_, E> {
        let mut starts = Vec::with_capacity(self.shards.len());
        let mut at = 0;
        for s in &self.shards {
            starts.push(at);
            at += s.len();
        }
        Positions { dict: self, starts }
    }

    /// Heap bytes held, for MEMORY USAGE.
    pub fn memory_usage(&self) -> usize {
        let spilled = if self.shards.spilled() {
            self.shards.capacity() * std::mem::size_of::<Shard<E>>()
        } else {
            0
        };
        spilled
            + self
                .shards
                .iter()
                .map(|s| s.allocation_size())
                .sum::<usize>()
            + self
                .shards
                .iter()
                .flat_map(|s| s.iter())
                .map(Element::heap_size)
                .sum::<usize>()
    }
}

/// Dicts that own their fields apart from the values.
impl<V: DictValue> Dict<(ThinBytes, V)> {
    /// Sets `field` to `value`; true when the field is new.
    pub fn insert(&mut self, field: &[u8], value: V) -> bool {
        self.upsert_with(field, value, |v| (field.into(), v), |e, v| e.1 = v)
    }
}

/// The hash type: byte-string fields and values, each pair in one block.
impl Dict<ThinPair> {
    /// Sets `field` to `value`, reusing the pair's block when the value's
    /// length is the same; true when the field is new.
    pub fn set(&mut self, field: &[u8], value: &[u8]) -> bool {
        let make = |v| ThinPair::new(field, v);
        self.upsert_with(field, value, make, |pair, value| pair.set_second(value))
    }

    /// Sets `field` only if it is absent; true when it was set.
    pub fn set_if_absent(&mut self, field: &[u8], value: &[u8]) -> bool {
        self.upsert_with(field, value, |v| ThinPair::new(field, v), |_, _| {})
    }
}

pub struct Positions<'a, E> {
    dict: &'a Dict<E>,
    /// Position of each shard's first field.
    starts: Vec<usize>,
}

impl<'a, E: Element> Positions<'a, E> {
    /// The field and value at `pos`, which must be below the dict's length.
    pub fn get(&self, pos: usize) -> (&'a [u8], E::Ref<'a>) {
        // The last shard starting at or before `pos` holds it (empty shards
        // share their start with the next one).
        let s = self.starts.partition_point(|&start| start <= pos) - 1;
        let e = self.dict.shards[s]
            .iter()
            .nth(pos - self.starts[s])
            .expect("position below the dict's length");
        (e.field(), e.value())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn field(i: usize) -> Vec<u8> {
        format!("field:{i}").into_bytes()
    }

    fn filled(n: usize) -> Dict {
        let mut d = Dict::default();
        for i in 0..n {
            assert!(d.set(&field(i), b"v"));
        }
        d
    }

    /// A big set's table is boxed in its object: at most 80 bytes it takes
    /// jemalloc's 80-byte class.
    #[test]
    fn a_set_table_fits_the_80_byte_class() {
        assert!(std::mem::size_of::<Dict<(ThinBytes, ())>>() <= 80);
    }

    #[test]
    fn set_get_remove_and_resharding() {
        let mut d = filled(10_000);
        assert_eq!(d.len(), 10_000);
        assert!(d.shards.len() >= 10_000 / GROW_AT);
        assert!(!d.set(&field(5), b"other"));
        assert_eq!(d.get(&field(5)), Some(&b"other"[..]));
        assert!(!d.set_if_absent(&field(5), b"x"));
        assert_eq!(d.get(&field(5)), Some(&b"other"[..]));
        for i in 0..9_990 {
            assert!(d.remove(&field(i)));
        }
        assert!(!d.remove(&field(0)));
        assert_eq!(d.len(), 10);
        assert_eq!(d.shards.len(), 1);
        assert_eq!(d.iter().count(), 10);
        assert!(d.contains(&field(9_995)));
    }

    #[test]
    fn every_field_found_while_shards_split_and_merge() {
        let mut d = Dict::default();
        for i in 0..3_000 {
            d.set(&field(i), b"v");
            assert!(d.contains(&field(i / 2)) && d.contains(&field(i)), "{i}");
        }
        assert!(d.shards.len() > d.base(), "stopped between sizes");
        for i in 0..2_990 {
            assert!(d.remove(&field(i)), "{i}");
            assert!(
                d.contains(&field(i + 1)) && d.contains(&field(2_990 + i % 10)),
                "{i}"
            );
        }
        assert_eq!(d.iter().count(), 10);
    }

    #[test]
    fn a_scan_of_a_dict_between_sizes_sees_each_field_once() {
        let d = filled(3_000);
        assert!(d.shards.len() > d.base());
        let mut seen = Vec::new();
        let mut cursor = 0;
        loop {
            cursor = d.scan(cursor, 10, |f, _| seen.push(f.to_vec()));
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 3_000);
        assert_eq!(seen.into_iter().collect::<HashSet<_>>().len(), 3_000);
    }

    /// Runs a full scan, changing the dict between steps with `between`,
    /// and returns every field seen.
    fn scan_all(
        d: &mut Dict,
        count: usize,
        mut between: impl FnMut(&mut Dict, usize),
    ) -> HashSet<Vec<u8>> {
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut step = 0;
        loop {
            cursor = d.scan(cursor, count, |f, _| {
                seen.insert(f.to_vec());
            });
            if cursor == 0 {
                return seen;
            }
            between(d, step);
            step += 1;
            assert!(step < 1_000_000, "scan does not end");
        }
    }

    #[test]
    fn small_dict_scans_whole_in_one_step() {
        let d = filled(100);
        let mut n = 0;
        assert_eq!(d.scan(0, 1, |_, _| n += 1), 0);
        assert_eq!(n, 100);
    }

    #[test]
    fn scan_survives_growth() {
        let mut d = filled(2_000);
        let seen = scan_all(&mut d, 10, |d, step| {
            for i in 0..100 {
                d.set(&field(100_000 + step * 100 + i), b"new");
            }
        });
        assert!((0..2_000).all(|i| seen.contains(&field(i))));
    }

    #[test]
    fn scan_survives_shrinking() {
        let mut d = filled(20_000);
        // Fields 0..1000 stay; the rest are deleted while the scan runs.
        let seen = scan_all(&mut d, 10, |d, step| {
            for i in 0..500 {
                d.remove(&field(1_000 + step * 500 + i));
            }
        });
        assert!((0..1_000).all(|i| seen.contains(&field(i))));
        assert_eq!(d.len(), 1_000);
    }

    #[test]
    fn positions_cover_every_field_once() {
        let mut d = filled(5_000);
        for i in 0..3_000 {
            d.remove(&field(i * 3 % 5_000));
        }
        let pos = d.positions();
        let all: HashSet<Vec<u8>> = (0..d.len()).map(|i| pos.get(i).0.to_vec()).collect();
        assert_eq!(all.len(), d.len());
        assert!(d.iter().all(|(f, _)| all.contains(f)));
    }
}
