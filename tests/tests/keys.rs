//! Generic key commands, as Redis 7 answers them: deletion, existence,
//! the EXPIRE and TTL families, KEYS, SCAN, RANDOMKEY, RENAME, TOUCH.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::{Connection, Value};
use slotcache_tests::{err, q, wait_until, Node};

mod reference;

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn info_stat(con: &mut Connection, field: &str) -> u64 {
    let info: String = q(con, &["INFO", "stats"]);
    let prefix = format!("{field}:");
    info.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("INFO stats has no {field}"))
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn del_unlink_exists_type_touch() {
    let node = Node::start(&[]);
    let con = &mut node.client();

    q::<()>(con, &["MSET", "a", "1", "b", "2", "c", "3"]);
    q::<()>(con, &["HSET", "h", "f", "v"]);
    assert_eq!(q::<i64>(con, &["EXISTS", "a", "a", "nokey", "h"]), 3);
    assert_eq!(q::<String>(con, &["TYPE", "a"]), "string");
    assert_eq!(q::<String>(con, &["TYPE", "h"]), "hash");
    assert_eq!(q::<String>(con, &["TYPE", "nokey"]), "none");
    assert_eq!(q::<i64>(con, &["TOUCH", "a", "b", "nokey"]), 2);

    assert_eq!(q::<i64>(con, &["DEL", "a", "a", "nokey"]), 1);
    assert_eq!(q::<i64>(con, &["UNLINK", "b", "h"]), 2);
    assert_eq!(q::<i64>(con, &["EXISTS", "a", "b", "h", "c"]), 1);
    assert_eq!(
        err(con, &["DEL"]),
        "ERR wrong number of arguments for 'del' command"
    );

    // A big collection is freed off the request path; it is gone at once.
    let mut hset = redis::cmd("HSET");
    hset.arg("big");
    for i in 0..5000 {
        hset.arg(format!("f{i}")).arg(i);
    }
    let _: i64 = hset.query(con).unwrap();
    assert_eq!(q::<i64>(con, &["UNLINK", "big"]), 1);
    assert_eq!(q::<i64>(con, &["EXISTS", "big"]), 0);

    // EXISTS and TYPE count keyspace hits and misses, as Redis does.
    let (hits, misses) = (
        info_stat(con, "keyspace_hits"),
        info_stat(con, "keyspace_misses"),
    );
    q::<i64>(con, &["EXISTS", "c", "nokey"]);
    q::<String>(con, &["TYPE", "c"]);
    assert_eq!(info_stat(con, "keyspace_hits"), hits + 2);
    assert_eq!(info_stat(con, "keyspace_misses"), misses + 1);
}

