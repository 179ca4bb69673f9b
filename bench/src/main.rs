//! `slotcache-bench`: benchmark drivers for slotcache.

mod client;
mod compare;
mod procs;
mod scenario;

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
}

fn main() {
    let result = match Cli::parse().command {
        Command::Compare(args) => compare::run(args),
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
