//! The cluster bus wire format: length-prefixed binary frames.
//!
//! `u32 length` (of what follows) `"SCB1"` `u8 type`, then the sender's
//! header (id, epochs, role, address, region/zone, slots), then the body of
//! the type. Slots travel as ranges or as a bitmap, whichever is smaller: a
//! primary of a typical cluster owns one range (4 bytes) where Redis sends
//! its 2 KB bitmap in every message. Anything that does not decode exactly
//! is rejected.

use std::borrow::Cow;

use bytes::{BufMut, Bytes, BytesMut};

use crate::node::{NodeId, SlotSet};
use crate::SLOT_COUNT;

const MAGIC: &[u8; 4] = b"SCB1";
/// A frame larger than this is malformed (the largest real one, a bitmap
/// plus gossip about a few hundred nodes, is far smaller), unless it is a
/// PUBLISH: that carries a client's channel and message, each up to
/// proto-max-bulk-len, so only the u32 length bounds it.
pub const MAX_FRAME: usize = 1 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Ping = 0,
    Pong = 1,
    Meet = 2,
    Fail = 3,
    /// The answer to a MEET the receiver refuses (another region).
    Reject = 4,
    /// A PUBLISH for the receiver's subscribers (Redis's
    /// CLUSTERMSG_TYPE_PUBLISH); never passed on.
    Publish = 5,
    /// A replica asks the primaries for their vote to replace its primary.
    AuthRequest = 6,
    /// A primary's vote.
    AuthAck = 7,
    /// A replica asks its primary to pause writes for a manual failover.
    MfStart = 8,
}

impl Kind {
    pub const ALL: [Kind; 9] = [
        Kind::Ping,
        Kind::Pong,
        Kind::Meet,
        Kind::Fail,
        Kind::Reject,
        Kind::Publish,
        Kind::AuthRequest,
        Kind::AuthAck,
        Kind::MfStart,
    ];

    /// As CLUSTER INFO names message types (Redis's names where it has
    /// the type).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Ping => "ping",
            Kind::Pong => "pong",
            Kind::Meet => "meet",
            Kind::Fail => "fail",
            Kind::Reject => "reject",
            Kind::Publish => "publish",
            Kind::AuthRequest => "auth-req",
            Kind::AuthAck => "auth-ack",
            Kind::MfStart => "mfstart",
        }
    }

    fn from_u8(b: u8) -> Option<Kind> {
        Kind::ALL.get(b as usize).copied()
    }
}

/// What a node says about another in PING/PONG/MEET.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gossip {
    pub id: NodeId,
    pub ip: String,
    pub port: u16,
    pub cport: u16,
    pub flags: u16,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    Gossip(Vec<Gossip>),
    /// FAIL: this node is failing.
    Fail(NodeId),
    /// REJECT: why.
    Reject(String),
    Publish {
        channel: Bytes,
        message: Bytes,
    },
    /// AUTH_REQUEST, AUTH_ACK, MFSTART: the header says it all.
    Empty,
}

/// Per-message flags (Redis's mflags).
pub mod mflags {
    /// From a primary: its writes are paused for a manual failover.
    pub const PAUSED: u8 = 1;
    /// In an auth request: vote even though the primary is not failing
    /// (a manual failover).
    pub const FORCEACK: u8 = 2;
}

#[derive(Clone, PartialEq, Eq)]
pub struct Message {
    pub head: Header<'static>,
    pub body: Body,
}

/// The sender's part of a frame. Borrowed from the sender's state when it
/// frames a message (a PUBLISH is framed without copying the sender's slots
/// and names), owned in a decoded message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header<'a> {
    pub kind: Kind,
    pub sender: NodeId,
    pub current_epoch: u64,
    pub config_epoch: u64,
    /// MASTER / SLAVE / NOFAILOVER.
    pub flags: u16,
    pub mflags: u8,
    pub master: Option<NodeId>,
    /// The sender's own idea of its IP ("" when it does not know yet).
    pub ip: Cow<'a, str>,
    pub port: u16,
    pub cport: u16,
    pub region: Cow<'a, str>,
    pub zone: Cow<'a, str>,
    pub slots: Cow<'a, SlotSet>,
}

impl Header<'_> {
    /// A frame holding this header, with `body` more bytes of room; the
    /// body goes after it and `finish` writes the length.
    pub fn start(&self, body: usize) -> BytesMut {
        let mut out = BytesMut::with_capacity(256 + body);
        out.put_u32(0);
        out.put_slice(MAGIC);
        out.put_u8(self.kind as u8);
        out.put_slice(&self.sender.0);
        out.put_u64(self.current_epoch);
        out.put_u64(self.config_epoch);
        out.put_u16(self.flags);
        out.put_u8(self.mflags);
        match &self.master {
            Some(m) => {
                out.put_u8(1);
                out.put_slice(&m.0);
            }
            None => out.put_u8(0),
        }
        put_str(&mut out, &self.ip);
        out.put_u16(self.port);
        out.put_u16(self.cport);
        put_str(&mut out, &self.region);
        put_str(&mut out, &self.zone);
        put_slots(&mut out, &self.slots);
        out
    }

    pub fn message(self, body: Body) -> Message {
        Message {
            head: Header {
                ip: Cow::Owned(self.ip.into_owned()),
                region: Cow::Owned(self.region.into_owned()),
                zone: Cow::Owned(self.zone.into_owned()),
                slots: Cow::Owned(self.slots.into_owned()),
                ..self
            },
            body,
        }
    }
}

