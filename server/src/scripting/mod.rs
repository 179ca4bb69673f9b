//! Lua scripting (EVAL and friends), in an interpreter per thread.
//!
//! A script declaring keys first runs on the fast path: its batch keeps
//! sharing `exclusive`, the slots of its KEYS are held for the run, so
//! scripts on other slots run at the same time. Before it writes, anything
//! that would reach further (a key of another slot, a keyless command,
//! eviction) or a long run stops it, and it runs again from scratch on the
//! exclusive path (`rerun_alone`); after it writes, see `Env::admit_fast`.
//!
//! On the exclusive path a script runs holding `exclusive` for writing, so
//! no other command runs while it does. Other connections never block a
//! thread on that lock while a script holds it: they wait for the script
//! asynchronously, and once it has run past `busy-reply-threshold` they are
//! answered -BUSY, except for ALLOW_BUSY commands such as SCRIPT KILL,
//! which run at once (see `admit`).

mod args;
mod bit;
mod cjson;
mod cmsgpack;
mod convert;
mod engine;
mod lua_struct;
mod prng;

use std::cell::{Cell, RefCell};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use hashbrown::HashMap;
use mlua::{Lua, MultiValue, Value};
use parking_lot::{Mutex, RwLock};
use slotcache_cluster::key_slot;
use slotcache_protocol::command::{CommandRef, Flags};
use slotcache_protocol::request::OwnedArgv;
use slotcache_protocol::{Argv, Reply};

use crate::client::Client;
use crate::clock;
use crate::commands::{
    self, find, out_of_memory, parse_i64, CmdError, CmdResult, Ctx, Hold, NotFound,
};
use crate::db::{Db, Held};
use crate::server::Server;
use crate::stats::BatchStats;
pub use engine::lua_memory;
use engine::Engine;

const NOSCRIPT: CmdError = CmdError::Static("NOSCRIPT No matching script. Please use EVAL.");

pub const BUSY: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";

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
    /// Bodies by SHA1, as SCRIPT LOAD and EVAL keep them; each thread's
    /// interpreter compiles them as it needs them.
    bodies: RwLock<HashMap<[u8; 40], Arc<[u8]>>>,
    /// This cache's current interpreters: those of other generations
    /// (another Scripts, or before SCRIPT FLUSH) are replaced when next used.
    generation: AtomicU64,
    /// Scripts not on the fast path run one at a time: they share RunState.
    serial: Mutex<()>,
    run: Arc<RunState>,
}

/// Generations are unique in the process.
static GENERATIONS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// This thread's interpreter and its generation.
    static ENGINE: RefCell<Option<(u64, Engine)>> = const { RefCell::new(None) };
    /// The fast-path run on this thread, if any.
    static FAST: Cell<Fast> = const { Cell::new(Fast { on: false, wrote: false, detached: false, aborted: false }) };
    /// A fast-path run was stopped: the dispatcher runs the script again alone.
    static RERUN: Cell<bool> = const { Cell::new(false) };
}

#[derive(Clone, Copy, Default)]
struct Fast {
    on: bool,
    /// It ran a command with effects (a write, PUBLISH): it cannot start over.
    wrote: bool,
    /// Its thread handed its other work off (the hook).
    detached: bool,
    /// Stopped, to run again on the exclusive path.
    aborted: bool,
}

/// EVAL, EVALSHA and their _RO forms declaring keys try the fast path: the
/// dispatcher does not take `exclusive` alone for them.
pub fn may_run_parallel(argv: &Argv) -> bool {
    argv.len() > 3 && parse_i64(argv.get(2)).is_some_and(|n| n >= 1)
}

/// Whether the script just called on this thread stopped on the fast path
/// and must run again holding `exclusive` alone (its reply not written).
pub fn rerun_alone() -> bool {
    RERUN.take()
}

