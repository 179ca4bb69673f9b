//! Set commands, and what the set and sorted-set commands share: reading
//! several keys at once, storing a result, SSCAN/ZSCAN arguments.

use slotcache_protocol::{Argv, Reply};

use super::{free_entry, glob_match, int_arg, is, CmdError, CmdResult, Ctx, SYNTAX, WRONGTYPE};
use crate::db::object::{Member, Set};
use crate::db::{Locked, Object};

pub const HANDLERS: &[(&str, super::Handler)] = &[
    ("sadd", sadd),
    ("srem", srem),
    ("smembers", smembers),
    ("sismember", sismember),
    ("smismember", smismember),
    ("scard", scard),
    ("spop", spop),
    ("srandmember", srandmember),
    ("smove", smove),
    ("sinter", sinter),
    ("sinterstore", sinterstore),
    ("sintercard", sintercard),
    ("sunion", sunion),
    ("sunionstore", sunionstore),
    ("sdiff", sdiff),
    ("sdiffstore", sdiffstore),
    ("sscan", sscan),
];

const NOT_POSITIVE: CmdError = CmdError::Static("ERR value is out of range, must be positive");
pub(super) const COUNT_RANGE: CmdError = CmdError::Static(
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
);

/// SPOP's and ZPOPMIN's count: anything but a non-negative integer is
/// out of range.
pub(super) fn positive_count(arg: &[u8]) -> Result<usize, CmdError> {
    super::parse_i64(arg)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or(NOT_POSITIVE)
}

/// The set at `key` for a read (counts a hit or a miss); None when absent.
fn read<'a>(keys: &'a mut Locked, key: &[u8]) -> Result<Option<&'a Set>, CmdError> {
    match keys.get(key) {
        None => Ok(None),
        Some(entry) => match entry.object() {
            Some(Object::Set(s)) => Ok(Some(s)),
            _ => Err(WRONGTYPE),
        },
    }
}

/// The set at `key` for a write; None when absent.
fn existing<'a>(keys: &'a mut Locked, key: &[u8]) -> Result<Option<&'a mut Set>, CmdError> {
    match keys.peek(key) {
        None => Ok(None),
        Some(entry) => match entry.object_mut() {
            Some(Object::Set(s)) => Ok(Some(s)),
            _ => Err(WRONGTYPE),
        },
    }
}

/// Removes `key` if the write emptied its collection (no type holds an
/// empty value in Redis).
pub(super) fn drop_if_empty(keys: &mut Locked, key: &[u8]) {
    if keys
        .peek(key)
        .and_then(|e| e.object())
        .is_some_and(|o| o.len() == 0)
    {
        keys.remove(key);
    }
}

/// Replaces `key` with `value` (without TTL), or deletes it when `value`
/// is empty, as the STORE commands do whatever the key held. Returns the
/// new length.
pub(super) fn store(keys: &mut Locked, key: &[u8], value: Object) -> usize {
    if let Some(old) = keys.remove(key) {
        free_entry(old);
    }
    let len = value.len();
    if len > 0 {
        keys.set_object(key, value, None);
    }
    len
}

/// Runs `f` over the objects of several keys at once (None for a missing
/// key), for commands that read them together (SINTER, ZUNIONSTORE …).
/// `Locked` lends one entry at a time, so the objects are moved out of
/// their entries and back afterwards; the command holds the keys' slots,
/// so nobody sees them gone. Every key is type-checked with `accepts`
/// first (and counts a hit or miss), as Redis looks them all up before
/// doing anything.
pub(super) fn with_objects<R>(
    keys: &mut Locked,
    names: &[&[u8]],
    accepts: impl Fn(&Object) -> bool,
    f: impl FnOnce(&[Option<&Object>]) -> R,
) -> Result<R, CmdError> {
    for name in names {
        if let Some(entry) = keys.get(name) {
            if !entry.object().is_some_and(&accepts) {
                return Err(WRONGTYPE);
            }
        }
    }
    // A key named twice is taken once: `at[i]` is where names[i]'s object went.
    let mut taken: Vec<(&[u8], Object)> = Vec::with_capacity(names.len());
    let mut at: Vec<Option<usize>> = Vec::with_capacity(names.len());
    for name in names {
        if let Some(i) = taken.iter().position(|(n, _)| n == name) {
            at.push(Some(i));
        } else if let Some(obj) = keys.peek(name).and_then(|e| e.object_mut()) {
            taken.push((name, std::mem::replace(obj, Object::Raw(Vec::new()))));
            at.push(Some(taken.len() - 1));
        } else {
            at.push(None);
        }
    }
    let objects: Vec<Option<&Object>> = at.iter().map(|i| i.map(|i| &taken[i].1)).collect();
    let result = f(&objects);
    drop(objects);
    for (name, obj) in taken {
        if let Some(slot) = keys.peek(name).and_then(|e| e.object_mut()) {
            *slot = obj;
        }
        keys.unchanged(name);
    }
    Ok(result)
}