/// Writes the length prefix of a frame begun by `Header::start`; the
/// caller keeps it within u32 (see `fits`).
pub fn finish(frame: &mut BytesMut) {
    let len = (frame.len() - 4) as u32;
    frame[..4].copy_from_slice(&len.to_be_bytes());
}

/// The body of a PUBLISH.
pub fn put_publish(out: &mut BytesMut, channel: &[u8], message: &[u8]) {
    out.put_u32(channel.len() as u32);
    out.put_slice(channel);
    out.put_u32(message.len() as u32);
    out.put_slice(message);
}

/// Whether a PUBLISH whose channel and message total `text` bytes fits in
/// one frame (a header is far below `MAX_FRAME`).
pub fn fits(text: usize) -> bool {
    text as u64 + MAX_FRAME as u64 <= u32::MAX as u64
}

/// Whether a frame body (or its first bytes) is a PUBLISH, the one kind
/// that may exceed `MAX_FRAME`.
pub fn is_publish(head: &[u8]) -> bool {
    head.len() > MAGIC.len() && head.starts_with(MAGIC) && head[MAGIC.len()] == Kind::Publish as u8
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} from {}", self.head.kind, self.head.sender)
    }
}

/// At most 255 bytes, cut on a character boundary so it stays UTF-8.
fn put_str(out: &mut BytesMut, s: &str) {
    let mut end = s.len().min(255);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let s = &s.as_bytes()[..end];
    out.put_u8(s.len() as u8);
    out.put_slice(s);
}

fn put_slots(out: &mut BytesMut, slots: &SlotSet) {
    let ranges = slots.ranges();
    if 2 + ranges.len() * 4 <= SLOT_COUNT / 8 {
        out.put_u8(0);
        out.put_u16(ranges.len() as u16);
        for (a, b) in ranges {
            out.put_u16(a);
            out.put_u16(b);
        }
    } else {
        out.put_u8(1);
        for w in slots.words() {
            out.put_u64_le(*w);
        }
    }
}

impl Message {
    /// The whole frame, length prefix included.
    pub fn encode(&self) -> BytesMut {
        let mut out = self.head.start(0);
        match &self.body {
            Body::Gossip(entries) => {
                out.put_u16(entries.len() as u16);
                for g in entries {
                    out.put_slice(&g.id.0);
                    put_str(&mut out, &g.ip);
                    out.put_u16(g.port);
                    out.put_u16(g.cport);
                    out.put_u16(g.flags);
                }
            }
            Body::Fail(id) => out.put_slice(&id.0),
            Body::Reject(reason) => put_str(&mut out, reason),
            Body::Publish { channel, message } => put_publish(&mut out, channel, message),
            Body::Empty => {}
        }
        finish(&mut out);
        out
    }

