//! Blocking commands (BLPOP, BLMOVE …): a client whose keys are all empty
//! waits for them without holding a thread or a lock.
//!
//! The command registers its client as a waiter on each key, at the back of
//! that key's queue, while it still holds the keys' slot locks, so no push
//! can slip in between its look and its registration. Every write command,
//! when it has run and still holds its locks, serves the waiters of each of
//! its keys in arrival order for as long as the key holds a value of the
//! type they take: it runs their pop for them and leaves the reply for
//! their connection to send. As in Redis, the waiters are served before
//! any other command runs, the writer's next pipelined one included, so a
//! pipelined LPUSH + LPOP leaves the pushed element to the waiting BLPOP.
//! Writes inside MULTI or a script serve when the EXEC or script is done
//! (its commands must not see a waiter take values in between), and a
//! waiter that also writes a key in a slot the writer does not hold
//! (BLMOVE's destination) is served right after the writer's command, with
//! both slots locked.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use hashbrown::HashMap;
use parking_lot::Mutex;
use slotcache_protocol::request::OwnedArgv;
use slotcache_protocol::{Argv, Reply};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::client::Client;
use crate::commands::{parse_f64, CmdError, CmdResult, Ctx};
use crate::db::Locked;
use crate::server::Server;

/// Takes the value of the command in `argv` from `key`, replying to `out`
/// as the command does; false, with nothing replied, when `key` holds no
/// such value. Serves the command when it runs and, for a waiter, when a
/// write fills `key` (then under the locks of `key` and of `also`).
pub type Serve =
    fn(keys: &mut Locked, out: &mut Reply, argv: &Argv, key: &[u8]) -> Result<bool, CmdError>;

/// What serves a blocking command waiting for a value.
pub struct Take<'k> {
    /// The type of value that serves it: "list", "zset" …
    pub kind: &'static str,
    pub serve: Serve,
    /// A key it writes besides the one it takes from (BLMOVE's destination).
    pub also: Option<&'k [u8]>,
}

/// The waiters of every key that has some.
#[derive(Default)]
pub struct Blocking {
    /// Clients blocked now (INFO `blocked_clients`); zero lets writes skip
    /// the queues altogether.
    blocked: AtomicUsize,
    queues: Mutex<HashMap<Box<[u8]>, Queue>>,
}

/// One key's waiters, in arrival order.
type Queue = VecDeque<Arc<Waiter>>;

struct Waiter {
    /// None for WAIT, which no value serves.
    take: Option<Taker>,
    resp3: bool,
    argv: OwnedArgv,
    keys: Vec<Box<[u8]>>,
    /// The reply of the command that served it, left for its connection.
    served: Mutex<Option<BytesMut>>,
    /// Served, and its connection not yet told.
    woken: AtomicBool,
    notify: Notify,
}

struct Taker {
    kind: &'static str,
    serve: Serve,
    also: Option<Box<[u8]>>,
}

impl Blocking {
    pub fn blocked_clients(&self) -> usize {
        self.blocked.load(Relaxed)
    }
}

/// A client's pending blocking command, owned by its `Client`. Dropping it
/// (served, timed out, killed, disconnected) takes the client off every
/// queue.
pub struct Blocked {
    registry: Arc<Blocking>,
    waiter: Arc<Waiter>,
    deadline: Option<Instant>,
}

impl Blocked {
    /// Served: its reply waits to be sent.
    pub fn woken(&self) -> bool {
        self.waiter.woken.load(Relaxed)
    }
}

impl Drop for Blocked {
    fn drop(&mut self) {
        let mut queues = self.registry.queues.lock();
        leave_queues(&mut queues, &self.waiter);
        self.registry.blocked.fetch_sub(1, Relaxed);
    }
}

fn leave_queues(queues: &mut HashMap<Box<[u8]>, Queue>, waiter: &Arc<Waiter>) {
    for key in &waiter.keys {
        let Some(queue) = queues.get_mut(&**key) else {
            continue;
        };
        queue.retain(|w| !Arc::ptr_eq(w, waiter));
        if queue.is_empty() {
            queues.remove(&**key);
        }
    }
}

/// A blocking command's timeout in seconds (a float; 0 waits forever):
/// None for forever. Whole milliseconds, truncated, as Redis counts them.
pub fn timeout_arg(arg: &[u8]) -> Result<Option<Duration>, CmdError> {
    let secs = parse_f64(arg).ok_or(CmdError::Static(
        "ERR timeout is not a float or out of range",
    ))?;
    // Rounded up, as Redis does: 0.0001 waits a millisecond, not forever.
    let ms = (secs * 1000.0).ceil();
    if ms < 0.0 {
        return Err(CmdError::Static("ERR timeout is negative"));
    }
    if ms >= i64::MAX as f64 {
        return Err(CmdError::Static("ERR timeout is out of range"));
    }
    Ok((ms > 0.0).then(|| Duration::from_millis(ms as u64)))
}

