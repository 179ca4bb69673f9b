//! Eviction under `maxmemory`, as Redis's evict.c does it: approximated
//! LRU/LFU/TTL by sampling `maxmemory-samples` keys into a pool of the best
//! candidates seen so far (kept across calls, so each call's small sample
//! adds up), and evicting from the best end.
//!
//! A write over the limit first evicts until memory is back under, but for
//! at most `TIME_LIMIT`; then its command runs and a background thread
//! finishes the job in equally short steps, so no request stalls behind a
//! large eviction (Redis's eviction time proc). "The limit" is `maxmemory`
//! less a headroom for what writes add while the memory sample is stale
//! (see `perform`).
//!
//! `allkeys-lfu-lru` scores a key by its LFU counter first and its idle
//! time second. Under Redis's `allkeys-lfu` most keys share a handful of
//! counter values (5 for keys not read since stored, 6 for keys read once
//! or a few times), and the pool picks among them at random; ordering them
//! by idle time evicts first the new keys that were never read again and
//! the keys whose popularity has passed.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rand::Rng;
use slotcache_cluster::SLOT_COUNT;

use super::{access, drop_in_background, Db, Entry};
use crate::clock;
use crate::config::Policy;
use crate::server::Server;

/// Candidates kept between calls (Redis's EVPOOL_SIZE).
const POOL_SIZE: usize = 16;
/// Longest one call evicts before its command may run (Redis's default
/// `maxmemory-eviction-tenacity` gives 500 µs).
const TIME_LIMIT: Duration = Duration::from_micros(500);
/// Keys evicted between looks at the clock (as Redis).
const CHECK_EVERY: usize = 16;
/// How long memory may grow before anyone sees it: `used_memory` is a
/// sample, re-read every millisecond (memory.rs). Twice that, to be safe.
const SAMPLE_LAG: Duration = Duration::from_millis(2);
/// Before any write rate is known, eviction starts this fraction of the
/// limit below it.
const INITIAL_HEADROOM: u64 = 32;
/// Values with more elements are freed off-thread (Redis's LAZYFREE_THRESHOLD).
const LAZYFREE_THRESHOLD: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Memory is under the limit.
    Ok,
    /// Still over, but the background thread carries on evicting.
    Running,
    /// Over the limit and nothing can be evicted: writes get -OOM.
    Fail,
}

struct Candidate {
    score: u64,
    slot: u16,
    /// The sampled entry's `Entry::id`: a key sampled again is found by
    /// it before its bytes are compared.
    at: usize,
    key: Box<[u8]>,
}

struct Pool {
    /// Scores of different policies do not compare: a policy change empties it.
    policy: Policy,
    /// Ascending by score; the last is evicted first.
    candidates: Vec<Candidate>,
    /// Unix ms the scores are as of (see `age`).
    scored_at: u64,
    /// When the last eviction pass got under the limit, and memory then.
    settled: Option<(Instant, u64)>,
    /// The last pass ran out of time: the next one carries on with its
    /// headroom, as the rate since `settled` no longer tells anything.
    unfinished: bool,
    /// `maxmemory`, and whether the policy evicts, as last set.
    limit: (u64, bool),
}

pub struct Evictor {
    /// Also serialises evictions: two writers over the limit would each free
    /// the whole excess if they measured it at the same time.
    pool: Mutex<Pool>,
    /// Bytes below `maxmemory` where writes start evicting (see `perform`).
    headroom: AtomicU64,
    background: OnceLock<Thread>,
}

impl Default for Evictor {
    fn default() -> Self {
        Evictor {
            pool: Mutex::new(Pool {
                policy: Policy::NoEviction,
                candidates: Vec::with_capacity(POOL_SIZE),
                scored_at: 0,
                settled: None,
                unfinished: false,
                limit: (0, false),
            }),
            headroom: AtomicU64::new(0),
            background: OnceLock::new(),
        }
    }
}

impl Evictor {
    /// Writes evict once memory is within this many bytes of the limit.
    pub fn headroom(&self) -> u64 {
        self.headroom.load(Relaxed)
    }