#[test]
fn expire_family_and_options() {
    let node = Node::start(&[]);
    let con = &mut node.client();

    assert_eq!(q::<i64>(con, &["EXPIRE", "nokey", "100"]), 0);
    q::<()>(con, &["SET", "k", "v"]);
    assert_eq!(q::<i64>(con, &["EXPIRE", "k", "100"]), 1);
    assert_eq!(q::<i64>(con, &["TTL", "k"]), 100);
    // 50.8 s left: TTL rounds to 51 (truncating would give 50), with
    // 300 ms of slack for a loaded machine.
    assert_eq!(q::<i64>(con, &["PEXPIRE", "k", "50800"]), 1);
    assert_eq!(q::<i64>(con, &["TTL", "k"]), 51, "seconds round to nearest");
    let at = unix_ms() / 1000 + 1000;
    assert_eq!(q::<i64>(con, &["EXPIREAT", "k", &at.to_string()]), 1);
    assert_eq!(q::<u64>(con, &["EXPIRETIME", "k"]), at);
    assert_eq!(q::<u64>(con, &["PEXPIRETIME", "k"]), at * 1000);
    let at_ms = unix_ms() + 2_000_123;
    assert_eq!(q::<i64>(con, &["PEXPIREAT", "k", &at_ms.to_string()]), 1);
    assert_eq!(q::<u64>(con, &["PEXPIRETIME", "k"]), at_ms);

    // NX: only without a TTL. XX: only with one.
    q::<()>(con, &["SET", "n", "v"]);
    assert_eq!(q::<i64>(con, &["EXPIRE", "n", "100", "XX"]), 0);
    assert_eq!(q::<i64>(con, &["TTL", "n"]), -1);
    assert_eq!(q::<i64>(con, &["EXPIRE", "n", "100", "nx"]), 1);
    assert_eq!(q::<i64>(con, &["EXPIRE", "n", "200", "NX"]), 0);
    assert_eq!(q::<i64>(con, &["EXPIRE", "n", "200", "XX"]), 1);
    assert_eq!(q::<i64>(con, &["TTL", "n"]), 200);
    // GT/LT compare with the current expiry; no TTL counts as infinite.
    assert_eq!(q::<i64>(con, &["EXPIRE", "n", "100", "GT"]), 0);
    assert_eq!(q::<i64>(con, &["EXPIRE", "n", "300", "GT"]), 1);
    assert_eq!(q::<i64>(con, &["EXPIRE", "n", "400", "LT"]), 0);
    assert_eq!(q::<i64>(con, &["EXPIRE", "n", "150", "LT", "XX"]), 1);
    assert_eq!(q::<i64>(con, &["TTL", "n"]), 150);
    q::<()>(con, &["SET", "p", "v"]);
    assert_eq!(q::<i64>(con, &["EXPIRE", "p", "100", "GT"]), 0);
    assert_eq!(q::<i64>(con, &["EXPIRE", "p", "100", "LT"]), 1);

    assert_eq!(
        err(con, &["EXPIRE", "n", "10", "NX", "XX"]),
        "ERR NX and XX, GT or LT options at the same time are not compatible"
    );
    assert_eq!(
        err(con, &["EXPIRE", "n", "10", "GT", "LT"]),
        "ERR GT and LT options at the same time are not compatible"
    );
    // Options are checked before the time.
    assert_eq!(
        err(con, &["EXPIRE", "n", "abc", "foo"]),
        "ERR Unsupported option foo"
    );
    assert_eq!(
        err(con, &["PEXPIRE", "n", "abc"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        err(con, &["EXPIRE", "n", "9223372036854775807"]),
        "ERR invalid expire time in 'expire' command"
    );
    assert_eq!(
        err(con, &["PEXPIRE", "n", "9223372036854775807"]),
        "ERR invalid expire time in 'pexpire' command"
    );
    assert_eq!(
        err(con, &["EXPIREAT", "n", "-9223372036854776"]),
        "ERR invalid expire time in 'expireat' command"
    );
    // The largest time that fits is accepted.
    assert_eq!(q::<i64>(con, &["PEXPIREAT", "n", "9223372036854775807"]), 1);
    assert_eq!(q::<i64>(con, &["PEXPIRETIME", "n"]), i64::MAX);
    assert_eq!(q::<i64>(con, &["EXPIRETIME", "n"]), 9223372036854776);

    // A time in the past (or now) deletes the key and answers 1.
    for (cmd, t) in [
        ("EXPIRE", "-1"),
        ("PEXPIRE", "0"),
        ("EXPIREAT", "1"),
        ("PEXPIREAT", "-5"),
    ] {
        q::<()>(con, &["SET", "gone", "v"]);
        assert_eq!(q::<i64>(con, &[cmd, "gone", t]), 1, "{cmd} {t}");
        assert_eq!(q::<i64>(con, &["EXISTS", "gone"]), 0, "{cmd} {t}");
    }
    // … unless an option refuses it first.
    q::<()>(con, &["SET", "stay", "v", "EX", "100"]);
    assert_eq!(q::<i64>(con, &["EXPIRE", "stay", "-1", "NX"]), 0);
    assert_eq!(q::<i64>(con, &["EXPIRE", "stay", "-1", "GT"]), 0);
    assert_eq!(q::<i64>(con, &["EXISTS", "stay"]), 1);

    // An expiry survives a value change only through commands that keep it.
    assert_eq!(q::<i64>(con, &["PERSIST", "stay"]), 1);
    assert_eq!(q::<i64>(con, &["PERSIST", "stay"]), 0);
    assert_eq!(q::<i64>(con, &["PERSIST", "nokey"]), 0);
    assert_eq!(q::<i64>(con, &["TTL", "stay"]), -1);
}

#[test]
fn ttl_family() {
    let node = Node::start(&[]);
    let con = &mut node.client();

    for cmd in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"] {
        assert_eq!(q::<i64>(con, &[cmd, "nokey"]), -2, "{cmd}");
    }
    q::<()>(con, &["SET", "k", "v"]);
    for cmd in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"] {
        assert_eq!(q::<i64>(con, &[cmd, "k"]), -1, "{cmd}");
    }
    let at = unix_ms() + 100_000;
    q::<()>(con, &["PEXPIREAT", "k", &at.to_string()]);
    // The node's clock may trail this one by a few ms.
    let pttl: i64 = q(con, &["PTTL", "k"]);
    assert!((99_000..=100_010).contains(&pttl), "{pttl}");
    assert_eq!(q::<i64>(con, &["TTL", "k"]), 100);
    assert_eq!(q::<u64>(con, &["PEXPIRETIME", "k"]), at);
    assert_eq!(q::<u64>(con, &["EXPIRETIME", "k"]), (at + 500) / 1000);
}

