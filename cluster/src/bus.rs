//! The cluster bus: one outbound link per known node (PING, MEET, FAIL go
//! out on it, PONGs come back on it), an accept loop answering on inbound
//! links, and the 10 Hz cron. The state machine is `State`; this file only
//! moves its messages and persists its configuration.

use std::collections::HashMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Notify};

use crate::node::{flags, NodeId};
use crate::routing::Routing;
use crate::state::{Myself, State};
use crate::wire::{self, Body, Kind, Message, MAX_FRAME};

pub struct Cluster {
    shared: Mutex<Shared>,
    /// Read by every keyed command in cluster mode.
    pub routing: RwLock<Routing>,
    /// Until when clients' writes wait: a replica is taking over by hand
    /// (unix ms; 0: they do not). Read by every write.
    pub writes_paused_until: AtomicU64,
    conf_path: PathBuf,
    /// Held while the process lives: no other node may use `conf_path`.
    _conf_lock: File,
    /// Bound at open, so the bus port is taken before clients can connect;
    /// served from `start`.
    listener: Mutex<Option<std::net::TcpListener>>,
    /// Drops the keys of slots another node took over.
    on_slots_lost: OnceLock<SlotsLostHook>,
    /// Unsubscribes the shard channels of slots this shard stopped serving.
    on_slots_unserved: OnceLock<SlotsLostHook>,
    /// Delivers a PUBLISH from another node to this node's subscribers.
    on_publish: OnceLock<PublishHook>,
}

struct Shared {
    state: State,
    links: HashMap<NodeId, Link>,
    next_link: u64,
    /// The epochs in nodes.conf as last flushed to disk (see `commit`).
    synced_epochs: (u64, u64, u64),
}

struct Link {
    generation: u64,
    created: u64,
    tx: mpsc::UnboundedSender<Bytes>,
    queue: Arc<LinkQueue>,
}

/// What a link's sender and its task share.
#[derive(Default)]
struct LinkQueue {
    /// Bytes queued and not yet written to the socket.
    pending: AtomicUsize,
    /// Told when the link is dropped: its task ends at once, freeing what
    /// is queued even while a write to a stuck peer waits.
    cut: Notify,
}

impl Drop for Link {
    fn drop(&mut self) {
        self.queue.cut.notify_one();
    }
}

/// Queues `frame`, a message of `kind`, on the links to `targets`, and
/// counts it. A link whose queue would pass cluster-link-sendbuf-limit is
/// freed instead (Redis's rule; the cron links again).
fn deliver(
    state: &mut State,
    links: &mut HashMap<NodeId, Link>,
    targets: &[NodeId],
    kind: Kind,
    frame: &Bytes,
) {
    let limit = state.link_sendbuf_limit as usize;
    for id in targets {
        let Some(link) = links.get(id) else {
            continue;
        };
        if limit != 0 && link.queue.pending.load(Relaxed) + frame.len() > limit {
            links.remove(id);
            state.links_buffer_limit_exceeded += 1;
            if let Some(n) = state.nodes.get_mut(id) {
                n.connected = false;
            }
            tracing::warn!("freeing the cluster link to {id}: its send buffer is over cluster-link-sendbuf-limit");
            continue;
        }
        link.queue.pending.fetch_add(frame.len(), Relaxed);
        if link.tx.send(frame.clone()).is_ok() {
            state.sent[kind as usize] += 1;
            state.bytes_sent += frame.len() as u64;
        }
    }
}

