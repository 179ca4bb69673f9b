//! The keyspace, organised per hash slot: 16,384 small tables, each behind
//! its own lock. Slot-sized tables make cluster operations (counting,
//! listing and moving the keys of a slot) cheap, and two clients touching
//! different slots never wait for each other.
//!
//! A command locks the slots of all its keys (found from the command table)
//! before it runs, in slot order so that two multi-key commands cannot
//! deadlock; that makes every command atomic. EXEC holds the slots of all
//! its commands' keys for the whole transaction (`Db::hold`); scripts, and
//! transactions with a command that may walk the keyspace, take `exclusive`
//! for writing, which no batch of ordinary commands holds.

pub mod access;
pub mod dump;
pub mod entry;
pub mod evict;
pub mod object;
mod probe;
pub mod thin;
pub mod watch;

use std::cell::{Cell, RefCell};
use std::hash::BuildHasher;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{mpsc, OnceLock};
use std::time::Duration;

use hashbrown::hash_table::{Entry as TableEntry, HashTable};
use hashbrown::DefaultHashBuilder;
use parking_lot::{Mutex, MutexGuard, RwLock};
use rand::Rng;
use slotcache_cluster::{key_slot, SLOT_COUNT};
use smallvec::SmallVec;

use probe::prefetch;

pub use access::AccessPolicy;
pub use entry::{Entry, Value};
pub use object::Object;

#[derive(Default)]
pub struct Slot {
    table: HashTable<Entry>,
    /// Keys in this slot that carry an expiry.
    volatile: usize,
    /// Clients WATCHing keys of this slot.
    watchers: watch::Watchers,
}

impl Slot {
    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn volatile(&self) -> usize {
        self.volatile
    }

    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.table.iter()
    }

    /// Makes room for one more key. A delete leaves a tombstone in a table
    /// this full (a slot holds a few dozen keys at 7/8 load), and once
    /// tombstones use up the spare room hashbrown doubles the table, which
    /// the next eviction shrinks back: under eviction churn, two rehashes
    /// (each reading every key) every few writes to the slot. One rebuild
    /// at the size the keys need clears the tombstones instead.
    fn reserve_one(&mut self, hasher: &DefaultHashBuilder) {
        if self.table.len() < self.table.capacity() {
            return;
        }
        // Every key is read to be hashed again: ask for them all at once.
        for entry in self.table.iter() {
            prefetch(entry.id());
        }
        let hash = |e: &Entry| hasher.hash_one(e.key());
        let mut rebuilt = HashTable::with_capacity(self.table.len() + 1);
        for entry in self.table.drain() {
            rebuilt.insert_unique(hash(&entry), entry, hash);
        }
        self.table = rebuilt;
    }
}

/// A slot's lock and table header, alone on one cache line: a command
/// touches one line to lock its slot and find its table, and the next
/// command's line can be fetched ahead (`Db::next_in_batch`).
#[repr(align(64))]
#[derive(Default)]
struct SlotLock {
    slot: Mutex<Slot>,
    /// The table's `probe::hint`, readable without the lock, so the next
    /// command's lookup can be fetched ahead too; refreshed on every insert.
    probe: AtomicU64,
}

impl Deref for SlotLock {
    type Target = Mutex<Slot>;
    fn deref(&self) -> &Mutex<Slot> {
        &self.slot
    }
}

impl SlotLock {
    #[inline]
    fn note_probe(&self, hint: u64) {
        if self.probe.load(Relaxed) != hint {
            self.probe.store(hint, Relaxed);
        }
    }
}

pub struct Db {
    slots: Box<[SlotLock]>,
    hasher: DefaultHashBuilder,
    pub access: AccessPolicy,
    /// Held for reading by every batch of ordinary commands, for writing by
    /// whatever must run with no other command in between (EXEC, scripts).
    pub exclusive: RwLock<()>,
    /// A batch holds `exclusive` alone (commands::Alone).
    pub alone_held: AtomicBool,
    /// Told when a batch lets go of `exclusive` held alone, or a script
    /// starts or ends: what waiting connections wait for.
    pub exclusive_changed: tokio::sync::Notify,
    pub expired_keys: AtomicU64,
    pub evicted_keys: AtomicU64,
    pub evictor: evict::Evictor,
    /// Where the background expiry sweep resumes.
    sweep_cursor: AtomicU64,
}

