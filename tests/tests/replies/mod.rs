//! Reading whole RESP2/RESP3 replies off a raw socket, as the exact bytes
//! sent, for tests that check wire formats (nulls, pushes) and for
//! connections that receive replies they did not ask for (pub/sub).

use std::io::Read;
use std::time::Duration;

use slotcache_tests::{resp, Node, Raw};

pub struct Wire {
    pub raw: Raw,
    buf: Vec<u8>,
}

impl Wire {
    pub fn connect(node: &Node) -> Wire {
        Wire {
            raw: node.raw(),
            buf: Vec::new(),
        }
    }

    /// A connection to any server on loopback (redis-server alongside).
    // Shared by several test crates; not all of them compare with Redis.
    #[allow(dead_code)]
    pub fn at(port: u16) -> Wire {
        let stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        Wire {
            raw: slotcache_tests::Raw { stream },
            buf: Vec::new(),
        }
    }

    pub fn send(&mut self, args: &[&str]) {
        self.send_many(&[args]);
    }

    /// Sends commands in one write, so the server reads them as one batch.
    pub fn send_many(&mut self, commands: &[&[&str]]) {
        let mut bytes = Vec::new();
        for args in commands {
            let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
            bytes.extend(resp(&args));
        }
        self.raw.send(&bytes);
    }

    /// The next whole reply, waiting at most the socket's read timeout.
    pub fn reply(&mut self) -> String {
        self.try_reply().unwrap_or_else(|| {
            panic!(
                "no whole reply; have {:?}",
                String::from_utf8_lossy(&self.buf)
            )
        })
    }

    /// The next whole reply, or None if none came within the read timeout
    /// (or the connection closed).
    pub fn try_reply(&mut self) -> Option<String> {
        loop {
            if let Some(len) = frame_len(&self.buf, 0) {
                let frame: Vec<u8> = self.buf.drain(..len).collect();
                return Some(String::from_utf8_lossy(&frame).into_owned());
            }
            let mut chunk = [0u8; 64 * 1024];
            match self.raw.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    pub fn call(&mut self, args: &[&str]) -> String {
        self.send(args);
        self.reply()
    }

    // Shared by several test crates; not all of them wait with a bound.
    #[allow(dead_code)]
    pub fn set_timeout(&mut self, t: Duration) {
        self.raw.stream.set_read_timeout(Some(t)).unwrap();
    }
}

/// The length of the frame starting at `at`, if it is all in `buf`.
fn frame_len(buf: &[u8], at: usize) -> Option<usize> {
    let line_end = at + buf.get(at..)?.windows(2).position(|w| w == b"\r\n")?;
    let head = &buf[at + 1..line_end];
    let after = line_end + 2;
    let n = || std::str::from_utf8(head).unwrap().parse::<i64>().unwrap();
    match buf[at] {
        b'$' | b'=' | b'!' => {
            let len = n();
            if len < 0 {
                return Some(after - at);
            }
            let end = after + len as usize + 2;
            (buf.len() >= end).then_some(end - at)
        }
        b'*' | b'>' | b'~' | b'%' | b'|' => {
            let count = n();
            let items = if matches!(buf[at], b'%' | b'|') {
                2 * count
            } else {
                count
            };
            let mut pos = after;
            for _ in 0..items.max(0) {
                pos += frame_len(buf, pos)?;
            }
            Some(pos - at)
        }
        _ => Some(after - at),
    }
}