#[test]
fn expiry_with_millisecond_precision() {
    let node = Node::start(&[]);
    let con = &mut node.client();
    let bound = Duration::from_secs(3);

    q::<()>(con, &["MSET", "a", "1", "b", "2", "c", "3", "d", "4"]);
    assert_eq!(q::<i64>(con, &["PEXPIRE", "a", "150"]), 1);
    assert_eq!(
        q::<i64>(con, &["PEXPIREAT", "b", &(unix_ms() + 200).to_string()]),
        1
    );
    assert_eq!(q::<i64>(con, &["PEXPIRE", "c", "250"]), 1);
    assert_eq!(q::<i64>(con, &["PERSIST", "c"]), 1);
    assert_eq!(q::<i64>(con, &["PEXPIRE", "d", "300"]), 1);
    q::<()>(con, &["RENAME", "d", "renamed"]);
    let pttl: i64 = q(con, &["PTTL", "a"]);
    assert!((1..=150).contains(&pttl), "{pttl}");
    assert_eq!(q::<i64>(con, &["EXISTS", "a", "b", "renamed"]), 3);
    wait_until(bound, "a, b and renamed expire", || {
        q::<i64>(con, &["EXISTS", "a", "b", "renamed"]) == 0
    });
    assert_eq!(q::<i64>(con, &["TTL", "a"]), -2);
    assert_eq!(q::<String>(con, &["GET", "c"]), "3", "PERSIST kept c");
    // Expired keys are gone from every listing too.
    q::<()>(con, &["SET", "short", "v", "PX", "100"]);
    wait_until(bound, "short expires in KEYS", || {
        q::<Vec<String>>(con, &["KEYS", "*"]) == ["c"]
    });
    let (cursor, keys): (String, Vec<String>) = q(con, &["SCAN", "0", "COUNT", "1000"]);
    assert_eq!((cursor.as_str(), keys), ("0", vec!["c".to_string()]));
}

