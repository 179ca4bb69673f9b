//! Pub/Sub: the channel and pattern registry, and each subscriber's queue
//! of messages not yet taken by its connection.
//!
//! PUBLISH never waits for a subscriber: it encodes the message once,
//! appends it to each receiver's queue and wakes the receiver's connection,
//! which moves the queue into its output buffer. A subscriber whose queued
//! and unsent bytes reach the pubsub class's hard `client-output-buffer-limit`
//! is cut there and then; the soft limit is the connection's to enforce, as
//! for any reply it cannot send.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use dashmap::DashMap;
use hashbrown::{HashMap, HashSet};
use parking_lot::{Mutex, RwLock};
use slotcache_protocol::Reply;
use tokio::sync::Notify;

use crate::client::{Client, ClientHandle};
use crate::commands::glob_match;

type Subscribers = HashMap<u64, Arc<Subscriber>>;

#[derive(Default)]
pub struct PubSub {
    channels: DashMap<Box<[u8]>, Subscribers>,
    /// Sharded Pub/Sub's channels (SSUBSCRIBE): a namespace of their own.
    shard_channels: DashMap<Box<[u8]>, Subscribers>,
    /// Every pattern is matched against every published channel, as in Redis.
    patterns: RwLock<HashMap<Box<[u8]>, Subscribers>>,
    /// The pubsub class's hard output limit in bytes (0: none).
    hard_limit: AtomicU64,
}

/// One subscribed connection's inbox.
pub struct Subscriber {
    id: u64,
    handle: Arc<ClientHandle>,
    inbox: Mutex<Inbox>,
    notify: Notify,
}

#[derive(Default)]
struct Inbox {
    /// Messages as RESP2 arrays; the connection turns the `*` into `>`
    /// for RESP3.
    messages: Vec<Bytes>,
    bytes: usize,
    /// Over the output limit: the connection must close.
    cut: bool,
    /// Shard channels the node stopped serving (their slot moved away):
    /// the connection tells the client it was unsubscribed from them.
    dropped: Vec<Box<[u8]>>,
}

/// A RESP2 array of bulk strings, shared by every receiver of a message.
fn frame(parts: &[&[u8]]) -> Bytes {
    let mut out = BytesMut::with_capacity(16 + parts.iter().map(|p| p.len() + 16).sum::<usize>());
    let mut reply = Reply::new(&mut out, false);
    reply.array(parts.len());
    for p in parts {
        reply.bulk(p);
    }
    out.freeze()
}

impl PubSub {
    pub fn set_hard_limit(&self, bytes: u64) {
        self.hard_limit.store(bytes, Relaxed);
    }

    /// Delivers `message` to the subscribers of `channel` and of every
    /// pattern matching it; returns how many receivers it reached.
    pub fn publish(&self, channel: &[u8], message: &[u8]) -> usize {
        let limit = self.hard_limit.load(Relaxed);
        let mut receivers = self.deliver_to_channel(Kind::Channel, channel, message);
        let patterns = self.patterns.read();
        for (pattern, subs) in patterns.iter() {
            if glob_match(pattern, channel, false) {
                let msg = frame(&[b"pmessage", pattern, channel, message]);
                for s in subs.values() {
                    s.deliver(&msg, limit);
                }
                receivers += subs.len();
            }
        }
        receivers
    }

    /// SPUBLISH: delivers `message` to the subscribers of shard channel
    /// `channel` (patterns do not apply); returns how many it reached.
    pub fn publish_shard(&self, channel: &[u8], message: &[u8]) -> usize {
        self.deliver_to_channel(Kind::Shard, channel, message)
    }

    fn deliver_to_channel(&self, kind: Kind, channel: &[u8], message: &[u8]) -> usize {
        let Some(subs) = self.map(kind).get(channel) else {
            return 0;
        };
        let word: &[u8] = match kind {
            Kind::Shard => b"smessage",
            _ => b"message",
        };
        let msg = frame(&[word, channel, message]);
        let limit = self.hard_limit.load(Relaxed);
        for s in subs.values() {
            s.deliver(&msg, limit);
        }
        subs.len()
    }

