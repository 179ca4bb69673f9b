//! String commands, as Redis 7 answers them: options and their
//! combinations, exact errors, TTL handling and millisecond expiry.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::Value;
use slotcache_tests::{err, q, resp, wait_until, Node};

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const SYNTAX: &str = "ERR syntax error";
const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
const NOT_FLOAT: &str = "ERR value is not a valid float";

#[test]
fn set_options_and_their_combinations() {
    let node = Node::start(&[]);
    let con = &mut node.client();

    assert_eq!(q::<Value>(con, &["SET", "k", "v1", "NX"]), Value::Okay);
    assert_eq!(q::<Value>(con, &["SET", "k", "v2", "NX"]), Value::Nil);
    assert_eq!(q::<Value>(con, &["SET", "missing", "v", "XX"]), Value::Nil);
    assert_eq!(q::<i64>(con, &["EXISTS", "missing"]), 0);
    assert_eq!(q::<Value>(con, &["SET", "k", "v3", "XX"]), Value::Okay);
    assert_eq!(q::<String>(con, &["GET", "k"]), "v3");

    // GET returns the old value, also when NX/XX stop the write.
    assert_eq!(q::<String>(con, &["SET", "k", "v4", "GET"]), "v3");
    assert_eq!(q::<Option<String>>(con, &["SET", "new", "x", "GET"]), None);
    assert_eq!(q::<String>(con, &["GET", "new"]), "x");
    assert_eq!(q::<String>(con, &["SET", "k", "v5", "NX", "GET"]), "v4");
    assert_eq!(q::<String>(con, &["GET", "k"]), "v4");
    assert_eq!(
        q::<Option<String>>(con, &["SET", "nokey", "v", "XX", "GET"]),
        None
    );
    assert_eq!(q::<i64>(con, &["EXISTS", "nokey"]), 0);

    // Options are case-insensitive; repeating one keeps the last value.
    assert_eq!(
        q::<Value>(con, &["set", "t", "v", "ex", "100", "EX", "200"]),
        Value::Okay
    );
    assert_eq!(q::<i64>(con, &["TTL", "t"]), 200);
    // A plain SET clears the TTL, KEEPTTL keeps it.
    q::<()>(con, &["SET", "t", "v2", "KEEPTTL"]);
    assert_eq!(q::<i64>(con, &["TTL", "t"]), 200);
    q::<()>(con, &["SET", "t", "v3"]);
    assert_eq!(q::<i64>(con, &["TTL", "t"]), -1);

    q::<()>(con, &["SET", "t", "v", "PX", "100000"]);
    let pttl: i64 = q(con, &["PTTL", "t"]);
    assert!((99_000..=100_000).contains(&pttl), "{pttl}");
    let at = unix_ms() / 1000 + 1000;
    q::<()>(con, &["SET", "t", "v", "EXAT", &at.to_string()]);
    assert_eq!(q::<u64>(con, &["EXPIRETIME", "t"]), at);
    let at_ms = unix_ms() + 500_000;
    q::<()>(con, &["SET", "t", "v", "PXAT", &at_ms.to_string()]);
    assert_eq!(q::<u64>(con, &["PEXPIRETIME", "t"]), at_ms);
    // An absolute time in the past stores a key that is already gone.
    q::<()>(con, &["SET", "t", "v", "PXAT", "1"]);
    assert_eq!(q::<Option<String>>(con, &["GET", "t"]), None);

    for bad in [
        &["SET", "k", "v", "NX", "XX"][..],
        &["SET", "k", "v", "XX", "NX"],
        &["SET", "k", "v", "EX", "10", "PX", "100"],
        &["SET", "k", "v", "EX", "10", "KEEPTTL"],
        &["SET", "k", "v", "KEEPTTL", "PXAT", "100"],
        &["SET", "k", "v", "EX"],
        &["SET", "k", "v", "PERSIST"],
        &["SET", "k", "v", "FOO"],
    ] {
        assert_eq!(err(con, bad), SYNTAX, "{bad:?}");
    }
    let invalid = "ERR invalid expire time in 'set' command";
    assert_eq!(err(con, &["SET", "k", "v", "EX", "0"]), invalid);
    assert_eq!(err(con, &["SET", "k", "v", "PX", "-5"]), invalid);
    assert_eq!(err(con, &["SET", "k", "v", "EXAT", "-1"]), invalid);
    assert_eq!(
        err(con, &["SET", "k", "v", "EX", "9223372036854775"]),
        invalid
    );
    assert_eq!(
        err(con, &["SET", "k", "v", "EX", "9223372036854776"]),
        invalid
    );
    assert_eq!(
        err(con, &["SET", "k", "v", "PX", "9223372036854775807"]),
        invalid
    );
    assert_eq!(err(con, &["SET", "k", "v", "EX", "1.5"]), NOT_INTEGER);
    assert_eq!(
        err(con, &["SET", "k"]),
        "ERR wrong number of arguments for 'set' command"
    );
    // Nothing above changed the key.
    assert_eq!(q::<String>(con, &["GET", "k"]), "v4");
    assert_eq!(q::<i64>(con, &["TTL", "k"]), -1);

    // SET overwrites any type; SET … GET on a non-string refuses first.
    q::<()>(con, &["HSET", "h", "f", "v"]);
    assert_eq!(err(con, &["SET", "h", "v", "GET"]), WRONGTYPE);
    assert_eq!(q::<String>(con, &["TYPE", "h"]), "hash");
    assert_eq!(err(con, &["GET", "h"]), WRONGTYPE);
    q::<()>(con, &["SET", "h", "now a string"]);
    assert_eq!(q::<String>(con, &["GET", "h"]), "now a string");
}

