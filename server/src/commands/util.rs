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

/// A float as Redis reads it (strtold): decimal or exponent forms, `inf`,
/// `-inf`, `+inf`; no NaN, no surrounding spaces.
pub fn parse_f64(arg: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(arg).ok()?;
    if text.is_empty()
        || text.starts_with(char::is_whitespace)
        || text.ends_with(char::is_whitespace)
    {
        return None;
    }
    let value = match text.to_ascii_lowercase().as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        lower if lower.contains("inf") || lower.contains("nan") => return None,
        _ => text.parse::<f64>().ok()?,
    };
    (!value.is_nan()).then_some(value)
}

pub fn float_arg(arg: &[u8]) -> Result<f64, CmdError> {
    parse_f64(arg).ok_or(NOT_FLOAT)
}

/// A glob match with Redis's stringmatchlen rules: `*`, `?`, `[abc]`,
/// `[^a]`, `[a-z]`, and `\` escapes.
pub fn glob_match(pattern: &[u8], text: &[u8], nocase: bool) -> bool {
    let eq = |a: u8, b: u8| {
        if nocase {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    let (mut p, mut t) = (0, 0);
    // Where to resume after the last `*`: (pattern index, text index).
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() {
            match pattern[p] {
                b'*' => {
                    while p < pattern.len() && pattern[p] == b'*' {
                        p += 1;
                    }
                    if p == pattern.len() {
                        return true;
                    }
                    star = Some((p, t));
                    continue;
                }
                b'?' => {
                    p += 1;
                    t += 1;
                    continue;
                }
                b'[' => {
                    if let Some((matched, next)) = match_class(pattern, p, text[t], nocase) {
                        if matched {
                            p = next;
                            t += 1;
                            continue;
                        }
                    }
                }
                b'\\' if p + 1 < pattern.len() => {
                    if eq(pattern[p + 1], text[t]) {
                        p += 2;
                        t += 1;
                        continue;
                    }
                }
                c => {
                    if eq(c, text[t]) {
                        p += 1;
                        t += 1;
                        continue;
                    }
                }
            }
        }
        match star {
            Some((sp, st)) => {
                p = sp;
                t = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// Matches `c` against the class starting at `pattern[at] == '['`.
/// Returns (matched, index after the class).
fn match_class(pattern: &[u8], at: usize, c: u8, nocase: bool) -> Option<(bool, usize)> {
    let fold = |b: u8| if nocase { b.to_ascii_lowercase() } else { b };
    let c = fold(c);
    let mut i = at + 1;
    let negate = pattern.get(i) == Some(&b'^');
    if negate {
        i += 1;
    }
    let mut matched = false;
    loop {
        let &ch = pattern.get(i)?;
        if ch == b']' {
            break;
        }
        if ch == b'\\' && i + 1 < pattern.len() {
            matched |= fold(pattern[i + 1]) == c;
            i += 2;
        } else if i + 2 < pattern.len() && pattern[i + 1] == b'-' && pattern[i + 2] != b']' {
            let (lo, hi) = (
                fold(ch).min(fold(pattern[i + 2])),
                fold(ch).max(fold(pattern[i + 2])),
            );
            matched |= (lo..=hi).contains(&c);
            i += 3;
        } else {
            matched |= fold(ch) == c;
            i += 1;
        }
    }
    Some((matched != negate, i + 1))
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
    ctx.out.simple("    Print this help.");
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