    /// Decodes one frame body (what follows the length prefix).
    pub fn decode(frame: &[u8]) -> Option<Message> {
        let mut r = Reader(frame);
        if r.take(4)? != MAGIC {
            return None;
        }
        let kind = Kind::from_u8(r.u8()?)?;
        let sender = r.id()?;
        let current_epoch = r.u64()?;
        let config_epoch = r.u64()?;
        let flags = r.u16()?;
        let mflags = r.u8()?;
        let master = match r.u8()? {
            0 => None,
            1 => Some(r.id()?),
            _ => return None,
        };
        let ip = r.string()?;
        let port = r.u16()?;
        let cport = r.u16()?;
        let region = r.string()?;
        let zone = r.string()?;
        let slots = r.slots()?;
        let body = match kind {
            Kind::Ping | Kind::Pong | Kind::Meet => {
                let n = r.u16()?;
                let mut entries = Vec::with_capacity(n.min(1024) as usize);
                for _ in 0..n {
                    entries.push(Gossip {
                        id: r.id()?,
                        ip: r.string()?,
                        port: r.u16()?,
                        cport: r.u16()?,
                        flags: r.u16()?,
                    });
                }
                Body::Gossip(entries)
            }
            Kind::Fail => Body::Fail(r.id()?),
            Kind::Reject => Body::Reject(r.string()?),
            Kind::Publish => Body::Publish {
                channel: r.bytes()?,
                message: r.bytes()?,
            },
            Kind::AuthRequest | Kind::AuthAck | Kind::MfStart => Body::Empty,
        };
        if !r.0.is_empty() {
            return None;
        }
        let head = Header {
            kind,
            sender,
            current_epoch,
            config_epoch,
            flags,
            mflags,
            master,
            ip: Cow::Owned(ip),
            port,
            cport,
            region: Cow::Owned(region),
            zone: Cow::Owned(zone),
            slots: Cow::Owned(slots),
        };
        Some(Message { head, body })
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }
    fn id(&mut self) -> Option<NodeId> {
        NodeId::parse(self.take(40)?)
    }
    /// A u32-length byte string.
    fn bytes(&mut self) -> Option<Bytes> {
        let n = self.u32()? as usize;
        Some(Bytes::copy_from_slice(self.take(n)?))
    }
    fn string(&mut self) -> Option<String> {
        let n = self.u8()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
    fn slots(&mut self) -> Option<SlotSet> {
        match self.u8()? {
            0 => {
                let mut set = SlotSet::default();
                for _ in 0..self.u16()? {
                    let (a, b) = (self.u16()?, self.u16()?);
                    if a > b || b as usize >= SLOT_COUNT {
                        return None;
                    }
                    (a..=b).for_each(|s| {
                        set.insert(s);
                    });
                }
                Some(set)
            }
            1 => {
                let mut words = [0u64; SLOT_COUNT / 64];
                for w in words.iter_mut() {
                    *w = u64::from_le_bytes(self.take(8)?.try_into().ok()?);
                }
                Some(SlotSet::from_words(words))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(body: Body) -> Message {
        let mut slots = SlotSet::default();
        (0..=5460).for_each(|s| {
            slots.insert(s);
        });
        Header {
            kind: Kind::Ping,
            sender: NodeId::random(),
            current_epoch: 7,
            config_epoch: 3,
            flags: crate::node::flags::MASTER,
            mflags: mflags::PAUSED,
            master: None,
            ip: "127.0.0.1".into(),
            port: 7000,
            cport: 17000,
            region: "eu".into(),
            zone: "eu-1a".into(),
            slots: Cow::Owned(slots),
        }
        .message(body)
    }

    #[test]
    fn round_trip_and_size() {
        let g = Gossip {
            id: NodeId::random(),
            ip: "10.0.0.2".into(),
            port: 7001,
            cport: 17001,
            flags: 1,
        };
        let m = sample(Body::Gossip(vec![g.clone(), g]));
        let frame = m.encode();
        assert_eq!(Message::decode(&frame[4..]), Some(m));
        // A ping with one slot range and two gossip entries: far below
        // Redis's 2 KB header.
        assert!(frame.len() < 300, "{}", frame.len());
        for kind in [Kind::AuthRequest, Kind::AuthAck, Kind::MfStart] {
            let mut m = sample(Body::Empty);
            m.head.kind = kind;
            assert_eq!(Message::decode(&m.encode()[4..]), Some(m));
        }
    }

    #[test]
    fn long_text_is_cut_on_a_char_boundary() {
        let mut m = sample(Body::Gossip(vec![]));
        m.head.zone = "é".repeat(200).into();
        let decoded = Message::decode(&m.encode()[4..]).unwrap();
        assert_eq!(decoded.head.zone, "é".repeat(127));
    }

    #[test]
    fn bitmap_when_fragmented() {
        let mut m = sample(Body::Fail(NodeId::random()));
        m.head.kind = Kind::Fail;
        let mut slots = SlotSet::default();
        (0..16384).step_by(2).for_each(|s| {
            slots.insert(s);
        });
        m.head.slots = Cow::Owned(slots);
        let frame = m.encode();
        assert!(frame.len() < 2200);
        assert_eq!(Message::decode(&frame[4..]), Some(m));
    }

    #[test]
    fn publish_round_trip() {
        let mut m = sample(Body::Publish {
            channel: Bytes::from_static(b"news"),
            message: Bytes::from(vec![0u8, 255, b'\r', b'\n']),
        });
        m.head.kind = Kind::Publish;
        let frame = m.encode();
        assert!(is_publish(&frame[4..]));
        assert_eq!(Message::decode(&frame[4..]), Some(m.clone()));
        // Framed from a borrowed header, as the bus sends it: same bytes.
        let mut direct = m.head.start(12);
        put_publish(&mut direct, b"news", &[0, 255, b'\r', b'\n']);
        finish(&mut direct);
        assert_eq!(direct, frame);
        // A message length running past the frame is malformed.
        let mut bad = frame[4..].to_vec();
        let at = bad.len() - 8;
        bad[at..at + 4].copy_from_slice(&5u32.to_be_bytes());
        assert!(Message::decode(&bad).is_none());
        assert!(!is_publish(&sample(Body::Gossip(vec![])).encode()[4..]));
        assert!(fits(1 << 30) && !fits(u32::MAX as usize));
    }

    #[test]
    fn malformed_is_rejected() {
        let mut m = sample(Body::Reject("no".into()));
        m.head.kind = Kind::Reject;
        let frame = m.encode();
        assert!(Message::decode(&frame[4..]).is_some());
        let body = &frame[4..];
        for cut in 0..body.len() {
            assert!(Message::decode(&body[..cut]).is_none());
        }
        let mut extra = body.to_vec();
        extra.push(0);
        assert!(Message::decode(&extra).is_none());
        let mut bad = body.to_vec();
        bad[0] = b'X';
        assert!(Message::decode(&bad).is_none());
    }
}
