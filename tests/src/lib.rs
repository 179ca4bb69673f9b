//! Harness for the integration tests: starts real `slotcache` processes on
//! free loopback ports, hands out clients, and kills exactly the processes
//! it started when dropped.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The `slotcache` binary: `$SLOTCACHE_BIN`, or the workspace's debug build
/// (built once per test process if missing or stale).
pub fn binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Ok(path) = std::env::var("SLOTCACHE_BIN") {
            return PathBuf::from(path);
        }
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap()
            .to_path_buf();
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "-q",
                "-p",
                "slotcache-server",
                "--bin",
                "slotcache",
            ])
            .current_dir(&root)
            .status()
            .expect("run cargo build");
        assert!(status.success(), "building slotcache failed");
        root.join("target/debug/slotcache")
    })
    .clone()
}

/// A port whose bus port (+10000) is also free, below the ephemeral range.
pub fn free_port() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    // Spread test processes apart so parallel test binaries rarely collide.
    let _ = NEXT.compare_exchange(
        0,
        11000 + (std::process::id() % 500) as u16 * 20,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    loop {
        let port = NEXT.fetch_add(1, Ordering::SeqCst);
        let port = 11000 + (port - 11000) % 11000;
        if TcpListener::bind(("127.0.0.1", port)).is_ok()
            && TcpListener::bind(("127.0.0.1", port + 10000)).is_ok()
        {
            return port;
        }
    }
}

pub struct Node {
    pub port: u16,
    child: Child,
    pub dir: PathBuf,
}

impl Node {
    /// Starts a standalone node with extra flags and waits until it answers.
    /// A port taken between `free_port` and the node's bind (by whatever
    /// else runs on the machine) makes the node exit: it is started again on
    /// another port, and a node is only ready once the process answering on
    /// its port is the one started.
    pub fn start(extra: &[&str]) -> Node {
        for _ in 0..5 {
            let port = free_port();
            let dir =
                std::env::temp_dir().join(format!("slotcache-test-{}-{port}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let child = Command::new(binary())
                .args([
                    "--port",
                    &port.to_string(),
                    "--dir",
                    dir.to_str().unwrap(),
                    "--loglevel",
                    "warning",
                ])
                .args(extra)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("start slotcache");
            let mut node = Node { port, child, dir };
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline && node.is_running() {
                if node.answers_as_itself() {
                    return node;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            assert!(!node.is_running(), "node on port {port} never answered");
        }
        panic!("could not start a node on a free port");
    }

    /// Whether the process answering on this node's port is this node's.
    fn answers_as_itself(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        if s.write_all(b"INFO server\r\n").is_err() {
            return false;
        }
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        let want = format!("process_id:{}\r\n", self.pid());
        while let Ok(n) = s.read(&mut buf) {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&got);
            // A node started with --requirepass says who it is only after
            // AUTH: an error line is the best it tells.
            if text.contains(&want) || (text.starts_with('-') && text.ends_with("\r\n")) {
                return true;
            }
            if text.contains("tcp_port:") {
                return false;
            }
        }
        false
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// A synchronous client of the `redis` crate.
    pub fn client(&self) -> redis::Connection {
        let client = redis::Client::open(self.url()).unwrap();
        client
            .get_connection_with_timeout(Duration::from_secs(5))
            .expect("connect")
    }

    /// A raw socket with a read timeout.
    pub fn raw(&self) -> Raw {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        Raw { stream }
    }

    /// Runs `redis-cli -p <port> args…` and returns its stdout.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("redis-cli is installed (scripts/test installs it)");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Sends `sig` (`-STOP`, `-CONT` …) to this node's process, by PID.
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.pid().to_string()])
            .status()
            .expect("kill")
            .success();
        assert!(ok, "kill {sig} {}", self.pid());
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A plain TCP connection for sending exact bytes.
pub struct Raw {
    pub stream: TcpStream,
}

impl Raw {
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// Reads until `expected` bytes arrived or the peer closed.
    pub fn read_exact_len(&mut self, expected: usize) -> Vec<u8> {
        let mut buf = vec![0u8; expected];
        let mut got = 0;
        while got < expected {
            match self.stream.read(&mut buf[got..]) {
                Ok(0) | Err(_) => break,
                Ok(n) => got += n,
            }
        }
        buf.truncate(got);
        buf
    }

    /// Sends `request` and reads exactly the length of `expected` back.
    pub fn roundtrip(&mut self, request: &[u8], expected: &[u8]) -> String {
        self.send(request);
        String::from_utf8_lossy(&self.read_exact_len(expected.len())).into_owned()
    }

    /// Reads whatever arrives until the peer closes (or the timeout).
    pub fn read_to_close(&mut self) -> (Vec<u8>, bool) {
        let mut all = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => return (all, true),
                Ok(n) => all.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return (all, true),
                Err(_) => return (all, false),
            }
        }
    }
}

/// A client on its own thread reading over and over (`read`, on a
/// connection of its own) until `stop`, which returns everything it read:
/// for checking that others never see something half done.
pub struct Sampler<T> {
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<Vec<T>>,
}

impl<T> Sampler<T> {
    pub fn start(
        node: &Node,
        mut read: impl FnMut(&mut redis::Connection) -> T + Send + 'static,
    ) -> Self
    where
        T: Send + 'static,
    {
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut con = node.client();
        let stop = std::sync::Arc::clone(&done);
        let thread = std::thread::spawn(move || {
            let mut seen = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                seen.push(read(&mut con));
            }
            seen
        });
        Sampler { done, thread }
    }

