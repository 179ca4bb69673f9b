//! DUMP, RESTORE and MIGRATE: payloads in Redis's format (checked against a
//! real redis-server both ways), keys moved between nodes, and
//! `redis-cli --cluster reshard / del-node` moving slots with their keys
//! between slotcache nodes.

use std::time::Duration;

use redis::cluster::ClusterClient;
use redis::ConnectionLike;
use slotcache_tests::{
    cluster_check, cmd, err, form_cluster, free_port, q, redis_cli, wait_until, Node,
};

mod reference;
use reference::Reference;

fn dump(con: &mut impl ConnectionLike, key: &str) -> Vec<u8> {
    cmd(&["DUMP", key]).query(con).unwrap()
}

fn restore(con: &mut impl ConnectionLike, key: &str, ttl: u64, payload: &[u8]) {
    let reply: redis::RedisResult<()> = redis::cmd("RESTORE")
        .arg(key)
        .arg(ttl)
        .arg(payload)
        .query(con);
    reply.unwrap_or_else(|e| panic!("RESTORE {key}: {e}"));
}

/// A key's type and contents, in an order that does not depend on how the
/// server stores them.
fn snapshot(con: &mut impl ConnectionLike, key: &str) -> (String, Vec<String>) {
    let kind: String = cmd(&["TYPE", key]).query(con).unwrap();
    let query = |con: &mut dyn ConnectionLike, args: &[&str]| -> Vec<String> {
        cmd(args).query(con).unwrap()
    };
    let sorted = |mut items: Vec<String>| {
        items.sort();
        items
    };
    let items = match kind.as_str() {
        "string" => vec![cmd(&["GET", key]).query(con).unwrap()],
        "list" => query(con, &["LRANGE", key, "0", "-1"]),
        // Scores as numbers: Redis 7.0 prints 17 digits, slotcache the
        // shortest text that reads back the same.
        "zset" => {
            let pairs: Vec<(String, f64)> = cmd(&["ZRANGE", key, "0", "-1", "WITHSCORES"])
                .query(con)
                .unwrap();
            pairs
                .into_iter()
                .flat_map(|(m, s)| [m, format!("{s:?}")])
                .collect()
        }
        "set" => sorted(query(con, &["SMEMBERS", key])),
        "hash" => {
            let pairs: Vec<(String, String)> = cmd(&["HGETALL", key]).query(con).unwrap();
            sorted(pairs.into_iter().map(|(f, v)| f + "=" + &v).collect())
        }
        _ => Vec::new(),
    };
    (kind, items)
}

/// Every type, in small and large encodings: each key and the command
/// that creates it.
fn fixtures() -> Vec<(&'static str, Vec<String>)> {
    let words = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let many = |command: &str, key: &str, f: &dyn Fn(usize) -> Vec<String>| {
        let mut c = words(&[command, key]);
        c.extend((0..1000).flat_map(f));
        c
    };
    let long = "compressible-".repeat(50);
    vec![
        ("str", words(&["SET", "str", "hello world"])),
        ("int", words(&["SET", "int", "-123456"])),
        ("bigint", words(&["SET", "bigint", "12345678901234"])),
        ("lzf", words(&["SET", "lzf", &long])),
        ("binary", words(&["SET", "binary", "\u{0}\r\n\u{ff}"])),
        ("list", words(&["RPUSH", "list", "a", "1", "-300", "b"])),
        (
            "biglist",
            many("RPUSH", "biglist", &|i| {
                vec![format!("item-{i}-{}", "x".repeat(i % 90))]
            }),
        ),
        ("hash", words(&["HSET", "hash", "f1", "v1", "f2", "2"])),
        (
            "bighash",
            many("HSET", "bighash", &|i| {
                vec![format!("field{i}"), format!("value{i}")]
            }),
        ),
        (
            "intset",
            words(&["SADD", "intset", "1", "-5", "70000", "9999999999"]),
        ),
        (
            "bigintset",
            many("SADD", "bigintset", &|i| vec![(i * 7).to_string()]),
        ),
        ("strset", words(&["SADD", "strset", "a", "b", "c"])),
        (
            "bigstrset",
            many("SADD", "bigstrset", &|i| vec![format!("member:{i}")]),
        ),
        (
            "zset",
            words(&["ZADD", "zset", "1.5", "a", "-2", "b", "inf", "c"]),
        ),
        (
            "bigzset",
            many("ZADD", "bigzset", &|i| {
                vec![format!("{}", i as f64 / 7.0), format!("m{i}")]
            }),
        ),
    ]
}

