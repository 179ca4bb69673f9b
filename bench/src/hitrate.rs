//! `hitrate`: how many hits a cache keeps in a given memory. A cache-aside
//! client (GET; on a miss SET a fixed-size value) replays the same seeded
//! request stream against redis-server and slotcache under each eviction
//! policy, every one at the same `maxmemory`, and prints the hit rates side
//! by side: counted by the client, and from INFO keyspace_hits/misses.
//!
//! Each stream is cut in five equal phases; the first warms the cache and
//! is not counted. Workloads: Zipf traffic of three skews; Zipf 0.99 with a
//! one-pass scan of fresh keys interleaved through phases 3 and 4; Zipf 0.99
//! whose hot set moves to other keys at every phase. Last, bounds no cache
//! can beat on the same requests (Belady's offline optimum).

use std::collections::{BinaryHeap, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use crate::client::Client;
use crate::procs::{Kind, Server};

const PHASES: u64 = 5;
/// Per-key footprint assumed for the default keyspace, beyond the value
/// (both servers hold a 100-byte value in about 210 bytes).
const KEY_OVERHEAD: u64 = 110;

#[derive(clap::Args)]
pub struct Args {
    /// GETs per run
    #[arg(long, default_value_t = 2_000_000)]
    ops: u64,
    /// maxmemory of every server (bytes, or with kb/mb/gb)
    #[arg(long, default_value = "32mb")]
    maxmemory: String,
    /// Distinct keys of the Zipf traffic [default: about ten times what fits]
    #[arg(long)]
    keyspace: Option<u64>,
    /// Bytes per value SET on a miss
    #[arg(long, default_value_t = 100)]
    value_size: usize,
    /// GETs per pipeline; the misses' SETs follow in one more
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// Seed of the request streams (the same for every server)
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Comma-separated workloads (default: all): zipf-0.9, zipf-0.99,
    /// zipf-1.2, scan, shift
    #[arg(long, value_delimiter = ',')]
    workloads: Vec<String>,
    /// Comma-separated `server:policy` targets (default: redis with
    /// allkeys-lru and allkeys-lfu, slotcache with every allkeys policy)
    #[arg(long, value_delimiter = ',')]
    targets: Vec<String>,
    /// slotcache binary [default: `slotcache` next to this executable]
    #[arg(long)]
    slotcache: Option<PathBuf>,
    /// redis-server binary to compare against
    #[arg(long, default_value = "redis-server")]
    redis_server: PathBuf,
}

#[derive(Clone, Copy)]
enum Shape {
    Zipf,
    /// Zipf with a one-pass scan of keys never seen otherwise.
    Scan,
    /// Zipf whose ranks map to other keys in every phase.
    Shift,
}

struct Workload {
    name: &'static str,
    alpha: f64,
    shape: Shape,
}

const WORKLOADS: [Workload; 5] = [
    Workload {
        name: "zipf-0.9",
        alpha: 0.9,
        shape: Shape::Zipf,
    },
    Workload {
        name: "zipf-0.99",
        alpha: 0.99,
        shape: Shape::Zipf,
    },
    Workload {
        name: "zipf-1.2",
        alpha: 1.2,
        shape: Shape::Zipf,
    },
    Workload {
        name: "scan",
        alpha: 0.99,
        shape: Shape::Scan,
    },
    Workload {
        name: "shift",
        alpha: 0.99,
        shape: Shape::Shift,
    },
];

const DEFAULT_TARGETS: [&str; 5] = [
    "redis:allkeys-lru",
    "redis:allkeys-lfu",
    "slotcache:allkeys-lru",
    "slotcache:allkeys-lfu",
    "slotcache:allkeys-lfu-lru",
];

/// What one run measured.
struct Outcome {
    client: f64,
    info: f64,
    keys: u64,
    /// INFO evicted_keys over the measured phases: 0 means the cache never
    /// filled (Zipf 1.2 asks for fewer distinct keys than fit in 32mb in 2M
    /// GETs), so the run counted first-read misses only.
    evicted: u64,
    used_memory: u64,
    secs: f64,
}

pub fn run(args: Args) -> Result<(), String> {
    let slotcache = crate::procs::slotcache_binary(args.slotcache.as_ref())?;
    let maxmemory = parse_bytes(&args.maxmemory)?;
    let keyspace = args
        .keyspace
        .unwrap_or(10 * maxmemory / (args.value_size as u64 + KEY_OVERHEAD));
    let workloads: Vec<&Workload> = if args.workloads.is_empty() {
        WORKLOADS.iter().collect()
    } else {
        args.workloads
            .iter()
            .map(|w| {
                WORKLOADS.iter().find(|k| k.name == w).ok_or_else(|| {
                    let names: Vec<&str> = WORKLOADS.iter().map(|k| k.name).collect();
                    format!("no workload '{w}'; known: {}", names.join(", "))
                })
            })
            .collect::<Result<_, _>>()?
    };
    let specs: Vec<&str> = if args.targets.is_empty() {
        DEFAULT_TARGETS.to_vec()
    } else {
        args.targets.iter().map(String::as_str).collect()
    };
    let targets = specs
        .into_iter()
        .map(target)
        .collect::<Result<Vec<_>, _>>()?;
    println!(
        "cache-aside hit rates: maxmemory {} ({maxmemory} B), {keyspace} keys, {}-byte values, \
         {} GETs per run (first fifth warms up), pipelines of {}, seed {}\n",
        args.maxmemory, args.value_size, args.ops, args.batch, args.seed
    );
    let mut results: Vec<Vec<Outcome>> = Vec::new();
    let mut bounds = Vec::new();
    for w in &workloads {
        let cdf = zipf_cdf(keyspace, w.alpha);
        let mut row = Vec::new();
        for (kind, policy) in &targets {
            let server = Server::start(*kind, &slotcache, &args.redis_server)?;
            let out = run_one(&args, &server, policy, maxmemory, w, keyspace, &cdf)?;
            eprintln!(
                "{:<10} {:<9} {:<17} hit rate {:.2}% (INFO {:.2}%), {} keys in {} B, {} evicted, {:.1}s",
                w.name,
                kind.name(),
                policy,
                out.client * 100.0,
                out.info * 100.0,
                out.keys,
                out.used_memory,
                out.evicted,
                out.secs
            );
            row.push(out);
        }
        bounds.push(bounds_row(&args, w, keyspace, &cdf, &row));
        results.push(row);
    }
    let mut header = vec!["workload".to_string()];
    header.extend(targets.iter().map(|(k, p)| format!("{} {p}", k.name())));
    let rates = workloads
        .iter()
        .zip(&results)
        .map(|(w, row)| {
            let mut cells = vec![w.name.to_string()];
            cells.extend(
                row.iter()
                    .map(|o| format!("{:.2}% ({:.2}%)", o.client * 100.0, o.info * 100.0)),
            );
            cells
        })
        .collect();
    println!("Hit rate, client-side (INFO keyspace_hits/misses):\n");
    println!("{}", markdown(&header, rates));
    let held = workloads
        .iter()
        .zip(&results)
        .map(|(w, row)| {
            let mut cells = vec![w.name.to_string()];
            cells.extend(row.iter().map(|o| {
                let mb = o.used_memory as f64 / (1 << 20) as f64;
                format!(
                    "{} ({mb:.1} MB, {} evicted, {:.1}s)",
                    o.keys, o.evicted, o.secs
                )
            }));
            cells
        })
        .collect();
    println!("Keys held at the end, DBSIZE (used_memory then; evicted_keys; run time):\n");
    println!("{}", markdown(&header, held));
    println!("Bounds no cache beats on the same requests (Belady's offline optimum):\n");
    let header = [
        "workload".to_string(),
        "every repeat hits".to_string(),
        "optimum holding the fewest keys a run held".to_string(),
    ];
    println!("{}", markdown(&header, bounds));
    Ok(())
}

/// A workload's row of bounds: the hit rate if every repeat hit, and the
/// optimum holding the fewest keys any of its runs held.
fn bounds_row(
    args: &Args,
    w: &Workload,
    keyspace: u64,
    cdf: &[f64],
    row: &[Outcome],
) -> Vec<String> {
    let mut stream = Stream::new(args.seed, w, keyspace, args.ops, cdf);
    let keys: Vec<u64> = (0..args.ops).map(|i| stream.key(i)).collect();
    let warmup = (args.ops / PHASES) as usize;
    let fewest = row.iter().map(|o| o.keys as usize).min().unwrap_or(0);
    let bound = |capacity| {
        let rate = optimum(&keys, args.batch, warmup, capacity);
        format!("{:.2}%", rate * 100.0)
    };
    let at_fewest = format!("{} at {fewest} keys", bound(fewest));
    vec![w.name.to_string(), bound(usize::MAX), at_fewest]
}

/// Belady's MIN on `keys`, requested `batch` at a time as the driver does
/// (a key missed in a pipeline is stored after it, so its repeats there
/// miss too): holding at most `capacity` keys, a missed key is stored only
/// if it is requested again sooner than some stored key, which it then
/// replaces. No cache of that many keys hits more. Counts requests from
/// `warmup` on.
fn optimum(keys: &[u64], batch: usize, warmup: usize, capacity: usize) -> f64 {
    const NEVER: usize = usize::MAX;
    let mut next = vec![NEVER; keys.len()];
    let mut seen: HashMap<u64, usize> = HashMap::new();
    for (i, &k) in keys.iter().enumerate().rev() {
        if let Some(j) = seen.insert(k, i) {
            next[i] = j;
        }
    }
    // Stored keys with the index of their next request; the heap holds
    // (next request, key) pairs, stale once the key is requested again.
    let mut stored: HashMap<u64, usize> = HashMap::new();
    let mut farthest: BinaryHeap<(usize, u64)> = BinaryHeap::new();
    let (mut gets, mut hits) = (0u64, 0u64);
    let mut loads: HashMap<u64, usize> = HashMap::new();
    for start in (0..keys.len()).step_by(batch.max(1)) {
        loads.clear();
        for i in start..(start + batch).min(keys.len()) {
            let k = keys[i];
            let hit = stored.contains_key(&k);
            if i >= warmup {
                gets += 1;
                hits += hit as u64;
            }
            if hit {
                stored.insert(k, next[i]);
                farthest.push((next[i], k));
            } else {
                loads.insert(k, next[i]);
            }
        }
        let mut loads: Vec<(usize, u64)> = loads.iter().map(|(&k, &n)| (n, k)).collect();
        loads.sort_unstable();
        for (next_use, k) in loads {
            if next_use == NEVER {
                break;
            }
            if stored.len() >= capacity {
                while let Some(&(at, key)) = farthest.peek() {
                    if stored.get(&key) == Some(&at) {
                        break;
                    }
                    farthest.pop();
                }
                match farthest.peek() {
                    Some(&(at, victim)) if at > next_use => {
                        farthest.pop();
                        stored.remove(&victim);
                    }
                    _ => break,
                }
            }
            stored.insert(k, next_use);
            farthest.push((next_use, k));
        }
    }
    hits as f64 / gets.max(1) as f64
}

fn target(spec: &str) -> Result<(Kind, String), String> {
    let (server, policy) = spec
        .split_once(':')
        .ok_or_else(|| format!("target '{spec}' is not server:policy"))?;
    let kind = match server {
        "redis" => Kind::Redis,
        "slotcache" => Kind::Slotcache,
        _ => return Err(format!("unknown server '{server}' (redis or slotcache)")),
    };
    Ok((kind, policy.to_string()))
}

fn run_one(
    args: &Args,
    server: &Server,
    policy: &str,
    maxmemory: u64,
    w: &Workload,
    keyspace: u64,
    cdf: &[f64],
) -> Result<Outcome, String> {
    let mut c = Client::connect(server.port)?;
    let limit = maxmemory.to_string();
    for (name, value) in [("maxmemory", limit.as_str()), ("maxmemory-policy", policy)] {
        c.call(&["CONFIG", "SET", name, value])?;
    }
    let mut stream = Stream::new(args.seed, w, keyspace, args.ops, cdf);
    let value = vec![b'v'; args.value_size];
    let warmup = args.ops / PHASES;
    let (mut gets, mut hits) = (0u64, 0u64);
    let mut measuring = false;
    let started = Instant::now();
    let mut keys: Vec<Vec<u8>> = Vec::with_capacity(args.batch);
    let mut i = 0;
    while i < args.ops {
        if !measuring && i >= warmup {
            c.call(&["CONFIG", "RESETSTAT"])?;
            measuring = true;
        }
        keys.clear();
        let n = (args.ops - i).min(args.batch as u64);
        keys.extend((i..i + n).map(|j| format!("key:{}", stream.key(j)).into_bytes()));
        i += n;
        let gets_cmds: Vec<Vec<&[u8]>> = keys.iter().map(|k| vec![&b"GET"[..], k]).collect();
        let replies = c.pipeline(&gets_cmds)?;
        // A key missed twice in one pipeline is loaded once, as a client
        // that shares its loads would.
        let mut missed = HashSet::new();
        let mut sets: Vec<Vec<&[u8]>> = Vec::new();
        for (key, reply) in keys.iter().zip(&replies) {
            let hit = reply.is_some();
            if measuring {
                gets += 1;
                hits += hit as u64;
            }
            if !hit && missed.insert(key) {
                sets.push(vec![&b"SET"[..], key, &value]);
            }
        }
        if let Some(bad) = c
            .pipeline(&sets)?
            .into_iter()
            .find(|r| r.as_deref() != Some(b"+OK"))
        {
            return Err(format!("SET replied {:?}", bad.map(String::from_utf8)));
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let stats = bulk(&mut c, &["INFO", "stats"])?;
    let (info_hits, info_misses, evicted) = (
        field(&stats, "keyspace_hits")?,
        field(&stats, "keyspace_misses")?,
        field(&stats, "evicted_keys")?,
    );
    let used_memory = field(&bulk(&mut c, &["INFO", "memory"])?, "used_memory")?;
    let dbsize = bulk(&mut c, &["DBSIZE"])?;
    let keys = dbsize
        .strip_prefix(':')
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("DBSIZE replied {dbsize}"))?;
    Ok(Outcome {
        client: hits as f64 / gets.max(1) as f64,
        info: info_hits as f64 / (info_hits + info_misses).max(1) as f64,
        keys,
        evicted,
        used_memory,
        secs,
    })
}

/// One command's reply as text.
fn bulk(c: &mut Client, args: &[&str]) -> Result<String, String> {
    let cmd: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    let reply = c.pipeline(&[cmd])?.pop().flatten().unwrap_or_default();
    Ok(String::from_utf8_lossy(&reply).into_owned())
}

fn field(info: &str, name: &str) -> Result<u64, String> {
    let prefix = format!("{name}:");
    info.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| format!("INFO has no {name}"))
}

/// `100mb` → bytes, as Redis reads memory sizes (k/kb/m/mb/g/gb, 1024-based).
fn parse_bytes(s: &str) -> Result<u64, String> {
    let lower = s.to_ascii_lowercase();
    let digits = lower.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = match &lower[digits.len()..] {
        "" | "b" => 1,
        "k" | "kb" => 1 << 10,
        "m" | "mb" => 1 << 20,
        "g" | "gb" => 1 << 30,
        other => return Err(format!("unknown unit '{other}' in {s}")),
    };
    digits
        .parse::<u64>()
        .map(|n| n * unit)
        .map_err(|_| format!("bad size {s}"))
}

/// Cumulative Zipf weights of ranks 0..n (rank 0 the most requested).
fn zipf_cdf(n: u64, alpha: f64) -> Vec<f64> {
    let mut total = 0.0;
    (1..=n)
        .map(|k| {
            total += (k as f64).powf(-alpha);
            total
        })
        .collect()
}

/// The seeded request stream of one workload: request `i` → key number.
struct Stream<'a> {
    rng: u64,
    shape: Shape,
    keyspace: u64,
    ops: u64,
    cdf: &'a [f64],
    scanned: u64,
}

