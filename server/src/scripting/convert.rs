//! Redis's conversions between replies and Lua values, both ways, and the
//! number formats Lua numbers take as command arguments and in JSON.

use mlua::{Lua, Table, Value};
use slotcache_protocol::Reply;

/// Deepest table a script may return (Redis stops at Lua's stack limit).
const MAX_DEPTH: usize = 1000;

/// A number as C's `%.<precision>g` prints it: Redis passes Lua numbers
/// to commands with `%.17g`, cjson encodes them with `%.14g`.
pub fn format_g(n: f64, precision: usize) -> String {
    if n.is_nan() {
        return if n.is_sign_negative() { "-nan" } else { "nan" }.into();
    }
    if n.is_infinite() {
        return if n > 0.0 { "inf" } else { "-inf" }.into();
    }
    if n == 0.0 {
        return if n.is_sign_negative() { "-0" } else { "0" }.into();
    }
    // The exponent %g decides by is the one of the value rounded to
    // `precision` significant digits.
    let sci = format!("{:.*e}", precision - 1, n);
    let (mantissa, exp) = sci.split_once('e').expect("exponent form");
    let exp: i32 = exp.parse().expect("exponent");
    if exp < -4 || exp >= precision as i32 {
        let mantissa = trim_fraction(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.abs());
    }
    let decimals = (precision as i32 - 1 - exp).max(0) as usize;
    trim_fraction(&format!("{n:.decimals$}")).to_string()
}

fn trim_fraction(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// The text of Redis's error table `{err = "CODE message"}` from an error
/// line: `-CODE message` keeps its code, text without a leading `-` gets
/// `ERR`.
pub fn error_text(error: &[u8]) -> Vec<u8> {
    let (code, msg): (&[u8], &[u8]) = match error.strip_prefix(b"-") {
        Some(rest) => match rest.iter().position(|&b| b == b' ') {
            Some(at) => (&rest[..at], &rest[at + 1..]),
            None => (b"ERR", rest),
        },
        None => (b"ERR", error),
    };
    let msg = trim_newlines(msg);
    let mut text = Vec::with_capacity(code.len() + 1 + msg.len());
    text.extend_from_slice(code);
    text.push(b' ');
    text.extend_from_slice(msg);
    text
}

/// `{err = text}`.
pub fn error_table(lua: &Lua, text: &[u8]) -> mlua::Result<Table> {
    let table = lua.create_table()?;
    table.raw_set("err", lua.create_string(text)?)?;
    Ok(table)
}

fn trim_newlines(s: &[u8]) -> &[u8] {
    let nl = |b: &u8| *b == b'\r' || *b == b'\n';
    let start = s.iter().position(|b| !nl(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !nl(b)).map_or(start, |e| e + 1);
    &s[start..end]
}

/// Parses one reply our encoder wrote into the Lua value a script sees:
/// integer → number, bulk → string, nil bulk or nil array → false, array
/// → table, status → `{ok=…}`, error → `{err=…}`; RESP3 (after
/// `redis.setresp(3)`) map → `{map=…}`, set → `{set=…}`, null → nil,
/// boolean → boolean, double → `{double=…}`, big number → `{big_number=…}`,
/// verbatim → `{verbatim_string={format=…, string=…}}`.
pub fn reply_to_lua(lua: &Lua, reply: &[u8]) -> mlua::Result<Value> {
    let mut at = 0;
    parse(lua, reply, &mut at)
}

fn line<'a>(buf: &'a [u8], at: &mut usize) -> &'a [u8] {
    let start = *at + 1;
    let end = start
        + buf[start..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("replies we encode are complete");
    *at = end + 2;
    &buf[start..end]
}

fn number(text: &[u8]) -> i64 {
    std::str::from_utf8(text)
        .ok()
        .and_then(|s| s.parse().ok())
        .expect("replies we encode carry valid lengths")
}

fn bulk<'a>(buf: &'a [u8], at: &mut usize) -> Option<&'a [u8]> {
    let len = number(line(buf, at));
    let len = usize::try_from(len).ok()?;
    let data = &buf[*at..*at + len];
    *at += len + 2;
    Some(data)
}

