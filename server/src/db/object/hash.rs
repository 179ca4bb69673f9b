//! The hash type. As in Redis, a small hash is packed: its fields and
//! values one after another in one buffer, in the order the fields came,
//! which is the order HGETALL, HKEYS, HVALS and HSCAN answer in, as Redis
//! answers from a listpack (applications come to rely on it). A lookup
//! walks the buffer: at most 128 pairs of at most 64 bytes, a few cache
//! lines read in order, and two bytes of overhead a pair where a table
//! spends a block and a bucket. The 129th field, or a field or value
//! longer than 64 bytes, turns it into a table (dict.rs) for good, as in
//! Redis.

use std::ops::Range;

use rand::Rng;

use super::dict::{self, Dict};

/// Redis's hash-max-listpack-entries and hash-max-listpack-value defaults.
const PACKED_ENTRIES: usize = 128;
const PACKED_VALUE: usize = 64;

pub enum Hash {
    Packed(Packed),
    /// Boxed: most hashes are small, and every object pays for the largest
    /// variant.
    Table(Box<Dict>),
}

impl Default for Hash {
    fn default() -> Self {
        Hash::Packed(Packed::default())
    }
}

#[derive(Default)]
pub struct Packed {
    /// Per pair: the field's length (one byte: never over 64), its bytes,
    /// the value's length, its bytes.
    buf: Vec<u8>,
    len: usize,
}

/// Where a pair lies in a packed buffer.
struct At {
    start: usize,
    field: Range<usize>,
    value: Range<usize>,
}

impl Packed {
    fn pairs(&self) -> impl Iterator<Item = At> + '_ {
        let buf = &self.buf;
        let mut next = 0;
        std::iter::from_fn(move || {
            if next >= buf.len() {
                return None;
            }
            let start = next;
            let field = start + 1..start + 1 + buf[start] as usize;
            let value = field.end + 1..field.end + 1 + buf[field.end] as usize;
            next = value.end;
            Some(At {
                start,
                field,
                value,
            })
        })
    }

    fn find(&self, field: &[u8]) -> Option<At> {
        self.pairs().find(|at| self.buf[at.field.clone()] == *field)
    }

    fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.pairs()
            .map(|at| (&self.buf[at.field], &self.buf[at.value]))
    }

    /// Whether a pair of these lengths may join (or stay in) the buffer.
    fn fits(field: &[u8], value: &[u8]) -> bool {
        field.len() <= PACKED_VALUE && value.len() <= PACKED_VALUE
    }

    /// The buffer grows by what it needs, as a listpack is reallocated at
    /// each insert: doubling would leave a third of it empty on average.
    fn push(&mut self, field: &[u8], value: &[u8]) {
        self.buf.reserve_exact(2 + field.len() + value.len());
        self.buf.push(field.len() as u8);
        self.buf.extend_from_slice(field);
        self.buf.push(value.len() as u8);
        self.buf.extend_from_slice(value);
        self.len += 1;
    }

    /// Replaces a pair's value where it is: the field keeps its place.
    fn replace(&mut self, at: At, value: &[u8]) {
        let with_len = at.value.start - 1..at.value.end;
        self.buf
            .reserve_exact(value.len().saturating_sub(at.value.len()));
        let new = std::iter::once(value.len() as u8).chain(value.iter().copied());
        self.buf.splice(with_len, new);
        if self.buf.capacity() > self.buf.len() + 16 {
            self.buf.shrink_to_fit();
        }
    }

    fn remove(&mut self, at: At) {
        self.buf.drain(at.start..at.value.end);
        self.len -= 1;
        // Give memory back as a listpack does at each delete.
        self.buf.shrink_to_fit();
    }

    fn to_table(&self) -> Box<Dict> {
        let mut table = Box::<Dict>::default();
        for (field, value) in self.iter() {
            table.set(field, value);
        }
        table
    }
}

