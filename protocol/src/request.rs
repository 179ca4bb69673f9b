//! Incremental request parser: RESP multibulk (what clients send) and the
//! inline form (what telnet and `redis-cli` in some modes send).
//!
//! The parser keeps its progress across reads, so a large pipelined request
//! that arrives in many pieces is scanned once, not once per read. Argument
//! spans point into the caller's buffer (multibulk) or into the parser's own
//! scratch buffer (inline, where quotes and escapes change the bytes).

use std::fmt;

/// Redis's PROTO_INLINE_MAX_SIZE: the longest inline request or header line.
const INLINE_MAX: usize = 64 * 1024;

#[derive(Clone, Copy, Debug)]
pub struct RequestLimits {
    /// `proto-max-bulk-len`
    pub max_bulk_len: usize,
    /// Most arguments one multibulk may carry (Redis: 1024*1024).
    pub max_multibulk_len: usize,
}

impl Default for RequestLimits {
    fn default() -> Self {
        RequestLimits {
            max_bulk_len: 512 * 1024 * 1024,
            max_multibulk_len: 1024 * 1024,
        }
    }
}

/// A request the client got wrong; the connection answers
/// `-ERR Protocol error: <msg>` and closes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Protocol error: {}", self.0)
    }
}

impl std::error::Error for ProtocolError {}

fn perr(msg: impl Into<String>) -> ProtocolError {
    ProtocolError(msg.into())
}

type Span = (u32, u32);

/// The arguments of one command, borrowed from a buffer.
#[derive(Clone, Copy)]
pub struct Argv<'a> {
    data: &'a [u8],
    spans: &'a [Span],
}

impl<'a> Argv<'a> {
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    #[inline]
    pub fn get(&self, i: usize) -> &'a [u8] {
        let (start, end) = self.spans[i];
        &self.data[start as usize..end as usize]
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = &'a [u8]> + 'a {
        let data = self.data;
        self.spans
            .iter()
            .map(move |&(s, e)| &data[s as usize..e as usize])
    }

    /// Arguments from `from` on.
    pub fn tail(&self, from: usize) -> Argv<'a> {
        Argv {
            data: self.data,
            spans: &self.spans[from.min(self.spans.len())..],
        }
    }

    /// Copies the arguments out (for queues that outlive the read buffer).
    pub fn to_owned_args(&self) -> OwnedArgv {
        let mut owned = OwnedArgv::default();
        for arg in self.iter() {
            owned.push(arg);
        }
        owned
    }
}

/// Arguments in one owned buffer, e.g. a command queued by MULTI.
#[derive(Clone, Default, Debug)]
pub struct OwnedArgv {
    data: Vec<u8>,
    spans: Vec<Span>,
}

impl OwnedArgv {
    pub fn push(&mut self, arg: &[u8]) {
        let start = self.data.len() as u32;
        self.data.extend_from_slice(arg);
        self.spans.push((start, self.data.len() as u32));
    }

    pub fn argv(&self) -> Argv<'_> {
        Argv {
            data: &self.data,
            spans: &self.spans,
        }
    }
}

impl<T: AsRef<[u8]>> FromIterator<T> for OwnedArgv {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut owned = OwnedArgv::default();
        for arg in iter {
            owned.push(arg.as_ref());
        }
        owned
    }
}

#[derive(Default)]
enum State {
    /// Waiting for the first byte of a request.
    #[default]
    Start,
    /// Inside a multibulk: `remaining` bulks still to read.
    Multibulk { remaining: usize },
}

/// A parsed command: where its argument bytes live, and how much of the
/// input buffer it used.
pub struct Parsed {
    pub consumed: usize,
    inline: bool,
}

enum Inline {
    Incomplete,
    Blank,
    Command(Parsed),
}

#[derive(Default)]
pub struct RequestParser {
    state: State,
    /// Bytes of the input already scanned for the request in progress.
    pos: usize,
    spans: Vec<Span>,
    inline_buf: Vec<u8>,
}

