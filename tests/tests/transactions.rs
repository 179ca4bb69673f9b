//! MULTI/EXEC/DISCARD/WATCH/UNWATCH as Redis 7 answers them, through the
//! `redis` crate's atomic pipelines and WATCH retry loop, and raw sockets
//! where the exact reply bytes matter.

use std::thread;
use std::time::Duration;

use redis::{Commands, Value};
use slotcache_tests::{err, q, resp, wait_until, Node, Sampler};

mod reference;
use reference::Reference;

#[test]
fn atomic_pipelines_run_every_command_in_order() {
    let node = Node::start(&[]);
    let con = &mut node.client();
    let (set, n, v): (String, i64, String) = redis::pipe()
        .atomic()
        .set("k", "7")
        .incr("k", 5)
        .get("k")
        .query(con)
        .unwrap();
    assert_eq!((set.as_str(), n, v.as_str()), ("OK", 12, "12"));
    // Runtime errors are answered inside EXEC's array; the rest still runs.
    let mut raw = node.raw();
    let mut sent = resp(&[b"MULTI"]);
    sent.extend(resp(&[b"SET", b"s", b"text"]));
    sent.extend(resp(&[b"INCR", b"s"]));
    sent.extend(resp(&[b"GET", b"s"]));
    sent.extend(resp(&[b"EXEC"]));
    let expected = "+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*3\r\n+OK\r\n-ERR value is not an integer or out of range\r\n$4\r\ntext\r\n";
    assert_eq!(raw.roundtrip(&sent, expected.as_bytes()), expected);
    // An empty transaction answers an empty array.
    assert_eq!(
        raw.roundtrip(
            &[resp(&[b"MULTI"]), resp(&[b"EXEC"])].concat(),
            b"+OK\r\n*0\r\n"
        ),
        "+OK\r\n*0\r\n"
    );
}

#[test]
fn transaction_errors_as_redis_words_them() {
    let node = Node::start(&[]);
    let con = &mut node.client();
    assert_eq!(err(con, &["EXEC"]), "ERR EXEC without MULTI");
    assert_eq!(err(con, &["DISCARD"]), "ERR DISCARD without MULTI");
    q::<()>(con, &["MULTI"]);
    assert_eq!(err(con, &["MULTI"]), "ERR MULTI calls can not be nested");
    assert_eq!(
        err(con, &["WATCH", "x"]),
        "ERR WATCH inside MULTI is not allowed"
    );
    // Neither error fails the transaction.
    assert_eq!(q::<Value>(con, &["EXEC"]), Value::Array(vec![]));

    // A command refused while queueing is answered at once and fails EXEC.
    q::<()>(con, &["MULTI"]);
    assert_eq!(q::<String>(con, &["SET", "a", "1"]), "QUEUED");
    assert!(err(con, &["NOSUCHCOMMAND", "x"]).starts_with("ERR unknown command 'NOSUCHCOMMAND'"));
    assert_eq!(
        err(con, &["GET"]),
        "ERR wrong number of arguments for 'get' command"
    );
    assert_eq!(q::<String>(con, &["SET", "b", "1"]), "QUEUED");
    assert_eq!(
        err(con, &["EXEC"]),
        "EXECABORT Transaction discarded because of previous errors."
    );
    assert_eq!(q::<i64>(con, &["EXISTS", "a", "b"]), 0);
    // The client left MULTI.
    assert_eq!(q::<String>(con, &["PING"]), "PONG");
    // EXEC itself refused discards the transaction.
    q::<()>(con, &["MULTI"]);
    q::<()>(con, &["SET", "a", "1"]);
    assert_eq!(
        err(con, &["EXEC", "extra"]),
        "EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command"
    );
    assert_eq!(err(con, &["EXEC"]), "ERR EXEC without MULTI");

    // DISCARD drops the queue; RESET leaves MULTI too.
    q::<()>(con, &["MULTI"]);
    q::<()>(con, &["SET", "a", "1"]);
    q::<()>(con, &["DISCARD"]);
    assert_eq!(q::<i64>(con, &["EXISTS", "a"]), 0);
    q::<()>(con, &["MULTI"]);
    q::<()>(con, &["SET", "a", "1"]);
    assert_eq!(q::<String>(con, &["RESET"]), "RESET");
    assert_eq!(err(con, &["EXEC"]), "ERR EXEC without MULTI");
    assert_eq!(q::<i64>(con, &["EXISTS", "a"]), 0);
}

