//! List commands, the blocking pops included (their waiting is in
//! `crate::blocking`). A list is never left empty: the command that takes
//! its last element deletes the key, as in Redis.

use slotcache_protocol::{Argv, Reply};

use super::{int_arg, is, parse_i64, CmdError, CmdResult, Ctx, NO_SUCH_KEY, SYNTAX, WRONGTYPE};
use crate::blocking;
use crate::db::object::{End, List};
use crate::db::{Locked, Object};

pub const HANDLERS: &[(&str, super::Handler)] = &[
    ("lpush", lpush),
    ("rpush", rpush),
    ("lpushx", lpushx),
    ("rpushx", rpushx),
    ("lpop", lpop),
    ("rpop", rpop),
    ("llen", llen),
    ("lrange", lrange),
    ("lindex", lindex),
    ("lset", lset),
    ("linsert", linsert),
    ("lrem", lrem),
    ("ltrim", ltrim),
    ("lpos", lpos),
    ("lmove", lmove),
    ("rpoplpush", rpoplpush),
    ("blpop", blpop),
    ("lmpop", lmpop),
    ("blmpop", blmpop),
    ("brpop", brpop),
    ("blmove", blmove),
    ("brpoplpush", brpoplpush),
];

/// The list at `key` for a read (counts a hit or a miss); None when absent.
fn read<'a>(keys: &'a mut Locked, key: &[u8]) -> Result<Option<&'a List>, CmdError> {
    match keys.get(key) {
        None => Ok(None),
        Some(entry) => match entry.object() {
            Some(Object::List(l)) => Ok(Some(l)),
            _ => Err(WRONGTYPE),
        },
    }
}

/// The list at `key` for a write; None when absent (never empty).
fn existing<'a>(keys: &'a mut Locked, key: &[u8]) -> Result<Option<&'a mut List>, CmdError> {
    match keys.peek(key) {
        None => Ok(None),
        Some(entry) => match entry.object_mut() {
            Some(Object::List(l)) => Ok(Some(l)),
            _ => Err(WRONGTYPE),
        },
    }
}

/// Pushes onto the list at `key`, creating it if absent; returns the length.
fn push_to<'v>(
    keys: &mut Locked,
    key: &[u8],
    end: End,
    values: impl IntoIterator<Item = &'v [u8]>,
) -> Result<usize, CmdError> {
    if let Some(list) = existing(keys, key)? {
        values.into_iter().for_each(|v| list.push(end, v));
        return Ok(list.len());
    }
    let mut list = List::default();
    values.into_iter().for_each(|v| list.push(end, v));
    let len = list.len();
    keys.set_object(key, Object::List(list), None);
    Ok(len)
}

/// LEFT or RIGHT.
fn end_arg(arg: &[u8]) -> Result<End, CmdError> {
    if is(arg, "left") {
        Ok(End::Head)
    } else if is(arg, "right") {
        Ok(End::Tail)
    } else {
        Err(SYNTAX)
    }
}

/// A possibly negative index into a list of `len`, if it falls inside.
fn index(len: usize, i: i64) -> Option<usize> {
    let i = if i < 0 { len as i64 + i } else { i };
    (0..len as i64).contains(&i).then_some(i as usize)
}

/// LRANGE/LTRIM's `start stop`, clamped to the list: None when empty.
fn range(len: usize, start: i64, stop: i64) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let stop = if stop < 0 { len + stop } else { stop };
    if start > stop || start >= len {
        return None;
    }
    Some((start as usize, stop.min(len - 1) as usize))
}

// ---- Push and pop ------------------------------------------------------------

/// LPUSH, RPUSH, and with `only_existing` LPUSHX and RPUSHX.
fn push(ctx: &mut Ctx, argv: &Argv, end: End, only_existing: bool) -> CmdResult {
    let key = argv.get(1);
    let len = if only_existing && !ctx.keys.exists(key) {
        0
    } else {
        push_to(&mut ctx.keys, key, end, argv.tail(2).iter())?
    };
    ctx.out.int(len as i64);
    Ok(())
}

fn lpush(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    push(ctx, argv, End::Head, false)
}

