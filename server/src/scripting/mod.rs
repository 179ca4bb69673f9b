//! Lua scripting (EVAL and friends). A script runs holding `exclusive` for
//! writing, so no other command runs while it does. Other connections never
//! block a thread on that lock while a script holds it: they wait for the
//! script asynchronously, and once it has run past `busy-reply-threshold`
//! they are answered -BUSY, except for ALLOW_BUSY commands such as SCRIPT
//! KILL, which run at once (see `admit`).

mod args;
mod bit;
mod cjson;
mod cmsgpack;
mod convert;
mod engine;
mod lua_struct;
mod prng;

use std::cell::Cell;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use mlua::{Lua, MultiValue, Value};
use parking_lot::Mutex;
use slotcache_protocol::command::{CommandRef, Flags};
use slotcache_protocol::request::OwnedArgv;
use slotcache_protocol::{Argv, Reply};

use crate::client::Client;
use crate::clock;
use crate::commands::{
    self, find, out_of_memory, parse_i64, CmdError, CmdResult, Ctx, Hold, NotFound,
};
use crate::db::Db;
use crate::server::Server;
use crate::stats::BatchStats;
use engine::Engine;

pub const BUSY: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSCRIPT.";

/// The script running now, as other connections and the Lua hook see it.
#[derive(Default)]
pub struct RunState {
    running: AtomicBool,
    /// Unix ms from which other clients are answered -BUSY.
    busy_at: AtomicU64,
    /// The script has run past `busy_at` (set by the Lua hook, which then
    /// wakes the waiting connections).
    busy: AtomicBool,
    /// SCRIPT KILL asked the script to stop.
    kill: AtomicBool,
    /// The script ran a write command: it can no longer be killed.
    wrote: AtomicBool,
    /// The script's thread has handed its other work to another (engine.rs).
    detached: AtomicBool,
}

pub struct Scripts {
    engine: Mutex<Engine>,
    run: Arc<RunState>,
}

impl Scripts {
    pub fn new() -> Scripts {
        let run = Arc::new(RunState::default());
        Scripts {
            engine: Mutex::new(Engine::new(Arc::clone(&run)).expect("start the Lua interpreter")),
            run,
        }
    }