pub(super) fn reply_member(out: &mut Reply, member: Member) {
    match member {
        Member::Int(n) => out.bulk_int(n),
        Member::Bytes(b) => out.bulk(b),
    }
}

/// A SCAN family cursor, read as Redis reads it (C's strtoul, base 10): an
/// optional sign, then digits; a minus wraps around, the empty string is 0,
/// spaces and overflow are refused. An unreadable one is an error before
/// anything else.
pub(super) fn scan_cursor(arg: &[u8]) -> Result<u64, CmdError> {
    let invalid = CmdError::Static("ERR invalid cursor");
    let (negative, digits) = match arg {
        [] => return Ok(0),
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, arg),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(invalid);
    }
    let value = std::str::from_utf8(digits)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or(invalid)?;
    Ok(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

/// SSCAN/ZSCAN's `[MATCH pattern] [COUNT count]`: the pattern (None for
/// `*`, which needs no matching) and the count.
pub(super) fn scan_options<'a>(argv: &Argv<'a>) -> Result<(Option<&'a [u8]>, usize), CmdError> {
    let (pattern, count, _) = scan_options_with(argv, false)?;
    Ok((pattern, count))
}

/// Parses `[MATCH pattern] [COUNT count]` from argv[3] on, and also
/// `NOVALUES` when `novalues_allowed` (HSCAN): (pattern, count, novalues).
pub(super) fn scan_options_with<'a>(
    argv: &Argv<'a>,
    novalues_allowed: bool,
) -> Result<(Option<&'a [u8]>, usize, bool), CmdError> {
    let (mut pattern, mut count, mut novalues) = (None, 10, false);
    let mut i = 3;
    while i < argv.len() {
        let opt = argv.get(i);
        if novalues_allowed && is(opt, "novalues") {
            novalues = true;
            i += 1;
            continue;
        }
        if i + 1 >= argv.len() {
            return Err(SYNTAX);
        }
        let value = argv.get(i + 1);
        if is(opt, "count") {
            count = usize::try_from(int_arg(value)?)
                .ok()
                .filter(|&c| c >= 1)
                .ok_or(SYNTAX)?;
        } else if is(opt, "match") {
            // `*` matches everything: skip the matching.
            pattern = (value != b"*").then_some(value);
        } else {
            return Err(SYNTAX);
        }
        i += 2;
    }
    Ok((pattern, count, novalues))
}

/// A scan reply's cursor and the header of its `items` elements.
pub(super) fn reply_scan_head(out: &mut Reply, cursor: u64, items: usize) {
    out.array(2);
    out.bulk(itoa::Buffer::new().format(cursor).as_bytes());
    out.array(items);
}

fn sadd(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let key = argv.get(1);
    let added = match existing(&mut ctx.keys, key)? {
        Some(s) => {
            let added = argv.tail(2).iter().filter(|m| s.insert(m)).count();
            if added == 0 {
                ctx.keys.unchanged(key);
            }
            added
        }
        None => {
            let mut s = Set::default();
            let added = argv.tail(2).iter().filter(|m| s.insert(m)).count();
            ctx.keys.set_object(key, Object::Set(s), None);
            added
        }
    };
    ctx.out.int(added as i64);
    Ok(())
}

fn srem(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let key = argv.get(1);
    let Some(s) = existing(&mut ctx.keys, key)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let removed = argv.tail(2).iter().filter(|m| s.remove(m)).count();
    drop_if_empty(&mut ctx.keys, key);
    if removed == 0 {
        ctx.keys.unchanged(key);
    }
    ctx.out.int(removed as i64);
    Ok(())
}

fn smembers(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let s = read(&mut ctx.keys, argv.get(1))?;
    ctx.out.set(s.map_or(0, |s| s.len()));
    for m in s.into_iter().flat_map(|s| s.iter()) {
        reply_member(&mut ctx.out, m);
    }
    Ok(())
}

fn sismember(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let found = read(&mut ctx.keys, argv.get(1))?.is_some_and(|s| s.contains(argv.get(2)));
    ctx.out.int(found as i64);
    Ok(())
}

fn smismember(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let s = read(&mut ctx.keys, argv.get(1))?;
    ctx.out.array(argv.len() - 2);
    for m in argv.tail(2).iter() {
        ctx.out.int(s.is_some_and(|s| s.contains(m)) as i64);
    }
    Ok(())
}

fn scard(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let len = read(&mut ctx.keys, argv.get(1))?.map_or(0, |s| s.len());
    ctx.out.int(len as i64);
    Ok(())
}

