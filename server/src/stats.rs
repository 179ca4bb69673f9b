//! Server-wide counters for INFO stats. Connections count into local
//! `BatchStats` and add them here once per pipelined batch, so the hot path
//! does not bounce these cache lines between cores on every command.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use parking_lot::Mutex;
use slotcache_protocol::command::CommandTable;

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
/// command id. Each thread counts into its own table, which only it writes
/// (a load and a store, no read-modify-write, no line shared between
/// cores); INFO sums the tables, less what they held at the last CONFIG
/// RESETSTAT. Process-wide, as its threads are.
#[derive(Default)]
struct CommandTables {
    tables: Vec<Arc<[CommandCounts]>>,
    /// What the tables of threads that ended held.
    retired: Vec<CommandTotals>,
    /// The sums at the last reset.
    baseline: Vec<CommandTotals>,
}

#[derive(Default)]
struct CommandCounts {
    calls: AtomicU64,
    usec: AtomicU64,
    rejected: AtomicU64,
    failed: AtomicU64,
}

/// One command's counts, as INFO commandstats shows them.
#[derive(Clone, Copy, Default, PartialEq, Debug)]
pub struct CommandTotals {
    pub calls: u64,
    pub usec: u64,
    pub rejected: u64,
    pub failed: u64,
}

static COMMAND_TABLES: Mutex<CommandTables> = Mutex::new(CommandTables {
    tables: Vec::new(),
    retired: Vec::new(),
    baseline: Vec::new(),
});

/// This thread's table, registered on first use and folded into `retired`
/// when the thread ends (tokio replaces a worker a long script keeps).
struct ThreadCounts(Arc<[CommandCounts]>);

impl ThreadCounts {
    fn register() -> ThreadCounts {
        let table: Arc<[CommandCounts]> = (0..CommandTable::get().all.len())
            .map(|_| CommandCounts::default())
            .collect();
        COMMAND_TABLES.lock().tables.push(Arc::clone(&table));
        ThreadCounts(table)
    }
}

impl Drop for ThreadCounts {
    fn drop(&mut self) {
        let mut state = COMMAND_TABLES.lock();
        state.tables.retain(|t| !Arc::ptr_eq(t, &self.0));
        let mut retired = std::mem::take(&mut state.retired);
        add_table(&mut retired, &self.0);
        state.retired = retired;
    }
}

thread_local! {
    static COMMAND_COUNTS: ThreadCounts = ThreadCounts::register();
}

/// Adds `n` to a counter only this thread writes.
#[inline]
fn bump(counter: &AtomicU64, n: u64) {
    counter.store(counter.load(Relaxed) + n, Relaxed);
}

/// A call of command `id` that ran for `usec`, and failed or not.
#[inline]
pub fn count_call(id: usize, usec: u64, failed: bool) {
    COMMAND_COUNTS.with(|t| {
        let c = &t.0[id];
        bump(&c.calls, 1);
        bump(&c.usec, usec);
        if failed {
            bump(&c.failed, 1);
        }
    });
}

/// A call of command `id` refused before it ran (arity, routing, OOM …).
pub fn count_rejected(id: usize) {
    COMMAND_COUNTS.with(|t| bump(&t.0[id].rejected, 1));
}

/// Every command's totals since the last reset, by command id.
pub fn command_totals() -> Vec<CommandTotals> {
    let state = COMMAND_TABLES.lock();
    let mut totals = sums(&state);
    for (total, base) in totals.iter_mut().zip(&state.baseline) {
        total.calls -= base.calls;
        total.usec -= base.usec;
        total.rejected -= base.rejected;
        total.failed -= base.failed;
    }
    totals
}

/// What the threads' tables, living and ended, add up to.
fn sums(state: &CommandTables) -> Vec<CommandTotals> {
    let mut totals = state.retired.clone();
    totals.resize(CommandTable::get().all.len(), CommandTotals::default());
    for table in &state.tables {
        add_table(&mut totals, table);
    }
    totals
}

fn add_table(totals: &mut Vec<CommandTotals>, table: &[CommandCounts]) {
    totals.resize(table.len(), CommandTotals::default());
    for (total, c) in totals.iter_mut().zip(table) {
        total.calls += c.calls.load(Relaxed);
        total.usec += c.usec.load(Relaxed);
        total.rejected += c.rejected.load(Relaxed);
        total.failed += c.failed.load(Relaxed);
    }
}

/// INFO errorstats: error replies by their first word (ERR, WRONGTYPE …).
/// Error replies are rare next to commands: one lock is enough. As Redis,
/// at most ERROR_KINDS kinds are told apart, so a client inventing error
/// texts cannot grow the table without bound.
static ERROR_COUNTS: Mutex<Vec<(String, u64)>> = Mutex::new(Vec::new());

const ERROR_KINDS: usize = 128;

pub fn count_error(message: &str) {
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
    let mut state = COMMAND_TABLES.lock();
    state.baseline = sums(&state);
    drop(state);
    ERROR_COUNTS.lock().clear();
}
