//! DUMP/RESTORE payloads, in Redis's format so values move between
//! slotcache and Redis both ways: one RDB object (type byte, then its
//! encoding), the RDB version (2 bytes LE) and a CRC64 of all that (8 bytes
//! LE). We write the plain encodings every Redis since 2.x loads, and read
//! those plus the compact ones Redis 7.0 writes (intset, listpack, ziplist,
//! quicklist, LZF strings). A payload is untrusted: every length is checked
//! against what is left of it before anything is allocated.

use super::object::{End, Hash, List, Object, Set, ZSet};
use super::Value;
use crate::commands::{parse_f64, parse_i64};

/// Written: Redis 7.0's, which refuses newer payloads.
pub const RDB_VERSION: u16 = 10;
/// Read: 11 (Redis 7.2) differs only by the set listpack, which we read.
const MAX_VERSION: u16 = 11;

const TYPE_STRING: u8 = 0;
const TYPE_LIST: u8 = 1;
const TYPE_SET: u8 = 2;
const TYPE_ZSET: u8 = 3;
const TYPE_HASH: u8 = 4;
const TYPE_ZSET_2: u8 = 5;
const TYPE_LIST_ZIPLIST: u8 = 10;
const TYPE_SET_INTSET: u8 = 11;
const TYPE_ZSET_ZIPLIST: u8 = 12;
const TYPE_HASH_ZIPLIST: u8 = 13;
const TYPE_LIST_QUICKLIST: u8 = 14;
const TYPE_HASH_LISTPACK: u8 = 16;
const TYPE_ZSET_LISTPACK: u8 = 17;
const TYPE_LIST_QUICKLIST_2: u8 = 18;
const TYPE_SET_LISTPACK: u8 = 20;

/// Length encodings (the top two bits of the first byte).
const LEN_6BIT: u8 = 0;
const LEN_14BIT: u8 = 1;
const LEN_32BIT: u8 = 0x80;
const LEN_64BIT: u8 = 0x81;
const ENC_INT8: u8 = 0;
const ENC_INT16: u8 = 1;
const ENC_INT32: u8 = 2;
const ENC_LZF: u8 = 3;

const QUICKLIST_NODE_PLAIN: u64 = 1;
const QUICKLIST_NODE_PACKED: u64 = 2;

/// The payload is not one we can load (RESTORE's "Bad data format").
#[derive(Debug, PartialEq, Eq)]
pub struct BadFormat;

type Result<T> = std::result::Result<T, BadFormat>;

// ---- CRC64 (Jones polynomial, reflected, as Redis's crc64.c) ----