fn create(con: &mut impl ConnectionLike, words: &[String]) {
    let mut c = redis::cmd(&words[0]);
    c.arg(&words[1..]);
    let _: redis::Value = c.query(con).unwrap();
}

#[test]
fn dump_restore_round_trip_with_ttl() {
    let node = Node::start(&["--maxmemory-policy", "allkeys-lru"]);
    let mut con = node.client();
    for (key, writes) in fixtures() {
        create(&mut con, &writes);
        let payload = dump(&mut con, key);
        let copy = format!("{key}:copy");
        restore(&mut con, &copy, 100_000, &payload);
        assert_eq!(snapshot(&mut con, &copy), snapshot(&mut con, key), "{key}");
        let pttl: i64 = q(&mut con, &["PTTL", &copy]);
        assert!(pttl > 90_000 && pttl <= 100_000, "{key}: {pttl}");
        // Where the order is the value's own, the copy dumps to the same bytes.
        let (kind, _) = snapshot(&mut con, key);
        if matches!(kind.as_str(), "string" | "list" | "zset") {
            assert!(dump(&mut con, &copy) == payload, "{key}");
        }
    }
    // No such key: nil.
    let none: Option<Vec<u8>> = q(&mut con, &["DUMP", "nosuchkey"]);
    assert_eq!(none, None);

    let payload = dump(&mut con, "str");
    // ttl 0: no expiry; REPLACE; ABSTTL.
    restore(&mut con, "plain", 0, &payload);
    assert_eq!(q::<i64>(&mut con, &["PTTL", "plain"]), -1);
    let now_ms: u64 = {
        let (secs, micros): (u64, u64) = q(&mut con, &["TIME"]);
        secs * 1000 + micros / 1000
    };
    let at = (now_ms + 50_000).to_string();
    let reply: String = redis::cmd("RESTORE")
        .arg("plain")
        .arg(&at)
        .arg(&payload)
        .arg("REPLACE")
        .arg("ABSTTL")
        .query(&mut con)
        .unwrap();
    assert_eq!(reply, "OK");
    assert_eq!(
        q::<u64>(&mut con, &["PEXPIRETIME", "plain"]),
        now_ms + 50_000
    );
    // An absolute time already past: +OK, and the replaced key is gone.
    let reply: String = redis::cmd("RESTORE")
        .arg("plain")
        .arg(1000)
        .arg(&payload)
        .arg("REPLACE")
        .arg("ABSTTL")
        .query(&mut con)
        .unwrap();
    assert_eq!(reply, "OK");
    assert_eq!(q::<i64>(&mut con, &["EXISTS", "plain"]), 0);
    // IDLETIME sets the idle time under the default (LRU) policy.
    let _: () = redis::cmd("RESTORE")
        .arg("idle")
        .arg(0)
        .arg(&payload)
        .arg("IDLETIME")
        .arg(1000)
        .query(&mut con)
        .unwrap();
    let idle: i64 = q(&mut con, &["OBJECT", "IDLETIME", "idle"]);
    assert!((1000..1010).contains(&idle), "{idle}");
    // FREQ sets the counter under an LFU policy.
    q::<()>(
        &mut con,
        &["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"],
    );
    let _: () = redis::cmd("RESTORE")
        .arg("freq")
        .arg(0)
        .arg(&payload)
        .arg("FREQ")
        .arg(100)
        .query(&mut con)
        .unwrap();
    assert_eq!(q::<i64>(&mut con, &["OBJECT", "FREQ", "freq"]), 100);
}