type SlotsLostHook = Box<dyn Fn(&[u16]) + Send + Sync>;
type PublishHook = Box<dyn Fn(&[u8], &[u8]) + Send + Sync>;

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Cluster {
    /// Locks `conf_path` for this process, loads it (or starts as a new
    /// node with a fresh id), writes it back, and binds the bus port on
    /// `bind`.
    pub fn open(
        conf_path: PathBuf,
        me: Myself,
        node_timeout: u64,
        full_coverage: bool,
        bind: &str,
    ) -> Result<Arc<Cluster>, String> {
        let conf_lock = lock_config(&conf_path)?;
        let listener = std::net::TcpListener::bind((bind, me.cport))
            .and_then(|l| l.set_nonblocking(true).map(|_| l))
            .map_err(|e| {
                format!(
                    "can't listen on the cluster bus port {bind}:{}: {e}",
                    me.cport
                )
            })?;
        let text = match std::fs::read_to_string(&conf_path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(format!("can't read {}: {e}", conf_path.display())),
        };
        let state = if text.trim().is_empty() {
            State::new(&me, node_timeout, full_coverage)
        } else {
            State::load(&text, &me, node_timeout, full_coverage, now_ms()).map_err(|e| {
                format!("corrupted cluster config file {}: {e}", conf_path.display())
            })?
        };
        tracing::info!("cluster node id {}", state.myself);
        let cluster = Arc::new(Cluster {
            shared: Mutex::new(Shared {
                state,
                links: HashMap::new(),
                next_link: 0,
                synced_epochs: (0, 0, 0),
            }),
            routing: RwLock::new(Routing::empty()),
            writes_paused_until: AtomicU64::new(0),
            conf_path,
            _conf_lock: conf_lock,
            listener: Mutex::new(Some(listener)),
            on_slots_lost: OnceLock::new(),
            on_slots_unserved: OnceLock::new(),
            on_publish: OnceLock::new(),
        });
        let mut shared = cluster.shared.lock();
        cluster
            .commit(&mut shared)
            .map_err(|e| format!("can't write the cluster config file: {e}"))?;
        drop(shared);
        Ok(cluster)
    }

    /// Reads the state (CLUSTER NODES, INFO …).
    pub fn read<R>(&self, f: impl FnOnce(&State, u64) -> R) -> R {
        f(&self.shared.lock().state, now_ms())
    }

    /// Runs `f` on the state, then saves, reroutes and sends whatever it
    /// changed or queued.
    pub fn with_state<R>(&self, f: impl FnOnce(&mut State, u64) -> R) -> R {
        let mut shared = self.shared.lock();
        let r = f(&mut shared.state, now_ms());
        if let Err(e) = self.commit(&mut shared) {
            tracing::warn!("can't write the cluster config file: {e}");
        }
        let lost = std::mem::take(&mut shared.state.lost_slots);
        let unserved = std::mem::take(&mut shared.state.unserved_slots);
        drop(shared);
        for (slots, hook) in [
            (lost, &self.on_slots_lost),
            (unserved, &self.on_slots_unserved),
        ] {
            if let (false, Some(f)) = (slots.is_empty(), hook.get()) {
                f(&slots);
            }
        }
        r
    }

    /// Sets what happens to the keys of slots another node took over.
    pub fn on_slots_lost(&self, f: impl Fn(&[u16]) + Send + Sync + 'static) {
        let _ = self.on_slots_lost.set(Box::new(f));
    }

    /// Sets what happens when this node's shard stops serving slots (any
    /// move, DELSLOTS, a failover elsewhere): its shard channels go.
    pub fn on_slots_unserved(&self, f: impl Fn(&[u16]) + Send + Sync + 'static) {
        let _ = self.on_slots_unserved.set(Box::new(f));
    }

    /// Sets how a PUBLISH from another node reaches local subscribers.
    pub fn on_publish(&self, f: impl Fn(&[u8], &[u8]) + Send + Sync + 'static) {
        let _ = self.on_publish.set(Box::new(f));
    }

    /// Sends a PUBLISH to every node linked to this one, primaries and
    /// replicas alike (Redis's clusterPropagatePublish); each delivers it
    /// to its own subscribers and passes it on to no one.
    pub fn publish(&self, channel: &[u8], message: &[u8]) {
        let text = channel.len() + message.len();
        if !wire::fits(text) {
            tracing::warn!("a PUBLISH of {text} bytes is too large for the cluster bus: delivered on this node only");
            return;
        }
        // The header is read under the state lock, the text copied after.
        let mut frame = {
            let shared = self.shared.lock();
            if shared.links.is_empty() {
                return;
            }
            shared.state.header(Kind::Publish).start(8 + text)
        };
        wire::put_publish(&mut frame, channel, message);
        wire::finish(&mut frame);
        let frame = frame.freeze();
        let mut shared = self.shared.lock();
        let Shared { state, links, .. } = &mut *shared;
        let met: Vec<NodeId> = links
            .keys()
            .filter(|id| {
                state
                    .nodes
                    .get(id)
                    .is_some_and(|n| !n.has(flags::HANDSHAKE))
            })
            .copied()
            .collect();
        deliver(state, links, &met, Kind::Publish, &frame);
    }

    /// Runs the hook without the state lock held: it locks keyspace slots.
    fn commit(&self, shared: &mut Shared) -> std::io::Result<()> {
        let state = &mut shared.state;
        if state.dirty_routing {
            state.dirty_routing = false;
            *self.routing.write() = Routing::build(state);
            self.writes_paused_until
                .store(state.writes_paused_until(), Relaxed);
        }
        let mut saved = Ok(());
        if state.dirty_conf {
            state.dirty_conf = false;
            // As Redis: the file is rewritten on every change, but flushed
            // to disk only when an epoch moved (a vote or a config epoch
            // must survive a power cut; slot moves, which redis-cli makes
            // several per slot, need not wait for the disk).
            let epochs = (
                state.current_epoch,
                state.me().config_epoch,
                state.last_vote_epoch,
            );
            let sync = epochs != shared.synced_epochs;
            saved = save_atomically(&self.conf_path, &state.conf_text(), sync);
            if sync && saved.is_ok() {
                shared.synced_epochs = epochs;
            }
        }
        for (to, msg) in std::mem::take(&mut state.outbox) {
            let frame = msg.encode().freeze();
            let targets: Vec<NodeId> = match to {
                Some(id) => vec![id],
                None => shared.links.keys().copied().collect(),
            };
            deliver(state, &mut shared.links, &targets, msg.head.kind, &frame);
        }
        saved
    }

    /// Starts the accept loop and the cron (once; in a tokio runtime).
    pub fn start(self: &Arc<Self>) -> std::io::Result<()> {
        let Some(listener) = self.listener.lock().take() else {
            return Ok(());
        };
        let listener = TcpListener::from_std(listener)?;
        let accept = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        tokio::spawn(Arc::clone(&accept).serve_inbound(stream));
                    }
                    Err(e) => {
                        tracing::warn!("cluster bus accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        });
        tokio::spawn(Arc::clone(self).cron());
        Ok(())
    }

    /// Decodes-and-handles one message; returns the encoded reply.
    fn handle(&self, msg: &Message, len: usize, peer_ip: &str, local_ip: &str) -> Option<Bytes> {
        if let Body::Publish { channel, message } = &msg.body {
            // Delivered without the state lock: the hook takes pub/sub's.
            let accepted = self.shared.lock().state.accept_publish(msg, len);
            if let (true, Some(deliver)) = (accepted, self.on_publish.get()) {
                deliver(channel, message);
            }
            return None;
        }
        self.with_state(|s, now| {
            s.bytes_received += len as u64;
            let reply = s.process(msg, peer_ip, local_ip, now)?;
            s.sent[reply.head.kind as usize] += 1;
            let frame = reply.encode().freeze();
            s.bytes_sent += frame.len() as u64;
            Some(frame)
        })
    }

    async fn serve_inbound(self: Arc<Self>, stream: TcpStream) {
        let _ = stream.set_nodelay(true);
        let peer_ip = stream
            .peer_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_default();
        let local_ip = stream
            .local_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_default();
        let (mut rd, mut wr) = stream.into_split();
        let mut buf = Vec::new();
        // A malformed frame ends the connection; an unknown sender's frames
        // are ignored by `State::process`.
        while let Ok((msg, len)) = read_frame(&mut rd, &mut buf).await {
            if let Some(reply) = self.handle(&msg, len, &peer_ip, &local_ip) {
                if wr.write_all(&reply).await.is_err() {
                    return;
                }
            }
        }
    }

    async fn cron(self: Arc<Self>) {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut iteration = 0u64;
        loop {
            tick.tick().await;
            iteration += 1;
            let mut shared = self.shared.lock();
            let now = now_ms();
            let Shared {
                state,
                links,
                next_link,
                ..
            } = &mut *shared;
            let to_ping = state.cron(now, iteration);
            let timeout = state.node_timeout;
            // A link whose ping has waited half the timeout is replaced: a
            // wedged connection must not look like a dead node.
            links.retain(|id, link| {
                let stale = state.nodes.get(id).is_none_or(|n| {
                    n.ping_sent != 0
                        && now.saturating_sub(n.ping_sent) > timeout / 2
                        && now.saturating_sub(link.created) > timeout
                });
                if stale {
                    if let Some(n) = state.nodes.get_mut(id) {
                        n.connected = false;
                    }
                }
                !stale
            });
            let unlinked: Vec<(NodeId, String, u16, bool)> = state
                .nodes
                .values()
                .filter(|n| {
                    n.id != state.myself && !n.has(flags::NOADDR) && !links.contains_key(&n.id)
                })
                .map(|n| (n.id, n.ip.clone(), n.cport, n.has(flags::MEET)))
                .collect();
            for (id, ip, cport, meet) in unlinked {
                let (tx, rx) = mpsc::unbounded_channel();
                *next_link += 1;
                let generation = *next_link;
                let queue = Arc::new(LinkQueue::default());
                links.insert(
                    id,
                    Link {
                        generation,
                        created: now,
                        tx,
                        queue: Arc::clone(&queue),
                    },
                );
                let kind = if meet { Kind::Meet } else { Kind::Ping };
                let msg = state.ping(kind, Some(id), now);
                state.outbox.push((Some(id), msg));
                let link = Arc::clone(&self).run_link(id, generation, ip, cport, rx, queue);
                tokio::spawn(link);
            }
            for id in to_ping {
                let msg = state.ping(Kind::Ping, Some(id), now);
                state.outbox.push((Some(id), msg));
            }
            if let Err(e) = self.commit(&mut shared) {
                tracing::warn!("can't write the cluster config file: {e}");
            }
        }
    }

    async fn run_link(
        self: Arc<Self>,
        id: NodeId,
        generation: u64,
        ip: String,
        cport: u16,
        mut rx: mpsc::UnboundedReceiver<Bytes>,
        queue: Arc<LinkQueue>,
    ) {
        let timeout = Duration::from_millis(self.shared.lock().state.node_timeout.max(100));
        let stream =
            match tokio::time::timeout(timeout, TcpStream::connect((ip.as_str(), cport))).await {
                Ok(Ok(s)) => s,
                _ => {
                    self.link_down(id, generation, true);
                    return;
                }
            };
        let _ = stream.set_nodelay(true);
        let local_ip = stream
            .local_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_default();
        self.set_connected(id, generation);
        let (mut rd, mut wr) = stream.into_split();
        let reader = {
            let this = Arc::clone(&self);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                while let Ok((msg, len)) = read_frame(&mut rd, &mut buf).await {
                    this.handle(&msg, len, &ip, &local_ip);
                }
                this.link_down(id, generation, false);
            })
        };
        loop {
            let frame = tokio::select! {
                frame = rx.recv() => frame,
                _ = queue.cut.notified() => None,
            };
            let Some(frame) = frame else {
                break;
            };
            let written = tokio::select! {
                written = wr.write_all(&frame) => written.is_ok(),
                _ = queue.cut.notified() => false,
            };
            if !written {
                break;
            }
            queue.pending.fetch_sub(frame.len(), Relaxed);
        }
        reader.abort();
        self.link_down(id, generation, false);
    }

    fn set_connected(&self, id: NodeId, generation: u64) {
        let mut shared = self.shared.lock();
        if shared
            .links
            .get(&id)
            .is_some_and(|l| l.generation == generation)
        {
            if let Some(n) = shared.state.nodes.get_mut(&id) {
                n.connected = true;
            }
        }
    }

    fn link_down(&self, id: NodeId, generation: u64, connect_failed: bool) {
        let mut shared = self.shared.lock();
        if shared
            .links
            .get(&id)
            .is_some_and(|l| l.generation == generation)
        {
            shared.links.remove(&id);
            if connect_failed {
                shared.state.link_failed(&id, now_ms());
            } else if let Some(n) = shared.state.nodes.get_mut(&id) {
                n.connected = false;
            }
        }
    }

    /// CLUSTER MEET: a MEET handshake on the target's bus port, waited for,
    /// so a refusal (another region) or an unreachable node is reported to
    /// the user instead of failing silently. Blocks the calling thread.
    pub fn meet(&self, ip: &str, port: u16, cport: u16) -> Result<(), String> {
        let addr: IpAddr = ip
            .parse()
            .map_err(|_| format!("ERR Invalid node address specified: {ip}:{port}"))?;
        let target = SocketAddr::new(addr, cport);
        let (frame, timeout) = self.with_state(|s, now| {
            s.sent[Kind::Meet as usize] += 1;
            let frame = s.ping(Kind::Meet, None, now).encode();
            s.bytes_sent += frame.len() as u64;
            (
                frame,
                Duration::from_millis(s.node_timeout.clamp(500, 5000)),
            )
        });
        let probe = || -> std::io::Result<(Message, usize, String)> {
            let mut stream = std::net::TcpStream::connect_timeout(&target, timeout)?;
            stream.set_read_timeout(Some(timeout))?;
            stream.write_all(&frame)?;
            let mut len = [0u8; 4];
            stream.read_exact(&mut len)?;
            let len = u32::from_be_bytes(len) as usize;
            if len > MAX_FRAME {
                return Err(std::io::ErrorKind::InvalidData.into());
            }
            let mut body = vec![0u8; len];
            stream.read_exact(&mut body)?;
            let msg = Message::decode(&body).ok_or(std::io::ErrorKind::InvalidData)?;
            Ok((msg, len + 4, stream.local_addr()?.ip().to_string()))
        };
        let (reply, len, local_ip) = tokio::task::block_in_place(probe).map_err(|e| {
            format!("ERR Can't reach {ip}:{port} on its cluster bus port {cport}: {e}")
        })?;
        self.with_state(|s, now| {
            s.bytes_received += len as u64;
            match (&reply.head.kind, &reply.body) {
                (Kind::Reject, Body::Reject(why)) => {
                    s.received[Kind::Reject as usize] += 1;
                    Err(why.clone())
                }
                (Kind::Pong, _) => {
                    if reply.head.sender != s.myself && s.node(&reply.head.sender).is_none() {
                        s.add_met(&reply, ip, cport, now);
                    }
                    s.process(&reply, ip, &local_ip, now);
                    Ok(())
                }
                _ => Err("ERR Unexpected answer to MEET".into()),
            }
        })
    }
}