impl RequestParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes the request in progress has claimed so far (for the query
    /// buffer limit, which counts what a client makes the server hold).
    pub fn pending(&self) -> usize {
        self.pos
    }

    /// The arguments of the command `parse` just returned.
    pub fn argv<'a>(&'a self, buf: &'a [u8], parsed: &Parsed) -> Argv<'a> {
        let data = if parsed.inline {
            &self.inline_buf[..]
        } else {
            buf
        };
        Argv {
            data,
            spans: &self.spans,
        }
    }

    /// Parses the next request at the start of `buf`. `Ok(None)` means more
    /// bytes are needed; progress is kept, so call again with the same
    /// buffer extended. After a command is returned the caller must drop
    /// `consumed` bytes from the front of `buf` before the next call.
    /// Empty requests (`*0`, blank inline lines) are skipped.
    pub fn parse(
        &mut self,
        buf: &[u8],
        limits: &RequestLimits,
    ) -> Result<Option<Parsed>, ProtocolError> {
        loop {
            if let State::Start = self.state {
                let Some(&first) = buf.get(self.pos) else {
                    return Ok(None);
                };
                if first != b'*' {
                    match self.parse_inline(buf)? {
                        Inline::Blank => continue,
                        Inline::Incomplete => return Ok(None),
                        Inline::Command(parsed) => return Ok(Some(parsed)),
                    }
                }
                let Some(line_end) = find_crlf(buf, self.pos + 1) else {
                    if buf.len() - self.pos > INLINE_MAX {
                        return Err(perr("too big mbulk count string"));
                    }
                    return Ok(None);
                };
                let count = parse_len(&buf[self.pos + 1..line_end])
                    .filter(|&n| n <= limits.max_multibulk_len as i64)
                    .ok_or_else(|| perr("invalid multibulk length"))?;
                self.pos = line_end + 2;
                if count <= 0 {
                    // `*0` and `*-1` are empty requests: skip them.
                    continue;
                }
                self.spans.clear();
                self.state = State::Multibulk {
                    remaining: count as usize,
                };
            }
            let State::Multibulk { remaining } = &mut self.state else {
                unreachable!()
            };
            while *remaining > 0 {
                let Some(&marker) = buf.get(self.pos) else {
                    return Ok(None);
                };
                if marker != b'$' {
                    return Err(perr(format!("expected '$', got '{}'", marker as char)));
                }
                let Some(line_end) = find_crlf(buf, self.pos + 1) else {
                    if buf.len() - self.pos > INLINE_MAX {
                        return Err(perr("too big bulk count string"));
                    }
                    return Ok(None);
                };
                let len = parse_len(&buf[self.pos + 1..line_end])
                    .filter(|&n| n >= 0 && n <= limits.max_bulk_len as i64)
                    .ok_or_else(|| perr("invalid bulk length"))? as usize;
                let start = line_end + 2;
                if buf.len() < start + len + 2 {
                    return Ok(None);
                }
                // Redis does not check the bulk's trailing CRLF; neither do we.
                self.spans.push((start as u32, (start + len) as u32));
                self.pos = start + len + 2;
                *remaining -= 1;
            }
            return Ok(Some(self.finish(false)));
        }
    }

    fn finish(&mut self, inline: bool) -> Parsed {
        let consumed = self.pos;
        self.pos = 0;
        self.state = State::Start;
        Parsed { consumed, inline }
    }

    fn parse_inline(&mut self, buf: &[u8]) -> Result<Inline, ProtocolError> {
        let Some(nl) = buf[self.pos..].iter().position(|&b| b == b'\n') else {
            if buf.len() - self.pos > INLINE_MAX {
                return Err(perr("too big inline request"));
            }
            return Ok(Inline::Incomplete);
        };
        let line_start = self.pos;
        let mut line = &buf[line_start..line_start + nl];
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        self.spans.clear();
        self.inline_buf.clear();
        split_inline(line, &mut self.inline_buf, &mut self.spans)?;
        self.pos = line_start + nl + 1;
        if self.spans.is_empty() {
            // A blank line, as telnet users type: nothing to run.
            return Ok(Inline::Blank);
        }
        Ok(Inline::Command(self.finish(true)))
    }
}

/// Splits an inline request the way Redis's sdssplitargs does: whitespace
/// separates arguments, "double quotes" take C escapes (\n \r \t \b \a \\ \"
/// \xHH), 'single quotes' take only \', and a closing quote must be followed
/// by a space or the end.
fn split_inline(
    line: &[u8],
    out: &mut Vec<u8>,
    spans: &mut Vec<Span>,
) -> Result<(), ProtocolError> {
    let unbalanced = || perr("unbalanced quotes in request");
    let mut i = 0;
    while i < line.len() {
        while i < line.len() && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == line.len() {
            break;
        }
        let start = out.len() as u32;
        let mut in_double = false;
        let mut in_single = false;
        loop {
            if in_double {
                let Some(&c) = line.get(i) else {
                    return Err(unbalanced());
                };
                if c == b'\\' && i + 3 < line.len() && line[i + 1] == b'x' {
                    if let (Some(h), Some(l)) = (hex(line[i + 2]), hex(line[i + 3])) {
                        out.push(h * 16 + l);
                        i += 4;
                        continue;
                    }
                }
                if c == b'\\' && i + 1 < line.len() {
                    out.push(match line[i + 1] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    });
                    i += 2;
                } else if c == b'"' {
                    if line.get(i + 1).is_some_and(|c| !c.is_ascii_whitespace()) {
                        return Err(unbalanced());
                    }
                    i += 1;
                    break;
                } else {
                    out.push(c);
                    i += 1;
                }
            } else if in_single {
                let Some(&c) = line.get(i) else {
                    return Err(unbalanced());
                };
                if c == b'\\' && line.get(i + 1) == Some(&b'\'') {
                    out.push(b'\'');
                    i += 2;
                } else if c == b'\'' {
                    if line.get(i + 1).is_some_and(|c| !c.is_ascii_whitespace()) {
                        return Err(unbalanced());
                    }
                    i += 1;
                    break;
                } else {
                    out.push(c);
                    i += 1;
                }
            } else {
                match line.get(i) {
                    None => break,
                    Some(c) if c.is_ascii_whitespace() => break,
                    Some(b'"') => in_double = true,
                    Some(b'\'') => in_single = true,
                    Some(&c) => out.push(c),
                }
                i += 1;
            }
        }
        spans.push((start, out.len() as u32));
    }
    Ok(())
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