    /// Called on every settings change. When the limit or policy changed:
    /// forgets the write rate (sized for another limit) and evicts now if
    /// over, even with no write arriving (Redis's startEvictionTimeProc).
    pub fn limit_changed(&self, max: u64, evicting: bool) {
        let mut pool = self.pool.lock();
        if pool.limit == (max, evicting) {
            return;
        }
        pool.limit = (max, evicting);
        pool.settled = None;
        pool.unfinished = false;
        drop(pool);
        // No rate known yet: start with room for a brisk one rather than
        // overshoot on the first approach to the limit.
        let headroom = if evicting { max / INITIAL_HEADROOM } else { 0 };
        self.headroom.store(headroom, Relaxed);
        self.wake();
    }

    /// Asks the background thread to evict until under the limit.
    fn wake(&self) {
        if let Some(thread) = self.background.get() {
            thread.unpark();
        }
    }
}

/// Starts the background eviction thread. It holds only a weak reference,
/// and `exclusive` for reading during each step, like any batch of commands.
pub fn start_background(server: &Arc<Server>) {
    let weak = Arc::downgrade(server);
    let thread = std::thread::Builder::new()
        .name("evictor".into())
        .spawn(move || {
            crate::memory::count_this_thread();
            loop {
                std::thread::park();
                loop {
                    let Some(server) = weak.upgrade() else {
                        return;
                    };
                    let _shared = server.db.exclusive.read();
                    if evict(&server, true) != Outcome::Running {
                        break;
                    }
                }
            }
        })
        .expect("spawn evictor");
    let _ = server.db.evictor.background.set(thread.thread().clone());
}

/// Redis's performEvictions: evicts until used memory is under `maxmemory`
/// (less the headroom) or `TIME_LIMIT` passed. Must not be called while
/// holding a slot lock.
///
/// Unlike Redis's exact counter, `used_memory` is a sample a few ms old, and
/// a write flood adds that much more before anyone looks again. So eviction
/// starts, and stops, below the limit by what writes add within SAMPLE_LAG,
/// at the rate memory grew since the last pass; with light writes that is
/// next to nothing, as in Redis.
pub fn perform(server: &Server) -> Outcome {
    evict(server, false)
}

/// `perform`, for a writer or for the background thread, which waits for
/// the pool where a writer would go on (it would otherwise spin, on a lock
/// every batch takes, for as long as a writer evicts).
fn evict(server: &Server, background: bool) -> Outcome {
    let max = server.hot.maxmemory.load(Relaxed);
    if max == 0 {
        return Outcome::Ok;
    }
    // It may wait for the pool, whose holder may wait for any slot.
    super::release_kept();
    let (policy, samples) = {
        let c = server.config.read();
        (
            c.maxmemory_policy,
            c.maxmemory_samples.clamp(1, 64) as usize,
        )
    };
    let evictor = &server.db.evictor;
    if policy == Policy::NoEviction {
        // Refusing writes early would be wrong: only the limit counts.
        evictor.headroom.store(0, Relaxed);
        return if server.memory.used() > max {
            Outcome::Fail
        } else {
            Outcome::Ok
        };
    }
    let db = &server.db;
    let mut pool = match evictor.pool.try_lock() {
        Some(pool) => pool,
        // Another writer or the background thread is evicting: while memory
        // is not over the limit itself (eviction starts below it), this
        // write need not wait for that.
        None if !background && server.memory.used() <= max => return Outcome::Running,
        None => evictor.pool.lock(),
    };
    if pool.policy != policy {
        pool.policy = policy;
        pool.candidates.clear();
    }
    let started = Instant::now();
    // The periodic sample may be a millisecond old.
    let mut used = server.memory.refresh();
    let before = evictor.headroom();
    if used <= max.saturating_sub(before) {
        return Outcome::Ok;
    }
    let headroom = headroom(&pool, before, used, started, max);
    evictor.headroom.store(headroom, Relaxed);
    let target = max.saturating_sub(headroom);
    let mut evicted = 0;
    while used > target {
        // Evict by the sizes of the keys, then ask the allocator, which also
        // sees rounding and values freed off-thread.
        let to_free = (used - target) as usize;
        let mut freed = 0;
        let mut out_of_time = false;
        while freed < to_free && !out_of_time {
            let Some(bytes) = evict_one(db, &mut pool, samples) else {
                // Nothing to make room with: only the limit itself counts.
                evictor.headroom.store(0, Relaxed);
                return wait_for_lazyfree(server, max);
            };
            freed += bytes;
            evicted += 1;
            out_of_time = evicted % CHECK_EVERY == 0 && started.elapsed() >= TIME_LIMIT;
        }
        // Also leaves a fresh sample, so the next writer does not evict what
        // this pass already freed.
        used = server.memory.refresh();
        if out_of_time && used > target {
            evictor.wake();
            pool.unfinished = true;
            return Outcome::Running;
        }
    }
    if evicted > 0 {
        pool.settled = Some((Instant::now(), server.memory.used()));
        pool.unfinished = false;
    }
    Outcome::Ok
}

