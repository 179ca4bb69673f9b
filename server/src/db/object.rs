//! Values other than plain strings. One variant per Redis type; each type's
//! commands live in `commands/t_<type>.rs`.

mod dict;
mod hash;
mod intset;
mod list;
mod segmented;
mod set;
mod zset;
mod zset_listpack;

pub use hash::Hash;
pub use list::{End, List};
pub use set::{Member, Set};
pub use zset::{AddFlags, Added, LexBound, LexRange, Range, ScoreRange, ZSet};

/// `n` distinct picks among `len` positions, in order when the value
/// passes for a listpack: Redis samples a listpack in one walk along it
/// (lpRandomPairsUnique), so its picks come in the listpack's order.
fn distinct_picks(rng: &mut impl rand::Rng, len: usize, n: usize, in_order: bool) -> Vec<usize> {
    let mut picks = rand::seq::index::sample(rng, len, n).into_vec();
    if in_order {
        picks.sort_unstable();
    }
    picks
}

pub enum Object {
    /// A string that has been appended to or edited in place.
    Raw(Vec<u8>),
    Hash(Hash),
    List(List),
    Set(Set),
    ZSet(ZSet),
}

impl Object {
    /// Fetches ahead what looking up `member` in this collection reads
    /// first, when it is a table (a packed value is one block, already
    /// fetched with the key).
    pub fn prefetch_member(&self, member: &[u8]) {
        match self {
            Object::Hash(Hash::Table(d)) => d.prefetch(member),
            Object::Set(Set::Table(d)) => d.prefetch(member),
            Object::ZSet(z) => z.prefetch_member(member),
            _ => {}
        }
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Object::Raw(_) => "string",
            Object::Hash(_) => "hash",
            Object::List(_) => "list",
            Object::Set(_) => "set",
            Object::ZSet(_) => "zset",
        }
    }

    /// OBJECT ENCODING, as Redis names its encodings.
    pub fn encoding(&self) -> &'static str {
        match self {
            Object::Raw(_) => "raw",
            Object::Hash(h) => h.encoding(),
            Object::List(l) => l.encoding(),
            Object::Set(s) => s.encoding(),
            Object::ZSet(z) => z.encoding(),
        }
    }

    /// Heap bytes held, counting the object's own box.
    pub fn memory_usage(&self) -> usize {
        std::mem::size_of::<Object>()
            + match self {
                Object::Raw(s) => s.capacity(),
                Object::Hash(h) => h.memory_usage(),
                Object::List(l) => l.memory_usage(),
                Object::Set(s) => s.memory_usage(),
                Object::ZSet(z) => z.memory_usage(),
            }
    }

    /// Elements held (for freeing large values off the request path).
    pub fn len(&self) -> usize {
        match self {
            Object::Raw(_) => 1,
            Object::Hash(h) => h.len(),
            Object::List(l) => l.len(),
            Object::Set(s) => s.len(),
            Object::ZSet(z) => z.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    /// Every collection key holds one boxed Object: up to 48 bytes it
    /// takes jemalloc's 48-byte class, past that the 64-byte one.
    #[test]
    fn an_object_fits_the_48_byte_class() {
        assert!(std::mem::size_of::<super::Object>() <= 48);
    }
}