#[test]
fn keys_with_glob_patterns() {
    let node = Node::start(&[]);
    let con = &mut node.client();
    assert!(q::<Vec<String>>(con, &["KEYS", "*"]).is_empty());
    q::<()>(
        con,
        &[
            "MSET", "hello", "1", "hallo", "1", "hxllo", "1", "hllo", "1", "heeeello", "1",
        ],
    );
    q::<()>(
        con,
        &[
            "MSET",
            "user:1:name",
            "a",
            "user:2:name",
            "b",
            "user:2:age",
            "c",
        ],
    );
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    for (pattern, want) in [
        ("h?llo", &["hallo", "hello", "hxllo"][..]),
        ("h*llo", &["hallo", "heeeello", "hello", "hllo", "hxllo"]),
        ("h[ae]llo", &["hallo", "hello"]),
        ("h[^e]llo", &["hallo", "hxllo"]),
        ("h[a-b]llo", &["hallo"]),
        ("user:*:name", &["user:1:name", "user:2:name"]),
        ("user:2:*", &["user:2:age", "user:2:name"]),
        ("nothing*", &[]),
    ] {
        assert_eq!(sorted(q(con, &["KEYS", pattern])), want, "{pattern}");
    }
    assert_eq!(q::<Vec<String>>(con, &["KEYS", "*"]).len(), 8);
}

#[test]
fn scan_returns_every_key() {
    let node = Node::start(&[]);
    let con = &mut node.client();

    let mut pipe = redis::pipe();
    for i in 0..2000 {
        pipe.cmd("SET").arg(format!("key:{i}")).arg(i).ignore();
    }
    for i in 0..100 {
        pipe.cmd("HSET")
            .arg(format!("hash:{i}"))
            .arg("f")
            .arg(i)
            .ignore();
    }
    pipe.query::<()>(con).unwrap();

    // Returns the number of times each key was returned, and the calls made.
    let full_scan = |con: &mut Connection, extra: &[&str]| {
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut cursor = "0".to_string();
        let mut calls = 0;
        loop {
            let mut args = vec!["SCAN", cursor.as_str()];
            args.extend_from_slice(extra);
            let (next, keys): (String, Vec<String>) = q(con, &args);
            for k in keys {
                *seen.entry(k).or_default() += 1;
            }
            calls += 1;
            cursor = next;
            if cursor == "0" {
                return (seen, calls);
            }
        }
    };

    let (all, calls) = full_scan(con, &[]);
    assert_eq!(all.len(), 2100);
    assert!(all.values().all(|&n| n == 1), "slots are visited once");
    assert!(calls > 100, "COUNT 10 by default: {calls} calls");
    let (big, calls) = full_scan(con, &["COUNT", "1000"]);
    assert_eq!(big.len(), 2100);
    assert!(calls <= 5, "{calls} calls");

    let (matched, _) = full_scan(con, &["MATCH", "key:1*", "COUNT", "100"]);
    let want = (0..2000).filter(|i| i.to_string().starts_with('1')).count();
    assert_eq!(matched.len(), want);
    assert!(matched.keys().all(|k| k.starts_with("key:1")));
    let (hashes, _) = full_scan(con, &["TYPE", "HASH", "COUNT", "500"]);
    assert_eq!(hashes.len(), 100);
    assert!(hashes.keys().all(|k| k.starts_with("hash:")));
    let (both, _) = full_scan(con, &["MATCH", "*:5*", "TYPE", "string", "COUNT", "50"]);
    assert_eq!(
        both.len(),
        (0..2000).filter(|i| i.to_string().starts_with('5')).count()
    );
    let (none, _) = full_scan(con, &["TYPE", "list"]);
    assert!(none.is_empty());

    // Keys written and deleted during a scan do not disturb the others.
    let mut seen = HashMap::<String, usize>::new();
    let mut cursor = "0".to_string();
    let mut round = 0;
    loop {
        let (next, keys): (String, Vec<String>) = q(con, &["SCAN", &cursor, "COUNT", "200"]);
        for k in keys {
            *seen.entry(k).or_default() += 1;
        }
        q::<()>(con, &["SET", &format!("new:{round}"), "v"]);
        q::<i64>(con, &["DEL", &format!("hash:{round}")]);
        round += 1;
        cursor = next;
        if cursor == "0" {
            break;
        }
    }
    assert!((0..2000).all(|i| seen.contains_key(&format!("key:{i}"))));

    for (args, want) in [
        (&["SCAN", "abc"][..], "ERR invalid cursor"),
        (&["SCAN", "-"], "ERR invalid cursor"),
        (&["SCAN", "0", "COUNT", "0"], "ERR syntax error"),
        (&["SCAN", "0", "COUNT"], "ERR syntax error"),
        (&["SCAN", "0", "FOO", "bar"], "ERR syntax error"),
        (
            &["SCAN", "0", "COUNT", "x"],
            "ERR value is not an integer or out of range",
        ),
    ] {
        assert_eq!(err(con, args), want, "{args:?}");
    }
    // A cursor past the last slot ends the scan.
    let (cursor, keys): (String, Vec<String>) = q(con, &["SCAN", "99999"]);
    assert_eq!((cursor.as_str(), keys.len()), ("0", 0));
}