#[inline]
fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i + 1 < buf.len() {
        match buf[i + 1..].iter().position(|&b| b == b'\n') {
            Some(off) => {
                let nl = i + 1 + off;
                if buf[nl - 1] == b'\r' {
                    return Some(nl - 1);
                }
                i = nl;
            }
            None => return None,
        }
    }
    None
}

/// A length header: optional '-', then digits, at most 19 of them.
fn parse_len(digits: &[u8]) -> Option<i64> {
    let (neg, digits) = match digits.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, digits),
    };
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    let mut n: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n * 10 + (d - b'0') as i64;
    }
    Some(if neg { -n } else { n })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> Result<Vec<Vec<Vec<u8>>>, ProtocolError> {
        let mut parser = RequestParser::new();
        let mut buf = input.to_vec();
        let mut out = Vec::new();
        while let Some(p) = parser.parse(&buf, &RequestLimits::default())? {
            out.push(parser.argv(&buf, &p).iter().map(|a| a.to_vec()).collect());
            buf.drain(..p.consumed);
        }
        Ok(out)
    }

    fn args(list: &[&str]) -> Vec<Vec<u8>> {
        list.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    #[test]
    fn multibulk_and_pipelines() {
        let got = parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n").unwrap();
        assert_eq!(got, vec![args(&["GET", "k"]), args(&["PING"])]);
    }

    #[test]
    fn resumes_across_partial_reads() {
        let whole = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n";
        let mut parser = RequestParser::new();
        for cut in 1..whole.len() {
            assert!(
                parser
                    .parse(&whole[..cut], &RequestLimits::default())
                    .unwrap()
                    .is_none(),
                "cut {cut}"
            );
        }
        let p = parser
            .parse(whole, &RequestLimits::default())
            .unwrap()
            .unwrap();
        assert_eq!(p.consumed, whole.len());
        assert_eq!(parser.argv(whole, &p).get(2), b"value");
    }

    #[test]
    fn inline_with_quotes() {
        let got = parse_all(b"set \"a b\" 'c\\'d' \"\\x41\\n\"\r\n\r\nping\n").unwrap();
        assert_eq!(
            got,
            vec![args(&["set", "a b", "c'd", "A\n"]), args(&["ping"])]
        );
        assert_eq!(
            parse_all(b"set \"abc\r\n").unwrap_err().0,
            "unbalanced quotes in request"
        );
        assert_eq!(
            parse_all(b"set \"a\"b\r\n").unwrap_err().0,
            "unbalanced quotes in request"
        );
    }

    #[test]
    fn empty_requests_are_skipped() {
        assert_eq!(
            parse_all(b"*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n").unwrap(),
            vec![args(&["PING"])]
        );
    }

    #[test]
    fn protocol_errors() {
        assert_eq!(
            parse_all(b"*2\r\n:1\r\n").unwrap_err().0,
            "expected '$', got ':'"
        );
        assert_eq!(
            parse_all(b"*x\r\n").unwrap_err().0,
            "invalid multibulk length"
        );
        assert_eq!(
            parse_all(b"*1048577\r\n").unwrap_err().0,
            "invalid multibulk length"
        );
        assert_eq!(
            parse_all(b"*1\r\n$-5\r\n").unwrap_err().0,
            "invalid bulk length"
        );
        assert_eq!(
            parse_all(b"*1\r\n$536870913\r\n").unwrap_err().0,
            "invalid bulk length"
        );
        let long = vec![b'a'; INLINE_MAX + 1];
        assert_eq!(parse_all(&long).unwrap_err().0, "too big inline request");
    }
}
