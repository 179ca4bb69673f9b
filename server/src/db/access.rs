//! Per-entry access metadata, as Redis keeps it in its 24-bit `lru` field:
//! under an LFU policy, 16 bits of minutes (last decrement) and an 8-bit
//! logarithmic counter; otherwise the last access time in seconds.
//! `allkeys-tinylfu` keeps the LFU counter, but its clock counts periods of
//! reads instead of minutes (advanced by `evict.rs`), and reads are also
//! counted in the slots' frequency sketches (`sketch.rs`).

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::Relaxed};

use rand::Rng;

use crate::clock;
use crate::config::Policy;

/// New keys start here so they are not evicted before they can be read.
pub const LFU_INIT_VAL: u8 = 5;

/// The access-tracking settings, read on every lookup.
pub struct AccessPolicy {
    lfu: AtomicBool,
    /// Reads are counted in the slots' sketches (`allkeys-tinylfu`).
    sketch: AtomicBool,
    /// `allkeys-tinylfu`'s LFU clock, in periods of reads.
    period: AtomicU32,
    log_factor: AtomicU32,
    decay_minutes: AtomicU32,
}

impl AccessPolicy {
    pub fn new(lfu: bool, log_factor: u32, decay_minutes: u32) -> Self {
        AccessPolicy {
            lfu: AtomicBool::new(lfu),
            sketch: AtomicBool::new(false),
            period: AtomicU32::new(0),
            log_factor: AtomicU32::new(log_factor),
            decay_minutes: AtomicU32::new(decay_minutes),
        }
    }

    pub fn update(&self, policy: Policy, log_factor: u32, decay_minutes: u32) {
        self.lfu.store(policy.is_lfu(), Relaxed);
        self.sketch.store(policy == Policy::AllKeysTinyLfu, Relaxed);
        self.log_factor.store(log_factor, Relaxed);
        self.decay_minutes.store(decay_minutes, Relaxed);
    }

    pub fn is_lfu(&self) -> bool {
        self.lfu.load(Relaxed)
    }

    #[inline]
    pub fn counts_reads(&self) -> bool {
        self.sketch.load(Relaxed)
    }

    /// The field for a key created now.
    #[inline]
    pub fn fresh(&self) -> u32 {
        if self.is_lfu() {
            (self.clock() << 8) | LFU_INIT_VAL as u32
        } else {
            secs_now()
        }
    }

    /// Records one access.
    #[inline]
    pub fn touch(&self, access: &mut u32) {
        if self.is_lfu() {
            let counter = self.decayed_counter(*access);
            let counter = log_incr(counter, self.log_factor.load(Relaxed));
            *access = (self.clock() << 8) | counter as u32;
        } else {
            *access = secs_now();
        }
    }

    /// The LFU counter after the decay owed since its last update (OBJECT FREQ).
    pub fn decayed_counter(&self, access: u32) -> u8 {
        let counter = (access & 0xff) as u8;
        let decay = self.decay_minutes.load(Relaxed);
        if decay == 0 {
            return counter;
        }
        let last = (access >> 8) & 0xffff;
        let now = self.clock();
        // The minutes field wraps every ~45 days, as in Redis.
        let elapsed = if now >= last {
            now - last
        } else {
            65535 - last + now
        };
        counter.saturating_sub((elapsed / decay).min(255) as u8)
    }

    /// Starts the next period of `allkeys-tinylfu`'s clock.
    pub fn next_period(&self) {
        self.period.fetch_add(1, Relaxed);
    }

    /// `allkeys-tinylfu`'s clock: periods of reads so far.
    #[inline]
    pub fn period(&self) -> u32 {
        self.period.load(Relaxed)
    }

    /// What LFU counters decay by: 16 bits of minutes, as Redis, or of
    /// periods of reads under `allkeys-tinylfu`.
    #[inline]
    fn clock(&self) -> u32 {
        if self.counts_reads() {
            self.period() & 0xffff
        } else {
            minutes_now()
        }
    }

    /// Seconds since the last access (OBJECT IDLETIME, LRU policies).
    pub fn idle_secs(&self, access: u32) -> u64 {
        secs_now().saturating_sub(access) as u64
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

fn minutes_now() -> u32 {
    ((clock::unix_ms() / 60_000) & 0xffff) as u32
}

fn secs_now() -> u32 {
    (clock::unix_ms() / 1000) as u32
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
    fn lru_records_seconds() {
        let policy = AccessPolicy::new(false, 10, 1);
        let mut access = 0;
        policy.touch(&mut access);
        assert!(policy.idle_secs(access) <= 1);
    }
}