    /// How a batch of commands holds `exclusive`: shared; busy while a
    /// script past `busy-reply-threshold` holds it; None while another
    /// batch holds it alone: the connection waits for it (`wait`) without
    /// holding a thread. A batch just taking it alone is waited for here.
    /// Connections are woken one at a time (`Alone` lets go with
    /// notify_one): one that `waited` and now shares it wakes the next.
    pub fn admit<'a>(&self, db: &'a Db, waited: bool) -> Option<Hold<'a>> {
        loop {
            let shared = match db.exclusive.try_read() {
                Some(shared) => Some(shared),
                None if self.busy() => return Some(Hold::Busy),
                None if db.alone_held.load(SeqCst) => return None,
                None => db.exclusive.try_read_for(Duration::from_micros(100)),
            };
            if let Some(shared) = shared {
                if waited {
                    db.exclusive_changed.notify_one();
                }
                return Some(Hold::Shared(shared));
            }
        }
    }

    fn busy(&self) -> bool {
        self.run.running.load(SeqCst) && self.run.busy.load(SeqCst)
    }

    /// Resolves when the batch holding `exclusive` alone lets it go, or
    /// its script turns busy. No timer: the script's hook tells (a waiter
    /// per connection re-armed at every script start cost more than the
    /// scripts did).
    pub async fn wait(&self, db: &Db) {
        let changed = db.exclusive_changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        if !db.alone_held.load(SeqCst) || self.busy() {
            return;
        }
        changed.await;
    }

    /// EVAL, EVALSHA and their _RO forms.
    pub fn eval(&self, ctx: &mut Ctx, argv: &Argv, by_sha: bool, read_only: bool) -> CmdResult {
        let numkeys = parse_i64(argv.get(2)).ok_or(commands::NOT_INTEGER)?;
        if numkeys < 0 {
            return Err(CmdError::Static("ERR Number of keys can't be negative"));
        }
        let numkeys = numkeys as usize;
        if numkeys > argv.len() - 3 {
            return Err(CmdError::Static(
                "ERR Number of keys can't be greater than number of args",
            ));
        }
        let mut engine = self.engine.lock();
        let sha = if by_sha {
            engine.cached(argv.get(1)).ok_or(CmdError::Static(
                "NOSCRIPT No matching script. Please use EVAL.",
            ))?
        } else {
            engine.load(argv.get(1))?
        };
        let threshold = ctx.server.config.read().busy_reply_threshold;
        let mut env = Env {
            server: ctx.server,
            client: ctx.client,
            run: &self.run,
            read_only,
            resp3: false,
            stats: BatchStats::default(),
            replies: BytesMut::new(),
        };
        self.run.kill.store(false, Relaxed);
        self.run.wrote.store(false, Relaxed);
        self.run.detached.store(false, Relaxed);
        let busy_at = match threshold {
            0 => u64::MAX,
            t => clock::unix_ms().saturating_add(t),
        };
        self.run.busy_at.store(busy_at, Relaxed);
        let outcome = {
            let _running = Running::start(self, &mut env);
            let keys = argv.tail(3);
            engine.run(
                &sha,
                keys.iter().take(numkeys),
                argv.tail(3 + numkeys).iter(),
            )
        };
        ctx.server.stats.add(&mut env.stats);
        let script_resp3 = env.resp3;
        let written = outcome.and_then(|o| engine::reply(&o, &sha, script_resp3, &mut ctx.out));
        written.map_err(|e| CmdError::Owned(format!("ERR Error running script: {e}")))
    }

    /// SCRIPT LOAD: compiles and keeps a script; its SHA1.
    pub fn load(&self, body: &[u8]) -> Result<[u8; 40], CmdError> {
        self.engine.lock().load(body)
    }

    pub fn exists(&self, sha: &[u8]) -> bool {
        self.engine.lock().cached(sha).is_some()
    }

    /// SCRIPT FLUSH: a new interpreter, the old one freed in the
    /// background when `lazy`.
    pub fn flush(&self, lazy: bool) {
        let fresh = Engine::new(Arc::clone(&self.run)).expect("start the Lua interpreter");
        let old = std::mem::replace(&mut *self.engine.lock(), fresh);
        if lazy {
            crate::db::drop_in_background(old);
        }
    }

    /// SCRIPT KILL. Runs while the script does (ALLOW_BUSY), without the lock.
    pub fn kill(&self) -> CmdResult {
        if !self.run.running.load(SeqCst) {
            return Err(CmdError::Static(
                "NOTBUSY No scripts in execution right now.",
            ));
        }
        if self.run.wrote.load(Relaxed) {
            return Err(CmdError::Static(
                "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.",
            ));
        }
        self.run.kill.store(true, Relaxed);
        Ok(())
    }
}

/// What `redis.call` needs while a script runs.
struct Env<'a> {
    server: &'a Server,
    client: &'a mut Client,
    run: &'a RunState,
    read_only: bool,
    /// `redis.setresp(3)` was called: commands answer the script in RESP3.
    resp3: bool,
    stats: BatchStats,
    /// The reply of the command being run, parsed into Lua values.
    replies: BytesMut,
}

thread_local! {
    /// The running script's Env, on the thread running it.
    static ENV: Cell<*mut Env<'static>> = const { Cell::new(ptr::null_mut()) };
}

/// A script's run: marks it running and points ENV at its Env, both undone
/// when dropped (by a panic too), so that waiting connections go on.
struct Running<'s>(&'s Scripts);

