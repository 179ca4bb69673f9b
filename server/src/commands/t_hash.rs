//! Hash commands.

use rand::Rng;
use slotcache_protocol::{Argv, Reply};

use super::{
    float_arg, format_float, glob_match, int_arg, is, parse_f64, parse_i64, CmdError, CmdResult,
    Ctx, OVERFLOW, SYNTAX, WRONGTYPE,
};
use crate::db::object::Hash;
use crate::db::{Locked, Object};

pub const HANDLERS: &[(&str, super::Handler)] = &[
    ("hset", hset),
    ("hsetnx", hsetnx),
    ("hget", hget),
    ("hmget", hmget),
    ("hmset", hmset),
    ("hdel", hdel),
    ("hlen", hlen),
    ("hexists", hexists),
    ("hgetall", hgetall),
    ("hkeys", hkeys),
    ("hvals", hvals),
    ("hincrby", hincrby),
    ("hincrbyfloat", hincrbyfloat),
    ("hstrlen", hstrlen),
    ("hscan", hscan),
    ("hrandfield", hrandfield),
];

const HASH_NOT_INTEGER: CmdError = CmdError::Static("ERR hash value is not an integer");
const HASH_NOT_FLOAT: CmdError = CmdError::Static("ERR hash value is not a float");

/// The hash at `key` for a read (counts a hit or a miss); None when absent.
fn read<'a>(keys: &'a mut Locked, key: &[u8]) -> Result<Option<&'a Hash>, CmdError> {
    match keys.get(key) {
        None => Ok(None),
        Some(entry) => match entry.object() {
            Some(Object::Hash(h)) => Ok(Some(h)),
            _ => Err(WRONGTYPE),
        },
    }
}

/// The hash at `key` for a write; None when absent.
fn existing<'a>(keys: &'a mut Locked, key: &[u8]) -> Result<Option<&'a mut Hash>, CmdError> {
    match keys.peek(key) {
        None => Ok(None),
        Some(entry) => match entry.object_mut() {
            Some(Object::Hash(h)) => Ok(Some(h)),
            _ => Err(WRONGTYPE),
        },
    }
}

/// The hash at `key` for a write, created empty when absent: callers check
/// their arguments first, as a hash must never be left empty.
fn existing_or_new<'a>(keys: &'a mut Locked, key: &[u8]) -> Result<&'a mut Hash, CmdError> {
    if !keys.exists(key) {
        keys.set_object(key, Object::Hash(Hash::default()), None);
    }
    Ok(existing(keys, key)?.expect("the hash exists now"))
}

/// HSET and HMSET: sets every field/value pair, returns how many were new.
fn set_pairs(ctx: &mut Ctx, argv: &Argv) -> Result<i64, CmdError> {
    if !argv.len().is_multiple_of(2) {
        return Err(CmdError::Owned(format!(
            "ERR wrong number of arguments for '{}' command",
            ctx.cmd.spec.name
        )));
    }
    let h = existing_or_new(&mut ctx.keys, argv.get(1))?;
    let mut added = 0;
    for i in (2..argv.len()).step_by(2) {
        added += h.set(argv.get(i), argv.get(i + 1)) as i64;
    }
    Ok(added)
}

fn hset(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let added = set_pairs(ctx, argv)?;
    ctx.out.int(added);
    Ok(())
}

fn hmset(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    set_pairs(ctx, argv)?;
    ctx.out.ok();
    Ok(())
}

fn hsetnx(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let h = existing_or_new(&mut ctx.keys, argv.get(1))?;
    let set = h.set_if_absent(argv.get(2), argv.get(3));
    if !set {
        ctx.keys.unchanged(argv.get(1));
    }
    ctx.out.int(set as i64);
    Ok(())
}

fn hget(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    match read(&mut ctx.keys, argv.get(1))?.and_then(|h| h.get(argv.get(2))) {
        Some(value) => ctx.out.bulk(value),
        None => ctx.out.null(),
    }
    Ok(())
}