fn restore_err(
    con: &mut redis::Connection,
    key: &str,
    ttl: &str,
    payload: &[u8],
    extra: &[&str],
) -> String {
    let e = redis::cmd("RESTORE")
        .arg(key)
        .arg(ttl)
        .arg(payload)
        .arg(extra)
        .query::<redis::Value>(con)
        .expect_err("RESTORE should fail");
    format!("{} {}", e.code().unwrap_or("?"), e.detail().unwrap_or(""))
}

#[test]
fn restore_errors() {
    let node = Node::start(&[]);
    let mut con = node.client();
    q::<()>(&mut con, &["RPUSH", "l", "a", "b", "c"]);
    let payload = dump(&mut con, "l");
    assert_eq!(
        restore_err(&mut con, "l", "0", &payload, &[]),
        "BUSYKEY Target key name already exists."
    );
    assert_eq!(
        restore_err(&mut con, "n", "-1", &payload, &[]),
        "ERR Invalid TTL value, must be >= 0"
    );
    assert_eq!(
        restore_err(&mut con, "n", "x", &payload, &[]),
        "ERR value is not an integer or out of range"
    );
    let mut bad = payload.clone();
    bad[2] ^= 0x20;
    assert_eq!(
        restore_err(&mut con, "n", "0", &bad, &[]),
        "ERR DUMP payload version or checksum are wrong"
    );
    assert_eq!(
        restore_err(&mut con, "n", "0", b"short", &[]),
        "ERR DUMP payload version or checksum are wrong"
    );
    // Truncated, with a valid footer: the data itself is bad.
    let body = &payload[..payload.len() - 10];
    for cut in [0, 1, body.len() / 2, body.len() - 1] {
        let truncated = framed(&body[..cut]);
        assert_eq!(
            restore_err(&mut con, "n", "0", &truncated, &[]),
            "ERR Bad data format",
            "cut at {cut}"
        );
    }
    // A newer RDB version than we read.
    let mut newer = body.to_vec();
    newer.extend_from_slice(&99u16.to_le_bytes());
    let crc = crc64(&newer);
    newer.extend_from_slice(&crc.to_le_bytes());
    assert_eq!(
        restore_err(&mut con, "n", "0", &newer, &[]),
        "ERR DUMP payload version or checksum are wrong"
    );
    assert_eq!(
        restore_err(
            &mut con,
            "n",
            "0",
            &payload,
            &["IDLETIME", "1", "FREQ", "1"]
        ),
        "ERR syntax error"
    );
    assert_eq!(
        restore_err(&mut con, "n", "0", &payload, &["FREQ", "256"]),
        "ERR Invalid FREQ value, must be >= 0 and <= 255"
    );
    assert_eq!(
        restore_err(&mut con, "n", "0", &payload, &["IDLETIME", "-1"]),
        "ERR Invalid IDLETIME value, must be >= 0"
    );
    assert_eq!(
        restore_err(&mut con, "n", "0", &payload, &["BOGUS"]),
        "ERR syntax error"
    );
    assert_eq!(q::<i64>(&mut con, &["EXISTS", "n"]), 0);
    assert_eq!(
        err(&mut con, &["RESTORE", "n", "0"]),
        "ERR wrong number of arguments for 'restore' command"
    );
}

