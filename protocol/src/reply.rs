//! Reply encoder. Writes RESP2 or RESP3 straight into the connection's
//! output buffer; the aggregate helpers pick the RESP2 fallback (maps and
//! sets become flat arrays, nulls become `$-1`/`*-1`, doubles become bulk
//! strings) so command code is written once for both.

use bytes::{BufMut, BytesMut};

pub struct Reply<'a> {
    buf: &'a mut BytesMut,
    resp3: bool,
}

impl<'a> Reply<'a> {
    pub fn new(buf: &'a mut BytesMut, resp3: bool) -> Self {
        Reply { buf, resp3 }
    }

    pub fn resp3(&self) -> bool {
        self.resp3
    }

    /// Switches protocol mid-reply (HELLO answers in the version it selects).
    pub fn set_resp3(&mut self, resp3: bool) {
        self.resp3 = resp3;
    }

    /// Bytes written so far (callers use it to cap a pipelined batch).
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Drops everything written after `mark` (a `len()` taken earlier).
    pub fn truncate(&mut self, mark: usize) {
        self.buf.truncate(mark);
    }

    #[inline]
    fn header(&mut self, marker: u8, n: i64) {
        let mut num = itoa::Buffer::new();
        let digits = num.format(n).as_bytes();
        self.buf.reserve(digits.len() + 3);
        self.buf.put_u8(marker);
        self.buf.put_slice(digits);
        self.buf.put_slice(b"\r\n");
    }

    pub fn ok(&mut self) {
        self.buf.put_slice(b"+OK\r\n");
    }

    pub fn simple(&mut self, s: &str) {
        self.buf.reserve(s.len() + 3);
        self.buf.put_u8(b'+');
        self.buf.put_slice(s.as_bytes());
        self.buf.put_slice(b"\r\n");
    }

    /// An error line; `msg` carries its code (`ERR …`, `WRONGTYPE …`).
    /// Newlines would break framing, so they become spaces as in Redis.
    pub fn error(&mut self, msg: &str) {
        self.buf.reserve(msg.len() + 3);
        self.buf.put_u8(b'-');
        for &b in msg.as_bytes() {
            self.buf
                .put_u8(if b == b'\r' || b == b'\n' { b' ' } else { b });
        }
        self.buf.put_slice(b"\r\n");
    }

    #[inline]
    pub fn int(&mut self, n: i64) {
        self.header(b':', n);
    }

    #[inline]
    pub fn bulk(&mut self, data: &[u8]) {
        self.header(b'$', data.len() as i64);
        self.buf.reserve(data.len() + 2);
        self.buf.put_slice(data);
        self.buf.put_slice(b"\r\n");
    }

    /// A bulk string made of several pieces (e.g. a value read in parts).
    pub fn bulk_parts(&mut self, parts: &[&[u8]]) {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        self.header(b'$', len as i64);
        for p in parts {
            self.buf.put_slice(p);
        }
        self.buf.put_slice(b"\r\n");
    }

    pub fn bulk_int(&mut self, n: i64) {
        let mut num = itoa::Buffer::new();
        self.bulk(num.format(n).as_bytes());
    }

    /// Null bulk: `$-1` in RESP2, `_` in RESP3.
    #[inline]
    pub fn null(&mut self) {
        if self.resp3 {
            self.buf.put_slice(b"_\r\n");
        } else {
            self.buf.put_slice(b"$-1\r\n");
        }
    }

    /// Null array: `*-1` in RESP2, `_` in RESP3.
    pub fn null_array(&mut self) {
        if self.resp3 {
            self.buf.put_slice(b"_\r\n");
        } else {
            self.buf.put_slice(b"*-1\r\n");
        }
    }

    #[inline]
    pub fn array(&mut self, n: usize) {
        self.header(b'*', n as i64);
    }

    /// A map of `n` pairs: `%n` in RESP3, an array of 2n in RESP2.
    pub fn map(&mut self, n: usize) {
        if self.resp3 {
            self.header(b'%', n as i64);
        } else {
            self.header(b'*', 2 * n as i64);
        }
    }

    /// A set: `~n` in RESP3, an array in RESP2.
    pub fn set(&mut self, n: usize) {
        self.header(if self.resp3 { b'~' } else { b'*' }, n as i64);
    }

    /// An out-of-band push (pub/sub): `>n` in RESP3, an array in RESP2.
    pub fn push(&mut self, n: usize) {
        self.header(if self.resp3 { b'>' } else { b'*' }, n as i64);
    }

    /// A double: `,` in RESP3, a bulk string in RESP2.
    pub fn double(&mut self, d: f64) {
        let text = format_double(d);
        if self.resp3 {
            self.buf.reserve(text.len() + 3);
            self.buf.put_u8(b',');
            self.buf.put_slice(text.as_bytes());
            self.buf.put_slice(b"\r\n");
        } else {
            self.bulk(text.as_bytes());
        }
    }

