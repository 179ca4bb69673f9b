//! Incremental request parser: RESP multibulk (what clients send) and the
//! inline form (what telnet and `redis-cli` in some modes send).
//!
//! The parser keeps its progress across reads, so a large pipelined request
//! that arrives in many pieces is scanned once, not once per read. Argument
//! spans point into the caller's buffer (multibulk) or into the parser's own
//! scratch buffer (inline, where quotes and escapes change the bytes).

use std::fmt;

use crate::command::CommandRef;

/// Redis's PROTO_INLINE_MAX_SIZE: the longest inline request or header line.
const INLINE_MAX: usize = 64 * 1024;
/// What a client that still has to authenticate may send (Redis 7): at most
/// this many arguments, each at most this long, so it cannot make the
/// server hold much before it proves who it is.
const UNAUTH_MAX_MULTIBULK: i64 = 10;
const UNAUTH_MAX_BULK: i64 = 16 * 1024;

#[derive(Clone, Copy, Debug)]
pub struct RequestLimits {
    /// `proto-max-bulk-len`
    pub max_bulk_len: usize,
    /// Most arguments one multibulk may carry (Redis: 1024*1024).
    pub max_multibulk_len: usize,
    /// The client has not authenticated yet (requirepass set): the tighter
    /// unauthenticated limits apply.
    pub unauthenticated: bool,
}

impl Default for RequestLimits {
    fn default() -> Self {
        RequestLimits {
            max_bulk_len: 512 * 1024 * 1024,
            max_multibulk_len: 1024 * 1024,
            unauthenticated: false,
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

/// Byte offsets of one argument. `usize`, not `u32`: with raised
/// `proto-max-bulk-len` and `client-query-buffer-limit` one command may
/// span more than 4 GiB of input.
type Span = (usize, usize);

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
        &self.data[start..end]
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = &'a [u8]> + 'a {
        let data = self.data;
        self.spans.iter().map(move |&(s, e)| &data[s..e])
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
        let start = self.data.len();
        self.data.extend_from_slice(arg);
        self.spans.push((start, self.data.len()));
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
    ///
    /// The outcome does not depend on how the bytes were split across
    /// calls: the same input gives the same commands and the same error.
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
                let Some(cr) = header_end(buf, self.pos, "too big mbulk count string")? else {
                    return Ok(None);
                };
                let count = parse_len(&buf[self.pos + 1..cr])
                    .filter(|&n| n <= limits.max_multibulk_len as i64)
                    .ok_or_else(|| perr("invalid multibulk length"))?;
                if limits.unauthenticated && count > UNAUTH_MAX_MULTIBULK {
                    return Err(perr("unauthenticated multibulk length"));
                }
                self.pos = cr + 2;
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
                let Some(cr) = header_end(buf, self.pos, "too big bulk count string")? else {
                    return Ok(None);
                };
                let len = parse_len(&buf[self.pos + 1..cr])
                    .filter(|&n| n >= 0 && n as u64 <= limits.max_bulk_len as u64)
                    .ok_or_else(|| perr("invalid bulk length"))?;
                if limits.unauthenticated && len > UNAUTH_MAX_BULK {
                    return Err(perr("unauthenticated bulk length"));
                }
                let start = cr + 2;
                let end = start + len as usize;
                if buf.len() < end + 2 {
                    return Ok(None);
                }
                // Redis does not check the bulk's trailing CRLF; neither do we.
                self.spans.push((start, end));
                self.pos = end + 2;
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
        let line_start = self.pos;
        let Some(nl) = find_within_limit(buf, line_start, b'\n', "too big inline request")? else {
            return Ok(Inline::Incomplete);
        };
        let mut line = &buf[line_start..nl];
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        self.spans.clear();
        self.inline_buf.clear();
        split_inline(line, &mut self.inline_buf, &mut self.spans)?;
        self.pos = nl + 1;
        if self.spans.is_empty() {
            // A blank line, as telnet users type: nothing to run.
            return Ok(Inline::Blank);
        }
        Ok(Inline::Command(self.finish(true)))
    }
}

/// The first `byte` at or after `from`, looking no further than
/// INLINE_MAX bytes past it. A line that runs longer is an error (`what`)
/// whether or not its end has arrived yet, so the outcome does not depend
/// on how the input was split into reads.
fn find_within_limit(
    buf: &[u8],
    from: usize,
    byte: u8,
    what: &'static str,
) -> Result<Option<usize>, ProtocolError> {
    let window = &buf[from..buf.len().min(from + INLINE_MAX + 1)];
    match window.iter().position(|&b| b == byte) {
        Some(off) => Ok(Some(from + off)),
        None if window.len() > INLINE_MAX => Err(perr(what)),
        None => Ok(None),
    }
}

/// What a look at the multibulk request at the start of a buffer found, as
/// far as it has arrived and is well-formed: hints for fetching ahead what
/// it will touch, never a substitute for parsing it.
#[derive(Debug, Default)]
pub struct Peek<'a> {
    /// Its command, if the table has it.
    pub cmd: Option<CommandRef>,
    /// Its first key, by the command table.
    pub first_key: Option<&'a [u8]>,
    /// Where the look stopped (after the first key), and how many
    /// arguments follow.
    stopped: Option<(usize, usize)>,
}

/// Requests with more arguments are not measured (`Peek::len`).
const PEEK_MAX_ARGS: usize = 32;

/// Looks at the request at the start of `buf` up to its first key.
pub fn peek(buf: &[u8]) -> Peek<'_> {
    let mut found = Peek::default();
    let Some((count, name_at)) = peek_header(buf, 0, b'*') else {
        return found;
    };
    let Some((name_len, at)) = peek_header(buf, name_at, b'$') else {
        return found;
    };
    let Some(name) = buf.get(at..at.saturating_add(name_len)) else {
        return found;
    };
    found.cmd = crate::command::lookup(name);
    let key_index = found
        .cmd
        .and_then(|cmd| cmd.spec.keys.first_hint())
        .filter(|&i| i < count);
    let mut at = at + name_len + 2;
    let last = key_index.unwrap_or(0);
    for index in 1..=last {
        let Some((len, arg_at)) = peek_header(buf, at, b'$') else {
            return found;
        };
        let Some(arg) = buf.get(arg_at..arg_at.saturating_add(len)) else {
            return found;
        };
        if index == last {
            found.first_key = Some(arg);
        }
        at = arg_at + len + 2;
    }
    found.stopped = Some((at, count - 1 - last));
    found
}

