//! `maxmemory` and its eviction policies, as Redis applies them: the limit
//! holds under a write flood, each policy picks the keys it should, and
//! `noeviction` (or nothing evictable) refuses writes with -OOM.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use slotcache_tests::{wait_until, Node};

const VALUE: [u8; 1000] = [b'v'; 1000];

fn start(policy: &str, maxmemory: &str) -> Node {
    Node::start(&[
        "--maxmemory",
        maxmemory,
        "--maxmemory-policy",
        policy,
        // More samples make the approximation closer to exact, so the
        // assertions below hold with a wide margin.
        "--maxmemory-samples",
        "10",
    ])
}

fn info_field(con: &mut redis::Connection, section: &str, field: &str) -> u64 {
    let info: String = redis::cmd("INFO").arg(section).query(con).unwrap();
    let prefix = format!("{field}:");
    info.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("INFO {section} has no {field}"))
        .trim()
        .parse()
        .unwrap()
}

/// Writes `keys` 1000-byte values in pipelines; `ttl` adds `EX ttl(i)`.
fn write(con: &mut redis::Connection, keys: &[String], ttl: Option<&dyn Fn(usize) -> u64>) {
    for (c, chunk) in keys.chunks(200).enumerate() {
        let mut pipe = redis::pipe();
        for (j, key) in chunk.iter().enumerate() {
            let cmd = pipe.cmd("SET").arg(key).arg(&VALUE[..]);
            if let Some(ttl) = ttl {
                cmd.arg("EX").arg(ttl(c * 200 + j));
            }
            cmd.ignore();
        }
        pipe.query::<()>(con).unwrap();
    }
}

/// Which of `keys` still exist (GET, pipelined).
fn alive(con: &mut redis::Connection, keys: &[String]) -> Vec<bool> {
    let mut out = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(500) {
        let mut pipe = redis::pipe();
        for key in chunk {
            pipe.cmd("GET").arg(key);
        }
        let values: Vec<Option<Vec<u8>>> = pipe.query(con).unwrap();
        out.extend(values.iter().map(Option::is_some));
    }
    out
}

fn survival(flags: &[bool]) -> f64 {
    flags.iter().filter(|&&a| a).count() as f64 / flags.len() as f64
}

fn names(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}:{i}")).collect()
}

#[test]
fn limit_holds_under_write_flood() {
    let node = start("allkeys-lru", "20mb");
    let mut probe = node.client();
    let max = info_field(&mut probe, "memory", "maxmemory");
    assert_eq!(max, 20 * 1024 * 1024);
    let finished = Arc::new(AtomicUsize::new(0));
    // Two writers, 40 MB in all: twice the limit.
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let mut con = node.client();
            let finished = Arc::clone(&finished);
            std::thread::spawn(move || {
                write(&mut con, &names(&format!("flood{w}"), 20_000), None);
                finished.fetch_add(1, Ordering::Relaxed);
            })
        })
        .collect();
    let mut peak = 0;
    let mut samples = 0;
    let bound = Instant::now() + Duration::from_secs(30);
    while finished.load(Ordering::Relaxed) < 2 && Instant::now() < bound {
        peak = peak.max(info_field(&mut probe, "memory", "used_memory"));
        samples += 1;
        std::thread::sleep(Duration::from_millis(2));
    }
    for w in writers {
        w.join().unwrap();
    }
    peak = peak.max(info_field(&mut probe, "memory", "used_memory"));
    let over = peak as f64 / max as f64 - 1.0;
    eprintln!(
        "flood: peak used_memory {peak} ({:+.2}% of maxmemory) over {samples} samples",
        over * 100.0
    );
    assert!(
        over <= 0.05,
        "used_memory peaked {:.2}% over maxmemory",
        over * 100.0
    );
    let evicted = info_field(&mut probe, "stats", "evicted_keys");
    assert!(evicted >= 20_000, "evicted_keys {evicted}");
    every_key_accounted_for(&mut probe, 40_000);
}

#[test]
fn allkeys_lfu_keeps_frequently_read_keys() {
    let node = start("allkeys-lfu", "10mb");
    let mut con = node.client();
    let hot = names("hot", 200);
    write(&mut con, &hot, None);
    // 100 reads lift the LFU counter from 5 to about 10 (lfu-log-factor 10).
    for _ in 0..100 {
        alive(&mut con, &hot);
    }
    let cold = names("cold", 25_000);
    write(&mut con, &cold, None);
    let hot_left = survival(&alive(&mut con, &hot));
    let cold_left = survival(&alive(&mut con, &cold));
    eprintln!("lfu: hot survived {hot_left:.3}, cold {cold_left:.3}");
    assert!(hot_left >= 0.95, "hot keys survived {hot_left}");
    assert!(cold_left <= 0.5, "cold keys survived {cold_left}");
}