/// What writes add within SAMPLE_LAG, at the rate seen since the last pass
/// settled: rises at once, falls by quarters, at most an eighth of the limit;
/// unchanged while no rate is known or the last pass was cut short.
fn headroom(pool: &Pool, before: u64, used: u64, now: Instant, max: u64) -> u64 {
    let Some((at, then)) = pool.settled.filter(|_| !pool.unfinished) else {
        return before;
    };
    let elapsed = now.duration_since(at).max(Duration::from_millis(1));
    let grown = used.saturating_sub(then) as f64;
    let fresh = (grown * SAMPLE_LAG.as_secs_f64() / elapsed.as_secs_f64()) as u64;
    fresh.max(before - before / 4).min(max / 8)
}

/// No key left to evict while over `max`. Values still being freed off
/// thread (FLUSHALL, big deletions) count in `used_memory` until they are:
/// as Redis's cant_free, wait a little for them; while some remain, let
/// the write through rather than refuse it for memory that is garbage.
fn wait_for_lazyfree(server: &Server, max: u64) -> Outcome {
    let started = Instant::now();
    loop {
        if server.memory.refresh() <= max {
            return Outcome::Ok;
        }
        if !super::lazyfree_pending() {
            return Outcome::Fail;
        }
        if started.elapsed() >= TIME_LIMIT {
            return Outcome::Running;
        }
        std::thread::sleep(Duration::from_micros(100));
    }
}

/// Evicts the best key under the pool's policy; returns the bytes it held,
/// or None when no key qualifies.
fn evict_one(db: &Db, pool: &mut Pool, samples: usize) -> Option<usize> {
    let policy = pool.policy;
    let volatile = volatile_only(policy);
    if matches!(policy, Policy::AllKeysRandom | Policy::VolatileRandom) {
        // Random needs no pool: any one sampled key will do.
        loop {
            let mut picked = None;
            if sample(db, volatile, 1, |slot, e| {
                picked = Some((slot, Box::from(e.key())))
            }) == 0
            {
                return None;
            }
            let (slot, key) = picked?;
            if let Some(bytes) = remove(db, volatile, slot, &key) {
                return Some(bytes);
            }
        }
    }
    loop {
        let ms = clock::unix_ms();
        age(pool, ms);
        let candidates = &mut pool.candidates;
        if sample(db, volatile, samples, |slot, e| {
            offer(candidates, score(db, policy, e, ms), slot, e.id(), || {
                e.key()
            })
        }) == 0
        {
            return None;
        }
        // Candidates may have been deleted or lost their TTL since sampled.
        while let Some(best) = pool.candidates.pop() {
            if let Some(bytes) = remove(db, volatile, best.slot, &best.key) {
                return Some(bytes);
            }
        }
    }
}

fn volatile_only(policy: Policy) -> bool {
    matches!(
        policy,
        Policy::VolatileLru | Policy::VolatileLfu | Policy::VolatileRandom | Policy::VolatileTtl
    )
}

/// Bits of an `allkeys-lfu-lru` score under the counter: the idle ticks.
const IDLE_BITS: u32 = 24;

/// Higher is evicted sooner (Redis's `idle` in evictionPoolPopulate).
/// `ms` is the unix time, read once per sample.
fn score(db: &Db, policy: Policy, e: &Entry, ms: u64) -> u64 {
    let access = &db.access;
    match policy {
        Policy::AllKeysLru | Policy::VolatileLru => access.idle_secs_at(e.access(), ms),
        Policy::AllKeysLfu | Policy::VolatileLfu => {
            255 - access.decayed_counter_at(e.access(), ms) as u64
        }
        // Counter first, then idle time (which needs 24 bits).
        Policy::AllKeysLfuLru => {
            let counter = access.decayed_counter_at(e.access(), ms) as u64;
            (255 - counter) << IDLE_BITS | access.idle_ticks_at(e.access(), ms) as u64
        }
        // Soonest expiry first.
        Policy::VolatileTtl => u64::MAX - e.expire_at().unwrap_or(u64::MAX),
        Policy::NoEviction | Policy::AllKeysRandom | Policy::VolatileRandom => 0,
    }
}