impl Hash {
    pub fn len(&self) -> usize {
        match self {
            Hash::Packed(p) => p.len,
            Hash::Table(d) => d.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match self {
            Hash::Packed(p) => p.find(field).map(|at| &p.buf[at.value]),
            Hash::Table(d) => d.get(field),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Sets `field` to `value`; true when the field is new.
    pub fn set(&mut self, field: &[u8], value: &[u8]) -> bool {
        self.set_with(field, value, true)
    }

    /// Sets `field` only if it is absent; true when it was set.
    pub fn set_if_absent(&mut self, field: &[u8], value: &[u8]) -> bool {
        self.set_with(field, value, false)
    }

    fn set_with(&mut self, field: &[u8], value: &[u8], replace: bool) -> bool {
        if let Hash::Packed(p) = self {
            let found = p.find(field);
            if found.is_some() && !replace {
                return false;
            }
            // As Redis: a value too long for the buffer converts it even
            // when it replaces one that fitted.
            if Packed::fits(field, value) && (found.is_some() || p.len < PACKED_ENTRIES) {
                let new = found.is_none();
                match found {
                    Some(at) => p.replace(at, value),
                    None => p.push(field, value),
                }
                return new;
            }
            *self = Hash::Table(p.to_table());
        }
        let Hash::Table(d) = self else {
            unreachable!("converted above")
        };
        if replace {
            d.set(field, value)
        } else {
            d.set_if_absent(field, value)
        }
    }

    /// Removes `field`; true when it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            Hash::Packed(p) => p.find(field).map(|at| p.remove(at)).is_some(),
            Hash::Table(d) => d.remove(field),
        }
    }

    /// The pairs: a packed hash's in the order its fields came.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        let (packed, table) = match self {
            Hash::Packed(p) => (Some(p), None),
            Hash::Table(d) => (None, Some(d)),
        };
        let packed = packed.into_iter().flat_map(Packed::iter);
        packed.chain(table.into_iter().flat_map(|d| d.iter()))
    }

    /// HSCAN: a packed hash comes whole, whatever the cursor, as Redis
    /// sends a listpack.
    pub fn scan<'a>(
        &'a self,
        cursor: u64,
        count: usize,
        mut emit: impl FnMut(&'a [u8], &'a [u8]),
    ) -> u64 {
        match self {
            Hash::Packed(p) => {
                p.iter().for_each(|(f, v)| emit(f, v));
                0
            }
            Hash::Table(d) => d.scan(cursor, count, emit),
        }
    }

    /// The pairs by position, for random picks.
    pub fn positions(&self) -> Positions<'_> {
        match self {
            Hash::Packed(p) => Positions::Packed(p.iter().collect()),
            Hash::Table(d) => Positions::Table(d.positions()),
        }
    }

    /// `n` distinct positions below `len()`: for a packed hash in order, as
    /// Redis picks from a listpack (HRANDFIELD with a positive count).
    pub fn distinct_positions(&self, rng: &mut impl Rng, n: usize) -> Vec<usize> {
        super::distinct_picks(rng, self.len(), n, matches!(self, Hash::Packed(_)))
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Hash::Packed(_) => "listpack",
            Hash::Table(_) => "hashtable",
        }
    }

    /// Heap bytes held (MEMORY USAGE, eviction).
    pub fn memory_usage(&self) -> usize {
        match self {
            Hash::Packed(p) => p.buf.capacity(),
            Hash::Table(d) => d.memory_usage(),
        }
    }
}

pub enum Positions<'a> {
    Packed(Vec<(&'a [u8], &'a [u8])>),
    Table(dict::Positions<'a, crate::db::thin::ThinPair>),
}

