//! String commands.

use slotcache_protocol::Argv;

use super::{
    float_arg, format_float, int_arg, invalid_expire_time, is, parse_f64, parse_i64, CmdError,
    CmdResult, Ctx, NOT_FLOAT, NOT_INTEGER, OVERFLOW, SYNTAX, WRONGTYPE,
};
use crate::db::Object;
use crate::server::Server;

pub const HANDLERS: &[(&str, super::Handler)] = &[
    ("get", get),
    ("set", set),
    ("setnx", setnx),
    ("setex", setex),
    ("psetex", psetex),
    ("getex", getex),
    ("getdel", getdel),
    ("getset", getset),
    ("mget", mget),
    ("mset", mset),
    ("msetnx", msetnx),
    ("incr", incr),
    ("decr", decr),
    ("incrby", incrby),
    ("decrby", decrby),
    ("incrbyfloat", incrbyfloat),
    ("append", append),
    ("strlen", strlen),
    ("getrange", getrange),
    // GETRANGE's name until Redis 2.0, still served.
    ("substr", getrange),
    ("setrange", setrange),
];

fn get(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    match ctx.keys.get(argv.get(1)) {
        None => ctx.out.null(),
        Some(entry) => ctx.out.bulk(entry.string().ok_or(WRONGTYPE)?),
    }
    Ok(())
}

// ---- SET and its relatives -------------------------------------------------

/// How an expiry argument is read: relative or absolute, seconds or ms.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Unit {
    Ex,
    Px,
    ExAt,
    PxAt,
}

/// The options of SET and GETEX.
#[derive(Default)]
struct SetOpts<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    persist: bool,
    expire: Option<(Unit, &'a [u8])>,
}

/// Reads SET's (`set`) or GETEX's options from `argv[from..]`, with Redis's
/// rules: an expiry excludes the other expiry kinds, KEEPTTL and PERSIST;
/// NX excludes XX; repeating an option is allowed (the last value wins).
fn parse_opts<'a>(argv: &Argv<'a>, from: usize, set: bool) -> Result<SetOpts<'a>, CmdError> {
    let mut o = SetOpts::default();
    let mut j = from;
    while j < argv.len() {
        let opt = argv.get(j);
        let unit = [
            ("ex", Unit::Ex),
            ("px", Unit::Px),
            ("exat", Unit::ExAt),
            ("pxat", Unit::PxAt),
        ]
        .into_iter()
        .find(|(name, _)| is(opt, name))
        .map(|(_, u)| u);
        if set && is(opt, "nx") && !o.xx {
            o.nx = true;
        } else if set && is(opt, "xx") && !o.nx {
            o.xx = true;
        } else if set && is(opt, "get") {
            o.get = true;
        } else if set && is(opt, "keepttl") && o.expire.is_none() {
            o.keepttl = true;
        } else if !set && is(opt, "persist") && o.expire.is_none() {
            o.persist = true;
        } else if let Some(unit) = unit.filter(|&u| {
            j + 1 < argv.len()
                && !o.keepttl
                && !o.persist
                && o.expire.is_none_or(|(other, _)| other == u)
        }) {
            j += 1;
            o.expire = Some((unit, argv.get(j)));
        } else {
            return Err(SYNTAX);
        }
        j += 1;
    }
    Ok(o)
}

/// The unix-ms expiry an EX/PX/EXAT/PXAT argument names; it must be
/// positive and, in ms, fit in an i64.
fn expire_time(now: u64, command: &str, unit: Unit, arg: &[u8]) -> Result<u64, CmdError> {
    let n = int_arg(arg)?;
    let invalid = || invalid_expire_time(command);
    if n <= 0 {
        return Err(invalid());
    }
    let ms = match unit {
        Unit::Ex | Unit::ExAt => n.checked_mul(1000).ok_or_else(invalid)?,
        Unit::Px | Unit::PxAt => n,
    };
    let at = match unit {
        Unit::Ex | Unit::Px => ms.checked_add(now as i64).ok_or_else(invalid)?,
        Unit::ExAt | Unit::PxAt => ms,
    };
    Ok(at as u64)
}

/// SET, SETNX, SETEX, PSETEX and GETSET. `int_reply`: answer 1/0 (SETNX)
/// instead of OK/nil. With GET the old value is the reply either way.
fn set_generic(ctx: &mut Ctx, key: &[u8], value: &[u8], o: &SetOpts, int_reply: bool) -> CmdResult {
    let mut expire_at = match o.expire {
        Some((unit, arg)) => Some(expire_time(ctx.now(), ctx.cmd.spec.name, unit, arg)?),
        None => None,
    };
    if o.get {
        match ctx.keys.get(key) {
            None => ctx.out.null(),
            Some(entry) => ctx.out.bulk(entry.string().ok_or(WRONGTYPE)?),
        }
    }
    if o.nx || o.xx || o.keepttl {
        let current_ttl = ctx.keys.peek(key).map(|e| e.expire_at());
        if (o.nx && current_ttl.is_some()) || (o.xx && current_ttl.is_none()) {
            ctx.keys.unchanged(key);
            match (o.get, int_reply) {
                (true, _) => {}
                (false, true) => ctx.out.int(0),
                (false, false) => ctx.out.null(),
            }
            return Ok(());
        }
        if o.keepttl {
            expire_at = current_ttl.flatten();
        }
    }
    ctx.keys.set_string(key, value, expire_at);
    match (o.get, int_reply) {
        (true, _) => {}
        (false, true) => ctx.out.int(1),
        (false, false) => ctx.out.ok(),
    }
    Ok(())
}