#[test]
fn argument_errors_match_redis() {
    let redis = Reference::start();
    let node = Node::start(&[]);
    let (mut theirs, mut ours) = (redis.client(), node.client());
    for con in [&mut theirs, &mut ours] {
        q::<()>(con, &["SET", "busy", "v"]);
    }
    let cases: &[&[&str]] = &[
        &["RESTORE", "busy", "0", "bad"],
        &["RESTORE", "busy", "x", "bad", "REPLACE"],
        &["RESTORE", "new", "-5", "bad"],
        &["RESTORE", "new", "0", "bad"],
        &["RESTORE", "new", "0", "bad", "ABSTTL", "REPLACE"],
        &["RESTORE", "new", "0", "bad", "FREQ", "256"],
        &["RESTORE", "new", "0", "bad", "FREQ", "-1"],
        &["RESTORE", "new", "0", "bad", "FREQ"],
        &["RESTORE", "new", "0", "bad", "IDLETIME", "-1"],
        &["RESTORE", "new", "0", "bad", "IDLETIME", "1", "FREQ", "1"],
        &["RESTORE", "new", "0", "bad", "BOGUS"],
        &["RESTORE", "new", "0"],
        &["DUMP", "nosuch"],
        &["DUMP"],
        &["MIGRATE", "127.0.0.1", "1", "busy", "0", "x"],
        &["MIGRATE", "127.0.0.1", "1", "busy", "x", "10"],
        &[
            "MIGRATE",
            "127.0.0.1",
            "1",
            "busy",
            "0",
            "10",
            "KEYS",
            "busy",
        ],
        &["MIGRATE", "127.0.0.1", "1", "busy", "0", "10", "BOGUS"],
        &["MIGRATE", "127.0.0.1", "1", "busy", "0", "10", "AUTH"],
        &["MIGRATE", "127.0.0.1", "1", "busy", "0", "10", "AUTH2", "u"],
        &["MIGRATE", "127.0.0.1", "1", "nosuch", "0", "10"],
        &["MIGRATE", "127.0.0.1", "1", "", "0", "10", "KEYS", "a", "b"],
        &["MIGRATE", "127.0.0.1", "1", "busy", "0"],
    ];
    for args in cases {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let (a, b) = reference::both(&mut ours, &mut theirs, &args, false);
        assert_eq!(a, b, "{args:?}");
    }
}

/// Redis's CRC64 (Jones, reflected), for building payloads in tests.
fn crc64(data: &[u8]) -> u64 {
    let mut crc = 0u64;
    for &b in data {
        crc ^= b as u64;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x95ac_9329_ac4b_c9b5
            } else {
                crc >> 1
            };
        }
    }
    crc
}

/// An RDB object body with a version-10 footer and its checksum.
fn framed(body: &[u8]) -> Vec<u8> {
    let mut p = body.to_vec();
    p.extend_from_slice(&10u16.to_le_bytes());
    let crc = crc64(&p);
    p.extend_from_slice(&crc.to_le_bytes());
    p
}

#[test]
fn payloads_move_between_redis_and_slotcache() {
    let redis = Reference::start();
    let node = Node::start(&[]);
    let (mut r, mut s) = (redis.client(), node.client());
    for (key, writes) in fixtures() {
        create(&mut r, &writes);
        let expected = snapshot(&mut r, key);
        // Redis's own encodings (listpack, intset, quicklist, LZF …) into slotcache.
        restore(&mut s, key, 0, &dump(&mut r, key));
        assert_eq!(snapshot(&mut s, key), expected, "redis -> slotcache: {key}");
        // And slotcache's back into Redis.
        let back = format!("{key}:back");
        restore(&mut r, &back, 60_000, &dump(&mut s, key));
        assert_eq!(
            snapshot(&mut r, &back),
            expected,
            "slotcache -> redis: {key}"
        );
        let pttl: i64 = q(&mut r, &["PTTL", &back]);
        assert!(pttl > 0 && pttl <= 60_000, "{key}: {pttl}");
    }
}