const CRC64_TABLE: [u64; 256] = {
    // 0xad93d23594c935a9 bit-reversed, for the reflected algorithm.
    const POLY: u64 = 0x95ac_9329_ac4b_c9b5;
    let mut table = [0u64; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u64;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ POLY
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

pub fn crc64(mut crc: u64, data: &[u8]) -> u64 {
    for &b in data {
        crc = CRC64_TABLE[((crc ^ b as u64) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}

// ---- Writing ----

/// The DUMP payload of a value.
pub fn dump(value: Value) -> Vec<u8> {
    let mut w = Vec::new();
    match value {
        Value::Str(s) => {
            w.push(TYPE_STRING);
            put_string(&mut w, s);
        }
        Value::Obj(obj) => put_object(&mut w, obj),
    }
    w.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(0, &w);
    w.extend_from_slice(&crc.to_le_bytes());
    w
}

fn put_object(w: &mut Vec<u8>, obj: &Object) {
    match obj {
        Object::Raw(s) => {
            w.push(TYPE_STRING);
            put_string(w, s);
        }
        Object::List(l) => {
            w.push(TYPE_LIST);
            put_len(w, l.len() as u64);
            for item in l.iter() {
                put_string(w, item);
            }
        }
        Object::Set(s) => {
            w.push(TYPE_SET);
            put_len(w, s.len() as u64);
            let mut buf = itoa::Buffer::new();
            for m in s.iter() {
                put_string(w, m.bytes(&mut buf));
            }
        }
        Object::ZSet(z) => {
            w.push(TYPE_ZSET_2);
            put_len(w, z.len() as u64);
            for (member, score) in z.iter() {
                put_string(w, member);
                w.extend_from_slice(&score.to_le_bytes());
            }
        }
        Object::Hash(h) => {
            w.push(TYPE_HASH);
            put_len(w, h.len() as u64);
            for (field, value) in h.iter() {
                put_string(w, field);
                put_string(w, value);
            }
        }
    }
}

fn put_len(w: &mut Vec<u8>, n: u64) {
    if n < 1 << 6 {
        w.push((LEN_6BIT << 6) | n as u8);
    } else if n < 1 << 14 {
        w.extend_from_slice(&[(LEN_14BIT << 6) | (n >> 8) as u8, n as u8]);
    } else if n <= u32::MAX as u64 {
        w.push(LEN_32BIT);
        w.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        w.push(LEN_64BIT);
        w.extend_from_slice(&n.to_be_bytes());
    }
}

/// A string, as an integer when it reads back identically (as Redis's
/// rdbTryIntegerEncoding), else its length and bytes.
fn put_string(w: &mut Vec<u8>, s: &[u8]) {
    if s.len() <= 11 {
        if let Some(n) = parse_i64(s) {
            if let Ok(n) = i8::try_from(n) {
                w.extend_from_slice(&[0xc0 | ENC_INT8, n as u8]);
                return;
            }
            if let Ok(n) = i16::try_from(n) {
                w.push(0xc0 | ENC_INT16);
                w.extend_from_slice(&n.to_le_bytes());
                return;
            }
            if let Ok(n) = i32::try_from(n) {
                w.push(0xc0 | ENC_INT32);
                w.extend_from_slice(&n.to_le_bytes());
                return;
            }
        }
    }
    put_len(w, s.len() as u64);
    w.extend_from_slice(s);
}

// ---- Reading ----

/// Whether the footer holds a version we read and the right checksum
/// (Redis's verifyDumpPayload).
pub fn verify(payload: &[u8]) -> bool {
    if payload.len() < 10 {
        return false;
    }
    let (body, crc) = payload.split_at(payload.len() - 8);
    let version = u16::from_le_bytes([body[body.len() - 2], body[body.len() - 1]]);
    version <= MAX_VERSION && crc64(0, body).to_le_bytes() == crc
}

/// Loads a verified payload's object; a string comes back as `Object::Raw`.
pub fn load(payload: &[u8]) -> Result<Object> {
    let body = payload
        .get(..payload.len().saturating_sub(10))
        .ok_or(BadFormat)?;
    let mut r = Reader { buf: body, pos: 0 };
    let kind = r.byte()?;
    let obj = match kind {
        TYPE_STRING => Object::Raw(r.string()?),
        TYPE_LIST => {
            let mut list = List::default();
            for _ in 0..r.count()? {
                list.push(End::Tail, &r.string()?);
            }
            Object::List(list)
        }
        TYPE_SET => {
            let mut set = Set::default();
            for _ in 0..r.count()? {
                new(set.insert(&r.string()?))?;
            }
            Object::Set(set)
        }
        TYPE_ZSET | TYPE_ZSET_2 => {
            let mut z = ZSet::default();
            for _ in 0..r.count()? {
                let member = r.string()?;
                let score = if kind == TYPE_ZSET_2 {
                    f64::from_le_bytes(r.take(8)?.try_into().unwrap())
                } else {
                    r.legacy_score()?
                };
                zadd(&mut z, &member, score)?;
            }
            Object::ZSet(z)
        }
        TYPE_HASH => {
            let mut h = Hash::default();
            for _ in 0..r.count()? {
                let field = r.string()?;
                new(h.set(&field, &r.string()?))?;
            }
            Object::Hash(h)
        }
        TYPE_SET_INTSET => Object::Set(intset(&r.string()?)?),
        TYPE_LIST_ZIPLIST => {
            let mut list = List::default();
            extend(&mut list, Packed::ziplist(&r.string()?)?)?;
            Object::List(list)
        }
        TYPE_LIST_QUICKLIST | TYPE_LIST_QUICKLIST_2 => {
            let mut list = List::default();
            for _ in 0..r.count()? {
                let container = if kind == TYPE_LIST_QUICKLIST_2 {
                    r.len()?
                } else {
                    QUICKLIST_NODE_PACKED
                };
                let node = r.string()?;
                match container {
                    QUICKLIST_NODE_PLAIN => list.push(End::Tail, &node),
                    QUICKLIST_NODE_PACKED => {
                        extend(&mut list, packed(kind == TYPE_LIST_QUICKLIST, &node)?)?
                    }
                    _ => return Err(BadFormat),
                }
            }
            Object::List(list)
        }
        TYPE_SET_LISTPACK => {
            let mut set = Set::default();
            Packed::listpack(&r.string()?)?.each(|e| new(set.insert(&e)))?;
            Object::Set(set)
        }
        TYPE_HASH_ZIPLIST | TYPE_HASH_LISTPACK => {
            let mut h = Hash::default();
            packed(kind == TYPE_HASH_ZIPLIST, &r.string()?)?
                .pairs(|field, value| new(h.set(&field, &value)))?;
            Object::Hash(h)
        }
        TYPE_ZSET_ZIPLIST | TYPE_ZSET_LISTPACK => {
            let mut z = ZSet::default();
            packed(kind == TYPE_ZSET_ZIPLIST, &r.string()?)?.pairs(|member, score| {
                zadd(&mut z, &member, parse_f64(&score).ok_or(BadFormat)?)
            })?;
            Object::ZSet(z)
        }
        _ => return Err(BadFormat),
    };
    // Redis refuses to create empty keys from a payload.
    if obj.len() == 0 && !matches!(obj, Object::Raw(_)) {
        return Err(BadFormat);
    }
    Ok(obj)
}

/// Appends a ziplist's or listpack's elements to `list`.
fn extend(list: &mut List, packed: Packed) -> Result<()> {
    packed.each(|e| {
        list.push(End::Tail, &e);
        Ok(())
    })
}

/// A repeated member or field makes the payload bad, as in Redis.
fn new(inserted: bool) -> Result<()> {
    inserted.then_some(()).ok_or(BadFormat)
}

fn zadd(z: &mut ZSet, member: &[u8], score: f64) -> Result<()> {
    if score.is_nan() {
        return Err(BadFormat);
    }
    new(z.set(member, score))
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(BadFormat);
        }
        self.pos += n;
        Ok(&self.buf[self.pos - n..self.pos])
    }

    fn byte(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    /// A length, or (true, n) for a special string encoding `n`.
    fn len_or_special(&mut self) -> Result<(bool, u64)> {
        let first = self.byte()?;
        Ok(match first >> 6 {
            0 => (false, (first & 0x3f) as u64),
            1 => (false, ((first as u64 & 0x3f) << 8) | self.byte()? as u64),
            3 => (true, (first & 0x3f) as u64),
            _ => match first {
                LEN_32BIT => (
                    false,
                    u32::from_be_bytes(self.take(4)?.try_into().unwrap()) as u64,
                ),
                LEN_64BIT => (false, u64::from_be_bytes(self.take(8)?.try_into().unwrap())),
                _ => return Err(BadFormat),
            },
        })
    }

    fn len(&mut self) -> Result<u64> {
        match self.len_or_special()? {
            (false, n) => Ok(n),
            (true, _) => Err(BadFormat),
        }
    }

    /// A number of elements: each takes at least a byte of what is left.
    fn count(&mut self) -> Result<usize> {
        let n = self.len()?;
        if n > self.remaining() as u64 {
            return Err(BadFormat);
        }
        Ok(n as usize)
    }

    fn string(&mut self) -> Result<Vec<u8>> {
        let (special, n) = self.len_or_special()?;
        if !special {
            return Ok(self
                .take(usize::try_from(n).map_err(|_| BadFormat)?)?
                .to_vec());
        }
        let int = match n as u8 {
            ENC_INT8 => self.byte()? as i8 as i64,
            ENC_INT16 => i16::from_le_bytes(self.take(2)?.try_into().unwrap()) as i64,
            ENC_INT32 => i32::from_le_bytes(self.take(4)?.try_into().unwrap()) as i64,
            ENC_LZF => {
                let compressed = self.count()?;
                let len = usize::try_from(self.len()?).map_err(|_| BadFormat)?;
                return lzf_decompress(self.take(compressed)?, len);
            }
            _ => return Err(BadFormat),
        };
        Ok(itoa::Buffer::new().format(int).as_bytes().to_vec())
    }

    /// RDB_TYPE_ZSET's scores: a length byte and the text, or 253/254/255
    /// for NaN, +inf, -inf.
    fn legacy_score(&mut self) -> Result<f64> {
        match self.byte()? {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            n => {
                let text = self.take(n as usize)?;
                parse_f64(text).ok_or(BadFormat)
            }
        }
    }
}

/// LZF (as Redis's lzf_d.c): literal runs and back references, which must
/// produce exactly `len` bytes.
fn lzf_decompress(input: &[u8], len: usize) -> Result<Vec<u8>> {
    // A 3-byte back reference yields at most 264 bytes: a longer claim lies.
    if len > input.len().saturating_mul(88) {
        return Err(BadFormat);
    }
    let mut out = Vec::with_capacity(len);
    let mut i = 0;
    while i < input.len() {
        let ctrl = input[i] as usize;
        i += 1;
        if ctrl < 32 {
            let run = ctrl + 1;
            let lit = input.get(i..i + run).ok_or(BadFormat)?;
            if out.len() + run > len {
                return Err(BadFormat);
            }
            out.extend_from_slice(lit);
            i += run;
        } else {
            let mut run = ctrl >> 5;
            if run == 7 {
                run += *input.get(i).ok_or(BadFormat)? as usize;
                i += 1;
            }
            run += 2;
            let low = *input.get(i).ok_or(BadFormat)? as usize;
            i += 1;
            let back = ((ctrl & 0x1f) << 8) + low + 1;
            if back > out.len() || out.len() + run > len {
                return Err(BadFormat);
            }
            // Byte by byte: the reference may overlap what it produces.
            let start = out.len() - back;
            for k in 0..run {
                out.push(out[start + k]);
            }
        }
    }
    if out.len() != len {
        return Err(BadFormat);
    }
    Ok(out)
}

fn intset(blob: &[u8]) -> Result<Set> {
    let header = blob.get(..8).ok_or(BadFormat)?;
    let width = u32::from_le_bytes(header[..4].try_into().unwrap()) as usize;
    let count = u32::from_le_bytes(header[4..].try_into().unwrap()) as usize;
    if !matches!(width, 2 | 4 | 8) || blob.len() - 8 != count.checked_mul(width).ok_or(BadFormat)? {
        return Err(BadFormat);
    }
    let mut set = Set::default();
    let mut buf = itoa::Buffer::new();
    for chunk in blob[8..].chunks_exact(width) {
        let n = match width {
            2 => i16::from_le_bytes(chunk.try_into().unwrap()) as i64,
            4 => i32::from_le_bytes(chunk.try_into().unwrap()) as i64,
            _ => i64::from_le_bytes(chunk.try_into().unwrap()),
        };
        new(set.insert(buf.format(n).as_bytes()))?;
    }
    Ok(set)
}

fn packed(ziplist: bool, blob: &[u8]) -> Result<Packed<'_>> {
    if ziplist {
        Packed::ziplist(blob)
    } else {
        Packed::listpack(blob)
    }
}

/// A ziplist or listpack: a header, entries, and a 0xff terminator.
struct Packed<'a> {
    entries: &'a [u8],
    ziplist: bool,
}

impl<'a> Packed<'a> {
    /// Header: total bytes (4 LE), tail offset (4 LE), count (2 LE).
    fn ziplist(blob: &'a [u8]) -> Result<Self> {
        Self::new(blob, 10, true)
    }

    /// Header: total bytes (4 LE), count (2 LE).
    fn listpack(blob: &'a [u8]) -> Result<Self> {
        Self::new(blob, 6, false)
    }

    fn new(blob: &'a [u8], header: usize, ziplist: bool) -> Result<Self> {
        if blob.len() < header + 1
            || u32::from_le_bytes(blob[..4].try_into().unwrap()) as usize != blob.len()
            || blob[blob.len() - 1] != 0xff
        {
            return Err(BadFormat);
        }
        Ok(Packed {
            entries: &blob[header..blob.len() - 1],
            ziplist,
        })
    }

    /// Calls `f` with each element, integers formatted as text.
    fn each(&self, mut f: impl FnMut(Vec<u8>) -> Result<()>) -> Result<()> {
        let mut r = Reader {
            buf: self.entries,
            pos: 0,
        };
        while r.remaining() > 0 {
            let element = if self.ziplist {
                ziplist_entry(&mut r)?
            } else {
                listpack_entry(&mut r)?
            };
            f(match element {
                Element::Str(s) => s.to_vec(),
                Element::Int(n) => itoa::Buffer::new().format(n).as_bytes().to_vec(),
            })?;
        }
        Ok(())
    }

    /// Calls `f` with each pair of elements (hash fields and values, zset
    /// members and scores); an odd count is bad.
    fn pairs(&self, mut f: impl FnMut(Vec<u8>, Vec<u8>) -> Result<()>) -> Result<()> {
        let mut first = None;
        self.each(|e| match first.take() {
            None => {
                first = Some(e);
                Ok(())
            }
            Some(a) => f(a, e),
        })?;
        first.map_or(Ok(()), |_| Err(BadFormat))
    }
}

enum Element<'a> {
    Str(&'a [u8]),
    Int(i64),
}

/// Sign-extends the low `bits` bits of `v`.
fn signed(v: u64, bits: u32) -> i64 {
    ((v << (64 - bits)) as i64) >> (64 - bits)
}

fn le(bytes: &[u8]) -> u64 {
    bytes.iter().rev().fold(0, |acc, &b| (acc << 8) | b as u64)
}

fn listpack_entry<'a>(r: &mut Reader<'a>) -> Result<Element<'a>> {
    let start = r.pos;
    let b = r.byte()?;
    let element = if b & 0x80 == 0 {
        Element::Int(b as i64)
    } else if b & 0xc0 == 0x80 {
        Element::Str(r.take((b & 0x3f) as usize)?)
    } else if b & 0xe0 == 0xc0 {
        Element::Int(signed(((b as u64 & 0x1f) << 8) | r.byte()? as u64, 13))
    } else if b & 0xf0 == 0xe0 {
        let len = ((b as usize & 0x0f) << 8) | r.byte()? as usize;
        Element::Str(r.take(len)?)
    } else {
        match b {
            0xf0 => {
                let len = le(r.take(4)?) as usize;
                Element::Str(r.take(len)?)
            }
            0xf1 => Element::Int(signed(le(r.take(2)?), 16)),
            0xf2 => Element::Int(signed(le(r.take(3)?), 24)),
            0xf3 => Element::Int(signed(le(r.take(4)?), 32)),
            0xf4 => Element::Int(le(r.take(8)?) as i64),
            _ => return Err(BadFormat),
        }
    };
    // The back length: the entry's size, 7 bits a byte.
    let size = r.pos - start;
    let backlen = match size {
        0..=127 => 1,
        128..=16383 => 2,
        16384..=2097151 => 3,
        2097152..=268435455 => 4,
        _ => 5,
    };
    r.take(backlen)?;
    Ok(element)
}

