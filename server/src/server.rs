//! The node: shared state, the accept loop and background work.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use parking_lot::{Mutex, RwLock};
use slotcache_protocol::RequestLimits;
use tokio::net::TcpListener;

use crate::blocking::Blocking;
use crate::client::ClientHandle;
use crate::config::{Config, Policy};
use crate::db::{AccessPolicy, Db};
use crate::memory::Memory;
use crate::pubsub::PubSub;
use crate::scripting::Scripts;
use crate::slowlog::SlowLog;
use crate::stats::Stats;
use crate::{clock, connection};

/// Settings read on every command, mirrored from `Config` on each change.
pub struct HotSettings {
    pub maxmemory: AtomicU64,
    pub noeviction: AtomicBool,
    pub auth_required: AtomicBool,
    pub slowlog_threshold_us: AtomicU64,
}

pub struct Server {
    pub config: RwLock<Config>,
    pub hot: HotSettings,
    pub db: Db,
    pub stats: Stats,
    pub memory: Arc<Memory>,
    pub clients: DashMap<u64, Arc<ClientHandle>>,
    pub blocking: Arc<Blocking>,
    pub pubsub: Arc<PubSub>,
    next_client_id: AtomicU64,
    pub slowlog: Mutex<SlowLog>,
    pub scripts: Scripts,
    /// 40 hex characters, new each start (INFO run_id).
    pub run_id: String,
    pub port: u16,
    /// Cluster state and bus; None when standalone.
    pub cluster: Option<Arc<slotcache_cluster::Cluster>>,
}

impl Server {
    pub fn new(config: Config, port: u16) -> Arc<Server> {
        let access = AccessPolicy::new(
            config.maxmemory_policy.is_lfu(),
            config.lfu_log_factor as u32,
            config.lfu_decay_time as u32,
        );
        let cluster = crate::cluster::open(&config, port).unwrap_or_else(|e| {
            eprintln!("{e}");
            std::process::exit(1);
        });
        let server = Arc::new(Server {
            hot: HotSettings {
                maxmemory: AtomicU64::new(0),
                noeviction: AtomicBool::new(false),
                auth_required: AtomicBool::new(false),
                slowlog_threshold_us: AtomicU64::new(0),
            },
            config: RwLock::new(config),
            db: Db::new(access),
            stats: Stats::default(),
            memory: Arc::new(Memory::default()),
            clients: DashMap::new(),
            blocking: Arc::default(),
            pubsub: Arc::default(),
            next_client_id: AtomicU64::new(1),
            slowlog: Mutex::new(SlowLog::default()),
            scripts: Scripts::new(),
            run_id: random_hex_id(),
            port,
            cluster,
        });
        server.settings_changed();
        server
    }

    /// Re-reads the hot settings after the configuration changed.
    pub fn settings_changed(&self) {
        crate::cluster::settings_changed(self);
        let c = self.config.read();
        self.hot.maxmemory.store(c.maxmemory, Relaxed);
        self.hot
            .noeviction
            .store(c.maxmemory_policy == Policy::NoEviction, Relaxed);
        self.hot
            .auth_required
            .store(!c.requirepass.is_empty(), Relaxed);
        // A negative threshold turns the slow log off.
        self.hot.slowlog_threshold_us.store(
            u64::try_from(c.slowlog_log_slower_than).unwrap_or(u64::MAX),
            Relaxed,
        );
        self.db.access.update(
            c.maxmemory_policy,
            c.lfu_log_factor as u32,
            c.lfu_decay_time as u32,
        );
        self.pubsub.set_hard_limit(c.output_limit("pubsub").0);
        self.db
            .evictor
            .limit_changed(c.maxmemory, c.maxmemory_policy != Policy::NoEviction);
    }

    pub fn request_limits(&self) -> (RequestLimits, u64) {
        let c = self.config.read();
        (
            RequestLimits {
                max_bulk_len: c.proto_max_bulk_len as usize,
                ..RequestLimits::default()
            },
            c.client_query_buffer_limit,
        )
    }

    /// True when the last memory sample is over `maxmemory`, less the
    /// evictor's headroom: a command that may grow memory must first evict
    /// (see `db::evict`).
    #[inline]
    pub fn over_memory_limit(&self) -> bool {
        let max = self.hot.maxmemory.load(Relaxed);
        max != 0 && self.memory.used() + self.db.evictor.headroom() > max
    }

    fn register_client(&self, addr: SocketAddr, local: SocketAddr) -> Arc<ClientHandle> {
        let id = self.next_client_id.fetch_add(1, Relaxed);
        let handle = ClientHandle::new(id, addr, local);
        self.clients.insert(id, Arc::clone(&handle));
        handle
    }

    /// Runs the node until the process is stopped.
    pub async fn run(self: Arc<Self>, listener: TcpListener) {
        self.memory.refresh();
        self.memory.refresh_rss();
        let server = Arc::clone(&self);
        self.memory
            .start_sampler(move || server.hot.maxmemory.load(Relaxed) > 0);
        crate::db::evict::start_background(&self);
        crate::cluster::start(&self);
        tokio::spawn(Arc::clone(&self).expiry_loop());
        loop {
            let (stream, addr) = match listener.accept().await {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of descriptors and the like: wait instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            self.stats.total_connections_received.fetch_add(1, Relaxed);
            let _ = stream.set_nodelay(true);
            // Admitted here, in accept order, so connections arriving
            // together cannot overshoot maxclients.
            let maxclients = self.config.read().maxclients as usize;
            if self.clients.len() >= maxclients {
                self.stats.rejected_connections.fetch_add(1, Relaxed);
                tokio::spawn(connection::refuse(
                    stream,
                    "ERR max number of clients reached",
                ));
                continue;
            }
            let local = stream.local_addr().unwrap_or(addr);
            let registered = Registered {
                handle: self.register_client(addr, local),
                server: Arc::clone(&self),
            };
            tokio::spawn(async move {
                let handle = Arc::clone(&registered.handle);
                connection::serve(&registered.server, stream, handle).await;
            });
        }
    }

    /// Active expiry, Redis's adaptive cycle: `hz` times a second it sweeps
    /// a chunk of the keyspace, one slot lock at a time, and goes on while
    /// more than a tenth of the keys with a TTL it saw were expired, for at
    /// most a quarter of the period. So expired keys stay few when many
    /// expire, and a keyspace of long TTLs costs one small chunk per tick.
    async fn expiry_loop(self: Arc<Self>) {
        /// Entries examined per chunk.
        const CHUNK: usize = 2_000;
        loop {
            let hz = self.config.read().hz.max(1);
            let period = Duration::from_millis(1000 / hz);
            tokio::time::sleep(period).await;
            let started = quanta::Instant::now();
            loop {
                // Skipped while EXEC or a script runs alone: blocking here
                // would hold a thread that SCRIPT KILL may need.
                let Some(_shared) = self.db.exclusive.try_read() else {
                    break;
                };
                let (seen, removed) = self.db.sweep_expired(clock::unix_ms(), CHUNK);
                if removed * 10 <= seen || started.elapsed() >= period / 4 {
                    break;
                }
            }
        }
    }
}

/// A connection's place in the client registry, given up when the
/// connection ends, even by a panic, so it never counts against maxclients
/// afterwards.
struct Registered {
    server: Arc<Server>,
    handle: Arc<ClientHandle>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.server.clients.remove(&self.handle.id);
    }
}

pub fn random_hex_id() -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..40)
        .map(|_| char::from_digit(rng.gen_range(0..16), 16).unwrap())
        .collect()
}