impl Db {
    pub fn new(access: AccessPolicy) -> Db {
        Db {
            slots: (0..SLOT_COUNT).map(|_| SlotLock::default()).collect(),
            hasher: DefaultHashBuilder::default(),
            access,
            exclusive: RwLock::new(()),
            alone_held: AtomicBool::new(false),
            exclusive_changed: tokio::sync::Notify::new(),
            expired_keys: AtomicU64::new(0),
            evicted_keys: AtomicU64::new(0),
            evictor: evict::Evictor::default(),
            sweep_cursor: AtomicU64::new(0),
        }
    }

    #[inline]
    fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    /// Locks the slots of `keys` (any order, duplicates allowed).
    pub fn lock<'a, I, K>(&'a self, keys: I, now: u64) -> Locked<'a>
    where
        I: IntoIterator<Item = K>,
        K: AsRef<[u8]>,
    {
        let mut slots: SmallVec<[u16; 4]> =
            keys.into_iter().map(|k| key_slot(k.as_ref())).collect();
        slots.sort_unstable();
        slots.dedup();
        let guards = slots.into_iter().map(|s| (s, self.guard(s))).collect();
        Locked {
            db: self,
            guards,
            now,
            hits: 0,
            misses: 0,
            read_only: false,
            handed: Vec::new(),
        }
    }

    /// Told, before each command of a pipelined batch, the first key of the
    /// command after it (`key`) and of the one after that (`after`). If the
    /// current command locks only the next one's slot, its lock is kept for
    /// it instead of released (`Locked`'s drop): a batch on one hot key then
    /// takes its lock once, where two threads handing it back and forth per
    /// command spent more than the commands. And the cache misses of
    /// consecutive commands overlap, two deep: `after`'s slot line is
    /// fetched now, and `key`'s place in its table, from the probe hint in
    /// its slot line (fetched one command ago). A run of commands on one
    /// slot has its lines here already; what the next one may miss is the
    /// `member` it looks up in the key's collection, fetched ahead while
    /// this thread keeps the slot locked for it.
    #[inline]
    pub fn next_in_batch<'k>(
        &self,
        key: Option<&[u8]>,
        member: impl FnOnce() -> Option<&'k [u8]>,
        after: impl FnOnce() -> Option<&'k [u8]>,
    ) {
        let slot = key.map(key_slot);
        let same_as_now = slot.is_some() && NEXT.get() == slot;
        NEXT.set(slot);
        let (Some(slot), Some(key)) = (slot, key) else {
            return;
        };
        if same_as_now {
            if KEPT.get() == Some((self as *const Db, slot)) {
                if let Some(member) = member() {
                    // SAFETY: this thread holds the slot's lock (kept for
                    // the command about to run), and no guard of it is alive.
                    let held = unsafe { &*self.slots[slot as usize].data_ptr() };
                    let entry = held.table.find(self.hash(key), |e| e.key() == key);
                    if let Some(object) = entry.and_then(Entry::object) {
                        object.prefetch_member(member);
                    }
                }
            }
            return;
        }
        if let Some(after) = after() {
            prefetch(&self.slots[key_slot(after) as usize] as *const SlotLock as usize);
        }
        let lock = &self.slots[slot as usize];
        prefetch(lock as *const SlotLock as usize);
        probe::prefetch_lookup::<Entry>(lock.probe.load(Relaxed), self.hash(key));
    }

    /// Locks one slot by number (for per-slot walks: SCAN, KEYS, expiry).
    pub fn lock_slot(&self, slot: usize) -> SlotGuard<'_> {
        self.guard(slot as u16)
    }

    /// A slot's lock: the one this thread's EXEC holds, the one kept for
    /// this command by the one before, or its own. A kept lock of another
    /// slot is let go first: nothing waits for a lock while keeping one.
    #[inline]
    fn guard(&self, slot: u16) -> SlotGuard<'_> {
        let mutex = &self.slots[slot as usize];
        if HELD.with_borrow(|held| !held.is_empty() && held.contains(&slot)) {
            // SAFETY: this thread locked it in `hold`, and that `Held` lives
            // until the transaction's last command is done with this guard.
            return SlotGuard::Held(ManuallyDrop::new(unsafe { mutex.make_guard_unchecked() }));
        }
        if let Some(kept) = KEPT.get() {
            if kept == (self as *const Db, slot) {
                KEPT.set(None);
                // SAFETY: locked by this thread, its guard forgotten by the
                // previous command's `Locked` when it kept it.
                return SlotGuard::Own(unsafe { mutex.make_guard_unchecked() });
            }
            release_kept();
        }
        if let Some(guard) = mutex.try_lock() {
            return SlotGuard::Own(guard);
        }
        let until = crate::clock::unix_us() + SPIN_US;
        loop {
            for _ in 0..SPIN_BETWEEN_CLOCK_READS {
                std::hint::spin_loop();
                if let Some(guard) = mutex.try_lock() {
                    return SlotGuard::Own(guard);
                }
            }
            if crate::clock::unix_us() >= until {
                return SlotGuard::Own(mutex.lock());
            }
        }
    }

    /// Locks the slots of `keys` for a whole transaction. Until `Held`
    /// drops, a command on this thread locking one of them uses this lock
    /// instead of waiting for it. Like `lock`, in slot order, all at once.
    pub fn hold<K: AsRef<[u8]>>(&self, keys: impl IntoIterator<Item = K>) -> Held<'_> {
        release_kept();
        let mut slots: SmallVec<[u16; 8]> =
            keys.into_iter().map(|k| key_slot(k.as_ref())).collect();
        slots.sort_unstable();
        slots.dedup();
        let guards = slots
            .iter()
            .map(|&s| self.slots[s as usize].lock())
            .collect();
        HELD.with_borrow_mut(|held| {
            debug_assert!(held.is_empty(), "transactions do not nest");
            held.extend_from_slice(&slots);
        });
        Held { guards }
    }

    /// Adds `slot` to this thread's `held` ones: a script that wrote
    /// already may still reach a key it did not declare. After every slot
    /// held, it waits as long as it takes, as multi-key commands lock in
    /// slot order; before one of them, only if the lock can be had within
    /// `within`, since waiting out of order could deadlock with a command
    /// holding that slot and waiting, in order, for one of ours.
    pub fn hold_more<'a>(&'a self, held: &mut Held<'a>, slot: u16, within: Duration) -> bool {
        let lock = &self.slots[slot as usize];
        let in_order = HELD.with_borrow(|h| h.iter().all(|&s| s < slot));
        let guard = if in_order {
            lock.lock()
        } else {
            match lock.try_lock_for(within) {
                Some(guard) => guard,
                None => return false,
            }
        };
        held.guards.push(guard);
        HELD.with_borrow_mut(|h| h.push(slot));
        true
    }

    pub fn key_count(&self) -> (usize, usize) {
        (0..SLOT_COUNT as u16).fold((0, 0), |(keys, vol), i| {
            let s = self.guard(i);
            (keys + s.len(), vol + s.volatile)
        })
    }

    pub fn flush(&self) -> usize {
        self.flush_slots(0..SLOT_COUNT)
    }

    /// Empties the given slots (FLUSHALL: all of them; cluster mode: the
    /// slots another node took over), freeing the keys off-thread.
    /// Returns the number of keys removed.
    pub fn flush_slots(&self, slots: impl IntoIterator<Item = usize>) -> usize {
        let mut removed = 0;
        let mut old_slots = Vec::new();
        for i in slots {
            let mut slot = self.guard(i as u16);
            if slot.len() > 0 {
                removed += slot.len();
                let Slot {
                    table, watchers, ..
                } = &mut *slot;
                watchers.touch_existing(|k| table.find(self.hash(k), |e| e.key() == k).is_some());
                // Watches of keys that were not there stay.
                let watchers = std::mem::take(&mut slot.watchers);
                old_slots.push(std::mem::take(&mut *slot));
                slot.watchers = watchers;
            }
        }
        drop_in_background(old_slots);
        removed
    }

    /// One step of the background expiry sweep: visits slots from where the
    /// last step stopped, removing expired keys, until `budget_keys` entries
    /// were examined or every slot was seen. Returns how many keys with a
    /// TTL it saw, and how many of them it removed.
    pub fn sweep_expired(&self, now: u64, budget_keys: usize) -> (usize, usize) {
        let mut examined = 0;
        let mut volatile_seen = 0;
        let mut removed = 0;
        for _ in 0..SLOT_COUNT {
            if examined >= budget_keys {
                break;
            }
            let at = self.sweep_cursor.fetch_add(1, Relaxed) as usize % SLOT_COUNT;
            // A slot held (by a long script, say) is left for the next
            // sweep: waiting would take a worker from every client.
            let Some(mut slot) = self.slots[at].try_lock() else {
                continue;
            };
            let slot = &mut *slot;
            if slot.volatile == 0 {
                continue;
            }
            examined += slot.table.len();
            volatile_seen += slot.volatile;
            let before = slot.table.len();
            let mut gone_volatile = 0;
            let watchers = &mut slot.watchers;
            slot.table.retain(|e| {
                let expired = e.is_expired(now);
                if expired {
                    watchers.touch(e.key());
                }
                gone_volatile += expired as usize;
                !expired
            });
            slot.volatile -= gone_volatile;
            removed += before - slot.table.len();
        }
        self.expired_keys.fetch_add(removed as u64, Relaxed);
        (volatile_seen, removed)
    }

    /// A random live key, or None when the keyspace is empty.
    pub fn random_key(&self, now: u64) -> Option<Vec<u8>> {
        let mut rng = rand::thread_rng();
        let start = rng.gen_range(0..SLOT_COUNT);
        for i in 0..SLOT_COUNT {
            let slot = self.guard(((start + i) % SLOT_COUNT) as u16);
            let live: Vec<&Entry> = slot.table.iter().filter(|e| !e.is_expired(now)).collect();
            if !live.is_empty() {
                return Some(live[rng.gen_range(0..live.len())].key().to_vec());
            }
        }
        None
    }
}

