//! Blocking commands (BLPOP, BLMOVE …): a client whose keys are all empty
//! waits for them without holding a thread or a lock.
//!
//! The command registers its client as a waiter on each key, at the back of
//! that key's queue, while it still holds the keys' slot locks, so no push
//! can slip in between its look and its registration. Every write command,
//! when it has run and still holds its locks, wakes the first waiter of
//! each of its keys that now holds a value of the type the waiter wants.
//! The woken connection runs its command again: served, it leaves the
//! queues (and its own write wakes the next waiter if values remain);
//! finding the value already taken, it waits again in the same place. So
//! waiters are served in arrival order, one at a time, and none starves.

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
use crate::commands::{self, parse_f64, CmdError, Ctx, Hold};
use crate::server::Server;
use crate::stats::BatchStats;

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
    client: u64,
    /// The type of value that serves it: "list", "zset" …
    kind: &'static str,
    /// Woken and not yet run again.
    woken: AtomicBool,
    notify: Notify,
}

impl Blocking {
    pub fn blocked_clients(&self) -> usize {
        self.blocked.load(Relaxed)
    }
}

/// Wakes the first waiter of `queue` that wants `kind`, other than `except`
/// (the client whose command is running).
fn wake_first(queue: &Queue, kind: &str, except: u64) {
    if let Some(w) = queue.iter().find(|w| w.kind == kind && w.client != except) {
        if !w.woken.swap(true, Relaxed) {
            w.notify.notify_one();
        }
    }
}

/// A client's pending blocking command, owned by its `Client`. Dropping it
/// (served, timed out, killed, disconnected) takes the client off every
/// queue.
pub struct Blocked {
    registry: Arc<Blocking>,
    waiter: Arc<Waiter>,
    keys: Vec<Box<[u8]>>,
    argv: OwnedArgv,
    deadline: Option<Instant>,
    /// Set when the command blocks; a re-run that leaves it unset was served.
    again: bool,
}

impl Blocked {
    /// Woken and due to run its command again.
    pub fn woken(&self) -> bool {
        self.waiter.woken.load(Relaxed)
    }
}

impl Drop for Blocked {
    fn drop(&mut self) {
        let mut queues = self.registry.queues.lock();
        // Woken but leaving unserved: the value is still there for the next.
        let pass_on = self.waiter.woken.load(Relaxed);
        for key in &self.keys {
            let Some(queue) = queues.get_mut(&**key) else {
                continue;
            };
            queue.retain(|w| !Arc::ptr_eq(w, &self.waiter));
            if pass_on {
                wake_first(queue, self.waiter.kind, self.waiter.client);
            }
            if queue.is_empty() {
                queues.remove(&**key);
            }
        }
        self.registry.blocked.fetch_sub(1, Relaxed);
    }
}

/// A blocking command's timeout in seconds (a float; 0 waits forever):
/// None for forever. Whole milliseconds, truncated, as Redis counts them.
pub fn timeout_arg(arg: &[u8]) -> Result<Option<Duration>, CmdError> {
    let secs = parse_f64(arg).ok_or(CmdError::Static(
        "ERR timeout is not a float or out of range",
    ))?;
    let ms = (secs * 1000.0).trunc();
    if ms < 0.0 {
        return Err(CmdError::Static("ERR timeout is negative"));
    }
    if ms >= i64::MAX as f64 {
        return Err(CmdError::Static("ERR timeout is out of range"));
    }
    Ok((ms > 0.0).then(|| Duration::from_millis(ms as u64)))
}

/// Called by a blocking command that found nothing to serve it: the client
/// waits on `keys` for a value of type `kind`, at most `timeout`. Called by
/// the re-run of a woken client, it keeps the client's place.
pub fn block<'k>(
    ctx: &mut Ctx,
    argv: &Argv,
    keys: impl IntoIterator<Item = &'k [u8]>,
    kind: &'static str,
    timeout: Option<Duration>,
) {
    if let Some(b) = ctx.client.blocked.as_mut() {
        b.again = true;
        return;
    }
    let registry = &ctx.server.blocking;
    let waiter = Arc::new(Waiter {
        client: ctx.client.id(),
        kind,
        woken: AtomicBool::new(false),
        notify: Notify::new(),
    });
    let mut registered: Vec<Box<[u8]>> = Vec::new();
    let mut queues = registry.queues.lock();
    for key in keys {
        if registered.iter().any(|k| **k == *key) {
            continue;
        }
        queues
            .entry_ref(key)
            .or_default()
            .push_back(Arc::clone(&waiter));
        registered.push(key.into());
    }
    drop(queues);
    registry.blocked.fetch_add(1, Relaxed);
    ctx.client.blocked = Some(Blocked {
        registry: Arc::clone(registry),
        waiter,
        keys: registered,
        argv: argv.to_owned_args(),
        deadline: timeout.map(|t| Instant::now() + t),
        again: true,
    });
}

/// After a write command ran, under its slot locks: for each of its keys
/// that now holds a value, wakes the first client waiting there for that
/// type. One atomic load when nobody is blocked.
pub fn keys_written(ctx: &mut Ctx, argv: &Argv) {
    let server = ctx.server;
    if server.blocking.blocked.load(Relaxed) == 0 {
        return;
    }
    let me = ctx.client.id();
    for at in ctx.cmd.spec.keys.positions(argv) {
        let key = argv.get(at);
        let queues = server.blocking.queues.lock();
        let Some(queue) = queues.get(key) else {
            continue;
        };
        if let Some(kind) = ctx.keys.peek(key).map(|e| e.type_name()) {
            wake_first(queue, kind, me);
        }
    }
}

pub enum Wake {
    Ready,
    Timeout,
}

/// Resolves when the client's blocking command should run again (see
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

/// Runs a woken client's command again, as the first of its batch (so
/// under the batch's hold of `exclusive`): served, the client unblocks;
/// finding nothing, it stays blocked in its place.
pub fn retry<'a>(
    server: &'a Server,
    client: &mut Client,
    output: &mut BytesMut,
    stats: &mut BatchStats,
    hold: &mut Hold<'a>,
) {
    let Some(b) = client.blocked.as_mut() else {
        return;
    };
    b.waiter.woken.store(false, Relaxed);
    b.again = false;
    let argv = std::mem::take(&mut b.argv);
    commands::execute(server, client, output, argv.argv(), stats, hold);
    // One command, however many times it ran.
    stats.commands -= 1;
    match client.blocked.as_mut() {
        Some(b) if b.again => b.argv = argv,
        _ => client.blocked = None,
    }
}

/// What WAIT blocks for: replica acknowledgements, not a key's value.
pub const REPLICAS: &str = "replicas";

/// Answers a blocked client whose timeout passed, as Redis: a null array,
/// or for WAIT the replicas that acknowledged (none yet).
pub fn timed_out(client: &mut Client, output: &mut BytesMut) {
    let mut reply = Reply::new(output, client.resp3);
    match &client.blocked {
        Some(b) if b.waiter.kind == REPLICAS => reply.int(0),
        _ => reply.null_array(),
    }
    client.blocked = None;
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
        // Below a millisecond truncates to 0: wait forever, as Redis does.
        assert_eq!(timeout_arg(b"0.0001").unwrap(), None);
        assert_eq!(timeout_arg(b"-0.0001").unwrap(), None);
        let err = |a: &[u8]| timeout_arg(a).unwrap_err().message().to_string();
        assert_eq!(err(b"-1"), "ERR timeout is negative");
        assert_eq!(err(b"abc"), "ERR timeout is not a float or out of range");
        assert_eq!(err(b"inf"), "ERR timeout is out of range");
    }
}