/// WATCH `x`, let `change` run on another connection, and report whether
/// EXEC still ran (true) or was refused with a nil array (false).
fn exec_after(node: &Node, setup: &[&[&str]], change: &[&[&str]]) -> bool {
    exec_after_on(&mut node.client(), &mut node.client(), setup, change)
}

fn exec_after_on(
    con: &mut redis::Connection,
    other: &mut redis::Connection,
    setup: &[&[&str]],
    change: &[&[&str]],
) -> bool {
    q::<()>(con, &["FLUSHALL"]);
    for c in setup {
        q::<Value>(con, c);
    }
    q::<()>(con, &["WATCH", "x"]);
    for c in change {
        q::<Value>(other, c);
    }
    q::<()>(con, &["MULTI"]);
    q::<()>(con, &["PING"]);
    match q::<Value>(con, &["EXEC"]) {
        Value::Array(replies) => {
            assert_eq!(replies, vec![Value::SimpleString("PONG".into())]);
            true
        }
        Value::Nil => false,
        other => panic!("EXEC answered {other:?}"),
    }
}

#[test]
fn watch_sees_every_kind_of_change() {
    let node = Node::start(&[]);
    let set_x: &[&str] = &["SET", "x", "30"];
    assert!(exec_after(&node, &[set_x], &[]));
    assert!(!exec_after(&node, &[set_x], &[&["SET", "x", "40"]]));
    // Writing the same value is a write.
    assert!(!exec_after(&node, &[set_x], &[&["SET", "x", "30"]]));
    assert!(exec_after(
        &node,
        &[set_x],
        &[&["GET", "x"], &["SET", "y", "1"]]
    ));
    assert!(!exec_after(&node, &[set_x], &[&["INCR", "x"]]));
    assert!(!exec_after(&node, &[set_x], &[&["APPEND", "x", "1"]]));
    assert!(!exec_after(&node, &[set_x], &[&["DEL", "x"]]));
    assert!(!exec_after(&node, &[set_x], &[&["EXPIRE", "x", "100"]]));
    assert!(!exec_after(&node, &[set_x], &[&["RENAME", "x", "y"]]));
    assert!(!exec_after(
        &node,
        &[&["SET", "y", "1"]],
        &[&["RENAME", "y", "x"]]
    ));
    assert!(!exec_after(
        &node,
        &[&["HSET", "x", "f", "v"]],
        &[&["HSET", "x", "g", "v"]]
    ));
    // Creating a watched key that did not exist is a change; touching
    // nothing is not.
    assert!(!exec_after(&node, &[], &[&["SET", "x", "1"]]));
    assert!(exec_after(
        &node,
        &[],
        &[&["DEL", "x"], &["EXPIRE", "x", "5"]]
    ));
    // FLUSHALL changes the watched keys that existed, only those.
    assert!(!exec_after(&node, &[set_x], &[&["FLUSHALL"]]));
    assert!(exec_after(&node, &[], &[&["SET", "y", "1"], &["FLUSHALL"]]));
    // Scripts and transactions write like anyone else.
    let script: &[&str] = &["EVAL", "redis.call('set', KEYS[1], 'z')", "1", "x"];
    assert!(!exec_after(&node, &[set_x], &[script]));
    let read: &[&str] = &["EVAL", "return redis.call('get', KEYS[1])", "1", "x"];
    assert!(exec_after(&node, &[set_x], &[read]));
    assert!(!exec_after(
        &node,
        &[set_x],
        &[&["MULTI"], &["SET", "x", "2"], &["EXEC"]]
    ));
    assert!(exec_after(
        &node,
        &[set_x],
        &[&["MULTI"], &["SET", "x", "2"], &["DISCARD"]]
    ));
}