#[test]
fn setnx_setex_psetex_getset() {
    let node = Node::start(&[]);
    let con = &mut node.client();

    assert_eq!(q::<i64>(con, &["SETNX", "k", "a"]), 1);
    assert_eq!(q::<i64>(con, &["SETNX", "k", "b"]), 0);
    assert_eq!(q::<String>(con, &["GET", "k"]), "a");

    assert_eq!(q::<Value>(con, &["SETEX", "k", "100", "b"]), Value::Okay);
    assert_eq!(q::<String>(con, &["GET", "k"]), "b");
    assert_eq!(q::<i64>(con, &["TTL", "k"]), 100);
    assert_eq!(
        err(con, &["SETEX", "k", "0", "v"]),
        "ERR invalid expire time in 'setex' command"
    );
    assert_eq!(err(con, &["SETEX", "k", "x", "v"]), NOT_INTEGER);
    assert_eq!(
        err(con, &["PSETEX", "k", "-1", "v"]),
        "ERR invalid expire time in 'psetex' command"
    );
    assert_eq!(
        q::<Value>(con, &["PSETEX", "k", "100000", "c"]),
        Value::Okay
    );
    let pttl: i64 = q(con, &["PTTL", "k"]);
    assert!((99_000..=100_000).contains(&pttl), "{pttl}");

    // GETSET returns the old value and clears the TTL.
    assert_eq!(q::<String>(con, &["GETSET", "k", "d"]), "c");
    assert_eq!(q::<i64>(con, &["TTL", "k"]), -1);
    assert_eq!(q::<Option<String>>(con, &["GETSET", "fresh", "e"]), None);
    assert_eq!(q::<String>(con, &["GET", "fresh"]), "e");
    q::<()>(con, &["HSET", "h", "f", "v"]);
    assert_eq!(err(con, &["GETSET", "h", "v"]), WRONGTYPE);
    assert_eq!(
        err(con, &["SETNX", "k"]),
        "ERR wrong number of arguments for 'setnx' command"
    );
}

