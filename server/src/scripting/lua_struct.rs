//! Roberto Ierusalimschy's `struct` library as Redis ships it: pack,
//! unpack and size of binary records described by a format string.
//! Sizes are those of x86-64 C (short 2, int 4, long and size_t 8).

use mlua::{Lua, MultiValue, Value};

use super::args::{register, Args, MAX_C_STACK};

/// Largest `i`/`I` size.
const MAX_INT_SIZE: usize = 32;
/// Default of `!`.
const MAX_ALIGN: usize = 8;

pub fn open(lua: &Lua) -> mlua::Result<()> {
    let lib = lua.create_table()?;
    register(lua, &lib, "pack", pack)?;
    register(lua, &lib, "unpack", unpack)?;
    register(lua, &lib, "size", size)?;
    lua.globals().raw_set("struct", lib)
}

/// Endianness and maximum alignment, as `<`, `>` and `!` set them.
struct Header {
    little: bool,
    align: usize,
}

impl Header {
    fn new() -> Header {
        Header {
            little: cfg!(target_endian = "little"),
            align: 1,
        }
    }

    /// The options that change the header; any other is invalid.
    fn control(&mut self, a: &Args, opt: u8, fmt: &mut Format) -> mlua::Result<()> {
        match opt {
            b' ' => {}
            b'>' => self.little = false,
            b'<' => self.little = true,
            b'!' => {
                let align = fmt.number(a, MAX_ALIGN)?;
                if !align.is_power_of_two() {
                    return a.fail(&format!("alignment {align} is not a power of 2"));
                }
                self.align = align;
            }
            _ => return a.error(1, &format!("invalid format option '{}'", opt as char)),
        }
        Ok(())
    }

    /// Padding bytes before an item of `size` at offset `len`.
    fn to_align(&self, len: usize, opt: u8, size: usize) -> usize {
        if size == 0 || opt == b'c' {
            return 0;
        }
        let size = size.min(self.align);
        (size.wrapping_sub(len & (size - 1))) & (size - 1)
    }
}

/// The format string being read.
struct Format<'s> {
    bytes: &'s [u8],
    at: usize,
}

impl Format<'_> {
    fn new(bytes: &[u8]) -> Format<'_> {
        Format { bytes, at: 0 }
    }

    fn next(&mut self) -> Option<u8> {
        let c = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(c)
    }

    /// The decimal number following an option, or `default`.
    fn number(&mut self, a: &Args, default: usize) -> mlua::Result<usize> {
        if !self.bytes.get(self.at).is_some_and(u8::is_ascii_digit) {
            return Ok(default);
        }
        let mut n: i32 = 0;
        while let Some(&d) = self.bytes.get(self.at).filter(|d| d.is_ascii_digit()) {
            let d = (d - b'0') as i32;
            if n > i32::MAX / 10 || n * 10 > i32::MAX - d {
                return a.fail("integral size overflow");
            }
            n = n * 10 + d;
            self.at += 1;
        }
        Ok(n as usize)
    }

    /// The size of option `opt`, reading its number; 0 for the options
    /// that need no alignment.
    fn size(&mut self, a: &Args, opt: u8) -> mlua::Result<usize> {
        Ok(match opt {
            b'B' | b'b' | b'x' => 1,
            b'H' | b'h' => 2,
            b'L' | b'l' | b'T' | b'd' => 8,
            b'f' => 4,
            b'c' => self.number(a, 1)?,
            b'i' | b'I' => {
                let size = self.number(a, 4)?;
                if size > MAX_INT_SIZE {
                    return a.fail(&format!(
                        "integral size {size} is larger than limit of {MAX_INT_SIZE}"
                    ));
                }
                size
            }
            _ => 0,
        })
    }
}

fn is_integer_option(opt: u8) -> bool {
    matches!(
        opt,
        b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I'
    )
}

/// Native-order bytes put in the header's order.
fn order(bytes: &mut [u8], h: &Header) {
    if h.little != cfg!(target_endian = "little") {
        bytes.reverse();
    }
}

fn pack(a: &Args) -> mlua::Result<mlua::LuaString> {
    let fmt = a.string(1)?;
    // b_pack pushes a nil to mark the end of its arguments.
    let a = &a.then_nil();
    let fmt = fmt.as_bytes();
    let mut fmt = Format::new(&fmt);
    let mut h = Header::new();
    let mut out = Vec::new();
    let mut arg = 2;
    while let Some(opt) = fmt.next() {
        let mut size = fmt.size(a, opt)?;
        let pad = h.to_align(out.len(), opt, size);
        out.resize(out.len() + pad, 0);
        match opt {
            _ if is_integer_option(opt) => {
                let n = a.number(arg)?;
                arg += 1;
                let mut value = if n < 0.0 { n as i64 as u64 } else { n as u64 };
                let mut buf = [0u8; MAX_INT_SIZE];
                for b in buf[..size].iter_mut() {
                    *b = value as u8;
                    value >>= 8;
                }
                if !h.little {
                    buf[..size].reverse();
                }
                out.extend_from_slice(&buf[..size]);
            }
            b'x' => out.push(0),
            b'f' => {
                let mut b = (a.number(arg)? as f32).to_ne_bytes();
                arg += 1;
                order(&mut b, &h);
                out.extend_from_slice(&b);
            }
            b'd' => {
                let mut b = a.number(arg)?.to_ne_bytes();
                arg += 1;
                order(&mut b, &h);
                out.extend_from_slice(&b);
            }
            b'c' | b's' => {
                let s = a.string(arg)?;
                let s = s.as_bytes();
                arg += 1;
                if size == 0 {
                    size = s.len();
                }
                if s.len() < size {
                    // The library names the argument after this one.
                    return a.error(arg, "string too short");
                }
                out.extend_from_slice(&s[..size]);
                if opt == b's' {
                    out.push(0);
                }
            }
            _ => h.control(a, opt, &mut fmt)?,
        }
    }
    a.lua.create_string(&out)
}

