//! Sorted-set commands.

use hashbrown::hash_map::EntryRef;
use hashbrown::HashMap;
use rand::Rng;
use slotcache_protocol::reply::format_double;
use slotcache_protocol::{Argv, Reply};

use super::t_list::{mpop, mpop_args, mpop_at};
use super::t_set::{
    card_limit, drop_if_empty, positive_count, reply_scan_head, scan_cursor, scan_options, store,
    with_objects, COUNT_RANGE,
};
use super::{
    float_arg, glob_match, int_arg, is, parse_f64, parse_f64_bound, CmdError, CmdResult, Ctx,
    SYNTAX, WRONGTYPE,
};
use crate::blocking;
use crate::db::object::{AddFlags, Added, LexBound, LexRange, Range, ScoreRange, Set, ZSet};
use crate::db::{Locked, Object};

pub const HANDLERS: &[(&str, super::Handler)] = &[
    ("zadd", zadd),
    ("zincrby", zincrby),
    ("zrem", zrem),
    ("zcard", zcard),
    ("zscore", zscore),
    ("zmscore", zmscore),
    ("zrank", zrank),
    ("zrevrank", zrevrank),
    ("zcount", zcount),
    ("zlexcount", zlexcount),
    ("zrange", zrange),
    ("zrangestore", zrangestore),
    ("zrevrange", zrevrange),
    ("zrangebyscore", zrangebyscore),
    ("zrevrangebyscore", zrevrangebyscore),
    ("zrangebylex", zrangebylex),
    ("zrevrangebylex", zrevrangebylex),
    ("zpopmin", zpopmin),
    ("zpopmax", zpopmax),
    ("bzpopmin", bzpopmin),
    ("zmpop", zmpop),
    ("bzmpop", bzmpop),
    ("bzpopmax", bzpopmax),
    ("zremrangebyrank", zremrangebyrank),
    ("zremrangebyscore", zremrangebyscore),
    ("zremrangebylex", zremrangebylex),
    ("zunionstore", zunionstore),
    ("zinterstore", zinterstore),
    ("zdiffstore", zdiffstore),
    ("zunion", zunion),
    ("zinter", zinter),
    ("zdiff", zdiff),
    ("zintercard", zintercard),
    ("zscan", zscan),
    ("zrandmember", zrandmember),
];

const NAN_SCORE: CmdError = CmdError::Static("ERR resulting score is not a number (NaN)");
const NOT_FLOAT_RANGE: CmdError = CmdError::Static("ERR min or max is not a float");
const NOT_LEX_RANGE: CmdError = CmdError::Static("ERR min or max not valid string range item");

/// The sorted set at `key` for a read (counts a hit or a miss).
fn read<'a>(keys: &'a mut Locked, key: &[u8]) -> Result<Option<&'a ZSet>, CmdError> {
    match keys.get(key) {
        None => Ok(None),
        Some(entry) => match entry.object() {
            Some(Object::ZSet(z)) => Ok(Some(z)),
            _ => Err(WRONGTYPE),
        },
    }
}

/// The sorted set at `key` for a write; None when absent.
fn existing<'a>(keys: &'a mut Locked, key: &[u8]) -> Result<Option<&'a mut ZSet>, CmdError> {
    match keys.peek(key) {
        None => Ok(None),
        Some(entry) => match entry.object_mut() {
            Some(Object::ZSet(z)) => Ok(Some(z)),
            _ => Err(WRONGTYPE),
        },
    }
}

/// `min`/`max` of a score range: a float, `(` before it for exclusive.
fn score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, CmdError> {
    let bound = |arg: &[u8]| match arg.strip_prefix(b"(") {
        Some(rest) => parse_f64_bound(rest).map(|v| (v, true)),
        None => parse_f64_bound(arg).map(|v| (v, false)),
    };
    let ((min, min_ex), (max, max_ex)) = bound(min).zip(bound(max)).ok_or(NOT_FLOAT_RANGE)?;
    Ok(ScoreRange {
        min,
        max,
        min_ex,
        max_ex,
    })
}