/// Big values are freed on another thread so the client that deleted them,
/// and everyone waiting on its slot, does not pay for it (Redis's lazyfree).
/// One long-lived thread takes them from a channel: spawning per value would
/// cost more than freeing most values.
pub fn drop_in_background<T: Send + 'static>(value: T) {
    type Garbage = Box<dyn Send>;
    static LAZYFREE: OnceLock<mpsc::Sender<Garbage>> = OnceLock::new();
    let sender = LAZYFREE.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Garbage>();
        std::thread::Builder::new()
            .name("lazyfree".into())
            .spawn(move || {
                crate::memory::count_this_thread();
                for garbage in rx {
                    drop(garbage);
                    LAZYFREE_PENDING.fetch_sub(1, Relaxed);
                }
            })
            .expect("spawn lazyfree thread");
        tx
    });
    LAZYFREE_PENDING.fetch_add(1, Relaxed);
    // If the thread is gone the value comes back and is dropped here.
    if sender.send(Box::new(value)).is_err() {
        LAZYFREE_PENDING.fetch_sub(1, Relaxed);
    }
}

/// Values handed to the lazyfree thread and not yet freed.
static LAZYFREE_PENDING: AtomicU64 = AtomicU64::new(0);

/// Whether memory is still being given back off-thread: `used_memory`
/// counts it until then (eviction waits for it rather than refuse writes).
pub fn lazyfree_pending() -> bool {
    LAZYFREE_PENDING.load(Relaxed) > 0
}

