//! `cjson.encode` and `cjson.decode` with lua-cjson's behaviour under its
//! defaults (as Redis ships it): numbers as `%.14g`, `/` escaped, an empty
//! table is an object, sparse arrays refused, `null` decodes to
//! `cjson.null`, 1000 levels of nesting at most.

use mlua::{Lua, Table, Value};

use super::convert::format_g;

const MAX_DEPTH: usize = 1000;

pub fn encode(value: &Value) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    encode_value(value, &mut out, 0)?;
    Ok(out)
}

fn encode_value(value: &Value, out: &mut Vec<u8>, depth: usize) -> Result<(), String> {
    match value {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(i) => out.extend_from_slice(format_g(*i as f64, 14).as_bytes()),
        Value::Number(n) if !n.is_finite() => {
            return Err("Cannot serialise number: must not be NaN or Inf".into())
        }
        Value::Number(n) => out.extend_from_slice(format_g(*n, 14).as_bytes()),
        Value::String(s) => encode_string(&s.as_bytes(), out),
        Value::Table(t) => {
            if depth >= MAX_DEPTH {
                return Err(format!(
                    "Cannot serialise, excessive nesting ({})",
                    depth + 1
                ));
            }
            encode_table(t, out, depth + 1)?;
        }
        other => {
            return Err(format!(
                "Cannot serialise {}: type not supported",
                other.type_name()
            ))
        }
    }
    Ok(())
}

fn encode_string(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &b in s {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            0..=0x1f | 0x7f => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

/// lua-cjson's array test: every key a positive integer, and not more
/// than half holes once past 10 elements. Some(length) for an array.
fn array_length(t: &Table) -> Result<Option<usize>, String> {
    let (mut max, mut count) = (0usize, 0usize);
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair.map_err(|e| e.to_string())?;
        let index = match k {
            Value::Integer(i) if i >= 1 => i as usize,
            Value::Number(n) if n >= 1.0 && n.fract() == 0.0 => n as usize,
            _ => return Ok(None),
        };
        max = max.max(index);
        count += 1;
    }
    if max > 10 && max > count * 2 {
        return Err("Cannot serialise table: excessively sparse array".into());
    }
    Ok((max > 0).then_some(max))
}

fn encode_table(t: &Table, out: &mut Vec<u8>, depth: usize) -> Result<(), String> {
    if let Some(len) = array_length(t)? {
        out.push(b'[');
        for i in 1..=len {
            if i > 1 {
                out.push(b',');
            }
            let v: Value = t.raw_get(i).map_err(|e| e.to_string())?;
            encode_value(&v, out, depth)?;
        }
        out.push(b']');
        return Ok(());
    }
    out.push(b'{');
    for (n, pair) in t.pairs::<Value, Value>().enumerate() {
        let (k, v) = pair.map_err(|e| e.to_string())?;
        if n > 0 {
            out.push(b',');
        }
        match &k {
            Value::String(s) => encode_string(&s.as_bytes(), out),
            Value::Integer(i) => encode_string(format_g(*i as f64, 14).as_bytes(), out),
            Value::Number(x) => encode_string(format_g(*x, 14).as_bytes(), out),
            _ => return Err("Cannot serialise table: table key must be a number or string".into()),
        }
        out.push(b':');
        encode_value(&v, out, depth)?;
    }
    out.push(b'}');
    Ok(())
}

pub fn decode(lua: &Lua, text: &[u8]) -> Result<Value, String> {
    let mut d = Decoder { lua, text, at: 0 };
    let value = d.value(0)?;
    d.skip_space();
    if d.at < text.len() {
        return Err(d.unexpected("the end"));
    }
    Ok(value)
}

struct Decoder<'a> {
    lua: &'a Lua,
    text: &'a [u8],
    at: usize,
}