/// `min`/`max` of a lex range: `-`, `+`, `[member` or `(member`.
fn lex_range<'a>(min: &'a [u8], max: &'a [u8]) -> Result<LexRange<'a>, CmdError> {
    let bound = |arg: &'a [u8]| match arg.split_first() {
        Some((b'-', [])) => Some(LexBound::Min),
        Some((b'+', [])) => Some(LexBound::Max),
        Some((b'[', rest)) => Some(LexBound::Incl(rest)),
        Some((b'(', rest)) => Some(LexBound::Excl(rest)),
        _ => None,
    };
    let (min, max) = bound(min).zip(bound(max)).ok_or(NOT_LEX_RANGE)?;
    Ok(LexRange { min, max })
}

/// Start and stop indexes (negative: from the end) as the ranks
/// `first..=last` of a set of `len`, None when that is empty.
fn rank_range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 {
        (start + len).max(0)
    } else {
        start
    };
    let stop = if stop < 0 {
        stop + len
    } else {
        stop.min(len - 1)
    };
    (start <= stop && start < len).then_some((start as usize, stop as usize))
}

/// One element of a reply: the member, and with scores its score (as a
/// pair under RESP3, flat under RESP2).
fn reply_element(out: &mut Reply, member: &[u8], score: f64, withscores: bool) {
    if withscores && out.resp3() {
        out.array(2);
    }
    out.bulk(member);
    if withscores {
        out.double(score);
    }
}

/// The header of a reply of `n` elements, as `reply_element` writes them.
fn reply_elements_head(out: &mut Reply, n: usize, withscores: bool) {
    out.array(if withscores && !out.resp3() { 2 * n } else { n });
}

fn reply_elements<'a>(
    out: &mut Reply,
    n: usize,
    withscores: bool,
    elements: impl Iterator<Item = (&'a [u8], f64)>,
) {
    reply_elements_head(out, n, withscores);
    for (member, score) in elements.take(n) {
        reply_element(out, member, score, withscores);
    }
}

// ---- ZADD and ZINCRBY ----------------------------------------------------------

/// ZADD's and ZINCRBY's work: applies (score, member) pairs under `flags`
/// and replies as ZADD does (`ch`: counting changed members too).
fn add(ctx: &mut Ctx, key: &[u8], flags: AddFlags, ch: bool, pairs: &[(f64, &[u8])]) -> CmdResult {
    let z = match existing(&mut ctx.keys, key)? {
        Some(z) => z,
        None if flags.xx => {
            // Nothing can be added.
            if flags.incr {
                ctx.out.null();
            } else {
                ctx.out.int(0);
            }
            return Ok(());
        }
        None => {
            ctx.keys
                .set_object(key, Object::ZSet(ZSet::default()), None);
            existing(&mut ctx.keys, key)?.expect("just created")
        }
    };
    let (mut added, mut updated, mut processed) = (0, 0, 0);
    let mut last = 0.0;
    let mut nan = false;
    for &(score, member) in pairs {
        let Ok((what, new)) = z.add(member, score, flags) else {
            nan = true;
            break;
        };
        match what {
            Added::New => added += 1,
            Added::Updated => updated += 1,
            Added::Unchanged => {}
            Added::Skipped => continue,
        }
        processed += 1;
        last = new;
    }
    if added + updated == 0 {
        ctx.keys.unchanged(key);
    }
    if nan {
        return Err(NAN_SCORE);
    }
    if flags.incr {
        if processed > 0 {
            ctx.out.double(last);
        } else {
            ctx.out.null();
        }
    } else {
        ctx.out.int(if ch { added + updated } else { added });
    }
    Ok(())
}