/// Keyless commands a fast-path script may run: they touch no keyspace.
fn keyless_allowed(cmd: CommandRef) -> bool {
    matches!(cmd.spec.name, "ping" | "echo" | "time" | "publish")
}

/// How long a fast-path script that wrote already waits for the slot of a
/// key it did not declare, when that slot comes before one it holds.
const UNDECLARED_WAIT: Duration = Duration::from_millis(1);

impl Scripts {
    pub fn new() -> Scripts {
        Scripts {
            bodies: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(GENERATIONS.fetch_add(1, Relaxed)),
            serial: Mutex::new(()),
            run: Arc::new(RunState::default()),
        }
    }

    /// Runs `f` on this thread's interpreter, first replacing one of
    /// another generation.
    fn with_engine<R>(&self, f: impl FnOnce(&mut Engine) -> R) -> R {
        let generation = self.generation.load(SeqCst);
        ENGINE.with_borrow_mut(|slot| {
            if slot.as_ref().is_some_and(|(g, _)| *g != generation) {
                if let Some((_, old)) = slot.take() {
                    crate::db::drop_in_background(old);
                }
            }
            let (_, engine) = slot.get_or_insert_with(|| {
                let engine = Engine::new(Arc::clone(&self.run)).expect("start the Lua interpreter");
                (generation, engine)
            });
            f(engine)
        })
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
        let sha = if by_sha {
            engine::normalize(argv.get(1)).ok_or(NOSCRIPT)?
        } else {
            engine::sha1_hex(argv.get(1))
        };
        // Not inside EXEC (it holds slots, or `exclusive` alone: the script
        // runs as EXEC's other commands do), nor when the dispatcher took
        // `exclusive` alone to run it again.
        let fast = numkeys > 0 && !crate::db::holding() && !ctx.server.db.alone_held.load(SeqCst);
        self.with_engine(|engine| {
            self.prepare(engine, &sha, (!by_sha).then(|| argv.get(1)))?;
            let mut env = Env {
                server: ctx.server,
                client: ctx.client,
                run: &self.run,
                read_only,
                resp3: false,
                stats: BatchStats::default(),
                replies: BytesMut::new(),
                held: None,
            };
            let keys = argv.tail(3);
            let args = argv.tail(3 + numkeys);
            let outcome = if fast {
                let prng = prng::state();
                env.held = Some(ctx.server.db.hold(keys.iter().take(numkeys)));
                FAST.set(Fast {
                    on: true,
                    ..Fast::default()
                });
                let outcome = {
                    let _running = Running::start(None, &mut env);
                    engine.run(&sha, keys.iter().take(numkeys), args.iter())
                };
                env.held = None;
                if FAST.take().aborted {
                    prng::restore(prng);
                    RERUN.set(true);
                    return Ok(());
                }
                outcome
            } else {
                let _serial = self.serial.lock();
                let threshold = ctx.server.config.read().busy_reply_threshold;
                self.run.kill.store(false, Relaxed);
                self.run.wrote.store(false, Relaxed);
                self.run.detached.store(false, Relaxed);
                let busy_at = match threshold {
                    0 => u64::MAX,
                    t => clock::unix_ms().saturating_add(t),
                };
                self.run.busy_at.store(busy_at, Relaxed);
                FAST.set(Fast::default());
                let _running = Running::start(Some(&self.run), &mut env);
                engine.run(&sha, keys.iter().take(numkeys), args.iter())
            };
            ctx.server.stats.add(&mut env.stats);
            let script_resp3 = env.resp3;
            let written = outcome.and_then(|o| engine::reply(&o, &sha, script_resp3, &mut ctx.out));
            written.map_err(|e| CmdError::Owned(format!("ERR Error running script: {e}")))
        })
    }

