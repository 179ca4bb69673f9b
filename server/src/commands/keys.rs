//! Generic key commands.

use bytes::BytesMut;
use slotcache_cluster::SLOT_COUNT;
use slotcache_protocol::{Argv, Reply};

use super::{
    free_entry, glob_match, int_arg, invalid_expire_time, is, CmdError, CmdResult, Ctx,
    NO_SUCH_KEY, SYNTAX,
};
use crate::db::{dump, Entry, Locked, Object, Value};

pub const HANDLERS: &[(&str, super::Handler)] = &[
    ("del", del),
    ("unlink", del),
    ("exists", exists),
    ("type", type_cmd),
    ("expire", expire),
    ("pexpire", pexpire),
    ("expireat", expireat),
    ("pexpireat", pexpireat),
    ("ttl", ttl),
    ("pttl", pttl),
    ("expiretime", expiretime),
    ("pexpiretime", pexpiretime),
    ("persist", persist),
    ("keys", keys),
    ("scan", scan),
    ("randomkey", randomkey),
    ("rename", rename),
    ("renamenx", renamenx),
    ("copy", copy),
    ("touch", touch),
];

/// A read that counts a keyspace hit or miss but leaves the key's LRU/LFU
/// alone, as Redis's LOOKUP_NOTOUCH (EXISTS, TYPE, TTL …).
fn inspect<T>(keys: &mut Locked, key: &[u8], f: impl FnOnce(&Entry) -> T) -> Option<T> {
    let found = keys.peek(key).map(|e| f(e));
    if found.is_some() {
        keys.hits += 1;
    } else {
        keys.misses += 1;
    }
    found
}

/// DEL and UNLINK: both free large values off the request path.
fn del(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let mut deleted = 0;
    for key in argv.iter().skip(1) {
        if let Some(entry) = ctx.keys.remove(key) {
            free_entry(entry);
            deleted += 1;
        }
    }
    ctx.out.int(deleted);
    Ok(())
}

fn exists(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    // A key named twice counts twice.
    let count = argv
        .iter()
        .skip(1)
        .filter(|key| inspect(&mut ctx.keys, key, |_| ()).is_some())
        .count();
    ctx.out.int(count as i64);
    Ok(())
}

fn type_cmd(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let name = inspect(&mut ctx.keys, argv.get(1), |e| e.type_name()).unwrap_or("none");
    ctx.out.simple(name);
    Ok(())
}

fn touch(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let count = argv
        .iter()
        .skip(1)
        .filter(|key| ctx.keys.get(key).is_some())
        .count();
    ctx.out.int(count as i64);
    Ok(())
}

// ---- Expiry ------------------------------------------------------------------

/// EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT with NX/XX/GT/LT. `unit_ms`:
/// milliseconds per unit of the argument; `relative`: add the current time.
/// A time already past deletes the key (and still answers 1).
fn expire_generic(ctx: &mut Ctx, argv: &Argv, unit_ms: i64, relative: bool) -> CmdResult {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for opt in argv.iter().skip(3) {
        if is(opt, "nx") {
            nx = true;
        } else if is(opt, "xx") {
            xx = true;
        } else if is(opt, "gt") {
            gt = true;
        } else if is(opt, "lt") {
            lt = true;
        } else {
            return Err(CmdError::Owned(format!(
                "ERR Unsupported option {}",
                String::from_utf8_lossy(opt)
            )));
        }
    }
    if nx && (xx || gt || lt) {
        return Err(CmdError::Static(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if gt && lt {
        return Err(CmdError::Static(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    let now = ctx.now() as i64;
    let base = if relative { now } else { 0 };
    // Negative times are allowed (they delete the key); overflow is not.
    let when = int_arg(argv.get(2))?
        .checked_mul(unit_ms)
        .and_then(|ms| ms.checked_add(base))
        .ok_or_else(|| invalid_expire_time(ctx.cmd.spec.name))?;
    let key = argv.get(1);
    let Some(entry) = ctx.keys.peek(key) else {
        ctx.out.int(0);
        return Ok(());
    };
    // A key without a TTL counts as expiring never: GT always fails on it.
    let current = entry.expire_at().map(|at| at as i64);
    let refused = (nx && current.is_some())
        || (xx && current.is_none())
        || (gt && current.is_none_or(|c| when <= c))
        || (lt && current.is_some_and(|c| when >= c));
    if refused {
        ctx.keys.unchanged(key);
        ctx.out.int(0);
        return Ok(());
    }
    if when <= now {
        if let Some(entry) = ctx.keys.remove(key) {
            free_entry(entry);
        }
    } else {
        ctx.keys.set_expire(key, Some(when as u64));
    }
    ctx.out.int(1);
    Ok(())
}

fn expire(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    expire_generic(ctx, argv, 1000, true)
}

fn pexpire(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    expire_generic(ctx, argv, 1, true)
}

fn expireat(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    expire_generic(ctx, argv, 1000, false)
}

fn pexpireat(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    expire_generic(ctx, argv, 1, false)
}

/// TTL, PTTL, EXPIRETIME and PEXPIRETIME: -2 for no key, -1 for no TTL;
/// seconds are rounded to the nearest.
fn ttl_generic(ctx: &mut Ctx, argv: &Argv, in_ms: bool, absolute: bool) -> CmdResult {
    let now = ctx.now();
    let reply = match inspect(&mut ctx.keys, argv.get(1), |e| e.expire_at()) {
        None => -2,
        Some(None) => -1,
        Some(Some(at)) => {
            let ms = if absolute { at } else { at.saturating_sub(now) };
            if in_ms {
                ms as i64
            } else {
                ((ms + 500) / 1000) as i64
            }
        }
    };
    ctx.out.int(reply);
    Ok(())
}

fn ttl(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    ttl_generic(ctx, argv, false, false)
}

fn pttl(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    ttl_generic(ctx, argv, true, false)
}

fn expiretime(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    ttl_generic(ctx, argv, false, true)
}

fn pexpiretime(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    ttl_generic(ctx, argv, true, true)
}

fn persist(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let key = argv.get(1);
    let had_ttl = ctx.keys.peek(key).is_some_and(|e| e.expire_at().is_some());
    if had_ttl {
        ctx.keys.set_expire(key, None);
    } else {
        ctx.keys.unchanged(key);
    }
    ctx.out.int(had_ttl as i64);
    Ok(())
}

// ---- Walking the keyspace ----------------------------------------------------

/// Appends the live keys of `slot` that pass the filters to `out` as bulk
/// strings; returns (keys examined, keys written). Locks only that slot.
fn collect_slot(
    ctx: &Ctx,
    slot: usize,
    pattern: Option<&[u8]>,
    type_name: Option<&[u8]>,
    out: &mut Reply,
) -> (usize, usize) {
    let now = ctx.now();
    let slot = ctx.server.db.lock_slot(slot);
    let mut written = 0;
    for entry in slot.iter().filter(|e| !e.is_expired(now)) {
        if pattern.is_some_and(|p| !glob_match(p, entry.key(), false))
            || type_name.is_some_and(|t| !t.eq_ignore_ascii_case(entry.type_name().as_bytes()))
        {
            continue;
        }
        out.bulk(entry.key());
        written += 1;
    }
    (slot.len(), written)
}

/// A MATCH pattern that matches everything needs no matching.
fn pattern_filter(pattern: &[u8]) -> Option<&[u8]> {
    (pattern != b"*").then_some(pattern)
}

fn keys(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let pattern = pattern_filter(argv.get(1));
    // Keys are encoded into a side buffer as found: the count comes first.
    let mut body = BytesMut::new();
    let mut count = 0;
    let mut out = Reply::new(&mut body, ctx.out.resp3());
    for slot in 0..SLOT_COUNT {
        count += collect_slot(ctx, slot, pattern, None, &mut out).1;
    }
    ctx.out.array(count);
    ctx.out.raw(&body);
    Ok(())
}

/// SCAN's cursor is the next slot to visit. Whole slots are returned until
/// COUNT keys were examined, so every key present for the whole iteration
/// is returned, whatever the tables do in between; 0 means all slots seen.
fn scan(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let cursor = super::t_set::scan_cursor(argv.get(1))?;
    let (mut pattern, mut type_name, mut count) = (None, None, 10usize);
    let mut i = 2;
    while i < argv.len() {
        if i + 1 >= argv.len() {
            return Err(SYNTAX);
        }
        let (opt, value) = (argv.get(i), argv.get(i + 1));
        if is(opt, "count") {
            count = usize::try_from(int_arg(value)?)
                .ok()
                .filter(|&c| c >= 1)
                .ok_or(SYNTAX)?;
        } else if is(opt, "match") {
            pattern = pattern_filter(value);
        } else if is(opt, "type") {
            type_name = Some(value);
        } else {
            return Err(SYNTAX);
        }
        i += 2;
    }
    let mut body = BytesMut::new();
    let mut out = Reply::new(&mut body, ctx.out.resp3());
    let (mut examined, mut written) = (0, 0);
    let mut slot = cursor.min(SLOT_COUNT as u64) as usize;
    while slot < SLOT_COUNT && examined < count {
        let (seen, kept) = collect_slot(ctx, slot, pattern, type_name, &mut out);
        examined += seen;
        written += kept;
        slot += 1;
    }
    let next = if slot >= SLOT_COUNT { 0 } else { slot };
    ctx.out.array(2);
    ctx.out.bulk_int(next as i64);
    ctx.out.array(written);
    ctx.out.raw(&body);
    Ok(())
}

fn randomkey(ctx: &mut Ctx, _argv: &Argv) -> CmdResult {
    match ctx.server.db.random_key(ctx.now()) {
        Some(key) => ctx.out.bulk(&key),
        None => ctx.out.null(),
    }
    Ok(())
}

// ---- Renaming ----------------------------------------------------------------

/// RENAME and RENAMENX: the value, its TTL and its LRU/LFU move to the new
/// name; an existing destination is replaced (RENAME) or kept (RENAMENX).
fn rename_generic(ctx: &mut Ctx, argv: &Argv, nx: bool) -> CmdResult {
    let (from, to) = (argv.get(1), argv.get(2));
    if !ctx.keys.exists(from) {
        return Err(NO_SUCH_KEY);
    }
    let refused = from == to || (nx && ctx.keys.exists(to));
    if refused {
        if nx {
            ctx.out.int(0);
        } else {
            ctx.out.ok();
        }
        return Ok(());
    }
    let mut entry = ctx.keys.remove(from).expect("checked to exist");
    let (expire_at, access) = (entry.expire_at(), entry.access());
    // The key is stored inside the entry, so the entry is rebuilt; an
    // object moves over without copying.
    let moved = match entry.object_mut() {
        Some(obj) => {
            let obj = std::mem::replace(obj, Object::Raw(Vec::new()));
            Entry::new_object(to, obj, expire_at, access)
        }
        None => Entry::new_string(to, entry.string().unwrap_or_default(), expire_at, access),
    };
    if let Some(replaced) = ctx.keys.insert(moved) {
        free_entry(replaced);
    }
    if nx {
        ctx.out.int(1);
    } else {
        ctx.out.ok();
    }
    Ok(())
}

/// COPY source destination [DB db] [REPLACE]: the value and its TTL under
/// a second name, with a fresh LRU/LFU as a new object has in Redis. The
/// node has one database, so DB can only name it.
fn copy(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let (from, to) = (argv.get(1), argv.get(2));
    let mut replace = false;
    let mut i = 3;
    while i < argv.len() {
        if is(argv.get(i), "replace") {
            replace = true;
        } else if is(argv.get(i), "db") && i + 1 < argv.len() {
            i += 1;
            let db = int_arg(argv.get(i))?;
            if i32::try_from(db).is_err() {
                return Err(CmdError::Static(
                    "ERR value is out of range, value must between -2147483648 and 2147483647",
                ));
            }
            if db != 0 {
                return Err(if ctx.server.cluster.is_some() && (0..16).contains(&db) {
                    CmdError::Static(
                        "ERR Copying to another database is not allowed in cluster mode",
                    )
                } else {
                    CmdError::Static("ERR DB index is out of range")
                });
            }
        } else {
            return Err(SYNTAX);
        }
        i += 1;
    }
    if from == to {
        return Err(CmdError::Static(
            "ERR source and destination objects are the same",
        ));
    }
    if ctx.keys.get(from).is_none() || (!replace && ctx.keys.exists(to)) {
        ctx.out.int(0);
        return Ok(());
    }
    let access = ctx.server.db.access.fresh();
    let source = ctx.keys.peek(from).expect("checked to exist");
    let expire_at = source.expire_at();
    let copied = match (source.value(), source.object()) {
        (Value::Str(s), None) => Entry::new_string(to, s, expire_at, access),
        // An edited string stays one (OBJECT ENCODING raw).
        (Value::Str(s), Some(_)) => {
            Entry::new_object(to, Object::Raw(s.to_vec()), expire_at, access)
        }
        // Through DUMP's format: one way to walk every kind of value.
        (Value::Obj(obj), _) => match dump::load(&dump::dump(Value::Obj(obj))) {
            Ok(obj) => Entry::new_object(to, obj, expire_at, access),
            Err(_) => return Err(CmdError::Static("ERR Bad data format")),
        },
    };
    if let Some(replaced) = ctx.keys.insert(copied) {
        free_entry(replaced);
    }
    ctx.out.int(1);
    Ok(())
}

fn rename(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    rename_generic(ctx, argv, false)
}

fn renamenx(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    rename_generic(ctx, argv, true)
}