fn zadd(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let mut flags = AddFlags::default();
    let mut ch = false;
    let mut i = 2;
    while i < argv.len() {
        let opt = argv.get(i);
        let flag = match () {
            _ if is(opt, "nx") => &mut flags.nx,
            _ if is(opt, "xx") => &mut flags.xx,
            _ if is(opt, "gt") => &mut flags.gt,
            _ if is(opt, "lt") => &mut flags.lt,
            _ if is(opt, "ch") => &mut ch,
            _ if is(opt, "incr") => &mut flags.incr,
            _ => break,
        };
        *flag = true;
        i += 1;
    }
    let elements = argv.len() - i;
    if elements == 0 || !elements.is_multiple_of(2) {
        return Err(SYNTAX);
    }
    if flags.nx && flags.xx {
        return Err(CmdError::Static(
            "ERR XX and NX options at the same time are not compatible",
        ));
    }
    if (flags.nx && (flags.gt || flags.lt)) || (flags.gt && flags.lt) {
        return Err(CmdError::Static(
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if flags.incr && elements > 2 {
        return Err(CmdError::Static(
            "ERR INCR option supports a single increment-element pair",
        ));
    }
    // Every score is read before anything changes.
    let pairs = argv
        .tail(i)
        .iter()
        .collect::<Vec<_>>()
        .chunks(2)
        .map(|p| Ok((float_arg(p[0])?, p[1])))
        .collect::<Result<Vec<_>, CmdError>>()?;
    add(ctx, argv.get(1), flags, ch, &pairs)
}

fn zincrby(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let by = float_arg(argv.get(2))?;
    let flags = AddFlags {
        incr: true,
        ..AddFlags::default()
    };
    add(ctx, argv.get(1), flags, false, &[(by, argv.get(3))])
}

// ---- Single elements -----------------------------------------------------------

fn zrem(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let key = argv.get(1);
    let Some(z) = existing(&mut ctx.keys, key)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let removed = argv.tail(2).iter().filter(|m| z.remove(m)).count();
    drop_if_empty(&mut ctx.keys, key);
    if removed == 0 {
        ctx.keys.unchanged(key);
    }
    ctx.out.int(removed as i64);
    Ok(())
}

fn zcard(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let len = read(&mut ctx.keys, argv.get(1))?.map_or(0, |z| z.len());
    ctx.out.int(len as i64);
    Ok(())
}

fn zscore(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    match read(&mut ctx.keys, argv.get(1))?.and_then(|z| z.score(argv.get(2))) {
        Some(score) => ctx.out.double(score),
        None => ctx.out.null(),
    }
    Ok(())
}

fn zmscore(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let z = read(&mut ctx.keys, argv.get(1))?;
    ctx.out.array(argv.len() - 2);
    for member in argv.tail(2).iter() {
        match z.and_then(|z| z.score(member)) {
            Some(score) => ctx.out.double(score),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

/// ZRANK and ZREVRANK, with WITHSCORE (Redis 7.2) a [rank, score] pair.
fn rank_generic(ctx: &mut Ctx, argv: &Argv, rev: bool) -> CmdResult {
    let withscore = match argv.len() {
        3 => false,
        4 if is(argv.get(3), "withscore") => true,
        4 => return Err(SYNTAX),
        _ => return Err(super::wrong_arity(ctx.cmd.spec.name)),
    };
    let found = read(&mut ctx.keys, argv.get(1))?.and_then(|z| {
        let (rank, score) = z.rank(argv.get(2))?;
        Some((if rev { z.len() - 1 - rank } else { rank }, score))
    });
    match found {
        Some((rank, score)) => {
            if withscore {
                ctx.out.array(2);
            }
            ctx.out.int(rank as i64);
            if withscore {
                ctx.out.double(score);
            }
        }
        None if withscore => ctx.out.null_array(),
        None => ctx.out.null(),
    }
    Ok(())
}

fn zrank(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    rank_generic(ctx, argv, false)
}

fn zrevrank(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    rank_generic(ctx, argv, true)
}

/// ZCOUNT and ZLEXCOUNT: elements in a range, from the ranks of its ends.
fn count_in(ctx: &mut Ctx, key: &[u8], range: &impl Range) -> CmdResult {
    let count = read(&mut ctx.keys, key)?
        .and_then(|z| z.span(range))
        .map_or(0, |(first, last)| last - first + 1);
    ctx.out.int(count as i64);
    Ok(())
}

fn zcount(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let range = score_range(argv.get(2), argv.get(3))?;
    count_in(ctx, argv.get(1), &range)
}

fn zlexcount(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let range = lex_range(argv.get(2), argv.get(3))?;
    count_in(ctx, argv.get(1), &range)
}

// ---- Ranges ------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq)]
enum By {
    Rank,
    Score,
    Lex,
}

/// A parsed range of any kind.
enum Bounds<'a> {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange<'a>),
}

/// The elements a range selects: `n` of them from rank `first` (walking
/// down for a reversed range).
struct Selection {
    first: usize,
    n: usize,
}

impl Bounds<'_> {
    /// Applies the range, then LIMIT's `offset` and `count` (negative: all
    /// the rest), to `z`.
    fn select(&self, z: &ZSet, rev: bool, offset: i64, count: i64) -> Option<Selection> {
        let (lo, hi) = match self {
            Bounds::Rank(start, stop) => {
                let (first, last) = rank_range(*start, *stop, z.len())?;
                return Some(Selection {
                    // Reversed indexes count from the top.
                    first: if rev { z.len() - 1 - first } else { first },
                    n: last - first + 1,
                });
            }
            Bounds::Score(r) => z.span(r)?,
            Bounds::Lex(r) => z.span(r)?,
        };
        if offset < 0 {
            return None;
        }
        let available = (hi - lo + 1) as i64 - offset;
        if available <= 0 {
            return None;
        }
        let n = if count < 0 {
            available
        } else {
            count.min(available)
        } as usize;
        let offset = offset as usize;
        Some(Selection {
            first: if rev { hi - offset } else { lo + offset },
            n,
        })
    }
}

/// The ZRANGE family. `src_at`: where the source key is (the destination,
/// for ZRANGESTORE, is argv[1]); `by` and `rev` are fixed by the legacy
/// commands and read from the options by ZRANGE and ZRANGESTORE.
fn range_generic(
    ctx: &mut Ctx,
    argv: &Argv,
    src_at: usize,
    by: Option<By>,
    rev: Option<bool>,
) -> CmdResult {
    let store = src_at == 2;
    let (mut by_opt, mut rev_opt) = (by, rev);
    let mut withscores = false;
    // As Redis: a LIMIT count of -1 is no LIMIT at all.
    let (mut offset, mut count) = (0, -1);
    let mut j = src_at + 3;
    while j < argv.len() {
        let opt = argv.get(j);
        let left = argv.len() - j - 1;
        if !store && is(opt, "withscores") {
            withscores = true;
        } else if is(opt, "limit") && left >= 2 {
            offset = int_arg(argv.get(j + 1))?;
            count = int_arg(argv.get(j + 2))?;
            j += 2;
        } else if rev_opt.is_none() && is(opt, "rev") {
            rev_opt = Some(true);
        } else if by_opt.is_none() && is(opt, "bylex") {
            by_opt = Some(By::Lex);
        } else if by_opt.is_none() && is(opt, "byscore") {
            by_opt = Some(By::Score);
        } else {
            return Err(SYNTAX);
        }
        j += 1;
    }
    let by = by_opt.unwrap_or(By::Rank);
    let rev = rev_opt.unwrap_or(false);
    if count != -1 && by == By::Rank {
        return Err(CmdError::Static(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && by == By::Lex {
        return Err(CmdError::Static(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    // Reversed score and lex ranges are given as max, min.
    let (a, b) = (argv.get(src_at + 1), argv.get(src_at + 2));
    let (min, max) = if rev && by != By::Rank {
        (b, a)
    } else {
        (a, b)
    };
    let bounds = match by {
        By::Rank => Bounds::Rank(int_arg(min)?, int_arg(max)?),
        By::Score => Bounds::Score(score_range(min, max)?),
        By::Lex => Bounds::Lex(lex_range(min, max)?),
    };
    let src = read(&mut ctx.keys, argv.get(src_at))?;
    let selected = src.and_then(|z| Some((z, bounds.select(z, rev, offset, count)?)));
    let elements = selected
        .iter()
        .flat_map(|(z, s)| z.walk(s.first, rev).take(s.n));
    if store {
        let mut result = ZSet::default();
        for (member, score) in elements {
            result.set(member, score);
        }
        let len = store_zset(&mut ctx.keys, argv.get(1), result);
        ctx.out.int(len as i64);
    } else {
        let n = selected.as_ref().map_or(0, |(_, s)| s.n);
        reply_elements(&mut ctx.out, n, withscores, elements);
    }
    Ok(())
}

fn store_zset(keys: &mut Locked, key: &[u8], z: ZSet) -> usize {
    store(keys, key, Object::ZSet(z))
}

fn zrange(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    range_generic(ctx, argv, 1, None, None)
}

fn zrangestore(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    range_generic(ctx, argv, 2, None, None)
}

fn zrevrange(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    range_generic(ctx, argv, 1, Some(By::Rank), Some(true))
}

fn zrangebyscore(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    range_generic(ctx, argv, 1, Some(By::Score), Some(false))
}

fn zrevrangebyscore(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    range_generic(ctx, argv, 1, Some(By::Score), Some(true))
}

fn zrangebylex(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    range_generic(ctx, argv, 1, Some(By::Lex), Some(false))
}

fn zrevrangebylex(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    range_generic(ctx, argv, 1, Some(By::Lex), Some(true))
}

/// ZREMRANGEBYRANK, ZREMRANGEBYSCORE and ZREMRANGEBYLEX: the range is
/// parsed before the key is looked at, as Redis does.
fn remove_range(ctx: &mut Ctx, key: &[u8], bounds: Bounds) -> CmdResult {
    let Some(z) = existing(&mut ctx.keys, key)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let removed = match bounds.select(z, false, 0, -1) {
        Some(s) => z.remove_ranks(s.first, s.first + s.n - 1),
        None => 0,
    };
    drop_if_empty(&mut ctx.keys, key);
    if removed == 0 {
        ctx.keys.unchanged(key);
    }
    ctx.out.int(removed as i64);
    Ok(())
}

fn zremrangebyrank(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let bounds = Bounds::Rank(int_arg(argv.get(2))?, int_arg(argv.get(3))?);
    remove_range(ctx, argv.get(1), bounds)
}

fn zremrangebyscore(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let bounds = Bounds::Score(score_range(argv.get(2), argv.get(3))?);
    remove_range(ctx, argv.get(1), bounds)
}

fn zremrangebylex(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let bounds = Bounds::Lex(lex_range(argv.get(2), argv.get(3))?);
    remove_range(ctx, argv.get(1), bounds)
}

// ---- Popping -------------------------------------------------------------------

/// How popped elements are replied.
#[derive(Clone, Copy)]
enum Popped {
    /// ZPOPMIN/ZPOPMAX: with a count, pairs (under RESP3) or a flat list;
    /// without, one flat [member, score].
    Plain(Option<usize>),
    /// BZPOPMIN/BZPOPMAX: [key, member, score].
    WithKey,
    /// ZMPOP/BZMPOP: [key, [[member, score] …]].
    Nested(usize),
}

/// Pops the lowest (or, `max`, highest) elements of the sorted set at
/// `key`, replying them in popping order as `how` says; false, with
/// nothing replied, when there is no sorted set there.
fn pop(
    keys: &mut Locked,
    out: &mut Reply,
    key: &[u8],
    max: bool,
    how: Popped,
) -> Result<bool, CmdError> {
    let Some(z) = existing(keys, key)? else {
        return Ok(false);
    };
    let count = match how {
        Popped::Plain(count) => count.unwrap_or(1),
        Popped::WithKey => 1,
        Popped::Nested(count) => count,
    };
    let n = count.min(z.len());
    let first = if max { z.len() - 1 } else { 0 };
    let elements = z.walk(first, max).take(n);
    match how {
        Popped::Plain(Some(_)) => reply_elements(out, n, true, elements),
        Popped::Nested(_) => {
            out.array(2);
            out.bulk(key);
            out.array(n);
            for (member, score) in elements {
                out.array(2);
                out.bulk(member);
                out.double(score);
            }
        }
        Popped::Plain(None) | Popped::WithKey => {
            let with_key = matches!(how, Popped::WithKey);
            out.array(2 + with_key as usize);
            if with_key {
                out.bulk(key);
            }
            for (member, score) in elements {
                out.bulk(member);
                out.double(score);
            }
        }
    }
    if n > 0 {
        let lowest = if max { z.len() - n } else { 0 };
        z.remove_ranks(lowest, lowest + n - 1);
    }
    drop_if_empty(keys, key);
    if n == 0 {
        keys.unchanged(key);
    }
    Ok(true)
}

/// ZPOPMIN and ZPOPMAX.
fn pop_command(ctx: &mut Ctx, argv: &Argv, max: bool) -> CmdResult {
    let count = match argv.len() {
        2 => None,
        3 => Some(positive_count(argv.get(2))?),
        _ => return Err(SYNTAX),
    };
    if !pop(
        &mut ctx.keys,
        &mut ctx.out,
        argv.get(1),
        max,
        Popped::Plain(count),
    )? {
        ctx.out.array(0);
    }
    Ok(())
}

fn zpopmin(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    pop_command(ctx, argv, false)
}

fn zpopmax(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    pop_command(ctx, argv, true)
}

/// BZPOPMIN and BZPOPMAX key [key …] timeout: pop from the first
/// non-empty key and reply [key, member, score]; with all empty, block.
fn bzpopmin(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    blocking::pop_first_then_wait(ctx, argv, "zset", |keys, out, _, key| {
        pop(keys, out, key, false, Popped::WithKey)
    })
}

fn bzpopmax(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    blocking::pop_first_then_wait(ctx, argv, "zset", |keys, out, _, key| {
        pop(keys, out, key, true, Popped::WithKey)
    })
}

const ZSET_ENDS: [&str; 2] = ["min", "max"];

fn serve_zmpop(
    keys: &mut Locked,
    out: &mut Reply,
    argv: &Argv,
    key: &[u8],
) -> Result<bool, CmdError> {
    let (_, max, count) = mpop_args(argv, mpop_at(argv), ZSET_ENDS)?;
    pop(keys, out, key, max, Popped::Nested(count))
}

fn zmpop(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    mpop(ctx, argv, "zset", ZSET_ENDS, serve_zmpop)
}

fn bzmpop(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    mpop(ctx, argv, "zset", ZSET_ENDS, serve_zmpop)
}

// ---- Combining sets ------------------------------------------------------------

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

impl Aggregate {
    fn apply(self, acc: &mut f64, value: f64) {
        match self {
            // inf + -inf is 0, as in Redis.
            Aggregate::Sum => {
                *acc += value;
                if acc.is_nan() {
                    *acc = 0.0;
                }
            }
            Aggregate::Min => *acc = acc.min(value),
            Aggregate::Max => *acc = acc.max(value),
        }
    }
}

/// A source of ZUNIONSTORE and friends: a sorted set, or a set whose
/// members all score 1.
#[derive(Clone, Copy)]
enum Source<'a> {
    Empty,
    Set(&'a Set),
    ZSet(&'a ZSet),
}

impl<'a> Source<'a> {
    fn of(obj: Option<&'a Object>) -> Source<'a> {
        match obj {
            Some(Object::Set(s)) => Source::Set(s),
            Some(Object::ZSet(z)) => Source::ZSet(z),
            _ => Source::Empty,
        }
    }

    fn len(&self) -> usize {
        match self {
            Source::Empty => 0,
            Source::Set(s) => s.len(),
            Source::ZSet(z) => z.len(),
        }
    }

    fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            Source::Empty => None,
            Source::Set(s) => s.contains(member).then_some(1.0),
            Source::ZSet(z) => z.score(member),
        }
    }

    fn for_each(&self, mut f: impl FnMut(&[u8], f64)) {
        match self {
            Source::Empty => {}
            Source::Set(s) => {
                let mut buf = itoa::Buffer::new();
                s.iter().for_each(|m| f(m.bytes(&mut buf), 1.0));
            }
            Source::ZSet(z) => z.iter().for_each(|(m, s)| f(m, s)),
        }
    }
}

struct OpArgs {
    weights: Vec<f64>,
    aggregate: Aggregate,
    withscores: bool,
    limit: usize,
}

/// The options after the keys, as Redis reads them for `op`.
fn op_options(
    argv: &Argv,
    mut j: usize,
    sets: usize,
    op: Op,
    store: bool,
    card_only: bool,
) -> Result<OpArgs, CmdError> {
    let mut args = OpArgs {
        weights: vec![1.0; sets],
        aggregate: Aggregate::Sum,
        withscores: false,
        limit: 0,
    };
    if card_only {
        args.limit = card_limit(argv, j)?;
        return Ok(args);
    }
    let scored = op != Op::Diff;
    while j < argv.len() {
        let remaining = argv.len() - j;
        let opt = argv.get(j);
        if scored && remaining > sets && is(opt, "weights") {
            for (w, arg) in args.weights.iter_mut().zip(argv.tail(j + 1).iter()) {
                *w = parse_f64(arg).ok_or(CmdError::Static("ERR weight value is not a float"))?;
            }
            j += 1 + sets;
        } else if scored && remaining >= 2 && is(opt, "aggregate") {
            let how = argv.get(j + 1);
            args.aggregate = match () {
                _ if is(how, "sum") => Aggregate::Sum,
                _ if is(how, "min") => Aggregate::Min,
                _ if is(how, "max") => Aggregate::Max,
                _ => return Err(SYNTAX),
            };
            j += 2;
        } else if !store && is(opt, "withscores") {
            args.withscores = true;
            j += 1;
        } else {
            return Err(SYNTAX);
        }
    }
    Ok(args)
}

/// The union, intersection or difference of `sources` (with their
/// weights), scores aggregated by `aggregate`: member → score.
fn combine(sources: &mut [(Source, f64)], op: Op, aggregate: Aggregate) -> HashMap<Vec<u8>, f64> {
    let mut acc: HashMap<Vec<u8>, f64> = HashMap::new();
    let weighted = |score: f64, weight: f64| {
        let v = score * weight;
        if v.is_nan() {
            0.0
        } else {
            v
        }
    };
    match op {
        Op::Union => {
            for &(src, weight) in sources.iter() {
                src.for_each(|member, score| {
                    let v = weighted(score, weight);
                    match acc.entry_ref(member) {
                        EntryRef::Occupied(mut o) => aggregate.apply(o.get_mut(), v),
                        EntryRef::Vacant(e) => {
                            e.insert(v);
                        }
                    }
                });
            }
        }
        Op::Inter => {
            // Walk the smallest; a missing key empties the result.
            sources.sort_by_key(|(s, _)| s.len());
            let ((first, w0), rest) = sources.split_first().expect("at least one key");
            first.for_each(|member, score| {
                let mut v = weighted(score, *w0);
                for (src, weight) in rest {
                    match src.score(member) {
                        Some(s) => aggregate.apply(&mut v, s * weight),
                        None => return,
                    }
                }
                acc.insert(member.to_vec(), v);
            });
        }
        Op::Diff => {
            let ((first, _), rest) = sources.split_first().expect("at least one key");
            first.for_each(|member, score| {
                if rest.iter().all(|(src, _)| src.score(member).is_none()) {
                    acc.insert(member.to_vec(), score);
                }
            });
        }
    }
    acc
}

/// ZUNIONSTORE, ZINTERSTORE, ZDIFFSTORE, ZUNION, ZINTER, ZDIFF and
/// ZINTERCARD.
fn op_generic(ctx: &mut Ctx, argv: &Argv, op: Op, store: bool, card_only: bool) -> CmdResult {
    let at = if store { 2 } else { 1 };
    let sets = int_arg(argv.get(at))?;
    if sets < 1 {
        return Err(CmdError::Owned(format!(
            "ERR at least 1 input key is needed for '{}' command",
            ctx.cmd.spec.name
        )));
    }
    if sets as u64 > (argv.len() - at - 1) as u64 {
        return Err(SYNTAX);
    }
    let sets = sets as usize;
    let names: Vec<&[u8]> = argv.tail(at + 1).iter().take(sets).collect();
    let is_collection = |o: &Object| matches!(o, Object::Set(_) | Object::ZSet(_));
    // Keys are type-checked before the options are read, as in Redis.
    let (combined, args) = with_objects(&mut ctx.keys, &names, is_collection, |objects| {
        let args = op_options(argv, at + 1 + sets, sets, op, store, card_only)?;
        let mut sources: Vec<(Source, f64)> = objects
            .iter()
            .zip(&args.weights)
            .map(|(&o, &w)| (Source::of(o), w))
            .collect();
        Ok::<_, CmdError>((combine(&mut sources, op, args.aggregate), args))
    })??;
    if card_only {
        let limit = if args.limit == 0 {
            usize::MAX
        } else {
            args.limit
        };
        ctx.out.int(combined.len().min(limit) as i64);
        return Ok(());
    }
    let mut result = ZSet::default();
    for (member, score) in combined {
        result.set(&member, score);
    }
    if store {
        let len = store_zset(&mut ctx.keys, argv.get(1), result);
        ctx.out.int(len as i64);
    } else {
        reply_elements(&mut ctx.out, result.len(), args.withscores, result.iter());
    }
    Ok(())
}

fn zunionstore(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    op_generic(ctx, argv, Op::Union, true, false)
}

fn zinterstore(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    op_generic(ctx, argv, Op::Inter, true, false)
}

fn zdiffstore(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    op_generic(ctx, argv, Op::Diff, true, false)
}

fn zunion(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    op_generic(ctx, argv, Op::Union, false, false)
}

fn zinter(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    op_generic(ctx, argv, Op::Inter, false, false)
}

fn zdiff(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    op_generic(ctx, argv, Op::Diff, false, false)
}

fn zintercard(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    op_generic(ctx, argv, Op::Inter, false, true)
}

// ---- Scanning and sampling -----------------------------------------------------

fn zscan(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let cursor = scan_cursor(argv.get(2))?;
    let Some(z) = read(&mut ctx.keys, argv.get(1))? else {
        reply_scan_head(&mut ctx.out, 0, 0);
        return Ok(());
    };
    let (pattern, count) = scan_options(argv)?;
    let mut found = Vec::new();
    let next = z.scan(cursor, count, |member, score| {
        if pattern.is_none_or(|p| glob_match(p, member, false)) {
            found.push((member, score));
        }
    });
    // Scores go out as text, as Redis's ZSCAN sends them.
    reply_scan_head(&mut ctx.out, next, found.len() * 2);
    for (member, score) in found {
        ctx.out.bulk(member);
        ctx.out.bulk(format_double(score).as_bytes());
    }
    Ok(())
}

fn zrandmember(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let mut rng = rand::thread_rng();
    if argv.len() == 2 {
        match read(&mut ctx.keys, argv.get(1))? {
            Some(z) => {
                let rank = rng.gen_range(0..z.len());
                ctx.out
                    .bulk(z.walk(rank, false).next().expect("rank in range").0);
            }
            None => ctx.out.null(),
        }
        return Ok(());
    }
    let count = match int_arg(argv.get(2))? {
        i64::MIN => return Err(COUNT_RANGE),
        n => n,
    };
    let withscores = match argv.len() {
        3 => false,
        4 if is(argv.get(3), "withscores") => true,
        _ => return Err(SYNTAX),
    };
    // Redis's bound, so that the reply length (count * 2) cannot overflow.
    if withscores && count.unsigned_abs() > (i64::MAX / 2) as u64 {
        return Err(CmdError::Static("ERR value is out of range"));
    }
    let Some(z) = read(&mut ctx.keys, argv.get(1))? else {
        ctx.out.array(0);
        return Ok(());
    };
    let (len, n) = (z.len(), count.unsigned_abs() as usize);
    if count >= 0 && n >= len {
        reply_elements(&mut ctx.out, len, withscores, z.iter());
        return Ok(());
    }
    let ranks: Vec<usize> = if count < 0 {
        // Repeats allowed: independent picks.
        (0..n).map(|_| rng.gen_range(0..len)).collect()
    } else {
        z.distinct_ranks(&mut rng, n)
    };
    reply_elements_head(&mut ctx.out, n, withscores);
    for rank in ranks {
        let (member, score) = z.walk(rank, false).next().expect("rank in range");
        reply_element(&mut ctx.out, member, score, withscores);
    }
    Ok(())
}