/// The pops over several keys (BLPOP, BZPOPMIN, LMPOP, BLMPOP …): `take`
/// serves the command from the first of `keys` that holds a value. With
/// none, a blocking command (`blocking`: its timeout) waits on them all,
/// where blocking is allowed; otherwise it answers as a timeout would, a
/// null array.
pub fn pop_first<'k>(
    ctx: &mut Ctx,
    argv: &Argv,
    keys: &[&'k [u8]],
    blocking: Option<Option<Duration>>,
    take: Take<'k>,
) -> CmdResult {
    for key in keys {
        if (take.serve)(&mut ctx.keys, &mut ctx.out, argv, key)? {
            return Ok(());
        }
    }
    match blocking {
        Some(timeout) if ctx.may_block => {
            block(ctx, argv, keys.iter().copied(), Some(take), timeout)
        }
        _ => ctx.out.null_array(),
    }
    Ok(())
}

/// BLPOP, BRPOP, BZPOPMIN and BZPOPMAX: `key [key …] timeout`, served by
/// `serve` from a value of type `kind` (`pop_first`).
pub fn pop_first_then_wait(
    ctx: &mut Ctx,
    argv: &Argv,
    kind: &'static str,
    serve: Serve,
) -> CmdResult {
    let last = argv.len() - 1;
    let timeout = timeout_arg(argv.get(last))?;
    let keys: Vec<&[u8]> = argv.tail(1).iter().take(last - 1).collect();
    let take = Take {
        kind,
        serve,
        also: None,
    };
    pop_first(ctx, argv, &keys, Some(timeout), take)
}

/// Called by a blocking command that found nothing to serve it: the client
/// waits on `keys` for what `take` takes (None: only for the timeout), at
/// most `timeout`.
pub fn block<'k>(
    ctx: &mut Ctx,
    argv: &Argv,
    keys: impl IntoIterator<Item = &'k [u8]>,
    take: Option<Take>,
    timeout: Option<Duration>,
) {
    let registry = &ctx.server.blocking;
    let mut registered: Vec<Box<[u8]>> = Vec::new();
    for key in keys {
        if !registered.iter().any(|k| **k == *key) {
            registered.push(key.into());
        }
    }
    let waiter = Arc::new(Waiter {
        take: take.map(|t| Taker {
            kind: t.kind,
            serve: t.serve,
            also: t.also.map(Into::into),
        }),
        resp3: ctx.client.resp3,
        argv: argv.to_owned_args(),
        keys: registered,
        served: Mutex::new(None),
        woken: AtomicBool::new(false),
        notify: Notify::new(),
    });
    let mut queues = registry.queues.lock();
    for key in &waiter.keys {
        queues
            .entry(key.clone())
            .or_default()
            .push_back(Arc::clone(&waiter));
    }
    drop(queues);
    registry.blocked.fetch_add(1, Relaxed);
    ctx.client.blocked = Some(Blocked {
        registry: Arc::clone(registry),
        waiter,
        deadline: timeout.map(|t| Instant::now() + t),
    });
}

thread_local! {
    /// Keys written with waiters left to serve once this thread's command
    /// (EXEC, script) is done and its locks are released.
    static DEFERRED: RefCell<Vec<Box<[u8]>>> = const { RefCell::new(Vec::new()) };
}

/// After a write command ran, under its slot locks: serves the waiters of
/// its keys (see the module's comment). One atomic load when nobody is
/// blocked.
pub fn keys_written(ctx: &mut Ctx, argv: &Argv) {
    let server = ctx.server;
    if server.blocking.blocked.load(Relaxed) == 0 {
        return;
    }
    for at in ctx.cmd.spec.keys.positions(argv) {
        let key = argv.get(at);
        let later = if ctx.may_block {
            serve_key(server, &mut ctx.keys, key).is_some()
        } else {
            server.blocking.queues.lock().contains_key(key)
        };
        if later {
            DEFERRED.with_borrow_mut(|d| d.push(key.into()));
        }
    }
}

/// Serves what `keys_written` left for later, and the waiters of keys
/// that served waiters wrote (BLMOVE's destination), until none is left;
/// called by a client's own command when done, holding no slot lock.
#[inline]
pub fn serve_deferred(server: &Server, now: u64) {
    if !DEFERRED.with_borrow(Vec::is_empty) {
        serve_all_deferred(server, now);
    }
}