#[test]
fn getex_and_getdel() {
    let node = Node::start(&[]);
    let con = &mut node.client();

    q::<()>(con, &["SET", "k", "v"]);
    assert_eq!(q::<String>(con, &["GETEX", "k"]), "v");
    assert_eq!(q::<i64>(con, &["TTL", "k"]), -1);
    assert_eq!(q::<String>(con, &["GETEX", "k", "EX", "100"]), "v");
    assert_eq!(q::<i64>(con, &["TTL", "k"]), 100);
    assert_eq!(q::<String>(con, &["GETEX", "k", "PX", "50000"]), "v");
    assert_eq!(q::<i64>(con, &["TTL", "k"]), 50);
    let at = unix_ms() / 1000 + 3000;
    assert_eq!(
        q::<String>(con, &["GETEX", "k", "EXAT", &at.to_string()]),
        "v"
    );
    assert_eq!(q::<u64>(con, &["EXPIRETIME", "k"]), at);
    assert_eq!(q::<String>(con, &["GETEX", "k", "PERSIST"]), "v");
    assert_eq!(q::<i64>(con, &["TTL", "k"]), -1);
    // A PXAT already past returns the value and deletes the key.
    assert_eq!(q::<String>(con, &["GETEX", "k", "PXAT", "1000"]), "v");
    assert_eq!(q::<i64>(con, &["EXISTS", "k"]), 0);

    // A missing key answers nil even before the expiry is checked.
    assert_eq!(
        q::<Option<String>>(con, &["GETEX", "nokey", "EX", "abc"]),
        None
    );
    q::<()>(con, &["SET", "k", "v"]);
    assert_eq!(err(con, &["GETEX", "k", "EX", "abc"]), NOT_INTEGER);
    assert_eq!(
        err(con, &["GETEX", "k", "EX", "0"]),
        "ERR invalid expire time in 'getex' command"
    );
    for bad in [
        &["GETEX", "k", "PERSIST", "EX", "10"][..],
        &["GETEX", "k", "EX", "10", "PERSIST"],
        &["GETEX", "k", "NX"],
        &["GETEX", "k", "KEEPTTL"],
        &["GETEX", "k", "PX"],
    ] {
        assert_eq!(err(con, bad), SYNTAX, "{bad:?}");
    }
    q::<()>(con, &["HSET", "h", "f", "v"]);
    assert_eq!(err(con, &["GETEX", "h", "EX", "abc"]), WRONGTYPE);

    assert_eq!(q::<String>(con, &["GETDEL", "k"]), "v");
    assert_eq!(q::<i64>(con, &["EXISTS", "k"]), 0);
    assert_eq!(q::<Option<String>>(con, &["GETDEL", "k"]), None);
    assert_eq!(err(con, &["GETDEL", "h"]), WRONGTYPE);
    assert_eq!(q::<i64>(con, &["EXISTS", "h"]), 1);
}

#[test]
fn mget_mset_msetnx() {
    let node = Node::start(&[]);
    let con = &mut node.client();

    q::<()>(con, &["SET", "t", "x", "EX", "100"]);
    assert_eq!(
        q::<Value>(con, &["MSET", "a", "1", "b", "2", "t", "3"]),
        Value::Okay
    );
    assert_eq!(q::<i64>(con, &["TTL", "t"]), -1, "MSET clears TTLs");
    q::<()>(con, &["HSET", "h", "f", "v"]);
    // Missing keys and keys of other types read as nil.
    let got: Vec<Option<String>> = q(con, &["MGET", "a", "nokey", "b", "h", "a"]);
    assert_eq!(
        got,
        [
            Some("1".into()),
            None,
            Some("2".into()),
            None,
            Some("1".into())
        ]
    );
    assert_eq!(
        err(con, &["MSET", "a", "1", "b"]),
        "ERR wrong number of arguments for 'mset' command"
    );
    assert_eq!(
        err(con, &["MSETNX", "a"]),
        "ERR wrong number of arguments for 'msetnx' command"
    );

    // MSETNX writes all or nothing.
    assert_eq!(q::<i64>(con, &["MSETNX", "c", "3", "a", "9"]), 0);
    assert_eq!(q::<i64>(con, &["EXISTS", "c"]), 0);
    assert_eq!(q::<String>(con, &["GET", "a"]), "1");
    assert_eq!(q::<i64>(con, &["MSETNX", "c", "3", "d", "4"]), 1);
    let got: Vec<String> = q(con, &["MGET", "c", "d"]);
    assert_eq!(got, ["3", "4"]);
}

