//! LuaBitOp (`bit`): 32-bit operations on numbers, which are first
//! normalised as `bit.tobit` does and returned as signed 32-bit values.

use mlua::Lua;

use super::args::{register, Args};

pub fn open(lua: &Lua) -> mlua::Result<()> {
    let bit = lua.create_table()?;
    register(lua, &bit, "tobit", |a| ret(arg(a, 1)?))?;
    register(lua, &bit, "bnot", |a| ret(!arg(a, 1)?))?;
    register(lua, &bit, "band", |a| fold(a, |x, y| x & y))?;
    register(lua, &bit, "bor", |a| fold(a, |x, y| x | y))?;
    register(lua, &bit, "bxor", |a| fold(a, |x, y| x ^ y))?;
    register(lua, &bit, "lshift", |a| shift(a, |b, n| b << n))?;
    register(lua, &bit, "rshift", |a| shift(a, |b, n| b >> n))?;
    register(lua, &bit, "arshift", |a| {
        shift(a, |b, n| ((b as i32) >> n) as u32)
    })?;
    register(lua, &bit, "rol", |a| shift(a, u32::rotate_left))?;
    register(lua, &bit, "ror", |a| shift(a, u32::rotate_right))?;
    register(lua, &bit, "bswap", |a| ret(arg(a, 1)?.swap_bytes()))?;
    register(lua, &bit, "tohex", tohex)?;
    lua.globals().raw_set("bit", bit)
}

/// LuaBitOp's barg: the low 32 bits of the number rounded to an integer,
/// taken from the double as LuaBitOp does (adding 2^52+2^51).
fn arg(a: &Args, i: usize) -> mlua::Result<u32> {
    let n = a.to_number(i)?;
    let b = (n.unwrap_or(0.0) + 6755399441055744.0).to_bits() as u32;
    if b == 0 && n.is_none() {
        return a.type_error(i, "number");
    }
    Ok(b)
}

fn ret(b: u32) -> mlua::Result<f64> {
    Ok(b as i32 as f64)
}

/// band/bor/bxor: the first argument combined with the others, last first.
fn fold(a: &Args, op: fn(u32, u32) -> u32) -> mlua::Result<f64> {
    let mut b = arg(a, 1)?;
    for i in (2..=a.len()).rev() {
        b = op(b, arg(a, i)?);
    }
    ret(b)
}

/// Shifts and rotations count modulo 32.
fn shift(a: &Args, op: fn(u32, u32) -> u32) -> mlua::Result<f64> {
    let b = arg(a, 1)?;
    let n = arg(a, 2)? & 31;
    ret(op(b, n))
}

/// `n` hex digits (8 unless given, at most 8), upper case when `n` < 0.
fn tohex(a: &Args) -> mlua::Result<mlua::LuaString> {
    let mut b = arg(a, 1)?;
    let mut n = if a.len() < 2 { 8 } else { arg(a, 2)? as i32 };
    let digits: &[u8; 16] = if n < 0 {
        n = n.wrapping_neg();
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let n = n.clamp(0, 8) as usize;
    let mut buf = [0u8; 8];
    for d in buf[..n].iter_mut().rev() {
        *d = digits[(b & 15) as usize];
        b >>= 4;
    }
    a.lua.create_string(&buf[..n])
}