#[test]
fn allkeys_lru_evicts_least_recently_used_first() {
    let node = start("allkeys-lru", "10mb");
    let mut con = node.client();
    // Fill to the limit, however many keys that is for this build.
    let mut old: Vec<String> = Vec::new();
    while info_field(&mut con, "stats", "evicted_keys") == 0 {
        let more = names(&format!("old{}", old.len()), 200);
        write(&mut con, &more, None);
        old.extend(more);
        assert!(old.len() < 100_000, "no eviction after {} keys", old.len());
    }
    // The LRU clock counts seconds, as Redis's: let the old keys age.
    std::thread::sleep(Duration::from_millis(2100));
    let (touched, untouched) = old.split_at(old.len() / 2);
    alive(&mut con, touched);
    // Room for them only if all the untouched keys and a few touched go.
    write(&mut con, &names("new", old.len() * 11 / 20), None);
    assert!(info_field(&mut con, "stats", "evicted_keys") as usize > old.len() / 2);
    let touched_left = survival(&alive(&mut con, touched));
    let untouched_left = survival(&alive(&mut con, untouched));
    eprintln!("lru: touched survived {touched_left:.3}, untouched {untouched_left:.3}");
    assert!(touched_left >= 0.6, "touched keys survived {touched_left}");
    assert!(
        untouched_left <= touched_left / 4.0,
        "untouched {untouched_left} vs touched {touched_left}"
    );
}

#[test]
fn volatile_policies_evict_only_keys_with_a_ttl() {
    for policy in [
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
    ] {
        // Room for about half the volatile keys beyond the node's own
        // baseline (~3 MB), so eviction is deep but survivors are not just
        // the last writes.
        const VOLATILE: u64 = 12_000;
        let node = start(policy, "10mb");
        let mut con = node.client();
        let persistent = names("keep", 1_000);
        write(&mut con, &persistent, None);
        let volatile = names("ttl", VOLATILE as usize);
        // TTLs shuffled over the writes (7919 is prime to VOLATILE), so
        // that which keys survive says something only under volatile-ttl.
        let rank = |i: usize| (i as u64 * 7919) % VOLATILE;
        write(&mut con, &volatile, Some(&|i| 10_000 + rank(i)));
        let evicted = info_field(&mut con, "stats", "evicted_keys");
        assert!(evicted > 1_000, "{policy}: evicted_keys {evicted}");
        assert_eq!(
            survival(&alive(&mut con, &persistent)),
            1.0,
            "{policy} evicted a key without a TTL"
        );
        if policy == "volatile-ttl" {
            let left = alive(&mut con, &volatile);
            let half = |long: bool| {
                let keys: Vec<bool> = (0..left.len())
                    .filter(|&i| (rank(i) >= VOLATILE / 2) == long)
                    .map(|i| left[i])
                    .collect();
                survival(&keys)
            };
            let (long, short) = (half(true), half(false));
            eprintln!("volatile-ttl: long TTLs survived {long:.3}, short TTLs {short:.3}");
            assert!(long > short * 4.0, "long TTLs {long} vs short TTLs {short}");
        }
    }
}

#[test]
fn oom_when_nothing_can_be_evicted() {
    // noeviction never evicts; volatile-lru has nothing to evict without TTLs.
    for policy in ["noeviction", "volatile-lru"] {
        let node = start(policy, "4mb");
        let mut con = node.client();
        let mut refused = None;
        for i in 0..20_000 {
            let r: redis::RedisResult<()> = redis::cmd("SET")
                .arg(format!("k:{i}"))
                .arg(&VALUE[..])
                .query(&mut con);
            if let Err(e) = r {
                refused = Some((i, e));
                break;
            }
        }
        let (written, err) = refused.unwrap_or_else(|| panic!("{policy}: writes never refused"));
        assert_eq!(err.code(), Some("OOM"), "{policy}: {err:?}");
        assert!(
            err.to_string()
                .contains("command not allowed when used memory > 'maxmemory'."),
            "{err}"
        );
        // Reads still work and nothing was evicted.
        let first: Option<Vec<u8>> = redis::cmd("GET").arg("k:0").query(&mut con).unwrap();
        assert_eq!(first.as_deref(), Some(&VALUE[..]));
        assert_eq!(info_field(&mut con, "stats", "evicted_keys"), 0);
        let dbsize: u64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
        assert_eq!(dbsize, written as u64);
        // Lifting the limit lets writes through again.
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg("maxmemory")
            .arg("0")
            .query(&mut con)
            .unwrap();
        let _: () = redis::cmd("SET")
            .arg("after")
            .arg("1")
            .query(&mut con)
            .unwrap();
    }
}