impl Peek<'_> {
    /// The `n`th argument after the first key (1: the one right after
    /// it), if it has arrived: a member, a field …
    pub fn arg_after_key<'b>(&self, buf: &'b [u8], n: usize) -> Option<&'b [u8]> {
        let (at, left) = self.stopped.filter(|_| self.first_key.is_some())?;
        if n == 0 || left < n {
            return None;
        }
        let (len, arg_at) = peek_header(buf, skip_args(buf, at, n - 1)?, b'$')?;
        buf.get(arg_at..arg_at.checked_add(len)?)
    }

    /// The length of the request at the start of `buf` (the one looked
    /// at), if all of it is there: the next request starts after it.
    pub fn len(&self, buf: &[u8]) -> Option<usize> {
        let (at, left) = self.stopped?;
        if left > PEEK_MAX_ARGS {
            return None;
        }
        skip_args(buf, at, left).filter(|&end| end <= buf.len())
    }
}

/// Where the argument `n` bulk strings after the one at `at` starts, as far
/// as their headers have arrived.
fn skip_args(buf: &[u8], mut at: usize, n: usize) -> Option<usize> {
    for _ in 0..n {
        let (len, arg_at) = peek_header(buf, at, b'$')?;
        at = arg_at.checked_add(len)?.checked_add(2)?;
    }
    Some(at)
}

/// `<marker><digits>\r\n` at `at`: the number, and where it ends.
#[inline]
fn peek_header(buf: &[u8], at: usize, marker: u8) -> Option<(usize, usize)> {
    if *buf.get(at)? != marker {
        return None;
    }
    let digits = buf.get(at + 1..)?;
    let cr = digits.iter().take(20).position(|&c| c == b'\r')?;
    let n = parse_len(&digits[..cr]).filter(|&n| n >= 0)?;
    Some((n as usize, at + 1 + cr + 2))
}

/// The `\r` that ends the `*`/`$` header line at `from`, once the byte
/// after it has arrived too. As in Redis, the line ends at its first `\r`
/// and the byte after it is skipped unchecked.
fn header_end(buf: &[u8], from: usize, what: &'static str) -> Result<Option<usize>, ProtocolError> {
    Ok(find_within_limit(buf, from, b'\r', what)?.filter(|&cr| cr + 1 < buf.len()))
}

