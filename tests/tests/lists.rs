//! List commands through real clients: replies, errors and edge cases as
//! Redis 7 (negative indexes, out of range, empty results, the null forms
//! of RESP2 and RESP3), and the blocking pops: arrival order, timeouts,
//! BLMOVE, unblocking by CLIENT KILL.

mod reference;
mod replies;

use std::time::{Duration, Instant};

use redis::{Connection, Value};
use replies::Wire;
use slotcache_tests::{wait_until, Node};

fn cmd(name: &str, args: &[&str]) -> redis::Cmd {
    let mut c = redis::cmd(name);
    for a in args {
        c.arg(*a);
    }
    c
}

fn q<T: redis::FromRedisValue>(con: &mut Connection, name: &str, args: &[&str]) -> T {
    cmd(name, args)
        .query(con)
        .unwrap_or_else(|e| panic!("{name} {args:?}: {e}"))
}

/// The full error line a command answers with.
fn err(con: &mut Connection, name: &str, args: &[&str]) -> String {
    let e = cmd(name, args)
        .query::<Value>(con)
        .expect_err(&format!("{name} {args:?} should fail"));
    format!("{} {}", e.code().unwrap_or("?"), e.detail().unwrap_or(""))
}

fn range(con: &mut Connection, key: &str) -> Vec<String> {
    q(con, "LRANGE", &[key, "0", "-1"])
}