fn tagged(lua: &Lua, tag: &str, value: impl mlua::IntoLua) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    t.raw_set(tag, value)?;
    Ok(Value::Table(t))
}

fn parse(lua: &Lua, buf: &[u8], at: &mut usize) -> mlua::Result<Value> {
    Ok(match buf[*at] {
        b':' => Value::Number(number(line(buf, at)) as f64),
        b'$' => match bulk(buf, at) {
            Some(data) => Value::String(lua.create_string(data)?),
            None => Value::Boolean(false),
        },
        b'+' => tagged(lua, "ok", lua.create_string(line(buf, at))?)?,
        b'-' => {
            let start = *at;
            line(buf, at);
            Value::Table(error_table(lua, &error_text(&buf[start..*at - 2]))?)
        }
        b'*' => {
            let n = number(line(buf, at));
            if n < 0 {
                return Ok(Value::Boolean(false));
            }
            let t = lua.create_table_with_capacity(n as usize, 0)?;
            for i in 1..=n {
                t.raw_set(i, parse(lua, buf, at)?)?;
            }
            Value::Table(t)
        }
        b'%' => {
            let n = number(line(buf, at));
            let map = lua.create_table_with_capacity(0, n as usize)?;
            for _ in 0..n {
                let k = parse(lua, buf, at)?;
                let v = parse(lua, buf, at)?;
                map.raw_set(k, v)?;
            }
            tagged(lua, "map", map)?
        }
        b'~' | b'>' => {
            let n = number(line(buf, at));
            let set = lua.create_table_with_capacity(0, n as usize)?;
            for _ in 0..n {
                set.raw_set(parse(lua, buf, at)?, true)?;
            }
            tagged(lua, "set", set)?
        }
        b'_' => {
            line(buf, at);
            Value::Nil
        }
        b'#' => Value::Boolean(line(buf, at) == b"t"),
        b',' => {
            let text = String::from_utf8_lossy(line(buf, at)).into_owned();
            let d = match text.as_str() {
                "inf" => f64::INFINITY,
                "-inf" => f64::NEG_INFINITY,
                t => t.parse().unwrap_or(f64::NAN),
            };
            tagged(lua, "double", d)?
        }
        b'(' => tagged(lua, "big_number", lua.create_string(line(buf, at))?)?,
        b'=' => {
            let data = bulk(buf, at).unwrap_or_default();
            let (format, text) = data.split_at(data.len().min(4));
            let inner = lua.create_table()?;
            inner.raw_set("format", lua.create_string(&format[..format.len().min(3)])?)?;
            inner.raw_set("string", lua.create_string(text)?)?;
            tagged(lua, "verbatim_string", inner)?
        }
        other => unreachable!("reply type {other} is never encoded"),
    })
}

/// Writes what a script returned as the reply, as Redis does: number →
/// integer (truncated), string → bulk, true → 1 (`#t` for a RESP3
/// script), false and nil → nil, `{err=…}` → error, `{ok=…}` → status,
/// `{double=…}`, `{map=…}`, `{set=…}` … → their RESP3 types, any other
/// table → array of its elements up to the first nil.
pub fn lua_to_reply(value: &Value, out: &mut Reply, script_resp3: bool) -> mlua::Result<()> {
    write(value, out, script_resp3, 0)
}

fn write(value: &Value, out: &mut Reply, resp3: bool, depth: usize) -> mlua::Result<()> {
    match value {
        Value::String(s) => out.bulk(&s.as_bytes()),
        Value::Integer(i) => out.int(*i),
        Value::Number(n) => out.int(*n as i64),
        Value::Boolean(true) if !resp3 => out.int(1),
        Value::Boolean(false) if !resp3 => out.null(),
        Value::Boolean(b) => out.boolean(*b),
        Value::Table(_) if depth >= MAX_DEPTH => out.error("ERR reached lua stack limit"),
        Value::Table(t) => write_table(t, out, resp3, depth)?,
        _ => out.null(),
    }
    Ok(())
}

