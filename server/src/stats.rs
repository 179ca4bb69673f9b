//! Server-wide counters for INFO stats. Connections count into local
//! `BatchStats` and add them here once per pipelined batch, so the hot path
//! does not bounce these cache lines between cores on every command.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

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
