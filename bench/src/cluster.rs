//! `cluster`: `redis-benchmark --cluster` against a 3-primary slotcache
//! cluster and a 3-primary Redis cluster side by side (SET then GET, `-P 1`
//! and `-P 16`, alternating rounds, medians), then the bytes per second
//! each node sends on the cluster bus in a quiet 6-node cluster
//! (3 primaries × 1 replica) of each.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::client::Client;
use crate::compare::{markdown, median, parse_csv};
use crate::procs::{Kind, Proc};

const CLIENTS: u32 = 50;
const KEYSPACE: u32 = 100_000;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    sides: crate::procs::Sides,
    /// Requests per redis-benchmark run
    #[arg(long, default_value_t = 500_000)]
    requests: u64,
    /// How long the quiet clusters' bus traffic is measured
    #[arg(long, default_value_t = 30)]
    bus_seconds: u64,
}

pub fn run(args: Args) -> Result<(), String> {
    let slotcache = crate::procs::slotcache_binary(args.sides.slotcache.as_ref())?;
    println!(
        "3-primary slotcache cluster vs 3-primary Redis cluster on 127.0.0.1, redis-benchmark --cluster \
         -c {CLIENTS} -r {KEYSPACE} -n {}, {} round(s)\n",
        args.requests, args.sides.rounds
    );
    println!("{}", throughput(&args, &slotcache)?);
    println!("{}", bus_traffic(&args, &slotcache)?);
    Ok(())
}