fn write_table(t: &Table, out: &mut Reply, resp3: bool, depth: usize) -> mlua::Result<()> {
    if let Value::String(e) = t.raw_get("err")? {
        out.error(&String::from_utf8_lossy(&e.as_bytes()));
        return Ok(());
    }
    if let Value::String(s) = t.raw_get("ok")? {
        out.simple(&String::from_utf8_lossy(&s.as_bytes()).replace(['\r', '\n'], " "));
        return Ok(());
    }
    if let Value::Number(_) | Value::Integer(_) = t.raw_get("double")? {
        out.double(t.raw_get::<f64>("double")?);
        return Ok(());
    }
    if let Value::String(s) = t.raw_get("big_number")? {
        let text = String::from_utf8_lossy(&s.as_bytes()).replace(['\r', '\n'], " ");
        if out.resp3() {
            out.raw(format!("({text}\r\n").as_bytes());
        } else {
            out.bulk(text.as_bytes());
        }
        return Ok(());
    }
    if let Value::Table(v) = t.raw_get("verbatim_string")? {
        if let (Value::String(format), Value::String(text)) =
            (v.raw_get("format")?, v.raw_get("string")?)
        {
            let (format, text) = (format.as_bytes(), text.as_bytes());
            if out.resp3() && format.len() == 3 {
                out.raw(format!("={}\r\n", text.len() + 4).as_bytes());
                out.raw(&format);
                out.raw(b":");
                out.raw(&text);
                out.raw(b"\r\n");
            } else {
                out.bulk(&text);
            }
            return Ok(());
        }
    }
    if let Value::Table(map) = t.raw_get("map")? {
        let pairs: Vec<(Value, Value)> = map.pairs().collect::<mlua::Result<_>>()?;
        out.map(pairs.len());
        for (k, v) in &pairs {
            write(k, out, resp3, depth + 1)?;
            write(v, out, resp3, depth + 1)?;
        }
        return Ok(());
    }
    if let Value::Table(set) = t.raw_get("set")? {
        let members: Vec<Value> = set
            .pairs::<Value, Value>()
            .map(|p| p.map(|(k, _)| k))
            .collect::<mlua::Result<_>>()?;
        out.set(members.len());
        for m in &members {
            write(m, out, resp3, depth + 1)?;
        }
        return Ok(());
    }
    let mut len = 0;
    while t.raw_get::<Value>(len + 1)? != Value::Nil {
        len += 1;
    }
    out.array(len);
    for i in 1..=len {
        write(&t.raw_get::<Value>(i)?, out, resp3, depth + 1)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_printf_g() {
        let g17 = |n| format_g(n, 17);
        assert_eq!(g17(1.0), "1");
        assert_eq!(g17(-42.0), "-42");
        assert_eq!(g17(1.5), "1.5");
        assert_eq!(g17(0.1), "0.10000000000000001");
        assert_eq!(g17(1e20), "1e+20");
        assert_eq!(g17(123456789012345678.0), "1.2345678901234568e+17");
        assert_eq!(g17(0.0001), "0.0001");
        assert_eq!(g17(0.00001), "1.0000000000000001e-05");
        let g14 = |n| format_g(n, 14);
        assert_eq!(g14(0.1), "0.1");
        assert_eq!(g14(100.0), "100");
        assert_eq!(g14(123456789012345.0), "1.2345678901234e+14");
        assert_eq!(g14(1.23456), "1.23456");
    }

    #[test]
    fn error_texts_take_the_code() {
        let err = |s: &[u8]| String::from_utf8(error_text(s)).unwrap();
        assert_eq!(
            err(b"-WRONGTYPE Operation against"),
            "WRONGTYPE Operation against"
        );
        assert_eq!(err(b"-NOCODE"), "ERR NOCODE");
        assert_eq!(err(b"plain message\r\n"), "ERR plain message");
    }

    #[test]
    fn replies_round_trip_through_lua() {
        let lua = Lua::new();
        let reply = b"*5\r\n:7\r\n$3\r\nabc\r\n$-1\r\n+OK\r\n*1\r\n-ERR bad\r\n";
        let v = reply_to_lua(&lua, reply).unwrap();
        let mut buf = bytes::BytesMut::new();
        lua_to_reply(&v, &mut Reply::new(&mut buf, false), false).unwrap();
        // Nil bulk becomes false, which converts back to a nil bulk.
        assert_eq!(&buf[..], &reply[..]);
    }
}