    /// The channels of a kind (`Channel` or `Shard`).
    fn map(&self, kind: Kind) -> &DashMap<Box<[u8]>, Subscribers> {
        match kind {
            Kind::Shard => &self.shard_channels,
            _ => &self.channels,
        }
    }

    /// Channels of a kind with at least one subscriber, optionally
    /// matching a pattern.
    pub fn channels(&self, kind: Kind, pattern: Option<&[u8]>) -> Vec<Box<[u8]>> {
        self.map(kind)
            .iter()
            .filter(|e| pattern.is_none_or(|p| glob_match(p, e.key(), false)))
            .map(|e| e.key().clone())
            .collect()
    }

    /// Channels of a kind with at least one subscriber (INFO
    /// `pubsub_channels`, `pubsubshard_channels`).
    pub fn channel_count(&self, kind: Kind) -> usize {
        self.map(kind).len()
    }

    pub fn numsub(&self, kind: Kind, channel: &[u8]) -> usize {
        self.map(kind).get(channel).map_or(0, |s| s.len())
    }

    /// Distinct patterns subscribed to.
    pub fn numpat(&self) -> usize {
        self.patterns.read().len()
    }

    fn add_channel(&self, kind: Kind, channel: &[u8], sub: &Arc<Subscriber>) {
        self.map(kind)
            .entry(channel.into())
            .or_default()
            .insert(sub.id, Arc::clone(sub));
    }

    fn remove_channel(&self, kind: Kind, channel: &[u8], id: u64) {
        self.map(kind).remove_if_mut(channel, |_, subs| {
            subs.remove(&id);
            subs.is_empty()
        });
    }

    fn add_pattern(&self, pattern: &[u8], sub: &Arc<Subscriber>) {
        self.patterns
            .write()
            .entry(Box::from(pattern))
            .or_default()
            .insert(sub.id, Arc::clone(sub));
    }

    /// Unsubscribes everyone from the shard channels `lost` says this node
    /// no longer serves (their slot moved), as Redis does: each subscriber
    /// gets an `sunsubscribe` for each.
    pub fn drop_shard_channels(&self, lost: impl Fn(&[u8]) -> bool) {
        self.shard_channels.retain(|channel, subs| {
            if !lost(channel) {
                return true;
            }
            for s in subs.values() {
                s.inbox.lock().dropped.push(channel.clone());
                s.notify.notify_one();
            }
            false
        });
    }

    /// Takes subscriber `id` off `name` in the namespace `kind`.
    fn leave(&self, kind: Kind, name: &[u8], id: u64) {
        match kind {
            Kind::Pattern => self.remove_pattern(name, id),
            _ => self.remove_channel(kind, name, id),
        }
    }

    fn remove_pattern(&self, pattern: &[u8], id: u64) {
        let mut patterns = self.patterns.write();
        if let Some(subs) = patterns.get_mut(pattern) {
            subs.remove(&id);
            if subs.is_empty() {
                patterns.remove(pattern);
            }
        }
    }
}

impl Subscriber {
    /// Queues a message unless that takes the client to the hard limit,
    /// which cuts it instead. Never waits on the client.
    fn deliver(&self, msg: &Bytes, hard_limit: u64) {
        let mut inbox = self.inbox.lock();
        if inbox.cut {
            return;
        }
        let pending = (inbox.bytes + msg.len()) as u64 + self.handle.output_buffer.load(Relaxed);
        if hard_limit != 0 && pending >= hard_limit {
            *inbox = Inbox {
                cut: true,
                ..Inbox::default()
            };
        } else {
            inbox.messages.push(msg.clone());
            inbox.bytes += msg.len();
            if inbox.messages.len() > 1 {
                // The connection was woken by the first and has not run yet.
                return;
            }
        }
        drop(inbox);
        self.notify.notify_one();
    }

