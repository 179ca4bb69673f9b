//! `allkeys-tinylfu`: a TinyLFU admission filter (Einziger, Friedman,
//! Manes) in front of `allkeys-lfu`. A count-min sketch of 4-bit counters
//! remembers how often each key was read, also keys not held, and halves
//! every count at each period of the policy's clock (twice as many reads as
//! keys held, see `evict::age`), so old popularity fades. Under memory
//! pressure a new key is stored only if it was read more often than the
//! last key evicted (the admission bar, see `evict.rs`), so a scan or a
//! long tail of one-off keys cannot push out keys that are read again.
//!
//! One sketch per slot, sized to the slot's keys: it lives under the slot
//! lock every read already holds, so a read adds a few counter increments
//! and no shared write. A sketch catches up with the periods it missed when
//! next used.

use std::sync::atomic::Ordering::Relaxed;

use super::{slot_of, Locked};

/// Counters per key held (Caffeine uses 16): with conservative updates 8
/// tell the frequencies apart as well at half the memory, which here buys
/// more keys.
const COUNTERS_PER_KEY: usize = 8;
/// A slot with fewer keys is sized as if it held this many.
const MIN_KEYS: usize = 4;
const COUNTER_MAX: u64 = 15;
/// After this many halvings every 4-bit count is 0.
const FORGOTTEN: u32 = 4;
/// Odd multipliers giving four counter positions from one key hash.
const SEEDS: [u64; 4] = [
    0x9e37_79b9_7f4a_7c15,
    0xc2b2_ae3d_27d4_eb4f,
    0x1656_67b1_9e37_79f9,
    0xff51_afd7_ed55_8ccd,
];

#[derive(Default)]
pub struct Sketch {
    /// 16 counters per word; the length is a power of two (or 0 until used).
    words: Vec<u64>,
    /// The clock period the counts are aged to.
    period: u32,
}

impl Sketch {
    /// Records one read of the key with this hash in a slot holding `keys`,
    /// during clock period `period`.
    pub fn record(&mut self, hash: u64, keys: usize, period: u32) {
        self.fit(keys.max(MIN_KEYS));
        for _ in 0..self.behind(period) {
            for w in &mut self.words {
                *w = (*w >> 1) & 0x7777_7777_7777_7777;
            }
        }
        self.period = period;
        // Conservative update: raise only the counters at the minimum, which
        // keeps collisions from inflating the estimates of other keys.
        let at = self.positions(hash);
        let min = at.iter().map(|&c| self.get(c)).min().unwrap_or(0);
        if min < COUNTER_MAX {
            for c in at {
                if self.get(c) == min {
                    self.words[c / 16] += 1 << (c % 16 * 4);
                }
            }
        }
    }

    /// How often the key was read lately, 0 to 15, as of `period`.
    pub fn estimate(&self, hash: u64, period: u32) -> u8 {
        if self.words.is_empty() {
            return 0;
        }
        let at = self.positions(hash);
        let min = at.iter().map(|&c| self.get(c)).min().unwrap_or(0);
        // Halving each counter and then taking the least is the same as
        // halving the least.
        (min >> self.behind(period)) as u8
    }

    /// Halvings owed: periods since the counts were last aged.
    fn behind(&self, period: u32) -> u32 {
        period.wrapping_sub(self.period).min(FORGOTTEN)
    }

    fn get(&self, counter: usize) -> u64 {
        (self.words[counter / 16] >> (counter % 16 * 4)) & COUNTER_MAX
    }

    fn positions(&self, hash: u64) -> [usize; 4] {
        let mask = self.words.len() * 16 - 1;
        SEEDS.map(|seed| (hash.wrapping_mul(seed) >> 32) as usize & mask)
    }

    /// Grows with the slot. A counter's position only gains a high bit when
    /// the table doubles, so copying the table into the new half keeps every
    /// estimate.
    fn fit(&mut self, keys: usize) {
        let want = (keys * COUNTERS_PER_KEY / 16).next_power_of_two();
        if self.words.is_empty() {
            self.words = vec![0; want];
        }
        while self.words.len() < want {
            self.words.extend_from_within(..);
        }
    }
}