fn spop(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let count = match argv.len() {
        2 => None,
        3 => Some(positive_count(argv.get(2))?),
        _ => return Err(SYNTAX),
    };
    let key = argv.get(1);
    let mut rng = rand::thread_rng();
    let Some(s) = existing(&mut ctx.keys, key)? else {
        match count {
            None => ctx.out.null(),
            Some(_) => ctx.out.set(0),
        }
        return Ok(());
    };
    let Some(count) = count else {
        let member = s.random(&mut rng).to_vec();
        s.remove(&member);
        drop_if_empty(&mut ctx.keys, key);
        ctx.out.bulk(&member);
        return Ok(());
    };
    if count >= s.len() {
        // Everything: reply from the set, then drop it whole.
        ctx.out.set(s.len());
        for m in s.iter() {
            reply_member(&mut ctx.out, m);
        }
        if let Some(entry) = ctx.keys.remove(key) {
            free_entry(entry);
        }
        return Ok(());
    }
    let picked: Vec<Vec<u8>> = s
        .sample(&mut rng, count, true)
        .into_iter()
        .map(Member::to_vec)
        .collect();
    ctx.out.set(picked.len());
    for m in &picked {
        s.remove(m);
        ctx.out.bulk(m);
    }
    if picked.is_empty() {
        ctx.keys.unchanged(key);
    }
    Ok(())
}

fn srandmember(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let mut rng = rand::thread_rng();
    let count = match argv.len() {
        2 => None,
        3 => match int_arg(argv.get(2))? {
            i64::MIN => return Err(COUNT_RANGE),
            n => Some(n),
        },
        _ => return Err(SYNTAX),
    };
    let s = read(&mut ctx.keys, argv.get(1))?;
    let Some(count) = count else {
        match s {
            Some(s) => reply_member(&mut ctx.out, s.random(&mut rng)),
            None => ctx.out.null(),
        }
        return Ok(());
    };
    let Some(s) = s else {
        ctx.out.array(0);
        return Ok(());
    };
    let n = count.unsigned_abs() as usize;
    if count >= 0 && n >= s.len() {
        ctx.out.array(s.len());
        for m in s.iter() {
            reply_member(&mut ctx.out, m);
        }
        return Ok(());
    }
    // A negative count allows repeats: independent picks.
    let picked = s.sample(&mut rng, n, count >= 0);
    ctx.out.array(picked.len());
    for m in picked {
        reply_member(&mut ctx.out, m);
    }
    Ok(())
}

fn smove(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let (src, dst, member) = (argv.get(1), argv.get(2), argv.get(3));
    // As Redis: a missing source answers 0 before the destination's type
    // is looked at.
    if existing(&mut ctx.keys, src)?.is_none() {
        ctx.out.int(0);
        return Ok(());
    }
    existing(&mut ctx.keys, dst)?;
    let s = existing(&mut ctx.keys, src)?.expect("checked above");
    if src == dst || !s.remove(member) {
        ctx.out.int((src == dst && s.contains(member)) as i64);
        ctx.keys.unchanged(src);
        ctx.keys.unchanged(dst);
        return Ok(());
    }
    drop_if_empty(&mut ctx.keys, src);
    match existing(&mut ctx.keys, dst)? {
        Some(d) => {
            if !d.insert(member) {
                ctx.keys.unchanged(dst);
            }
        }
        None => {
            let mut d = Set::default();
            d.insert(member);
            ctx.keys.set_object(dst, Object::Set(d), None);
        }
    }
    ctx.out.int(1);
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Inter,
    Union,
    Diff,
}

/// The members of the intersection, at most `limit` (0: all): the smallest
/// set's members found in every other, as Redis computes it.
fn intersection<'a>(sets: &[Option<&'a Set>], limit: usize) -> Vec<Member<'a>> {
    let Some(mut sets) = sets.iter().copied().collect::<Option<Vec<&Set>>>() else {
        return Vec::new(); // a missing key is an empty set
    };
    sets.sort_by_key(|s| s.len());
    let limit = if limit == 0 { usize::MAX } else { limit };
    sets[0]
        .iter()
        .filter(|&m| sets[1..].iter().all(|s| s.contains_member(m)))
        .take(limit)
        .collect()
}

/// SUNION/SDIFF (and SINTER for a store): the result as a new set.
fn combine(sets: &[Option<&Set>], op: Op) -> Set {
    let mut result = Set::default();
    match op {
        Op::Inter => {
            for m in intersection(sets, 0) {
                result.insert_member(m);
            }
        }
        Op::Union => {
            for m in sets.iter().flatten().flat_map(|s| s.iter()) {
                result.insert_member(m);
            }
        }
        Op::Diff => {
            if let Some(first) = sets[0] {
                for m in first.iter() {
                    if !sets[1..].iter().flatten().any(|s| s.contains_member(m)) {
                        result.insert_member(m);
                    }
                }
            }
        }
    }
    result
}

