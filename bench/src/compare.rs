//! `compare`: slotcache against redis-server on the same loopback — the
//! same redis-benchmark scenarios alternating A then B over several rounds
//! (medians), then resident memory per key after a 1M-key load.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::client::Client;
use crate::procs::{rss_bytes, Kind, Proc, Server};
use crate::scenario::{self, Scenario, CLIENTS, EVICTION_KEYSPACE, EVICTION_MAXMEMORY, KEYSPACE};
use crate::txbench;

/// Keys and value size of the memory comparison.
const MEMORY_KEYS: u64 = 1_000_000;
const MEMORY_VALUE: usize = 100;
/// `--quick` divides every scenario's request count by this.
const QUICK_DIVISOR: u64 = 10;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    sides: crate::procs::Sides,
    /// A tenth of the requests per run (smoke test, noisier numbers)
    #[arg(long)]
    quick: bool,
    /// Comma-separated scenario names or name prefixes, e.g. `get,set-P16`
    /// (default: all)
    #[arg(long, value_delimiter = ',')]
    scenarios: Vec<String>,
    /// Skip the memory-per-key comparison
    #[arg(long)]
    no_memory: bool,
}

/// One redis-benchmark run's figures.
pub(crate) struct Sample {
    pub(crate) rps: f64,
    p50: f64,
    p99: f64,
}

pub fn run(args: Args) -> Result<(), String> {
    let slotcache = crate::procs::slotcache_binary(args.sides.slotcache.as_ref())?;
    let selected = select(scenario::all(), &args.scenarios)?;
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "slotcache vs redis-server on 127.0.0.1, {cores} cores, redis-benchmark -c {CLIENTS} -r {KEYSPACE} \
         (evict-*: -r {EVICTION_KEYSPACE} at maxmemory {EVICTION_MAXMEMORY}), {} round(s){}\n",
        args.sides.rounds,
        if args.quick { ", --quick" } else { "" }
    );
    if !selected.is_empty() {
        let table = throughput(&args, &slotcache, selected)?;
        println!("{table}");
    }
    if !args.no_memory {
        let table = memory(&args, &slotcache)?;
        println!("{table}");
        let table = small_collections(&args, &slotcache)?;
        println!("{table}");
    }
    Ok(())
}

/// The scenarios named by `--scenarios` (all when empty); a pattern that
/// selects nothing is an error listing the known names.
fn select(all: Vec<Scenario>, patterns: &[String]) -> Result<Vec<Scenario>, String> {
    if patterns.is_empty() {
        return Ok(all);
    }
    if let Some(p) = patterns.iter().find(|p| !all.iter().any(|s| s.matches(p))) {
        let names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
        return Err(format!(
            "no scenario matches '{p}'; known: {}",
            names.join(", ")
        ));
    }
    Ok(all
        .into_iter()
        .filter(|s| patterns.iter().any(|p| s.matches(p)))
        .collect())
}

fn throughput(args: &Args, slotcache: &Path, mut list: Vec<Scenario>) -> Result<String, String> {
    let servers = [
        Server::start(Kind::Slotcache, slotcache, &args.sides.redis_server)?,
        Server::start(Kind::Redis, slotcache, &args.sides.redis_server)?,
    ];
    for s in &servers {
        eprintln!("{} pid {} port {}", s.kind.name(), s.pid(), s.port);
    }
    // Scenarios needing the same keyspace run back to back after one fill;
    // the sort is stable so the table keeps the list's order within a fill.
    list.sort_by_key(Scenario::prep);
    let mut samples: Vec<[Vec<Sample>; 2]> = list.iter().map(|_| [vec![], vec![]]).collect();
    let mut start = 0;
    for group in list.chunk_by(|a, b| a.prep() == b.prep()) {
        for server in &servers {
            prepare(server, group[0].prep())?;
        }
        for round in 1..=args.sides.rounds {
            for (i, scen) in group.iter().enumerate() {
                for (which, server) in servers.iter().enumerate() {
                    let s = bench(args, server, scen)?;
                    eprintln!(
                        "round {round}/{} {:<12} {:<9} {:>10.0} rps  p50 {:.3} ms  p99 {:.3} ms",
                        args.sides.rounds,
                        scen.name,
                        server.kind.name(),
                        s.rps,
                        s.p50,
                        s.p99
                    );
                    samples[start + i][which].push(s);
                }
            }
        }
        start += group.len();
    }
    let rows = list
        .iter()
        .zip(&samples)
        .map(|(scen, [a, b])| {
            let med = |v: &[Sample], f: fn(&Sample) -> f64| median(v.iter().map(f).collect());
            let (a_rps, b_rps) = (med(a, |s| s.rps), med(b, |s| s.rps));
            let (a_p99, b_p99) = (med(a, |s| s.p99), med(b, |s| s.p99));
            vec![
                scen.name.clone(),
                format!("{a_rps:.0}"),
                format!("{b_rps:.0}"),
                format!("{:.2}", a_rps / b_rps),
                format!("{:.3}", med(a, |s| s.p50)),
                format!("{:.3}", med(b, |s| s.p50)),
                format!("{a_p99:.3}"),
                format!("{b_p99:.3}"),
                format!("{:.2}", a_p99 / b_p99),
            ]
        })
        .collect();
    Ok(markdown(
        &[
            "scenario",
            "slotcache rps",
            "redis rps",
            "rps ratio",
            "slotcache p50 ms",
            "redis p50 ms",
            "slotcache p99 ms",
            "redis p99 ms",
            "p99 ratio",
        ],
        rows,
    ))
}