    /// Moves the queued messages into `out`, in the protocol `out` speaks;
    /// returns the shard channels dropped meanwhile, or None when the client
    /// was cut and must be closed instead.
    fn drain(&self, out: &mut Reply) -> Option<Vec<Box<[u8]>>> {
        let (messages, dropped) = {
            let mut inbox = self.inbox.lock();
            if inbox.cut {
                return None;
            }
            inbox.bytes = 0;
            (
                std::mem::take(&mut inbox.messages),
                std::mem::take(&mut inbox.dropped),
            )
        };
        for m in messages {
            if out.resp3() {
                out.raw(b">");
                out.raw(&m[1..]);
            } else {
                out.raw(&m);
            }
        }
        Some(dropped)
    }
}

/// One (un)subscribe confirmation: [kind, name or null, subscriptions
/// left], pushed.
pub fn confirm(out: &mut Reply, word: &str, name: Option<&[u8]>, count: usize) {
    out.push(3);
    out.bulk(word.as_bytes());
    match name {
        Some(n) => out.bulk(n),
        None => out.null(),
    }
    out.int(count as i64);
}

/// A client's subscriptions, owned by its `Client`; dropping it (on close
/// or RESET) unsubscribes from everything.
pub struct Subscription {
    registry: Arc<PubSub>,
    pub subscriber: Arc<Subscriber>,
    channels: HashSet<Box<[u8]>>,
    patterns: HashSet<Box<[u8]>>,
    shards: HashSet<Box<[u8]>>,
}

/// Which of the three namespaces a (un)subscription is about.
#[derive(Clone, Copy)]
pub enum Kind {
    Channel,
    Pattern,
    /// Sharded Pub/Sub's channels.
    Shard,
}

impl Subscription {
    pub fn new(registry: Arc<PubSub>, handle: Arc<ClientHandle>) -> Self {
        Subscription {
            registry,
            subscriber: Arc::new(Subscriber {
                id: handle.id,
                handle,
                inbox: Mutex::default(),
                notify: Notify::new(),
            }),
            channels: HashSet::new(),
            patterns: HashSet::new(),
            shards: HashSet::new(),
        }
    }

    /// Channels, patterns and shard channels subscribed to.
    pub fn counts(&self) -> (usize, usize, usize) {
        (self.channels.len(), self.patterns.len(), self.shards.len())
    }

    /// The count an (un)subscribe reply of `kind` carries: channels plus
    /// patterns, or shard channels alone, as in Redis.
    pub fn count(&self, kind: Kind) -> usize {
        match kind {
            Kind::Shard => self.shards.len(),
            _ => self.channels.len() + self.patterns.len(),
        }
    }

    /// Moves what waits for the client into `out`: messages, then the
    /// unsubscriptions of shard channels whose slot moved away. False when
    /// the client was cut and must be closed instead.
    pub fn drain(&mut self, out: &mut Reply) -> bool {
        let Some(dropped) = self.subscriber.drain(out) else {
            return false;
        };
        for channel in dropped {
            if self.shards.remove(&channel) {
                confirm(out, "sunsubscribe", Some(&channel), self.shards.len());
            }
        }
        true
    }

    /// Subscribed to anything (Redis's CLIENT_PUBSUB).
    pub fn any(&self) -> bool {
        !(self.channels.is_empty() && self.patterns.is_empty() && self.shards.is_empty())
    }

    pub fn subscribe(&mut self, kind: Kind, name: &[u8]) {
        if self.set(kind).contains(name) {
            return;
        }
        self.set(kind).insert(name.into());
        match kind {
            Kind::Pattern => self.registry.add_pattern(name, &self.subscriber),
            _ => self.registry.add_channel(kind, name, &self.subscriber),
        }
    }

    pub fn unsubscribe(&mut self, kind: Kind, name: &[u8]) {
        if self.set(kind).remove(name) {
            self.registry.leave(kind, name, self.subscriber.id);
        }
    }