fn rpush(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    push(ctx, argv, End::Tail, false)
}

fn lpushx(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    push(ctx, argv, End::Head, true)
}

fn rpushx(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    push(ctx, argv, End::Tail, true)
}

/// LPOP and RPOP: one element as a bulk string, or with a count an array
/// of up to that many, in the order they were popped.
fn pop(ctx: &mut Ctx, argv: &Argv, end: End) -> CmdResult {
    let count = match argv.len() {
        2 => None,
        3 => Some(
            parse_i64(argv.get(2))
                .and_then(|n| usize::try_from(n).ok())
                .ok_or(CmdError::Static(
                    "ERR value is out of range, must be positive",
                ))?,
        ),
        _ => {
            return Err(CmdError::Owned(format!(
                "ERR wrong number of arguments for '{}' command",
                ctx.cmd.spec.name
            )))
        }
    };
    let key = argv.get(1);
    let Some(list) = existing(&mut ctx.keys, key)? else {
        match count {
            Some(_) => ctx.out.null_array(),
            None => ctx.out.null(),
        }
        return Ok(());
    };
    let out = &mut ctx.out;
    let popped = match count {
        None => {
            list.pop_with(end, |v| out.bulk(v));
            1
        }
        Some(n) => {
            let n = n.min(list.len());
            out.array(n);
            for _ in 0..n {
                list.pop_with(end, |v| out.bulk(v));
            }
            n
        }
    };
    if list.is_empty() {
        ctx.keys.remove(key);
    }
    if popped == 0 {
        ctx.keys.unchanged(key);
    }
    Ok(())
}

fn lpop(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    pop(ctx, argv, End::Head)
}

fn rpop(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    pop(ctx, argv, End::Tail)
}

// ---- Reading -----------------------------------------------------------------

fn llen(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let len = read(&mut ctx.keys, argv.get(1))?.map_or(0, |l| l.len());
    ctx.out.int(len as i64);
    Ok(())
}

fn lrange(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let (start, stop) = (int_arg(argv.get(2))?, int_arg(argv.get(3))?);
    let list = read(&mut ctx.keys, argv.get(1))?;
    match list.and_then(|l| range(l.len(), start, stop).map(|r| (l, r))) {
        None => ctx.out.array(0),
        Some((list, (start, stop))) => {
            ctx.out.array(stop - start + 1);
            for v in list.range(start, stop) {
                ctx.out.bulk(v);
            }
        }
    }
    Ok(())
}

fn lindex(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let Some(list) = read(&mut ctx.keys, argv.get(1))? else {
        ctx.out.null();
        return Ok(());
    };
    let i = int_arg(argv.get(2))?;
    match index(list.len(), i).and_then(|i| list.get(i)) {
        Some(v) => ctx.out.bulk(v),
        None => ctx.out.null(),
    }
    Ok(())
}

/// LPOS key element [RANK rank] [COUNT num] [MAXLEN len]: without COUNT
/// the index of the match (or null), with it an array of indexes.
fn lpos(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let (mut rank, mut count, mut maxlen) = (1i64, None, 0usize);
    let mut i = 3;
    while i < argv.len() {
        if i + 1 >= argv.len() {
            return Err(SYNTAX);
        }
        let (opt, value) = (argv.get(i), argv.get(i + 1));
        let non_negative = |msg| {
            parse_i64(value)
                .and_then(|n| usize::try_from(n).ok())
                .ok_or(CmdError::Static(msg))
        };
        if is(opt, "rank") {
            // Redis 7.0 takes i64::MIN too (7.2 refuses it): no list has
            // that many matches, so it finds what the next rank finds.
            rank = int_arg(value)?.max(-i64::MAX);
            if rank == 0 {
                return Err(CmdError::Static("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list"));
            }
        } else if is(opt, "count") {
            count = Some(non_negative("ERR COUNT can't be negative")?);
        } else if is(opt, "maxlen") {
            maxlen = non_negative("ERR MAXLEN can't be negative")?;
        } else {
            return Err(SYNTAX);
        }
        i += 2;
    }
    let Some(list) = read(&mut ctx.keys, argv.get(1))? else {
        match count {
            Some(_) => ctx.out.array(0),
            None => ctx.out.null(),
        }
        return Ok(());
    };
    let element = argv.get(2);
    let len = list.len();
    let scan = if maxlen == 0 { len } else { maxlen.min(len) };
    // A negative rank scans, and counts matches, from the tail.
    let from_tail = rank < 0;
    let mut found = (0..scan)
        .map(|i| if from_tail { len - 1 - i } else { i })
        .filter(|&i| list.get(i) == Some(element))
        .skip(rank.unsigned_abs() as usize - 1);
    match count {
        None => match found.next() {
            Some(i) => ctx.out.int(i as i64),
            None => ctx.out.null(),
        },
        Some(n) => {
            let n = if n == 0 { usize::MAX } else { n };
            let hits: Vec<usize> = found.take(n).collect();
            ctx.out.array(hits.len());
            for i in hits {
                ctx.out.int(i as i64);
            }
        }
    }
    Ok(())
}

