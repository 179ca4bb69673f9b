//! Time for the store: a monotonic quanta clock anchored once to the Unix
//! epoch, so per-command reads are a TSC read, not a system call.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

struct Anchor {
    clock: quanta::Clock,
    start: quanta::Instant,
    unix_us_at_start: u64,
}

fn anchor() -> &'static Anchor {
    static ANCHOR: OnceLock<Anchor> = OnceLock::new();
    ANCHOR.get_or_init(|| {
        let clock = quanta::Clock::new();
        let start = clock.now();
        let unix_us_at_start = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_micros() as u64;
        Anchor {
            clock,
            start,
            unix_us_at_start,
        }
    })
}

/// Milliseconds since the Unix epoch.
#[inline]
pub fn unix_ms() -> u64 {
    // Anchored in microseconds so the millisecond clock is not behind the
    // wall clock by the fraction truncated at start-up.
    unix_us() / 1000
}

/// Microseconds since the Unix epoch (TIME, CLIENT LIST ages).
pub fn unix_us() -> u64 {
    let a = anchor();
    a.unix_us_at_start + a.clock.now().duration_since(a.start).as_micros() as u64
}

/// Seconds since this process started.
pub fn uptime_secs() -> u64 {
    let a = anchor();
    a.clock.now().duration_since(a.start).as_secs()
}