/// Redis dirties a watched key only where a command really changed it
/// (signalModifiedKey): a write that finds nothing to do, or a key a
/// write command only reads, leaves the EXEC of its watchers alone.
#[test]
fn watch_is_dirtied_exactly_where_redis_dirties_it() {
    let node = Node::start(&[]);
    let reference = Reference::start();
    let (mut con, mut other) = (node.client(), node.client());
    let (mut ref_con, mut ref_other) = (reference.client(), reference.client());
    let set: &[&[&str]] = &[&["SADD", "x", "a"], &["SADD", "y", "q"]];
    let hash: &[&[&str]] = &[&["HSET", "x", "f", "v", "n", "1"]];
    let list: &[&[&str]] = &[&["RPUSH", "x", "a", "b"]];
    let zset: &[&[&str]] = &[&["ZADD", "x", "1", "a", "2", "b"]];
    let string: &[&[&str]] = &[&["SET", "x", "30"]];
    let volatile: &[&[&str]] = &[&["SET", "x", "30", "EX", "100"]];
    let cases: &[(&[&[&str]], &[&str])] = &[
        (set, &["SADD", "x", "a"]),
        (set, &["SADD", "x", "b"]),
        (set, &["SREM", "x", "zz"]),
        (set, &["SREM", "x", "a"]),
        (set, &["SMOVE", "x", "y", "zz"]),
        (set, &["SMOVE", "x", "y", "a"]),
        (set, &["SMOVE", "y", "x", "q"]),
        (set, &["SMOVE", "y", "x", "zz"]),
        (set, &["SPOP", "x", "0"]),
        (set, &["SINTERSTORE", "z", "x", "y"]),
        (set, &["SUNIONSTORE", "y", "x", "y"]),
        (set, &["SDIFFSTORE", "x", "y"]),
        (hash, &["HSET", "x", "f", "v"]),
        (hash, &["HDEL", "x", "zz"]),
        (hash, &["HDEL", "x", "f"]),
        (hash, &["HSETNX", "x", "f", "w"]),
        (hash, &["HSETNX", "x", "g", "w"]),
        (hash, &["HINCRBY", "x", "n", "0"]),
        (list, &["LREM", "x", "0", "zz"]),
        (list, &["LREM", "x", "0", "a"]),
        (list, &["LINSERT", "x", "BEFORE", "zz", "q"]),
        (list, &["LINSERT", "x", "BEFORE", "a", "q"]),
        (list, &["LTRIM", "x", "0", "-1"]),
        (list, &["LSET", "x", "0", "a"]),
        (list, &["LPOS", "x", "a"]),
        (list, &["LPUSHX", "x", "q"]),
        (list, &["RPOPLPUSH", "y", "x"]),
        (list, &["LMOVE", "x", "y", "LEFT", "LEFT"]),
        (list, &["LPOP", "x", "0"]),
        (zset, &["ZADD", "x", "1", "a"]),
        (zset, &["ZADD", "x", "NX", "5", "a"]),
        (zset, &["ZADD", "x", "XX", "5", "zz"]),
        (zset, &["ZADD", "x", "GT", "0", "a"]),
        (zset, &["ZADD", "x", "5", "a"]),
        (zset, &["ZINCRBY", "x", "0", "a"]),
        (zset, &["ZREM", "x", "zz"]),
        (zset, &["ZREMRANGEBYSCORE", "x", "5", "6"]),
        (zset, &["ZREMRANGEBYRANK", "x", "5", "6"]),
        (zset, &["ZREMRANGEBYLEX", "x", "[q", "[r"]),
        (zset, &["ZREMRANGEBYSCORE", "x", "1", "1"]),
        (zset, &["ZRANGESTORE", "y", "x", "0", "-1"]),
        (zset, &["ZUNIONSTORE", "y", "1", "x"]),
        (zset, &["ZPOPMIN", "x", "0"]),
        (string, &["SET", "x", "1", "NX"]),
        (string, &["SETNX", "x", "1"]),
        (string, &["MSETNX", "y", "1", "x", "2"]),
        (string, &["SET", "x", "1", "XX"]),
        (string, &["SET", "x", "30"]),
        (string, &["SETRANGE", "x", "0", ""]),
        (string, &["SETRANGE", "x", "0", "3"]),
        (string, &["APPEND", "x", ""]),
        (string, &["INCRBY", "x", "0"]),
        (string, &["GETEX", "x"]),
        (string, &["GETEX", "x", "PERSIST"]),
        (volatile, &["GETEX", "x", "PERSIST"]),
        (string, &["GETSET", "x", "30"]),
        (string, &["RENAME", "x", "x"]),
        (string, &["TOUCH", "x"]),
        (string, &["PERSIST", "x"]),
        (volatile, &["PERSIST", "x"]),
        (string, &["EXPIRE", "x", "100", "XX"]),
        (string, &["EXPIRE", "x", "100", "GT"]),
        (volatile, &["EXPIRE", "x", "100", "NX"]),
        (volatile, &["EXPIRE", "x", "50", "GT"]),
        (volatile, &["EXPIRE", "x", "500", "LT"]),
        (volatile, &["EXPIRE", "x", "500", "GT"]),
        (
            string,
            &[
                "EVAL",
                "redis.call('sadd', 'y', 'q') return redis.call('get', KEYS[1])",
                "1",
                "x",
            ],
        ),
        (
            set,
            &["EVAL", "return redis.call('sadd', KEYS[1], 'a')", "1", "x"],
        ),
        (
            set,
            &[
                "EVAL",
                "return redis.call('sadd', KEYS[1], 'new')",
                "1",
                "x",
            ],
        ),
    ];
    let mut differ = Vec::new();
    for (setup, change) in cases {
        let ours = exec_after_on(&mut con, &mut other, setup, &[change]);
        let theirs = exec_after_on(&mut ref_con, &mut ref_other, setup, &[change]);
        if ours != theirs {
            differ.push(format!(
                "{change:?}: EXEC ran: ours {ours}, redis-server {theirs}"
            ));
        }
    }
    assert!(differ.is_empty(), "{differ:#?}");
}

