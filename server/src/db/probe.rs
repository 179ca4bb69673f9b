//! Fetching a hash-table lookup's cache lines before the lookup: a
//! pipeline's next command names its key (and member) while the current
//! one runs, so their misses overlap instead of following each other.
//!
//! A hashbrown table does not say where its buckets are, but an element
//! found at a bucket index does: elements sit below the control bytes, in
//! bucket order. A hint records the control bytes' address with log2 of the
//! bucket count in the top bits; it is taken whenever an insert finds a
//! bucket (every growth or rebuild is followed by one). A stale hint (after
//! a shrink, or a table replaced) only makes a prefetch miss its target.

use hashbrown::hash_table::OccupiedEntry;

const ADDRESS_BITS: u32 = 56;

/// Asks for the cache line at `address` ahead of its use.
#[inline]
pub fn prefetch(address: usize) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch only hints the cache; any address is allowed.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(address as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = address;
}

/// The hint for the table an insert just `placed` an element in.
#[inline]
pub fn hint<T>(placed: OccupiedEntry<'_, T>) -> u64 {
    let bucket = placed.bucket_index();
    let table = placed.into_table();
    let buckets = table.num_buckets();
    let element = table.get_bucket(bucket).expect("the element just placed");
    let ctrl = element as *const T as usize + (bucket + 1) * std::mem::size_of::<T>();
    ctrl as u64 | (buckets.trailing_zeros() as u64) << ADDRESS_BITS
}

/// Fetches the control bytes and the first bucket a lookup of `hash` in
/// the table `hint` describes reads (0: unknown, nothing to fetch).
#[inline]
pub fn prefetch_lookup<T>(hint: u64, hash: u64) {
    if hint == 0 {
        return;
    }
    let ctrl = (hint & ((1 << ADDRESS_BITS) - 1)) as usize;
    let at = hash as usize & ((1usize << (hint >> ADDRESS_BITS)) - 1);
    prefetch(ctrl + at);
    prefetch(ctrl.wrapping_sub((at + 1) * std::mem::size_of::<T>()));
}