/// Brings the pool's idle-time scores to unix time `ms`. Kept as sampled,
/// a candidate that waited in the pool loses to a key sampled later that
/// has been idle for less time: with eviction calls spread over a busy
/// second, keys written last were evicted before keys 50 ms older.
/// Every candidate ages alike, so the order holds; under
/// `allkeys-lfu-lru` the idle part saturates rather than carry into the
/// counter's bits.
fn age(pool: &mut Pool, ms: u64) {
    let growth = access::idle_growth(pool.policy, pool.scored_at, ms);
    pool.scored_at = ms;
    if growth == 0 {
        return;
    }
    let idle_mask = if pool.policy == Policy::AllKeysLfuLru {
        (1 << IDLE_BITS) - 1
    } else {
        u64::MAX
    };
    for c in &mut pool.candidates {
        c.score = aged(c.score, growth, idle_mask);
    }
}

/// `score` with `growth` added to its bits under `idle_mask`, saturating there.
fn aged(score: u64, growth: u64, idle_mask: u64) -> u64 {
    (score & !idle_mask) | (score & idle_mask).saturating_add(growth).min(idle_mask)
}

/// Adds a sampled key to the pool if it beats the worst candidate or there
/// is room; a key already pooled just gets its new score. `at` tells the
/// key's entry apart (where its block is); `key` reads the key, which is
/// a cache miss per sampled entry: only the few that enter the pool pay it.
fn offer<'k>(
    pool: &mut Vec<Candidate>,
    score: u64,
    slot: u16,
    at: usize,
    key: impl Fn() -> &'k [u8],
) {
    // A key rewritten since (moved) may be pooled twice: evicting the
    // second copy then finds nothing, and the pool moves on.
    if let Some(i) = pool
        .iter()
        .position(|c| c.at == at && c.slot == slot && *c.key == *key())
    {
        pool.remove(i);
    } else if pool.len() == POOL_SIZE {
        if score <= pool[0].score {
            return;
        }
        pool.remove(0);
    }
    let rank = pool.partition_point(|c| c.score < score);
    pool.insert(
        rank,
        Candidate {
            score,
            slot,
            at,
            key: key().into(),
        },
    );
}

/// Shows `visit` up to `count` keys (only keys with a TTL if `volatile`):
/// from a random slot onwards, a run of keys from a random position in the
/// first slot that has any, then the next such slot, as Redis's
/// dictGetSomeKeys takes neighbouring buckets. Returns how many it showed;
/// 0 only when no key qualifies.
fn sample(db: &Db, volatile: bool, count: usize, mut visit: impl FnMut(u16, &Entry)) -> usize {
    let mut rng = rand::thread_rng();
    let start = rng.gen_range(0..SLOT_COUNT);
    let mut seen = 0;
    for i in 0..SLOT_COUNT {
        let at = (start + i) % SLOT_COUNT;
        let slot = db.lock_slot(at);
        let available = if volatile {
            slot.volatile
        } else {
            slot.table.len()
        };
        if available == 0 {
            continue;
        }
        let skip = rng.gen_range(0..available);
        let take = available.min(count - seen);
        let qualifying = || {
            slot.table
                .iter()
                .filter(move |e| !volatile || e.expire_at().is_some())
        };
        for e in qualifying().skip(skip).chain(qualifying()).take(take) {
            visit(at as u16, e);
        }
        seen += take;
        if seen == count {
            break;
        }
    }
    seen
}

