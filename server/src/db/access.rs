//! Per-entry access metadata, as Redis keeps it in its 24-bit `lru` field:
//! under an LFU policy, 16 bits of minutes (last decrement) and an 8-bit
//! logarithmic counter; otherwise the last access time in seconds.
//! `allkeys-lfu-lru` keeps the same counter with 24 bits of last access
//! time in `TICK_MS` units above it, so that eviction can prefer, among
//! keys of equal counter, the one idle longest (see `evict.rs`).

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::Relaxed};

use rand::Rng;

use crate::clock;
use crate::config::Policy;

/// New keys start here so they are not evicted before they can be read.
pub const LFU_INIT_VAL: u8 = 5;
/// `allkeys-lfu-lru`'s clock unit: fine enough to order keys that arrive
/// within a fraction of a second, while 24 bits span 37 hours (Redis's
/// minutes span 45 days; idle times wrap after that, as in Redis).
const TICK_MS: u64 = 8;
const TICKS: u32 = 1 << 24;

/// The access-tracking settings, read on every lookup.
pub struct AccessPolicy {
    lfu: AtomicBool,
    /// The LFU counter sits under a last-access time (`allkeys-lfu-lru`).
    recency: AtomicBool,
    log_factor: AtomicU32,
    decay_minutes: AtomicU32,
}

impl AccessPolicy {
    pub fn new(lfu: bool, log_factor: u32, decay_minutes: u32) -> Self {
        AccessPolicy {
            lfu: AtomicBool::new(lfu),
            recency: AtomicBool::new(false),
            log_factor: AtomicU32::new(log_factor),
            decay_minutes: AtomicU32::new(decay_minutes),
        }
    }

    pub fn update(&self, policy: Policy, log_factor: u32, decay_minutes: u32) {
        self.lfu.store(policy.is_lfu(), Relaxed);
        self.recency.store(policy == Policy::AllKeysLfuLru, Relaxed);
        self.log_factor.store(log_factor, Relaxed);
        self.decay_minutes.store(decay_minutes, Relaxed);
    }

    pub fn is_lfu(&self) -> bool {
        self.lfu.load(Relaxed)
    }

    #[inline]
    fn has_recency(&self) -> bool {
        self.recency.load(Relaxed)
    }

    /// The field for a key created now.
    #[inline]
    pub fn fresh(&self) -> u32 {
        let ms = clock::unix_ms();
        if self.is_lfu() {
            (self.clock(ms) << 8) | LFU_INIT_VAL as u32
        } else {
            secs(ms)
        }
    }

    /// The field for a key RESTOREd with IDLETIME or FREQ (Redis's
    /// objectSetLRUOrLFU): each counts only under its own kind of policy.
    pub fn restored(&self, idle_secs: Option<u64>, freq: Option<u8>) -> u32 {
        let ms = clock::unix_ms();
        match (self.is_lfu(), idle_secs, freq) {
            (true, _, Some(freq)) => (self.clock(ms) << 8) | freq as u32,
            (false, Some(idle), _) => secs(ms).saturating_sub(idle.min(u32::MAX as u64) as u32),
            _ => self.fresh(),
        }
    }

    /// Records one access.
    #[inline]
    pub fn touch(&self, access: &mut u32) {
        let ms = clock::unix_ms();
        if self.is_lfu() {
            let counter = self.decayed_counter_at(*access, ms);
            let counter = log_incr(counter, self.log_factor.load(Relaxed));
            *access = (self.clock(ms) << 8) | counter as u32;
        } else {
            *access = secs(ms);
        }
    }

    /// The LFU counter after the decay owed since its last update (OBJECT FREQ).
    pub fn decayed_counter(&self, access: u32) -> u8 {
        self.decayed_counter_at(access, clock::unix_ms())
    }

    /// The same at unix time `ms`: eviction reads the clock once per sample.
    pub fn decayed_counter_at(&self, access: u32, ms: u64) -> u8 {
        let counter = (access & 0xff) as u8;
        let decay = self.decay_minutes.load(Relaxed);
        if decay == 0 {
            return counter;
        }
        let elapsed = if self.has_recency() {
            (self.idle_ticks_at(access, ms) as u64 * TICK_MS / 60_000) as u32
        } else {
            // The minutes field wraps every ~45 days, as in Redis.
            let last = (access >> 8) & 0xffff;
            let now = self.clock(ms);
            if now >= last {
                now - last
            } else {
                65535 - last + now
            }
        };
        counter.saturating_sub((elapsed / decay).min(255) as u8)
    }

