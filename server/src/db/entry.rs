//! One stored key. Strings live in the same allocation as the key (as
//! Redis's embstr does), so a small string costs one heap block and a
//! 32-byte table slot. Other types hang off `obj`.

use super::object::Object;

/// Set in `meta` when `buf` starts with an 8-byte expiry time.
const HAS_EXPIRE: u32 = 1 << 31;

pub struct Entry {
    /// `[expire_at: u64 LE, if HAS_EXPIRE][key][string value, if obj is None]`
    buf: Box<[u8]>,
    /// Key length, plus the HAS_EXPIRE flag.
    meta: u32,
    /// LRU clock or LFU counter; see `access.rs`.
    pub(super) access: u32,
    obj: Option<Box<Object>>,
}

/// What a key holds, as commands see it.
pub enum Value<'a> {
    Str(&'a [u8]),
    Obj(&'a Object),
}

fn build(expire_at: Option<u64>, key: &[u8], value: &[u8]) -> (Box<[u8]>, u32) {
    let mut buf = Vec::with_capacity(expire_at.map_or(0, |_| 8) + key.len() + value.len());
    let mut meta = key.len() as u32;
    if let Some(at) = expire_at {
        buf.extend_from_slice(&at.to_le_bytes());
        meta |= HAS_EXPIRE;
    }
    buf.extend_from_slice(key);
    buf.extend_from_slice(value);
    (buf.into_boxed_slice(), meta)
}

impl Entry {
    pub fn new_string(key: &[u8], value: &[u8], expire_at: Option<u64>, access: u32) -> Entry {
        let (buf, meta) = build(expire_at, key, value);
        Entry {
            buf,
            meta,
            access,
            obj: None,
        }
    }

    pub fn new_object(key: &[u8], obj: Object, expire_at: Option<u64>, access: u32) -> Entry {
        let (buf, meta) = build(expire_at, key, &[]);
        Entry {
            buf,
            meta,
            access,
            obj: Some(Box::new(obj)),
        }
    }

    #[inline]
    fn key_start(&self) -> usize {
        if self.meta & HAS_EXPIRE != 0 {
            8
        } else {
            0
        }
    }

    #[inline]
    fn key_end(&self) -> usize {
        self.key_start() + (self.meta & !HAS_EXPIRE) as usize
    }

    #[inline]
    pub fn key(&self) -> &[u8] {
        &self.buf[self.key_start()..self.key_end()]
    }

    #[inline]
    pub fn expire_at(&self) -> Option<u64> {
        (self.meta & HAS_EXPIRE != 0).then(|| u64::from_le_bytes(self.buf[..8].try_into().unwrap()))
    }

    #[inline]
    pub fn is_expired(&self, now: u64) -> bool {
        self.expire_at().is_some_and(|at| at <= now)
    }

    /// Changes the expiry; only the slot may call it, as it counts volatile keys.
    pub(super) fn set_expire(&mut self, expire_at: Option<u64>) {
        if expire_at.is_none() && self.expire_at().is_none() {
            return;
        }
        if let (Some(at), Some(_)) = (expire_at, self.expire_at()) {
            self.buf[..8].copy_from_slice(&at.to_le_bytes());
            return;
        }
        let (buf, meta) = build(expire_at, self.key(), &self.buf[self.key_end()..]);
        self.buf = buf;
        self.meta = meta;
    }

    #[inline]
    pub fn value(&self) -> Value<'_> {
        match &self.obj {
            None => Value::Str(&self.buf[self.key_end()..]),
            Some(obj) => match &**obj {
                Object::Raw(s) => Value::Str(s),
                other => Value::Obj(other),
            },
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
        let (buf, meta) = build(self.expire_at(), self.key(), value);
        self.buf = buf;
        self.meta = meta;
        self.obj = None;
    }

    /// A growable copy of the string value, for APPEND and SETRANGE: the
    /// value moves to a `Raw` object so repeated appends stay amortised O(1).
    pub fn string_mut(&mut self) -> Option<&mut Vec<u8>> {
        if self.obj.is_none() {
            let value = self.buf[self.key_end()..].to_vec();
            let (buf, meta) = build(self.expire_at(), self.key(), &[]);
            self.buf = buf;
            self.meta = meta;
            self.obj = Some(Box::new(Object::Raw(value)));
        }
        match self.obj.as_deref_mut() {
            Some(Object::Raw(s)) => Some(s),
            _ => None,
        }
    }

    /// The raw LRU/LFU field (see `access.rs`).
    pub fn access(&self) -> u32 {
        self.access
    }

    pub fn object(&self) -> Option<&Object> {
        self.obj.as_deref()
    }

    pub fn object_mut(&mut self) -> Option<&mut Object> {
        self.obj.as_deref_mut()
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
            + self.buf.len()
            + self.obj.as_ref().map_or(0, |o| o.memory_usage())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_is_compact() {
        assert_eq!(std::mem::size_of::<Entry>(), 32);
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
}
