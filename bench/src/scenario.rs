//! The redis-benchmark scenarios `compare` runs, as data: add a row to
//! `all()` to put a workload in the same table.

/// Random keys `key:%012d` below this (`redis-benchmark -r`).
pub const KEYSPACE: u64 = 1_000_000;
/// Concurrent connections (`redis-benchmark -c`).
pub const CLIENTS: u32 = 50;
/// Keys of the eviction scenarios: some 25 times what fits in
/// `EVICTION_MAXMEMORY` at 64-byte values (about 400k keys on both servers).
pub const EVICTION_KEYSPACE: u64 = 10_000_000;
pub const EVICTION_MAXMEMORY: &str = "64mb";

/// A memory limit both servers run a scenario under (CONFIG SET before
/// each run; scenarios without one run with no limit).
pub struct Limit {
    pub maxmemory: &'static str,
    pub slotcache_policy: &'static str,
    pub redis_policy: &'static str,
}

pub struct Scenario {
    /// Table label and `--scenarios` filter key: `<test>-P<pipeline>-<size>`
    /// (`evict-<test>-P<pipeline>-<size>-<policy>` under a memory limit).
    pub name: String,
    /// redis-benchmark arguments selecting exactly one test: `-t get`, or a
    /// literal command such as `LPUSH mylist __rand_int__`.
    pub workload: Vec<String>,
    /// `-P`
    pub pipeline: u32,
    /// `-d`, and the value size of the pre-filled keys.
    pub value_size: usize,
    /// `-r`: random keys below this.
    pub keyspace: u64,
    /// Eviction pressure: the keyspace is far larger than the limit.
    pub limit: Option<Limit>,
    /// `-n` at full scale; a few seconds per run on a small machine.
    pub requests: u64,
    /// Whether every key of the keyspace holds a `value_size` string before
    /// the run (GETs hit, SETs overwrite); otherwise it starts empty.
    pub filled: bool,
}

impl Scenario {
    /// What the keyspace must hold before the run: scenarios sharing it run
    /// back to back after one fill.
    pub fn prep(&self) -> Option<usize> {
        self.filled.then_some(self.value_size)
    }

    /// Whether a `--scenarios` pattern selects this scenario: the whole
    /// name or a `-`-separated prefix of it (`get`, `get-P16`).
    pub fn matches(&self, pattern: &str) -> bool {
        self.name
            .strip_prefix(pattern)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('-'))
    }
}

/// A scenario of 64-byte values over `KEYSPACE`, with no memory limit,
/// starting empty: what most are; the others change a field or two.
fn scenario(name: String, workload: Vec<String>, pipeline: u32, requests: u64) -> Scenario {
    Scenario {
        name,
        workload,
        pipeline,
        value_size: 64,
        requests,
        keyspace: KEYSPACE,
        limit: None,
        filled: false,
    }
}

/// redis-benchmark's own test `test` (`-t test`).
fn test(test: &str) -> Vec<String> {
    vec!["-t".into(), test.into()]
}

