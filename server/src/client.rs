//! Client state. `Client` is owned by the connection task; `ClientHandle`
//! is the part other connections may read or act on (CLIENT LIST, KILL),
//! kept in the server's registry.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::blocking::Blocked;
use crate::clock;
use crate::commands::TxState;
use crate::pubsub::Subscription;

pub struct ClientHandle {
    pub id: u64,
    pub addr: SocketAddr,
    pub local_addr: SocketAddr,
    pub created_ms: u64,
    pub name: Mutex<String>,
    pub lib_name: Mutex<String>,
    pub lib_ver: Mutex<String>,
    pub last_active_ms: AtomicU64,
    /// Command-table id of the last command run (for CLIENT LIST `cmd=`).
    pub last_command: AtomicUsize,
    pub resp: AtomicU8,
    /// Bytes waiting in the query buffer and the output buffer.
    pub query_buffer: AtomicU64,
    pub output_buffer: AtomicU64,
    /// What CLIENT LIST shows of the connection's state, as
    /// `Client::publish_state` left it after its last batch.
    pub state: Mutex<ListedState>,
    killed: AtomicBool,
    kill_signal: Notify,
}

impl ClientHandle {
    pub fn new(id: u64, addr: SocketAddr, local_addr: SocketAddr) -> Arc<Self> {
        let now = clock::unix_ms();
        Arc::new(ClientHandle {
            id,
            addr,
            local_addr,
            created_ms: now,
            name: Mutex::default(),
            lib_name: Mutex::default(),
            lib_ver: Mutex::default(),
            last_active_ms: AtomicU64::new(now),
            last_command: AtomicUsize::new(usize::MAX),
            resp: AtomicU8::new(2),
            query_buffer: AtomicU64::new(0),
            output_buffer: AtomicU64::new(0),
            state: Mutex::default(),
            killed: AtomicBool::new(false),
            kill_signal: Notify::new(),
        })
    }

    /// Asks the connection to close (CLIENT KILL); it does at its next wake.
    pub fn kill(&self) {
        self.killed.store(true, Relaxed);
        self.kill_signal.notify_one();
    }

    pub fn is_killed(&self) -> bool {
        self.killed.load(Relaxed)
    }

    pub async fn killed(&self) {
        self.kill_signal.notified().await
    }
}

/// Per-connection state the commands read and change.
pub struct Client {
    pub handle: Arc<ClientHandle>,
    pub resp3: bool,
    pub authenticated: bool,
    /// Close the connection once the current replies are written (QUIT).
    pub close_after_reply: bool,
    /// Cluster: ASKING was sent; good for the next command only.
    pub asking: bool,
    /// Cluster: READONLY, reads may be served by this replica.
    pub readonly: bool,
    /// The blocking command this client waits in, if any.
    pub blocked: Option<Blocked>,
    pub pubsub: Option<Subscription>,
    /// MULTI and WATCH state (commands/multi.rs).
    pub tx: TxState,
    /// What `publish_state` last put in the handle.
    listed: ListedState,
}

/// A connection's state as CLIENT LIST shows it.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct ListedState {
    pub subscriptions: usize,
    pub patterns: usize,
    pub shard_subscriptions: usize,
    /// Commands queued since MULTI; None outside a transaction.
    pub queued: Option<usize>,
    /// A WATCHed key changed: EXEC will fail.
    pub dirty_cas: bool,
    pub blocked: bool,
    pub readonly: bool,
}

impl ListedState {
    pub fn pubsub(&self) -> bool {
        self.subscriptions + self.patterns + self.shard_subscriptions > 0
    }

    /// Redis's `flags=` letters, in Redis's order; N for none.
    pub fn flags(&self) -> String {
        let letters = [
            (self.pubsub(), 'P'),
            (self.queued.is_some(), 'x'),
            (self.blocked, 'b'),
            (self.dirty_cas, 'd'),
            (self.readonly, 'r'),
        ];
        let flags: String = letters
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, c)| c)
            .collect();
        if flags.is_empty() {
            "N".into()
        } else {
            flags
        }
    }
}

impl Client {
    /// Mirrors the state CLIENT LIST shows into the handle, once per batch
    /// (the handle's lock is taken only when something changed).
    pub fn publish_state(&mut self) {
        let (subscriptions, patterns, shard_subscriptions) =
            self.pubsub.as_ref().map_or((0, 0, 0), |s| s.counts());
        let state = ListedState {
            subscriptions,
            patterns,
            shard_subscriptions,
            queued: self.tx.queued_len(),
            dirty_cas: self.tx.watch_changed(),
            blocked: self.blocked.is_some(),
            readonly: self.readonly,
        };
        if self.listed != state {
            self.listed = state;
            *self.handle.state.lock() = state;
        }
    }

    pub fn new(handle: Arc<ClientHandle>, authenticated: bool) -> Self {
        Client {
            handle,
            resp3: false,
            authenticated,
            close_after_reply: false,
            asking: false,
            readonly: false,
            blocked: None,
            pubsub: None,
            tx: TxState::default(),
            listed: ListedState::default(),
        }
    }

    pub fn id(&self) -> u64 {
        self.handle.id
    }

    /// Subscribed to a channel, pattern or shard channel (Redis's CLIENT_PUBSUB).
    pub fn subscribed(&self) -> bool {
        self.pubsub.as_ref().is_some_and(|s| s.any())
    }

    pub fn set_resp3(&mut self, on: bool) {
        self.resp3 = on;
        self.handle.resp.store(if on { 3 } else { 2 }, Relaxed);
    }
}