// ---- Changing elements -------------------------------------------------------

fn lset(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let Some(list) = existing(&mut ctx.keys, argv.get(1))? else {
        return Err(NO_SUCH_KEY);
    };
    let i = int_arg(argv.get(2))?;
    match index(list.len(), i) {
        Some(i) => list.set(i, argv.get(3)),
        None => return Err(CmdError::Static("ERR index out of range")),
    };
    ctx.out.ok();
    Ok(())
}

fn linsert(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let after = if is(argv.get(2), "after") {
        true
    } else if is(argv.get(2), "before") {
        false
    } else {
        return Err(SYNTAX);
    };
    let key = argv.get(1);
    let Some(list) = existing(&mut ctx.keys, key)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let pivot = argv.get(3);
    let found = list.iter().position(|v| v == pivot);
    match found {
        Some(at) => {
            list.insert(at + after as usize, argv.get(4));
            ctx.out.int(list.len() as i64);
        }
        None => {
            ctx.out.int(-1);
            ctx.keys.unchanged(key);
        }
    }
    Ok(())
}

/// LREM key count element: count > 0 removes the first `count` matches,
/// < 0 the last, 0 all of them.
fn lrem(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let count = int_arg(argv.get(2))?;
    let key = argv.get(1);
    let Some(list) = existing(&mut ctx.keys, key)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let from = if count < 0 { End::Tail } else { End::Head };
    let removed = list.remove_matching(argv.get(3), count.unsigned_abs() as usize, from);
    if list.is_empty() {
        ctx.keys.remove(key);
    }
    if removed == 0 {
        ctx.keys.unchanged(key);
    }
    ctx.out.int(removed as i64);
    Ok(())
}

fn ltrim(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let (start, stop) = (int_arg(argv.get(2))?, int_arg(argv.get(3))?);
    let key = argv.get(1);
    if let Some(list) = existing(&mut ctx.keys, key)? {
        list.trim(range(list.len(), start, stop));
        if list.is_empty() {
            ctx.keys.remove(key);
        }
    }
    ctx.out.ok();
    Ok(())
}

// ---- Moving between lists ----------------------------------------------------

/// Pops from `src` at `from`, pushes onto `dst` at `to` and replies with
/// the element; false, with nothing replied, when `src` is empty. `dst`'s
/// type is checked before anything moves.
fn move_element(
    keys: &mut Locked,
    out: &mut Reply,
    (src, from): (&[u8], End),
    (dst, to): (&[u8], End),
) -> Result<bool, CmdError> {
    if existing(keys, src)?.is_none() {
        return Ok(false);
    }
    if src != dst {
        existing(keys, dst)?;
    }
    let list = existing(keys, src)?.expect("checked above");
    let value = list
        .pop_with(from, |v| {
            out.bulk(v);
            v.to_vec()
        })
        .expect("lists are never empty");
    if src == dst {
        list.push(to, &value);
        return Ok(true);
    }
    if list.is_empty() {
        keys.remove(src);
    }
    push_to(keys, dst, to, [&value[..]])?;
    Ok(true)
}

