//! `cmsgpack`, Redis's lua_cmsgpack 0.4.0: MessagePack to and from Lua
//! values. Tables with exactly the keys 1..n encode as arrays, others as
//! maps; integral numbers as the smallest integer type, others as float
//! when a float holds them exactly, else double.

use mlua::{Lua, MultiValue, Table, Value};

use super::args::{register, Args, MAX_C_STACK};
use super::engine::raise_unplaced;

/// Deeper tables encode as nil, so that cycles end.
const MAX_NESTING: usize = 16;

pub fn open(lua: &Lua) -> mlua::Result<()> {
    let lib = lua.create_table()?;
    register(lua, &lib, "pack", pack)?;
    register(lua, &lib, "unpack", |a| unpack(a, 0, 0))?;
    register(lua, &lib, "unpack_one", |a| {
        let offset = a.opt_integer(2, 0)? as i32;
        unpack(a, 1, offset)
    })?;
    register(lua, &lib, "unpack_limit", |a| {
        let limit = a.integer(2)? as i32;
        let offset = a.opt_integer(3, 0)? as i32;
        unpack(a, limit, offset)
    })?;
    lib.raw_set("_NAME", "cmsgpack")?;
    lib.raw_set("_VERSION", "lua-cmsgpack 0.4.0")?;
    lib.raw_set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    lib.raw_set("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    lua.globals().raw_set("cmsgpack", lib)
}

/// Every argument encoded, concatenated.
fn pack(a: &Args) -> mlua::Result<mlua::LuaString> {
    if a.len() == 0 {
        return a.error(0, "MessagePack pack needs input.");
    }
    let mut out = Vec::new();
    for i in 1..=a.len() {
        encode(&mut out, a.get(i).expect("within len"), 0)?;
    }
    a.lua.create_string(&out)
}

fn encode(out: &mut Vec<u8>, v: &Value, level: usize) -> mlua::Result<()> {
    match v {
        Value::String(s) => encode_bytes(out, &s.as_bytes()),
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(i) => encode_int(out, *i),
        Value::Number(n) => encode_number(out, *n),
        Value::Table(t) if level < MAX_NESTING => encode_table(out, t, level)?,
        _ => out.push(0xc0),
    }
    Ok(())
}

fn encode_number(out: &mut Vec<u8>, n: f64) {
    // Integral and within int64 (NaN fails the equality).
    let int64 = i64::MIN as f64..-(i64::MIN as f64);
    if int64.contains(&n) && n.trunc() == n {
        return encode_int(out, n as i64);
    }
    let f = n as f32;
    if f as f64 == n {
        out.push(0xca);
        out.extend_from_slice(&f.to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_int(out: &mut Vec<u8>, n: i64) {
    match n {
        0..=127 => out.push(n as u8),
        128..=0xff => out.extend_from_slice(&[0xcc, n as u8]),
        0x100..=0xffff => {
            out.push(0xcd);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(0xce);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
        0x1_0000_0000.. => {
            out.push(0xcf);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
        -32..=-1 => out.push(n as i8 as u8),
        -128..=-33 => out.extend_from_slice(&[0xd0, n as i8 as u8]),
        -32768..=-129 => {
            out.push(0xd1);
            out.extend_from_slice(&(n as i16).to_be_bytes());
        }
        -2_147_483_648..=-32769 => {
            out.push(0xd2);
            out.extend_from_slice(&(n as i32).to_be_bytes());
        }
        _ => {
            out.push(0xd3);
            out.extend_from_slice(&n.to_be_bytes());
        }
    }
}

fn encode_bytes(out: &mut Vec<u8>, s: &[u8]) {
    let len = s.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[0xd9, len as u8]);
    } else if len <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(s);
}

/// An array or map header: the fix form, then 16 and 32 bits.
fn encode_header(out: &mut Vec<u8>, len: usize, fix: u8, wide: u8) {
    if len <= 15 {
        out.push(fix | len as u8);
    } else if len <= 0xffff {
        out.push(wide);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(wide + 1);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

fn encode_table(out: &mut Vec<u8>, t: &Table, level: usize) -> mlua::Result<()> {
    if is_array(t)? {
        let len = t.raw_len();
        encode_header(out, len, 0x90, 0xdc);
        for i in 1..=len {
            encode(out, &t.get::<Value>(i)?, level + 1)?;
        }
        return Ok(());
    }
    let pairs = t
        .pairs::<Value, Value>()
        .collect::<mlua::Result<Vec<_>>>()?;
    encode_header(out, pairs.len(), 0x80, 0xde);
    for (k, v) in &pairs {
        encode(out, k, level + 1)?;
        encode(out, v, level + 1)?;
    }
    Ok(())
}

/// The keys are exactly 1..n: positive C ints, as many as the largest.
fn is_array(t: &Table) -> mlua::Result<bool> {
    let (mut count, mut max) = (0, 0);
    for pair in t.pairs::<Value, Value>() {
        match pair?.0 {
            Value::Integer(i) if i > 0 && i <= i32::MAX as i64 => {
                max = max.max(i);
                count += 1;
            }
            _ => return Ok(false),
        }
    }
    Ok(max == count)
}

/// Why decoding stopped.
enum Stop {
    /// "Missing bytes in input."
    Eof,
    /// "Bad data format in input."
    BadFormat,
    /// The Lua stack the C library decodes on would overflow: why.
    Stack(&'static str),
    Lua(mlua::Error),
}

/// lua_settable's error, raised from inside the library.
fn unplaced(msg: &str) -> Stop {
    Stop::Lua(raise_unplaced::<()>(msg.into()).expect_err("raised"))
}

impl From<mlua::Error> for Stop {
    fn from(e: mlua::Error) -> Stop {
        Stop::Lua(e)
    }
}

/// What one tag starts.
enum Item {
    Value(Value),
    Array(usize),
    Map(usize),
}

/// A table being decoded, with the entries still to come.
struct Open {
    table: Table,
    left: usize,
    /// The next array index, or for a map its key read so far.
    next: Slot,
}

enum Slot {
    Index(i64),
    Key(Option<Value>),
}

impl Open {
    /// The Lua stack slots the C library holds for it while decoding its
    /// next entry: the table, and the index or key pushed.
    fn slots(&self) -> usize {
        match self.next {
            Slot::Index(_) | Slot::Key(Some(_)) => 2,
            Slot::Key(None) => 1,
        }
    }
}

struct Cursor<'d> {
    data: &'d [u8],
    at: usize,
}

impl<'d> Cursor<'d> {
    fn left(&self) -> usize {
        self.data.len() - self.at
    }

    /// The next `n` bytes, consumed.
    fn take(&mut self, n: usize) -> Result<&'d [u8], Stop> {
        if self.left() < n {
            return Err(Stop::Eof);
        }
        let bytes = &self.data[self.at..self.at + n];
        self.at += n;
        Ok(bytes)
    }

    fn take_array<const N: usize>(&mut self) -> Result<[u8; N], Stop> {
        Ok(self.take(N)?.try_into().expect("N bytes"))
    }

    /// A big-endian length of `n` bytes.
    fn length(&mut self, n: usize) -> Result<usize, Stop> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0usize, |l, &b| (l << 8) | b as usize))
    }

    /// One value with the tables in it, decoded without recursion (inputs
    /// nest thousands deep). `used` is the Lua stack the C library has in
    /// use before it: it fails where its luaL_checkstack calls would.
    fn decode(&mut self, lua: &Lua, mut used: usize) -> Result<Value, Stop> {
        let mut open: Vec<Open> = Vec::new();
        loop {
            if used + 1 > MAX_C_STACK {
                return Err(Stop::Stack(
                    "too many return values at once; use unpack_one or unpack_limit instead.",
                ));
            }
            let (len, next) = match self.item(lua)? {
                Item::Value(v) => (0, Err(v)),
                Item::Array(len) => {
                    if used + 2 > MAX_C_STACK {
                        return Err(Stop::Stack("in function mp_decode_to_lua_array"));
                    }
                    (len, Ok(Slot::Index(1)))
                }
                Item::Map(len) => (len, Ok(Slot::Key(None))),
            };
            let mut value = match next {
                Err(v) => v,
                Ok(next) if len > 0 => {
                    let table = lua.create_table()?;
                    let o = Open {
                        table,
                        left: len,
                        next,
                    };
                    used += o.slots();
                    open.push(o);
                    continue;
                }
                Ok(_) => Value::Table(lua.create_table()?),
            };
            // Store the value in its table, and each table that completes
            // in the one holding it.
            loop {
                let Some(top) = open.last_mut() else {
                    return Ok(value);
                };
                used -= top.slots();
                match &mut top.next {
                    Slot::Index(i) => {
                        top.table.raw_set(*i, value)?;
                        *i += 1;
                        top.left -= 1;
                    }
                    Slot::Key(key) => match key.take() {
                        None => *key = Some(value),
                        Some(Value::Nil) => return Err(unplaced("table index is nil")),
                        Some(Value::Number(n)) if n.is_nan() => {
                            return Err(unplaced("table index is NaN"))
                        }
                        Some(k) => {
                            top.table.raw_set(k, value)?;
                            top.left -= 1;
                        }
                    },
                }
                if top.left > 0 {
                    used += top.slots();
                    break;
                }
                value = Value::Table(open.pop().expect("open").table);
            }
        }
    }

    fn item(&mut self, lua: &Lua) -> Result<Item, Stop> {
        let tag = self.take(1)?[0];
        let number = |n: f64| Ok(Item::Value(Value::Number(n)));
        match tag {
            0x00..=0x7f => number(tag as f64),
            0xe0..=0xff => number(tag as i8 as f64),
            0xcc => number(self.take_array::<1>()?[0] as f64),
            0xcd => number(u16::from_be_bytes(self.take_array()?) as f64),
            0xce => number(u32::from_be_bytes(self.take_array()?) as f64),
            0xcf => number(u64::from_be_bytes(self.take_array()?) as f64),
            0xd0 => number(self.take_array::<1>()?[0] as i8 as f64),
            0xd1 => number(i16::from_be_bytes(self.take_array()?) as f64),
            0xd2 => number(i32::from_be_bytes(self.take_array()?) as f64),
            0xd3 => number(i64::from_be_bytes(self.take_array()?) as f64),
            0xc0 => Ok(Item::Value(Value::Nil)),
            0xc2 => Ok(Item::Value(Value::Boolean(false))),
            0xc3 => Ok(Item::Value(Value::Boolean(true))),
            0xca => number(f32::from_be_bytes(self.take_array()?) as f64),
            0xcb => number(f64::from_be_bytes(self.take_array()?)),
            0xa0..=0xbf => self.string(lua, (tag & 0x1f) as usize),
            0xd9 => {
                let len = self.length(1)?;
                self.string(lua, len)
            }
            0xda => {
                let len = self.length(2)?;
                self.string(lua, len)
            }
            0xdb => {
                let len = self.length(4)?;
                self.string(lua, len)
            }
            0x90..=0x9f => Ok(Item::Array((tag & 0xf) as usize)),
            0xdc => Ok(Item::Array(self.length(2)?)),
            0xdd => Ok(Item::Array(self.length(4)?)),
            0x80..=0x8f => Ok(Item::Map((tag & 0xf) as usize)),
            0xde => Ok(Item::Map(self.length(2)?)),
            0xdf => Ok(Item::Map(self.length(4)?)),
            _ => Err(Stop::BadFormat),
        }
    }

    fn string(&mut self, lua: &Lua, len: usize) -> Result<Item, Stop> {
        let bytes = self.take(len)?;
        Ok(Item::Value(Value::String(lua.create_string(bytes)?)))
    }
}

/// mp_unpack_full: up to `limit` values from byte `offset` (all of them
/// when both are 0); unless all, the offset after them (-1 at the end)
/// comes first.
fn unpack(a: &Args, limit: i32, offset: i32) -> mlua::Result<MultiValue> {
    let s = a.string(1)?;
    let s = s.as_bytes();
    let all = limit == 0 && offset == 0;
    if offset < 0 || limit < 0 {
        return a.fail(&format!(
            "Invalid request to unpack with offset of {offset} and limit of {}.",
            s.len()
        ));
    }
    if offset as usize > s.len() {
        return a.fail(&format!(
            "Start offset {offset} greater than input length {}.",
            s.len()
        ));
    }
    let limit = if all { i32::MAX } else { limit };
    let mut cursor = Cursor {
        data: &s,
        at: offset as usize,
    };
    let mut values = Vec::new();
    while cursor.left() > 0 && values.len() < limit as usize {
        // The string argument and the values so far are on the stack.
        match cursor.decode(a.lua, 1 + values.len()) {
            Ok(v) => values.push(v),
            Err(Stop::Eof) => return a.fail("Missing bytes in input."),
            Err(Stop::BadFormat) => return a.fail("Bad data format in input."),
            Err(Stop::Stack(why)) => return a.fail(&format!("stack overflow ({why})")),
            Err(Stop::Lua(e)) => return Err(e),
        }
    }
    if !all {
        let next = if cursor.left() == 0 {
            -1
        } else {
            cursor.at as i64
        };
        values.insert(0, Value::Integer(next));
    }
    Ok(MultiValue::from_vec(values))
}
