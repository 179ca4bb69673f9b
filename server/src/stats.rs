//! Server-wide counters for INFO stats. Connections count into local
//! `BatchStats` and add them here once per pipelined batch, so the hot path
//! does not bounce these cache lines between cores on every command.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::LazyLock;

use parking_lot::Mutex;
use slotcache_protocol::command::CommandTable;

use crate::counters::{Arc, Registry, Table};

#[derive(Default)]
pub struct Stats {
    pub total_connections_received: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub total_commands_processed: AtomicU64,
    pub total_net_input_bytes: AtomicU64,
    pub total_net_output_bytes: AtomicU64,
    pub keyspace_hits: AtomicU64,
    pub keyspace_misses: AtomicU64,
    pub total_error_replies: AtomicU64,
    pub unexpected_error_replies: AtomicU64,
    pub client_query_buffer_limit_disconnections: AtomicU64,
    pub client_output_buffer_limit_disconnections: AtomicU64,
}

/// Counts gathered by one connection over one batch.
#[derive(Default)]
pub struct BatchStats {
    pub commands: u64,
    pub hits: u64,
    pub misses: u64,
    pub errors: u64,
}

impl BatchStats {
    /// An error reply: counted for total_error_replies and by its kind
    /// (INFO errorstats).
    pub fn error(&mut self, message: &str) {
        self.errors += 1;
        count_error(message);
    }
}

impl Stats {
    pub fn add(&self, batch: &mut BatchStats) {
        let add = |counter: &AtomicU64, n: u64| {
            if n > 0 {
                counter.fetch_add(n, Relaxed);
            }
        };
        add(&self.total_commands_processed, batch.commands);
        add(&self.keyspace_hits, batch.hits);
        add(&self.keyspace_misses, batch.misses);
        add(&self.total_error_replies, batch.errors);
        *batch = BatchStats::default();
    }

    pub fn reset(&self) {
        for counter in [
            &self.total_connections_received,
            &self.rejected_connections,
            &self.total_commands_processed,
            &self.total_net_input_bytes,
            &self.total_net_output_bytes,
            &self.keyspace_hits,
            &self.keyspace_misses,
            &self.total_error_replies,
            &self.unexpected_error_replies,
            &self.client_query_buffer_limit_disconnections,
            &self.client_output_buffer_limit_disconnections,
        ] {
            counter.store(0, Relaxed);
        }
    }
}

/// INFO commandstats: calls, microseconds, rejected and failed calls per
/// command id, counted per thread (`counters`), process-wide as threads are.
static COMMANDS: LazyLock<Arc<Registry>> =
    LazyLock::new(|| Arc::new(Registry::new(CommandTable::get().all.len() * FIELDS)));

/// Counters per command: calls, usec, rejected, failed.
const FIELDS: usize = 4;

thread_local! {
    static COMMAND_COUNTS: Table = Registry::register(&COMMANDS);
}

/// One command's counts, as INFO commandstats shows them.
#[derive(Clone, Copy, Default, PartialEq, Debug)]
pub struct CommandTotals {
    pub calls: u64,
    pub usec: u64,
    pub rejected: u64,
    pub failed: u64,
}

/// A call of command `id` that ran for `usec`, and failed or not.
#[inline]
pub fn count_call(id: usize, usec: u64, failed: bool) {
    COMMAND_COUNTS.with(|t| {
        t.add(id * FIELDS, 1);
        t.add(id * FIELDS + 1, usec);
        if failed {
            t.add(id * FIELDS + 3, 1);
        }
    });
}

/// A call of command `id` refused before it ran (arity, routing, OOM …).
pub fn count_rejected(id: usize) {
    COMMAND_COUNTS.with(|t| t.add(id * FIELDS + 2, 1));
}

/// Every command's totals since the last reset, by command id.
pub fn command_totals() -> Vec<CommandTotals> {
    COMMANDS
        .totals()
        .chunks(FIELDS)
        .map(|c| CommandTotals {
            calls: c[0],
            usec: c[1],
            rejected: c[2],
            failed: c[3],
        })
        .collect()
}

/// INFO errorstats: error replies by their first word (ERR, WRONGTYPE …).
/// Error replies are rare next to commands: one lock is enough. As Redis,
/// at most ERROR_KINDS kinds are told apart, so a client inventing error
/// texts cannot grow the table without bound.
static ERROR_COUNTS: Mutex<Vec<(String, u64)>> = Mutex::new(Vec::new());

const ERROR_KINDS: usize = 128;

fn count_error(message: &str) {
    let kind = message.split(' ').next().unwrap_or_default();
    let mut counts = ERROR_COUNTS.lock();
    if let Some((_, n)) = counts.iter_mut().find(|(k, _)| k == kind) {
        *n += 1;
    } else if counts.len() < ERROR_KINDS {
        counts.push((kind.to_string(), 1));
    }
}

/// Error kinds and counts, in the order they first came.
pub fn error_counts() -> Vec<(String, u64)> {
    ERROR_COUNTS.lock().clone()
}

/// CONFIG RESETSTAT's part here.
pub fn reset_command_and_error_stats() {
    COMMANDS.reset();
    ERROR_COUNTS.lock().clear();
}
