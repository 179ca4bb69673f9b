//! Random command sequences sent to slotcache and to redis-server side by
//! side, reply for reply, in RESP2 and then RESP3: a net under every data
//! type's commands that catches a reply drifting from Redis's. The stream
//! is seeded, so a failure repeats. Replies Redis leaves unordered (a
//! set's members) are compared sorted; commands whose
//! replies are random, timed, or known to differ (README: OBJECT ENCODING
//! after INCRBYFLOAT, long-double arithmetic near 2^63) are not generated.

mod reference;
mod replies;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use replies::Wire;
use slotcache_tests::Node;

const KEYS: &[&str] = &["k1", "k2", "k3", "{t}a", "{t}b"];
const MEMBERS: &[&str] = &[
    "a",
    "b",
    "c",
    "d",
    "1",
    "2",
    "-1",
    "3.5",
    "",
    "long-member-of-thirty-bytes..",
];
const NUMBERS: &[&str] = &[
    "0", "1", "-1", "2", "3", "10", "-5", "100", "1.5", "inf", "-inf", "abc", "(1", "(2.5", "+inf",
    "-", "+", "[a", "(b", "[c",
];
const INDEXES: &[&str] = &["0", "1", "2", "-1", "-2", "5", "-100", "100", "x"];

/// `$k` a key, `$m` a member, `$n` a number or range bound, `$i` an index,
/// `$s` a same-slot key (`{t}a` or `{t}b`); `a|b|c` one of the words.
const TEMPLATES: &[&str] = &[
    "SET $k $m",
    "SET $k $m NX|XX|GET|KEEPTTL",
    "SET $k $m EX|PX 100000|0|-1|x",
    "GET $k",
    "GETSET $k $m",
    "GETDEL $k",
    "GETEX $k PERSIST|EX",
    "SETNX $k $m",
    "MSETNX $s $m $s $m",
    "MGET $k $k $k",
    "INCR $k",
    "DECR $k",
    "INCRBY $k $n",
    "DECRBY $k $n",
    "INCRBYFLOAT $k $n",
    "APPEND $k $m",
    "STRLEN $k",
    "GETRANGE $k $i $i",
    "SETRANGE $k 0|3|-1 $m",
    "HSET $k $m $m",
    "HSET $k $m $m $m $m",
    "HSETNX $k $m $m",
    "HGET $k $m",
    "HMGET $k $m $m",
    "HDEL $k $m $m",
    "HLEN $k",
    "HEXISTS $k $m",
    "HGETALL $k",
    "HKEYS $k",
    "HVALS $k",
    "HINCRBY $k $m $n",
    "HINCRBYFLOAT $k $m $n",
    "HSTRLEN $k $m",
    "HSCAN $k 0 COUNT 100",
    "LPUSH $k $m $m",
    "RPUSH $k $m",
    "LPUSHX $k $m",
    "RPUSHX $k $m",
    "LPOP $k",
    "RPOP $k 0|1|2|5",
    "LLEN $k",
    "LRANGE $k $i $i",
    "LINDEX $k $i",
    "LSET $k $i $m",
    "LREM $k $i $m",
    "LTRIM $k $i $i",
    "LINSERT $k BEFORE|AFTER|X $m $m",
    "LPOS $k $m RANK $i",
    "LPOS $k $m COUNT 0|1|2 MAXLEN 0|2",
    "LMOVE $s $s LEFT|RIGHT LEFT|RIGHT",
    "RPOPLPUSH $s $s",
    "LMPOP 1|2 {t}a {t}b LEFT|RIGHT COUNT 1|2|0",
    "SADD $k $m $m",
    "SREM $k $m",
    "SISMEMBER $k $m",
    "SMISMEMBER $k $m $m",
    "SCARD $k",
    "SMEMBERS $k",
    "SINTER {t}a {t}b",
    "SUNION {t}a {t}b",
    "SDIFF {t}a {t}b",
    "SINTERSTORE $s {t}a {t}b",
    "SUNIONSTORE $s {t}a {t}b",
    "SDIFFSTORE $s {t}a {t}b",
    "SMOVE $s $s $m",
    "SINTERCARD 2 {t}a {t}b LIMIT 0|1|5",
    "SSCAN $k 0 MATCH *|a*|?",
    "ZADD $k $n $m",
    "ZADD $k NX|XX|GT|LT|CH|INCR $n $m",
    "ZADD $k GT|LT CH|NX $n $m",
    "ZINCRBY $k $n $m",
    "ZREM $k $m",
    "ZCARD $k",
    "ZSCORE $k $m",
    "ZMSCORE $k $m $m",
    "ZRANK $k $m",
    "ZREVRANK $k $m",
    "ZCOUNT $k $n $n",
    "ZLEXCOUNT $k $n $n",
    "ZRANGE $k $i $i WITHSCORES",
    "ZRANGE $k $n $n BYSCORE|BYLEX",
    "ZRANGE $k $n $n BYSCORE REV LIMIT 0|1 1|-1",
    "ZRANGEBYSCORE $k $n $n WITHSCORES",
    "ZREVRANGEBYSCORE $k $n $n LIMIT 0|1 1|-1",
    "ZRANGEBYLEX $k $n $n",
    "ZREVRANGEBYLEX $k $n $n",
    "ZPOPMIN $k 0|1|2",
    "ZPOPMAX $k",
    "ZREMRANGEBYSCORE $k $n $n",
    "ZREMRANGEBYRANK $k $i $i",
    "ZREMRANGEBYLEX $k $n $n",
    "ZUNIONSTORE $s 2 {t}a {t}b WEIGHTS $n $n AGGREGATE SUM|MIN|MAX",
    "ZINTER 2 {t}a {t}b WITHSCORES",
    "ZUNION 2 {t}a {t}b WITHSCORES",
    "ZDIFF 2 {t}a {t}b",
    "ZINTERCARD 2 {t}a {t}b",
    "ZRANGESTORE $s $s $i $i",
    "ZMPOP 1|2 {t}a {t}b MIN|MAX COUNT 1|3",
    "ZSCAN $k 0|5 COUNT 1|100",
    "DEL $k",
    "UNLINK $k $k",
    "EXISTS $k $k",
    "TYPE $k",
    "TOUCH $k",
    "RENAME $s $s",
    "RENAMENX $s $s",
    "COPY $s $s",
    "COPY $s $s REPLACE",
    "EXPIRE $k 100|0|-1 NX|XX|GT|LT",
    "PEXPIRE $k 100000",
    "PERSIST $k",
    "DBSIZE",
];

