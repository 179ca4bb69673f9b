//! Set commands through real clients: replies, errors and edge cases as
//! Redis 7.0, encodings, SSCAN's guarantee under concurrent changes, and a
//! differential run against a real redis-server.

mod reference;

use std::collections::HashSet;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use redis::{Connection, Value};
use reference::Reference;
use slotcache_tests::{err, q, scan_all, wait_until, Node};

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn sadd(con: &mut Connection, key: &str, members: impl IntoIterator<Item = String>) -> i64 {
    let mut c = redis::cmd("SADD");
    c.arg(key);
    for m in members {
        c.arg(m);
    }
    c.query(con).unwrap()
}

#[test]
fn add_remove_members_and_the_key_disappears() {
    let node = Node::start(&[]);
    let mut con = node.client();
    assert_eq!(q::<i64>(&mut con, &["SADD", "s", "a", "b", "c", "a"]), 3);
    assert_eq!(q::<i64>(&mut con, &["SADD", "s", "c", "d"]), 1);
    assert_eq!(q::<i64>(&mut con, &["SCARD", "s"]), 4);
    assert_eq!(q::<i64>(&mut con, &["SCARD", "nokey"]), 0);
    assert_eq!(
        sorted(q(&mut con, &["SMEMBERS", "s"])),
        ["a", "b", "c", "d"]
    );
    assert!(q::<Vec<String>>(&mut con, &["SMEMBERS", "nokey"]).is_empty());
    assert_eq!(q::<i64>(&mut con, &["SISMEMBER", "s", "a"]), 1);
    assert_eq!(q::<i64>(&mut con, &["SISMEMBER", "s", "z"]), 0);
    assert_eq!(q::<i64>(&mut con, &["SISMEMBER", "nokey", "a"]), 0);
    assert_eq!(
        q::<Vec<i64>>(&mut con, &["SMISMEMBER", "s", "a", "z", "d"]),
        [1, 0, 1]
    );
    assert_eq!(
        q::<Vec<i64>>(&mut con, &["SMISMEMBER", "nokey", "a", "b"]),
        [0, 0]
    );
    assert_eq!(q::<String>(&mut con, &["TYPE", "s"]), "set");
    assert_eq!(q::<i64>(&mut con, &["SREM", "s", "a", "z", "a"]), 1);
    assert_eq!(q::<i64>(&mut con, &["SREM", "nokey", "a"]), 0);
    assert_eq!(q::<i64>(&mut con, &["SREM", "s", "b", "c", "d"]), 3);
    assert_eq!(q::<i64>(&mut con, &["EXISTS", "s"]), 0, "emptied: deleted");
    // Binary-safe members.
    let _: i64 = redis::cmd("SADD")
        .arg("bin")
        .arg(&b"\x00\xff\r\n"[..])
        .query(&mut con)
        .unwrap();
    let members: Vec<Vec<u8>> = q(&mut con, &["SMEMBERS", "bin"]);
    assert_eq!(members, [b"\x00\xff\r\n".to_vec()]);
}