impl Locked<'_> {
    /// Counts a read of `key`, held or not, under `allkeys-tinylfu`.
    #[inline]
    pub(super) fn record_read(&mut self, key: &[u8]) {
        let access = &self.db.access;
        if !access.counts_reads() {
            return;
        }
        let hash = self.db.hash(key);
        let slot = slot_of(&mut self.guards, key);
        let keys = slot.table.len();
        slot.sketch.record(hash, keys, access.period());
    }

    /// TinyLFU admission of a write: false when memory is full and `key` is
    /// new and read no more often than the last key evicted. The write is
    /// then dropped, as if its key were evicted at once (and counted so).
    pub(super) fn admits(&mut self, key: &[u8]) -> bool {
        let db = self.db;
        if !db.access.counts_reads() {
            return true;
        }
        let Some(bar) = db.evictor.admission_bar(self.now) else {
            return true;
        };
        let hash = db.hash(key);
        let slot = slot_of(&mut self.guards, key);
        if slot.sketch.estimate(hash, db.access.period()) >= bar
            || slot.table.find(hash, |e| e.key() == key).is_some()
        {
            return true;
        }
        db.evicted_keys.fetch_add(1, Relaxed);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(i: u64) -> u64 {
        i.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ (i << 17)
    }

    #[test]
    fn counts_reads_up_to_fifteen() {
        let mut s = Sketch::default();
        for _ in 0..3 {
            s.record(hash(1), 1000, 0);
        }
        assert_eq!(s.estimate(hash(1), 0), 3);
        assert_eq!(s.estimate(hash(2), 0), 0);
        for _ in 0..100 {
            s.record(hash(1), 1000, 0);
        }
        assert_eq!(s.estimate(hash(1), 0), 15);
    }

    #[test]
    fn growing_keeps_estimates() {
        let mut s = Sketch::default();
        for i in 0..20 {
            for _ in 0..i % 5 {
                s.record(hash(i), 4, 0);
            }
        }
        let before: Vec<u8> = (0..20).map(|i| s.estimate(hash(i), 0)).collect();
        s.fit(4096);
        assert_eq!(s.words.len(), 4096 * COUNTERS_PER_KEY / 16);
        let after: Vec<u8> = (0..20).map(|i| s.estimate(hash(i), 0)).collect();
        assert_eq!(before, after);
    }

    #[test]
    fn counts_halve_with_each_period() {
        let mut s = Sketch::default();
        for _ in 0..12 {
            s.record(hash(7), 100, 3);
        }
        assert_eq!(s.estimate(hash(7), 3), 12);
        assert_eq!(s.estimate(hash(7), 4), 6, "aged when read");
        s.record(hash(8), 100, 5);
        assert_eq!(s.estimate(hash(7), 5), 3, "aged when written");
        assert_eq!(s.estimate(hash(7), 5000), 0, "long forgotten");
    }

    #[test]
    fn estimates_stay_close_with_many_keys() {
        // Ten times more keys read than held, as in a cache; 16 of them are
        // read six times, the rest once, within a period.
        let mut s = Sketch::default();
        let held = 256;
        for i in 0..2400u64 {
            s.record(hash(i), held, 0);
            if i % 150 == 0 {
                for _ in 0..5 {
                    s.record(hash(i), held, 0);
                }
            }
        }
        let mean = |keys: Vec<u64>| {
            keys.iter()
                .map(|&i| s.estimate(hash(i), 0) as f64)
                .sum::<f64>()
                / keys.len() as f64
        };
        let hot = mean((0..2400).step_by(150).collect());
        let cold = mean((0..2400).filter(|i| i % 150 != 0).collect());
        // Collisions lift the estimates by about one, evenly: the order
        // holds, which is all admission and eviction ask.
        assert!((6.0..7.5).contains(&hot), "hot {hot}");
        assert!(cold <= 2.5, "cold {cold}");
        assert!(hot - cold >= 4.0, "hot {hot} cold {cold}");
    }
}