/// Replies whose order Redis does not promise: compared line-sorted. (A
/// small hash's order is promised in practice, that of a listpack: the
/// order its fields came in; the keys here hold small hashes only.)
const UNORDERED: &[&str] = &["SMEMBERS", "SINTER", "SUNION", "SDIFF", "SSCAN"];

fn command(rng: &mut StdRng) -> Vec<String> {
    let template = TEMPLATES[rng.gen_range(0..TEMPLATES.len())];
    let mut pick = |from: &[&str]| from[rng.gen_range(0..from.len())].to_string();
    template
        .split(' ')
        .map(|word| match word {
            "$k" => pick(KEYS),
            "$s" => pick(&KEYS[3..]),
            "$m" => pick(MEMBERS),
            "$n" => pick(NUMBERS),
            "$i" => pick(INDEXES),
            choice => pick(&choice.split('|').collect::<Vec<_>>()),
        })
        .collect()
}

fn comparable(args: &[String], reply: String) -> String {
    if !UNORDERED.contains(&args[0].as_str()) {
        return reply;
    }
    let mut lines: Vec<&str> = reply.split("\r\n").collect();
    lines.sort_unstable();
    lines.join("\r\n")
}

fn run(seed: u64, count: usize, resp3: bool) {
    let node = Node::start(&[]);
    let reference = reference::Reference::start();
    let (mut ours, mut theirs) = (Wire::connect(&node), Wire::at(reference.port));
    if resp3 {
        ours.call(&["HELLO", "3"]);
        theirs.call(&["HELLO", "3"]);
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut history = Vec::new();
    for _ in 0..count {
        let args = command(&mut rng);
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let (a, b) = (ours.call(&argv), theirs.call(&argv));
        let (a, b) = (comparable(&args, a), comparable(&args, b));
        history.push(args.join(" "));
        assert_eq!(
            a,
            b,
            "seed {seed}, command {} (resp3 {resp3}); the commands before it:\n{}",
            history.len(),
            history[history.len().saturating_sub(30)..].join("\n")
        );
    }
}

#[test]
fn random_commands_reply_as_redis_server_resp2() {
    run(1, 4000, false);
}

#[test]
fn random_commands_reply_as_redis_server_resp3() {
    run(2, 4000, true);
}