    /// `allkeys-lfu-lru`: time since the last access at unix time `ms`, in
    /// `TICK_MS` units.
    #[inline]
    pub fn idle_ticks_at(&self, access: u32, ms: u64) -> u32 {
        ticks(ms).wrapping_sub(access >> 8) % TICKS
    }

    /// What sits above the LFU counter: 16 bits of minutes, as Redis, or
    /// 24 bits of ticks under `allkeys-lfu-lru`.
    #[inline]
    fn clock(&self, ms: u64) -> u32 {
        if self.has_recency() {
            ticks(ms)
        } else {
            ((ms / 60_000) & 0xffff) as u32
        }
    }

    /// Seconds since the last access (OBJECT IDLETIME, LRU policies).
    pub fn idle_secs(&self, access: u32) -> u64 {
        self.idle_secs_at(access, clock::unix_ms())
    }

    /// The same at unix time `ms`.
    pub fn idle_secs_at(&self, access: u32, ms: u64) -> u64 {
        secs(ms).saturating_sub(access) as u64
    }
}

/// Redis's LFULogIncr: the higher the counter, the less likely a hit raises it.
fn log_incr(counter: u8, log_factor: u32) -> u8 {
    if counter == 255 {
        return 255;
    }
    let base = counter.saturating_sub(LFU_INIT_VAL) as f64;
    let p = 1.0 / (base * log_factor as f64 + 1.0);
    if rand::thread_rng().gen::<f64>() < p {
        counter + 1
    } else {
        counter
    }
}

/// How much idle times read at unix time `from` grew by `to`, in the unit
/// `policy` scores idleness by (seconds for LRU, ticks for
/// `allkeys-lfu-lru`); 0 for policies that do not score by idle time.
pub fn idle_growth(policy: Policy, from: u64, to: u64) -> u64 {
    let unit = match policy {
        Policy::AllKeysLru | Policy::VolatileLru => 1000,
        Policy::AllKeysLfuLru => TICK_MS,
        _ => return 0,
    };
    (to / unit).saturating_sub(from / unit)
}

fn ticks(ms: u64) -> u32 {
    ((ms / TICK_MS) % TICKS as u64) as u32
}

fn secs(ms: u64) -> u32 {
    (ms / 1000) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lfu_counter_grows_logarithmically() {
        // Increments are random: average several keys so the test is stable.
        let policy = AccessPolicy::new(true, 10, 1);
        let keys = 40;
        let total: u32 = (0..keys)
            .map(|_| {
                let mut access = policy.fresh();
                for _ in 0..1000 {
                    policy.touch(&mut access);
                }
                policy.decayed_counter(access) as u32
            })
            .sum();
        // Redis's table for lfu-log-factor 10: 1K hits → about 18.
        let mean = total / keys;
        assert!((14..=22).contains(&mean), "mean counter {mean}");
    }

    #[test]
    fn lfu_lru_keeps_the_counter_under_a_fine_clock() {
        let policy = AccessPolicy::new(true, 10, 1);
        policy.update(Policy::AllKeysLfuLru, 10, 1);
        let mut access = policy.fresh();
        assert_eq!(policy.decayed_counter(access), LFU_INIT_VAL);
        assert!(policy.idle_ticks_at(access, clock::unix_ms()) <= 1);
        // The first hit always counts (Redis's LFULogIncr at the initial value).
        policy.touch(&mut access);
        assert_eq!(policy.decayed_counter(access), LFU_INIT_VAL + 1);
        // Idle 3 minutes 1 tick ago: decays by 3 (lfu-decay-time 1), and
        // the idle time reads back.
        let three_min = (3 * 60_000 / TICK_MS) as u32;
        let ms = clock::unix_ms();
        let old = (ticks(ms).wrapping_sub(three_min) % TICKS) << 8 | 20;
        assert_eq!(policy.decayed_counter_at(old, ms), 17);
        assert_eq!(policy.idle_ticks_at(old, ms), three_min);
    }

    #[test]
    fn lru_records_seconds() {
        let policy = AccessPolicy::new(false, 10, 1);
        let mut access = 0;
        policy.touch(&mut access);
        assert!(policy.idle_secs(access) <= 1);
    }
}