#[test]
fn migrate_moves_keys() {
    let (a, b) = (Node::start(&[]), Node::start(&[]));
    let (mut ca, mut cb) = (a.client(), b.client());
    let port = b.port.to_string();
    let migrate = |con: &mut redis::Connection, args: &[&str]| -> redis::RedisResult<String> {
        let mut all = vec!["MIGRATE", "127.0.0.1", &port];
        all.extend_from_slice(args);
        cmd(&all).query(con)
    };

    // One key, with its TTL; gone from the source.
    q::<()>(&mut ca, &["HSET", "h", "f", "v", "g", "w"]);
    q::<()>(&mut ca, &["PEXPIRE", "h", "100000"]);
    assert_eq!(migrate(&mut ca, &["h", "0", "5000"]).unwrap(), "OK");
    assert_eq!(q::<i64>(&mut ca, &["EXISTS", "h"]), 0);
    assert_eq!(snapshot(&mut cb, "h").1, ["f=v", "g=w"]);
    let pttl: i64 = q(&mut cb, &["PTTL", "h"]);
    assert!(pttl > 90_000 && pttl <= 100_000, "{pttl}");

    // COPY keeps the source; without REPLACE the target refuses a second time.
    q::<()>(&mut ca, &["SET", "s", "one"]);
    assert_eq!(migrate(&mut ca, &["s", "0", "5000", "COPY"]).unwrap(), "OK");
    assert_eq!(q::<String>(&mut ca, &["GET", "s"]), "one");
    assert_eq!(q::<String>(&mut cb, &["GET", "s"]), "one");
    q::<()>(&mut ca, &["SET", "s", "two"]);
    let e = migrate(&mut ca, &["s", "0", "5000"]).unwrap_err();
    assert_eq!(
        format!("{} {}", e.code().unwrap(), e.detail().unwrap()),
        "ERR Target instance replied with error: BUSYKEY Target key name already exists."
    );
    assert_eq!(q::<String>(&mut ca, &["GET", "s"]), "two");
    assert_eq!(
        migrate(&mut ca, &["s", "0", "5000", "REPLACE"]).unwrap(),
        "OK"
    );
    assert_eq!(q::<String>(&mut cb, &["GET", "s"]), "two");
    assert_eq!(q::<i64>(&mut ca, &["EXISTS", "s"]), 0);

    // KEYS: the keys that exist move, the others are skipped.
    q::<()>(&mut ca, &["RPUSH", "l", "1", "2"]);
    q::<()>(&mut ca, &["SADD", "set", "x"]);
    let reply = migrate(&mut ca, &["", "0", "5000", "KEYS", "l", "missing", "set"]).unwrap();
    assert_eq!(reply, "OK");
    assert_eq!(q::<i64>(&mut ca, &["EXISTS", "l", "set"]), 0);
    assert_eq!(
        q::<Vec<String>>(&mut cb, &["LRANGE", "l", "0", "-1"]),
        ["1", "2"]
    );
    assert_eq!(q::<Vec<String>>(&mut cb, &["SMEMBERS", "set"]), ["x"]);

    // Nothing to move.
    assert_eq!(
        migrate(&mut ca, &["missing", "0", "5000"]).unwrap(),
        "NOKEY"
    );
    assert_eq!(
        migrate(&mut ca, &["", "0", "5000", "KEYS", "m1", "m2"]).unwrap(),
        "NOKEY"
    );

    // Argument errors.
    q::<()>(&mut ca, &["SET", "k", "v"]);
    let e = migrate(&mut ca, &["k", "0", "5000", "KEYS", "k"]).unwrap_err();
    assert_eq!(
        e.detail().unwrap(),
        "When using MIGRATE KEYS option, the key argument must be set to the empty string"
    );
    let e = migrate(&mut ca, &["k", "0", "5000", "BOGUS"]).unwrap_err();
    assert_eq!(e.detail().unwrap(), "syntax error");
    let e = migrate(&mut ca, &["k", "0", "soon"]).unwrap_err();
    assert_eq!(
        e.detail().unwrap(),
        "value is not an integer or out of range"
    );

    // A target that is not there.
    let closed = free_port().to_string();
    let e: redis::RedisError = cmd(&["MIGRATE", "127.0.0.1", &closed, "k", "0", "1000"])
        .query::<String>(&mut ca)
        .unwrap_err();
    assert_eq!(
        format!("{} {}", e.code().unwrap(), e.detail().unwrap()),
        "IOERR error or timeout connecting to the client"
    );
    assert_eq!(q::<String>(&mut ca, &["GET", "k"]), "v");

    // Inside a transaction (its slot locks held throughout).
    q::<()>(&mut ca, &["SET", "t", "x"]);
    q::<()>(&mut ca, &["MULTI"]);
    q::<()>(&mut ca, &["MIGRATE", "127.0.0.1", &port, "t", "0", "5000"]);
    q::<()>(&mut ca, &["GET", "t"]);
    let replies: (String, Option<String>) = q(&mut ca, &["EXEC"]);
    assert_eq!(replies, ("OK".to_string(), None));
    assert_eq!(q::<String>(&mut cb, &["GET", "t"]), "x");

    // The cached connection survives the target closing it (retried fresh).
    q::<()>(
        &mut cb,
        &["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"],
    );
    assert_eq!(migrate(&mut ca, &["k", "0", "5000"]).unwrap(), "OK");
    assert_eq!(q::<String>(&mut cb, &["GET", "k"]), "v");

    // The cached connection is closed after 10 s unused.
    let clients = |cb: &mut redis::Connection| q::<String>(cb, &["CLIENT", "LIST"]).lines().count();
    assert_eq!(clients(&mut cb), 2);
    wait_until(
        Duration::from_secs(15),
        "the idle connection closes",
        || clients(&mut cb) == 1,
    );
}