    /// Everything subscribed to in one namespace.
    pub fn names(&self, kind: Kind) -> Vec<Box<[u8]>> {
        match kind {
            Kind::Channel => self.channels.iter().cloned().collect(),
            Kind::Pattern => self.patterns.iter().cloned().collect(),
            Kind::Shard => self.shards.iter().cloned().collect(),
        }
    }

    fn set(&mut self, kind: Kind) -> &mut HashSet<Box<[u8]>> {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shards,
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let id = self.subscriber.id;
        for (kind, names) in [
            (Kind::Channel, &self.channels),
            (Kind::Pattern, &self.patterns),
            (Kind::Shard, &self.shards),
        ] {
            for name in names {
                self.registry.leave(kind, name, id);
            }
        }
    }
}

/// Resolves when messages wait for the client (or it was cut); never for
/// a client that never subscribed.
pub async fn wait(client: &Client) {
    match &client.pubsub {
        Some(s) => s.subscriber.notify.notified().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handle(id: u64) -> Arc<ClientHandle> {
        let addr = "127.0.0.1:1".parse().unwrap();
        ClientHandle::new(id, addr, addr)
    }

    fn taken(sub: &mut Subscription, resp3: bool) -> Option<Vec<u8>> {
        let mut out = BytesMut::new();
        sub.drain(&mut Reply::new(&mut out, resp3))
            .then(|| out.to_vec())
    }

    #[test]
    fn channels_and_patterns_both_receive() {
        let registry = Arc::new(PubSub::default());
        let mut a = Subscription::new(Arc::clone(&registry), handle(1));
        let mut b = Subscription::new(Arc::clone(&registry), handle(2));
        a.subscribe(Kind::Channel, b"news");
        b.subscribe(Kind::Pattern, b"n*");
        assert_eq!(registry.publish(b"news", b"hi"), 2);
        assert_eq!(
            taken(&mut a, false).unwrap(),
            b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n"
        );
        assert_eq!(
            taken(&mut b, true).unwrap(),
            b">4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$2\r\nhi\r\n"
        );
        assert_eq!(
            (registry.numsub(Kind::Channel, b"news"), registry.numpat()),
            (1, 1)
        );
        drop(a);
        b.unsubscribe(Kind::Pattern, b"n*");
        assert_eq!(
            (registry.numsub(Kind::Channel, b"news"), registry.numpat()),
            (0, 0)
        );
        assert_eq!(registry.publish(b"news", b"hi"), 0);
    }

    #[test]
    fn a_subscriber_over_the_hard_limit_is_cut() {
        let registry = Arc::new(PubSub::default());
        registry.set_hard_limit(100);
        let mut a = Subscription::new(Arc::clone(&registry), handle(1));
        a.subscribe(Kind::Channel, b"c");
        assert_eq!(registry.publish(b"c", &[b'x'; 40]), 1);
        assert_eq!(registry.publish(b"c", &[b'x'; 40]), 1);
        assert_eq!(taken(&mut a, false), None);
    }

    #[test]
    fn shard_channels_of_a_moved_slot_are_unsubscribed() {
        let registry = Arc::new(PubSub::default());
        let mut a = Subscription::new(Arc::clone(&registry), handle(1));
        a.subscribe(Kind::Shard, b"kept");
        a.subscribe(Kind::Shard, b"moved");
        a.subscribe(Kind::Channel, b"moved");
        assert_eq!(registry.publish_shard(b"moved", b"before"), 1);
        registry.drop_shard_channels(|c| c == b"moved");
        assert_eq!(registry.publish_shard(b"moved", b"after"), 0);
        assert_eq!(registry.numsub(Kind::Shard, b"kept"), 1);
        assert_eq!(registry.numsub(Kind::Channel, b"moved"), 1);
        assert_eq!(
            String::from_utf8(taken(&mut a, false).unwrap()).unwrap(),
            "*3\r\n$8\r\nsmessage\r\n$5\r\nmoved\r\n$6\r\nbefore\r\n\
             *3\r\n$12\r\nsunsubscribe\r\n$5\r\nmoved\r\n:1\r\n"
        );
        assert_eq!(a.counts(), (1, 0, 1));
    }
}