/// Empties the keyspace, then fills every key with `fill`-byte strings
/// (with no memory limit: an eviction scenario may have left one).
fn prepare(server: &Server, fill: Option<usize>) -> Result<(), String> {
    let mut c = Client::connect(server.port)?;
    c.call(&["CONFIG", "SET", "maxmemory", "0"])?;
    c.call(&["FLUSHALL"])?;
    let Some(size) = fill else { return Ok(()) };
    let started = Instant::now();
    c.load(KEYSPACE, size)
        .map_err(|e| format!("filling {}: {e}", server.kind.name()))?;
    expect_dbsize(&mut c, server, KEYSPACE)?;
    eprintln!(
        "{}: filled {KEYSPACE} keys x {size} B in {:.1}s",
        server.kind.name(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn expect_dbsize(c: &mut Client, server: &Server, keys: u64) -> Result<(), String> {
    let reply = c.call(&["DBSIZE"])?;
    if reply != format!(":{keys}") {
        return Err(format!(
            "{} holds {reply} keys after loading {keys}",
            server.kind.name()
        ));
    }
    Ok(())
}

fn bench(args: &Args, server: &Server, scen: &Scenario) -> Result<Sample, String> {
    let requests = if args.quick {
        scen.requests / QUICK_DIVISOR
    } else {
        scen.requests
    };
    limit(server, scen)?;
    let setup = scen.setup();
    if !setup.is_empty() {
        let cmds: Vec<Vec<&[u8]>> = setup
            .iter()
            .map(|c| c.iter().map(|a| a.as_bytes()).collect())
            .collect();
        Client::connect(server.port)?
            .pipeline(&cmds)
            .map_err(|e| format!("{} setup on {}: {e}", scen.name, server.kind.name()))?;
    }
    if let Some(transaction) = scen.transaction() {
        let (rps, p50, p99) = txbench::run(server.port, &transaction, scen.pipeline, requests)
            .map_err(|e| format!("{} on {}: {e}", scen.name, server.kind.name()))?;
        return Ok(Sample { rps, p50, p99 });
    }
    let mut cmd = Command::new(&args.sides.redis_benchmark);
    cmd.args(["-h", "127.0.0.1", "-p", &server.port.to_string()])
        .args(["-c", &CLIENTS.to_string(), "-r", &scen.keyspace.to_string()])
        .args([
            "-n",
            &requests.to_string(),
            "-P",
            &scen.pipeline.to_string(),
        ])
        .args(["-d", &scen.value_size.to_string(), "--csv", "-q"])
        .args(&scen.workload)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    // Generous: a run that goes on this long means a stuck server.
    let bound = Duration::from_secs(60 + requests / 5_000);
    let out = Proc::spawn("redis-benchmark", &mut cmd)?.output(bound)?;
    parse_csv(&out).map_err(|e| format!("{} on {}: {e}", scen.name, server.kind.name()))
}

/// Puts `server` under the scenario's memory limit and policy, or lifts
/// the limit a previous scenario set.
fn limit(server: &Server, scen: &Scenario) -> Result<(), String> {
    let mut c = Client::connect(server.port)?;
    let Some(l) = &scen.limit else {
        c.call(&["CONFIG", "SET", "maxmemory", "0"])?;
        return Ok(());
    };
    let policy = match server.kind {
        Kind::Slotcache => l.slotcache_policy,
        Kind::Redis => l.redis_policy,
    };
    c.call(&["CONFIG", "SET", "maxmemory", l.maxmemory])?;
    c.call(&["CONFIG", "SET", "maxmemory-policy", policy])?;
    Ok(())
}

/// redis-benchmark 7 `--csv`: a header naming `rps`, `p50_latency_ms`,
/// `p99_latency_ms` …, then one quoted row per test (exactly one here).
pub(crate) fn parse_csv(out: &str) -> Result<Sample, String> {
    let mut lines = out.lines().filter(|l| !l.trim().is_empty());
    let fields = |l: &str| -> Vec<String> {
        l.split(',')
            .map(|f| f.trim().trim_matches('"').to_string())
            .collect()
    };
    let header = fields(lines.next().ok_or("no CSV output")?);
    // The measured test is the last row: LRANGE tests print their LPUSH
    // preparation first.
    let rows: Vec<Vec<String>> = lines.map(fields).collect();
    let row = rows.last().ok_or_else(|| format!("no CSV row: {out}"))?;
    // Indexed from the end: a literal command's test name may hold commas.
    let column = |name: &str| -> Result<f64, String> {
        let from_end = header.len()
            - header
                .iter()
                .position(|h| h == name)
                .ok_or_else(|| format!("no column {name} in {header:?}"))?;
        row.len()
            .checked_sub(from_end)
            .and_then(|i| row[i].parse().ok())
            .ok_or_else(|| format!("bad {name} in {row:?}"))
    };
    Ok(Sample {
        rps: column("rps")?,
        p50: column("p50_latency_ms")?,
        p99: column("p99_latency_ms")?,
    })
}

/// Each server freshly started and flushed, then 1M distinct 100-byte
/// strings: (VmRSS after − before) / keys.
fn memory(args: &Args, slotcache: &Path) -> Result<String, String> {
    let mut rows = Vec::new();
    let mut per_key = Vec::new();
    for kind in [Kind::Slotcache, Kind::Redis] {
        let server = Server::start(kind, slotcache, &args.sides.redis_server)?;
        let mut c = Client::connect(server.port)?;
        c.call(&["FLUSHALL"])?;
        let before = rss_bytes(server.pid())?;
        let started = Instant::now();
        c.load(MEMORY_KEYS, MEMORY_VALUE)
            .map_err(|e| format!("loading {}: {e}", kind.name()))?;
        let secs = started.elapsed().as_secs_f64();
        expect_dbsize(&mut c, &server, MEMORY_KEYS)?;
        let after = rss_bytes(server.pid())?;
        let bytes = after.saturating_sub(before) as f64 / MEMORY_KEYS as f64;
        eprintln!("{}: loaded {MEMORY_KEYS} keys in {secs:.1}s", kind.name());
        per_key.push(bytes);
        rows.push(vec![
            kind.name().to_string(),
            format!("{:.1}", before as f64 / MIB),
            format!("{:.1}", after as f64 / MIB),
            format!("{bytes:.1}"),
            format!("{:.0}", MEMORY_KEYS as f64 / secs),
        ]);
    }
    rows.push(vec![
        "slotcache/redis".into(),
        String::new(),
        String::new(),
        format!("{:.2}", per_key[0] / per_key[1]),
        String::new(),
    ]);
    let mut out = format!(
        "Memory: {MEMORY_KEYS} keys `key:%012d` x {MEMORY_VALUE}-byte values, pipelined SET\n\n"
    );
    out.push_str(&markdown(
        &[
            "server",
            "RSS before MiB",
            "RSS after MiB",
            "bytes/key",
            "load keys/s",
        ],
        rows,
    ));
    Ok(out)
}

const MIB: f64 = 1024.0 * 1024.0;

/// Keys per small-collection kind, and elements per key.
const SMALL_KEYS: usize = 100_000;
const SMALL_ELEMENTS: usize = 10;

/// The command that fills key `i` with `SMALL_ELEMENTS` elements: what a
/// cache keeps per object (a user as a hash, a tag set, a short feed, a
/// small leaderboard), each small enough for Redis's packed encodings.
fn small_collection(kind: &str, i: usize) -> Vec<String> {
    let key = format!("{kind}:{i}");
    let mut cmd = match kind {
        "hash" => vec!["HSET".to_string(), key],
        "zset" => vec!["ZADD".to_string(), key],
        "list" => vec!["RPUSH".to_string(), key],
        _ => vec!["SADD".to_string(), key],
    };
    for j in 0..SMALL_ELEMENTS {
        match kind {
            "hash" => cmd.extend([format!("field{j}"), format!("value-{i}-{j}")]),
            "zset" => cmd.extend([format!("{}", i * 10 + j), format!("member-{j}")]),
            "list" => cmd.push(format!("item-{i}-{j}")),
            "intset" => cmd.push(format!("{}", i * 10 + j)),
            _ => cmd.push(format!("member-{i}-{j}")),
        }
    }
    cmd
}

/// Each server freshly started per kind, then `SMALL_KEYS` keys of
/// `SMALL_ELEMENTS` elements: (VmRSS after − before) / keys.
fn small_collections(args: &Args, slotcache: &Path) -> Result<String, String> {
    let mut rows = Vec::new();
    for kind in ["hash", "zset", "list", "set", "intset"] {
        let mut per_key = Vec::new();
        for side in [Kind::Slotcache, Kind::Redis] {
            let server = Server::start(side, slotcache, &args.sides.redis_server)?;
            let mut c = Client::connect(server.port)?;
            let before = rss_bytes(server.pid())?;
            for batch in (0..SMALL_KEYS).collect::<Vec<_>>().chunks(1000) {
                let cmds: Vec<Vec<String>> =
                    batch.iter().map(|&i| small_collection(kind, i)).collect();
                let cmds: Vec<Vec<&[u8]>> = cmds
                    .iter()
                    .map(|c| c.iter().map(|a| a.as_bytes()).collect())
                    .collect();
                c.pipeline(&cmds)
                    .map_err(|e| format!("loading {kind} into {}: {e}", side.name()))?;
            }
            expect_dbsize(&mut c, &server, SMALL_KEYS as u64)?;
            let after = rss_bytes(server.pid())?;
            per_key.push(after.saturating_sub(before) as f64 / SMALL_KEYS as f64);
        }
        rows.push(vec![
            kind.to_string(),
            format!("{:.1}", per_key[0]),
            format!("{:.1}", per_key[1]),
            format!("{:.2}", per_key[0] / per_key[1]),
        ]);
    }
    let mut out = format!(
        "Small collections: {SMALL_KEYS} keys of {SMALL_ELEMENTS} elements each, bytes per key (RSS)\n\n"
    );
    out.push_str(&markdown(
        &["kind", "slotcache", "redis", "slotcache/redis"],
        rows,
    ));
    Ok(out)
}

pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// A markdown table with padded columns, numbers right-aligned.
pub(crate) fn markdown(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].len())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let line = |out: &mut String, cells: Vec<&str>| {
        for (i, c) in cells.iter().enumerate() {
            let _ = if i == 0 {
                write!(out, "| {c:<w$} ", w = widths[i])
            } else {
                write!(out, "| {c:>w$} ", w = widths[i])
            };
        }
        out.push_str("|\n");
    };
    line(&mut out, header.to_vec());
    let rule: Vec<String> = widths
        .iter()
        .enumerate()
        .map(|(i, w)| {
            if i == 0 {
                "-".repeat(*w)
            } else {
                format!("{}:", "-".repeat(w - 1))
            }
        })
        .collect();
    line(&mut out, rule.iter().map(String::as_str).collect());
    for r in &rows {
        line(&mut out, r.iter().map(String::as_str).collect());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_redis_benchmark_csv() {
        let out = "\"test\",\"rps\",\"avg_latency_ms\",\"min_latency_ms\",\"p50_latency_ms\",\
                   \"p95_latency_ms\",\"p99_latency_ms\",\"max_latency_ms\"\n\
                   \"GET\",\"606060.62\",\"1.015\",\"0.344\",\"1.023\",\"1.551\",\"1.799\",\"1.927\"\n";
        let s = parse_csv(out).unwrap();
        assert_eq!((s.rps, s.p50, s.p99), (606060.62, 1.023, 1.799));
        // LRANGE runs print their LPUSH preparation first: the last row counts.
        let two = format!("{out}\"LRANGE_100\",\"5\",\"1\",\"1\",\"2\",\"3\",\"4\",\"5\"\n");
        let s = parse_csv(&two).unwrap();
        assert_eq!((s.rps, s.p50, s.p99), (5.0, 2.0, 4.0));
        assert!(parse_csv("\"test\",\"rps\"\n").is_err());
    }

    #[test]
    fn command_names_with_commas_parse_from_the_end() {
        let out = "\"test\",\"rps\",\"avg_latency_ms\",\"min_latency_ms\",\"p50_latency_ms\",\
                   \"p95_latency_ms\",\"p99_latency_ms\",\"max_latency_ms\"\n\
                   \"EVAL a,b\",\"10\",\"1\",\"1\",\"2\",\"3\",\"4\",\"5\"\n";
        let s = parse_csv(out).unwrap();
        assert_eq!((s.rps, s.p50, s.p99), (10.0, 2.0, 4.0));
    }

    #[test]
    fn selects_by_name_or_dash_prefix() {
        let names = |p: &[&str]| -> Vec<String> {
            let p: Vec<String> = p.iter().map(|s| s.to_string()).collect();
            select(scenario::all(), &p)
                .unwrap()
                .into_iter()
                .map(|s| s.name)
                .collect()
        };
        assert_eq!(names(&["get-P16"]), ["get-P16-64", "get-P16-1k"]);
        assert_eq!(names(&["set-P1-1k"]), ["set-P1-1k"]);
        assert_eq!(
            names(&["evict-set-P16"]),
            ["evict-set-P16-64-lru", "evict-set-P16-64-own"]
        );
        assert_eq!(names(&["evict"]).len(), 8);
        assert!(names(&["set"]).iter().all(|n| n.starts_with("set-")));
        assert_eq!(names(&[]).len(), scenario::all().len());
        assert!(select(scenario::all(), &["get-P1-6".into()]).is_err());
    }

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