    /// Has `engine` compile the script `sha` unless it did: EVAL's `body`,
    /// kept for EVALSHA, or for EVALSHA (None) the body kept.
    fn prepare(&self, engine: &mut Engine, sha: &[u8; 40], body: Option<&[u8]>) -> CmdResult {
        if engine.has(sha) {
            return Ok(());
        }
        match body {
            Some(body) => {
                engine.compile(sha, body)?;
                self.bodies
                    .write()
                    .entry(*sha)
                    .or_insert_with(|| body.into());
            }
            None => {
                let body = self.bodies.read().get(sha).cloned().ok_or(NOSCRIPT)?;
                engine.compile(sha, &body)?;
            }
        }
        Ok(())
    }

    /// SCRIPT LOAD: compiles and keeps a script; its SHA1.
    pub fn load(&self, body: &[u8]) -> Result<[u8; 40], CmdError> {
        let sha = engine::sha1_hex(body);
        self.with_engine(|engine| self.prepare(engine, &sha, Some(body)))?;
        Ok(sha)
    }

    pub fn exists(&self, sha: &[u8]) -> bool {
        engine::normalize(sha).is_some_and(|sha| self.bodies.read().contains_key(&sha))
    }

    /// SCRIPT FLUSH: the bodies forgotten, and every thread's interpreter
    /// replaced when next used; this thread's and the bodies freed in the
    /// background when `lazy`.
    pub fn flush(&self, lazy: bool) {
        // No lock orders these: a script running meanwhile on another
        // thread may still keep its body, as if it had come just after.
        // Its interpreter is of the old generation all the same.
        self.generation
            .store(GENERATIONS.fetch_add(1, Relaxed), SeqCst);
        let bodies = std::mem::take(&mut *self.bodies.write());
        let engine = ENGINE.with_borrow_mut(Option::take);
        if lazy {
            crate::db::drop_in_background((bodies, engine));
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
    /// On the fast path: the slots the script holds.
    held: Option<Held<'a>>,
}

thread_local! {
    /// The running script's Env, on the thread running it.
    static ENV: Cell<*mut Env<'static>> = const { Cell::new(ptr::null_mut()) };
}

/// A script's run: points ENV at its Env and, on the exclusive path, marks
/// it running; both undone when dropped (by a panic too), so that waiting
/// connections go on. A fast-path run is not `running`: nobody waits for it.
struct Running<'s>(Option<&'s RunState>);

impl<'s> Running<'s> {
    fn start(run: Option<&'s RunState>, env: &mut Env) -> Running<'s> {
        // The cast erases the lifetime (clippy sees the same type).
        #[allow(clippy::unnecessary_cast)]
        ENV.with(|e| e.set(env as *mut Env as *mut Env<'static>));
        if let Some(run) = run {
            run.busy.store(false, SeqCst);
            run.running.store(true, SeqCst);
        }
        Running(run)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        ENV.with(|e| e.set(ptr::null_mut()));
        if let Some(run) = self.0 {
            run.running.store(false, SeqCst);
        }
    }
}

/// The Lua hook on a fast-path run (None on the exclusive path): whether
/// the script goes on. One that did not write yet is stopped, to run again
/// on the exclusive path, where a long script gets -BUSY and SCRIPT KILL;
/// one that wrote cannot stop half done: it goes on, its thread handing its
/// other work off once.
fn fast_hook() -> Option<bool> {
    let mut fast = FAST.get();
    if !fast.on {
        return None;
    }
    if !fast.wrote {
        fast.aborted = true;
        FAST.set(fast);
        return Some(false);
    }
    if !fast.detached {
        fast.detached = true;
        FAST.set(fast);
        engine::hand_off_worker();
    }
    Some(true)
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
        engine::wake_off_worker(|| env.server.db.exclusive_changed.notify_waiters());
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
        // A stopped run is discarded: a call caught by pcall on the same
        // line must not write (the hook stops the script at its next line).
        if FAST.get().aborted {
            return engine::abort(lua);
        }
        let argv = match lua_argv(args) {
            Ok(argv) => argv,
            Err(msg) => return refuse(msg),
        };
        let argv = argv.argv();
        let cmd = match self.admit(&argv) {
            Ok(cmd) => cmd,
            Err(Refused::Reply(msg)) => return refuse(msg),
            Err(Refused::Abort) => {
                FAST.set(Fast {
                    aborted: true,
                    ..FAST.get()
                });
                return engine::abort(lua);
            }
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

    fn admit(&mut self, argv: &Argv) -> Result<CommandRef, Refused> {
        let cmd = match find(argv) {
            Ok(cmd) => cmd,
            Err(NotFound::Arity(_)) => {
                return Err(Refused::Reply(
                    "Wrong number of args calling Redis command from script",
                ))
            }
            Err(_) => return Err(Refused::Reply("Unknown Redis command called from script")),
        };
        let flags = cmd.spec.flags;
        if flags.has(Flags::NOSCRIPT) {
            return Err(Refused::Reply(
                "This Redis command is not allowed from script",
            ));
        }
        if flags.has(Flags::WRITE) && self.read_only {
            return Err(Refused::Reply(
                "Write commands are not allowed from read-only scripts.",
            ));
        }
        if self.held.is_some() {
            self.admit_fast(cmd, argv)?;
        } else if flags.has(Flags::DENYOOM)
            && !self.run.wrote.load(Relaxed)
            && out_of_memory(self.server)
        {
            // Only before the first write: a script cannot stop half done.
            return Err(Refused::Reply(
                "-OOM command not allowed when used memory > 'maxmemory'.",
            ));
        }
        self.verify_cluster(cmd, argv).map_err(Refused::Reply)?;
        if self.held.is_some() && flags.has(Flags::WRITE | Flags::MAY_REPLICATE) {
            FAST.set(Fast {
                wrote: true,
                ..FAST.get()
            });
        } else if flags.has(Flags::WRITE) {
            self.run.wrote.store(true, Relaxed);
        }
        Ok(cmd)
    }

    /// On the fast path a command may run only on held slots, and with no
    /// eviction to do (eviction locks any slot). Before the script wrote,
    /// anything else stops it, to run again on the exclusive path as Redis
    /// would run it. After, it cannot start over: the slot of a key it did
    /// not declare is added to those it holds (`Db::hold_more`: waited for
    /// if it comes after all of them, else only if free within
    /// UNDECLARED_WAIT), and when it cannot be, as for a keyless command
    /// that may walk the keyspace, the call fails. This is where slotcache
    /// differs from Redis, which runs any such script: a script must
    /// declare in KEYS the keys it writes to or reaches after writing (as
    /// Redis documents it should).
    fn admit_fast(&mut self, cmd: CommandRef, argv: &Argv) -> Result<(), Refused> {
        let wrote = FAST.get().wrote;
        let fail = |msg| match wrote {
            true => Err(Refused::Reply(msg)),
            false => Err(Refused::Abort),
        };
        // After a write no eviction either, as on the exclusive path.
        if !wrote && cmd.spec.flags.has(Flags::DENYOOM) && self.server.over_memory_limit() {
            return Err(Refused::Abort);
        }
        let mut keys = cmd.spec.keys.positions(argv).peekable();
        if keys.peek().is_none() && !keyless_allowed(cmd) {
            return fail("This command may reach keys the script did not declare, and the script wrote already: declare every key in KEYS");
        }
        let db = &self.server.db;
        for at in keys {
            let slot = key_slot(argv.get(at));
            if crate::db::holds(slot) {
                continue;
            }
            let held = self.held.as_mut().expect("on the fast path");
            if !wrote || !db.hold_more(held, slot, UNDECLARED_WAIT) {
                return fail("Script attempted to access a key not declared in KEYS, whose slot another client is using, after it wrote: declare every key in KEYS");
            }
        }
        Ok(())
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

/// Why `redis.call` does not run a command.
enum Refused {
    /// It fails with this error.
    Reply(&'static str),
    /// The fast-path script stops, to run again on the exclusive path.
    Abort,
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