#[test]
fn integer_counters() {
    let node = Node::start(&[]);
    let con = &mut node.client();

    assert_eq!(q::<i64>(con, &["INCR", "n"]), 1);
    assert_eq!(q::<i64>(con, &["INCRBY", "n", "41"]), 42);
    assert_eq!(q::<i64>(con, &["DECR", "n"]), 41);
    assert_eq!(q::<i64>(con, &["DECRBY", "n", "50"]), -9);
    assert_eq!(q::<i64>(con, &["DECRBY", "fresh", "-5"]), 5);
    assert_eq!(q::<String>(con, &["GET", "n"]), "-9");

    // Counting keeps the TTL.
    q::<()>(con, &["EXPIRE", "n", "100"]);
    assert_eq!(q::<i64>(con, &["INCR", "n"]), -8);
    assert_eq!(q::<i64>(con, &["TTL", "n"]), 100);

    q::<()>(con, &["SET", "max", "9223372036854775807"]);
    let overflow = "ERR increment or decrement would overflow";
    assert_eq!(err(con, &["INCR", "max"]), overflow);
    assert_eq!(q::<i64>(con, &["DECR", "max"]), i64::MAX - 1);
    q::<()>(con, &["SET", "min", "-9223372036854775808"]);
    assert_eq!(err(con, &["DECR", "min"]), overflow);
    assert_eq!(err(con, &["INCRBY", "min", "-1"]), overflow);
    assert_eq!(q::<i64>(con, &["INCRBY", "min", "9223372036854775807"]), -1);
    assert_eq!(
        err(con, &["DECRBY", "n", "-9223372036854775808"]),
        "ERR decrement would overflow"
    );

    for not_int in [
        "abc",
        "1.5",
        " 1",
        "1 ",
        "01",
        "+1",
        "",
        "99999999999999999999",
    ] {
        q::<()>(con, &["SET", "s", not_int]);
        assert_eq!(err(con, &["INCR", "s"]), NOT_INTEGER, "{not_int:?}");
    }
    assert_eq!(err(con, &["INCRBY", "n", "x"]), NOT_INTEGER);
    assert_eq!(
        err(con, &["INCRBY", "n", "9223372036854775808"]),
        NOT_INTEGER
    );
    q::<()>(con, &["HSET", "h", "f", "1"]);
    assert_eq!(err(con, &["INCR", "h"]), WRONGTYPE);
}

#[test]
fn float_counter() {
    let node = Node::start(&[]);
    let con = &mut node.client();

    assert_eq!(q::<String>(con, &["INCRBYFLOAT", "f", "10.50"]), "10.5");
    assert_eq!(q::<String>(con, &["INCRBYFLOAT", "f", "0.1"]), "10.6");
    assert_eq!(q::<String>(con, &["INCRBYFLOAT", "f", "-5"]), "5.6");
    assert_eq!(q::<String>(con, &["INCRBYFLOAT", "f", "5.0e3"]), "5005.6");
    assert_eq!(q::<String>(con, &["GET", "f"]), "5005.6");
    assert_eq!(q::<String>(con, &["INCRBYFLOAT", "g", "0.1"]), "0.1");
    assert_eq!(q::<String>(con, &["INCRBYFLOAT", "g", "0.2"]), "0.3");
    q::<()>(con, &["SET", "i", "1"]);
    assert_eq!(q::<String>(con, &["INCRBYFLOAT", "i", "0.25"]), "1.25");
    assert_eq!(q::<String>(con, &["INCRBYFLOAT", "i", "-1.1"]), "0.15");
    assert_eq!(q::<String>(con, &["INCRBYFLOAT", "i", "-0.15"]), "0");
    assert_eq!(
        q::<String>(con, &["INCRBYFLOAT", "big", "1e20"]),
        "100000000000000000000"
    );

    q::<()>(con, &["SET", "t", "1", "EX", "100"]);
    q::<()>(con, &["INCRBYFLOAT", "t", "1"]);
    assert_eq!(q::<i64>(con, &["TTL", "t"]), 100);

    let nan_inf = "ERR increment would produce NaN or Infinity";
    assert_eq!(err(con, &["INCRBYFLOAT", "f", "inf"]), nan_inf);
    q::<()>(con, &["SET", "m", "1.7e308"]);
    assert_eq!(err(con, &["INCRBYFLOAT", "m", "1.7e308"]), nan_inf);
    assert_eq!(err(con, &["INCRBYFLOAT", "f", "abc"]), NOT_FLOAT);
    assert_eq!(err(con, &["INCRBYFLOAT", "f", "nan"]), NOT_FLOAT);
    q::<()>(con, &["SET", "s", "1.5x"]);
    assert_eq!(err(con, &["INCRBYFLOAT", "s", "1"]), NOT_FLOAT);
    q::<()>(con, &["HSET", "h", "f", "1"]);
    assert_eq!(err(con, &["INCRBYFLOAT", "h", "1"]), WRONGTYPE);
    assert_eq!(
        q::<String>(con, &["GET", "f"]),
        "5005.6",
        "failed calls change nothing"
    );
}

