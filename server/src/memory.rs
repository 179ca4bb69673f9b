//! Memory accounting from jemalloc's own counters. Each thread's jemalloc
//! keeps the bytes it allocated and freed so far (`thread.allocatedp`,
//! `thread.deallocatedp`: counters its fast paths bump anyway); what the
//! node holds is the difference, summed over its threads. Summing costs a
//! few loads, where `stats.allocated` needs an epoch advance that merges
//! every arena's statistics (~100 µs, 5% of a node's CPU when sampled every
//! 5 ms). So `used` is re-read every millisecond under a memory limit and by
//! every eviction pass; RSS still needs the epoch and is sampled seldom.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tikv_jemalloc_ctl::{epoch, raw, stats};

#[derive(Default)]
pub struct Memory {
    used: AtomicU64,
    peak: AtomicU64,
    rss: AtomicU64,
}

impl Memory {
    /// Reads the counters now.
    pub fn refresh(&self) -> u64 {
        // Scripts' interpreters do not count, as in Redis (used_memory_lua).
        let used = held_bytes().saturating_sub(crate::scripting::lua_memory());
        self.used.store(used, Relaxed);
        self.peak.fetch_max(used, Relaxed);
        used
    }

    /// Reads the resident set size from jemalloc (an epoch advance).
    pub fn refresh_rss(&self) -> u64 {
        let _ = epoch::advance();
        let rss = stats::resident::read().unwrap_or(0) as u64;
        self.rss.store(rss, Relaxed);
        rss
    }

    pub fn used(&self) -> u64 {
        self.used.load(Relaxed)
    }

    pub fn peak(&self) -> u64 {
        self.peak.load(Relaxed)
    }

    /// Refreshes `used` every millisecond while `limited` (a `maxmemory` is
    /// set: writes decide on it), else every 100 ms; RSS every 100 ms.
    pub fn start_sampler(self: &Arc<Self>, limited: impl Fn() -> bool + Send + 'static) {
        let me = Arc::clone(self);
        std::thread::Builder::new()
            .name("mem-sampler".into())
            .spawn(move || {
                count_this_thread();
                let mut last_rss = std::time::Instant::now();
                me.refresh_rss();
                loop {
                    me.refresh();
                    if last_rss.elapsed() >= Duration::from_millis(100) {
                        me.refresh_rss();
                        last_rss = std::time::Instant::now();
                    }
                    let every = if limited() { 1 } else { 100 };
                    std::thread::sleep(Duration::from_millis(every));
                }
            })
            .expect("spawn memory sampler");
    }
}

/// One thread's counters: where its jemalloc keeps them.
struct Counters {
    allocated: *const u64,
    deallocated: *const u64,
}

// SAFETY: the pointers are only read under REGISTRY's lock, and a thread
// leaves the registry (its `Counted` drops) before jemalloc lets its
// counters go: Rust's thread-local destructors run before pthread keys'.
unsafe impl Send for Counters {}

impl Counters {
    fn of_this_thread() -> Option<Counters> {
        // SAFETY: both names are jemalloc's, of pointer type.
        unsafe {
            Some(Counters {
                allocated: raw::read::<*mut u64>(b"thread.allocatedp\0").ok()?,
                deallocated: raw::read::<*mut u64>(b"thread.deallocatedp\0").ok()?,
            })
        }
    }

    /// Bytes this thread allocated and has not freed itself (negative when
    /// it freed what other threads allocated).
    fn net(&self) -> i64 {
        // SAFETY: valid while registered (see above). The owner bumps them
        // with plain stores; an aligned 8-byte load is never torn, and a
        // value a moment old is as good as a sample.
        let (allocated, deallocated) = unsafe {
            (
                std::ptr::read_volatile(self.allocated),
                std::ptr::read_volatile(self.deallocated),
            )
        };
        allocated.wrapping_sub(deallocated) as i64
    }
}

struct Registry {
    threads: Vec<Counters>,
    /// Net bytes of the threads that ended.
    ended: i64,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    threads: Vec::new(),
    ended: 0,
});

/// A thread's place in the registry, given up when the thread ends.
struct Counted(Cell<bool>);

impl Drop for Counted {
    fn drop(&mut self) {
        if !self.0.get() {
            return;
        }
        let Some(mine) = Counters::of_this_thread() else {
            return;
        };
        let mut registry = REGISTRY.lock();
        registry.ended += mine.net();
        registry.threads.retain(|c| c.allocated != mine.allocated);
    }
}

thread_local! {
    static COUNTED: Counted = const { Counted(Cell::new(false)) };
}

/// Makes this thread's allocations count in `used_memory`. Every thread
/// that allocates or frees the node's data must call it (memory one thread
/// frees that an uncounted thread allocated would go negative).
pub fn count_this_thread() {
    COUNTED.with(|counted| {
        if counted.0.get() {
            return;
        }
        if let Some(mine) = Counters::of_this_thread() {
            REGISTRY.lock().threads.push(mine);
            counted.0.set(true);
        }
    });
}

/// Bytes allocated and not yet freed, over every counted thread.
fn held_bytes() -> u64 {
    let registry = REGISTRY.lock();
    let held = registry.ended + registry.threads.iter().map(Counters::net).sum::<i64>();
    held.max(0) as u64
}

/// `1.50M`-style sizes, as Redis's `*_human` fields print them.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "K", "M", "G", "T"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes}B")
    } else {
        format!("{value:.2}{}", UNITS[unit])
    }
}
