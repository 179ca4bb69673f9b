//! Several clients pipelining on one hot key, mixed with commands that lock
//! several slots, walk the whole keyspace, run alone (EXEC, scripts) or
//! evict: a pipelined batch keeps its hot slot's lock from one command to
//! the next, and none of this may deadlock or lose an increment.

use std::thread;
use std::time::{Duration, Instant};

use slotcache_tests::{q, Node};

const CLIENTS: usize = 4;
const ROUNDS: usize = 150;

#[test]
fn pipelines_on_one_hot_key_mixed_with_everything_else() {
    // Keys with a TTL fill the memory (4800 of 600 bytes), so writes evict
    // (only those).
    let node = Node::start(&["--maxmemory", "3mb", "--maxmemory-policy", "volatile-lru"]);
    let started = Instant::now();
    let workers: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let mut con = node.client();
            thread::spawn(move || {
                let mut increments = 0;
                for r in 0..ROUNDS {
                    let mut pipe = redis::pipe();
                    for i in 0..8 {
                        pipe.cmd("INCR").arg("hot").ignore();
                        pipe.cmd("GET").arg("hot").ignore();
                        pipe.cmd("SET")
                            .arg(format!("fill:{c}:{r}:{i}"))
                            .arg(vec![b'x'; 600])
                            .arg("EX")
                            .arg(600)
                            .ignore();
                    }
                    increments += 8;
                    // "hot" as KEYS's pattern names the hot slot: the batch
                    // keeps that lock for a command that then walks them all.
                    pipe.cmd("KEYS").arg("hot").ignore();
                    pipe.cmd("MSET")
                        .arg("hot:other")
                        .arg(1)
                        .arg("x")
                        .arg(2)
                        .ignore();
                    pipe.cmd("EXISTS").arg("hot").arg("x").ignore();
                    pipe.cmd("DBSIZE").ignore();
                    pipe.cmd("RANDOMKEY").ignore();
                    pipe.cmd("EVAL")
                        .arg("return redis.call('INCR', KEYS[1])")
                        .arg(1)
                        .arg("hot")
                        .ignore();
                    increments += 1;
                    pipe.cmd("INCR").arg("hot").ignore();
                    increments += 1;
                    pipe.query::<()>(&mut con).unwrap();
                    let mut tx = redis::pipe();
                    tx.atomic()
                        .cmd("INCR")
                        .arg("hot")
                        .ignore()
                        .cmd("DBSIZE")
                        .ignore();
                    increments += 1;
                    tx.query::<()>(&mut con).unwrap();
                }
                increments
            })
        })
        .collect();
    while !workers.iter().all(|w| w.is_finished()) {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "clients stuck: a lock is never let go"
        );
        thread::sleep(Duration::from_millis(50));
    }
    let total: i64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    let mut con = node.client();
    assert_eq!(q::<i64>(&mut con, &["GET", "hot"]), total);
    let evicted: String = q(&mut con, &["INFO", "stats"]);
    assert!(
        evicted.contains("evicted_keys:") && !evicted.contains("evicted_keys:0\r"),
        "the memory limit was reached: {evicted}"
    );
}