fn set(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let opts = parse_opts(argv, 3, true)?;
    set_generic(ctx, argv.get(1), argv.get(2), &opts, false)
}

fn setnx(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let opts = SetOpts {
        nx: true,
        ..SetOpts::default()
    };
    set_generic(ctx, argv.get(1), argv.get(2), &opts, true)
}

fn setex(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let opts = SetOpts {
        expire: Some((Unit::Ex, argv.get(2))),
        ..SetOpts::default()
    };
    set_generic(ctx, argv.get(1), argv.get(3), &opts, false)
}

fn psetex(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let opts = SetOpts {
        expire: Some((Unit::Px, argv.get(2))),
        ..SetOpts::default()
    };
    set_generic(ctx, argv.get(1), argv.get(3), &opts, false)
}

fn getset(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let opts = SetOpts {
        get: true,
        ..SetOpts::default()
    };
    set_generic(ctx, argv.get(1), argv.get(2), &opts, false)
}

fn getex(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let o = parse_opts(argv, 2, false)?;
    let key = argv.get(1);
    let now = ctx.now();
    // As in Redis, a missing key or a wrong type is reported before a bad
    // expiry argument.
    let when = o
        .expire
        .map(|(unit, arg)| expire_time(now, ctx.cmd.spec.name, unit, arg));
    let when = match ctx.keys.get(key) {
        None => {
            ctx.out.null();
            return Ok(());
        }
        Some(entry) => {
            let value = entry.string().ok_or(WRONGTYPE)?;
            let when = when.transpose()?;
            ctx.out.bulk(value);
            when
        }
    };
    match when {
        // Only EXAT/PXAT can name a time already past.
        Some(at) if at <= now => {
            ctx.keys.remove(key);
        }
        Some(at) => {
            ctx.keys.set_expire(key, Some(at));
        }
        None if o.persist => {
            ctx.keys.set_expire(key, None);
        }
        None => {}
    }
    Ok(())
}

fn getdel(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let key = argv.get(1);
    match ctx.keys.get(key) {
        None => {
            ctx.out.null();
            return Ok(());
        }
        Some(entry) => ctx.out.bulk(entry.string().ok_or(WRONGTYPE)?),
    }
    ctx.keys.remove(key);
    Ok(())
}

// ---- Several keys ------------------------------------------------------------