    /// A boolean: `#t`/`#f` in RESP3, `:1`/`:0` in RESP2.
    pub fn boolean(&mut self, b: bool) {
        if self.resp3 {
            self.buf.put_slice(if b { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(b as i64);
        }
    }

    /// Text meant for people (INFO, CLIENT LIST): verbatim `=` in RESP3,
    /// a bulk string in RESP2.
    pub fn verbatim(&mut self, text: &[u8]) {
        if self.resp3 {
            self.header(b'=', text.len() as i64 + 4);
            self.buf.put_slice(b"txt:");
            self.buf.put_slice(text);
            self.buf.put_slice(b"\r\n");
        } else {
            self.bulk(text);
        }
    }

    /// Raw, already-encoded RESP (a reply cached or built elsewhere).
    pub fn raw(&mut self, encoded: &[u8]) {
        self.buf.put_slice(encoded);
    }
}

/// Formats a double the way Redis 7.2 does: shortest text that reads back
/// to the same value, `inf`/`-inf` for infinities.
pub fn format_double(d: f64) -> String {
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if d.is_nan() {
        return "nan".into();
    }
    if d == d.trunc() && d.abs() < 1e17 {
        // Integral values print without a fraction, as %.17g does (and
        // -0 as 0, as Redis answers it).
        return format!("{}", d as i64);
    }
    // C's %.17g, which Redis 7.0 replies with: 17 significant digits,
    // trailing zeros dropped, an exponent below 1e-4 or from 1e17 on.
    let scientific = format!("{d:.16e}");
    let (digits, exponent) = scientific.split_once('e').expect("{:e} has an exponent");
    let exponent: i32 = exponent.parse().expect("an integer exponent");
    if !(-4..17).contains(&exponent) {
        let sign = if exponent < 0 { '-' } else { '+' };
        return format!("{}e{sign}{:02}", trim_fraction(digits), exponent.abs());
    }
    trim_fraction(&format!("{d:.*}", (16 - exponent) as usize)).to_string()
}

/// `1.2500` → `1.25`, `3.000` → `3`.
fn trim_fraction(number: &str) -> &str {
    if !number.contains('.') {
        return number;
    }
    number.trim_end_matches('0').trim_end_matches('.')
}

#[cfg(test)]
mod tests {
    use super::*;
    use redis_protocol::resp3::decode::complete::decode;
    use redis_protocol::resp3::types::{OwnedFrame, Resp3Frame};

    fn encode(resp3: bool, f: impl FnOnce(&mut Reply)) -> Vec<u8> {
        let mut buf = BytesMut::new();
        f(&mut Reply::new(&mut buf, resp3));
        buf.to_vec()
    }

    #[test]
    fn resp2_fallbacks() {
        assert_eq!(encode(false, |r| r.null()), b"$-1\r\n");
        assert_eq!(encode(false, |r| r.null_array()), b"*-1\r\n");
        assert_eq!(encode(false, |r| r.map(2)), b"*4\r\n");
        assert_eq!(encode(false, |r| r.double(1.5)), b"$3\r\n1.5\r\n");
        assert_eq!(encode(false, |r| r.boolean(true)), b":1\r\n");
        assert_eq!(encode(false, |r| r.error("ERR a\r\nb")), b"-ERR a  b\r\n");
    }

    /// Every RESP3 form we write must be readable by an independent decoder.
    #[test]
    fn resp3_frames_decode() {
        let bytes = encode(true, |r| {
            r.map(3);
            r.bulk(b"k");
            r.double(2.5);
            r.bulk(b"n");
            r.null();
            r.bulk(b"b");
            r.set(2);
            r.boolean(false);
            r.verbatim(b"hello");
        });
        let (frame, used) = decode(&bytes).unwrap().unwrap();
        assert_eq!(used, bytes.len());
        let OwnedFrame::Map { data, .. } = frame else {
            panic!("not a map: {frame:?}")
        };
        assert_eq!(data.len(), 3);
        assert!(data
            .values()
            .any(|v| matches!(v, OwnedFrame::Double { data, .. } if *data == 2.5)));
        assert!(data.values().any(|v| matches!(v, OwnedFrame::Null)));
        assert!(data
            .values()
            .any(|v| v.as_str().is_none() && matches!(v, OwnedFrame::Set { .. })));
    }

    #[test]
    fn doubles_format_like_redis() {
        assert_eq!(format_double(3.0), "3");
        assert_eq!(format_double(-0.5), "-0.5");
        assert_eq!(format_double(1.5), "1.5");
        // %.17g, as Redis 7.0 prints scores.
        assert_eq!(format_double(0.1), "0.10000000000000001");
        assert_eq!(format_double(1.1), "1.1000000000000001");
        assert_eq!(format_double(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(format_double(1e-5), "1.0000000000000001e-05");
        assert_eq!(format_double(1.5e-7), "1.4999999999999999e-07");
        assert_eq!(format_double(1e-320), "9.9998886718268301e-321");
        assert_eq!(format_double(1e17), "1e+17");
        assert_eq!(format_double(1e300), "1.0000000000000001e+300");
        assert_eq!(format_double(123456789.123), "123456789.123");
        assert_eq!(format_double(-2.5e-3), "-0.0025000000000000001");
        assert_eq!(format_double(f64::INFINITY), "inf");
        assert_eq!(format_double(f64::NEG_INFINITY), "-inf");
    }
}