fn serve_all_deferred(server: &Server, now: u64) {
    loop {
        let keys = DEFERRED.take();
        if keys.is_empty() {
            return;
        }
        for (i, key) in keys.iter().enumerate() {
            if keys[..i].contains(key) {
                continue;
            }
            let mut also: Option<Box<[u8]>> = None;
            loop {
                let mut locked = server
                    .db
                    .lock([&**key].into_iter().chain(also.as_deref()), now);
                match serve_key(server, &mut locked, key) {
                    Some(next) => also = Some(next),
                    None => break,
                }
            }
        }
    }
}

/// Serves the waiters of `key`, first come first served, while it holds a
/// value they take. Stops at a waiter that needs a slot `keys` does not
/// hold, returning the key it needs that slot for.
fn serve_key(server: &Server, keys: &mut Locked, key: &[u8]) -> Option<Box<[u8]>> {
    let mut queues = server.blocking.queues.lock();
    loop {
        let queue = queues.get(key)?;
        let kind = keys.peek(key)?.type_name();
        let waiter = Arc::clone(
            queue
                .iter()
                .find(|w| w.take.as_ref().is_some_and(|t| t.kind == kind))?,
        );
        let take = waiter.take.as_ref().expect("found by its kind");
        if let Some(also) = take.also.as_deref() {
            if !keys.holds(also) {
                return Some(also.into());
            }
        }
        let mut out = BytesMut::new();
        let mut reply = Reply::new(&mut out, waiter.resp3);
        if let Err(e) = (take.serve)(keys, &mut reply, &waiter.argv.argv(), key) {
            reply.error(e.message());
        }
        // Off the queues before the queues lock goes: no one serves it twice.
        leave_queues(&mut queues, &waiter);
        if let Some(also) = &take.also {
            if queues.contains_key(also) {
                DEFERRED.with_borrow_mut(|d| d.push(also.clone()));
            }
        }
        *waiter.served.lock() = Some(out);
        waiter.woken.store(true, Relaxed);
        waiter.notify.notify_one();
    }
}

pub enum Wake {
    Ready,
    Timeout,
}

/// Resolves when the client's blocking command was served (see
/// `Blocked::woken`) or has timed out; never for a client that is not
/// blocked.
pub async fn wait(client: &Client) -> Wake {
    let Some(b) = &client.blocked else {
        return std::future::pending().await;
    };
    if b.woken() {
        return Wake::Ready;
    }
    let notified = b.waiter.notify.notified();
    match b.deadline {
        Some(at) => tokio::select! {
            _ = notified => Wake::Ready,
            _ = tokio::time::sleep_until(at) => Wake::Timeout,
        },
        None => {
            notified.await;
            Wake::Ready
        }
    }
}

/// Ends a client's blocking command (served, or its timeout passed): off
/// the queues, then its reply if a write served it, else what a timeout
/// answers as Redis does, a null array or for WAIT the replicas that
/// acknowledged (none yet). A write that served it as the timeout passed
/// wins: its reply goes out, for the value it took.
pub fn unblock(client: &mut Client, output: &mut BytesMut) {
    let Some(blocked) = client.blocked.take() else {
        return;
    };
    let waiter = Arc::clone(&blocked.waiter);
    // Queues are left under their lock, where writers serve: from here on
    // none serves it, and one that did has left its reply.
    drop(blocked);
    let served = waiter.served.lock().take();
    match served {
        Some(reply) => output.extend_from_slice(&reply),
        None => {
            let mut reply = Reply::new(output, client.resp3);
            if waiter.take.is_none() {
                reply.int(0)
            } else {
                reply.null_array()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_parse_like_redis() {
        assert_eq!(timeout_arg(b"0").unwrap(), None);
        assert_eq!(
            timeout_arg(b"1.5").unwrap(),
            Some(Duration::from_millis(1500))
        );
        // Rounded up to the millisecond, as redis-server 7.0 does (its
        // BLPOP k 0.0001 returns); -0.0001 rounds up to 0: forever there too.
        assert_eq!(
            timeout_arg(b"0.0001").unwrap(),
            Some(Duration::from_millis(1))
        );
        assert_eq!(timeout_arg(b"-0.0001").unwrap(), None);
        let err = |a: &[u8]| timeout_arg(a).unwrap_err().message().to_string();
        assert_eq!(err(b"-1"), "ERR timeout is negative");
        assert_eq!(err(b"abc"), "ERR timeout is not a float or out of range");
        assert_eq!(err(b"inf"), "ERR timeout is out of range");
    }
}