/// The nodes of one local cluster; dropping it kills them, then removes
/// their directories.
struct LocalCluster {
    kind: Kind,
    ports: Vec<u16>,
    procs: Vec<Proc>,
    dir: PathBuf,
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        self.procs.clear();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl LocalCluster {
    /// Starts `primaries × (1 + replicas)` nodes and forms the cluster with
    /// the same CLUSTER commands for both systems.
    fn start(
        kind: Kind,
        bins: (&Path, &Path),
        primaries: usize,
        replicas: usize,
    ) -> Result<LocalCluster, String> {
        let total = primaries * (1 + replicas);
        let base = free_ports(total)?;
        let dir = std::env::temp_dir().join(format!(
            "slotcache-bench-cluster-{}-{}",
            std::process::id(),
            kind.name()
        ));
        let mut cluster = LocalCluster {
            kind,
            ports: (base..base + total as u16).collect(),
            procs: Vec::new(),
            dir,
        };
        for &port in &cluster.ports {
            let d = cluster.dir.join(port.to_string());
            std::fs::create_dir_all(&d).map_err(|e| format!("mkdir {d:?}: {e}"))?;
            let (p, d) = (port.to_string(), d.to_string_lossy().into_owned());
            let mut cmd = match kind {
                Kind::Slotcache => Command::new(bins.0),
                Kind::Redis => {
                    let mut c = Command::new(bins.1);
                    c.args(["--save", "", "--appendonly", "no", "--logfile", ""]);
                    c.args(["--cluster-config-file", &format!("nodes-{p}.conf")]);
                    c
                }
            };
            cmd.args(["--bind", "127.0.0.1", "--port", &p, "--dir", &d])
                .args(["--cluster-enabled", "yes", "--loglevel", "warning"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit());
            cluster.procs.push(Proc::spawn(kind.name(), &mut cmd)?);
        }
        for &port in &cluster.ports {
            wait_for(&format!("{} on port {port}", kind.name()), || {
                Ok(Client::connect(port)?.call(&["PING"])? == "+PONG")
            })?;
        }
        cluster.form(primaries, replicas)?;
        Ok(cluster)
    }

    fn call(&self, i: usize, args: &[&str]) -> Result<String, String> {
        Client::connect(self.ports[i])?.call(args)
    }

    fn info(&self, i: usize) -> Result<String, String> {
        let mut c = Client::connect(self.ports[i])?;
        let reply = c.pipeline(&[vec![b"CLUSTER", b"INFO"]])?;
        Ok(String::from_utf8_lossy(reply[0].as_deref().unwrap_or_default()).into_owned())
    }

    fn field(&self, i: usize, name: &str) -> Result<String, String> {
        let info = self.info(i)?;
        Ok(info
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .unwrap_or("")
            .trim()
            .to_string())
    }

    fn form(&self, primaries: usize, replicas: usize) -> Result<(), String> {
        let total = self.ports.len();
        for i in 0..primaries {
            let (a, b) = (i * 16384 / primaries, (i + 1) * 16384 / primaries - 1);
            self.call(
                i,
                &["CLUSTER", "ADDSLOTSRANGE", &a.to_string(), &b.to_string()],
            )?;
        }
        for i in 0..total {
            self.call(i, &["CLUSTER", "SET-CONFIG-EPOCH", &(i + 1).to_string()])?;
        }
        for i in 1..total {
            self.call(
                i,
                &["CLUSTER", "MEET", "127.0.0.1", &self.ports[0].to_string()],
            )?;
        }
        let all = |name: &str, want: &str| -> Result<bool, String> {
            for i in 0..total {
                if self.field(i, name)? != want {
                    return Ok(false);
                }
            }
            Ok(true)
        };
        wait_for("every node to know every other", || {
            all("cluster_known_nodes", &total.to_string())
        })?;
        for p in 0..primaries {
            let id = Client::connect(self.ports[p])?
                .pipeline(&[vec![b"CLUSTER", b"MYID"]])?
                .remove(0)
                .unwrap_or_default();
            let id = String::from_utf8_lossy(&id).into_owned();
            for r in 0..replicas {
                self.call(primaries + p * replicas + r, &["CLUSTER", "REPLICATE", &id])?;
            }
        }
        wait_for("cluster_state:ok everywhere", || {
            Ok(all("cluster_state", "ok")? && all("cluster_slots_ok", "16384")?)
        })
    }

    /// Bytes this node has written to cluster-bus sockets so far: slotcache
    /// counts them in CLUSTER INFO; Redis writes the bus with write(2), so
    /// its /proc I/O counter holds them (a quiet node writes nothing else).
    fn bus_bytes_sent(&self, i: usize) -> Result<u64, String> {
        let parse = |s: &str| s.parse::<u64>().map_err(|e| format!("{s:?}: {e}"));
        match self.kind {
            Kind::Slotcache => parse(&self.field(i, "cluster_stats_bytes_sent")?),
            Kind::Redis => {
                let path = format!("/proc/{}/io", self.procs[i].pid());
                let io = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
                parse(
                    io.lines()
                        .find_map(|l| l.strip_prefix("wchar:"))
                        .unwrap_or("")
                        .trim(),
                )
            }
        }
    }
}

/// `n` consecutive free ports whose bus ports (+10000) are free too.
fn free_ports(n: usize) -> Result<u16, String> {
    let free = |p: u16| TcpListener::bind(("127.0.0.1", p)).is_ok();
    let start = 12000 + (std::process::id() % 400) as u16 * 20;
    (0..400u16)
        .map(|i| 12000 + (start - 12000 + i * 20) % 8000)
        .find(|&b| (b..b + n as u16).all(|p| free(p) && free(p + 10000)))
        .ok_or_else(|| "no free port range for a cluster".to_string())
}

fn wait_for(what: &str, mut ready: impl FnMut() -> Result<bool, String>) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let last = ready();
        if let Ok(true) = last {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!("timed out waiting for {what}: {last:?}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn throughput(args: &Args, slotcache: &Path) -> Result<String, String> {
    let bins = (slotcache, args.sides.redis_server.as_path());
    let clusters = [
        LocalCluster::start(Kind::Slotcache, bins, 3, 0)?,
        LocalCluster::start(Kind::Redis, bins, 3, 0)?,
    ];
    let scenarios = [("set", 1), ("get", 1), ("set", 16), ("get", 16)];
    let mut rps = vec![vec![Vec::new(); clusters.len()]; scenarios.len()];
    for _ in 0..args.sides.rounds {
        for (s, (test, pipeline)) in scenarios.iter().enumerate() {
            for (c, cluster) in clusters.iter().enumerate() {
                rps[s][c].push(bench(args, cluster, test, *pipeline)?);
            }
        }
    }
    let rows = scenarios
        .iter()
        .zip(rps)
        .map(|((test, pipeline), per)| {
            let [sc, redis] = [median(per[0].clone()), median(per[1].clone())];
            vec![
                format!("{} -P {pipeline}", test.to_uppercase()),
                format!("{sc:.0}"),
                format!("{redis:.0}"),
                format!("{:.2}", sc / redis),
            ]
        })
        .collect();
    Ok(markdown(
        &[
            "redis-benchmark --cluster",
            "slotcache req/s",
            "Redis req/s",
            "ratio",
        ],
        rows,
    ))
}

fn bench(args: &Args, cluster: &LocalCluster, test: &str, pipeline: u32) -> Result<f64, String> {
    let mut cmd = Command::new(&args.sides.redis_benchmark);
    cmd.args([
        "--cluster",
        "-h",
        "127.0.0.1",
        "-p",
        &cluster.ports[0].to_string(),
    ])
    .args(["-c", &CLIENTS.to_string(), "-r", &KEYSPACE.to_string()])
    .args([
        "-n",
        &args.requests.to_string(),
        "-P",
        &pipeline.to_string(),
    ])
    .args(["-t", test, "--csv", "-q"])
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit());
    let bound = Duration::from_secs(60 + args.requests / 5_000);
    let out = Proc::spawn("redis-benchmark", &mut cmd)?.output(bound)?;
    // In cluster mode the CSV follows a list of the masters.
    let csv = out.find("\"test\"").map_or(out.as_str(), |at| &out[at..]);
    parse_csv(csv)
        .map(|s| s.rps)
        .map_err(|e| format!("{test} -P {pipeline} on {}: {e}", cluster.kind.name()))
}

fn bus_traffic(args: &Args, slotcache: &Path) -> Result<String, String> {
    let bins = (slotcache, args.sides.redis_server.as_path());
    let mut rows = Vec::new();
    for kind in [Kind::Slotcache, Kind::Redis] {
        let cluster = LocalCluster::start(kind, bins, 3, 1)?;
        // Let the join's burst of messages pass.
        std::thread::sleep(Duration::from_secs(5));
        let n = cluster.ports.len();
        let before: Vec<u64> = (0..n)
            .map(|i| cluster.bus_bytes_sent(i))
            .collect::<Result<_, _>>()?;
        std::thread::sleep(Duration::from_secs(args.bus_seconds));
        let mut sent = 0;
        for (i, b) in before.iter().enumerate() {
            sent += cluster.bus_bytes_sent(i)? - b;
        }
        let per_node = sent as f64 / n as f64 / args.bus_seconds as f64;
        rows.push(vec![kind.name().to_string(), format!("{per_node:.0}")]);
    }
    Ok(markdown(
        &[
            "quiet 6-node cluster (node timeout 15 s)",
            "bus bytes/s sent per node",
        ],
        rows,
    ))
}
