//! A minimal RESP client over a plain TCP socket: single-line replies,
//! a pipelined string loader, and pipelines of any commands whose replies
//! are lines or bulk strings.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Every socket operation is bounded by this.
const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// Commands written before their replies are read.
const PIPELINE: usize = 1000;

pub struct Client {
    conn: BufReader<TcpStream>,
    line: Vec<u8>,
}

impl Client {
    pub fn connect(port: u16) -> Result<Client, String> {
        let addr = ("127.0.0.1", port);
        let stream = TcpStream::connect(addr).map_err(|e| format!("connect :{port}: {e}"))?;
        let _ = stream.set_nodelay(true);
        stream
            .set_read_timeout(Some(IO_TIMEOUT))
            .and_then(|_| stream.set_write_timeout(Some(IO_TIMEOUT)))
            .map_err(|e| format!("socket timeouts: {e}"))?;
        Ok(Client {
            conn: BufReader::with_capacity(64 * 1024, stream),
            line: Vec::new(),
        })
    }

    /// Sends one command whose reply is a single line (status, error or
    /// integer) and returns that line without CRLF; `-ERR` is an error.
    pub fn call(&mut self, args: &[&str]) -> Result<String, String> {
        let mut req = Vec::new();
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        encode(&mut req, &args);
        self.send(&req)?;
        self.reply_line()
            .map(|l| String::from_utf8_lossy(l).into_owned())
    }

    /// SETs `key:%012d` for every index below `keys`, each to `value_size`
    /// bytes, `PIPELINE` commands per write; the key format is the one
    /// `redis-benchmark -r` generates, so its GETs hit.
    pub fn load(&mut self, keys: u64, value_size: usize) -> Result<(), String> {
        let value = vec![b'x'; value_size];
        let mut req = Vec::with_capacity(PIPELINE * (value_size + 64));
        let mut key = Vec::with_capacity(16);
        let mut next = 0;
        while next < keys {
            let batch = (keys - next).min(PIPELINE as u64);
            req.clear();
            for i in next..next + batch {
                key.clear();
                let _ = write!(key, "key:{i:012}");
                encode(&mut req, &[b"SET", &key, &value]);
            }
            self.send(&req)?;
            for _ in 0..batch {
                let line = self.reply_line()?;
                if line != b"+OK" {
                    return Err(format!("SET replied {}", String::from_utf8_lossy(line)));
                }
            }
            next += batch;
        }
        Ok(())
    }

    /// Sends `cmds` in one write and returns their replies in order: a bulk
    /// string's payload (None for nil), else the line as `call` gives it.
    pub fn pipeline(&mut self, cmds: &[Vec<&[u8]>]) -> Result<Vec<Option<Vec<u8>>>, String> {
        let mut req = Vec::new();
        for args in cmds {
            encode(&mut req, args);
        }
        self.send(&req)?;
        (0..cmds.len()).map(|_| self.reply()).collect()
    }

    fn reply(&mut self) -> Result<Option<Vec<u8>>, String> {
        let line = self.reply_line()?;
        let Some(len) = line.strip_prefix(b"$") else {
            return Ok(Some(line.to_vec()));
        };
        let len: i64 = std::str::from_utf8(len)
            .ok()
            .and_then(|l| l.parse().ok())
            .ok_or_else(|| format!("bad bulk length {}", String::from_utf8_lossy(line)))?;
        let Ok(len) = usize::try_from(len) else {
            return Ok(None);
        };
        let mut payload = vec![0; len + 2];
        self.conn
            .read_exact(&mut payload)
            .map_err(|e| format!("read: {e}"))?;
        payload.truncate(len);
        Ok(Some(payload))
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.conn
            .get_mut()
            .write_all(bytes)
            .map_err(|e| format!("write: {e}"))
    }

    fn reply_line(&mut self) -> Result<&[u8], String> {
        self.line.clear();
        match self.conn.read_until(b'\n', &mut self.line) {
            Ok(0) => return Err("connection closed".into()),
            Ok(_) => {}
            Err(e) => return Err(format!("read: {e}")),
        }
        let line = self.line.strip_suffix(b"\r\n").unwrap_or(&self.line);
        if line.first() == Some(&b'-') {
            return Err(String::from_utf8_lossy(line).into_owned());
        }
        Ok(line)
    }
}

/// Appends one command as a RESP array of bulk strings.
fn encode(out: &mut Vec<u8>, args: &[&[u8]]) {
    // Writing into a Vec cannot fail.
    let _ = write!(out, "*{}\r\n", args.len());
    for a in args {
        let _ = write!(out, "${}\r\n", a.len());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}
