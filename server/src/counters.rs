//! Counters each thread writes alone and anyone sums (INFO commandstats).
//!
//! A thread adds to its own table with a plain load and store: no
//! read-modify-write and no cache line shared between cores on the hot
//! path. That is sound only because no other thread ever writes a table:
//! a reset does not zero the tables but records their sums as a baseline,
//! and a thread that ends folds its table into `retired` under the lock,
//! so what `totals` reports never goes back between resets. The loom
//! model below checks it (`scripts/test` runs it with
//! `--cfg slotcache_loom`).

use std::sync::atomic::Ordering::Relaxed;

#[cfg(slotcache_loom)]
pub use loom::sync::Arc;
#[cfg(slotcache_loom)]
use loom::sync::{atomic::AtomicU64, Mutex};
#[cfg(not(slotcache_loom))]
pub use std::sync::Arc;
#[cfg(not(slotcache_loom))]
use std::sync::{atomic::AtomicU64, Mutex};

pub struct Registry {
    width: usize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    tables: Vec<Arc<Vec<AtomicU64>>>,
    /// What the tables of threads that ended held.
    retired: Vec<u64>,
    /// The sums at the last reset.
    baseline: Vec<u64>,
}

/// One thread's table; its counts move to the registry's `retired` when
/// it drops.
pub struct Table {
    counts: Arc<Vec<AtomicU64>>,
    registry: Arc<Registry>,
}

impl Registry {
    /// A registry of tables of `width` counters each.
    pub fn new(width: usize) -> Registry {
        Registry {
            width,
            state: Mutex::new(State::default()),
        }
    }

    /// A new table, for one thread to write.
    pub fn register(registry: &Arc<Registry>) -> Table {
        let counts = Arc::new(
            (0..registry.width)
                .map(|_| AtomicU64::new(0))
                .collect::<Vec<_>>(),
        );
        registry.lock().tables.push(Arc::clone(&counts));
        Table {
            counts,
            registry: Arc::clone(registry),
        }
    }

    /// Every counter's total since the last reset.
    pub fn totals(&self) -> Vec<u64> {
        let state = self.lock();
        let mut totals = self.sums(&state);
        for (total, base) in totals.iter_mut().zip(&state.baseline) {
            *total -= base;
        }
        totals
    }

    /// Starts every total again from zero.
    pub fn reset(&self) {
        let mut state = self.lock();
        state.baseline = self.sums(&state);
    }

    /// What the tables, living and retired, add up to.
    fn sums(&self, state: &State) -> Vec<u64> {
        let mut sums = state.retired.clone();
        sums.resize(self.width, 0);
        for table in &state.tables {
            add(&mut sums, table);
        }
        sums
    }

    fn lock(&self) -> impl std::ops::DerefMut<Target = State> + '_ {
        // A panic while holding it leaves counts, not broken invariants.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn add(sums: &mut [u64], table: &[AtomicU64]) {
    for (sum, counter) in sums.iter_mut().zip(table) {
        *sum += counter.load(Relaxed);
    }
}

impl Table {
    /// Adds `n` to counter `i`. Only the owning thread calls this.
    #[inline]
    pub fn add(&self, i: usize, n: u64) {
        let counter = &self.counts[i];
        counter.store(counter.load(Relaxed) + n, Relaxed);
    }
}

impl Drop for Table {
    fn drop(&mut self) {
        let registry = &self.registry;
        let mut state = registry.lock();
        state.tables.retain(|t| !Arc::ptr_eq(t, &self.counts));
        state.retired.resize(registry.width, 0);
        add(&mut state.retired, &self.counts);
    }
}

#[cfg(all(test, slotcache_loom))]
mod loom_tests {
    use super::*;

    /// A thread counts twice and ends (its table retired) while another
    /// reads, resets and reads again: no read goes back, and after the
    /// reset the totals hold at most what was counted.
    #[test]
    fn totals_never_go_back_and_nothing_is_lost() {
        let mut model = loom::model::Builder::new();
        model.preemption_bound = Some(2);
        model.check(|| {
            let registry = Arc::new(Registry::new(1));
            let counter = {
                let registry = Arc::clone(&registry);
                loom::thread::spawn(move || {
                    let table = Registry::register(&registry);
                    table.add(0, 1);
                    table.add(0, 1);
                })
            };
            let before = registry.totals()[0];
            registry.reset();
            let after_reset = registry.totals()[0];
            counter.join().unwrap();
            let end = registry.totals()[0];
            assert!(before <= 2 && after_reset <= end && end <= 2 - before);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_that_ends_keeps_its_counts() {
        let registry = Arc::new(Registry::new(2));
        let kept = Registry::register(&registry);
        kept.add(1, 5);
        let ended = Registry::register(&registry);
        ended.add(0, 3);
        drop(ended);
        assert_eq!(registry.totals(), [3, 5]);
        registry.reset();
        kept.add(1, 1);
        assert_eq!(registry.totals(), [0, 1]);
    }
}