#[test]
fn randomkey_rename_renamenx() {
    let node = Node::start(&[]);
    let con = &mut node.client();

    assert_eq!(q::<Option<String>>(con, &["RANDOMKEY"]), None);
    q::<()>(con, &["MSET", "a", "1", "b", "2", "c", "3"]);
    let mut picked = std::collections::HashSet::new();
    for _ in 0..200 {
        picked.insert(q::<String>(con, &["RANDOMKEY"]));
    }
    assert_eq!(picked.len(), 3, "{picked:?}");

    assert_eq!(err(con, &["RENAME", "nokey", "x"]), "ERR no such key");
    assert_eq!(err(con, &["RENAMENX", "nokey", "x"]), "ERR no such key");
    assert_eq!(q::<Value>(con, &["RENAME", "a", "a"]), Value::Okay);
    assert_eq!(q::<i64>(con, &["RENAMENX", "a", "a"]), 0);

    // RENAME keeps the TTL and replaces the destination, whatever its type.
    q::<()>(con, &["EXPIRE", "a", "100"]);
    q::<()>(con, &["HSET", "h", "f", "v"]);
    assert_eq!(q::<Value>(con, &["RENAME", "a", "h"]), Value::Okay);
    assert_eq!(q::<i64>(con, &["EXISTS", "a"]), 0);
    assert_eq!(q::<String>(con, &["GET", "h"]), "1");
    assert_eq!(q::<i64>(con, &["TTL", "h"]), 100);
    // A moved value without TTL takes none, even onto a key that had one.
    q::<()>(con, &["SET", "t", "x", "EX", "100"]);
    assert_eq!(q::<Value>(con, &["RENAME", "b", "t"]), Value::Okay);
    assert_eq!(q::<i64>(con, &["TTL", "t"]), -1);

    assert_eq!(q::<i64>(con, &["RENAMENX", "c", "t"]), 0);
    assert_eq!(q::<String>(con, &["GET", "c"]), "3");
    assert_eq!(q::<i64>(con, &["RENAMENX", "c", "d"]), 1);
    assert_eq!(
        q::<Vec<Option<String>>>(con, &["MGET", "c", "d"]),
        [None, Some("3".into())]
    );

    // Collections and appended strings move whole.
    q::<()>(con, &["HSET", "h2", "f1", "a", "f2", "b"]);
    assert_eq!(q::<Value>(con, &["RENAME", "h2", "h3"]), Value::Okay);
    assert_eq!(q::<String>(con, &["TYPE", "h3"]), "hash");
    assert_eq!(
        q::<Vec<String>>(con, &["HMGET", "h3", "f1", "f2"]),
        ["a", "b"]
    );
    q::<i64>(con, &["APPEND", "s", "abc"]);
    q::<i64>(con, &["APPEND", "s", "def"]);
    assert_eq!(q::<Value>(con, &["RENAME", "s", "s2"]), Value::Okay);
    assert_eq!(q::<String>(con, &["GET", "s2"]), "abcdef");

    // Through redis-cli as well.
    assert_eq!(node.cli(&["RENAME", "s2", "s3"]).trim(), "OK");
    assert_eq!(node.cli(&["RENAME", "s2", "s3"]).trim(), "ERR no such key");
    assert_eq!(node.cli(&["TYPE", "s3"]).trim(), "string");
    assert_eq!(
        node.cli(&["EXPIRE", "s3", "10", "GT", "LT"]).trim(),
        "ERR GT and LT options at the same time are not compatible"
    );
    assert_eq!(node.cli(&["PTTL", "nokey"]).trim(), "-2");
}

