//! A set of integers as Redis keeps one (its intset): sorted, each member
//! in the width the widest one needs, 2, 4 or 8 bytes, so a set of IDs
//! below 2^31 takes 4 bytes a member. A wider member widens them all, for
//! good, as in Redis. The array grows and shrinks by one member at a time,
//! as Redis reallocates its intset at each change.

#[derive(Default)]
pub struct IntSet {
    bytes: Vec<u8>,
    /// Bytes per member: 2, 4 or 8 (0 while empty and never written).
    width: usize,
}

/// The width `n` needs.
fn width_of(n: i64) -> usize {
    if i16::try_from(n).is_ok() {
        2
    } else if i32::try_from(n).is_ok() {
        4
    } else {
        8
    }
}

impl IntSet {
    pub fn len(&self) -> usize {
        self.bytes.len().checked_div(self.width).unwrap_or(0)
    }

    /// The member at `i` (below `len`), in ascending order.
    pub fn get(&self, i: usize) -> i64 {
        let w = self.width;
        let b = &self.bytes[i * w..(i + 1) * w];
        match w {
            2 => i16::from_le_bytes([b[0], b[1]]) as i64,
            4 => i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64,
            _ => i64::from_le_bytes(b.try_into().expect("8 bytes")),
        }
    }

    /// Where `n` is, or where it would go.
    fn search(&self, n: i64) -> Result<usize, usize> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.get(mid).cmp(&n) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    pub fn contains(&self, n: i64) -> bool {
        self.search(n).is_ok()
    }

    /// Adds `n`; true when it is new.
    pub fn insert(&mut self, n: i64) -> bool {
        let Err(at) = self.search(n) else {
            return false;
        };
        if width_of(n) > self.width {
            self.widen(width_of(n));
        }
        let w = self.width;
        self.bytes.reserve_exact(w);
        let encoded = n.to_le_bytes();
        self.bytes
            .splice(at * w..at * w, encoded[..w].iter().copied());
        true
    }

    /// Re-encodes every member in `width` bytes.
    fn widen(&mut self, width: usize) {
        let mut bytes = Vec::with_capacity(self.len() * width + width);
        for i in 0..self.len() {
            bytes.extend_from_slice(&self.get(i).to_le_bytes()[..width]);
        }
        self.bytes = bytes;
        self.width = width;
    }

    /// Removes `n`; true when it was there.
    pub fn remove(&mut self, n: i64) -> bool {
        let Ok(at) = self.search(n) else {
            return false;
        };
        let w = self.width;
        self.bytes.drain(at * w..(at + 1) * w);
        self.bytes.shrink_to_fit();
        true
    }

    /// The members, ascending.
    pub fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    pub fn memory_usage(&self) -> usize {
        self.bytes.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widens_for_good_and_keeps_order() {
        let mut s = IntSet::default();
        for n in [5, -3, 300, 0] {
            assert!(s.insert(n));
        }
        assert!(!s.insert(300));
        assert_eq!(s.memory_usage(), 4 * 2);
        assert!(s.insert(70_000));
        assert_eq!(s.memory_usage(), 5 * 4, "every member now 4 bytes");
        assert!(s.insert(i64::MIN));
        assert!(s.insert(i64::MAX));
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            [i64::MIN, -3, 0, 5, 300, 70_000, i64::MAX]
        );
        assert!(s.remove(i64::MIN) && s.remove(i64::MAX) && !s.remove(1));
        assert_eq!(s.memory_usage(), 5 * 8, "no way back, as in Redis");
        assert!(s.contains(70_000) && !s.contains(6));
        assert_eq!(s.len(), 5);
    }
}
