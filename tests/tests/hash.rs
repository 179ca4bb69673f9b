//! Hash commands through real clients: replies, errors and edge cases as
//! Redis 7, HSCAN's guarantee under concurrent changes, HRANDFIELD's
//! count forms.

mod reference;

use std::collections::{HashMap, HashSet};

use redis::Value;
use slotcache_tests::{err, q, scan_all, Node};

#[test]
fn set_get_delete_and_the_key_disappears() {
    let node = Node::start(&[]);
    let mut con = node.client();
    assert_eq!(q::<i64>(&mut con, &["HSET", "h", "a", "1", "b", "2"]), 2);
    assert_eq!(q::<i64>(&mut con, &["HSET", "h", "a", "10", "c", "3"]), 1);
    assert_eq!(q::<String>(&mut con, &["HGET", "h", "a"]), "10");
    assert_eq!(q::<Option<String>>(&mut con, &["HGET", "h", "zz"]), None);
    assert_eq!(q::<Option<String>>(&mut con, &["HGET", "nokey", "a"]), None);
    assert_eq!(q::<String>(&mut con, &["HMSET", "h", "d", "4"]), "OK");
    assert_eq!(
        q::<Vec<Option<String>>>(&mut con, &["HMGET", "h", "a", "zz", "d"]),
        vec![Some("10".into()), None, Some("4".into())]
    );
    assert_eq!(
        q::<Vec<Option<String>>>(&mut con, &["HMGET", "nokey", "a", "b"]),
        vec![None, None]
    );
    assert_eq!(q::<i64>(&mut con, &["HSETNX", "h", "a", "x"]), 0);
    assert_eq!(q::<i64>(&mut con, &["HSETNX", "h", "e", "5"]), 1);
    assert_eq!(q::<i64>(&mut con, &["HSETNX", "new", "f", "v"]), 1);
    assert_eq!(q::<i64>(&mut con, &["HLEN", "h"]), 5);
    assert_eq!(q::<i64>(&mut con, &["HLEN", "nokey"]), 0);
    assert_eq!(q::<i64>(&mut con, &["HEXISTS", "h", "e"]), 1);
    assert_eq!(q::<i64>(&mut con, &["HEXISTS", "h", "zz"]), 0);
    assert_eq!(q::<i64>(&mut con, &["HSTRLEN", "h", "a"]), 2);
    assert_eq!(q::<i64>(&mut con, &["HSTRLEN", "h", "zz"]), 0);
    let all: HashMap<String, String> = q(&mut con, &["HGETALL", "h"]);
    let expected: HashMap<String, String> =
        [("a", "10"), ("b", "2"), ("c", "3"), ("d", "4"), ("e", "5")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    assert_eq!(all, expected);
    let mut keys: Vec<String> = q(&mut con, &["HKEYS", "h"]);
    keys.sort();
    assert_eq!(keys, ["a", "b", "c", "d", "e"]);
    let mut vals: Vec<String> = q(&mut con, &["HVALS", "h"]);
    vals.sort();
    assert_eq!(vals, ["10", "2", "3", "4", "5"]);
    assert!(q::<Vec<String>>(&mut con, &["HGETALL", "nokey"]).is_empty());
    assert_eq!(q::<String>(&mut con, &["TYPE", "h"]), "hash");

    assert_eq!(q::<i64>(&mut con, &["HDEL", "h", "a", "b", "zz", "a"]), 2);
    assert_eq!(q::<i64>(&mut con, &["HDEL", "nokey", "a"]), 0);
    assert_eq!(q::<i64>(&mut con, &["HDEL", "h", "c", "d", "e"]), 3);
    assert_eq!(
        q::<i64>(&mut con, &["EXISTS", "h"]),
        0,
        "an emptied hash is deleted"
    );
    assert_eq!(q::<i64>(&mut con, &["HLEN", "h"]), 0);
}

#[test]
fn wrong_type_and_argument_errors() {
    let node = Node::start(&[]);
    let mut con = node.client();
    let _: () = q(&mut con, &["SET", "s", "x"]);
    let wrongtype = "WRONGTYPE Operation against a key holding the wrong kind of value";
    for (name, args) in [
        ("HSET", &["s", "f", "v"][..]),
        ("HGET", &["s", "f"]),
        ("HMGET", &["s", "f"]),
        ("HDEL", &["s", "f"]),
        ("HLEN", &["s"]),
        ("HGETALL", &["s"]),
        ("HINCRBY", &["s", "f", "1"]),
        ("HSCAN", &["s", "0"]),
        ("HRANDFIELD", &["s"]),
    ] {
        let words: Vec<&str> = std::iter::once(name).chain(args.iter().copied()).collect();
        assert_eq!(err(&mut con, &words), wrongtype, "{name}");
    }
    assert_eq!(
        q::<String>(&mut con, &["GET", "s"]),
        "x",
        "the string is untouched"
    );
    assert_eq!(
        err(&mut con, &["HSET", "h", "f"]),
        "ERR wrong number of arguments for 'hset' command"
    );
    assert_eq!(
        err(&mut con, &["HSET", "h", "f", "v", "g"]),
        "ERR wrong number of arguments for 'hset' command"
    );
    assert_eq!(
        err(&mut con, &["HMSET", "h", "f", "v", "g"]),
        "ERR wrong number of arguments for 'hmset' command"
    );
    assert_eq!(
        err(&mut con, &["HGET", "h"]),
        "ERR wrong number of arguments for 'hget' command"
    );
    assert_eq!(
        q::<i64>(&mut con, &["EXISTS", "h"]),
        0,
        "failed writes create nothing"
    );
}

#[test]
fn hincrby_and_hincrbyfloat() {
    let node = Node::start(&[]);
    let mut con = node.client();
    assert_eq!(q::<i64>(&mut con, &["HINCRBY", "h", "n", "5"]), 5);
    assert_eq!(q::<i64>(&mut con, &["HINCRBY", "h", "n", "-7"]), -2);
    assert_eq!(q::<String>(&mut con, &["HGET", "h", "n"]), "-2");
    let _: i64 = q(
        &mut con,
        &[
            "HSET",
            "h",
            "s",
            "abc",
            "max",
            "9223372036854775807",
            "f",
            "1.5",
        ],
    );
    assert_eq!(
        err(&mut con, &["HINCRBY", "h", "s", "1"]),
        "ERR hash value is not an integer"
    );
    assert_eq!(
        err(&mut con, &["HINCRBY", "h", "f", "1"]),
        "ERR hash value is not an integer"
    );
    assert_eq!(
        err(&mut con, &["HINCRBY", "h", "max", "1"]),
        "ERR increment or decrement would overflow"
    );
    assert_eq!(
        err(&mut con, &["HINCRBY", "h", "n", "x"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        err(&mut con, &["HINCRBY", "h", "n", "1.5"]),
        "ERR value is not an integer or out of range"
    );

    assert_eq!(
        q::<String>(&mut con, &["HINCRBYFLOAT", "h", "f", "0.1"]),
        "1.6"
    );
    assert_eq!(
        q::<String>(&mut con, &["HINCRBYFLOAT", "h", "f", "-1.6"]),
        "0"
    );
    assert_eq!(
        q::<String>(&mut con, &["HINCRBYFLOAT", "h", "n", "2.5"]),
        "0.5"
    );
    assert_eq!(
        q::<String>(&mut con, &["HINCRBYFLOAT", "h", "g", "5.0e3"]),
        "5000"
    );
    assert_eq!(q::<String>(&mut con, &["HGET", "h", "g"]), "5000");
    assert_eq!(
        q::<String>(&mut con, &["HINCRBYFLOAT", "h2", "a", "0.1"]),
        "0.1"
    );
    assert_eq!(
        q::<String>(&mut con, &["HINCRBYFLOAT", "h2", "a", "0.2"]),
        "0.3"
    );
    assert_eq!(
        err(&mut con, &["HINCRBYFLOAT", "h", "s", "1"]),
        "ERR hash value is not a float"
    );
    assert_eq!(
        err(&mut con, &["HINCRBYFLOAT", "h", "f", "abc"]),
        "ERR value is not a valid float"
    );
    assert_eq!(
        err(&mut con, &["HINCRBYFLOAT", "h", "f", "inf"]),
        "ERR value is NaN or Infinity"
    );
    let _: i64 = q(&mut con, &["HSET", "h", "huge", "1.7e308"]);
    assert_eq!(
        err(&mut con, &["HINCRBYFLOAT", "h", "huge", "1.7e308"]),
        "ERR increment would produce NaN or Infinity"
    );
    assert_eq!(
        q::<String>(&mut con, &["HGET", "h", "huge"]),
        "1.7e308",
        "unchanged on error"
    );
    assert_eq!(q::<i64>(&mut con, &["EXISTS", "fresh"]), 0);
    assert_eq!(
        err(&mut con, &["HINCRBYFLOAT", "fresh", "f", "inf"]),
        "ERR value is NaN or Infinity"
    );
    assert_eq!(
        q::<i64>(&mut con, &["EXISTS", "fresh"]),
        0,
        "no empty hash left behind"
    );
}

#[test]
fn hgetall_is_a_map_in_resp3_and_hrandfield_pairs_are_arrays() {
    let node = Node::start(&[]);
    let client = redis::Client::open(format!("{}?protocol=resp3", node.url())).unwrap();
    let mut con = client.get_connection().unwrap();
    let _: i64 = q(&mut con, &["HSET", "h", "a", "1", "b", "2"]);
    let Value::Map(pairs) = q::<Value>(&mut con, &["HGETALL", "h"]) else {
        panic!("HGETALL is not a map under RESP3")
    };
    assert_eq!(pairs.len(), 2);
    let Value::Array(items) = q::<Value>(&mut con, &["HRANDFIELD", "h", "-5", "WITHVALUES"]) else {
        panic!("not an array")
    };
    assert_eq!(items.len(), 5);
    for item in items {
        let Value::Array(pair) = item else {
            panic!("RESP3 HRANDFIELD WITHVALUES gives [field, value] pairs")
        };
        let (field, value): (String, String) = redis::from_redis_value(Value::Array(pair)).unwrap();
        assert_eq!(value, if field == "a" { "1" } else { "2" });
    }
    // HEXISTS stays an integer in RESP3, as in Redis.
    assert_eq!(q::<Value>(&mut con, &["HEXISTS", "h", "a"]), Value::Int(1));
    assert_eq!(q::<Value>(&mut con, &["HGET", "h", "zz"]), Value::Nil);
}

#[test]
fn hscan_small_hash_in_one_call_and_options() {
    let node = Node::start(&[]);
    let mut con = node.client();
    let mut args = vec!["h".to_string()];
    for i in 0..100 {
        args.push(format!("f{i}"));
        args.push(format!("v{i}"));
    }
    let refs: Vec<&str> = std::iter::once("HSET")
        .chain(args.iter().map(|s| s.as_str()))
        .collect();
    let _: i64 = q(&mut con, &refs);
    let (next, items): (String, Vec<String>) = q(&mut con, &["HSCAN", "h", "0", "COUNT", "5"]);
    assert_eq!(
        (next.as_str(), items.len()),
        ("0", 200),
        "a small hash comes whole"
    );
    for pair in items.chunks(2) {
        assert_eq!(pair[1], pair[0].replace('f', "v"));
    }
    let (_, items): (String, Vec<String>) = q(&mut con, &["HSCAN", "h", "0", "MATCH", "f1?"]);
    assert_eq!(items.len(), 20);
    let (_, fields): (String, Vec<String>) =
        q(&mut con, &["HSCAN", "h", "0", "MATCH", "f9*", "NOVALUES"]);
    let mut fields = fields;
    fields.sort();
    assert_eq!(
        fields,
        ["f9", "f90", "f91", "f92", "f93", "f94", "f95", "f96", "f97", "f98", "f99"]
    );
    let (next, items): (String, Vec<String>) = q(&mut con, &["HSCAN", "nokey", "0"]);
    assert_eq!((next.as_str(), items.len()), ("0", 0));
    assert_eq!(err(&mut con, &["HSCAN", "h", "x"]), "ERR invalid cursor");
    assert_eq!(
        err(&mut con, &["HSCAN", "h", "0", "COUNT", "0"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut con, &["HSCAN", "h", "0", "COUNT", "x"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        err(&mut con, &["HSCAN", "h", "0", "BOGUS"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut con, &["HSCAN", "h", "0", "MATCH"]),
        "ERR syntax error"
    );
}

#[test]
fn hscan_returns_every_stable_field_while_the_hash_grows_and_shrinks() {
    let node = Node::start(&[]);
    let mut con = node.client();
    // 500 fields stay throughout; 4500 more are deleted during the scan,
    // and new ones are added, so the table both shrinks and grows.
    let mut pipe = redis::pipe();
    for i in 0..5000 {
        pipe.cmd("HSET")
            .arg("big")
            .arg(format!("f{i}"))
            .arg(i)
            .ignore();
    }
    let _: () = pipe.query(&mut con).unwrap();
    let (items, steps) = scan_all(&mut con, "HSCAN", "big", &["COUNT", "10"], |con, step| {
        let mut pipe = redis::pipe();
        for i in 0..150 {
            let gone = 500 + (step * 150 + i) % 4500;
            pipe.cmd("HDEL").arg("big").arg(format!("f{gone}")).ignore();
        }
        for i in 0..40 {
            pipe.cmd("HSET")
                .arg("big")
                .arg(format!("new{step}:{i}"))
                .arg(1)
                .ignore();
        }
        let _: () = pipe.query(con).unwrap();
    });
    assert!(steps > 3, "a big hash takes several calls ({steps})");
    let seen: HashSet<&str> = items.iter().step_by(2).map(|s| s.as_str()).collect();
    for i in 0..500 {
        assert!(
            seen.contains(format!("f{i}").as_str()),
            "f{i} was never returned"
        );
    }
    // Values travel with their fields.
    for pair in items.chunks(2) {
        if let Some(i) = pair[0].strip_prefix('f') {
            assert_eq!(pair[1], i);
        }
    }
    // Unchanged, a full scan returns each field (almost always exactly once).
    let len: usize = q(&mut con, &["HLEN", "big"]);
    let (items, _) = scan_all(&mut con, "HSCAN", "big", &["NOVALUES"], |_, _| {});
    let unique: HashSet<&String> = items.iter().collect();
    assert_eq!(unique.len(), len);
    assert_eq!(items.len(), len);
}

#[test]
fn hrandfield_counts() {
    let node = Node::start(&[]);
    let mut con = node.client();
    assert_eq!(
        q::<Option<String>>(&mut con, &["HRANDFIELD", "nokey"]),
        None
    );
    assert!(q::<Vec<String>>(&mut con, &["HRANDFIELD", "nokey", "5"]).is_empty());
    let mut args = vec!["h".to_string()];
    for i in 0..300 {
        args.push(format!("f{i}"));
        args.push(format!("v{i}"));
    }
    let refs: Vec<&str> = std::iter::once("HSET")
        .chain(args.iter().map(|s| s.as_str()))
        .collect();
    let _: i64 = q(&mut con, &refs);

    let one: String = q(&mut con, &["HRANDFIELD", "h"]);
    assert!(one.starts_with('f'));
    assert!(q::<Vec<String>>(&mut con, &["HRANDFIELD", "h", "0"]).is_empty());
    // Positive: distinct fields, at most the hash's size.
    for count in [1, 10, 150, 299, 300, 1000] {
        let got: Vec<String> = q(&mut con, &["HRANDFIELD", "h", &count.to_string()]);
        assert_eq!(got.len(), count.min(300));
        assert_eq!(
            got.iter().collect::<HashSet<_>>().len(),
            got.len(),
            "distinct"
        );
    }
    // Negative: exactly |count| picks, repeats allowed, spread over the hash.
    let got: Vec<String> = q(&mut con, &["HRANDFIELD", "h", "-3000"]);
    assert_eq!(got.len(), 3000);
    let distinct = got.iter().collect::<HashSet<_>>().len();
    assert!(
        distinct > 250 && distinct < 3000,
        "{distinct} distinct of 3000 picks"
    );
    // WITHVALUES: field/value pairs that belong together.
    for count in ["7", "-7", "500"] {
        let got: Vec<String> = q(&mut con, &["HRANDFIELD", "h", count, "WITHVALUES"]);
        let expected = if count == "500" { 600 } else { 14 };
        assert_eq!(got.len(), expected);
        for pair in got.chunks(2) {
            assert_eq!(pair[1], pair[0].replace('f', "v"));
        }
    }
    assert_eq!(
        err(&mut con, &["HRANDFIELD", "h", "abc"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        err(&mut con, &["HRANDFIELD", "h", "5", "WITHVALUES", "x"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut con, &["HRANDFIELD", "h", "5", "BOGUS"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut con, &["HRANDFIELD", "h", "-9223372036854775808"]),
        "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
    );
    assert_eq!(
        err(
            &mut con,
            &["HRANDFIELD", "h", "-9223372036854775807", "WITHVALUES"]
        ),
        "ERR value is out of range"
    );
}

#[test]
fn encoding_memory_and_cli() {
    let node = Node::start(&[]);
    let mut con = node.client();
    let _: i64 = q(&mut con, &["HSET", "h", "a", "1"]);
    assert_eq!(
        q::<String>(&mut con, &["OBJECT", "ENCODING", "h"]),
        "listpack"
    );
    let long = "x".repeat(65);
    let _: i64 = q(&mut con, &["HSET", "h", "b", &long]);
    assert_eq!(
        q::<String>(&mut con, &["OBJECT", "ENCODING", "h"]),
        "hashtable"
    );
    let small: i64 = q(&mut con, &["MEMORY", "USAGE", "h"]);
    let mut pipe = redis::pipe();
    for i in 0..1000 {
        pipe.cmd("HSET")
            .arg("h")
            .arg(format!("field{i}"))
            .arg("value")
            .ignore();
    }
    let _: () = pipe.query(&mut con).unwrap();
    let big: i64 = q(&mut con, &["MEMORY", "USAGE", "h"]);
    assert!(
        big > small + 1000 * 10,
        "memory grows with fields: {small} -> {big}"
    );
    // redis-cli, which prints RESP3 maps and pairs its own way, agrees.
    assert_eq!(node.cli(&["HGET", "h", "a"]).trim(), "1");
    assert_eq!(node.cli(&["HLEN", "h"]).trim(), "1002");
    assert_eq!(node.cli(&["-3", "HGETALL", "h"]).lines().count(), 1002);
}

/// A small hash answers in the order its fields came, as Redis answers
/// from a listpack (updates keep a field's place, a field deleted and set
/// again goes last), and turns into a table past Redis's limits for good.
#[test]
fn a_small_hash_keeps_redis_listpack_order() {
    let node = Node::start(&[]);
    let redis = reference::Reference::start();
    let (mut ours, mut theirs) = (node.client(), redis.client());
    let long = "x".repeat(65);
    let script = [
        "HSET h z 1 a 2 m 3 b 4",
        "HSET h a two",
        "HDEL h z",
        "HSET h z again",
        "HINCRBY h n 5",
        "HGETALL h",
        "HKEYS h",
        "HVALS h",
        "HSCAN h 0",
        "HSCAN h 0 MATCH *a*",
        "HRANDFIELD h 100 WITHVALUES",
        "OBJECT ENCODING h",
        "RENAME h r",
        "HGETALL r",
        "COPY r c",
        "HGETALL c",
        &format!("HSETNX r a {long}"),
        "OBJECT ENCODING r",
        &format!("HSET r a {long}"),
        "OBJECT ENCODING r",
        "HDEL r a",
        "OBJECT ENCODING r",
        "HGET r m",
        "HSET s f 1",
        "HDEL s f",
        "EXISTS s",
    ];
    reference::assert_replies_alike(&mut ours, &mut theirs, &script);

    // HRANDFIELD with a count below the size picks from a listpack in its
    // order too (Redis's "non-random order" case).
    let fields: Vec<String> = (0..20).map(|i| format!("f{:02}", 19 - i)).collect();
    for f in &fields {
        let _: i64 = q(&mut ours, &["HSET", "big", f, "v"]);
    }
    for _ in 0..20 {
        let picked: Vec<String> = q(&mut ours, &["HRANDFIELD", "big", "5"]);
        let places: Vec<usize> = picked
            .iter()
            .map(|p| fields.iter().position(|f| f == p).unwrap())
            .collect();
        assert!(places.windows(2).all(|w| w[0] < w[1]), "{picked:?}");
    }
}