/// Whitespace as C's isspace() sees it.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Splits an inline request the way Redis's sdssplitargs does: whitespace
/// separates arguments, "double quotes" take C escapes (\n \r \t \b \a \\ \"
/// \xHH), 'single quotes' take only \', and a closing quote must be followed
/// by whitespace or the end.
fn split_inline(
    line: &[u8],
    out: &mut Vec<u8>,
    spans: &mut Vec<Span>,
) -> Result<(), ProtocolError> {
    let unbalanced = || perr("unbalanced quotes in request");
    let mut i = 0;
    while i < line.len() {
        while i < line.len() && is_space(line[i]) {
            i += 1;
        }
        if i == line.len() {
            break;
        }
        let start = out.len();
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
                    if line.get(i + 1).is_some_and(|&c| !is_space(c)) {
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
                    if line.get(i + 1).is_some_and(|&c| !is_space(c)) {
                        return Err(unbalanced());
                    }
                    i += 1;
                    break;
                } else {
                    out.push(c);
                    i += 1;
                }
            } else {
                // Unquoted, only these end an argument (sdssplitargs), so
                // a vertical tab or form feed inside a word is kept.
                match line.get(i) {
                    None | Some(b' ' | b'\n' | b'\r' | b'\t') => break,
                    Some(b'"') => in_double = true,
                    Some(b'\'') => in_single = true,
                    Some(&c) => out.push(c),
                }
                i += 1;
            }
        }
        spans.push((start, out.len()));
    }
    Ok(())
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// A length header as Redis's string2ll reads it: optional '-', then
/// digits without a leading zero (a lone "0" aside). More than 18 digits
/// is beyond any limit, so it is refused rather than overflowed.
fn parse_len(digits: &[u8]) -> Option<i64> {
    if digits == b"0" {
        return Some(0);
    }
    let (neg, digits) = match digits.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, digits),
    };
    if digits.is_empty() || digits.len() > 18 || digits[0] == b'0' {
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

    #[test]
    fn peeks_the_first_key_and_length_of_what_has_arrived() {
        let get = b"*2\r\n$3\r\nGET\r\n$3\r\nfoo\r\n*1\r\n";
        assert_eq!(peek(get).first_key, Some(&b"foo"[..]));
        assert_eq!(peek(get).len(get), Some(22));
        assert_eq!(peek(get).arg_after_key(get, 1), None);
        let hget = b"*3\r\n$4\r\nHGET\r\n$1\r\nh\r\n$1\r\nf\r\n";
        assert_eq!(peek(hget).cmd.unwrap().spec.name, "hget");
        assert_eq!(peek(hget).arg_after_key(hget, 1), Some(&b"f"[..]));
        assert_eq!(peek(hget).arg_after_key(hget, 2), None);
        let zadd = b"*4\r\n$4\r\nZADD\r\n$1\r\nz\r\n$1\r\n1\r\n$1\r\nm\r\n";
        assert_eq!(peek(zadd).arg_after_key(zadd, 2), Some(&b"m"[..]));
        // The rest of the request need not have arrived.
        let set = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nva";
        assert_eq!(peek(set).first_key, Some(&b"k"[..]));
        assert_eq!(peek(set).len(set), None);
        // Where the command table puts it: after EVALSHA's script and count.
        assert_eq!(
            peek(b"*5\r\n$7\r\nevalsha\r\n$2\r\nab\r\n$1\r\n1\r\n$2\r\nk1\r\n$1\r\n5\r\n")
                .first_key,
            Some(&b"k1"[..])
        );
        let ping = b"*1\r\n$4\r\nPING\r\n";
        assert_eq!(peek(ping).len(ping), Some(14));
        for partial in [
            &b""[..],
            b"*3\r\n$4\r\nEVAL\r\n$1\r\nx\r\n$1\r\n0\r\n",
            b"*5\r\n$7\r\nevalsha\r\n$2\r\nab\r\n",
            b"*2\r\n$13\r\nNOSUCHCOMMAND\r\n$3\r\nfoo\r\n",
            b"*2\r\n$3\r\nGET\r\n$3\r\nfo",
            b"*1\r\n$4\r\nPING\r\n",
            b"PING\r\n",
            b"*2\r\n$-1\r\n$3\r\nfoo\r\n",
            b"*2\r\n$99999999999999999999999\r\n",
        ] {
            assert_eq!(peek(partial).first_key, None, "{partial:?}");
        }
    }

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
        // string2ll: no leading zeros, no "-0", no '+'.
        for bad in [&b"*01\r\n"[..], b"*-0\r\n", b"*+1\r\n"] {
            assert_eq!(parse_all(bad).unwrap_err().0, "invalid multibulk length");
        }
        assert_eq!(
            parse_all(b"*1\r\n$04\r\nPING\r\n").unwrap_err().0,
            "invalid bulk length"
        );
    }

    /// Like `parse_all`, with the input arriving in pieces cut at `cuts`.
    fn parse_split(input: &[u8], cuts: &[usize]) -> Result<Vec<Vec<Vec<u8>>>, ProtocolError> {
        let mut parser = RequestParser::new();
        let mut buf = Vec::new();
        let mut out = Vec::new();
        let mut from = 0;
        for &to in cuts.iter().chain([&input.len()]) {
            buf.extend_from_slice(&input[from..to]);
            from = to;
            while let Some(p) = parser.parse(&buf, &RequestLimits::default())? {
                out.push(parser.argv(&buf, &p).iter().map(|a| a.to_vec()).collect());
                buf.drain(..p.consumed);
            }
        }
        Ok(out)
    }

    /// Inputs on which the first parser gave one answer whole and another
    /// in pieces (a line over 64 KB was refused only while incomplete).
    #[test]
    fn long_lines_fail_whole_or_in_pieces() {
        let mut inline = vec![b'a'; INLINE_MAX + 4];
        inline.extend_from_slice(b"\r\nPING\r\n");
        let mut count = b"*1".to_vec();
        count.resize(INLINE_MAX + 1, b'1');
        count.extend_from_slice(b"\r\n$4\r\nPING\r\n");
        for (input, err) in [
            (&inline, "too big inline request"),
            (&count, "too big mbulk count string"),
        ] {
            assert_eq!(parse_all(input).unwrap_err().0, err);
            assert_eq!(parse_split(input, &[INLINE_MAX + 2]).unwrap_err().0, err);
        }
        // Exactly at the limit is still a line.
        let mut at_limit = vec![b'a'; INLINE_MAX];
        at_limit.extend_from_slice(b"\n");
        assert_eq!(parse_split(&at_limit, &[INLINE_MAX / 2]).unwrap().len(), 1);
    }

    #[test]
    fn header_line_ends_at_its_first_cr() {
        // As in Redis, the byte after '\r' is skipped unchecked.
        assert_eq!(
            parse_all(b"*1\rX$4\r\nPING\r\n").unwrap(),
            vec![args(&["PING"])]
        );
        // The header is complete only once the byte after '\r' is there.
        let mut parser = RequestParser::new();
        assert!(parser
            .parse(b"*1\r", &RequestLimits::default())
            .unwrap()
            .is_none());
    }

    #[test]
    fn unauthenticated_limits() {
        let limits = RequestLimits {
            unauthenticated: true,
            ..RequestLimits::default()
        };
        let parse = |input: &[u8]| {
            RequestParser::new()
                .parse(input, &limits)
                .map(|p| p.is_some())
        };
        assert_eq!(
            parse(b"*11\r\n").unwrap_err().0,
            "unauthenticated multibulk length"
        );
        assert_eq!(
            parse(b"*1\r\n$16385\r\n").unwrap_err().0,
            "unauthenticated bulk length"
        );
        assert_eq!(parse(b"*10\r\n$16384\r\n"), Ok(false));
    }

    #[test]
    fn inline_whitespace_as_sdssplitargs() {
        // Leading vertical tab and form feed are skipped; inside an
        // unquoted word they are kept.
        assert_eq!(
            parse_all(b"\x0b\x0cECHO a\x0bb\r\n").unwrap(),
            vec![args(&["ECHO", "a\x0bb"])]
        );
        // After a closing quote any isspace() character will do.
        assert_eq!(
            parse_all(b"ECHO \"a\"\x0bb\r\n").unwrap(),
            vec![args(&["ECHO", "a", "b"])]
        );
    }
}