/// Reads one frame; an error for EOF, I/O errors and malformed frames.
async fn read_frame<R: AsyncRead + Unpin>(
    rd: &mut R,
    buf: &mut Vec<u8>,
) -> std::io::Result<(Message, usize)> {
    let len = rd.read_u32().await? as usize;
    if buf.capacity() > MAX_FRAME {
        // Gives back what a big PUBLISH took.
        *buf = Vec::new();
    }
    buf.resize(len.min(MAX_FRAME), 0);
    rd.read_exact(buf).await?;
    if len > MAX_FRAME {
        if !wire::is_publish(buf) {
            return Err(std::io::ErrorKind::InvalidData.into());
        }
        // Grown as bytes arrive: a length that lies costs no memory.
        let rest = (len - MAX_FRAME) as u64;
        if (&mut *rd).take(rest).read_to_end(buf).await? as u64 != rest {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
    }
    let msg = Message::decode(buf).ok_or(std::io::ErrorKind::InvalidData)?;
    Ok((msg, len + 4))
}

/// Takes the lock that keeps two nodes off one cluster config file, as
/// Redis does, but on a companion `<file>.lock`: the atomic rewrite renames
/// a new inode over the config file, which would shed a lock held on it.
fn lock_config(path: &Path) -> Result<File, String> {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    let lock_path = PathBuf::from(name);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| format!("can't open {}: {e}", lock_path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(format!(
            "Sorry, the cluster configuration file {} is already used by a different Redis Cluster node. Please make sure that different nodes use different cluster configuration files.",
            path.display()
        )),
        Err(TryLockError::Error(e)) => Err(format!("Impossible to lock {}: {e}", lock_path.display())),
    }
}

/// Writes `text` to a temporary file, syncs it if `sync`, and renames it
/// over `path`, so a crash leaves the old or the new file, never half of
/// one (unsynced, the rename may be lost on a power cut, not on a crash).
pub fn save_atomically(path: &Path, text: &str, sync: bool) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp-write");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(text.as_bytes())?;
    if sync {
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_node_per_config_file_across_rewrites() {
        let dir = std::env::temp_dir().join(format!("slotcache-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let conf = dir.join("nodes.conf");
        let held = lock_config(&conf).unwrap();
        let refused = lock_config(&conf).unwrap_err();
        assert!(
            refused.starts_with(&format!(
                "Sorry, the cluster configuration file {} is already used",
                conf.display()
            )),
            "{refused}"
        );
        // The rewrite replaces the config file, not what the lock is on.
        save_atomically(&conf, "new\n", true).unwrap();
        assert!(lock_config(&conf).is_err());
        assert!(lock_config(&dir.join("other.conf")).is_ok());
        drop(held);
        assert!(lock_config(&conf).is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