/// Evicts one key if it still qualifies; returns the bytes it held.
fn remove(db: &Db, volatile: bool, slot: u16, key: &[u8]) -> Option<usize> {
    let hash = db.hash(key);
    let entry = {
        let mut slot = db.lock_slot(slot as usize);
        let found = slot.table.find_entry(hash, |e| e.key() == key).ok()?;
        let has_ttl = found.get().expire_at().is_some();
        if volatile && !has_ttl {
            return None;
        }
        let (entry, _) = found.remove();
        slot.volatile -= has_ttl as usize;
        // A table never shrinks by itself, so churn ratchets it up: each
        // slot's key count peaks now and then and the table keeps the room.
        // Give it back once the keys fit in half the buckets with room for
        // one more (so a slot going back and forth over the line does not
        // resize each time): slots hold ~10 keys, and waiting for fewer
        // kept many at twice the size (bench/hitrate at 32mb: 165k keys
        // held instead of 173k).
        let len = slot.table.len();
        if slot.table.capacity() > 2 * len + 1 {
            slot.table.shrink_to(len, |e| db.hash(e.key()));
        }
        slot.watchers.touch(key);
        entry
    };
    db.evicted_keys.fetch_add(1, Relaxed);
    let bytes = entry.memory_usage();
    if entry.object().is_some_and(|o| o.len() > LAZYFREE_THRESHOLD) {
        drop_in_background(entry);
    }
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::AccessPolicy;

    fn db_with(keys: usize, ttl_every: usize) -> Db {
        let db = Db::new(AccessPolicy::new(false, 10, 1));
        for i in 0..keys {
            let key = format!("key:{i}");
            let ttl = (ttl_every != 0 && i % ttl_every == 0).then_some(1_000_000 + i as u64);
            db.lock([&key], 0).set_string(key.as_bytes(), b"v", ttl);
        }
        db
    }

    fn pool(policy: Policy) -> Pool {
        Pool {
            policy,
            candidates: Vec::new(),
            scored_at: 0,
            settled: None,
            unfinished: false,
            limit: (0, false),
        }
    }

    /// Test keys are told apart by where their bytes are, as entries by
    /// where their blocks are.
    fn id(key: &[u8]) -> usize {
        key.as_ptr() as usize
    }

    #[test]
    fn pooled_scores_age_with_the_clock() {
        let mut p = pool(Policy::AllKeysLru);
        p.scored_at = 10_000;
        offer(&mut p.candidates, 3, 0, id(b"a"), || b"a");
        offer(&mut p.candidates, 7, 0, id(b"b"), || b"b");
        age(&mut p, 12_500);
        let scores: Vec<u64> = p.candidates.iter().map(|c| c.score).collect();
        assert_eq!(scores, [5, 9], "2 whole seconds passed");
        // A key sampled now, idle 8 s, goes after the one idle 9 s.
        offer(&mut p.candidates, 8, 0, id(b"c"), || b"c");
        assert_eq!(&*p.candidates.last().unwrap().key, b"b");

        // allkeys-lfu-lru: the idle part saturates under the counter.
        let mut p = pool(Policy::AllKeysLfuLru);
        let full = (1 << IDLE_BITS) - 1;
        offer(
            &mut p.candidates,
            250 << IDLE_BITS | (full - 1),
            0,
            id(b"a"),
            || b"a",
        );
        offer(&mut p.candidates, 251 << IDLE_BITS, 0, id(b"b"), || b"b");
        age(&mut p, 800);
        let scores: Vec<u64> = p.candidates.iter().map(|c| c.score).collect();
        assert_eq!(scores, [250 << IDLE_BITS | full, 251 << IDLE_BITS | 100]);
    }

    #[test]
    fn pool_keeps_the_best_sorted_and_unique() {
        let mut p = Vec::new();
        let keys: Vec<String> = (0..6).map(|i| format!("k{i}")).collect();
        for (key, score) in keys.iter().zip([5u64, 1, 9, 3, 9, 7]) {
            offer(&mut p, score, 0, id(key.as_bytes()), || key.as_bytes());
        }
        offer(&mut p, 2, 0, id(keys[2].as_bytes()), || keys[2].as_bytes());
        let scores: Vec<u64> = p.iter().map(|c| c.score).collect();
        assert_eq!(scores, [1, 2, 3, 5, 7, 9]);
        for i in 0..20u64 {
            let key = format!("x{i}");
            offer(&mut p, 100 + i, 0, id(key.as_bytes()), || key.as_bytes());
        }
        assert_eq!(p.len(), POOL_SIZE);
        assert_eq!(p[0].score, 104, "the worst were pushed out");
        offer(&mut p, 50, 0, id(b"low"), || b"low");
        assert!(p.iter().all(|c| &*c.key != b"low"));
    }

    #[test]
    fn sample_sees_distinct_qualifying_keys() {
        let db = db_with(1000, 4);
        let mut keys = Vec::new();
        let n = sample(&db, true, 10, |_, e| keys.push(e.key().to_vec()));
        assert_eq!(n, 10);
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), 10);
        assert_eq!(sample(&db_with(10, 0), true, 5, |_, _| {}), 0);
    }

    #[test]
    fn volatile_ttl_evicts_soonest_expiry_first() {
        let db = db_with(300, 3);
        let mut p = pool(Policy::VolatileTtl);
        let mut total = 0;
        while evict_one(&db, &mut p, 64).is_some() {
            total += 1;
        }
        assert_eq!(total, 100, "only keys with a TTL are evicted");
        assert_eq!(db.key_count(), (200, 0));
        assert_eq!(db.evicted_keys.load(Relaxed), 100);
        // With every key sampled, the order is exact: key:0 expires first.
        let db = db_with(30, 1);
        let mut p = pool(Policy::VolatileTtl);
        evict_one(&db, &mut p, 64).unwrap();
        assert!(!db.lock([b"key:0"], 0).exists(b"key:0"));
    }

    #[test]
    fn headroom_follows_the_write_rate() {
        let mut p = pool(Policy::AllKeysLru);
        let max = 1 << 30;
        let t0 = Instant::now();
        assert_eq!(headroom(&p, 7, 0, t0, max), 7, "no rate known yet");
        p.settled = Some((t0, 1000));
        // 1 MB in 100 ms: 20 KB within SAMPLE_LAG (2 ms).
        let later = t0 + Duration::from_millis(100);
        assert_eq!(headroom(&p, 0, 1000 + 1_000_000, later, max), 20_000);
        assert_eq!(
            headroom(&p, 400_000, 1000, later, max),
            300_000,
            "falls by quarters"
        );
        assert_eq!(headroom(&p, 0, 100 * max, later, max), max / 8, "capped");
        p.unfinished = true;
        assert_eq!(
            headroom(&p, 5, max, later, max),
            5,
            "kept while a pass is unfinished"
        );
    }

    #[test]
    fn lfu_lru_evicts_the_least_read_then_the_longest_idle() {
        let db = db_with(0, 0);
        db.access.update(Policy::AllKeysLfuLru, 10, 1);
        let key = |i: usize| format!("key:{i}");
        // Keys 0..20 stored a tick apart, so each is idle longer than the next.
        for i in 0..20 {
            db.lock([key(i)], 0)
                .set_string(key(i).as_bytes(), b"v", None);
            std::thread::sleep(Duration::from_millis(10));
        }
        // The oldest five are read once: their counter passes the others'.
        for i in 0..5 {
            assert!(db.lock([key(i)], 0).get(key(i).as_bytes()).is_some());
        }
        // 64 samples see all 20 keys: the order is exact. Under allkeys-lfu
        // the unread keys tie and go in any order; here the oldest go first.
        let mut p = pool(Policy::AllKeysLfuLru);
        for _ in 0..10 {
            evict_one(&db, &mut p, 64).unwrap();
        }
        for i in 0..20 {
            let k = key(i);
            let kept = !(5..15).contains(&i);
            assert_eq!(db.lock([&k], 0).exists(k.as_bytes()), kept, "{k}");
        }
    }

    #[test]
    fn eviction_gives_back_table_room_once_half_would_do() {
        let db = db_with(0, 0);
        // One slot (hash tag), grown to 32 buckets by 15 keys.
        let keys: Vec<String> = (0..15).map(|i| format!("{{t}}{i}")).collect();
        for k in &keys {
            db.lock([k], 0).set_string(k.as_bytes(), b"v", None);
        }
        let slot = slotcache_cluster::key_slot(b"{t}");
        let capacity = || db.lock_slot(slot as usize).table.capacity();
        assert_eq!(capacity(), 28);
        remove(&db, false, slot, keys[0].as_bytes()).unwrap();
        assert_eq!(capacity(), 28, "14 keys would fill 16 buckets");
        remove(&db, false, slot, keys[1].as_bytes()).unwrap();
        assert_eq!(capacity(), 14, "13 keys fit in 16 buckets");
    }

    #[test]
    fn random_evicts_until_empty() {
        let db = db_with(50, 0);
        let mut p = pool(Policy::AllKeysRandom);
        while evict_one(&db, &mut p, 5).is_some() {}
        assert_eq!(db.key_count(), (0, 0));
        assert_eq!(db.evicted_keys.load(Relaxed), 50);
    }
}