fn is_set(o: &Object) -> bool {
    matches!(o, Object::Set(_))
}

fn as_sets<'a>(objects: &[Option<&'a Object>]) -> Vec<Option<&'a Set>> {
    objects
        .iter()
        .map(|o| match o {
            Some(Object::Set(s)) => Some(s),
            _ => None,
        })
        .collect()
}

/// SINTER, SUNION and SDIFF: the result as a set reply.
fn reply_op(ctx: &mut Ctx, argv: &Argv, op: Op) -> CmdResult {
    let names: Vec<&[u8]> = argv.tail(1).iter().collect();
    let out = &mut ctx.out;
    with_objects(&mut ctx.keys, &names, is_set, |objects| {
        let sets = as_sets(objects);
        if op == Op::Inter {
            // Straight from the sources: no result set is built.
            let members = intersection(&sets, 0);
            out.set(members.len());
            members.into_iter().for_each(|m| reply_member(out, m));
        } else {
            let result = combine(&sets, op);
            out.set(result.len());
            result.iter().for_each(|m| reply_member(out, m));
        }
    })
}

/// SINTERSTORE, SUNIONSTORE and SDIFFSTORE: the result replaces the
/// destination (deleted when empty); replies its size.
fn store_op(ctx: &mut Ctx, argv: &Argv, op: Op) -> CmdResult {
    let names: Vec<&[u8]> = argv.tail(2).iter().collect();
    let result = with_objects(&mut ctx.keys, &names, is_set, |objects| {
        combine(&as_sets(objects), op)
    })?;
    let len = store(&mut ctx.keys, argv.get(1), Object::Set(result));
    ctx.out.int(len as i64);
    Ok(())
}

fn sinter(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    reply_op(ctx, argv, Op::Inter)
}

fn sunion(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    reply_op(ctx, argv, Op::Union)
}

fn sdiff(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    reply_op(ctx, argv, Op::Diff)
}

fn sinterstore(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    store_op(ctx, argv, Op::Inter)
}

fn sunionstore(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    store_op(ctx, argv, Op::Union)
}

fn sdiffstore(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    store_op(ctx, argv, Op::Diff)
}

/// SINTERCARD's `numkeys` and the keys it counts, checked as Redis does.
fn numkeys<'a>(argv: &Argv<'a>) -> Result<Vec<&'a [u8]>, CmdError> {
    let n = super::parse_i64(argv.get(1))
        .filter(|&n| n > 0)
        .ok_or(CmdError::Static("ERR numkeys should be greater than 0"))? as u64;
    if n > argv.len() as u64 - 2 {
        return Err(CmdError::Static(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    Ok(argv.tail(2).iter().take(n as usize).collect())
}

/// `[LIMIT limit]` after the keys of SINTERCARD/ZINTERCARD (0: no limit).
pub(super) fn card_limit(argv: &Argv, from: usize) -> Result<usize, CmdError> {
    let mut limit = 0;
    let mut i = from;
    while i < argv.len() {
        if is(argv.get(i), "limit") && i + 1 < argv.len() {
            limit = super::parse_i64(argv.get(i + 1))
                .and_then(|n| usize::try_from(n).ok())
                .ok_or(CmdError::Static("ERR LIMIT can't be negative"))?;
            i += 2;
        } else {
            return Err(SYNTAX);
        }
    }
    Ok(limit)
}

fn sintercard(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let names = numkeys(argv)?;
    let limit = card_limit(argv, 2 + names.len())?;
    let count = with_objects(&mut ctx.keys, &names, is_set, |objects| {
        intersection(&as_sets(objects), limit).len()
    })?;
    ctx.out.int(count as i64);
    Ok(())
}

fn sscan(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let cursor = scan_cursor(argv.get(2))?;
    // As Redis: a missing key answers an empty scan before options are read.
    let Some(s) = read(&mut ctx.keys, argv.get(1))? else {
        reply_scan_head(&mut ctx.out, 0, 0);
        return Ok(());
    };
    let (pattern, count) = scan_options(argv)?;
    let mut found = Vec::new();
    let mut buf = itoa::Buffer::new();
    let next = s.scan(cursor, count, |m| {
        if pattern.is_none_or(|p| glob_match(p, m.bytes(&mut buf), false)) {
            found.push(m);
        }
    });
    reply_scan_head(&mut ctx.out, next, found.len());
    for m in found {
        reply_member(&mut ctx.out, m);
    }
    Ok(())
}