fn lmove_generic(ctx: &mut Ctx, argv: &Argv, from: End, to: End) -> CmdResult {
    let (src, dst) = (argv.get(1), argv.get(2));
    if !move_element(&mut ctx.keys, &mut ctx.out, (src, from), (dst, to))? {
        ctx.out.null();
    }
    Ok(())
}

fn lmove(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let (from, to) = move_ends(argv)?;
    lmove_generic(ctx, argv, from, to)
}

fn rpoplpush(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    lmove_generic(ctx, argv, End::Tail, End::Head)
}

// ---- Blocking ----------------------------------------------------------------

/// Pops one element of the list at `key`, if there is one, replying
/// [key, element] (BLPOP, BRPOP).
fn pop_with_key(
    keys: &mut Locked,
    out: &mut Reply,
    key: &[u8],
    end: End,
) -> Result<bool, CmdError> {
    let Some(list) = existing(keys, key)? else {
        return Ok(false);
    };
    out.array(2);
    out.bulk(key);
    list.pop_with(end, |v| out.bulk(v));
    if list.is_empty() {
        keys.remove(key);
    }
    Ok(true)
}

/// BLPOP and BRPOP key [key …] timeout: pop from the first non-empty key
/// and reply [key, element]; with all empty, block.
fn blpop(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    blocking::pop_first_then_wait(ctx, argv, "list", |keys, out, _, key| {
        pop_with_key(keys, out, key, End::Head)
    })
}

fn brpop(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    blocking::pop_first_then_wait(ctx, argv, "list", |keys, out, _, key| {
        pop_with_key(keys, out, key, End::Tail)
    })
}

const NUMKEYS: CmdError = CmdError::Static("ERR numkeys should be greater than 0");
const COUNT_NOT_POSITIVE: CmdError = CmdError::Static("ERR count should be greater than 0");

/// LMPOP's and ZMPOP's `numkeys key [key …] <where> [COUNT count]` from
/// argv[at]: the keys, whether `where` is the second of `ends`, and the
/// count (1 when not given). Checked in Redis's order: numkeys, the
/// words, then the count.
pub(super) fn mpop_args<'a>(
    argv: &Argv<'a>,
    at: usize,
    ends: [&str; 2],
) -> Result<(Vec<&'a [u8]>, bool, usize), CmdError> {
    let numkeys = parse_i64(argv.get(at))
        .and_then(|n| usize::try_from(n).ok())
        .filter(|&n| n > 0)
        .ok_or(NUMKEYS)?;
    // Room for the keys and the word after them.
    if numkeys >= argv.len() - at - 1 {
        return Err(SYNTAX);
    }
    let word_at = at + 1 + numkeys;
    let keys = (at + 1..word_at).map(|i| argv.get(i)).collect();
    let second = match argv.get(word_at) {
        w if is(w, ends[0]) => false,
        w if is(w, ends[1]) => true,
        _ => return Err(SYNTAX),
    };
    let count = match argv.len() - word_at - 1 {
        0 => 1,
        2 if is(argv.get(word_at + 1), "count") => parse_i64(argv.get(word_at + 2))
            .and_then(|n| usize::try_from(n).ok())
            .filter(|&n| n > 0)
            .ok_or(COUNT_NOT_POSITIVE)?,
        _ => return Err(SYNTAX),
    };
    Ok((keys, second, count))
}

/// Pops up to `count` elements of the list at `key` from `end`, replying
/// [key, [element …]]; false when there is no list there.
fn pop_many(
    keys: &mut Locked,
    out: &mut Reply,
    key: &[u8],
    end: End,
    count: usize,
) -> Result<bool, CmdError> {
    let Some(list) = existing(keys, key)? else {
        return Ok(false);
    };
    let n = count.min(list.len());
    out.array(2);
    out.bulk(key);
    out.array(n);
    for _ in 0..n {
        list.pop_with(end, |v| out.bulk(v));
    }
    if list.is_empty() {
        keys.remove(key);
    }
    Ok(true)
}

/// Where the arguments of LMPOP and ZMPOP (argv[1]) and of BLMPOP and
/// BZMPOP (after their timeout) start.
pub(super) fn mpop_at(argv: &Argv) -> usize {
    if argv.get(0)[0].eq_ignore_ascii_case(&b'b') {
        2
    } else {
        1
    }
}

