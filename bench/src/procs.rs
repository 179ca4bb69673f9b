//! Child processes the benchmark starts, each killed by PID when its guard
//! drops (also on error and panic), with bounded waits everywhere.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::client::Client;

/// Owns one child process; dropping it kills and reaps exactly that PID.
pub struct Proc {
    name: String,
    child: Child,
}

impl Proc {
    pub fn spawn(name: &str, cmd: &mut Command) -> Result<Proc, String> {
        let child = cmd
            .spawn()
            .map_err(|e| format!("can't start {name} ({:?}): {e}", cmd.get_program()))?;
        Ok(Proc {
            name: name.to_string(),
            child,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits up to `bound` for the process to exit and returns its stdout
    /// (which must be piped); killed on timeout.
    pub fn output(mut self, bound: Duration) -> Result<String, String> {
        let mut stdout = self.child.stdout.take().expect("stdout is piped");
        // Drain stdout concurrently so a full pipe can never stall the child.
        let reader = thread::spawn(move || {
            let mut s = String::new();
            stdout.read_to_string(&mut s).map(|_| s)
        });
        let deadline = Instant::now() + bound;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
                Ok(None) => return Err(format!("{} did not finish within {bound:?}", self.name)),
                Err(e) => return Err(format!("waiting for {}: {e}", self.name)),
            }
        };
        let out = reader
            .join()
            .map_err(|_| format!("reading {}'s output panicked", self.name))?
            .map_err(|e| format!("reading {}'s output: {e}", self.name))?;
        if !status.success() {
            return Err(format!("{} failed ({status}): {out}", self.name));
        }
        Ok(out)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if !self.exited() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// A scratch directory removed on drop.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Slotcache,
    Redis,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Slotcache => "slotcache",
            Kind::Redis => "redis",
        }
    }
}

/// A running server on a loopback port. Field order matters: the process
/// is killed before its directory is removed.
pub struct Server {
    pub kind: Kind,
    pub port: u16,
    proc: Proc,
    _dir: TempDir,
}

/// Ports are scanned from here (below 22000 as asked, spread by PID so
/// concurrent runs rarely collide).
const PORT_BASE: u16 = 18000;
const PORT_SPAN: u16 = 4000;
const START_ATTEMPTS: usize = 5;

impl Server {
    /// Starts a fresh server and waits until it answers PING; retries on
    /// another port if the chosen one was taken in the meantime.
    pub fn start(kind: Kind, slotcache_bin: &Path, redis_bin: &Path) -> Result<Server, String> {
        let mut last = String::new();
        for _ in 0..START_ATTEMPTS {
            let port = free_port()?;
            let dir = std::env::temp_dir().join(format!(
                "slotcache-bench-{}-{}-{port}",
                std::process::id(),
                kind.name()
            ));
            std::fs::create_dir_all(&dir).map_err(|e| format!("mkdir {dir:?}: {e}"))?;
            let dir = TempDir(dir);
            let (p, d) = (port.to_string(), dir.0.to_string_lossy().into_owned());
            let mut cmd = match kind {
                Kind::Slotcache => {
                    let mut c = Command::new(slotcache_bin);
                    c.args(["--bind", "127.0.0.1", "--port", &p, "--dir", &d]);
                    c.args(["--loglevel", "warning"]);
                    c
                }
                Kind::Redis => {
                    let mut c = Command::new(redis_bin);
                    c.args(["--bind", "127.0.0.1", "--port", &p, "--dir", &d]);
                    c.args(["--save", "", "--appendonly", "no", "--daemonize", "no"]);
                    c.args(["--loglevel", "warning", "--logfile", ""]);
                    c
                }
            };
            cmd.stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit());
            let mut proc = Proc::spawn(kind.name(), &mut cmd)?;
            match wait_ready(&mut proc, port) {
                Ok(()) => {
                    return Ok(Server {
                        kind,
                        port,
                        proc,
                        _dir: dir,
                    })
                }
                Err(e) => last = e,
            }
        }
        Err(format!("{} did not start: {last}", kind.name()))
    }

    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }
}

fn free_port() -> Result<u16, String> {
    let offset = (std::process::id() % PORT_SPAN as u32) as u16;
    (0..PORT_SPAN)
        .map(|i| PORT_BASE + (offset + i) % PORT_SPAN)
        .find(|&p| TcpListener::bind(("127.0.0.1", p)).is_ok())
        .ok_or_else(|| format!("no free port in {PORT_BASE}..{}", PORT_BASE + PORT_SPAN))
}

/// Polls until the server answers PING, failing fast if it exited.
fn wait_ready(proc: &mut Proc, port: u16) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if proc.exited() {
            return Err(format!("process exited (port {port} taken?)"));
        }
        if let Ok("+PONG") = Client::connect(port)
            .and_then(|mut c| c.call(&["PING"]))
            .as_deref()
        {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!("no PONG on port {port} within 10s"));
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// Resident set size of a process, from /proc/<pid>/status.
pub fn rss_bytes(pid: u32) -> Result<u64, String> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).map_err(|e| format!("read {path}: {e}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|kb| kb.trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| format!("no VmRSS in {path}"))
}

/// What `compare` and `cluster` both take: how many alternating rounds,
/// and the programs on each side.
#[derive(clap::Args)]
pub struct Sides {
    /// Rounds per scenario; the table shows medians over them
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub rounds: u32,
    /// slotcache binary [default: `slotcache` next to this executable]
    #[arg(long)]
    pub slotcache: Option<PathBuf>,
    /// redis-server binary to compare against
    #[arg(long, default_value = "redis-server")]
    pub redis_server: PathBuf,
    /// redis-benchmark binary that drives both sides
    #[arg(long, default_value = "redis-benchmark")]
    pub redis_benchmark: PathBuf,
}

/// The slotcache binary to run: the one given, or the one built next to
/// this executable.
pub fn slotcache_binary(given: Option<&PathBuf>) -> Result<PathBuf, String> {
    match given {
        Some(p) => Ok(p.clone()),
        None => std::env::current_exe()
            .map(|exe| exe.with_file_name("slotcache"))
            .map_err(|e| format!("current_exe: {e}")),
    }
}