/// The slots of one command's keys, locked.
pub struct Locked<'a> {
    db: &'a Db,
    guards: Guards<'a>,
    pub now: u64,
    pub hits: u64,
    pub misses: u64,
    /// Set for READONLY commands: what they are handed, they do not change.
    pub read_only: bool,
    /// Watched keys a write was handed: their watchers are told when the
    /// command ends, unless it reported them `unchanged` (Redis signals
    /// only real changes).
    handed: Vec<Box<[u8]>>,
}

impl<'a> Locked<'a> {
    #[inline]
    fn slot(&mut self, key: &[u8]) -> &mut Slot {
        slot_of(&mut self.guards, key)
    }

    /// Finds a live entry, removing it if it has expired.
    #[inline]
    fn live(&mut self, key: &[u8]) -> Option<&mut Entry> {
        live(self.db, &mut self.guards, self.now, key)
    }

    /// Whether `key`'s slot is among those locked.
    pub fn holds(&self, key: &[u8]) -> bool {
        let slot = key_slot(key);
        self.guards.iter().any(|(s, _)| *s == slot)
    }

    /// A command that may write is handed `key`: if it is there, whoever
    /// WATCHes it must assume it changed, unless the command reports
    /// otherwise (`unchanged`) before it ends.
    #[inline]
    fn handed_for_write(&mut self, key: &[u8]) {
        if !self.read_only
            && !self.slot(key).watchers.is_empty()
            && self.live(key).is_some()
            && !self.handed.iter().any(|k| **k == *key)
        {
            self.handed.push(key.into());
        }
    }