fn hmget(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let h = read(&mut ctx.keys, argv.get(1))?;
    ctx.out.array(argv.len() - 2);
    for field in argv.tail(2).iter() {
        match h.and_then(|h| h.get(field)) {
            Some(value) => ctx.out.bulk(value),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

fn hdel(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let key = argv.get(1);
    let Some(h) = existing(&mut ctx.keys, key)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let removed = argv.tail(2).iter().filter(|f| h.remove(f)).count();
    if h.is_empty() {
        ctx.keys.remove(key);
    }
    if removed == 0 {
        ctx.keys.unchanged(key);
    }
    ctx.out.int(removed as i64);
    Ok(())
}

fn hlen(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let len = read(&mut ctx.keys, argv.get(1))?.map_or(0, |h| h.len());
    ctx.out.int(len as i64);
    Ok(())
}

fn hexists(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let found = read(&mut ctx.keys, argv.get(1))?.is_some_and(|h| h.contains(argv.get(2)));
    ctx.out.int(found as i64);
    Ok(())
}

fn hstrlen(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let len = read(&mut ctx.keys, argv.get(1))?
        .and_then(|h| h.get(argv.get(2)))
        .map_or(0, |v| v.len());
    ctx.out.int(len as i64);
    Ok(())
}

/// HGETALL, HKEYS and HVALS: the whole hash, straight from the table.
fn reply_all(ctx: &mut Ctx, key: &[u8], fields: bool, values: bool) -> CmdResult {
    let h = read(&mut ctx.keys, key)?;
    let len = h.map_or(0, |h| h.len());
    if fields && values {
        ctx.out.map(len);
    } else {
        ctx.out.array(len);
    }
    for (f, v) in h.into_iter().flat_map(|h| h.iter()) {
        if fields {
            ctx.out.bulk(f);
        }
        if values {
            ctx.out.bulk(v);
        }
    }
    Ok(())
}

fn hgetall(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    reply_all(ctx, argv.get(1), true, true)
}

fn hkeys(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    reply_all(ctx, argv.get(1), true, false)
}

fn hvals(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    reply_all(ctx, argv.get(1), false, true)
}

/// HINCRBY and HINCRBYFLOAT: `step` turns the field's current value (None
/// when absent, which counts as 0) into the new one, which is stored and
/// returned for the reply.
fn incr_field(
    keys: &mut Locked,
    argv: &Argv,
    step: impl FnOnce(Option<&[u8]>) -> Result<String, CmdError>,
) -> Result<String, CmdError> {
    let h = existing_or_new(keys, argv.get(1))?;
    let field = argv.get(2);
    let new = step(h.get(field))?;
    h.set(field, new.as_bytes());
    Ok(new)
}

fn hincrby(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let by = int_arg(argv.get(3))?;
    let mut result = 0;
    // An absent field is 0 and 0 + by cannot overflow, so a new hash is
    // never left empty by an error.
    incr_field(&mut ctx.keys, argv, |old| {
        let old = old.map_or(Some(0), parse_i64).ok_or(HASH_NOT_INTEGER)?;
        result = old.checked_add(by).ok_or(OVERFLOW)?;
        Ok(itoa::Buffer::new().format(result).to_owned())
    })?;
    ctx.out.int(result);
    Ok(())
}

fn hincrbyfloat(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let by = float_arg(argv.get(3))?;
    if !by.is_finite() {
        return Err(CmdError::Static("ERR value is NaN or Infinity"));
    }
    let text = incr_field(&mut ctx.keys, argv, |old| {
        let old = old.map_or(Some(0.0), parse_f64).ok_or(HASH_NOT_FLOAT)?;
        let sum = old + by;
        if !sum.is_finite() {
            return Err(CmdError::Static(
                "ERR increment would produce NaN or Infinity",
            ));
        }
        Ok(format_float(sum))
    })?;
    ctx.out.bulk(text.as_bytes());
    Ok(())
}

fn hscan(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let cursor = super::t_set::scan_cursor(argv.get(2))?;
    // As Redis: a missing key answers an empty scan before options are read.
    let Some(h) = read(&mut ctx.keys, argv.get(1))? else {
        ctx.out.array(2);
        ctx.out.bulk(b"0");
        ctx.out.array(0);
        return Ok(());
    };
    let (pattern, count, novalues) = super::t_set::scan_options_with(argv, true)?;
    let values = !novalues;
    let mut found = Vec::new();
    let next = h.scan(cursor, count, |f, v| {
        if pattern.is_none_or(|p| glob_match(p, f, false)) {
            found.push((f, v));
        }
    });
    ctx.out.array(2);
    ctx.out.bulk(itoa::Buffer::new().format(next).as_bytes());
    ctx.out.array(found.len() * (1 + values as usize));
    for (f, v) in found {
        ctx.out.bulk(f);
        if values {
            ctx.out.bulk(v);
        }
    }
    Ok(())
}

/// One HRANDFIELD element: a field, or with values a pair (an array of two
/// under RESP3, two flat items under RESP2).
fn reply_random(out: &mut Reply, (field, value): (&[u8], &[u8]), with_values: bool) {
    if with_values && out.resp3() {
        out.array(2);
    }
    out.bulk(field);
    if with_values {
        out.bulk(value);
    }
}

fn hrandfield(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let mut rng = rand::thread_rng();
    if argv.len() == 2 {
        match read(&mut ctx.keys, argv.get(1))? {
            Some(h) => ctx.out.bulk(h.positions().get(rng.gen_range(0..h.len())).0),
            None => ctx.out.null(),
        }
        return Ok(());
    }
    let count = int_arg(argv.get(2))?;
    if count == i64::MIN {
        return Err(CmdError::Static("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"));
    }
    let with_values = match argv.len() {
        3 => false,
        4 if is(argv.get(3), "withvalues") => true,
        _ => return Err(SYNTAX),
    };
    // Redis's bound, so that the reply length (count * 2) cannot overflow.
    if with_values && count.unsigned_abs() > (i64::MAX / 2) as u64 {
        return Err(CmdError::Static("ERR value is out of range"));
    }
    let Some(h) = read(&mut ctx.keys, argv.get(1))? else {
        ctx.out.array(0);
        return Ok(());
    };
    let len = h.len();
    let n = count.unsigned_abs() as usize;
    // RESP2 flattens pairs into the array.
    let per_item = if with_values && !ctx.out.resp3() {
        2
    } else {
        1
    };
    if count >= 0 && n >= len {
        ctx.out.array(per_item * len);
        for pair in h.iter() {
            reply_random(&mut ctx.out, pair, with_values);
        }
        return Ok(());
    }
    let positions = h.positions();
    ctx.out.array(per_item * n);
    if count < 0 {
        // Repeats allowed: independent picks.
        for _ in 0..n {
            reply_random(
                &mut ctx.out,
                positions.get(rng.gen_range(0..len)),
                with_values,
            );
        }
    } else {
        for pos in h.distinct_positions(&mut rng, n) {
            reply_random(&mut ctx.out, positions.get(pos), with_values);
        }
    }
    Ok(())
}