pub fn all() -> Vec<Scenario> {
    let mut list = Vec::new();
    for t in ["get", "set"] {
        for (pipeline, requests) in [(1, 200_000), (16, 2_000_000)] {
            for (size, label) in [(64, "64"), (1024, "1k")] {
                list.push(Scenario {
                    value_size: size,
                    filled: true,
                    ..scenario(
                        format!("{t}-P{pipeline}-{label}"),
                        test(t),
                        pipeline,
                        requests,
                    )
                });
            }
        }
    }
    // redis-benchmark's list, set, sorted-set and hash tests: every client
    // on one key (`mylist`, `myset`, `myzset`, `myhash`); pops follow the
    // pushes that fill their key. lrange_* first push the elements they
    // read (an extra CSV row).
    for (t, requests_p1, requests_p16) in [
        ("lpush", 200_000, 2_000_000),
        ("rpush", 200_000, 2_000_000),
        ("lpop", 200_000, 2_000_000),
        ("rpop", 200_000, 2_000_000),
        ("sadd", 200_000, 2_000_000),
        ("spop", 200_000, 2_000_000),
        ("zadd", 200_000, 2_000_000),
        ("zpopmin", 200_000, 2_000_000),
        ("hset", 200_000, 2_000_000),
        ("lrange_100", 100_000, 200_000),
        ("lrange_600", 30_000, 60_000),
    ] {
        for (pipeline, requests) in [(1, requests_p1), (16, requests_p16)] {
            let name = format!("{t}-P{pipeline}-64");
            list.push(scenario(name, test(t), pipeline, requests));
        }
    }
    // GET and SET under eviction pressure: both servers at the same
    // maxmemory, Redis under allkeys-lru, slotcache under allkeys-lru
    // (`-lru`) and under its own allkeys-lfu-lru (`-own`). The SETs run
    // first, the long -P 16 run before -P 1, so memory is full (and every
    // SET evicts) early in the first run and throughout the others.
    for t in ["set", "get"] {
        for (pipeline, requests) in [(16, 2_000_000), (1, 200_000)] {
            for (label, slotcache_policy) in [("lru", "allkeys-lru"), ("own", "allkeys-lfu-lru")] {
                let name = format!("evict-{t}-P{pipeline}-64-{label}");
                list.push(Scenario {
                    keyspace: EVICTION_KEYSPACE,
                    limit: Some(Limit {
                        maxmemory: EVICTION_MAXMEMORY,
                        slotcache_policy,
                        redis_policy: "allkeys-lru",
                    }),
                    ..scenario(name, test(t), pipeline, requests)
                });
            }
        }
    }
    // A rate limiter two ways: as a Lua script called by SHA1 (loaded on
    // each server first, see `setup`), and as a MULTI/EXEC transaction.
    let sha = sha1_smol::Sha1::from(RATE_LIMITER).digest().to_string();
    for (pipeline, requests) in [(1, 200_000), (16, 1_000_000)] {
        list.push(scenario(
            format!("evalsha-P{pipeline}-64"),
            words(&["EVALSHA", &sha, "1", "rate:__rand_int__", "100", "60"]),
            pipeline,
            requests,
        ));
        list.push(scenario(
            format!("multi_exec-P{pipeline}-64"),
            words(&[
                "MULTI",
                "|",
                "INCR",
                "rate:__rand_int__",
                "|",
                "EXPIRE",
                "rate:__rand_int__",
                "60",
                "|",
                "EXEC",
            ]),
            pipeline,
            requests,
        ));
    }
    list
}

/// A fixed-window rate limiter: allows ARGV[1] calls per ARGV[2] seconds.
pub const RATE_LIMITER: &str = "local n = redis.call('INCR', KEYS[1]) \
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end \
if n > tonumber(ARGV[1]) then return 0 end \
return 1";

/// Scripts workloads call with EVALSHA.
const SCRIPTS: &[&str] = &[RATE_LIMITER];

fn words(w: &[&str]) -> Vec<String> {
    w.iter().map(|s| s.to_string()).collect()
}

impl Scenario {
    /// Commands each server runs before a run: SCRIPT LOAD for the script
    /// an EVALSHA workload names (redis-benchmark sends only the EVALSHA).
    pub fn setup(&self) -> Vec<Vec<String>> {
        let [command, sha, ..] = self.workload.as_slice() else {
            return Vec::new();
        };
        if command != "EVALSHA" {
            return Vec::new();
        }
        SCRIPTS
            .iter()
            .filter(|s| sha1_smol::Sha1::from(s).digest().to_string() == *sha)
            .map(|s| words(&["SCRIPT", "LOAD", s]))
            .collect()
    }

    /// A MULTI/EXEC workload's commands (`|` between them), which
    /// redis-benchmark cannot send; None for redis-benchmark workloads.
    pub fn transaction(&self) -> Option<Vec<Vec<String>>> {
        if self.workload.first().is_none_or(|w| w != "MULTI") {
            return None;
        }
        let commands = self.workload.split(|w| w == "|").map(<[String]>::to_vec);
        Some(commands.collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_and_transaction_workloads() {
        let all = all();
        let find = |name: &str| all.iter().find(|s| s.name == name).unwrap();
        let evalsha = find("evalsha-P1-64");
        assert_eq!(evalsha.setup(), [words(&["SCRIPT", "LOAD", RATE_LIMITER])]);
        assert!(evalsha.transaction().is_none());
        let tx = find("multi_exec-P16-64").transaction().unwrap();
        assert_eq!(tx.first().unwrap(), &words(&["MULTI"]));
        assert_eq!(tx.last().unwrap(), &words(&["EXEC"]));
        assert_eq!(tx.len(), 4);
        assert!(find("get-P1-64").setup().is_empty());
    }
}