    /// The command left `key` as it found it (a write with nothing to do,
    /// or a key it only read): its watchers need not hear of it. Changes
    /// made through `insert`, `remove` and `set_expire` are told at once.
    pub fn unchanged(&mut self, key: &[u8]) {
        self.handed.retain(|k| **k != *key);
    }

    /// Registers `flag` to be set when `key` changes (WATCH). An expired key
    /// goes first: a key that is not there has nothing to change.
    pub fn watch(&mut self, key: &[u8], flag: &watch::WatchFlag) {
        self.live(key);
        self.slot(key).watchers.add(key, flag);
    }

    pub fn unwatch(&mut self, key: &[u8], flag: &watch::WatchFlag) {
        self.slot(key).watchers.remove(key, flag);
    }

    /// A read: counts a hit or a miss and records the access.
    #[inline]
    pub fn get(&mut self, key: &[u8]) -> Option<&Entry> {
        let db = self.db;
        match live(db, &mut self.guards, self.now, key) {
            Some(entry) => {
                self.hits += 1;
                db.access.touch(&mut entry.access);
                Some(entry)
            }
            None => {
                self.misses += 1;
                None
            }
        }
    }

    /// A lookup for a write or for introspection: no hit/miss counted, no
    /// access recorded.
    #[inline]
    pub fn peek(&mut self, key: &[u8]) -> Option<&mut Entry> {
        self.handed_for_write(key);
        self.live(key)
    }

    pub fn exists(&mut self, key: &[u8]) -> bool {
        self.live(key).is_some()
    }

    /// Stores `value` as a string under `key`, replacing whatever was there.
    pub fn set_string(&mut self, key: &[u8], value: &[u8], expire_at: Option<u64>) {
        let access = self.db.access.fresh();
        self.insert(Entry::new_string(key, value, expire_at, access));
    }

    /// Stores a new object under `key`, replacing whatever was there.
    pub fn set_object(&mut self, key: &[u8], obj: Object, expire_at: Option<u64>) {
        let access = self.db.access.fresh();
        self.insert(Entry::new_object(key, obj, expire_at, access));
    }

    /// Inserts or replaces an entry, returning the old one.
    pub fn insert(&mut self, entry: Entry) -> Option<Entry> {
        let hash = self.db.hash(entry.key());
        let hasher = &self.db.hasher;
        let volatile = entry.expire_at().is_some() as usize;
        let (slot_number, slot) = locked_slot(&mut self.guards, entry.key());
        let lock = &self.db.slots[*slot_number as usize];
        slot.watchers.touch(entry.key());
        slot.reserve_one(hasher);
        let (old, placed) = match slot.table.entry(
            hash,
            |e| e.key() == entry.key(),
            |e| hasher.hash_one(e.key()),
        ) {
            TableEntry::Occupied(mut o) => (Some(std::mem::replace(o.get_mut(), entry)), o),
            TableEntry::Vacant(v) => (None, v.insert(entry)),
        };
        lock.note_probe(probe::hint(placed));
        let old_volatile = old.as_ref().is_some_and(|e| e.expire_at().is_some()) as usize;
        slot.volatile = slot.volatile + volatile - old_volatile;
        old
    }

    /// Removes a key, returning its entry if it was live.
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        self.live(key)?;
        let hash = self.db.hash(key);
        let slot = self.slot(key);
        let (entry, _) = slot
            .table
            .find_entry(hash, |e| e.key() == key)
            .ok()?
            .remove();
        slot.volatile -= entry.expire_at().is_some() as usize;
        slot.watchers.touch(key);
        Some(entry)
    }

    /// Sets or clears the expiry of a live key; false if there is no key.
    /// Clearing a TTL the key does not have changes nothing (GETEX PERSIST).
    pub fn set_expire(&mut self, key: &[u8], expire_at: Option<u64>) -> bool {
        let Some(entry) = self.live(key) else {
            return false;
        };
        let was = entry.expire_at().is_some();
        entry.set_expire(expire_at);
        let slot = self.slot(key);
        slot.volatile = slot.volatile + expire_at.is_some() as usize - was as usize;
        if was || expire_at.is_some() {
            slot.watchers.touch(key);
        }
        true
    }
}

