//! WATCH: which clients watch which keys of a slot. The map exists only
//! while someone watches a key of the slot, so a write pays one null check
//! and a slot stays one cache line (db/mod.rs).
//!
//! Every change of a key passes through its slot under the slot's lock
//! (writes, expiry, eviction, FLUSHALL), and each of those paths calls
//! `touch`; EXEC looks at its client's flag after locking the same slots.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Weak};

use hashbrown::HashMap;

/// A client's "a key it watches has changed" flag.
pub type WatchFlag = Arc<AtomicBool>;

/// The watchers of one slot's keys. Weak, so a client that disconnects
/// while watching leaves only dead entries, dropped at the next touch or
/// watch of the key.
#[derive(Default)]
pub struct Watchers(Option<Box<WatchMap>>);

type WatchMap = HashMap<Box<[u8]>, Vec<Weak<AtomicBool>>>;

impl Watchers {
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    pub fn add(&mut self, key: &[u8], flag: &WatchFlag) {
        let map = self.0.get_or_insert_with(Box::default);
        let list = map.entry(Box::from(key)).or_default();
        list.retain(|w| w.strong_count() > 0);
        list.push(Arc::downgrade(flag));
    }

    pub fn remove(&mut self, key: &[u8], flag: &WatchFlag) {
        let Some(map) = self.0.as_mut() else {
            return;
        };
        if let Some(list) = map.get_mut(key) {
            let flag = Arc::downgrade(flag);
            list.retain(|w| w.strong_count() > 0 && !w.ptr_eq(&flag));
            if list.is_empty() {
                map.remove(key);
            }
        }
        self.drop_if_empty();
    }

    fn drop_if_empty(&mut self) {
        if self.0.as_ref().is_some_and(|map| map.is_empty()) {
            self.0 = None;
        }
    }

    /// `key` changed: the EXEC of every client watching it fails. Their
    /// watch of this key has done its job, so it is dropped (as Redis
    /// unwatches a client once it is dirty).
    #[inline]
    pub fn touch(&mut self, key: &[u8]) {
        if let Some(map) = self.0.as_mut() {
            touch_watched(map, key);
            self.drop_if_empty();
        }
    }

    /// Touches every watched key for which `exists` holds (FLUSHALL: only
    /// keys that were there change).
    pub fn touch_existing(&mut self, exists: impl Fn(&[u8]) -> bool) {
        let Some(map) = self.0.as_mut() else {
            return;
        };
        let changed: Vec<Box<[u8]>> = map.keys().filter(|k| exists(k)).cloned().collect();
        for key in changed {
            touch_watched(map, &key);
        }
        self.drop_if_empty();
    }
}

fn touch_watched(map: &mut WatchMap, key: &[u8]) {
    for watcher in map.remove(key).into_iter().flatten() {
        if let Some(flag) = watcher.upgrade() {
            flag.store(true, Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn touch_sets_flags_of_live_watchers_only() {
        let mut w = Watchers::default();
        let (a, b) = (WatchFlag::default(), WatchFlag::default());
        w.add(b"k", &a);
        w.add(b"k", &b);
        w.add(b"other", &a);
        w.remove(b"k", &b);
        w.touch(b"k");
        assert!(a.load(Relaxed));
        assert!(!b.load(Relaxed));
        // A dropped client's entry goes at the next watch of its key.
        let c = WatchFlag::default();
        w.add(b"gone", &c);
        drop(c);
        w.add(b"gone", &b);
        assert_eq!(w.0.as_ref().unwrap()[&b"gone"[..]].len(), 1);
        w.touch_existing(|k| k == b"other");
        assert_eq!(w.0.as_ref().unwrap().len(), 1);
        // The last watch gone, the map goes too.
        w.remove(b"gone", &b);
        assert!(w.is_empty());
    }
}