fn info_field(con: &mut Connection, field: &str) -> i64 {
    let info: String = q(con, "INFO", &["everything"]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in INFO"))
        .trim()
        .parse()
        .unwrap()
}

/// Waits until exactly `n` clients are blocked.
fn wait_blocked(con: &mut Connection, n: i64) {
    wait_until(
        Duration::from_secs(5),
        &format!("{n} blocked clients"),
        || info_field(con, "blocked_clients") == n,
    );
}

/// A reply of BLPOP/BRPOP as sent: [key, element].
fn popped(key: &str, value: &str) -> String {
    format!(
        "*2\r\n${}\r\n{key}\r\n${}\r\n{value}\r\n",
        key.len(),
        value.len()
    )
}

#[test]
fn push_and_pop_from_both_ends() {
    let node = Node::start(&[]);
    let mut con = node.client();
    assert_eq!(q::<i64>(&mut con, "LPUSH", &["l", "a", "b", "c"]), 3);
    assert_eq!(range(&mut con, "l"), ["c", "b", "a"]);
    assert_eq!(q::<i64>(&mut con, "RPUSH", &["l", "d", "e"]), 5);
    assert_eq!(q::<i64>(&mut con, "LPUSHX", &["nokey", "a"]), 0);
    assert_eq!(q::<i64>(&mut con, "RPUSHX", &["nokey", "a"]), 0);
    assert_eq!(q::<i64>(&mut con, "EXISTS", &["nokey"]), 0);
    assert_eq!(q::<i64>(&mut con, "RPUSHX", &["l", "f"]), 6);
    assert_eq!(q::<i64>(&mut con, "LPUSHX", &["l", "y", "z"]), 8);
    assert_eq!(q::<i64>(&mut con, "LLEN", &["l"]), 8);
    assert_eq!(q::<i64>(&mut con, "LLEN", &["nokey"]), 0);

    assert_eq!(q::<String>(&mut con, "LPOP", &["l"]), "z");
    assert_eq!(q::<String>(&mut con, "RPOP", &["l"]), "f");
    assert_eq!(q::<Vec<String>>(&mut con, "LPOP", &["l", "2"]), ["y", "c"]);
    // RPOP with a count answers in the order popped: from the tail.
    assert_eq!(q::<Vec<String>>(&mut con, "RPOP", &["l", "2"]), ["e", "d"]);
    assert!(q::<Vec<String>>(&mut con, "LPOP", &["l", "0"]).is_empty());
    assert_eq!(q::<Vec<String>>(&mut con, "RPOP", &["l", "10"]), ["a", "b"]);
    assert_eq!(
        q::<i64>(&mut con, "EXISTS", &["l"]),
        0,
        "an emptied list is deleted"
    );
    assert_eq!(q::<Option<String>>(&mut con, "LPOP", &["l"]), None);
    assert_eq!(
        q::<Option<Vec<String>>>(&mut con, "RPOP", &["l", "3"]),
        None
    );

    let positive = "ERR value is out of range, must be positive";
    assert_eq!(err(&mut con, "LPOP", &["l", "-1"]), positive);
    assert_eq!(err(&mut con, "RPOP", &["l", "x"]), positive);
    assert_eq!(
        err(&mut con, "LPOP", &["l", "1", "2"]),
        "ERR wrong number of arguments for 'lpop' command"
    );
    assert_eq!(
        err(&mut con, "LPUSH", &["l"]),
        "ERR wrong number of arguments for 'lpush' command"
    );
}

#[test]
fn nulls_in_resp2_and_resp3() {
    let node = Node::start(&[]);
    let mut w = Wire::connect(&node);
    assert_eq!(w.call(&["LPOP", "nokey"]), "$-1\r\n");
    assert_eq!(w.call(&["LPOP", "nokey", "1"]), "*-1\r\n");
    assert_eq!(w.call(&["LPOP", "nokey", "0"]), "*-1\r\n");
    assert_eq!(w.call(&["RPUSH", "k", "a"]), ":1\r\n");
    assert_eq!(w.call(&["LPOP", "k", "0"]), "*0\r\n");
    assert_eq!(w.call(&["LINDEX", "nokey", "0"]), "$-1\r\n");
    assert_eq!(w.call(&["LINDEX", "k", "5"]), "$-1\r\n");
    assert_eq!(w.call(&["LPOS", "nokey", "a"]), "$-1\r\n");
    assert_eq!(w.call(&["LPOS", "nokey", "a", "COUNT", "0"]), "*0\r\n");
    assert_eq!(w.call(&["LRANGE", "nokey", "0", "-1"]), "*0\r\n");
    assert_eq!(w.call(&["LMOVE", "nokey", "d", "LEFT", "LEFT"]), "$-1\r\n");
    // Timed-out blocking commands answer a null array, BLMOVE included.
    assert_eq!(w.call(&["BLPOP", "nokey", "0.01"]), "*-1\r\n");
    assert_eq!(
        w.call(&["BLMOVE", "nokey", "d", "LEFT", "RIGHT", "0.01"]),
        "*-1\r\n"
    );
    assert_eq!(w.call(&["BRPOPLPUSH", "nokey", "d", "0.01"]), "*-1\r\n");

    let mut w3 = Wire::connect(&node);
    assert!(w3.call(&["HELLO", "3"]).starts_with("%"));
    assert_eq!(w3.call(&["LPOP", "nokey"]), "_\r\n");
    assert_eq!(w3.call(&["LPOP", "nokey", "1"]), "_\r\n");
    assert_eq!(w3.call(&["LINDEX", "k", "5"]), "_\r\n");
    assert_eq!(w3.call(&["BRPOP", "nokey", "0.01"]), "_\r\n");
}

#[test]
fn ranges_and_indexes_count_from_either_end() {
    let node = Node::start(&[]);
    let mut con = node.client();
    let digits: Vec<String> = (0..10).map(|i| i.to_string()).collect();
    let mut args = vec!["l"];
    args.extend(digits.iter().map(|s| s.as_str()));
    assert_eq!(q::<i64>(&mut con, "RPUSH", &args), 10);
    let lr =
        |con: &mut Connection, a: &str, b: &str| -> Vec<String> { q(con, "LRANGE", &["l", a, b]) };
    assert_eq!(lr(&mut con, "0", "2"), ["0", "1", "2"]);
    assert_eq!(lr(&mut con, "-3", "-1"), ["7", "8", "9"]);
    assert_eq!(lr(&mut con, "-100", "100"), digits);
    assert_eq!(lr(&mut con, "0", "0"), ["0"]);
    assert_eq!(lr(&mut con, "-1", "-1"), ["9"]);
    assert_eq!(lr(&mut con, "8", "100"), ["8", "9"]);
    assert!(lr(&mut con, "5", "2").is_empty());
    assert!(lr(&mut con, "10", "20").is_empty());
    assert!(lr(&mut con, "-100", "-50").is_empty());
    assert!(q::<Vec<String>>(&mut con, "LRANGE", &["nokey", "0", "-1"]).is_empty());
    let not_int = "ERR value is not an integer or out of range";
    assert_eq!(err(&mut con, "LRANGE", &["l", "a", "1"]), not_int);
    assert_eq!(err(&mut con, "LRANGE", &["nokey", "0", "1.5"]), not_int);

    assert_eq!(q::<String>(&mut con, "LINDEX", &["l", "0"]), "0");
    assert_eq!(q::<String>(&mut con, "LINDEX", &["l", "-1"]), "9");
    assert_eq!(q::<String>(&mut con, "LINDEX", &["l", "-10"]), "0");
    assert_eq!(q::<Option<String>>(&mut con, "LINDEX", &["l", "10"]), None);
    assert_eq!(q::<Option<String>>(&mut con, "LINDEX", &["l", "-11"]), None);
    assert_eq!(
        q::<Option<String>>(&mut con, "LINDEX", &["nokey", "x"]),
        None
    );
    assert_eq!(err(&mut con, "LINDEX", &["l", "x"]), not_int);

    assert_eq!(q::<String>(&mut con, "LSET", &["l", "0", "a"]), "OK");
    assert_eq!(q::<String>(&mut con, "LSET", &["l", "-1", "z"]), "OK");
    assert_eq!(q::<String>(&mut con, "LINDEX", &["l", "9"]), "z");
    assert_eq!(q::<String>(&mut con, "LINDEX", &["l", "0"]), "a");
    assert_eq!(
        err(&mut con, "LSET", &["l", "10", "x"]),
        "ERR index out of range"
    );
    assert_eq!(
        err(&mut con, "LSET", &["l", "-11", "x"]),
        "ERR index out of range"
    );
    assert_eq!(
        err(&mut con, "LSET", &["nokey", "0", "x"]),
        "ERR no such key"
    );
    assert_eq!(err(&mut con, "LSET", &["l", "x", "x"]), not_int);

    assert_eq!(q::<String>(&mut con, "LTRIM", &["l", "1", "-2"]), "OK");
    assert_eq!(range(&mut con, "l"), &digits[1..9]);
    assert_eq!(q::<String>(&mut con, "LTRIM", &["l", "-100", "100"]), "OK");
    assert_eq!(q::<i64>(&mut con, "LLEN", &["l"]), 8);
    assert_eq!(q::<String>(&mut con, "LTRIM", &["l", "-2", "-1"]), "OK");
    assert_eq!(range(&mut con, "l"), ["7", "8"]);
    assert_eq!(q::<String>(&mut con, "LTRIM", &["l", "5", "2"]), "OK");
    assert_eq!(q::<i64>(&mut con, "EXISTS", &["l"]), 0);
    assert_eq!(q::<String>(&mut con, "LTRIM", &["nokey", "0", "1"]), "OK");
    assert_eq!(err(&mut con, "LTRIM", &["l", "0", "x"]), not_int);
}

#[test]
fn insert_and_remove_by_value() {
    let node = Node::start(&[]);
    let mut con = node.client();
    q::<i64>(&mut con, "RPUSH", &["l", "a", "b", "c", "a", "b", "c"]);
    assert_eq!(q::<i64>(&mut con, "LINSERT", &["l", "BEFORE", "b", "x"]), 7);
    assert_eq!(q::<i64>(&mut con, "LINSERT", &["l", "after", "c", "y"]), 8);
    assert_eq!(
        range(&mut con, "l"),
        ["a", "x", "b", "c", "y", "a", "b", "c"]
    );
    assert_eq!(
        q::<i64>(&mut con, "LINSERT", &["l", "AFTER", "nope", "z"]),
        -1
    );
    assert_eq!(
        q::<i64>(&mut con, "LINSERT", &["nokey", "BEFORE", "a", "b"]),
        0
    );
    assert_eq!(q::<i64>(&mut con, "EXISTS", &["nokey"]), 0);
    assert_eq!(
        err(&mut con, "LINSERT", &["l", "middle", "a", "b"]),
        "ERR syntax error"
    );

    assert_eq!(q::<i64>(&mut con, "LREM", &["l", "1", "a"]), 1);
    assert_eq!(range(&mut con, "l"), ["x", "b", "c", "y", "a", "b", "c"]);
    assert_eq!(q::<i64>(&mut con, "LREM", &["l", "-1", "b"]), 1);
    assert_eq!(range(&mut con, "l"), ["x", "b", "c", "y", "a", "c"]);
    assert_eq!(q::<i64>(&mut con, "LREM", &["l", "0", "c"]), 2);
    assert_eq!(range(&mut con, "l"), ["x", "b", "y", "a"]);
    assert_eq!(q::<i64>(&mut con, "LREM", &["l", "-5", "nope"]), 0);
    assert_eq!(q::<i64>(&mut con, "LREM", &["nokey", "0", "a"]), 0);
    assert_eq!(
        err(&mut con, "LREM", &["l", "x", "a"]),
        "ERR value is not an integer or out of range"
    );
    for v in ["x", "b", "y"] {
        assert_eq!(q::<i64>(&mut con, "LREM", &["l", "0", v]), 1);
    }
    assert_eq!(q::<i64>(&mut con, "LREM", &["l", "-100", "a"]), 1);
    assert_eq!(q::<i64>(&mut con, "EXISTS", &["l"]), 0);
}

#[test]
fn lpos_ranks_counts_and_maxlen() {
    let node = Node::start(&[]);
    let mut con = node.client();
    q::<i64>(
        &mut con,
        "RPUSH",
        &["l", "a", "b", "c", "1", "2", "3", "c", "c"],
    );
    let pos = |con: &mut Connection, args: &[&str]| -> Option<i64> {
        let mut all = vec!["l", "c"];
        all.extend_from_slice(args);
        q(con, "LPOS", &all)
    };
    let many = |con: &mut Connection, args: &[&str]| -> Vec<i64> {
        let mut all = vec!["l", "c"];
        all.extend_from_slice(args);
        q(con, "LPOS", &all)
    };
    assert_eq!(pos(&mut con, &[]), Some(2));
    assert_eq!(pos(&mut con, &["RANK", "2"]), Some(6));
    assert_eq!(pos(&mut con, &["RANK", "3"]), Some(7));
    assert_eq!(pos(&mut con, &["RANK", "4"]), None);
    // A negative rank counts matches from the tail; indexes stay from the head.
    assert_eq!(pos(&mut con, &["RANK", "-1"]), Some(7));
    assert_eq!(pos(&mut con, &["RANK", "-3"]), Some(2));
    assert_eq!(pos(&mut con, &["RANK", "-4"]), None);
    // Redis 7.0 takes the lowest i64 as a rank (finding nothing).
    assert_eq!(pos(&mut con, &["RANK", "-9223372036854775808"]), None);
    assert_eq!(many(&mut con, &["COUNT", "2"]), [2, 6]);
    assert_eq!(many(&mut con, &["COUNT", "0"]), [2, 6, 7]);
    assert_eq!(many(&mut con, &["RANK", "2", "COUNT", "0"]), [6, 7]);
    assert_eq!(many(&mut con, &["RANK", "-1", "COUNT", "2"]), [7, 6]);
    assert!(many(&mut con, &["RANK", "5", "COUNT", "0"]).is_empty());
    // MAXLEN bounds how many elements are compared, from where the scan starts.
    assert_eq!(pos(&mut con, &["MAXLEN", "2"]), None);
    assert_eq!(pos(&mut con, &["MAXLEN", "3"]), Some(2));
    assert_eq!(pos(&mut con, &["RANK", "-1", "MAXLEN", "1"]), Some(7));
    assert_eq!(
        many(&mut con, &["RANK", "-1", "COUNT", "0", "MAXLEN", "2"]),
        [7, 6]
    );
    assert_eq!(q::<Option<i64>>(&mut con, "LPOS", &["l", "nope"]), None);
    assert!(q::<Vec<i64>>(&mut con, "LPOS", &["l", "nope", "COUNT", "0"]).is_empty());
    assert_eq!(q::<Option<i64>>(&mut con, "LPOS", &["nokey", "c"]), None);
    assert!(q::<Vec<i64>>(&mut con, "LPOS", &["nokey", "c", "COUNT", "1"]).is_empty());

    let lpos_err = |con: &mut Connection, args: &[&str]| {
        let mut all = vec!["l", "c"];
        all.extend_from_slice(args);
        err(con, "LPOS", &all)
    };
    assert_eq!(
        lpos_err(&mut con, &["RANK", "0"]),
        "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list"
    );
    assert_eq!(
        lpos_err(&mut con, &["COUNT", "-1"]),
        "ERR COUNT can't be negative"
    );
    assert_eq!(
        lpos_err(&mut con, &["COUNT", "x"]),
        "ERR COUNT can't be negative"
    );
    assert_eq!(
        lpos_err(&mut con, &["MAXLEN", "-1"]),
        "ERR MAXLEN can't be negative"
    );
    assert_eq!(
        lpos_err(&mut con, &["RANK", "x"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(lpos_err(&mut con, &["FOO", "1"]), "ERR syntax error");
    assert_eq!(lpos_err(&mut con, &["RANK"]), "ERR syntax error");
}

#[test]
fn lmove_and_rpoplpush_between_and_within_lists() {
    let node = Node::start(&[]);
    let mut con = node.client();
    q::<i64>(&mut con, "RPUSH", &["src", "a", "b", "c"]);
    assert_eq!(
        q::<String>(&mut con, "LMOVE", &["src", "dst", "LEFT", "RIGHT"]),
        "a"
    );
    assert_eq!(
        q::<String>(&mut con, "LMOVE", &["src", "dst", "right", "left"]),
        "c"
    );
    assert_eq!(
        (range(&mut con, "src"), range(&mut con, "dst")),
        (
            vec!["b".to_string()],
            vec!["c".to_string(), "a".to_string()]
        )
    );
    assert_eq!(q::<String>(&mut con, "RPOPLPUSH", &["src", "dst"]), "b");
    assert_eq!(q::<i64>(&mut con, "EXISTS", &["src"]), 0);
    assert_eq!(range(&mut con, "dst"), ["b", "c", "a"]);
    // The same list: a rotation.
    assert_eq!(
        q::<String>(&mut con, "LMOVE", &["dst", "dst", "LEFT", "RIGHT"]),
        "b"
    );
    assert_eq!(range(&mut con, "dst"), ["c", "a", "b"]);
    assert_eq!(q::<String>(&mut con, "RPOPLPUSH", &["dst", "dst"]), "b");
    assert_eq!(range(&mut con, "dst"), ["b", "c", "a"]);
    q::<i64>(&mut con, "RPUSH", &["one", "x"]);
    assert_eq!(
        q::<String>(&mut con, "LMOVE", &["one", "one", "LEFT", "LEFT"]),
        "x"
    );
    assert_eq!(range(&mut con, "one"), ["x"]);

    assert_eq!(
        q::<Option<String>>(&mut con, "LMOVE", &["nokey", "dst", "LEFT", "LEFT"]),
        None
    );
    assert_eq!(
        q::<Option<String>>(&mut con, "RPOPLPUSH", &["nokey", "dst"]),
        None
    );
    q::<String>(&mut con, "SET", &["str", "v"]);
    let wrongtype = "WRONGTYPE Operation against a key holding the wrong kind of value";
    assert_eq!(
        err(&mut con, "LMOVE", &["dst", "str", "LEFT", "LEFT"]),
        wrongtype
    );
    assert_eq!(err(&mut con, "RPOPLPUSH", &["dst", "str"]), wrongtype);
    assert_eq!(range(&mut con, "dst"), ["b", "c", "a"], "nothing moved");
    assert_eq!(
        err(&mut con, "LMOVE", &["str", "dst", "LEFT", "LEFT"]),
        wrongtype
    );
    // An empty source answers null before the destination is looked at.
    assert_eq!(
        q::<Option<String>>(&mut con, "LMOVE", &["nokey", "str", "LEFT", "LEFT"]),
        None
    );
    assert_eq!(
        err(&mut con, "LMOVE", &["dst", "x", "UP", "LEFT"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut con, "LMOVE", &["dst", "x", "LEFT", "DOWN"]),
        "ERR syntax error"
    );
}

#[test]
fn types_encodings_and_the_keyspace() {
    let node = Node::start(&[]);
    let mut con = node.client();
    q::<i64>(&mut con, "RPUSH", &["small", "a", "b"]);
    assert_eq!(q::<String>(&mut con, "TYPE", &["small"]), "list");
    let items: Vec<String> = (0..129).map(|i| i.to_string()).collect();
    let mut args = vec!["many"];
    args.extend(items.iter().map(|s| s.as_str()));
    q::<i64>(&mut con, "RPUSH", &args);
    // Redis 7.0 keeps every list in a quicklist (listpack lists are 7.2's).
    for key in ["small", "many"] {
        assert_eq!(
            q::<String>(&mut con, "OBJECT", &["ENCODING", key]),
            "quicklist"
        );
    }
    let small: i64 = q(&mut con, "MEMORY", &["USAGE", "small"]);
    let many: i64 = q(&mut con, "MEMORY", &["USAGE", "many"]);
    assert!(small > 0 && many > small + 128 * 2, "{small} {many}");

    q::<String>(&mut con, "SET", &["str", "v"]);
    let (_, found): (String, Vec<String>) =
        q(&mut con, "SCAN", &["0", "TYPE", "list", "COUNT", "100000"]);
    let mut found = found;
    found.sort();
    assert_eq!(found, ["many", "small"]);

    let wrongtype = "WRONGTYPE Operation against a key holding the wrong kind of value";
    let on_string: &[&[&str]] = &[
        &["LPUSH", "str", "a"],
        &["RPUSH", "str", "a"],
        &["LPUSHX", "str", "a"],
        &["RPUSHX", "str", "a"],
        &["LPOP", "str"],
        &["RPOP", "str", "2"],
        &["LLEN", "str"],
        &["LRANGE", "str", "0", "-1"],
        &["LINDEX", "str", "0"],
        &["LSET", "str", "0", "a"],
        &["LINSERT", "str", "BEFORE", "a", "b"],
        &["LREM", "str", "0", "a"],
        &["LTRIM", "str", "0", "1"],
        &["LPOS", "str", "a"],
        &["BLPOP", "nokey", "str", "0"],
        &["BRPOP", "str", "0"],
        &["BLMOVE", "str", "d", "LEFT", "LEFT", "0"],
        &["BRPOPLPUSH", "str", "d", "0"],
    ];
    for c in on_string {
        assert_eq!(err(&mut con, c[0], &c[1..]), wrongtype, "{c:?}");
    }
    assert_eq!(err(&mut con, "GET", &["small"]), wrongtype);
    assert_eq!(q::<String>(&mut con, "GET", &["str"]), "v");

    assert_eq!(q::<i64>(&mut con, "PEXPIRE", &["small", "50"]), 1);
    wait_until(Duration::from_secs(5), "the list expires", || {
        q::<i64>(&mut con, "EXISTS", &["small"]) == 0
    });

    // A big list is deleted at once, freed off the request path.
    let values: Vec<String> = (0..1000).map(|i| format!("element-{i}")).collect();
    for _ in 0..200 {
        let mut args = vec!["big"];
        args.extend(values.iter().map(|s| s.as_str()));
        q::<i64>(&mut con, "RPUSH", &args);
    }
    assert_eq!(q::<i64>(&mut con, "LLEN", &["big"]), 200_000);
    let started = Instant::now();
    assert_eq!(q::<i64>(&mut con, "DEL", &["big", "many"]), 2);
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(q::<i64>(&mut con, "EXISTS", &["big"]), 0);
}

#[test]
fn blocking_pops_serve_at_once_when_a_list_has_elements() {
    let node = Node::start(&[]);
    let mut con = node.client();
    q::<i64>(&mut con, "RPUSH", &["a", "x", "y"]);
    let got: Vec<String> = q(&mut con, "BLPOP", &["nokey", "a", "0"]);
    assert_eq!(got, ["a", "x"]);
    let got: Vec<String> = q(&mut con, "BRPOP", &["a", "nokey", "0"]);
    assert_eq!(got, ["a", "y"]);
    assert_eq!(q::<i64>(&mut con, "EXISTS", &["a"]), 0);
    q::<i64>(&mut con, "RPUSH", &["src", "1", "2"]);
    assert_eq!(
        q::<String>(&mut con, "BRPOPLPUSH", &["src", "dst", "0"]),
        "2"
    );
    assert_eq!(
        q::<String>(&mut con, "BLMOVE", &["src", "dst", "LEFT", "RIGHT", "0"]),
        "1"
    );
    assert_eq!(range(&mut con, "dst"), ["2", "1"]);

    assert_eq!(
        err(&mut con, "BLPOP", &["k", "-1"]),
        "ERR timeout is negative"
    );
    assert_eq!(
        err(&mut con, "BRPOP", &["k", "abc"]),
        "ERR timeout is not a float or out of range"
    );
    assert_eq!(
        err(&mut con, "BLMOVE", &["k", "d", "LEFT", "LEFT", "-0.5"]),
        "ERR timeout is negative"
    );
    assert_eq!(
        err(&mut con, "BLMOVE", &["k", "d", "LEFT", "SIDEWAYS", "0"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut con, "BRPOPLPUSH", &["k", "d", "x"]),
        "ERR timeout is not a float or out of range"
    );
    assert_eq!(info_field(&mut con, "blocked_clients"), 0);
}

#[test]
fn blocked_clients_are_served_in_arrival_order() {
    let node = Node::start(&[]);
    let mut con = node.client();
    let mut waiters: Vec<Wire> = Vec::new();
    for i in 0..3 {
        let mut w = Wire::connect(&node);
        w.send(&["BLPOP", "q", "0"]);
        wait_blocked(&mut con, i + 1);
        waiters.push(w);
    }
    // One push of three: each waiter gets one, first come first served.
    assert_eq!(q::<i64>(&mut con, "RPUSH", &["q", "1", "2", "3"]), 3);
    for (w, expected) in waiters.iter_mut().zip(["1", "2", "3"]) {
        assert_eq!(w.reply(), popped("q", expected));
    }
    wait_blocked(&mut con, 0);
    assert_eq!(q::<i64>(&mut con, "EXISTS", &["q"]), 0);

    // One push at a time: the first waiter only.
    waiters[2].send(&["BRPOP", "q", "0"]);
    wait_blocked(&mut con, 1);
    waiters[0].send(&["BRPOP", "q", "0"]);
    wait_blocked(&mut con, 2);
    q::<i64>(&mut con, "LPUSH", &["q", "x"]);
    assert_eq!(waiters[2].reply(), popped("q", "x"));
    waiters[0].set_timeout(Duration::from_millis(300));
    assert_eq!(
        waiters[0].try_reply(),
        None,
        "the second waiter is still waiting"
    );
    wait_blocked(&mut con, 1);
    q::<i64>(&mut con, "LPUSH", &["q", "y"]);
    waiters[0].set_timeout(Duration::from_secs(5));
    assert_eq!(waiters[0].reply(), popped("q", "y"));
    wait_blocked(&mut con, 0);
}

#[test]
fn a_push_serves_waiters_before_any_other_command_runs() {
    let node = Node::start(&[]);
    let mut con = node.client();
    let mut first = Wire::connect(&node);
    first.send(&["BLPOP", "q", "0"]);
    wait_blocked(&mut con, 1);
    let mut second = Wire::connect(&node);
    second.send(&["BLPOP", "q", "0"]);
    wait_blocked(&mut con, 2);
    // Push and take back in one pipeline: as in Redis, the push serves the
    // first waiter before the pop runs.
    let mut thief = Wire::connect(&node);
    thief.send_many(&[&["RPUSH", "q", "x"], &["LPOP", "q"]]);
    assert_eq!(thief.reply(), ":1\r\n");
    assert_eq!(thief.reply(), "$-1\r\n");
    assert_eq!(first.reply(), popped("q", "x"));
    // Two elements, two waiters served, none left for the pop.
    first.send(&["BLPOP", "q", "0"]);
    wait_blocked(&mut con, 2);
    thief.send_many(&[&["RPUSH", "q", "y", "z"], &["LPOP", "q"]]);
    assert_eq!(thief.reply(), ":2\r\n");
    assert_eq!(thief.reply(), "$-1\r\n");
    assert_eq!(second.reply(), popped("q", "y"));
    assert_eq!(first.reply(), popped("q", "z"));
    wait_blocked(&mut con, 0);

    // A transaction sees none of its values taken until it is done.
    first.send(&["BLPOP", "q", "0"]);
    wait_blocked(&mut con, 1);
    assert_eq!(thief.call(&["MULTI"]), "+OK\r\n");
    assert_eq!(thief.call(&["RPUSH", "q", "a", "b"]), "+QUEUED\r\n");
    assert_eq!(thief.call(&["LPOP", "q"]), "+QUEUED\r\n");
    assert_eq!(thief.call(&["EXEC"]), "*2\r\n:2\r\n$1\r\na\r\n");
    assert_eq!(first.reply(), popped("q", "b"));
    assert_eq!(q::<i64>(&mut con, "EXISTS", &["q"]), 0);
}

/// Waiters served by pipelined pushes, inside and after a transaction, and
/// a BLMOVE that feeds another waiter: the replies each client gets, in
/// order, on a server listening on `port`.
fn serving_transcript(port: u16, mut admin: Connection) -> Vec<String> {
    let (mut w1, mut w2, mut pusher) = (Wire::at(port), Wire::at(port), Wire::at(port));
    let mut out = Vec::new();
    w1.send(&["BLPOP", "q", "0"]);
    wait_blocked(&mut admin, 1);
    w2.send(&["BRPOP", "q", "0"]);
    wait_blocked(&mut admin, 2);
    pusher.send_many(&[&["RPUSH", "q", "x"], &["LPOP", "q"], &["LLEN", "q"]]);
    out.extend((0..3).map(|_| pusher.reply()));
    out.push(w1.reply());
    pusher.send_many(&[
        &["MULTI"],
        &["RPUSH", "q", "a", "b", "c"],
        &["LPOP", "q"],
        &["EXEC"],
        &["LRANGE", "q", "0", "-1"],
    ]);
    out.extend((0..5).map(|_| pusher.reply()));
    out.push(w2.reply());
    // Source and destination in different slots (of a cluster).
    w1.send(&["BLPOP", "{d}dst", "0"]);
    wait_blocked(&mut admin, 1);
    w2.send(&["BLMOVE", "{s}src", "{d}dst", "RIGHT", "LEFT", "0"]);
    wait_blocked(&mut admin, 2);
    pusher.send_many(&[
        &["RPUSH", "{s}src", "m", "n"],
        &["LRANGE", "{s}src", "0", "-1"],
    ]);
    out.extend((0..2).map(|_| pusher.reply()));
    out.push(w2.reply());
    out.push(w1.reply());
    wait_blocked(&mut admin, 0);
    out.push(pusher.call(&["EXISTS", "{d}dst"]));
    out
}

#[test]
fn waiters_are_served_as_redis_server_serves_them() {
    let node = Node::start(&[]);
    let reference = reference::Reference::start();
    assert_eq!(
        serving_transcript(node.port, node.client()),
        serving_transcript(reference.port, reference.client())
    );
}

/// LMPOP, BLMPOP, ZMPOP and BZMPOP, raw replies in RESP2 and RESP3: errors
/// in Redis's order, pops over several keys, and waiters served by a push.
fn mpop_transcript(port: u16, mut admin: Connection) -> Vec<String> {
    let (mut w, mut waiter) = (Wire::at(port), Wire::at(port));
    let mut out = Vec::new();
    let script: &[&[&str]] = &[
        &["RPUSH", "l", "a", "b", "c"],
        &["ZADD", "z", "1", "a", "2.5", "b", "3", "c"],
        &["SET", "s", "x"],
        &["LMPOP", "0", "l", "LEFT"],
        &["LMPOP", "abc", "l", "LEFT"],
        &["LMPOP", "5", "l", "LEFT"],
        &["LMPOP", "1", "l", "MIDDLE"],
        &["LMPOP", "1", "l", "LEFT", "COUNT", "0"],
        &["LMPOP", "1", "l", "LEFT", "COUNT", "x"],
        &["LMPOP", "1", "l", "LEFT", "COUNT", "1", "COUNT", "2"],
        &["LMPOP", "1", "l"],
        &["LMPOP", "2", "s", "l", "LEFT"],
        &["LMPOP", "2", "nokey", "l", "right", "count", "2"],
        &["LMPOP", "1", "l", "LEFT", "COUNT", "9"],
        &["EXISTS", "l"],
        &["LMPOP", "1", "nokey", "LEFT"],
        &["BLMPOP", "-1", "1", "l", "LEFT"],
        &["BLMPOP", "0.01", "1", "nokey", "LEFT"],
        &["ZMPOP", "1", "z", "MAXX"],
        &["ZMPOP", "2", "nokey", "z", "MIN", "COUNT", "2"],
        &["ZMPOP", "1", "z", "max"],
        &["ZMPOP", "1", "z", "MIN"],
        &["BZMPOP", "0.01", "0", "z", "MIN"],
        &["BZMPOP", "0.01", "1", "nokey", "MIN"],
        &["HELLO", "3"],
        &["ZADD", "z", "1.5", "a", "2", "b"],
        &["ZMPOP", "1", "z", "MIN", "COUNT", "10"],
        &["LMPOP", "1", "nokey", "LEFT"],
        &["BLMPOP", "0.01", "1", "nokey", "LEFT"],
    ];
    for cmd in script {
        let reply = w.call(cmd);
        // HELLO's map: its fields (version, availability_zone) differ.
        out.push(if cmd[0] == "HELLO" {
            reply[..1].into()
        } else {
            reply
        });
    }
    waiter.send(&["BLMPOP", "0", "2", "q1", "q2", "RIGHT", "COUNT", "2"]);
    wait_blocked(&mut admin, 1);
    out.push(w.call(&["RPUSH", "q2", "m", "n", "o"]));
    out.push(waiter.reply());
    out.push(w.call(&["LRANGE", "q2", "0", "-1"]));
    waiter.send(&["BZMPOP", "0", "1", "zq", "MAX"]);
    wait_blocked(&mut admin, 1);
    out.push(w.call(&["ZADD", "zq", "1", "p", "2", "r"]));
    out.push(waiter.reply());
    out
}

#[test]
fn mpop_commands_reply_as_redis_server() {
    let node = Node::start(&[]);
    let reference = reference::Reference::start();
    assert_eq!(
        mpop_transcript(node.port, node.client()),
        mpop_transcript(reference.port, reference.client())
    );
}

#[test]
fn blocking_timeouts_answer_null() {
    let node = Node::start(&[]);
    let mut con = node.client();
    let mut w = Wire::connect(&node);
    let started = Instant::now();
    assert_eq!(w.call(&["BLPOP", "k", "0.3"]), "*-1\r\n");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    assert_eq!(info_field(&mut con, "blocked_clients"), 0);
    assert!(w.call(&["HELLO", "3"]).starts_with("%"));
    assert_eq!(w.call(&["BRPOP", "k", "0.1"]), "_\r\n");
    assert_eq!(
        w.call(&["BLMOVE", "k", "d", "LEFT", "LEFT", "0.1"]),
        "_\r\n"
    );

    // Served before the timeout: the element, not a null.
    let mut w = Wire::connect(&node);
    w.send(&["BLPOP", "k", "5"]);
    wait_blocked(&mut con, 1);
    let started = Instant::now();
    q::<i64>(&mut con, "RPUSH", &["k", "v"]);
    assert_eq!(w.reply(), popped("k", "v"));
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn blpop_on_several_keys_takes_the_first_that_gets_an_element() {
    let node = Node::start(&[]);
    let mut con = node.client();
    let mut w = Wire::connect(&node);
    w.send(&["BLPOP", "k1", "k2", "k3", "0"]);
    wait_blocked(&mut con, 1);
    q::<i64>(&mut con, "RPUSH", &["k2", "v"]);
    assert_eq!(w.reply(), popped("k2", "v"));
    // Another type arriving on a watched key does not serve it.
    w.send(&["BRPOP", "k1", "1"]);
    wait_blocked(&mut con, 1);
    q::<String>(&mut con, "SET", &["k1", "string"]);
    assert_eq!(w.reply(), "*-1\r\n");
}

#[test]
fn blmove_waits_then_moves_and_wakes_the_destination() {
    let node = Node::start(&[]);
    let mut con = node.client();
    let mut mover = Wire::connect(&node);
    mover.send(&["BLMOVE", "src", "dst", "RIGHT", "LEFT", "0"]);
    wait_blocked(&mut con, 1);
    q::<i64>(&mut con, "RPUSH", &["src", "a", "b"]);
    assert_eq!(mover.reply(), "$1\r\nb\r\n");
    assert_eq!(range(&mut con, "dst"), ["b"]);
    assert_eq!(range(&mut con, "src"), ["a"]);

    // A client waiting on the destination is served by the move.
    let mut popper = Wire::connect(&node);
    popper.send(&["BLPOP", "dst2", "0"]);
    wait_blocked(&mut con, 1);
    mover.send(&["BRPOPLPUSH", "src2", "dst2", "0"]);
    wait_blocked(&mut con, 2);
    q::<i64>(&mut con, "RPUSH", &["src2", "v"]);
    assert_eq!(mover.reply(), "$1\r\nv\r\n");
    assert_eq!(popper.reply(), popped("dst2", "v"));
    wait_blocked(&mut con, 0);
    assert_eq!(q::<i64>(&mut con, "EXISTS", &["src2", "dst2"]), 0);
}

#[test]
fn client_kill_and_disconnect_unblock() {
    let node = Node::start(&[]);
    let mut con = node.client();
    let mut w = Wire::connect(&node);
    let id = w.call(&["CLIENT", "ID"]);
    let id = id.trim().trim_start_matches(':').to_string();
    w.send(&["BLPOP", "k", "0"]);
    wait_blocked(&mut con, 1);
    assert_eq!(q::<i64>(&mut con, "CLIENT", &["KILL", "ID", &id]), 1);
    let (_, closed) = w.raw.read_to_close();
    assert!(closed);
    wait_blocked(&mut con, 0);
    q::<i64>(&mut con, "RPUSH", &["k", "v"]);
    assert_eq!(q::<i64>(&mut con, "LLEN", &["k"]), 1, "nobody took it");

    let mut gone = Wire::connect(&node);
    gone.send(&["BRPOP", "k2", "0"]);
    wait_blocked(&mut con, 1);
    drop(gone);
    wait_blocked(&mut con, 0);
    q::<i64>(&mut con, "RPUSH", &["k2", "v"]);
    assert_eq!(q::<i64>(&mut con, "LLEN", &["k2"]), 1);
}

#[test]
fn commands_pipelined_after_a_blocking_one_wait_for_it() {
    let node = Node::start(&[]);
    let mut con = node.client();
    let mut w = Wire::connect(&node);
    w.send(&["BLPOP", "k", "0"]);
    w.send(&["PING"]);
    wait_blocked(&mut con, 1);
    w.set_timeout(Duration::from_millis(300));
    assert_eq!(w.try_reply(), None);
    w.set_timeout(Duration::from_secs(5));
    q::<i64>(&mut con, "RPUSH", &["k", "v"]);
    assert_eq!(w.reply(), popped("k", "v"));
    assert_eq!(w.reply(), "+PONG\r\n");
}

#[test]
fn inside_multi_blocking_commands_answer_at_once_and_pushes_from_multi_and_scripts_wake_waiters() {
    let node = Node::start(&[]);
    let mut con = node.client();
    let mut waiter = Wire::connect(&node);
    waiter.send(&["BLPOP", "woken", "0"]);
    wait_blocked(&mut con, 1);
    let mut w = Wire::connect(&node);
    assert_eq!(w.call(&["MULTI"]), "+OK\r\n");
    for c in [
        &["BLPOP", "k", "0"][..],
        &["BLMOVE", "k", "d", "LEFT", "LEFT", "0"],
        &["RPUSH", "k", "a"],
        &["BRPOP", "k", "0"],
        &["RPUSH", "woken", "w"],
    ] {
        assert_eq!(w.call(c), "+QUEUED\r\n");
    }
    // As on a timeout, except BLMOVE's null bulk (Redis's own choice).
    assert_eq!(
        w.call(&["EXEC"]),
        format!("*5\r\n*-1\r\n$-1\r\n:1\r\n{}:1\r\n", popped("k", "a"))
    );
    assert_eq!(waiter.reply(), popped("woken", "w"));
    wait_blocked(&mut con, 0);

    // So does a push from a script.
    waiter.send(&["BRPOP", "woken", "0"]);
    wait_blocked(&mut con, 1);
    let pushed: i64 = redis::cmd("EVAL")
        .arg("return redis.call('RPUSH', KEYS[1], 's')")
        .arg(1)
        .arg("woken")
        .query(&mut con)
        .unwrap();
    assert_eq!(pushed, 1);
    assert_eq!(waiter.reply(), popped("woken", "s"));
}