/// Keys nobody reads again still go: the background cycle removes them,
/// quickly when most keys with a TTL are expired, and still when only a
/// few are, among many long-lived ones.
#[test]
fn active_expiry_removes_keys_nobody_reads() {
    let node = Node::start(&[]);
    let mut con = node.client();
    let fill = |con: &mut Connection, prefix: &str, n: usize, ttl_ms: Option<u64>| {
        let mut pipe = redis::pipe();
        for i in 0..n {
            let key = format!("{prefix}:{i}");
            match ttl_ms {
                Some(ms) => pipe.cmd("SET").arg(key).arg("v").arg("PX").arg(ms),
                None => pipe.cmd("SET").arg(key).arg("v"),
            }
            .ignore();
        }
        pipe.query::<()>(con).unwrap();
    };
    fill(&mut con, "short", 20_000, Some(100));
    fill(&mut con, "kept", 5_000, None);
    wait_until(Duration::from_secs(5), "all short-lived keys gone", || {
        q::<u64>(&mut con, &["DBSIZE"]) == 5_000
    });
    assert_eq!(info_stat(&mut con, "expired_keys"), 20_000);

    // A few expiring among many long TTLs: the cycle's small chunks reach them.
    fill(&mut con, "long", 50_000, Some(3_600_000));
    fill(&mut con, "few", 1_000, Some(100));
    wait_until(
        Duration::from_secs(15),
        "the few short-lived keys gone",
        || q::<u64>(&mut con, &["DBSIZE"]) == 55_000,
    );
    assert_eq!(info_stat(&mut con, "expired_keys"), 21_000);
}

/// KEYS, SCAN and HSCAN patterns select what redis-server selects,
/// malformed ones included: a class never closed, a range ending in `]`,
/// escapes inside and outside classes, the empty key and field, and the
/// limit of 1000 nested stars.
#[test]
fn patterns_match_as_in_redis_server() {
    let node = Node::start(&[]);
    let reference = reference::Reference::start();
    let (mut ours, mut theirs) = (node.client(), reference.client());
    let long_a = format!("{}b", "a".repeat(1500));
    let keys = [
        "hello", "hallo", "hxllo", "hllo", "heeeello", "h*llo", "h?llo", "a\\b", "a-b", "ab",
        "a]b", "[", "]", "^x", "x^", "\\", "UPPER", "upper", "a.b", "a*b", "", &long_a,
    ];
    for con in [&mut ours, &mut theirs] {
        for key in keys {
            q::<()>(con, &["SET", key, "1"]);
        }
        q::<i64>(con, &["HSET", "h", "", "v", "a", "v"]);
    }
    let deep = format!("{}*b", "*a".repeat(1200));
    let shallow = format!("{}*b", "*a".repeat(800));
    let patterns = [
        "*",
        "**",
        "h?llo",
        "h*llo",
        "h[ae]llo",
        "h[^e]llo",
        "h[a-b]llo",
        "h[b-a]llo",
        "h\\*llo",
        "a\\\\b",
        "a[\\]]b",
        "[[]",
        "[]]",
        "\\[",
        "[^",
        "h[",
        "*[",
        "a[-]b",
        "a[a-]b",
        "[\\^]x",
        "*e*",
        "[Uu]pper",
        "?",
        "??",
        "a?b",
        "a\\",
        "[",
        "h[a-e-z]llo",
        "h[^a-f]llo",
        &deep,
        &shallow,
    ];
    let mut differ = Vec::new();
    for pattern in patterns {
        for args in [
            vec!["KEYS".to_string(), pattern.to_string()],
            ["SCAN", "0", "MATCH", pattern, "COUNT", "100000"]
                .map(String::from)
                .to_vec(),
            ["HSCAN", "h", "0", "MATCH", pattern]
                .map(String::from)
                .to_vec(),
        ] {
            let (a, b) = reference::both(&mut ours, &mut theirs, &args, true);
            if a != b {
                differ.push(format!("{args:?}:\n  ours:  {a}\n  redis: {b}"));
            }
        }
    }
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}