/// How long a waiter spins on a contended slot lock before sleeping on it.
/// A lock is held for a command or a pipelined batch: on a hot key, up to a
/// few hundred microseconds (16 ZADDs into a million-member set). A waiter
/// that sleeps sooner misses the release: the holder's thread takes the
/// lock again for its next client before the sleeper is woken, and the
/// sleeper's clients starve until the lock's fairness timeout (ZADD -P16 on
/// one key: 114k/s with ~50 us of spinning, 148k/s with 500 us). Longer
/// holds (scripts, big transactions) send waiters to sleep soon enough.
const SPIN_US: u64 = 500;
/// Tries between two looks at the clock (a try and a spin hint ~27 ns).
const SPIN_BETWEEN_CLOCK_READS: usize = 64;

type Guards<'a> = SmallVec<[(u16, SlotGuard<'a>); 1]>;

thread_local! {
    /// Slots this thread's running EXEC or script holds (`Db::hold`); usually none.
    static HELD: RefCell<Vec<u16>> = const { RefCell::new(Vec::new()) };
    /// The slot the batch on this thread names next (`Db::next_in_batch`).
    static NEXT: Cell<Option<u16>> = const { Cell::new(None) };
    /// A slot lock kept locked for the batch's next command.
    static KEPT: Cell<Option<(*const Db, u16)>> = const { Cell::new(None) };
}

/// Lets go of the slot lock kept for the next command, if any: at the end
/// of a batch, and before this thread may wait for another lock.
pub fn release_kept() {
    if let Some((db, slot)) = KEPT.take() {
        // SAFETY: the Db outlives its batches, and this thread locked the
        // slot and forgot its guard (`Locked`'s drop).
        unsafe { (*db).slots[slot as usize].force_unlock() };
    }
}

/// Ends a batch: no next command, no kept lock (also when unwinding).
pub struct BatchEnd;

impl Drop for BatchEnd {
    fn drop(&mut self) {
        NEXT.set(None);
        release_kept();
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        for key in std::mem::take(&mut self.handed) {
            slot_of(&mut self.guards, &key).watchers.touch(&key);
        }
        // Only a command's own lock of one slot, and only for the batch's
        // next command on that slot.
        let [(slot, SlotGuard::Own(_))] = self.guards.as_slice() else {
            return;
        };
        if NEXT.get() != Some(*slot) || KEPT.get().is_some() {
            return;
        }
        let slot = *slot;
        if let Some((_, SlotGuard::Own(guard))) = self.guards.pop() {
            std::mem::forget(guard);
            KEPT.set(Some((self.db as *const Db, slot)));
        }
    }
}

/// The slots an EXEC or a script holds; released, and forgotten by `HELD`, on drop.
pub struct Held<'a> {
    guards: SmallVec<[MutexGuard<'a, Slot>; 8]>,
}

/// Whether this thread holds `slot` (`Db::hold`).
pub fn holds(slot: u16) -> bool {
    HELD.with_borrow(|held| held.contains(&slot))
}

/// Whether this thread holds any slot: it runs an EXEC or a script that does.
pub fn holding() -> bool {
    HELD.with_borrow(|held| !held.is_empty())
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        // Forgotten before the fields drop and unlock.
        HELD.with_borrow_mut(Vec::clear);
    }
}

/// A command's lock on a slot: its own, or borrowed from the EXEC holding
/// it, which is the one to release it.
pub enum SlotGuard<'a> {
    Own(MutexGuard<'a, Slot>),
    Held(ManuallyDrop<MutexGuard<'a, Slot>>),
}

impl Deref for SlotGuard<'_> {
    type Target = Slot;
    fn deref(&self) -> &Slot {
        match self {
            SlotGuard::Own(g) => g,
            SlotGuard::Held(g) => g,
        }
    }
}

