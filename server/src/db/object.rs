//! Values other than plain strings. One variant per Redis type; each type's
//! commands live in `commands/t_<type>.rs`.

mod dict;
mod list;
mod segmented;
mod set;
mod zset;

pub use dict::Dict;
pub use list::{End, List};
pub use set::{Member, Set};
pub use zset::{AddFlags, Added, LexBound, LexRange, Range, ScoreRange, ZSet};

pub enum Object {
    /// A string that has been appended to or edited in place.
    Raw(Vec<u8>),
    Hash(Dict),
    List(List),
    Set(Set),
    /// Boxed: it is the largest variant, and every object pays for it.
    ZSet(Box<ZSet>),
}

/// Redis's hash-max-listpack-entries and hash-max-listpack-value defaults.
const LISTPACK_ENTRIES: usize = 128;
const LISTPACK_VALUE: usize = 64;

impl Object {
    pub fn type_name(&self) -> &'static str {
        match self {
            Object::Raw(_) => "string",
            Object::Hash(_) => "hash",
            Object::List(_) => "list",
            Object::Set(_) => "set",
            Object::ZSet(_) => "zset",
        }
    }

    /// OBJECT ENCODING. Small hashes are reported as Redis reports them
    /// (listpack under its default thresholds) so tools that check it agree.
    pub fn encoding(&self) -> &'static str {
        match self {
            Object::Raw(_) => "raw",
            Object::Hash(h)
                if h.len() <= LISTPACK_ENTRIES
                    && h.iter()
                        .all(|(k, v)| k.len() <= LISTPACK_VALUE && v.len() <= LISTPACK_VALUE) =>
            {
                "listpack"
            }
            Object::Hash(_) => "hashtable",
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
                Object::ZSet(z) => std::mem::size_of::<ZSet>() + z.memory_usage(),
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
