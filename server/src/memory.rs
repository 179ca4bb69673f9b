//! Memory accounting from jemalloc's own statistics. Reading them needs an
//! epoch advance, which is too slow per command, so a sampler thread
//! refreshes `used` every few milliseconds and writes check the sample.
//! Without a memory limit nothing decides on it, and it samples seldom.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use tikv_jemalloc_ctl::{epoch, stats};

#[derive(Default)]
pub struct Memory {
    used: AtomicU64,
    peak: AtomicU64,
    rss: AtomicU64,
}

impl Memory {
    /// Reads the allocator now.
    pub fn refresh(&self) -> u64 {
        let _ = epoch::advance();
        let allocated = stats::allocated::read().unwrap_or(0) as u64;
        // Scripts' interpreters do not count, as in Redis (used_memory_lua).
        let used = allocated.saturating_sub(crate::scripting::lua_memory());
        let rss = stats::resident::read().unwrap_or(0) as u64;
        self.used.store(used, Relaxed);
        self.rss.store(rss, Relaxed);
        self.peak.fetch_max(used, Relaxed);
        used
    }

    pub fn used(&self) -> u64 {
        self.used.load(Relaxed)
    }

    pub fn peak(&self) -> u64 {
        self.peak.load(Relaxed)
    }

    pub fn rss(&self) -> u64 {
        self.rss.load(Relaxed)
    }

    /// Refreshes every 5 ms while `limited` (a `maxmemory` is set), else
    /// every 100 ms: an epoch advance merges every arena's statistics,
    /// ~2% of a busy node's CPU at 5 ms.
    pub fn start_sampler(self: &Arc<Self>, limited: impl Fn() -> bool + Send + 'static) {
        let me = Arc::clone(self);
        std::thread::Builder::new()
            .name("mem-sampler".into())
            .spawn(move || loop {
                me.refresh();
                let every = if limited() { 5 } else { 100 };
                std::thread::sleep(Duration::from_millis(every));
            })
            .expect("spawn memory sampler");
    }
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