#[test]
fn append_strlen_getrange_setrange() {
    let node = Node::start(&[]);
    let con = &mut node.client();

    assert_eq!(q::<i64>(con, &["APPEND", "s", "Hello"]), 5);
    q::<()>(con, &["EXPIRE", "s", "100"]);
    assert_eq!(q::<i64>(con, &["APPEND", "s", " World"]), 11);
    assert_eq!(q::<i64>(con, &["TTL", "s"]), 100, "APPEND keeps the TTL");
    assert_eq!(q::<String>(con, &["GET", "s"]), "Hello World");
    assert_eq!(q::<i64>(con, &["STRLEN", "s"]), 11);
    assert_eq!(q::<i64>(con, &["STRLEN", "nokey"]), 0);

    q::<()>(con, &["SET", "r", "This is a string"]);
    for (start, end, want) in [
        ("0", "3", "This"),
        ("-3", "-1", "ing"),
        ("0", "-1", "This is a string"),
        ("10", "100", "string"),
        ("-100", "3", "This"),
        ("5", "3", ""),
        ("-1", "-5", ""),
        ("100", "200", ""),
        (
            "-9223372036854775808",
            "9223372036854775807",
            "This is a string",
        ),
    ] {
        assert_eq!(
            q::<String>(con, &["GETRANGE", "r", start, end]),
            want,
            "{start} {end}"
        );
        // SUBSTR: GETRANGE's name before Redis 2.0.
        assert_eq!(q::<String>(con, &["SUBSTR", "r", start, end]), want);
    }
    assert_eq!(q::<String>(con, &["GETRANGE", "nokey", "0", "-1"]), "");
    assert_eq!(err(con, &["GETRANGE", "r", "0", "x"]), NOT_INTEGER);

    assert_eq!(q::<i64>(con, &["SETRANGE", "r", "10", "STRING"]), 16);
    assert_eq!(q::<String>(con, &["GET", "r"]), "This is a STRING");
    assert_eq!(q::<i64>(con, &["SETRANGE", "r", "16", "!"]), 17);
    assert_eq!(q::<i64>(con, &["SETRANGE", "r", "0", ""]), 17);
    // Past the end: zero-padded; on a missing key: created.
    assert_eq!(q::<i64>(con, &["SETRANGE", "z", "3", "ab"]), 5);
    assert_eq!(q::<Vec<u8>>(con, &["GET", "z"]), b"\0\0\0ab");
    assert_eq!(q::<i64>(con, &["SETRANGE", "empty", "5", ""]), 0);
    assert_eq!(q::<i64>(con, &["EXISTS", "empty"]), 0);
    assert_eq!(
        err(con, &["SETRANGE", "r", "-1", "x"]),
        "ERR offset is out of range"
    );
    let too_big = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
    assert_eq!(err(con, &["SETRANGE", "r", "536870912", "x"]), too_big);
    assert_eq!(err(con, &["SETRANGE", "new", "536870911", "xy"]), too_big);
    assert_eq!(q::<i64>(con, &["EXISTS", "new"]), 0);
    // The limit follows proto-max-bulk-len (1mb is its minimum in Redis).
    q::<()>(con, &["CONFIG", "SET", "proto-max-bulk-len", "1mb"]);
    let half = vec![b'x'; 600 * 1024];
    let _: i64 = redis::cmd("APPEND").arg("a").arg(&half).query(con).unwrap();
    let e = redis::cmd("APPEND")
        .arg("a")
        .arg(&half)
        .query::<i64>(con)
        .unwrap_err();
    assert_eq!(
        format!("{} {}", e.code().unwrap(), e.detail().unwrap()),
        too_big
    );
    assert_eq!(q::<i64>(con, &["STRLEN", "a"]), 600 * 1024);

    q::<()>(con, &["HSET", "h", "f", "v"]);
    for cmd in [
        &["APPEND", "h", "x"][..],
        &["STRLEN", "h"],
        &["GETRANGE", "h", "0", "1"],
        &["SETRANGE", "h", "0", "x"],
    ] {
        assert_eq!(err(con, cmd), WRONGTYPE, "{cmd:?}");
    }
}

