//! `slotcache`: a Redis-protocol cache node.

mod blocking;
mod client;
mod clock;
mod cluster;
mod commands;
mod config;
mod connection;
mod counters;
mod db;
mod info;
mod memory;
mod pubsub;
mod scripting;
mod server;
mod slowlog;
mod stats;

use std::net::SocketAddr;

use tikv_jemallocator::Jemalloc;

use crate::config::Config;
use crate::server::Server;

// jemalloc: its statistics give `used_memory`, and it fragments less than
// glibc malloc under a cache's churn of small allocations. Not under Miri,
// which checks the unsafe modules' unit tests and cannot run C code.
#[cfg(not(miri))]
#[global_allocator]
static GLOBAL: Jemalloc = Jemalloc;

fn main() {
    let config = match Config::from_args(std::env::args()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    init_logging(&config.loglevel);
    memory::count_this_thread();
    if let Err(e) = std::env::set_current_dir(&config.dir) {
        eprintln!("can't chdir to '{}': {e}", config.dir);
        std::process::exit(1);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.io_threads.max(1) as usize)
        .enable_all()
        .thread_name("slotcache")
        .on_thread_start(memory::count_this_thread)
        .build()
        .expect("tokio runtime");
    runtime.block_on(async move {
        let addr: SocketAddr = match format!("{}:{}", config.bind, config.port).parse() {
            Ok(a) => a,
            Err(e) => {
                eprintln!("bad --bind/--port: {e}");
                std::process::exit(1);
            }
        };
        let listener = match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("can't listen on {addr}: {e}");
                std::process::exit(1);
            }
        };
        let port = listener
            .local_addr()
            .map(|a| a.port())
            .unwrap_or(config.port as u16);
        tracing::info!(
            "slotcache {} ready to accept connections on {}:{port}",
            env!("CARGO_PKG_VERSION"),
            config.bind
        );
        let server = Server::new(config, port);
        server.run(listener).await;
    });
}

/// Redis's log levels on tracing's: debug, verbose (= trace's neighbour
/// debug), notice (= info), warning (= warn).
fn init_logging(level: &str) {
    let filter = match level {
        "debug" => "trace",
        "verbose" => "debug",
        "warning" => "warn",
        _ => "info",
    };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_target(false)
        .init();
}
