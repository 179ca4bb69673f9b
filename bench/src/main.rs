//! `slotcache-bench`: benchmark drivers for slotcache.

mod client;
mod cluster;
mod compare;
mod hitrate;
mod procs;
mod scenario;
mod txbench;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "slotcache-bench", about = "Benchmark drivers for slotcache")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the same redis-benchmark scenarios against slotcache and
    /// redis-server side by side, then compares memory per key.
    Compare(compare::Args),
    /// Cache-aside hit rates under each eviction policy, slotcache and
    /// redis-server at the same maxmemory.
    Hitrate(hitrate::Args),
    /// redis-benchmark --cluster against 3-primary slotcache and Redis
    /// clusters, and cluster-bus bytes per node in quiet 6-node clusters.
    Cluster(cluster::Args),
}

fn main() {
    let result = match Cli::parse().command {
        Command::Compare(args) => compare::run(args),
        Command::Hitrate(args) => hitrate::run(args),
        Command::Cluster(args) => cluster::run(args),
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