#[test]
fn watched_keys_that_expire_or_are_evicted_fail_exec() {
    let node = Node::start(&["--maxmemory-policy", "volatile-ttl"]);
    let con = &mut node.client();
    // Expired by the time of EXEC, though nobody looked at it.
    q::<()>(con, &["SET", "x", "1", "PX", "50"]);
    q::<()>(con, &["WATCH", "x"]);
    thread::sleep(Duration::from_millis(100));
    q::<()>(con, &["MULTI"]);
    q::<()>(con, &["PING"]);
    assert_eq!(q::<Value>(con, &["EXEC"]), Value::Nil);
    // Removed by the background expiry.
    q::<()>(con, &["SET", "x", "1", "PX", "200"]);
    q::<()>(con, &["WATCH", "x"]);
    wait_until(Duration::from_secs(5), "active expiry", || {
        q::<i64>(&mut node.client(), &["DBSIZE"]) == 0
    });
    q::<()>(con, &["MULTI"]);
    q::<()>(con, &["PING"]);
    assert_eq!(q::<Value>(con, &["EXEC"]), Value::Nil);
    // Already expired when watched: not there to change.
    q::<()>(con, &["SET", "x", "1", "PX", "1"]);
    thread::sleep(Duration::from_millis(10));
    q::<()>(con, &["WATCH", "x"]);
    q::<()>(con, &["MULTI"]);
    q::<()>(con, &["PING"]);
    assert!(matches!(q::<Value>(con, &["EXEC"]), Value::Array(_)));
    // Evicted: volatile-ttl can only evict the watched key.
    q::<()>(con, &["SET", "x", "1", "EX", "1000"]);
    q::<()>(con, &["WATCH", "x"]);
    let other = &mut node.client();
    q::<()>(other, &["CONFIG", "SET", "maxmemory", "1"]);
    assert!(err(other, &["SET", "y", "1"]).starts_with("OOM"));
    q::<()>(other, &["CONFIG", "SET", "maxmemory", "0"]);
    assert_eq!(q::<i64>(other, &["EXISTS", "x"]), 0);
    q::<()>(con, &["MULTI"]);
    q::<()>(con, &["PING"]);
    assert_eq!(q::<Value>(con, &["EXEC"]), Value::Nil);
}

#[test]
fn watch_state_is_cleared_by_exec_discard_and_unwatch() {
    let node = Node::start(&[]);
    // After EXEC, failed or not, nothing is watched any more.
    assert!(!exec_after(
        &node,
        &[&["SET", "x", "1"]],
        &[&["SET", "x", "2"]]
    ));
    let con = &mut node.client();
    for ending in ["EXEC", "DISCARD", "UNWATCH"] {
        q::<()>(con, &["WATCH", "x"]);
        q::<()>(con, &["SET", "x", "10"]);
        if ending == "UNWATCH" {
            q::<()>(con, &["UNWATCH"]);
        } else {
            q::<()>(con, &["MULTI"]);
            q::<Value>(con, &[ending]);
        }
        q::<()>(con, &["MULTI"]);
        q::<()>(con, &["INCR", "x"]);
        assert_eq!(q::<Vec<i64>>(con, &["EXEC"]), vec![11], "after {ending}");
    }
    assert_eq!(q::<String>(con, &["UNWATCH"]), "OK");
    // A watch left by a client that went away does not disturb writes.
    {
        let gone = &mut node.client();
        q::<()>(gone, &["WATCH", "x", "y"]);
    }
    q::<()>(con, &["SET", "x", "1"]);
    assert_eq!(q::<i64>(con, &["INCR", "x"]), 2);
}

