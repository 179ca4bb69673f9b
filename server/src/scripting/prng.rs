//! Redis's math.random and math.randomseed: the rand48 generator
//! (redisLrand48), so a script draws the same numbers on every system. As
//! in Redis the state is the process's: it is not reseeded per script.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use mlua::Lua;

use super::args::{register, Args};

/// The 48-bit state; rand48's initial value before any seeding.
static STATE: AtomicU64 = AtomicU64::new(0x1234_ABCD_330E);

const MASK: u64 = (1 << 48) - 1;
/// REDIS_LRAND48_MAX.
const LRAND48_MAX: i64 = i32::MAX as i64;

pub fn open(lua: &Lua) -> mlua::Result<()> {
    let math: mlua::Table = lua.globals().raw_get("math")?;
    register(lua, &math, "random", random)?;
    register(lua, &math, "randomseed", |a| {
        seed(a.integer(1)? as i32);
        Ok(())
    })
}

/// redisSrand48.
fn seed(seed: i32) {
    STATE.store(((seed as u32 as u64) << 16) | 0x330E, Relaxed);
}

/// The generator's state, for `restore`.
pub fn state() -> u64 {
    STATE.load(Relaxed)
}

/// Puts back a state from `state`: a script run again from scratch draws
/// what its first run drew. (Scripts running at once on other threads draw
/// from the same state in no set order anyway.)
pub fn restore(state: u64) {
    STATE.store(state, Relaxed);
}

/// redisLrand48: the next 31-bit value.
fn next() -> i64 {
    let x = STATE
        .load(Relaxed)
        .wrapping_mul(0x5_DEEC_E66D)
        .wrapping_add(0xB)
        & MASK;
    STATE.store(x, Relaxed);
    (x >> 17) as i64
}

fn random(a: &Args) -> mlua::Result<f64> {
    let r = (next() % LRAND48_MAX) as f64 / LRAND48_MAX as f64;
    match a.len() {
        0 => Ok(r),
        1 => {
            let u = a.integer(1)? as i32;
            if u < 1 {
                return a.error(1, "interval is empty");
            }
            Ok((r * u as f64).floor() + 1.0)
        }
        2 => {
            let l = a.integer(1)? as i32;
            let u = a.integer(2)? as i32;
            if l > u {
                return a.error(2, "interval is empty");
            }
            // C int arithmetic: u-l+1 wraps.
            let span = u.wrapping_sub(l).wrapping_add(1);
            Ok((r * span as f64).floor() + l as f64)
        }
        _ => a.fail("wrong number of arguments"),
    }
}