    pub fn stop(self) -> Vec<T> {
        self.done.store(true, Ordering::Relaxed);
        self.thread.join().expect("the sampling client panicked")
    }
}

/// Polls `cond` until it holds, panicking after `bound`.
pub fn wait_until(bound: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < bound,
            "timed out after {bound:?} waiting for: {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// An encoded RESP command, for raw sockets.
pub fn resp(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A command given as words: `["HSET", "h", "f", "v"]`.
pub fn cmd(args: &[&str]) -> redis::Cmd {
    let mut c = redis::cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    c
}

/// Runs a command that must succeed.
pub fn q<T: redis::FromRedisValue>(con: &mut redis::Connection, args: &[&str]) -> T {
    cmd(args)
        .query(con)
        .unwrap_or_else(|e| panic!("{args:?} failed: {e}"))
}

/// Runs a command that must fail and returns its error line (`CODE detail`).
pub fn err(con: &mut redis::Connection, args: &[&str]) -> String {
    let e = cmd(args)
        .query::<redis::Value>(con)
        .expect_err(&format!("{args:?} should fail"));
    format!("{} {}", e.code().unwrap_or("?"), e.detail().unwrap_or(""))
}

/// Runs a cursor scan (`HSCAN`, `SSCAN`, `ZSCAN` …) of `key` to the end and
/// returns every item and the number of calls; `between` runs after each
/// call but the last, so a test can change the value mid-scan.
pub fn scan_all(
    con: &mut redis::Connection,
    command: &str,
    key: &str,
    extra: &[&str],
    mut between: impl FnMut(&mut redis::Connection, usize),
) -> (Vec<String>, usize) {
    let mut cursor = "0".to_string();
    let (mut items, mut steps) = (Vec::new(), 0);
    loop {
        let mut args = vec![command, key, cursor.as_str()];
        args.extend_from_slice(extra);
        let (next, batch): (String, Vec<String>) = q(con, &args);
        items.extend(batch);
        steps += 1;
        if next == "0" {
            return (items, steps);
        }
        between(con, steps);
        cursor = next;
        assert!(steps < 100_000, "{command} never ends");
    }
}

/// Whether every node sees all of `nodes`, past the handshake, each with
/// a connected bus link (CLUSTER NODES).
pub fn cluster_settled(nodes: &[Node]) -> bool {
    nodes.iter().all(|node| {
        let view: String = q(&mut node.client(), &["CLUSTER", "NODES"]);
        view.lines().count() == nodes.len()
            && view.lines().all(|l| {
                let fields: Vec<&str> = l.split(' ').collect();
                fields.len() >= 8 && fields[7] == "connected" && !fields[2].contains("handshake")
            })
    })
}

/// Forms `nodes` (started with `--cluster-enabled yes`) into a cluster of
/// primaries with CLUSTER commands, the slots split evenly, and waits
/// until every node serves all slots and is linked to every other.
pub fn form_cluster(nodes: &[Node]) {
    let per = 16384 / nodes.len();
    for (i, node) in nodes.iter().enumerate() {
        let start = i * per;
        let end = if i + 1 == nodes.len() {
            16383
        } else {
            start + per - 1
        };
        let mut con = node.client();
        let (start, end) = (start.to_string(), end.to_string());
        q::<()>(&mut con, &["CLUSTER", "ADDSLOTSRANGE", &start, &end]);
        q::<()>(
            &mut con,
            &["CLUSTER", "SET-CONFIG-EPOCH", &(i + 1).to_string()],
        );
    }
    let first = nodes[0].port.to_string();
    for node in &nodes[1..] {
        q::<()>(
            &mut node.client(),
            &["CLUSTER", "MEET", "127.0.0.1", &first],
        );
    }
    wait_until(Duration::from_secs(15), "the cluster forms", || {
        nodes.iter().all(|node| {
            let info: String = q(&mut node.client(), &["CLUSTER", "INFO"]);
            info.contains("cluster_state:ok\r\n") && info.contains("cluster_slots_ok:16384\r\n")
        }) && cluster_settled(nodes)
    });
}

/// Runs redis-cli with `args`, feeding it `stdin` (for its prompts);
/// whether it succeeded, and stdout then stderr.
pub fn redis_cli(args: &[&str], stdin: Option<&str>) -> (bool, String) {
    let mut child = Command::new("redis-cli")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("redis-cli is installed (scripts/test installs it)");
    let mut input = child.stdin.take().unwrap();
    let text = stdin.unwrap_or("").to_string();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(text.as_bytes());
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

/// `redis-cli --cluster check` from `addr`: the nodes agree, every slot is
/// covered, no warning or error. Its output otherwise.
pub fn cluster_check(addr: &str) -> Result<(), String> {
    let (ok, out) = redis_cli(&["--cluster", "check", addr], None);
    let clean = ok
        && out.contains("[OK] All nodes agree about slots configuration.")
        && out.contains("[OK] All 16384 slots covered.")
        && !out.contains("[WARNING]")
        && !out.contains("[ERR]");
    if clean {
        Ok(())
    } else {
        Err(out)
    }
}
