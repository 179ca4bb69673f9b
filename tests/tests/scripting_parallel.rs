//! Scripts declaring keys run at the same time as others on other slots
//! (the fast path), and fall back to running alone, as Redis runs every
//! script, when they reach further before writing or run long.

mod reference;

use std::thread;
use std::time::Duration;

use redis::Value;
use reference::Reference;
use slotcache_tests::{err, q, wait_until, Node, Sampler};

fn eval<T: redis::FromRedisValue>(
    con: &mut redis::Connection,
    script: &str,
    keys: &[&str],
    args: &[&str],
) -> redis::RedisResult<T> {
    let mut c = redis::cmd("EVAL");
    c.arg(script).arg(keys.len()).arg(keys).arg(args);
    c.query(con)
}

fn error_line(e: redis::RedisError) -> String {
    format!("{} {}", e.code().unwrap_or("?"), e.detail().unwrap_or(""))
}

#[test]
fn scripts_on_other_keys_never_see_each_other_half_done() {
    let node = Node::start(&[]);
    // Each script checks its own pair is whole, then bumps it with work in
    // between; a reader of both pairs never sees one bumped half.
    let script = "local a = tonumber(redis.call('GET', KEYS[1]) or '0') \
                  local b = tonumber(redis.call('GET', KEYS[2]) or '0') \
                  if a ~= b then return redis.error_reply('half done ' .. a .. ' ' .. b) end \
                  redis.call('INCR', KEYS[1]) \
                  local x = 0 for i = 1, 2000 do x = x + i end \
                  redis.call('INCR', KEYS[2]) \
                  return a + 1";
    let reader = Sampler::start(&node, |con| {
        q::<Vec<Option<i64>>>(con, &["MGET", "{a}1", "{a}2", "{b}1", "{b}2"])
    });
    let writers: Vec<_> = ["a", "b", "a", "b"]
        .into_iter()
        .map(|tag| {
            let mut con = node.client();
            let script = script.to_string();
            thread::spawn(move || {
                let (k1, k2) = (format!("{{{tag}}}1"), format!("{{{tag}}}2"));
                for _ in 0..200 {
                    eval::<i64>(&mut con, &script, &[&k1, &k2], &[]).unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let seen = reader.stop();
    assert!(!seen.is_empty());
    for s in seen {
        assert_eq!(s[0], s[1], "saw a script half done: {s:?}");
        assert_eq!(s[2], s[3], "saw a script half done: {s:?}");
    }
    let con = &mut node.client();
    let totals = q::<Vec<i64>>(con, &["MGET", "{a}1", "{a}2", "{b}1", "{b}2"]);
    assert_eq!(totals, [400, 400, 400, 400]);
}

#[test]
fn reaching_further_before_writing_runs_as_redis_does() {
    let node = Node::start(&[]);
    let reference = Reference::start();
    let scripts: &[&str] = &[
        // A key it did not declare, then a write: the write happens once.
        "local v = redis.call('GET', 'other') \
         return {v or 'none', redis.call('INCR', KEYS[1])}",
        // A command walking the keyspace.
        "local n = redis.call('DBSIZE') return {n, redis.call('INCR', KEYS[1])}",
        // Caught with pcall: the run is still started over, and the call
        // after it on the same line does not write twice.
        "pcall(redis.call, 'GET', 'other') return redis.call('INCR', KEYS[1])",
        "local ok = pcall(redis.call, 'EXISTS', 'other') redis.call('INCR', KEYS[1]) \
         return redis.call('INCR', KEYS[1])",
    ];
    let ours = &mut node.client();
    let theirs = &mut reference.client();
    for con in [&mut *ours, &mut *theirs] {
        q::<()>(con, &["SET", "other", "o"]);
    }
    for script in scripts {
        let args = ["EVAL", script, "1", "k"].map(String::from);
        for _ in 0..2 {
            let (a, b) = reference::both(ours, theirs, &args, false);
            assert_eq!(a, b, "{script}");
        }
    }
    assert_eq!(
        q::<i64>(ours, &["GET", "k"]),
        q::<i64>(theirs, &["GET", "k"])
    );
}

#[test]
fn reaching_a_free_undeclared_key_after_writing() {
    let node = Node::start(&[]);
    let con = &mut node.client();
    let got: String = eval(
        con,
        "redis.call('SET', KEYS[1], 'x') redis.call('SET', 'undeclared', 'y') \
         return redis.call('GET', 'undeclared')",
        &["k"],
        &[],
    )
    .unwrap();
    assert_eq!(got, "y");
    assert_eq!(q::<String>(con, &["GET", "k"]), "x");
    // A command that may walk the keyspace cannot run once it wrote (where
    // slotcache differs from Redis).
    let e = eval::<Value>(
        con,
        "redis.call('SET', KEYS[1], 'z') return redis.call('DBSIZE')",
        &["k"],
        &[],
    )
    .map_err(error_line)
    .unwrap_err();
    assert!(e.contains("declare every key in KEYS"), "{e}");
    assert_eq!(q::<String>(con, &["GET", "k"]), "z");
}

#[test]
fn an_undeclared_key_in_use_after_writing_waits_in_slot_order_only() {
    let node = Node::start(&[]);
    let mut sub = node.client();
    let mut pubsub = sub.as_pubsub();
    pubsub.subscribe("started").unwrap();
    pubsub
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // Holds the slot of `busy` (13814) for 700 ms, having written.
    let mut con = node.client();
    let holder = thread::spawn(move || {
        eval::<String>(
            &mut con,
            "redis.call('SET', KEYS[1], '1') redis.call('PUBLISH', 'started', '1') \
             local t = redis.call('TIME') \
             local until_us = t[1] * 1000000 + t[2] + 700000 \
             repeat t = redis.call('TIME') until t[1] * 1000000 + t[2] >= until_us \
             return 'done'",
            &["busy"],
            &[],
        )
    });
    pubsub.get_message().expect("the holding script started");
    let write_busy = "redis.call('SET', KEYS[1], 'x') return redis.call('SET', 'busy', '2')";
    // Holding `x` (slot 16287), waiting for an earlier slot could deadlock:
    // the call fails (where slotcache differs from Redis).
    let con = &mut node.client();
    let e = eval::<Value>(con, write_busy, &["x"], &[])
        .map_err(error_line)
        .unwrap_err();
    assert!(
        e.starts_with("ERR Script attempted to access a key not declared in KEYS"),
        "{e}"
    );
    assert_eq!(q::<String>(con, &["GET", "x"]), "x");
    // Holding `b` (slot 3300), it waits for the holder to finish.
    let ok: String = eval(con, write_busy, &["b"], &[]).unwrap();
    assert_eq!(ok, "OK");
    assert_eq!(holder.join().unwrap().unwrap(), "done");
    assert_eq!(q::<String>(con, &["GET", "b"]), "x");
    assert_eq!(q::<String>(con, &["GET", "busy"]), "2");
}

#[test]
fn a_run_started_over_draws_the_same_random_numbers() {
    let fresh = Node::start(&[]);
    let expected: Vec<String> = eval(
        &mut fresh.client(),
        "return {tostring(math.random()), tostring(math.random())}",
        &[],
        &[],
    )
    .unwrap();
    let node = Node::start(&[]);
    let con = &mut node.client();
    // The undeclared key makes it start over, having drawn once.
    let first: Vec<String> = eval(
        con,
        "local r = tostring(math.random()) redis.call('GET', 'other') return {r}",
        &["k"],
        &[],
    )
    .unwrap();
    let second: String = eval(con, "return tostring(math.random())", &["k"], &[]).unwrap();
    assert_eq!([first[0].clone(), second], expected[..]);
}

#[test]
fn a_long_script_that_did_not_write_gets_busy_and_script_kill() {
    let node = Node::start(&["--busy-reply-threshold", "100"]);
    let mut con = node.client();
    let script = thread::spawn(move || {
        eval::<Value>(
            &mut con,
            "redis.call('GET', KEYS[1]) local i = 0 while true do i = i + 1 end",
            &["k"],
            &[],
        )
        .map_err(error_line)
    });
    let con = &mut node.client();
    wait_until(
        Duration::from_secs(10),
        "the script to be reported busy",
        || match redis::cmd("GET")
            .arg("elsewhere")
            .query::<Option<String>>(con)
        {
            Ok(_) => false,
            Err(e) => {
                assert!(error_line(e).starts_with("BUSY "));
                true
            }
        },
    );
    assert_eq!(q::<String>(con, &["SCRIPT", "KILL"]), "OK");
    let e = script.join().unwrap().unwrap_err();
    assert!(
        e.starts_with("ERR Script killed by user with SCRIPT KILL... script: "),
        "{e}"
    );
    assert_eq!(q::<String>(con, &["PING"]), "PONG");
    assert_eq!(
        err(con, &["SCRIPT", "KILL"]),
        "NOTBUSY No scripts in execution right now."
    );
}

#[test]
fn script_flush_reaches_every_thread() {
    let node = Node::start(&[]);
    let mut cons: Vec<_> = (0..8).map(|_| node.client()).collect();
    let body = "return redis.call('INCR', KEYS[1])";
    let sha = q::<String>(&mut cons[0], &["SCRIPT", "LOAD", body]);
    let evalsha = |con: &mut redis::Connection| {
        redis::cmd("EVALSHA")
            .arg(&sha)
            .arg(1)
            .arg("n")
            .query::<i64>(con)
            .map_err(error_line)
    };
    // Concurrently, so that every thread compiles it.
    thread::scope(|s| {
        for con in cons.iter_mut() {
            s.spawn(|| {
                for _ in 0..50 {
                    evalsha(con).unwrap();
                }
            });
        }
    });
    assert_eq!(q::<i64>(&mut cons[0], &["GET", "n"]), 400);
    assert_eq!(q::<String>(&mut cons[0], &["SCRIPT", "FLUSH"]), "OK");
    for con in cons.iter_mut() {
        assert_eq!(
            evalsha(con).unwrap_err(),
            "NOSCRIPT No matching script. Please use EVAL."
        );
        assert_eq!(q::<Vec<i64>>(con, &["SCRIPT", "EXISTS", &sha]), [0]);
    }
    // EVAL keeps it again, for every connection.
    let via_eval: i64 = eval(&mut cons[1], body, &["n"], &[]).unwrap();
    assert_eq!(via_eval, 401);
    for con in cons.iter_mut() {
        evalsha(con).unwrap();
    }
    assert_eq!(q::<i64>(&mut cons[0], &["GET", "n"]), 409);
}