impl DerefMut for SlotGuard<'_> {
    fn deref_mut(&mut self) -> &mut Slot {
        match self {
            SlotGuard::Own(g) => g,
            SlotGuard::Held(g) => g,
        }
    }
}

#[inline]
fn slot_of<'g>(guards: &'g mut Guards<'_>, key: &[u8]) -> &'g mut Slot {
    &mut locked_slot(guards, key).1
}

/// The locked slot of `key`, with its number.
#[inline]
fn locked_slot<'g, 'a>(guards: &'g mut Guards<'a>, key: &[u8]) -> &'g mut (u16, SlotGuard<'a>) {
    // Most commands have one key: skip hashing it again to find its slot.
    if guards.len() == 1 {
        debug_assert_eq!(guards[0].0, key_slot(key), "key's slot is not locked");
        return &mut guards[0];
    }
    let s = key_slot(key);
    let i = guards
        .iter()
        .position(|(n, _)| *n == s)
        .expect("key's slot is not locked: command table key positions are wrong");
    &mut guards[i]
}

#[inline]
fn live<'g>(db: &Db, guards: &'g mut Guards<'_>, now: u64, key: &[u8]) -> Option<&'g mut Entry> {
    let hash = db.hash(key);
    let slot = slot_of(guards, key);
    match slot.table.find_entry(hash, |e| e.key() == key) {
        Ok(found) if found.get().is_expired(now) => {
            found.remove();
            slot.volatile -= 1;
            slot.watchers.touch(key);
            db.expired_keys.fetch_add(1, Relaxed);
            None
        }
        Ok(found) => Some(found.into_mut()),
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_is_one_cache_line() {
        assert_eq!(std::mem::size_of::<SlotLock>(), 64);
    }

    fn db() -> Db {
        Db::new(AccessPolicy::new(true, 10, 1))
    }

    #[test]
    fn set_get_remove() {
        let db = db();
        let mut l = db.lock([b"a", b"b"], 1000);
        l.set_string(b"a", b"1", None);
        assert_eq!(
            l.get(b"a").and_then(|e| e.string().map(|s| s.to_vec())),
            Some(b"1".to_vec())
        );
        assert!(l.get(b"b").is_none());
        assert_eq!((l.hits, l.misses), (1, 1));
        assert!(l.remove(b"a").is_some());
        assert!(l.remove(b"a").is_none());
        drop(l);
        assert_eq!(db.key_count(), (0, 0));
    }

    #[test]
    fn churn_does_not_grow_a_table() {
        // 24 keys in one slot fit 32 buckets; deleting leaves tombstones,
        // and a table whose tombstones use up its room is rebuilt at the
        // same size rather than doubled.
        let db = db();
        let key = |i: usize| format!("{{tag}}{i}");
        let mut l = db.lock([key(0)], 1000);
        for i in 0..10_000 {
            l.set_string(key(i).as_bytes(), b"v", None);
            if i >= 24 {
                assert!(l.remove(key(i - 24).as_bytes()).is_some());
            }
            assert!(l.slot(b"{tag}").table.capacity() <= 28, "grew at {i}");
        }
    }

    #[test]
    fn lazy_and_active_expiry() {
        let db = db();
        let mut l = db.lock([b"x", b"y"], 1000);
        l.set_string(b"x", b"1", Some(1500));
        l.set_string(b"y", b"1", Some(1500));
        drop(l);
        assert_eq!(db.key_count(), (2, 2));
        let mut later = db.lock([b"x"], 1500);
        assert!(later.get(b"x").is_none(), "expired key is gone on access");
        drop(later);
        assert_eq!(db.expired_keys.load(Relaxed), 1);
        assert_eq!(db.sweep_expired(1500, usize::MAX).1, 1);
        assert_eq!(db.key_count(), (0, 0));
    }

    #[test]
    fn volatile_count_follows_expire_changes() {
        let db = db();
        let mut l = db.lock([b"k"], 0);
        l.set_string(b"k", b"v", None);
        assert!(l.set_expire(b"k", Some(10)));
        assert!(l.set_expire(b"k", Some(20)));
        drop(l);
        assert_eq!(db.key_count(), (1, 1));
        let mut l = db.lock([b"k"], 0);
        l.set_expire(b"k", None);
        drop(l);
        assert_eq!(db.key_count(), (1, 0));
    }
}