impl<'a> Positions<'a> {
    /// The pair at `pos`, which must be below the hash's length.
    pub fn get(&self, pos: usize) -> (&'a [u8], &'a [u8]) {
        match self {
            Positions::Packed(pairs) => pairs[pos],
            Positions::Table(p) => p.get(pos),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        /// Against a model kept in the order fields came (Redis's listpack
        /// order): the same pairs, in that order while packed, and the
        /// encoding Redis would report.
        #[test]
        fn behaves_as_redis_listpack_then_table(
            ops in proptest::collection::vec(
                // Now and then a value too long to stay packed.
                (0u8..3, 0usize..150, prop_oneof![199 => 0usize..=64, 1 => 65usize..=70]),
                1..400,
            )
        ) {
            let mut h = Hash::default();
            let mut model: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
            let mut converted = false;
            for (op, field, len) in ops {
                let field = format!("f{field}").into_bytes();
                let value = vec![b'v'; len];
                let at = model.iter().position(|(f, _)| *f == field);
                match op {
                    0 => {
                        prop_assert_eq!(h.set(&field, &value), at.is_none());
                        converted |= len > PACKED_VALUE;
                        match at {
                            Some(i) => model[i].1 = value,
                            None => model.push((field, value)),
                        }
                    }
                    1 => {
                        prop_assert_eq!(h.set_if_absent(&field, &value), at.is_none());
                        if at.is_none() {
                            converted |= len > PACKED_VALUE;
                            model.push((field, value));
                        }
                    }
                    _ => {
                        prop_assert_eq!(h.remove(&field), at.is_some());
                        if let Some(i) = at {
                            model.remove(i);
                        }
                    }
                }
                converted |= model.len() > PACKED_ENTRIES;
                prop_assert_eq!(h.encoding(), if converted { "hashtable" } else { "listpack" });
                prop_assert_eq!(h.len(), model.len());
            }
            let mut pairs: Vec<(Vec<u8>, Vec<u8>)> =
                h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
            if converted {
                pairs.sort();
                model.sort();
            }
            prop_assert_eq!(pairs, model);
        }
    }

    fn fields(h: &Hash) -> Vec<String> {
        h.iter()
            .map(|(f, v)| {
                format!(
                    "{}={}",
                    String::from_utf8_lossy(f),
                    String::from_utf8_lossy(v)
                )
            })
            .collect()
    }

    #[test]
    fn packed_keeps_the_order_fields_came_in() {
        let mut h = Hash::default();
        assert!(h.set(b"z", b"1"));
        assert!(h.set(b"a", b"2"));
        assert!(h.set(b"m", b"3"));
        assert!(!h.set(b"a", b"two"), "an update is not new");
        assert!(!h.set_if_absent(b"z", b"x"));
        assert!(h.remove(b"z"));
        assert!(!h.remove(b"z"));
        assert!(h.set(b"z", b"4"));
        assert_eq!(fields(&h), ["a=two", "m=3", "z=4"]);
        assert_eq!(h.get(b"m"), Some(&b"3"[..]));
        assert_eq!(h.len(), 3);
        assert_eq!(h.encoding(), "listpack");
    }

    #[test]
    fn converts_for_good_past_redis_limits() {
        let mut h = Hash::default();
        for i in 0..PACKED_ENTRIES {
            h.set(format!("f{i}").as_bytes(), b"v");
        }
        assert_eq!(h.encoding(), "listpack");
        h.set(b"one-more", b"v");
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.len(), PACKED_ENTRIES + 1);
        for i in 0..PACKED_ENTRIES {
            h.remove(format!("f{i}").as_bytes());
        }
        assert_eq!(h.encoding(), "hashtable", "no way back, as in Redis");

        let mut long = Hash::default();
        long.set(b"f", b"v");
        long.set_if_absent(b"f", &[b'x'; PACKED_VALUE + 1]);
        assert_eq!(long.encoding(), "listpack", "HSETNX that sets nothing");
        long.set(b"f", &[b'x'; PACKED_VALUE + 1]);
        assert_eq!(long.encoding(), "hashtable");
        assert_eq!(long.len(), 1);
        let mut exact = Hash::default();
        exact.set(&[b'f'; PACKED_VALUE], &[b'v'; PACKED_VALUE]);
        assert_eq!(exact.encoding(), "listpack");
    }

    #[test]
    fn values_change_length_in_place() {
        let mut h = Hash::default();
        h.set(b"a", b"1");
        h.set(b"b", b"2");
        h.set(b"a", b"a much longer value");
        h.set(b"b", b"");
        assert_eq!(fields(&h), ["a=a much longer value", "b="]);
        assert_eq!(h.positions().get(1), (&b"b"[..], &b""[..]));
    }
}