/// LMPOP, BLMPOP, ZMPOP and BZMPOP: the keys `numkeys` names (after the
/// timeout of the B- forms), served by `serve`, which reads which of
/// `ends` and the count from argv again.
pub(super) fn mpop(
    ctx: &mut Ctx,
    argv: &Argv,
    kind: &'static str,
    ends: [&str; 2],
    serve: blocking::Serve,
) -> CmdResult {
    let at = mpop_at(argv);
    let timeout = match at {
        2 => Some(blocking::timeout_arg(argv.get(1))?),
        _ => None,
    };
    let (keys, _, _) = mpop_args(argv, at, ends)?;
    let take = blocking::Take {
        kind,
        serve,
        also: None,
    };
    blocking::pop_first(ctx, argv, &keys, timeout, take)
}

const LIST_ENDS: [&str; 2] = ["left", "right"];

fn serve_lmpop(
    keys: &mut Locked,
    out: &mut Reply,
    argv: &Argv,
    key: &[u8],
) -> Result<bool, CmdError> {
    let (_, tail, count) = mpop_args(argv, mpop_at(argv), LIST_ENDS)?;
    let end = if tail { End::Tail } else { End::Head };
    pop_many(keys, out, key, end, count)
}

fn lmpop(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    mpop(ctx, argv, "list", LIST_ENDS, serve_lmpop)
}

fn blmpop(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    mpop(ctx, argv, "list", LIST_ENDS, serve_lmpop)
}

/// BLMOVE and BRPOPLPUSH: LMOVE, blocking while the source is empty.
fn blmove_generic(
    ctx: &mut Ctx,
    argv: &Argv,
    (from, to): (End, End),
    timeout_at: usize,
    serve: blocking::Serve,
) -> CmdResult {
    let timeout = blocking::timeout_arg(argv.get(timeout_at))?;
    let (src, dst) = (argv.get(1), argv.get(2));
    if move_element(&mut ctx.keys, &mut ctx.out, (src, from), (dst, to))? {
        return Ok(());
    }
    if ctx.may_block {
        let take = blocking::Take {
            kind: "list",
            serve,
            also: Some(dst),
        };
        blocking::block(ctx, argv, [src], Some(take), timeout);
    } else {
        ctx.out.null();
    }
    Ok(())
}

/// A write made a blocked BLMOVE's source ready: move as it would have.
fn serve_move(
    keys: &mut Locked,
    out: &mut Reply,
    argv: &Argv,
    (from, to): (End, End),
) -> Result<bool, CmdError> {
    move_element(keys, out, (argv.get(1), from), (argv.get(2), to))
}

/// LMOVE's and BLMOVE's wherefrom and whereto.
fn move_ends(argv: &Argv) -> Result<(End, End), CmdError> {
    Ok((end_arg(argv.get(3))?, end_arg(argv.get(4))?))
}

fn blmove(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    blmove_generic(ctx, argv, move_ends(argv)?, 5, |keys, out, argv, _| {
        serve_move(keys, out, argv, move_ends(argv)?)
    })
}

fn brpoplpush(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    blmove_generic(
        ctx,
        argv,
        (End::Tail, End::Head),
        3,
        |keys, out, argv, _| serve_move(keys, out, argv, (End::Tail, End::Head)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_clamp_like_redis() {
        assert_eq!(range(5, 0, -1), Some((0, 4)));
        assert_eq!(range(5, -100, 100), Some((0, 4)));
        assert_eq!(range(5, 3, 1), None);
        assert_eq!(range(5, 5, 10), None);
        assert_eq!(range(5, -2, -1), Some((3, 4)));
        assert_eq!(range(5, i64::MIN, i64::MAX), Some((0, 4)));
        assert_eq!(range(0, 0, -1), None);
    }

    #[test]
    fn indexes_from_either_end() {
        assert_eq!(index(3, 0), Some(0));
        assert_eq!(index(3, -1), Some(2));
        assert_eq!(index(3, 3), None);
        assert_eq!(index(3, -4), None);
        assert_eq!(index(3, i64::MIN), None);
    }
}