impl<'a> Stream<'a> {
    fn new(seed: u64, w: &Workload, keyspace: u64, ops: u64, cdf: &'a [f64]) -> Stream<'a> {
        Stream {
            rng: seed,
            shape: w.shape,
            keyspace,
            ops,
            cdf,
            scanned: 0,
        }
    }

    fn key(&mut self, i: u64) -> u64 {
        let phase = i * PHASES / self.ops;
        match self.shape {
            // Every other request of phases 2 and 3 reads the next key of
            // the scan, numbered past the Zipf keys.
            Shape::Scan if (2..4).contains(&phase) && i % 2 == 1 => {
                self.scanned += 1;
                self.keyspace + self.scanned
            }
            Shape::Shift => (self.rank() + phase * self.keyspace / PHASES) % self.keyspace,
            _ => self.rank(),
        }
    }

    fn rank(&mut self) -> u64 {
        let total = self.cdf[self.cdf.len() - 1];
        let x = self.next_f64() * total;
        self.cdf.partition_point(|&c| c < x) as u64
    }

    /// SplitMix64, so streams do not depend on a crate's generator.
    fn next_f64(&mut self) -> f64 {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn markdown(header: &[String], rows: Vec<Vec<String>>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(header.len()));
    for row in rows {
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sizes() {
        assert_eq!(parse_bytes("16mb").unwrap(), 16 << 20);
        assert_eq!(parse_bytes("100").unwrap(), 100);
        assert_eq!(parse_bytes("2G").unwrap(), 2 << 30);
        assert!(parse_bytes("3tb").is_err());
    }

    #[test]
    fn zipf_stream_is_skewed_and_seeded() {
        let cdf = zipf_cdf(1000, 0.99);
        let w = &WORKLOADS[1];
        let draw = |seed| {
            let mut s = Stream::new(seed, w, 1000, 10_000, &cdf);
            (0..10_000).map(|i| s.key(i)).collect::<Vec<_>>()
        };
        let a = draw(7);
        assert_eq!(a, draw(7));
        assert_ne!(a, draw(8));
        let top = a.iter().filter(|&&k| k < 10).count();
        // The top 1% of ranks draw about 39% of requests at alpha 0.99.
        assert!((3_400..4_400).contains(&top), "top ten drew {top}");
    }

    #[test]
    fn optimum_keeps_what_comes_back_soonest() {
        let keys = [1, 2, 1, 2];
        assert_eq!(optimum(&keys, 1, 0, 1), 0.25);
        assert_eq!(optimum(&keys, 1, 0, 2), 0.5);
        // One pipeline: nothing is stored before its repeats.
        assert_eq!(optimum(&keys, 4, 0, 2), 0.0);
        // 3 is never requested again: it does not displace 1.
        assert_eq!(optimum(&[1, 3, 1, 1], 1, 0, 1), 0.5);
        assert_eq!(optimum(&[1, 3, 1, 1], 1, 2, 1), 1.0);
    }

    #[test]
    fn scan_reads_fresh_keys_once_and_shift_moves_the_hot_set() {
        let cdf = zipf_cdf(1000, 0.99);
        let mut scan = Stream::new(1, &WORKLOADS[3], 1000, 10_000, &cdf);
        let keys: Vec<u64> = (0..10_000).map(|i| scan.key(i)).collect();
        let fresh: Vec<u64> = keys.iter().copied().filter(|&k| k >= 1000).collect();
        assert_eq!(fresh.len(), 2_000);
        assert_eq!(fresh.iter().collect::<HashSet<_>>().len(), 2_000);
        let mut shift = Stream::new(1, &WORKLOADS[4], 1000, 10_000, &cdf);
        let keys: Vec<u64> = (0..10_000).map(|i| shift.key(i)).collect();
        let hottest = |phase: usize| {
            let mut counts = vec![0; 1000];
            for &k in &keys[phase * 2000..(phase + 1) * 2000] {
                counts[k as usize] += 1;
            }
            (0..1000).max_by_key(|&k| counts[k]).unwrap()
        };
        assert_eq!(hottest(0), 0);
        assert_eq!(hottest(1), 200);
        assert_eq!(hottest(4), 800);
    }
}