#[test]
fn nil_exec_reply_in_resp3() {
    let node = Node::start(&[]);
    let mut watcher = node.raw();
    watcher.send(&[resp(&[b"HELLO", b"3"]), resp(&[b"WATCH", b"x"])].concat());
    // The HELLO map holds no simple string: +OK is WATCH's reply.
    let mut got = Vec::new();
    while !got.ends_with(b"+OK\r\n") {
        let byte = watcher.read_exact_len(1);
        assert!(!byte.is_empty(), "connection closed after {got:?}");
        got.extend(byte);
    }
    let _: () = node.client().set("x", 1).unwrap();
    let tx = [resp(&[b"MULTI"]), resp(&[b"PING"]), resp(&[b"EXEC"])].concat();
    let expected = "+OK\r\n+QUEUED\r\n_\r\n";
    assert_eq!(watcher.roundtrip(&tx, expected.as_bytes()), expected);
}

#[test]
fn watch_retry_loop_counts_exactly() {
    let node = Node::start(&[]);
    const WORKERS: usize = 4;
    const EACH: i64 = 100;
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let mut con = node.client();
            thread::spawn(move || {
                let mut attempts = 0;
                for _ in 0..EACH {
                    let _: () = redis::transaction(&mut con, &["counter"], |con, pipe| {
                        attempts += 1;
                        let n: Option<i64> = con.get("counter")?;
                        pipe.set("counter", n.unwrap_or(0) + 1).ignore().query(con)
                    })
                    .unwrap();
                }
                attempts
            })
        })
        .collect();
    let attempts: i64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    let con = &mut node.client();
    assert_eq!(q::<i64>(con, &["GET", "counter"]), WORKERS as i64 * EACH);
    // Concurrent increments conflicted, so some transactions ran again.
    assert!(attempts >= WORKERS as i64 * EACH);
}

/// A transaction over keys of two slots, against a reader of both: the
/// reader sees it whole or not at all (EXEC holds both slots throughout).
#[test]
fn exec_runs_with_no_command_in_between() {
    let node = Node::start(&[]);
    const STEPS: usize = 500;
    let mut writer = node.client();
    let reader = Sampler::start(&node, |con| {
        let (n, m): (Option<i64>, Option<i64>) =
            redis::cmd("MGET").arg("n").arg("m").query(con).unwrap();
        (n.unwrap_or(0), m.unwrap_or(0))
    });
    for _ in 0..20 {
        let mut pipe = redis::pipe();
        pipe.atomic();
        for _ in 0..STEPS {
            pipe.incr("n", 1).ignore();
            pipe.incr("m", 1).ignore();
        }
        let () = pipe.query(&mut writer).unwrap();
    }
    let seen = reader.stop();
    assert!(!seen.is_empty());
    for (n, m) in seen {
        assert_eq!(n % STEPS as i64, 0, "saw a transaction half done: {n}");
        assert_eq!(n, m, "saw one slot's half of a transaction");
    }
}

#[test]
fn queued_commands_keep_their_arguments() {
    let node = Node::start(&[]);
    let mut raw = node.raw();
    // Pipelined in one write: the queued copies must outlive the read buffer.
    let big = vec![b'v'; 100_000];
    let mut sent = resp(&[b"MULTI"]);
    for i in 0..20 {
        sent.extend(resp(&[b"SET", format!("k{i}").as_bytes(), &big]));
    }
    sent.extend(resp(&[b"EXEC"]));
    let expected = format!(
        "+OK\r\n{}*20\r\n{}",
        "+QUEUED\r\n".repeat(20),
        "+OK\r\n".repeat(20)
    );
    assert_eq!(raw.roundtrip(&sent, expected.as_bytes()), expected);
    let con = &mut node.client();
    let v: Vec<u8> = con.get("k19").unwrap();
    assert_eq!(v, big);
}
