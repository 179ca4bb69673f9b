//! A real redis-server to compare replies with, for the differential
//! tests of the set and sorted-set commands and of blocked clients.

// Shared by several test crates; not all of them use every helper.
#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use redis::{Connection, Value};
use slotcache_tests::{free_port, wait_until};

/// A redis-server on a free port, killed by PID on drop.
pub struct Reference {
    pub port: u16,
    child: Child,
}

impl Reference {
    pub fn start() -> Reference {
        let port = free_port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed (scripts/test installs it)");
        let reference = Reference { port, child };
        wait_until(
            Duration::from_secs(10),
            "redis-server accepts connections",
            || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
        );
        reference
    }

    pub fn client(&self) -> Connection {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))
            .unwrap()
            .get_connection()
            .unwrap()
    }
}

impl Drop for Reference {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `args` on both servers and returns the two replies as text,
/// errors included; `unordered` sorts every array first (set replies).
pub fn both(
    ours: &mut Connection,
    theirs: &mut Connection,
    args: &[String],
    unordered: bool,
) -> (String, String) {
    let mut c = redis::cmd(&args[0]);
    for a in &args[1..] {
        c.arg(a);
    }
    let text = |v: redis::RedisResult<Value>| match v {
        Ok(v) if unordered => format!("{:?}", sort_arrays(v)),
        Ok(v) => format!("{v:?}"),
        Err(e) => format!("error {:?} {:?}", e.code(), e.detail()),
    };
    (text(c.query(ours)), text(c.query(theirs)))
}

/// Runs each line of `script` on both servers (words split at spaces, `~`
/// standing for a space inside one) and asserts that every reply is the
/// same, listing all the lines whose replies differ.
pub fn assert_replies_alike(ours: &mut Connection, theirs: &mut Connection, script: &[&str]) {
    let mut differ = Vec::new();
    for line in script {
        let args: Vec<String> = line.split(' ').map(|w| w.replace('~', " ")).collect();
        let (a, b) = both(ours, theirs, &args, false);
        if a != b {
            differ.push(format!("{line}\n  ours:  {a}\n  redis: {b}"));
        }
    }
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}

fn sort_arrays(v: Value) -> Value {
    match v {
        Value::Array(items) | Value::Set(items) => {
            let mut items: Vec<Value> = items.into_iter().map(sort_arrays).collect();
            items.sort_by_key(|i| format!("{i:?}"));
            Value::Array(items)
        }
        other => other,
    }
}