impl Decoder<'_> {
    fn skip_space(&mut self) {
        while self
            .text
            .get(self.at)
            .is_some_and(|b| b" \t\r\n".contains(b))
        {
            self.at += 1;
        }
    }

    /// lua-cjson's message, with its 1-based character position.
    fn unexpected(&self, wanted: &str) -> String {
        let found = match self.text.get(self.at) {
            None => "T_END",
            Some(_) => "invalid token",
        };
        format!(
            "Expected {wanted} but found {found} at character {}",
            self.at + 1
        )
    }

    fn lua_err(e: mlua::Error) -> String {
        e.to_string()
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        self.skip_space();
        let Some(&b) = self.text.get(self.at) else {
            return Err(self.unexpected("value"));
        };
        match b {
            b'{' | b'[' if depth >= MAX_DEPTH => Err(format!(
                "Found too many nested data structures ({}) at character {}",
                depth + 1,
                self.at + 1
            )),
            b'{' => self.object(depth + 1),
            b'[' => self.array(depth + 1),
            b'"' => {
                let s = self.string()?;
                Ok(Value::String(
                    self.lua.create_string(s).map_err(Self::lua_err)?,
                ))
            }
            b't' => self.word("true", Value::Boolean(true)),
            b'f' => self.word("false", Value::Boolean(false)),
            b'n' => self.word("null", Value::NULL),
            b'-' | b'0'..=b'9' => self.number(),
            _ => Err(self.unexpected("value")),
        }
    }

    fn word(&mut self, word: &str, value: Value) -> Result<Value, String> {
        if self.text[self.at..].starts_with(word.as_bytes()) {
            self.at += word.len();
            Ok(value)
        } else {
            Err(self.unexpected("value"))
        }
    }

    fn number(&mut self) -> Result<Value, String> {
        let start = self.at;
        while self
            .text
            .get(self.at)
            .is_some_and(|b| b.is_ascii_digit() || b"+-.eE".contains(b))
        {
            self.at += 1;
        }
        std::str::from_utf8(&self.text[start..self.at])
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .map(Value::Number)
            .ok_or_else(|| {
                self.at = start;
                self.unexpected("value")
            })
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let digits = self
            .text
            .get(self.at..self.at + 4)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .ok_or_else(|| {
                format!(
                    "Expected string but found invalid unicode escape code at character {}",
                    self.at + 1
                )
            })?;
        self.at += 4;
        Ok(digits)
    }

    fn string(&mut self) -> Result<Vec<u8>, String> {
        let start = self.at;
        self.at += 1;
        let mut s = Vec::new();
        loop {
            let Some(&b) = self.text.get(self.at) else {
                self.at = start;
                return Err(self.unexpected("string"));
            };
            self.at += 1;
            match b {
                b'"' => return Ok(s),
                b'\\' => {
                    let Some(&e) = self.text.get(self.at) else {
                        self.at = start;
                        return Err(self.unexpected("string"));
                    };
                    self.at += 1;
                    match e {
                        b'"' | b'\\' | b'/' => s.push(e),
                        b'b' => s.push(0x08),
                        b'f' => s.push(0x0c),
                        b'n' => s.push(b'\n'),
                        b'r' => s.push(b'\r'),
                        b't' => s.push(b'\t'),
                        b'u' => {
                            let mut code = self.hex4()?;
                            if (0xd800..0xdc00).contains(&code)
                                && self.text[self.at..].starts_with(b"\\u")
                            {
                                self.at += 2;
                                let low = self.hex4()?;
                                code = 0x10000
                                    + ((code - 0xd800) << 10)
                                    + (low.wrapping_sub(0xdc00) & 0x3ff);
                            }
                            let c = char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER);
                            let mut utf8 = [0; 4];
                            s.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
                        }
                        _ => {
                            self.at -= 2;
                            return Err(format!(
                                "Expected string but found invalid escape code at character {}",
                                self.at + 1
                            ));
                        }
                    }
                }
                _ => s.push(b),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, String> {
        self.at += 1;
        let t = self.lua.create_table().map_err(Self::lua_err)?;
        self.skip_space();
        if self.text.get(self.at) == Some(&b']') {
            self.at += 1;
            return Ok(Value::Table(t));
        }
        for i in 1.. {
            let v = self.value(depth)?;
            t.raw_set(i, v).map_err(Self::lua_err)?;
            self.skip_space();
            match self.text.get(self.at) {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    break;
                }
                _ => return Err(self.unexpected("comma or array end")),
            }
        }
        Ok(Value::Table(t))
    }

    fn object(&mut self, depth: usize) -> Result<Value, String> {
        self.at += 1;
        let t = self.lua.create_table().map_err(Self::lua_err)?;
        self.skip_space();
        if self.text.get(self.at) == Some(&b'}') {
            self.at += 1;
            return Ok(Value::Table(t));
        }
        loop {
            self.skip_space();
            if self.text.get(self.at) != Some(&b'"') {
                return Err(self.unexpected("object key string"));
            }
            let key = self.string()?;
            self.skip_space();
            if self.text.get(self.at) != Some(&b':') {
                return Err(self.unexpected("colon"));
            }
            self.at += 1;
            let v = self.value(depth)?;
            let key = self.lua.create_string(key).map_err(Self::lua_err)?;
            t.raw_set(key, v).map_err(Self::lua_err)?;
            self.skip_space();
            match self.text.get(self.at) {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    break;
                }
                _ => return Err(self.unexpected("comma or object end")),
            }
        }
        Ok(Value::Table(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(lua: &Lua, json: &str) -> String {
        let v = decode(lua, json.as_bytes()).unwrap();
        String::from_utf8(encode(&v).unwrap()).unwrap()
    }

    #[test]
    fn encodes_like_lua_cjson() {
        let lua = Lua::new();
        let v: Value = lua
            .load(r#"return {1, 2.5, "a/b\n", true, {x = 1e20}}"#)
            .eval()
            .unwrap();
        assert_eq!(
            String::from_utf8(encode(&v).unwrap()).unwrap(),
            r#"[1,2.5,"a\/b\n",true,{"x":1e+20}]"#
        );
        let empty: Value = lua.load("return {}").eval().unwrap();
        assert_eq!(encode(&empty).unwrap(), b"{}");
        let sparse: Value = lua.load("return {[1]=1, [100]=2}").eval().unwrap();
        assert!(encode(&sparse)
            .unwrap_err()
            .contains("excessively sparse array"));
        let f: Value = lua.load("return print").eval().unwrap();
        assert_eq!(
            encode(&f).unwrap_err(),
            "Cannot serialise function: type not supported"
        );
    }

    #[test]
    fn decodes_what_it_encodes() {
        let lua = Lua::new();
        assert_eq!(
            round_trip(&lua, r#"[1, "x\u00e9\ud83d\ude00", null, false]"#),
            "[1,\"x\u{e9}\u{1f600}\",null,false]"
        );
        assert_eq!(
            round_trip(&lua, r#"{"a": {"b": [] }}"#),
            r#"{"a":{"b":{}}}"#
        );
        assert_eq!(
            decode(&lua, b"[1,").unwrap_err(),
            "Expected value but found T_END at character 4"
        );
        assert!(decode(&lua, b"{\"a\" 1}").is_err());
        let deep = "[".repeat(1001);
        assert!(decode(&lua, deep.as_bytes())
            .unwrap_err()
            .contains("too many nested"));
    }
}