#[test]
fn migrate_to_redis_server_with_select_and_auth() {
    let redis = Reference::start();
    let mut r = redis.client();
    q::<()>(&mut r, &["CONFIG", "SET", "requirepass", "secret"]);
    let node = Node::start(&[]);
    let mut s = node.client();
    let port = redis.port.to_string();
    q::<()>(&mut s, &["ZADD", "z", "1", "a", "2", "b"]);
    q::<()>(&mut s, &["SET", "plain", "v"]);
    let reply: String = cmd(&[
        "MIGRATE",
        "127.0.0.1",
        &port,
        "",
        "3",
        "5000",
        "AUTH",
        "secret",
        "KEYS",
        "z",
        "plain",
    ])
    .query(&mut s)
    .unwrap();
    assert_eq!(reply, "OK");
    assert_eq!(q::<i64>(&mut s, &["EXISTS", "z", "plain"]), 0);
    let mut r = redis::Client::open(format!("redis://:secret@127.0.0.1:{port}/3"))
        .unwrap()
        .get_connection()
        .unwrap();
    assert_eq!(snapshot(&mut r, "z").1, ["a", "1.0", "b", "2.0"]);
    assert_eq!(q::<String>(&mut r, &["GET", "plain"]), "v");

    // A wrong password: the target's error, and the key stays.
    q::<()>(&mut s, &["SET", "k", "v"]);
    let e = cmd(&[
        "MIGRATE",
        "127.0.0.1",
        &port,
        "k",
        "0",
        "5000",
        "AUTH2",
        "default",
        "nope",
    ])
    .query::<String>(&mut s)
    .unwrap_err();
    assert!(
        e.detail()
            .unwrap()
            .starts_with("Target instance replied with error: WRONGPASS"),
        "{e}"
    );
    assert_eq!(q::<String>(&mut s, &["GET", "k"]), "v");
}

fn slots_of(node: &Node) -> usize {
    let view: String = q(&mut node.client(), &["CLUSTER", "NODES"]);
    let me = view.lines().find(|l| l.contains("myself")).unwrap();
    me.split(' ')
        .skip(8)
        .map(|range| match range.split_once('-') {
            Some((a, b)) => b.parse::<usize>().unwrap() - a.parse::<usize>().unwrap() + 1,
            None => 1,
        })
        .sum()
}

/// What key `i` holds: a type by `i % 5`, a TTL for every third key.
fn expected(i: usize) -> (String, Vec<String>) {
    let v = |s: String| vec![s];
    match i % 5 {
        0 => ("string".into(), v(format!("value-{i}"))),
        1 => (
            "hash".into(),
            vec![format!("a={i}"), format!("b={}", i * 2)],
        ),
        2 => (
            "list".into(),
            vec![format!("x{i}"), "y".into(), i.to_string()],
        ),
        3 => {
            let mut m = vec![i.to_string(), (i + 1).to_string(), "s".to_string()];
            m.sort();
            ("set".into(), m)
        }
        _ => (
            "zset".into(),
            vec!["m".into(), "1.5".into(), format!("n{i}"), "2.0".into()],
        ),
    }
}