impl<'s> Running<'s> {
    fn start(scripts: &'s Scripts, env: &mut Env<'s>) -> Running<'s> {
        // The cast erases the lifetime (clippy sees the same type).
        #[allow(clippy::unnecessary_cast)]
        ENV.with(|e| e.set(env as *mut Env as *mut Env<'static>));
        scripts.run.busy.store(false, SeqCst);
        scripts.run.running.store(true, SeqCst);
        Running(scripts)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        ENV.with(|e| e.set(ptr::null_mut()));
        self.0.run.running.store(false, SeqCst);
    }
}

/// Called by the Lua hook: once the running script is past
/// `busy-reply-threshold`, the connections waiting for it are woken to
/// answer -BUSY.
fn check_busy(run: &RunState) {
    if run.busy.load(Relaxed) || clock::unix_ms() < run.busy_at.load(Relaxed) {
        return;
    }
    // Not from inside redis.call (a GC finalizer): the next hook does it.
    with_env(|env| {
        env.run.busy.store(true, SeqCst);
        env.server.db.exclusive_changed.notify_waiters();
    });
}

/// Runs `f` on the running script's Env; None outside a script, or inside
/// another `with_env` (a Lua finalizer run by the GC during redis.call).
fn with_env<R>(f: impl FnOnce(&mut Env) -> R) -> Option<R> {
    let env = ENV.with(|e| e.replace(ptr::null_mut()));
    if env.is_null() {
        return None;
    }
    // SAFETY: `env` was set by `Running` from a `&mut Env` that outlives the
    // script's run and is not used by its owner until the run ends. It is
    // taken out of ENV while `f` runs, so no second reference can exist.
    let result = f(unsafe { &mut *env });
    ENV.with(|e| e.set(env));
    Some(result)
}

impl Env<'_> {
    /// One `redis.call`: the checks Redis makes for scripts, then the
    /// command through the dispatcher, as the caller.
    fn call(&mut self, lua: &Lua, args: &MultiValue) -> mlua::Result<(bool, Value)> {
        let refuse = |msg: &str| -> mlua::Result<(bool, Value)> {
            let text = convert::error_text(msg.as_bytes());
            Ok((false, Value::Table(convert::error_table(lua, &text)?)))
        };
        let argv = match lua_argv(args) {
            Ok(argv) => argv,
            Err(msg) => return refuse(msg),
        };
        let argv = argv.argv();
        let cmd = match self.admit(&argv) {
            Ok(cmd) => cmd,
            Err(msg) => return refuse(msg),
        };
        self.replies.clear();
        let reply = Reply::new(&mut self.replies, self.resp3);
        commands::call(
            self.server,
            self.client,
            reply,
            &argv,
            cmd,
            &mut self.stats,
            false,
        );
        self.stats.commands += 1;
        let value = convert::reply_to_lua(lua, &self.replies)?;
        Ok((self.replies.first() != Some(&b'-'), value))
    }

    fn admit(&mut self, argv: &Argv) -> Result<CommandRef, &'static str> {
        let cmd = match find(argv) {
            Ok(cmd) => cmd,
            Err(NotFound::Arity(_)) => {
                return Err("Wrong number of args calling Redis command from script")
            }
            Err(_) => return Err("Unknown Redis command called from script"),
        };
        let flags = cmd.spec.flags;
        if flags.has(Flags::NOSCRIPT) {
            return Err("This Redis command is not allowed from script");
        }
        if flags.has(Flags::WRITE) && self.read_only {
            return Err("Write commands are not allowed from read-only scripts.");
        }
        // Only before the first write: a script cannot stop half done.
        if flags.has(Flags::DENYOOM) && !self.run.wrote.load(Relaxed) && out_of_memory(self.server)
        {
            return Err("-OOM command not allowed when used memory > 'maxmemory'.");
        }
        if flags.has(Flags::WRITE) {
            self.run.wrote.store(true, Relaxed);
        }
        self.verify_cluster(cmd, argv)?;
        Ok(cmd)
    }

    /// In cluster mode a script may touch only keys this node serves, as
    /// the caller would be routed (Redis's scriptVerifyClusterState). EVAL
    /// scripts carry no shebang flags, so, as Redis's in that case, they
    /// may touch keys of several local slots.
    fn verify_cluster(&self, cmd: CommandRef, argv: &Argv) -> Result<(), &'static str> {
        let Some(cluster) = &self.server.cluster else {
            return Ok(());
        };
        crate::cluster::route(self.server, cluster, self.client, cmd, argv).map_err(|e| {
            if e.message() == crate::cluster::DOWN {
                "Script attempted to execute a command while the cluster is down"
            } else {
                "Script attempted to access a non local key in a cluster node"
            }
        })
    }
}

/// A command's arguments from `redis.call`'s: strings as they are, numbers
/// as `%.17g` (as Redis: Lua's own format loses precision).
fn lua_argv(args: &MultiValue) -> Result<OwnedArgv, &'static str> {
    if args.is_empty() {
        return Err("Please specify at least one argument for this redis lib call");
    }
    let mut argv = OwnedArgv::default();
    for arg in args.iter() {
        match arg {
            Value::String(s) => argv.push(&s.as_bytes()),
            Value::Integer(i) => argv.push(convert::format_g(*i as f64, 17).as_bytes()),
            Value::Number(n) => argv.push(convert::format_g(*n, 17).as_bytes()),
            _ => return Err("Lua redis lib command arguments must be strings or integers"),
        }
    }
    Ok(argv)
}