/// COPY against redis-server: every kind of value (an edited string
/// stays raw), its TTL, REPLACE, and the errors in Redis's order.
#[test]
fn copy_replies_as_redis_server() {
    let node = Node::start(&[]);
    let reference = reference::Reference::start();
    let (mut ours, mut theirs) = (node.client(), reference.client());
    let script = [
        "COPY a",
        "COPY a b",
        "SET a 1",
        "COPY a a",
        "COPY a b",
        "GET b",
        "COPY a b",
        "COPY a b REPLACE",
        "COPY a b DB",
        "COPY a b DB x",
        "COPY a b DB 0 REPLACE",
        "COPY a b DB 99999999999",
        "COPY a b DB 16",
        "COPY a b FOO",
        "COPY nokey b",
        "EXPIRE a 100",
        "COPY a c",
        "TTL c",
        "RPUSH l x y z",
        "COPY l l2",
        "RPUSH l2 w",
        "LRANGE l 0 -1",
        "LRANGE l2 0 -1",
        "HSET h f v",
        "COPY h h2",
        "HGETALL h2",
        "SADD s a",
        "COPY s s2",
        "SMEMBERS s2",
        "ZADD z 1 a 2.5 b",
        "COPY z z2",
        "ZRANGE z2 0 -1 WITHSCORES",
        "OBJECT ENCODING z2",
        "APPEND a xyz",
        "COPY a r REPLACE",
        "GET r",
        "OBJECT ENCODING r",
        "COPY h a REPLACE",
        "TYPE a",
        "TTL a",
    ];
    reference::assert_replies_alike(&mut ours, &mut theirs, &script);
}

/// SCAN family cursors are read as Redis reads them (strtoul): a sign, the
/// empty string as 0, a minus wrapping around; spaces and overflow refused.
#[test]
fn scan_cursors_read_as_redis_server() {
    let node = Node::start(&[]);
    let reference = reference::Reference::start();
    let (mut ours, mut theirs) = (node.client(), reference.client());
    for con in [&mut ours, &mut theirs] {
        q::<i64>(con, &["SADD", "s", "a"]);
        q::<i64>(con, &["HSET", "h", "f", "v"]);
        q::<i64>(con, &["ZADD", "z", "1", "m"]);
    }
    let cursors = [
        "",
        "0",
        "+0",
        "-0",
        "-",
        "+",
        " 1",
        "1 ",
        "x",
        "0x1",
        "-1",
        "+5",
        "18446744073709551615",
        "18446744073709551616",
        "-18446744073709551615",
        "-18446744073709551616",
    ];
    for cursor in cursors {
        for command in [
            &["SCAN"][..],
            &["SSCAN", "s"],
            &["HSCAN", "h"],
            &["ZSCAN", "z"],
        ] {
            let mut args: Vec<String> = command.iter().map(|a| a.to_string()).collect();
            args.push(cursor.to_string());
            let (a, b) = reference::both(&mut ours, &mut theirs, &args, false);
            assert_eq!(
                a.starts_with("error"),
                b.starts_with("error"),
                "{args:?}\n  ours:  {a}\n  redis: {b}"
            );
            if a.starts_with("error") {
                assert_eq!(a, b, "{args:?}");
            }
        }
    }
}
