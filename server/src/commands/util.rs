//! Argument parsing and error replies shared by the command files.

use super::CmdError;

pub const WRONGTYPE: CmdError =
    CmdError::Static("WRONGTYPE Operation against a key holding the wrong kind of value");
pub const SYNTAX: CmdError = CmdError::Static("ERR syntax error");
pub const NOT_INTEGER: CmdError = CmdError::Static("ERR value is not an integer or out of range");
pub const NOT_FLOAT: CmdError = CmdError::Static("ERR value is not a valid float");
pub const OVERFLOW: CmdError = CmdError::Static("ERR increment or decrement would overflow");
pub const NO_SUCH_KEY: CmdError = CmdError::Static("ERR no such key");

/// Case-insensitive comparison of an argument with an ASCII word.
#[inline]
pub fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// A strict integer, as Redis's string2ll reads it: optional '-', digits,
/// no leading zeros, no spaces, no '+'.
pub fn parse_i64(arg: &[u8]) -> Option<i64> {
    if arg.is_empty() || arg.len() > 20 {
        return None;
    }
    if arg.len() == 1 && arg[0] == b'0' {
        return Some(0);
    }
    let (neg, digits) = match arg[0] {
        b'-' => (true, &arg[1..]),
        _ => (false, arg),
    };
    if digits.is_empty() || digits[0] == b'0' {
        return None;
    }
    let mut n: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add((d - b'0') as u64)?;
    }
    if neg {
        if n > i64::MAX as u64 + 1 {
            None
        } else {
            Some((n as i64).wrapping_neg())
        }
    } else {
        i64::try_from(n).ok()
    }
}

pub fn int_arg(arg: &[u8]) -> Result<i64, CmdError> {
    parse_i64(arg).ok_or(NOT_INTEGER)
}

/// A float as Redis reads it (strtod): decimal or exponent forms, C's
/// hexadecimal floats (`0x1.8p3`), `inf`, `-inf`, `+inf`; no NaN, no
/// surrounding spaces, and, as Redis refuses what strtod reports out of
/// range, nothing that overflows to infinity or underflows to zero.
pub fn parse_f64(arg: &[u8]) -> Option<f64> {
    read_float(arg, true)
}

/// A score range's bound as Redis reads it (bare strtod): as `parse_f64`,
/// but leading spaces are skipped and out-of-range values saturate
/// (`1e400` is inf, `1e-400` is 0).
pub fn parse_f64_bound(arg: &[u8]) -> Option<f64> {
    read_float(arg.trim_ascii_start(), false)
}

/// `parse_f64`, refusing what strtod reports out of range when `strict`.
fn read_float(arg: &[u8], strict: bool) -> Option<f64> {
    let text = std::str::from_utf8(arg).ok()?;
    if text.is_empty()
        || text.starts_with(char::is_whitespace)
        || text.ends_with(char::is_whitespace)
    {
        return None;
    }
    let lower = text.to_ascii_lowercase();
    let unsigned = lower.trim_start_matches(['+', '-']);
    let value = match lower.as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => return Some(f64::INFINITY),
        "-inf" | "-infinity" => return Some(f64::NEG_INFINITY),
        _ if lower.contains("inf") || lower.contains("nan") => return None,
        _ if unsigned.starts_with("0x") => parse_hex_f64(&lower)?,
        _ => text.parse::<f64>().ok()?,
    };
    let mantissa = unsigned.split(['e', 'p']).next().unwrap_or_default();
    let underflow = value == 0.0
        && mantissa
            .bytes()
            .any(|b| b.is_ascii_hexdigit() && b != b'0' && b != b'x');
    let in_range = value.is_finite() && !underflow;
    (in_range || !strict).then_some(value)
}