/// An integer of `bytes` in the header's order; sign-extended if signed.
fn get_integer(bytes: &[u8], h: &Header, signed: bool) -> f64 {
    let mut l: u64 = 0;
    let mut push = |b: &u8| l = (l << 8) | *b as u64;
    if h.little {
        bytes.iter().rev().for_each(&mut push);
    } else {
        bytes.iter().for_each(&mut push);
    }
    if !signed {
        return l as f64;
    }
    // As the C shift does on x86-64 for sizes over 8 (and 0).
    let mask = u64::MAX.wrapping_shl((bytes.len() * 8).wrapping_sub(1) as u32);
    if l & mask != 0 {
        l |= mask;
    }
    l as i64 as f64
}

fn unpack(a: &Args) -> mlua::Result<MultiValue> {
    let fmt = a.string(1)?;
    let fmt = fmt.as_bytes();
    let data = a.string(2)?;
    let data = data.as_bytes();
    let ld = data.len();
    let mut pos = (a.opt_integer(3, 1)? as usize).wrapping_sub(1);
    if pos > ld {
        return a.error(3, "offset must be 1 or greater");
    }
    let mut fmt = Format::new(&fmt);
    let mut h = Header::new();
    let mut out = Vec::new();
    let fits = |pos: usize, size: usize| size <= ld && pos <= ld - size;
    while let Some(opt) = fmt.next() {
        let mut size = fmt.size(a, opt)?;
        pos = pos.wrapping_add(h.to_align(pos, opt, size));
        if !fits(pos, size) {
            return a.error(2, "data string too short");
        }
        // Room for a result and the final position, besides the arguments.
        if a.len() + out.len() + 2 > MAX_C_STACK {
            return a.fail("stack overflow (too many results)");
        }
        match opt {
            _ if is_integer_option(opt) => {
                let signed = opt.is_ascii_lowercase();
                out.push(Value::Number(get_integer(
                    &data[pos..pos + size],
                    &h,
                    signed,
                )));
            }
            b'x' => {}
            b'f' => {
                let mut b: [u8; 4] = data[pos..pos + 4].try_into().expect("4 bytes");
                order(&mut b, &h);
                out.push(Value::Number(f32::from_ne_bytes(b) as f64));
            }
            b'd' => {
                let mut b: [u8; 8] = data[pos..pos + 8].try_into().expect("8 bytes");
                order(&mut b, &h);
                out.push(Value::Number(f64::from_ne_bytes(b)));
            }
            b'c' => {
                if size == 0 {
                    // `c0` takes its size from the value before it.
                    let previous = match out.pop() {
                        Some(v) => a.lua.coerce_number(v)?,
                        None => None,
                    };
                    let Some(n) = previous else {
                        return a.fail("format 'c0' needs a previous size");
                    };
                    size = n as i64 as usize;
                    if !fits(pos, size) {
                        return a.error(2, "data string too short");
                    }
                }
                out.push(Value::String(a.lua.create_string(&data[pos..pos + size])?));
            }
            b's' => {
                let Some(len) = data[pos..].iter().position(|&b| b == 0) else {
                    return a.fail("unfinished string in data");
                };
                size = len + 1;
                out.push(Value::String(a.lua.create_string(&data[pos..pos + len])?));
            }
            _ => h.control(a, opt, &mut fmt)?,
        }
        pos += size;
    }
    out.push(Value::Integer(pos as i64 + 1));
    Ok(MultiValue::from_vec(out))
}

fn size(a: &Args) -> mlua::Result<i64> {
    let fmt = a.string(1)?;
    let fmt = fmt.as_bytes();
    let mut fmt = Format::new(&fmt);
    let mut h = Header::new();
    let mut pos = 0usize;
    while let Some(opt) = fmt.next() {
        let size = fmt.size(a, opt)?;
        pos += h.to_align(pos, opt, size);
        if opt == b's' {
            return a.error(1, "option 's' has no fixed size");
        }
        if opt == b'c' && size == 0 {
            return a.error(1, "option 'c0' has no fixed size");
        }
        if !opt.is_ascii_alphanumeric() {
            h.control(a, opt, &mut fmt)?;
        }
        pos += size;
    }
    Ok(pos as i64)
}