fn write_key(con: &mut impl ConnectionLike, i: usize) {
    let key = format!("key:{i}");
    let (is, i2, i1) = (i.to_string(), (i * 2).to_string(), (i + 1).to_string());
    let args: Vec<String> = match i % 5 {
        0 => vec!["SET".into(), key.clone(), format!("value-{i}")],
        1 => ["HSET", &key, "a", &is, "b", &i2]
            .map(String::from)
            .to_vec(),
        2 => ["RPUSH", &key, &format!("x{i}"), "y", &is]
            .map(String::from)
            .to_vec(),
        3 => ["SADD", &key, &is, &i1, "s"].map(String::from).to_vec(),
        _ => ["ZADD", &key, "1.5", "m", "2", &format!("n{i}")]
            .map(String::from)
            .to_vec(),
    };
    let mut c = redis::cmd(&args[0]);
    c.arg(&args[1..]);
    let _: redis::Value = c.query(con).unwrap();
    if i.is_multiple_of(3) {
        let _: i64 = cmd(&["PEXPIRE", &key, "3600000"]).query(con).unwrap();
    }
}

fn check_keys(con: &mut impl ConnectionLike, n: usize) {
    for i in 0..n {
        let key = format!("key:{i}");
        assert_eq!(snapshot(con, &key), expected(i), "{key}");
        let pttl: i64 = cmd(&["PTTL", &key]).query(con).unwrap();
        if i.is_multiple_of(3) {
            assert!(pttl > 0 && pttl <= 3_600_000, "{key}: {pttl}");
        } else {
            assert_eq!(pttl, -1, "{key}");
        }
    }
}

#[test]
fn redis_cli_reshard_and_del_node_move_keys() {
    let nodes: Vec<Node> = (0..3)
        .map(|_| Node::start(&["--cluster-enabled", "yes"]))
        .collect();
    form_cluster(&nodes);
    let addr = |n: &Node| format!("127.0.0.1:{}", n.port);
    let first = addr(&nodes[0]);
    let fresh = Node::start(&["--cluster-enabled", "yes"]);
    let (ok, out) = redis_cli(&["--cluster", "add-node", &addr(&fresh), &first], None);
    assert!(ok, "{out}");
    wait_until(Duration::from_secs(20), "the new node joins", || {
        nodes.iter().chain([&fresh]).all(|n| {
            let view: String = q(&mut n.client(), &["CLUSTER", "NODES"]);
            view.lines().count() == 4 && !view.contains("handshake")
        })
    });

    let urls: Vec<String> = nodes.iter().map(|n| n.url()).collect();
    let mut cluster = ClusterClient::new(urls).unwrap().get_connection().unwrap();
    const KEYS: usize = 3000;
    for i in 0..KEYS {
        write_key(&mut cluster, i);
    }

    // Slots (and their keys) from every primary to the new one. (Bounded:
    // redis-cli moves a slot at a time, and a full rebalance takes minutes
    // on a loaded machine.)
    let id: String = q(&mut fresh.client(), &["CLUSTER", "MYID"]);
    let (ok, out) = redis_cli(
        &[
            "--cluster",
            "reshard",
            &first,
            "--cluster-from",
            "all",
            "--cluster-to",
            &id,
            "--cluster-slots",
            "400",
            "--cluster-yes",
        ],
        None,
    );
    assert!(ok, "{out}");
    wait_until(Duration::from_secs(20), "the nodes agree", || {
        redis_cli(&["--cluster", "check", &first], None)
            .1
            .contains("[OK] All nodes agree")
    });
    cluster_check(&first).unwrap();
    let moved = slots_of(&fresh);
    // redis-cli splits the 400 among the sources, rounding down.
    assert!((397..=400).contains(&moved), "{moved} slots moved");
    let on_fresh: usize = q(&mut fresh.client(), &["DBSIZE"]);
    assert!(on_fresh > 30, "{on_fresh} keys moved to the new node");
    let total: usize = nodes
        .iter()
        .chain([&fresh])
        .map(|n| q::<usize>(&mut n.client(), &["DBSIZE"]))
        .sum();
    assert_eq!(total, KEYS);
    check_keys(&mut cluster, KEYS);

    // Empty the new node again, then remove it from the cluster.
    let to: String = q(&mut nodes[0].client(), &["CLUSTER", "MYID"]);
    let (ok, out) = redis_cli(
        &[
            "--cluster",
            "reshard",
            &first,
            "--cluster-from",
            &id,
            "--cluster-to",
            &to,
            "--cluster-slots",
            &moved.to_string(),
            "--cluster-yes",
        ],
        None,
    );
    assert!(ok, "{out}");
    assert_eq!(slots_of(&fresh), 0);
    assert_eq!(q::<usize>(&mut fresh.client(), &["DBSIZE"]), 0);
    wait_until(Duration::from_secs(20), "the nodes agree", || {
        redis_cli(&["--cluster", "check", &first], None)
            .1
            .contains("[OK] All nodes agree")
    });
    let (ok, out) = redis_cli(&["--cluster", "del-node", &first, &id], None);
    assert!(ok, "{out}");
    assert!(!out.contains("[ERR]"), "{out}");
    wait_until(Duration::from_secs(20), "the node is forgotten", || {
        nodes.iter().all(|n| {
            let view: String = q(&mut n.client(), &["CLUSTER", "NODES"]);
            view.lines().count() == 3
        })
    });
    cluster_check(&first).unwrap();
    let urls: Vec<String> = nodes.iter().map(|n| n.url()).collect();
    let mut cluster = ClusterClient::new(urls).unwrap().get_connection().unwrap();
    check_keys(&mut cluster, KEYS);
}