/// FLUSHALL frees its keys on a background thread; until it is done that
/// memory still counts. A write under a limit meanwhile is not refused for
/// it (as Redis's eviction waits for its lazyfree jobs), and the memory
/// does come down.
#[test]
fn writes_right_after_flushall_are_not_refused_for_memory_being_freed() {
    let node = start("allkeys-lru", "0");
    let mut con = node.client();
    let baseline = info_field(&mut con, "memory", "used_memory");
    for chunk in 0..60 {
        let mut pipe = redis::pipe();
        for i in 0..5_000 {
            pipe.cmd("SET")
                .arg(format!("k:{chunk}:{i}"))
                .arg(i)
                .ignore();
        }
        pipe.query::<()>(&mut con).unwrap();
    }
    let limit = baseline + 4 * 1024 * 1024;
    assert!(info_field(&mut con, "memory", "used_memory") > limit + 8 * 1024 * 1024);
    let mut pipe = redis::pipe();
    pipe.cmd("FLUSHALL")
        .cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg(limit)
        .cmd("SET")
        .arg("after")
        .arg("flush");
    let replies: Vec<redis::Value> = pipe.query(&mut con).unwrap();
    assert_eq!(replies[2], redis::Value::Okay, "{replies:?}");
    wait_until(
        Duration::from_secs(10),
        "the flushed keys' memory freed",
        || info_field(&mut con, "memory", "used_memory") <= limit,
    );
}

