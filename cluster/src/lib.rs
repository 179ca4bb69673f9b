//! Cluster-side logic of slotcache. For now: the hash slot function that
//! every node and client agree on.

pub mod slot;

pub use slot::{key_slot, SLOT_COUNT};