#[test]
fn redis_cli_rebalance_evens_out_slots_with_their_keys() {
    // Two primaries, 209 slots off balance (over redis-cli's 2% threshold).
    let nodes: Vec<Node> = (0..2)
        .map(|_| Node::start(&["--cluster-enabled", "yes"]))
        .collect();
    for (i, (node, (a, b))) in nodes
        .iter()
        .zip([("0", "8400"), ("8401", "16383")])
        .enumerate()
    {
        let mut con = node.client();
        q::<()>(&mut con, &["CLUSTER", "ADDSLOTSRANGE", a, b]);
        let epoch = (i + 1).to_string();
        q::<()>(&mut con, &["CLUSTER", "SET-CONFIG-EPOCH", &epoch]);
    }
    let first = format!("127.0.0.1:{}", nodes[0].port);
    let port = nodes[0].port.to_string();
    q::<()>(
        &mut nodes[1].client(),
        &["CLUSTER", "MEET", "127.0.0.1", &port],
    );
    wait_until(Duration::from_secs(20), "the cluster forms", || {
        slotcache_tests::cluster_settled(&nodes)
            && nodes.iter().all(|n| {
                let info: String = q(&mut n.client(), &["CLUSTER", "INFO"]);
                info.contains("cluster_state:ok")
            })
    });
    let urls: Vec<String> = nodes.iter().map(|n| n.url()).collect();
    let mut cluster = ClusterClient::new(urls).unwrap().get_connection().unwrap();
    const KEYS: usize = 2000;
    for i in 0..KEYS {
        write_key(&mut cluster, i);
    }
    let (ok, out) = redis_cli(&["--cluster", "rebalance", &first], None);
    assert!(ok, "{out}");
    assert!(out.contains("Moving 209 slots"), "{out}");
    wait_until(Duration::from_secs(20), "the nodes agree", || {
        redis_cli(&["--cluster", "check", &first], None)
            .1
            .contains("[OK] All nodes agree")
    });
    cluster_check(&first).unwrap();
    assert_eq!(nodes.iter().map(slots_of).collect::<Vec<_>>(), [8192, 8192]);
    let total: usize = nodes
        .iter()
        .map(|n| q::<usize>(&mut n.client(), &["DBSIZE"]))
        .sum();
    assert_eq!(total, KEYS);
    check_keys(&mut cluster, KEYS);
}
