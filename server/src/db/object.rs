//! Values other than plain strings. One variant per Redis type; each type's
//! commands live in `commands/t_<type>.rs`.

use hashbrown::HashMap;

pub type Field = Box<[u8]>;

pub enum Object {
    /// A string that has been appended to or edited in place.
    Raw(Vec<u8>),
    Hash(HashMap<Field, Field>),
}

impl Object {
    pub fn type_name(&self) -> &'static str {
        match self {
            Object::Raw(_) => "string",
            Object::Hash(_) => "hash",
        }
    }

    /// OBJECT ENCODING. Small hashes are reported as Redis reports them
    /// (listpack under its default thresholds) so tools that check it agree.
    pub fn encoding(&self) -> &'static str {
        match self {
            Object::Raw(_) => "raw",
            Object::Hash(h)
                if h.len() <= 128 && h.iter().all(|(k, v)| k.len() <= 64 && v.len() <= 64) =>
            {
                "listpack"
            }
            Object::Hash(_) => "hashtable",
        }
    }

    pub fn memory_usage(&self) -> usize {
        const SLOT: usize = std::mem::size_of::<(Field, Field)>() + 1;
        match self {
            Object::Raw(s) => s.capacity(),
            Object::Hash(h) => {
                h.capacity() * SLOT + h.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>()
            }
        }
    }

    /// Elements held (for freeing large values off the request path).
    pub fn len(&self) -> usize {
        match self {
            Object::Raw(_) => 1,
            Object::Hash(h) => h.len(),
        }
    }
}