/// used_memory is what the node holds: it grows by what many clients store
/// and comes back down when the keys go, freed on other threads (big values
/// and FLUSHALL are freed off-thread, eviction runs on its own thread).
#[test]
fn used_memory_follows_what_is_held() {
    let node = start("allkeys-lru", "0");
    let mut con = node.client();
    let baseline = info_field(&mut con, "memory", "used_memory");
    let writers: Vec<_> = (0..8)
        .map(|t| {
            let mut con = node.client();
            std::thread::spawn(move || write(&mut con, &names(&format!("t{t}:"), 5_000), None))
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let mut pipe = redis::pipe();
    for i in 0..100_000 {
        pipe.cmd("HSET").arg("big").arg(i).arg(i).ignore();
    }
    pipe.query::<()>(&mut con).unwrap();
    let loaded = info_field(&mut con, "memory", "used_memory") - baseline;
    // 40,000 values of 1000 bytes (1024 as allocated), their keys and
    // entries, and a 100k-field hash.
    assert!(
        (42_000_000..60_000_000).contains(&loaded),
        "used_memory grew by {loaded}"
    );
    let _: () = redis::cmd("DEL").arg("big").query(&mut con).unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg(baseline + 20_000_000)
        .query(&mut con)
        .unwrap();
    wait_until(Duration::from_secs(5), "eviction down to the limit", || {
        info_field(&mut con, "memory", "used_memory") <= baseline + 20_000_000
    });
    let _: () = redis::cmd("FLUSHALL").query(&mut con).unwrap();
    wait_until(Duration::from_secs(5), "the keys' memory freed", || {
        let used = info_field(&mut con, "memory", "used_memory");
        // Not below where it started either: that would be memory freed
        // by a thread whose allocations were never counted.
        (baseline - baseline / 4..baseline + 2_000_000).contains(&used)
    });
}

#[test]
fn lowering_maxmemory_evicts_down_to_it() {
    let node = start("allkeys-lru", "0");
    let mut con = node.client();
    write(&mut con, &names("k", 20_000), None);
    let before = info_field(&mut con, "memory", "used_memory");
    let limit = 8 * 1024 * 1024;
    assert!(before > limit + 8 * 1024 * 1024, "used_memory {before}");
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg("8mb")
        .query(&mut con)
        .unwrap();
    // No write follows: the background evictor alone must get there.
    wait_until(
        Duration::from_secs(5),
        "used_memory under the new limit",
        || info_field(&mut con, "memory", "used_memory") <= limit,
    );
    assert!(info_field(&mut con, "stats", "evicted_keys") > 5_000);
    every_key_accounted_for(&mut con, 20_000);
}

/// A one-pass scan through a cache-aside client: GET each key, and SET it
/// on the miss.
fn scan(con: &mut redis::Connection, keys: &[String]) {
    for chunk in keys.chunks(200) {
        let mut pipe = redis::pipe();
        for key in chunk {
            pipe.cmd("GET").arg(key).ignore();
            pipe.cmd("SET").arg(key).arg(&VALUE[..]).ignore();
        }
        pipe.query::<()>(con).unwrap();
    }
}

/// A set read often, then a scan of 25 MB through a 10 MB cache: what is
/// left of the set under `policy` (set by CONFIG SET after start).
fn hot_left_after_scan(policy: &str) -> f64 {
    let node = start("allkeys-lru", "10mb");
    let mut con = node.client();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory-policy")
        .arg(policy)
        .query(&mut con)
        .unwrap();
    let set: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxmemory-policy")
        .query(&mut con)
        .unwrap();
    assert_eq!(set, ["maxmemory-policy", policy]);
    let hot = names("hot", 200);
    write(&mut con, &hot, None);
    for _ in 0..20 {
        alive(&mut con, &hot);
    }
    // The LRU clock counts seconds: the set is now the least recently used.
    std::thread::sleep(Duration::from_millis(1100));
    let cold = names("scan", 25_000);
    scan(&mut con, &cold);
    let hot_left = survival(&alive(&mut con, &hot));
    let cold_left = survival(&alive(&mut con, &cold));
    eprintln!("{policy}: hot survived {hot_left:.3}, scanned keys {cold_left:.3}");
    assert!(cold_left <= 0.5, "scanned keys survived {cold_left}");
    every_key_accounted_for(&mut con, 25_200);
    hot_left
}

#[test]
fn allkeys_lfu_lru_keeps_a_frequently_read_set_through_a_scan() {
    let own = hot_left_after_scan("allkeys-lfu-lru");
    let lru = hot_left_after_scan("allkeys-lru");
    assert!(own >= 0.95, "allkeys-lfu-lru kept {own} of the set");
    assert!(lru <= 0.5, "allkeys-lru kept {lru} of the set");
}

#[test]
fn allkeys_lfu_lru_evicts_the_longest_idle_of_keys_read_alike() {
    let node = start("allkeys-lfu-lru", "10mb");
    let mut con = node.client();
    let set: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxmemory-policy")
        .query(&mut con)
        .unwrap();
    assert_eq!(set, ["maxmemory-policy", "allkeys-lfu-lru"]);
    // 11 MB of keys never read, through a 10 MB limit: under allkeys-lfu
    // they tie and go at random; here the oldest go first.
    let old = names("old", 6_000);
    write(&mut con, &old, None);
    std::thread::sleep(Duration::from_millis(200));
    let new = names("new", 5_000);
    write(&mut con, &new, None);
    assert!(info_field(&mut con, "stats", "evicted_keys") > 2_000);
    let old_left = survival(&alive(&mut con, &old));
    let new_left = survival(&alive(&mut con, &new));
    eprintln!("lfu-lru: old survived {old_left:.3}, new {new_left:.3}");
    assert!(new_left >= 0.9, "new keys survived {new_left}");
    assert!(old_left <= 0.6, "old keys survived {old_left}");
    // An LFU policy: OBJECT FREQ answers (the reads above counted once).
    let freq: i64 = redis::cmd("OBJECT")
        .arg("FREQ")
        .arg(new.last().unwrap())
        .query(&mut con)
        .unwrap();
    assert_eq!(freq, 6);
    every_key_accounted_for(&mut con, 11_000);
}

/// Each key written is either still there or counted evicted, once the
/// background evictor (which may still be finishing a pass) is done.
fn every_key_accounted_for(con: &mut redis::Connection, written: u64) {
    wait_until(
        Duration::from_secs(5),
        "dbsize + evicted_keys = written",
        || {
            let dbsize: u64 = redis::cmd("DBSIZE").query(con).unwrap();
            dbsize + info_field(con, "stats", "evicted_keys") == written
        },
    );
}