fn mget(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    ctx.out.array(argv.len() - 1);
    for key in argv.iter().skip(1) {
        // Keys of other types read as nil, not as an error.
        match ctx.keys.get(key).and_then(|e| e.string()) {
            Some(value) => ctx.out.bulk(value),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

/// MSET and MSETNX take key/value pairs: an odd count is an arity error.
fn check_pairs(ctx: &Ctx, argv: &Argv) -> CmdResult {
    if argv.len().is_multiple_of(2) {
        return Err(CmdError::Owned(format!(
            "ERR wrong number of arguments for '{}' command",
            ctx.cmd.spec.name
        )));
    }
    Ok(())
}

fn mset(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    check_pairs(ctx, argv)?;
    for i in (1..argv.len()).step_by(2) {
        ctx.keys.set_string(argv.get(i), argv.get(i + 1), None);
    }
    ctx.out.ok();
    Ok(())
}

fn msetnx(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    check_pairs(ctx, argv)?;
    if (1..argv.len())
        .step_by(2)
        .any(|i| ctx.keys.exists(argv.get(i)))
    {
        ctx.out.int(0);
        return Ok(());
    }
    for i in (1..argv.len()).step_by(2) {
        ctx.keys.set_string(argv.get(i), argv.get(i + 1), None);
    }
    ctx.out.int(1);
    Ok(())
}

// ---- Counters ----------------------------------------------------------------

/// INCR, DECR, INCRBY and DECRBY: the value must be a strict 64-bit
/// integer; the TTL is kept.
fn incr_by(ctx: &mut Ctx, key: &[u8], incr: i64) -> CmdResult {
    let mut digits = itoa::Buffer::new();
    let value = match ctx.keys.peek(key) {
        Some(entry) => {
            let current = parse_i64(entry.string().ok_or(WRONGTYPE)?).ok_or(NOT_INTEGER)?;
            let value = current.checked_add(incr).ok_or(OVERFLOW)?;
            entry.set_string(digits.format(value).as_bytes());
            value
        }
        None => {
            ctx.keys
                .set_string(key, digits.format(incr).as_bytes(), None);
            incr
        }
    };
    ctx.out.int(value);
    Ok(())
}

fn incr(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    incr_by(ctx, argv.get(1), 1)
}

fn decr(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    incr_by(ctx, argv.get(1), -1)
}

fn incrby(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let incr = int_arg(argv.get(2))?;
    incr_by(ctx, argv.get(1), incr)
}

fn decrby(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let decr = int_arg(argv.get(2))?;
    if decr == i64::MIN {
        return Err(CmdError::Static("ERR decrement would overflow"));
    }
    incr_by(ctx, argv.get(1), -decr)
}

fn incrbyfloat(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let key = argv.get(1);
    let sum = |current: f64| -> Result<String, CmdError> {
        let value = current + float_arg(argv.get(2))?;
        if !value.is_finite() {
            return Err(CmdError::Static(
                "ERR increment would produce NaN or Infinity",
            ));
        }
        Ok(format_float(value))
    };
    let text = match ctx.keys.peek(key) {
        Some(entry) => {
            let text = sum(parse_f64(entry.string().ok_or(WRONGTYPE)?).ok_or(NOT_FLOAT)?)?;
            entry.set_string(text.as_bytes());
            text
        }
        None => {
            let text = sum(0.0)?;
            ctx.keys.set_string(key, text.as_bytes(), None);
            text
        }
    };
    ctx.out.bulk(text.as_bytes());
    Ok(())
}

// ---- Editing -----------------------------------------------------------------

/// Refuses to grow a string past proto-max-bulk-len.
fn check_length(server: &Server, size: usize, append: usize) -> CmdResult {
    let max = server.config.read().proto_max_bulk_len;
    match size.checked_add(append) {
        Some(total) if total as u64 <= max => Ok(()),
        _ => Err(CmdError::Static(
            "ERR string exceeds maximum allowed size (proto-max-bulk-len)",
        )),
    }
}

fn append(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let (key, tail) = (argv.get(1), argv.get(2));
    let len = match ctx.keys.peek(key) {
        None => {
            ctx.keys.set_string(key, tail, None);
            tail.len()
        }
        Some(entry) => {
            let current = entry.string().ok_or(WRONGTYPE)?.len();
            check_length(ctx.server, current, tail.len())?;
            let value = entry.string_mut().expect("checked to be a string");
            value.extend_from_slice(tail);
            value.len()
        }
    };
    ctx.out.int(len as i64);
    Ok(())
}

fn strlen(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let len = match ctx.keys.get(argv.get(1)) {
        None => 0,
        Some(entry) => entry.string().ok_or(WRONGTYPE)?.len(),
    };
    ctx.out.int(len as i64);
    Ok(())
}

/// The bytes GETRANGE returns: inclusive `start..=end`, negative indexes
/// count from the end, clamped to the string.
fn substring(s: &[u8], start: i64, end: i64) -> &[u8] {
    if start < 0 && end < 0 && start > end {
        return &[];
    }
    let len = s.len() as i64;
    let start = if start < 0 { len + start } else { start }.max(0);
    let end = if end < 0 { len + end } else { end }.max(0).min(len - 1);
    if start > end || len == 0 {
        return &[];
    }
    &s[start as usize..=end as usize]
}

fn getrange(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let start = int_arg(argv.get(2))?;
    let end = int_arg(argv.get(3))?;
    match ctx.keys.get(argv.get(1)) {
        None => ctx.out.bulk(b""),
        Some(entry) => ctx
            .out
            .bulk(substring(entry.string().ok_or(WRONGTYPE)?, start, end)),
    }
    Ok(())
}

fn setrange(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let (key, patch) = (argv.get(1), argv.get(3));
    let offset = int_arg(argv.get(2))?;
    let offset =
        usize::try_from(offset).map_err(|_| CmdError::Static("ERR offset is out of range"))?;
    let len = match ctx.keys.peek(key) {
        // Writing nothing creates nothing.
        None if patch.is_empty() => 0,
        None => {
            check_length(ctx.server, offset, patch.len())?;
            let mut value = vec![0; offset + patch.len()];
            value[offset..].copy_from_slice(patch);
            let len = value.len();
            ctx.keys.set_object(key, Object::Raw(value), None);
            len
        }
        Some(entry) => {
            let current = entry.string().ok_or(WRONGTYPE)?.len();
            if patch.is_empty() {
                ctx.keys.unchanged(key);
                current
            } else {
                check_length(ctx.server, offset, patch.len())?;
                let value = entry.string_mut().expect("checked to be a string");
                let end = offset + patch.len();
                if value.len() < end {
                    value.resize(end, 0);
                }
                value[offset..end].copy_from_slice(patch);
                value.len()
            }
        }
    };
    ctx.out.int(len as i64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substring_follows_getrange_rules() {
        let s = b"This is a string";
        assert_eq!(substring(s, 0, 3), b"This");
        assert_eq!(substring(s, -3, -1), b"ing");
        assert_eq!(substring(s, 0, -1), s);
        assert_eq!(substring(s, 10, 100), b"string");
        assert_eq!(substring(s, -1, -5), b"");
        assert_eq!(substring(s, 5, 3), b"");
        assert_eq!(substring(s, i64::MIN, i64::MAX), s);
        assert_eq!(substring(b"", 0, -1), b"");
    }
}