#[test]
fn wrong_type_and_argument_errors() {
    let node = Node::start(&[]);
    let mut con = node.client();
    let _: () = q(&mut con, &["SET", "str", "x"]);
    let _: i64 = q(&mut con, &["SADD", "s", "1"]);
    for args in [
        &["SADD", "str", "a"][..],
        &["SREM", "str", "a"],
        &["SMEMBERS", "str"],
        &["SISMEMBER", "str", "a"],
        &["SMISMEMBER", "str", "a"],
        &["SCARD", "str"],
        &["SPOP", "str"],
        &["SPOP", "str", "0"],
        &["SRANDMEMBER", "str"],
        &["SRANDMEMBER", "str", "2"],
        &["SMOVE", "str", "s", "a"],
        &["SMOVE", "s", "str", "1"],
        &["SINTER", "s", "str"],
        // A missing key does not hide a wrong type after it.
        &["SINTER", "nokey", "str"],
        &["SUNION", "s", "str"],
        &["SDIFF", "nokey", "str"],
        &["SINTERSTORE", "d", "nokey", "str"],
        &["SUNIONSTORE", "d", "str"],
        &["SDIFFSTORE", "d", "s", "str"],
        &["SINTERCARD", "2", "nokey", "str"],
        &["SSCAN", "str", "0"],
    ] {
        assert_eq!(err(&mut con, args), WRONGTYPE, "{args:?}");
    }
    assert_eq!(q::<String>(&mut con, &["GET", "str"]), "x");
    assert_eq!(
        q::<i64>(&mut con, &["SCARD", "s"]),
        1,
        "SMOVE moved nothing"
    );
    assert_eq!(
        err(&mut con, &["SADD", "s"]),
        "ERR wrong number of arguments for 'sadd' command"
    );
    assert_eq!(err(&mut con, &["SPOP", "s", "1", "2"]), "ERR syntax error");
    assert_eq!(
        err(&mut con, &["SRANDMEMBER", "s", "1", "2"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut con, &["SPOP", "s", "-1"]),
        "ERR value is out of range, must be positive"
    );
    assert_eq!(
        err(&mut con, &["SPOP", "s", "x"]),
        "ERR value is out of range, must be positive"
    );
    assert_eq!(
        err(&mut con, &["SRANDMEMBER", "s", "x"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        err(&mut con, &["SRANDMEMBER", "s", "-9223372036854775808"]),
        "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
    );
}

#[test]
fn encodings_follow_redis_7_0() {
    let node = Node::start(&[]);
    let mut con = node.client();
    let enc = |con: &mut Connection, key: &str| q::<String>(con, &["OBJECT", "ENCODING", key]);
    let _: i64 = q(&mut con, &["SADD", "ints", "30", "-2", "100", "7"]);
    assert_eq!(enc(&mut con, "ints"), "intset");
    // An intset answers in numeric order, as Redis's does.
    assert_eq!(
        q::<Vec<String>>(&mut con, &["SMEMBERS", "ints"]),
        ["-2", "7", "30", "100"]
    );
    let _: i64 = q(&mut con, &["SADD", "ints", "x"]);
    assert_eq!(enc(&mut con, "ints"), "hashtable");
    let _: i64 = q(&mut con, &["SREM", "ints", "x"]);
    assert_eq!(enc(&mut con, "ints"), "hashtable", "no way back");
    // "01" and "+1" are not integers to Redis.
    let _: i64 = q(&mut con, &["SADD", "padded", "01"]);
    assert_eq!(enc(&mut con, "padded"), "hashtable");
    assert_eq!(q::<i64>(&mut con, &["SISMEMBER", "padded", "1"]), 0);
    // The 513th integer ends the intset.
    assert_eq!(sadd(&mut con, "many", (0..512).map(|i| i.to_string())), 512);
    assert_eq!(enc(&mut con, "many"), "intset");
    assert_eq!(sadd(&mut con, "many", ["512".to_string()]), 1);
    assert_eq!(enc(&mut con, "many"), "hashtable");
    assert_eq!(q::<i64>(&mut con, &["SCARD", "many"]), 513);
    assert_eq!(q::<i64>(&mut con, &["SISMEMBER", "many", "0"]), 1);
    let _: i64 = q(&mut con, &["SADD", "words", "a"]);
    assert_eq!(enc(&mut con, "words"), "hashtable");
    // MEMORY USAGE grows with the set.
    let small: i64 = q(&mut con, &["MEMORY", "USAGE", "words"]);
    assert_eq!(
        sadd(&mut con, "words", (0..1000).map(|i| format!("member:{i}"))),
        1000
    );
    let big: i64 = q(&mut con, &["MEMORY", "USAGE", "words"]);
    assert!(big > small + 10_000, "{small} -> {big}");
}

#[test]
fn spop_and_srandmember_counts() {
    let node = Node::start(&[]);
    let mut con = node.client();
    assert_eq!(q::<Option<String>>(&mut con, &["SPOP", "nokey"]), None);
    assert!(q::<Vec<String>>(&mut con, &["SPOP", "nokey", "3"]).is_empty());
    assert_eq!(
        q::<Option<String>>(&mut con, &["SRANDMEMBER", "nokey"]),
        None
    );
    assert!(q::<Vec<String>>(&mut con, &["SRANDMEMBER", "nokey", "3"]).is_empty());
    assert!(q::<Vec<String>>(&mut con, &["SRANDMEMBER", "nokey", "-3"]).is_empty());

    for (key, words) in [("ints", false), ("words", true)] {
        let all: HashSet<String> = (0..200)
            .map(|i| {
                if words {
                    format!("m{i}")
                } else {
                    i.to_string()
                }
            })
            .collect();
        sadd(&mut con, key, all.iter().cloned());
        let one: String = q(&mut con, &["SRANDMEMBER", key]);
        assert!(all.contains(&one));
        assert!(q::<Vec<String>>(&mut con, &["SRANDMEMBER", key, "0"]).is_empty());
        for count in [1usize, 50, 199, 200, 500] {
            let got: Vec<String> = q(&mut con, &["SRANDMEMBER", key, &count.to_string()]);
            assert_eq!(got.len(), count.min(200));
            let unique: HashSet<&String> = got.iter().collect();
            assert_eq!(unique.len(), got.len(), "distinct");
            assert!(got.iter().all(|m| all.contains(m)));
        }
        // Negative: exactly |count| picks, repeats allowed.
        let got: Vec<String> = q(&mut con, &["SRANDMEMBER", key, "-1000"]);
        assert_eq!(got.len(), 1000);
        assert!(got.iter().all(|m| all.contains(m)));
        assert!(got.iter().collect::<HashSet<_>>().len() > 100, "spread out");
        assert_eq!(
            q::<i64>(&mut con, &["SCARD", key]),
            200,
            "SRANDMEMBER removes nothing"
        );

        // SPOP removes what it returns.
        let mut left = all.clone();
        let one: String = q(&mut con, &["SPOP", key]);
        assert!(left.remove(&one));
        assert!(q::<Vec<String>>(&mut con, &["SPOP", key, "0"]).is_empty());
        let some: Vec<String> = q(&mut con, &["SPOP", key, "120"]);
        assert_eq!(some.len(), 120);
        for m in &some {
            assert!(left.remove(m), "{m} popped twice or never there");
        }
        let rest: HashSet<String> = q(&mut con, &["SMEMBERS", key]);
        assert_eq!(rest, left);
        let last: Vec<String> = q(&mut con, &["SPOP", key, "1000"]);
        assert_eq!(last.into_iter().collect::<HashSet<_>>(), left);
        assert_eq!(q::<i64>(&mut con, &["EXISTS", key]), 0);
    }
    let _: i64 = q(&mut con, &["SADD", "single", "x"]);
    assert_eq!(q::<String>(&mut con, &["SPOP", "single"]), "x");
    assert_eq!(q::<i64>(&mut con, &["EXISTS", "single"]), 0);
}

#[test]
fn smove() {
    let node = Node::start(&[]);
    let mut con = node.client();
    let _: i64 = q(&mut con, &["SADD", "src", "a", "b"]);
    let _: i64 = q(&mut con, &["SADD", "dst", "c"]);
    assert_eq!(q::<i64>(&mut con, &["SMOVE", "src", "dst", "a"]), 1);
    assert_eq!(q::<i64>(&mut con, &["SMOVE", "src", "dst", "zz"]), 0);
    assert_eq!(q::<i64>(&mut con, &["SMOVE", "nokey", "dst", "a"]), 0);
    assert_eq!(sorted(q(&mut con, &["SMEMBERS", "dst"])), ["a", "c"]);
    // Already in the destination: leaves the source all the same.
    let _: i64 = q(&mut con, &["SADD", "src", "c"]);
    assert_eq!(q::<i64>(&mut con, &["SMOVE", "src", "dst", "c"]), 1);
    assert_eq!(q::<Vec<String>>(&mut con, &["SMEMBERS", "src"]), ["b"]);
    // Same key: 1 if the member is there, nothing changes.
    assert_eq!(q::<i64>(&mut con, &["SMOVE", "src", "src", "b"]), 1);
    assert_eq!(q::<i64>(&mut con, &["SMOVE", "src", "src", "x"]), 0);
    // The last member leaves: the source goes, a new destination appears.
    assert_eq!(q::<i64>(&mut con, &["SMOVE", "src", "fresh", "b"]), 1);
    assert_eq!(q::<i64>(&mut con, &["EXISTS", "src"]), 0);
    assert_eq!(q::<Vec<String>>(&mut con, &["SMEMBERS", "fresh"]), ["b"]);
    // A missing source answers 0 before the destination's type matters.
    let _: () = q(&mut con, &["SET", "str", "x"]);
    assert_eq!(q::<i64>(&mut con, &["SMOVE", "nokey", "str", "a"]), 0);
}

#[test]
fn algebra_and_store_forms() {
    let node = Node::start(&[]);
    let mut con = node.client();
    let _: i64 = q(&mut con, &["SADD", "a", "1", "2", "3", "x", "y"]);
    let _: i64 = q(&mut con, &["SADD", "b", "2", "3", "4", "y"]);
    let _: i64 = q(&mut con, &["SADD", "c", "3", "y", "z"]);
    assert_eq!(sorted(q(&mut con, &["SINTER", "a", "b", "c"])), ["3", "y"]);
    assert_eq!(
        sorted(q(&mut con, &["SINTER", "a", "a"])),
        ["1", "2", "3", "x", "y"]
    );
    assert!(q::<Vec<String>>(&mut con, &["SINTER", "a", "nokey"]).is_empty());
    assert_eq!(
        sorted(q(&mut con, &["SUNION", "a", "b", "nokey", "c"])),
        ["1", "2", "3", "4", "x", "y", "z"]
    );
    assert_eq!(sorted(q(&mut con, &["SDIFF", "a", "b", "c"])), ["1", "x"]);
    assert_eq!(
        sorted(q(&mut con, &["SDIFF", "a", "nokey"])),
        ["1", "2", "3", "x", "y"]
    );
    assert!(q::<Vec<String>>(&mut con, &["SDIFF", "nokey", "a"]).is_empty());
    assert!(q::<Vec<String>>(&mut con, &["SDIFF", "a", "a"]).is_empty());

    // STORE forms replace the destination whatever it held, TTL included.
    let _: () = q(&mut con, &["SET", "dst", "string", "EX", "100"]);
    assert_eq!(q::<i64>(&mut con, &["SINTERSTORE", "dst", "a", "b"]), 3);
    assert_eq!(sorted(q(&mut con, &["SMEMBERS", "dst"])), ["2", "3", "y"]);
    assert_eq!(q::<i64>(&mut con, &["TTL", "dst"]), -1);
    assert_eq!(q::<i64>(&mut con, &["SUNIONSTORE", "dst", "dst", "c"]), 4);
    assert_eq!(
        sorted(q(&mut con, &["SMEMBERS", "dst"])),
        ["2", "3", "y", "z"]
    );
    assert_eq!(q::<i64>(&mut con, &["SDIFFSTORE", "dst", "a", "dst"]), 2);
    assert_eq!(sorted(q(&mut con, &["SMEMBERS", "dst"])), ["1", "x"]);
    // An empty result deletes the destination.
    assert_eq!(q::<i64>(&mut con, &["SINTERSTORE", "dst", "a", "nokey"]), 0);
    assert_eq!(q::<i64>(&mut con, &["EXISTS", "dst"]), 0);
    let _: i64 = q(&mut con, &["SADD", "dst", "old"]);
    assert_eq!(q::<i64>(&mut con, &["SDIFFSTORE", "dst", "a", "a"]), 0);
    assert_eq!(q::<i64>(&mut con, &["EXISTS", "dst"]), 0);
    // Integer results are intsets again.
    assert_eq!(q::<i64>(&mut con, &["SINTERSTORE", "nums", "a", "b"]), 3);
    assert_eq!(q::<i64>(&mut con, &["SREM", "nums", "y"]), 1);
    assert_eq!(q::<i64>(&mut con, &["SUNIONSTORE", "nums2", "nums"]), 2);
    assert_eq!(
        q::<String>(&mut con, &["OBJECT", "ENCODING", "nums2"]),
        "intset"
    );

    assert_eq!(q::<i64>(&mut con, &["SINTERCARD", "2", "a", "b"]), 3);
    assert_eq!(
        q::<i64>(&mut con, &["SINTERCARD", "2", "a", "b", "LIMIT", "2"]),
        2
    );
    assert_eq!(
        q::<i64>(&mut con, &["SINTERCARD", "2", "a", "b", "LIMIT", "0"]),
        3
    );
    assert_eq!(q::<i64>(&mut con, &["SINTERCARD", "1", "c"]), 3);
    assert_eq!(q::<i64>(&mut con, &["SINTERCARD", "2", "c", "nokey"]), 0);
    for (args, e) in [
        (
            &["SINTERCARD", "0", "a"][..],
            "ERR numkeys should be greater than 0",
        ),
        (
            &["SINTERCARD", "x", "a"],
            "ERR numkeys should be greater than 0",
        ),
        (
            &["SINTERCARD", "3", "a", "b"],
            "ERR Number of keys can't be greater than number of args",
        ),
        (
            &["SINTERCARD", "1", "a", "LIMIT", "-1"],
            "ERR LIMIT can't be negative",
        ),
        (
            &["SINTERCARD", "1", "a", "LIMIT", "x"],
            "ERR LIMIT can't be negative",
        ),
        (&["SINTERCARD", "1", "a", "LIMIT"], "ERR syntax error"),
        (&["SINTERCARD", "1", "a", "b"], "ERR syntax error"),
    ] {
        assert_eq!(err(&mut con, args), e, "{args:?}");
    }
}

#[test]
fn resp3_reply_types() {
    let node = Node::start(&[]);
    let client = redis::Client::open(format!("{}?protocol=resp3", node.url())).unwrap();
    let mut con = client.get_connection().unwrap();
    let _: i64 = q(&mut con, &["SADD", "s", "a", "b", "c"]);
    let _: i64 = q(&mut con, &["SADD", "t", "b"]);
    // SPOP takes a random member: pop from its own set so `s` stays known.
    let _: i64 = q(&mut con, &["SADD", "u", "x", "y"]);
    for args in [
        &["SMEMBERS", "s"][..],
        &["SMEMBERS", "nokey"],
        &["SINTER", "s", "t"],
        &["SUNION", "s", "t"],
        &["SDIFF", "s", "t"],
        &["SPOP", "nokey", "2"],
        &["SPOP", "u", "1"],
    ] {
        let v: Value = q(&mut con, args);
        assert!(matches!(v, Value::Set(_)), "{args:?} gave {v:?}");
    }
    let v: Value = q(&mut con, &["SRANDMEMBER", "s", "2"]);
    assert!(matches!(v, Value::Array(ref a) if a.len() == 2), "{v:?}");
    assert_eq!(
        q::<Value>(&mut con, &["SMISMEMBER", "s", "b", "z"]),
        Value::Array(vec![Value::Int(1), Value::Int(0)])
    );
    assert_eq!(q::<Value>(&mut con, &["SPOP", "nokey"]), Value::Nil);
    assert_eq!(q::<Value>(&mut con, &["SRANDMEMBER", "nokey"]), Value::Nil);
}

#[test]
fn through_redis_cli() {
    let node = Node::start(&[]);
    assert_eq!(node.cli(&["SADD", "s", "3", "1", "2"]), "3\n");
    assert_eq!(node.cli(&["SMEMBERS", "s"]), "1\n2\n3\n");
    assert_eq!(node.cli(&["SISMEMBER", "s", "2"]), "1\n");
    assert_eq!(node.cli(&["SCARD", "s"]), "3\n");
    assert_eq!(node.cli(&["OBJECT", "ENCODING", "s"]), "intset\n");
    assert_eq!(node.cli(&["SUNIONSTORE", "u", "s", "nokey"]), "3\n");
    assert_eq!(node.cli(&["SSCAN", "u", "0"]), "0\n1\n2\n3\n");
    assert_eq!(node.cli(&["TYPE", "u"]), "set\n");
}

#[test]
fn expiry_delete_and_scan_type() {
    let node = Node::start(&[]);
    let mut con = node.client();
    sadd(&mut con, "big", (0..5000).map(|i| format!("m{i}")));
    let _: i64 = q(&mut con, &["SADD", "small", "a"]);
    let _: () = q(&mut con, &["SET", "str", "x"]);
    let (_, keys): (String, Vec<String>) =
        q(&mut con, &["SCAN", "0", "TYPE", "set", "COUNT", "1000"]);
    assert_eq!(sorted(keys), ["big", "small"]);
    assert_eq!(q::<i64>(&mut con, &["PEXPIRE", "small", "50"]), 1);
    wait_until(Duration::from_secs(5), "the set expires", || {
        q::<i64>(&mut con, &["EXISTS", "small"]) == 0
    });
    assert_eq!(q::<i64>(&mut con, &["SCARD", "small"]), 0);
    // A big set is freed off the request path; the key is gone at once.
    assert_eq!(q::<i64>(&mut con, &["DEL", "big"]), 1);
    assert_eq!(q::<i64>(&mut con, &["SCARD", "big"]), 0);
    assert_eq!(q::<i64>(&mut con, &["SADD", "big", "again"]), 1);
}

#[test]
fn sscan_options_and_guarantee_under_changes() {
    let node = Node::start(&[]);
    let mut con = node.client();
    // Intsets come whole, whatever the COUNT.
    sadd(&mut con, "ints", (0..300).map(|i| i.to_string()));
    let (next, items): (String, Vec<String>) = q(&mut con, &["SSCAN", "ints", "0", "COUNT", "5"]);
    assert_eq!((next.as_str(), items.len()), ("0", 300));
    let (_, items): (String, Vec<String>) = q(&mut con, &["SSCAN", "ints", "0", "MATCH", "1?"]);
    assert_eq!(sorted(items).len(), 10);
    let (next, items): (String, Vec<String>) = q(&mut con, &["SSCAN", "nokey", "0"]);
    assert_eq!((next.as_str(), items.len()), ("0", 0));
    assert_eq!(err(&mut con, &["SSCAN", "ints", "x"]), "ERR invalid cursor");
    assert_eq!(
        err(&mut con, &["SSCAN", "ints", "0", "COUNT", "0"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut con, &["SSCAN", "ints", "0", "NOVALUES"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut con, &["SSCAN", "ints", "0", "COUNT", "x"]),
        "ERR value is not an integer or out of range"
    );

    // 500 members stay throughout; 4500 go during the scan and new ones
    // arrive, so the table both shrinks and grows under the cursor.
    sadd(&mut con, "big", (0..5000).map(|i| format!("m{i}")));
    let (items, steps) = scan_all(&mut con, "SSCAN", "big", &["COUNT", "10"], |con, step| {
        let mut pipe = redis::pipe();
        for i in 0..150 {
            let gone = 500 + (step * 150 + i) % 4500;
            pipe.cmd("SREM").arg("big").arg(format!("m{gone}")).ignore();
        }
        for i in 0..40 {
            pipe.cmd("SADD")
                .arg("big")
                .arg(format!("new{step}:{i}"))
                .ignore();
        }
        let _: () = pipe.query(con).unwrap();
    });
    assert!(steps > 3, "a big set takes several calls ({steps})");
    let seen: HashSet<&str> = items.iter().map(|s| s.as_str()).collect();
    for i in 0..500 {
        assert!(
            seen.contains(format!("m{i}").as_str()),
            "m{i} was never returned"
        );
    }
    let (items, _) = scan_all(&mut con, "SSCAN", "big", &["MATCH", "m1*"], |_, _| {});
    assert!(items.iter().all(|m| m.starts_with("m1")));
    assert!(items.contains(&"m100".to_string()));
}

#[test]
fn same_replies_as_redis_server() {
    let node = Node::start(&[]);
    let reference = Reference::start();
    let (mut ours, mut theirs) = (node.client(), reference.client());
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let keys = ["s1", "s2", "s3", "str"];
    let _: () = q(&mut ours, &["SET", "str", "x"]);
    let _: () = q(&mut theirs, &["SET", "str", "x"]);
    for step in 0..3000 {
        let key = |rng: &mut rand::rngs::StdRng| keys[rng.gen_range(0..keys.len())];
        let member = |rng: &mut rand::rngs::StdRng| {
            // Mostly integers, so intsets form and convert.
            if rng.gen_bool(0.8) {
                rng.gen_range(-20..40).to_string()
            } else {
                format!("w{}", rng.gen_range(0..20))
            }
        };
        let words = |v: &[&str]| v.iter().map(|w| w.to_string()).collect::<Vec<String>>();
        let (k1, k2, k3) = (key(&mut rng), key(&mut rng), key(&mut rng));
        let (m1, m2) = (member(&mut rng), member(&mut rng));
        let args = match rng.gen_range(0..12) {
            0..=2 => {
                let mut args = words(&["SADD", k1]);
                args.extend((0..rng.gen_range(1..6)).map(|_| member(&mut rng)));
                args
            }
            3 => words(&["SREM", k1, &m1, &m2]),
            4 => words(&["SMEMBERS", k1]),
            5 => words(&["SISMEMBER", k1, &m1]),
            6 => words(&["SCARD", k1]),
            7 => words(&[["SINTER", "SUNION", "SDIFF"][rng.gen_range(0..3)], k1, k2]),
            8 => {
                let op = ["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"][rng.gen_range(0..3)];
                words(&[op, k1, k2, k3])
            }
            9 => words(&["SMOVE", k1, k2, &m1]),
            10 => words(&["SINTERCARD", "2", k1, k2]),
            _ => words(&["OBJECT", "ENCODING", k1]),
        };
        let (a, b) = reference::both(&mut ours, &mut theirs, &args, true);
        assert_eq!(a, b, "step {step}: {args:?}");
    }
}