/// C's hexadecimal float, lowercased: `[sign]0x<hex>[.<hex>][p[sign]<dec>]`.
fn parse_hex_f64(text: &str) -> Option<f64> {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let rest = rest.strip_prefix("0x")?;
    let (mantissa, exponent) = match rest.split_once('p') {
        Some((m, e)) => (m, e.parse::<i32>().ok()?),
        None => (rest, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let mut value = 0.0;
    for digit in whole.chars() {
        value = value * 16.0 + f64::from(digit.to_digit(16)?);
    }
    let mut place = 1.0 / 16.0;
    for digit in fraction.chars() {
        value += f64::from(digit.to_digit(16)?) * place;
        place /= 16.0;
    }
    let value = value * 2f64.powi(exponent);
    Some(if negative { -value } else { value })
}

pub fn float_arg(arg: &[u8]) -> Result<f64, CmdError> {
    parse_f64(arg).ok_or(NOT_FLOAT)
}

/// A glob match as Redis's stringmatchlen decides it, quirks included, as
/// they decide which keys KEYS and SCAN return: `*`, `?`, `[abc]`, `[^a]`,
/// `[a-z]` and `\` escapes; a class never closed runs to the pattern's
/// end, a range may end in `]` (`[a-]`), an escape inside a class matches
/// case-sensitively, and the empty string matches no pattern (SCAN treats
/// a lone `*` apart). Past 1000 nested stars nothing matches, as in Redis,
/// which also bounds the recursion.
pub fn glob_match(pattern: &[u8], text: &[u8], nocase: bool) -> bool {
    let mut hopeless = false;
    glob_from(pattern, text, nocase, 0, &mut hopeless)
}

const GLOB_NESTING: usize = 1000;

/// `glob_match` from one star's position on. `hopeless` is set once the
/// rest of a pattern matched no suffix of the text: no earlier star can
/// then match by taking more of it.
fn glob_from(
    pattern: &[u8],
    text: &[u8],
    nocase: bool,
    nesting: usize,
    hopeless: &mut bool,
) -> bool {
    if nesting > GLOB_NESTING {
        return false;
    }
    let same = |a: u8, b: u8| {
        if nocase {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    let (mut p, mut t) = (0, 0);
    while p < pattern.len() && t < text.len() {
        match pattern[p] {
            b'*' => {
                while pattern.get(p + 1) == Some(&b'*') {
                    p += 1;
                }
                if p + 1 == pattern.len() {
                    return true;
                }
                while t < text.len() {
                    if glob_from(&pattern[p + 1..], &text[t..], nocase, nesting + 1, hopeless) {
                        return true;
                    }
                    if *hopeless {
                        return false;
                    }
                    t += 1;
                }
                *hopeless = true;
                return false;
            }
            b'?' => {}
            b'[' => {
                let (found, last) = glob_class(pattern, p + 1, text[t], nocase);
                if !found {
                    return false;
                }
                p = last;
            }
            b'\\' if p + 1 < pattern.len() => {
                p += 1;
                if !same(pattern[p], text[t]) {
                    return false;
                }
            }
            c => {
                if !same(c, text[t]) {
                    return false;
                }
            }
        }
        p += 1;
        t += 1;
        if t == text.len() {
            while pattern.get(p) == Some(&b'*') {
                p += 1;
            }
        }
    }
    p == pattern.len() && t == text.len()
}

/// The class whose body starts at `pattern[at]` (after its `[`): whether
/// it holds `c`, and where it ends (its `]`, or for a class never closed,
/// the pattern's last character).
fn glob_class(pattern: &[u8], mut at: usize, c: u8, nocase: bool) -> (bool, usize) {
    let negate = pattern.get(at) == Some(&b'^');
    if negate {
        at += 1;
    }
    let mut found = false;
    loop {
        let left = pattern.len() - at;
        if left >= 2 && pattern[at] == b'\\' {
            at += 1;
            found |= pattern[at] == c;
        } else if left >= 1 && pattern[at] == b']' {
            break;
        } else if left == 0 {
            at -= 1;
            break;
        } else if left >= 3 && pattern[at + 1] == b'-' {
            let (mut lo, mut hi) = (pattern[at], pattern[at + 2]);
            if lo > hi {
                (lo, hi) = (hi, lo);
            }
            let c = if nocase { c.to_ascii_lowercase() } else { c };
            if nocase {
                (lo, hi) = (lo.to_ascii_lowercase(), hi.to_ascii_lowercase());
            }
            found |= (lo..=hi).contains(&c);
            at += 2;
        } else if nocase {
            found |= pattern[at].eq_ignore_ascii_case(&c);
        } else {
            found |= pattern[at] == c;
        }
        at += 1;
    }
    (found != negate, at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_integers() {
        assert_eq!(parse_i64(b"123"), Some(123));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        for bad in [&b""[..], b"01", b"+1", b" 1", b"1 ", b"1.0", b"-", b"-0"] {
            assert_eq!(parse_i64(bad), None, "{:?}", std::str::from_utf8(bad));
        }
    }

    #[test]
    fn floats() {
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"1e3"), Some(1000.0));
        assert_eq!(parse_f64(b"nan"), None);
        assert_eq!(parse_f64(b" 1"), None);
        // C's hexadecimal floats, as strtod reads them.
        assert_eq!(parse_f64(b"0x10"), Some(16.0));
        assert_eq!(parse_f64(b"0x1.8p1"), Some(3.0));
        assert_eq!(parse_f64(b"-0X1P-2"), Some(-0.25));
        assert_eq!(parse_f64(b".8"), Some(0.8));
        for bad in [&b"0x"[..], b"0x1p", b"0xg", b"1e", b"0x1.8q1"] {
            assert_eq!(parse_f64(bad), None, "{:?}", std::str::from_utf8(bad));
        }
        // Out of range: refused as a value, saturated as a range bound.
        for (text, bound) in [
            (&b"1e400"[..], f64::INFINITY),
            (b"-1e400", f64::NEG_INFINITY),
            (b"1e-400", 0.0),
        ] {
            assert_eq!(parse_f64(text), None);
            assert_eq!(parse_f64_bound(text), Some(bound));
        }
        assert_eq!(parse_f64(b"0e5"), Some(0.0));
        assert_eq!(parse_f64(b"1e-310"), Some(1e-310));
        assert_eq!(parse_f64_bound(b" 2"), Some(2.0));
        assert_eq!(parse_f64_bound(b"2 "), None);
    }

    #[test]
    fn globs() {
        assert!(glob_match(b"*", b"anything", false));
        assert!(glob_match(b"h?llo", b"hello", false));
        assert!(glob_match(b"h*llo", b"heeeello", false));
        assert!(glob_match(b"h[ae]llo", b"hallo", false));
        assert!(!glob_match(b"h[^e]llo", b"hello", false));
        assert!(glob_match(b"h[a-b]llo", b"hbllo", false));
        assert!(glob_match(b"key:*:x", b"key:1:2:x", false));
        assert!(!glob_match(b"key:*:x", b"key:1:2:y", false));
        assert!(glob_match(b"h\\*llo", b"h*llo", false));
        assert!(glob_match(b"HELLO", b"hello", true));
    }
}

/// The reply of a HELP subcommand: a title line, the lines, and the
/// closing HELP line, as status strings.
pub fn help_reply(ctx: &mut super::Ctx, command: &str, lines: &[&str]) {
    ctx.out.array(lines.len() + 3);
    ctx.out.simple(&format!(
        "{command} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    ));
    for line in lines {
        ctx.out.simple(line);
    }
    ctx.out.simple("HELP");
    ctx.out.simple("    Prints this help.");
}

/// `ERR invalid expire time in '<command>' command`.
pub fn invalid_expire_time(command: &str) -> CmdError {
    CmdError::Owned(format!("ERR invalid expire time in '{command}' command"))
}

/// A float as INCRBYFLOAT/HINCRBYFLOAT store and return it: fixed point,
/// no exponent, trailing zeros trimmed, at most 17 decimals (Redis's
/// "%.17Lf" human form). Redis computes in long double, whose extra digits
/// hide binary rounding noise; in f64 we keep 15 significant digits
/// (DBL_DIG: any decimal of that length reads back as written), so that
/// 0.1+0.2 also reads 0.3 here.
pub fn format_float(value: f64) -> String {
    let int_digits = if value == 0.0 {
        1
    } else {
        value.abs().log10().floor() as i32 + 1
    };
    let decimals = (15 - int_digits).clamp(0, 17) as usize;
    let mut text = format!("{value:.decimals$}");
    if text.contains('.') {
        let kept = text.trim_end_matches('0').trim_end_matches('.').len();
        text.truncate(kept);
    }
    if text == "-0" {
        text.remove(0);
    }
    text
}

/// Elements above which a deleted value is freed on another thread
/// (Redis's LAZYFREE_THRESHOLD).
pub const LAZYFREE_THRESHOLD: usize = 64;

/// Drops a removed entry, off the request path if it is a big collection.
pub fn free_entry(entry: crate::db::Entry) {
    if entry.object().is_some_and(|o| o.len() > LAZYFREE_THRESHOLD) {
        crate::db::drop_in_background(entry);
    }
}

#[cfg(test)]
mod float_tests {
    use super::format_float;

    #[test]
    fn floats_print_like_incrbyfloat() {
        assert_eq!(format_float(0.1 + 0.2), "0.3");
        assert_eq!(format_float(1.25 - 1.1), "0.15");
        assert_eq!(format_float(10.5 + 0.1), "10.6");
        assert_eq!(format_float(5010.6), "5010.6");
        assert_eq!(format_float(3.0), "3");
        assert_eq!(format_float(1e20), "100000000000000000000");
        assert_eq!(format_float(1e-20), "0");
        assert_eq!(format_float(-0.0), "0");
        assert_eq!(format_float(-1e-20), "0");
        assert_eq!(format_float(-2.5), "-2.5");
        assert_eq!(format_float(1.5e-10), "0.00000000015");
    }
}