fn ziplist_entry<'a>(r: &mut Reader<'a>) -> Result<Element<'a>> {
    // The previous entry's length: one byte, or 254 and four more.
    match r.byte()? {
        254 => {
            r.take(4)?;
        }
        255 => return Err(BadFormat),
        _ => {}
    }
    let b = r.byte()?;
    Ok(match b >> 6 {
        0 => Element::Str(r.take((b & 0x3f) as usize)?),
        1 => {
            let len = ((b as usize & 0x3f) << 8) | r.byte()? as usize;
            Element::Str(r.take(len)?)
        }
        2 => {
            let len = u32::from_be_bytes(r.take(4)?.try_into().unwrap()) as usize;
            Element::Str(r.take(len)?)
        }
        _ => match b {
            0xc0 => Element::Int(signed(le(r.take(2)?), 16)),
            0xd0 => Element::Int(signed(le(r.take(4)?), 32)),
            0xe0 => Element::Int(le(r.take(8)?) as i64),
            0xf0 => Element::Int(signed(le(r.take(3)?), 24)),
            0xfe => Element::Int(r.byte()? as i8 as i64),
            0xf1..=0xfd => Element::Int((b & 0x0f) as i64 - 1),
            _ => return Err(BadFormat),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(body: &[u8]) -> Vec<u8> {
        let mut p = body.to_vec();
        p.extend_from_slice(&RDB_VERSION.to_le_bytes());
        let crc = crc64(0, &p);
        p.extend_from_slice(&crc.to_le_bytes());
        p
    }

    fn load_str(payload: &[u8]) -> Vec<u8> {
        match load(payload).unwrap() {
            Object::Raw(s) => s,
            _ => panic!("not a string"),
        }
    }

    #[test]
    fn crc64_check_value() {
        assert_eq!(crc64(0, b"123456789"), 0xe9c6_d914_c4b8_d9ca);
    }

    #[test]
    fn redis_string_payloads() {
        // Redis 7.0's DUMP of "bar", checksum included.
        let bar = b"\x00\x03bar\x0a\x00\xe6\xbe\x49\x60\xee\x66\xfd\x17";
        assert!(verify(bar));
        assert_eq!(load_str(bar), b"bar");
        assert_eq!(dump(Value::Str(b"bar")), bar);
        assert_eq!(dump(Value::Str(b"1")), frame(b"\x00\xc0\x01"));
        for s in [
            &b"-129"[..],
            b"40000",
            b"-2147483648",
            b"2147483648",
            b"007",
            b"",
            b"x",
        ] {
            assert_eq!(load_str(&dump(Value::Str(s))), s);
        }
    }

    #[test]
    fn verify_checks_version_and_crc() {
        let good = dump(Value::Str(b"v"));
        assert!(verify(&good));
        let mut bad_crc = good.clone();
        *bad_crc.last_mut().unwrap() ^= 1;
        assert!(!verify(&bad_crc));
        assert!(!verify(&good[..9]));
        let mut body = b"\x00\x01v".to_vec();
        body.extend_from_slice(&12u16.to_le_bytes());
        let crc = crc64(0, &body);
        body.extend_from_slice(&crc.to_le_bytes());
        assert!(!verify(&body));
    }

    /// What an object holds, in an order that does not depend on its tables.
    fn contents(obj: &Object) -> Vec<String> {
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let mut items: Vec<String> = match obj {
            Object::Raw(s) => vec![text(s)],
            Object::List(l) => return l.iter().map(text).collect(),
            Object::ZSet(z) => return z.iter().map(|(m, s)| format!("{}={s}", text(m))).collect(),
            Object::Hash(h) => h
                .iter()
                .map(|(f, v)| format!("{}={}", text(f), text(v)))
                .collect(),
            Object::Set(s) => s.iter().map(|m| text(&m.to_vec())).collect(),
        };
        items.sort();
        items
    }

    #[test]
    fn objects_round_trip() {
        let mut list = List::default();
        let mut hash = Hash::default();
        let mut set = Set::default();
        let mut strs = Set::default();
        let mut z = ZSet::default();
        for i in 0..300 {
            let v = format!("value-{i}").repeat(i % 7);
            list.push(End::Tail, v.as_bytes());
            hash.set(format!("f{i}").as_bytes(), v.as_bytes());
            set.insert(i.to_string().as_bytes());
            strs.insert(format!("m{i}").as_bytes());
            z.set(format!("m{i}").as_bytes(), i as f64 / 3.0 - 20.0);
        }
        z.set(b"inf", f64::INFINITY);
        for obj in [
            Object::List(list),
            Object::Hash(hash),
            Object::Set(set),
            Object::Set(strs),
            Object::ZSet(z),
        ] {
            let payload = dump(Value::Obj(&obj));
            assert!(verify(&payload));
            let back = load(&payload).unwrap();
            assert_eq!(contents(&back), contents(&obj), "{}", obj.type_name());
        }
    }

    #[test]
    fn truncated_payloads_are_bad() {
        let mut hash = Hash::default();
        for i in 0..50 {
            hash.set(format!("field{i}").as_bytes(), b"v");
        }
        let payload = dump(Value::Obj(&Object::Hash(hash)));
        let body = &payload[..payload.len() - 10];
        for cut in 0..body.len() {
            assert_eq!(
                load(&frame(&body[..cut])).err(),
                Some(BadFormat),
                "cut {cut}"
            );
        }
        // A count far beyond the bytes left, and a huge string length.
        assert!(load(&frame(b"\x01\x81\xff\xff\xff\xff\xff\xff\xff\xff")).is_err());
        assert!(load(&frame(b"\x00\x80\xff\xff\xff\xff")).is_err());
        assert!(load(&frame(b"\x00\xc3\x02\x80\xff\xff\xff\xff\x00a")).is_err());
        // Empty collections, duplicates and unknown types.
        assert!(load(&frame(b"\x02\x00")).is_err());
        assert!(load(&frame(b"\x02\x02\x01a\x01a")).is_err());
        assert!(load(&frame(b"\x0f\x00")).is_err());
    }

    #[test]
    fn lzf_strings() {
        // 30 times "a": a literal, then a back reference of 29 at distance 1.
        let body = b"\x00\xc3\x05\x1e\x00a\xe0\x14\x00";
        assert_eq!(load_str(&frame(body)), vec![b'a'; 30]);
        // Claiming one byte more than it produces is bad.
        assert!(load(&frame(b"\x00\xc3\x05\x1f\x00a\xe0\x14\x00")).is_err());
        // A reference before the start is bad.
        assert!(load(&frame(b"\x00\xc3\x03\x05\x20\x05\x00")).is_err());
    }

    fn listpack(entries: &[&[u8]]) -> Vec<u8> {
        let mut lp = vec![0; 6];
        for e in entries {
            lp.extend_from_slice(e);
        }
        lp.push(0xff);
        let total = lp.len() as u32;
        lp[..4].copy_from_slice(&total.to_le_bytes());
        lp[4..6].copy_from_slice(&(entries.len() as u16).to_le_bytes());
        lp
    }

    fn with_string(kind: u8, blob: &[u8]) -> Vec<u8> {
        let mut body = vec![kind];
        put_len(&mut body, blob.len() as u64);
        body.extend_from_slice(blob);
        frame(&body)
    }

    #[test]
    fn listpack_encodings() {
        // "a", 7, -1 (13-bit), 1000 (int16), "b"; each with its back length.
        let lp = listpack(&[
            b"\x81a\x02",
            b"\x07\x01",
            b"\xdf\xff\x02",
            b"\xf1\xe8\x03\x03",
            b"\x81b\x02",
            b"\xf3\x00\x00\x00\x80\x05",
        ]);
        let mut body = vec![TYPE_LIST_QUICKLIST_2, 1, QUICKLIST_NODE_PACKED as u8];
        put_len(&mut body, lp.len() as u64);
        body.extend_from_slice(&lp);
        let Object::List(list) = load(&frame(&body)).unwrap() else {
            panic!("not a list")
        };
        let items: Vec<&[u8]> = list.iter().collect();
        assert_eq!(
            items,
            [&b"a"[..], b"7", b"-1", b"1000", b"b", b"-2147483648"]
        );
        let hash = listpack(&[b"\x81f\x02", b"\x81v\x02"]);
        let Object::Hash(h) = load(&with_string(TYPE_HASH_LISTPACK, &hash)).unwrap() else {
            panic!("not a hash")
        };
        assert_eq!(h.get(b"f"), Some(&b"v"[..]));
        let odd = listpack(&[b"\x81f\x02"]);
        assert!(load(&with_string(TYPE_HASH_LISTPACK, &odd)).is_err());
        let zset = listpack(&[b"\x81m\x02", b"\x831.5\x04"]);
        let Object::ZSet(z) = load(&with_string(TYPE_ZSET_LISTPACK, &zset)).unwrap() else {
            panic!("not a zset")
        };
        assert_eq!(z.score(b"m"), Some(1.5));
    }

    #[test]
    fn ziplist_and_intset_encodings() {
        // "ab", 5 (immediate), 300 (int16), -2 (int8).
        let mut zl = vec![0; 10];
        for e in [
            &b"\x00\x02ab"[..],
            b"\x04\xf6",
            b"\x02\xc0\x2c\x01",
            b"\x04\xfe\xfe",
        ] {
            zl.extend_from_slice(e);
        }
        zl.push(0xff);
        let total = zl.len() as u32;
        zl[..4].copy_from_slice(&total.to_le_bytes());
        let Object::List(list) = load(&with_string(TYPE_LIST_ZIPLIST, &zl)).unwrap() else {
            panic!("not a list")
        };
        let items: Vec<&[u8]> = list.iter().collect();
        assert_eq!(items, [&b"ab"[..], b"5", b"300", b"-2"]);

        let mut is = Vec::new();
        is.extend_from_slice(&2u32.to_le_bytes());
        is.extend_from_slice(&3u32.to_le_bytes());
        for n in [-5i16, 1, 300] {
            is.extend_from_slice(&n.to_le_bytes());
        }
        let Object::Set(set) = load(&with_string(TYPE_SET_INTSET, &is)).unwrap() else {
            panic!("not a set")
        };
        assert!(set.contains(b"-5") && set.contains(b"300") && set.len() == 3);
        assert!(load(&with_string(TYPE_SET_INTSET, &is[..is.len() - 1])).is_err());
    }
}