#[test]
fn expiry_with_millisecond_precision() {
    let node = Node::start(&[]);
    let con = &mut node.client();
    let bound = Duration::from_secs(3);

    q::<()>(con, &["SET", "px", "v", "PX", "150"]);
    q::<()>(con, &["PSETEX", "psetex", "200", "v"]);
    q::<()>(
        con,
        &["SET", "pxat", "v", "PXAT", &(unix_ms() + 250).to_string()],
    );
    q::<()>(con, &["SET", "kept", "v"]);
    q::<String>(con, &["GETEX", "kept", "PX", "100"]);
    let pttl: i64 = q(con, &["PTTL", "px"]);
    assert!((1..=150).contains(&pttl), "{pttl}");
    assert_eq!(q::<String>(con, &["GET", "px"]), "v");
    for key in ["px", "psetex", "pxat", "kept"] {
        wait_until(bound, key, || {
            q::<Option<String>>(con, &["GET", key]).is_none()
        });
    }
    // KEEPTTL carries a short TTL over; a later plain SET would not.
    q::<()>(con, &["SET", "k", "a", "PX", "200"]);
    q::<()>(con, &["SET", "k", "b", "KEEPTTL"]);
    assert!(q::<i64>(con, &["PTTL", "k"]) > 0);
    wait_until(bound, "KEEPTTL key expires", || {
        q::<i64>(con, &["EXISTS", "k"]) == 0
    });
}

#[test]
fn through_redis_cli_and_resp3() {
    let node = Node::start(&[]);
    assert_eq!(node.cli(&["SET", "k", "10", "EX", "100"]).trim(), "OK");
    assert_eq!(node.cli(&["INCRBYFLOAT", "k", "1.5"]).trim(), "11.5");
    assert_eq!(node.cli(&["GETRANGE", "k", "-2", "-1"]).trim(), ".5");
    assert_eq!(node.cli(&["TTL", "k"]).trim(), "100");
    assert_eq!(node.cli(&["MSET", "a", "1", "b", "2"]).trim(), "OK");
    assert_eq!(node.cli(&["MGET", "a", "nokey", "b"]), "1\n\n2\n");
    assert_eq!(
        node.cli(&["SET", "k", "v", "NX", "XX"]).trim(),
        "ERR syntax error"
    );

    // RESP3: missing values are `_`. QUIT closes, so the reply ends there.
    let mut raw = node.raw();
    let mut pipeline = resp(&[b"HELLO", b"3"]);
    pipeline.extend(resp(&[b"GET", b"nokey"]));
    pipeline.extend(resp(&[b"SET", b"x", b"1", b"GET"]));
    pipeline.extend(resp(&[b"INCR", b"x"]));
    pipeline.extend(resp(&[b"GETDEL", b"x"]));
    pipeline.extend(resp(&[b"QUIT"]));
    raw.send(&pipeline);
    let (got, closed) = raw.read_to_close();
    assert!(closed);
    let got = String::from_utf8_lossy(&got);
    assert!(
        got.ends_with("_\r\n_\r\n:2\r\n$1\r\n2\r\n+OK\r\n"),
        "{got:?}"
    );
}
