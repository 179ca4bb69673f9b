//! The Lua 5.1 interpreter scripts run in: Redis's `redis` API, its libraries,
//! globals protection, the error handler that says where a script failed,
//! and the scripts it compiled, by SHA1. Each thread has its own (mod.rs).

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use hashbrown::HashMap;
use mlua::chunk::ChunkMode;
use mlua::{
    FromLuaMulti, Function, HookTriggers, IntoLuaMulti, LightUserData, Lua, LuaOptions, MultiValue,
    StdLib, Table, Value, Variadic, VmState,
};
use slotcache_protocol::Reply;

use super::args::{self, Args};
use super::{bit, cjson, cmsgpack, convert, lua_struct, prng, with_env, RunState};
use crate::commands::CmdError;
use crate::info::REDIS_VERSION;

/// VM instructions between runs of the hook (Redis's period).
const HOOK_PERIOD: u32 = 100_000;
/// How long a script runs before it counts as long: the hook acts then.
const LONG_SCRIPT_US: u64 = 2_000;
/// Scripts run between extra incremental GC steps, so that garbage is
/// collected a little at a time (Redis's LUA_GC_CYCLE_PERIOD).
const GC_PERIOD: u32 = 50;

/// Sets up the API and makes the environment read-only. Runs once per VM;
/// the frames of this chunk (`=redis`) are skipped when locating an error.
/// Returns the runner and the table the globals live in (KEYS and ARGV go
/// there).
const PRELUDE: &str = r#"
local raw = ...
local error, type, tostring, rawget, setmetatable = error, type, tostring, rawget, setmetatable
local dbg, xpcall, pcall_, unwrap_error = debug, xpcall, pcall, raw.unwrap_error

redis = {
  call = raw.call,
  pcall = raw.pcall,
  error_reply = raw.error_reply,
  status_reply = raw.status_reply,
  sha1hex = raw.sha1hex,
  log = raw.log,
  setresp = raw.setresp,
  replicate_commands = function() return true end,
  LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
  REDIS_VERSION = raw.version, REDIS_VERSION_NUM = raw.version_num,
}
cjson = { encode = raw.json_encode, decode = raw.json_decode, null = raw.null }

-- As Redis's pcall: a caught error table gives its message.
local function unwrap(ok, ...)
  if ok then return true, ... end
  local e = ...
  if type(e) == 'userdata' then e = unwrap_error(e) end
  if type(e) == 'table' and type(rawget(e, 'err')) == 'string' then return false, e.err end
  return false, e
end
pcall = function(...) return unwrap(pcall_(...)) end

-- Redis's error table, with the script line the error came from.
local function handler(e)
  local level = 2
  local info = dbg.getinfo(level, 'Sl')
  while info and (info.what ~= 'Lua' and info.what ~= 'main' or info.source == '=redis') do
    level = level + 1
    info = dbg.getinfo(level, 'Sl')
  end
  if type(e) == 'userdata' then e = unwrap_error(e) end
  if type(e) ~= 'table' then e = {err = 'ERR ' .. tostring(e)} end
  if info then
    e.source = info.source
    e.line = info.currentline
  end
  return e
end
-- A global in Redis 7 too: scripts see it in _G and may call it.
__redis__err__handler = handler

debug, print, dofile, loadfile = nil, nil, nil, nil
getfenv, setfenv, newproxy = nil, nil, nil

-- Redis 7 makes _G, its libraries and the string metatable read-only
-- tables. Stock Lua 5.1 has none: each library is an empty stand-in that
-- reads through to the real table, _G is emptied into `globals` the same
-- way, and the functions that would reach past a metatable see the real
-- table or refuse.
local G, raw_next, raw_pairs, raw_ipairs, raw_set = _G, next, pairs, ipairs, rawset
local raw_getmetatable, raw_insert, raw_remove, raw_sort = getmetatable, table.insert, table.remove, table.sort
local real = {}
local function refuse() error('Attempt to modify a readonly table', 2) end
local function refuse_raw(t)
  if real[t] then error('Attempt to modify a readonly table', 0) end
end
local function readonly(t)
  local stand_in = setmetatable({}, {__index = t, __newindex = refuse, __metatable = false})
  real[stand_in] = t
  return stand_in
end
local function seen(t) return real[t] or t end
local function next_seen(t, k) return raw_next(seen(t), k) end
local nonexistent = function(_, name)
  error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
end
local string_mt -- set below, once `string` has its stand-in
local globals_mt = readonly({__index = nonexistent, __newindex = refuse})

G.rawset = function(t, ...) refuse_raw(t) return raw_set(t, ...) end
G.rawget = function(t, k) return rawget(seen(t), k) end
G.next = next_seen
G.pairs = function(t) return next_seen, t, nil end
G.ipairs = function(t) return raw_ipairs(seen(t)) end
G.setmetatable = function(t, mt) refuse_raw(t) return setmetatable(t, mt) end
G.getmetatable = function(t)
  if type(t) == 'string' then return string_mt end
  if t == G then return globals_mt end
  return raw_getmetatable(seen(t))
end
table.insert = function(t, ...) refuse_raw(t) return raw_insert(t, ...) end
table.remove = function(t, ...) refuse_raw(t) return raw_remove(t, ...) end
table.sort = function(t, ...) refuse_raw(t) return raw_sort(t, ...) end

local globals = {}
for name, value in raw_pairs(G) do globals[name] = value end
for name in raw_pairs(globals) do raw_set(G, name, nil) end
for _, lib in raw_ipairs({'string', 'table', 'math', 'coroutine', 'bit', 'struct', 'cmsgpack', 'redis', 'cjson'}) do
  globals[lib] = readonly(globals[lib])
end
string_mt = readonly({__index = globals.string})
setmetatable(globals, {__index = nonexistent})
setmetatable(G, {__index = globals, __newindex = refuse, __metatable = false})
real[G] = globals

return function(f) return xpcall(f, handler) end, globals
"#;

/// An error the API's Rust functions raise into the script.
#[derive(Debug)]
enum Raised {
    /// As Redis raises an error reply: the table `{err = text}`.
    Reply(String),
    /// As a C library raises one with luaL_error: a message string.
    Message(String),
}

impl std::fmt::Display for Raised {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Raised::Reply(text) | Raised::Message(text) => f.write_str(text),
        }
    }
}

impl std::error::Error for Raised {}

/// A no-op callback whose call leaves mlua's pool of error slots one
/// fuller when it is empty.
///
/// mlua lends each call of a Rust function a preallocated slot to raise
/// an error from. A call that finds the pool empty makes a slot and, on
/// return, files it with a luaL_checkstack(2) that fails when the call
/// returned nearly LUAI_MAXCSTACK values: struct.unpack of 7990 fields,
/// which Redis answers, raised "stack overflow" on a fresh interpreter.
/// A raised error uses its slot up, so `callback` refills the pool first.
struct SpareErrorSlot(Function);

/// A script library function that keeps the pool of error slots filled
/// (`SpareErrorSlot`): every Rust function scripts call is made here.
/// `A` must convert from any values (MultiValue, Variadic<Value>, Value):
/// mlua raises a conversion error before `f` runs, without a refill.
pub(super) fn callback<A: FromLuaMulti, R: IntoLuaMulti>(
    lua: &Lua,
    f: impl Fn(&Lua, A) -> mlua::Result<R> + Send + 'static,
) -> mlua::Result<Function> {
    lua.create_function(move |lua, args| f(lua, args).inspect_err(|_| refill_error_slots(lua)))
}

/// Called before raising an error from Rust (`SpareErrorSlot`).
fn refill_error_slots(lua: &Lua) {
    if let Some(spare) = lua.app_data_ref::<SpareErrorSlot>() {
        // Cannot fail: it does nothing, and the stack has room.
        let _ = spare.0.call::<()>(());
    }
}

/// Raises Redis's error table for `error` ("-CODE msg" or "msg").
fn raise<T>(error: &str) -> mlua::Result<T> {
    let text = convert::error_text(error.as_bytes());
    Err(mlua::Error::external(Raised::Reply(
        String::from_utf8_lossy(&text).into_owned(),
    )))
}

/// Raises `msg` as luaL_error does: prefixed with the calling script line.
pub(super) fn raise_message<T>(lua: &Lua, msg: &str) -> mlua::Result<T> {
    let at = lua
        .inspect_stack(1, |d| {
            let line = d.current_line()?;
            let src = d.source().short_src?.into_owned();
            Some(format!("{src}:{line}: "))
        })
        .flatten()
        .unwrap_or_default();
    raise_unplaced(format!("{at}{msg}"))
}

/// Raises `msg` as is, as the VM does for an error inside a C function.
pub(super) fn raise_unplaced<T>(msg: String) -> mlua::Result<T> {
    Err(mlua::Error::external(Raised::Message(msg)))
}

/// What the error handler and pcall see of an error raised from Rust: the
/// error table or message it stands for.
fn unwrap_error(lua: &Lua, e: Value) -> mlua::Result<Value> {
    let Value::Error(err) = &e else {
        return Ok(e);
    };
    Ok(match err.downcast_ref::<Raised>() {
        Some(Raised::Reply(text)) => Value::Table(convert::error_table(lua, text.as_bytes())?),
        Some(Raised::Message(text)) => Value::String(lua.create_string(text)?),
        None => {
            let root = err
                .chain()
                .last()
                .map(|c| c.to_string())
                .unwrap_or_default();
            Value::String(lua.create_string(root)?)
        }
    })
}

pub struct Engine {
    lua: Lua,
    /// Calls a script under the error handler: `(true, result)` or `(false, error table)`.
    runner: Function,
    /// Where the globals live: `_G` itself is an empty read-only stand-in.
    globals: Table,
    /// Compiled scripts by lower-case SHA1: those of the node's scripts
    /// this thread ran (mod.rs).
    scripts: HashMap<[u8; 40], Function>,
    run: Arc<RunState>,
    since_gc: u32,
    /// What this interpreter counts for in LUA_MEMORY.
    accounted: u64,
}

/// The memory of every thread's interpreter, updated every GC_PERIOD runs.
/// As Redis's used_memory leaves out used_memory_lua, memory.rs takes it
/// out of the allocator's count: what maxmemory limits is the dataset.
static LUA_MEMORY: AtomicU64 = AtomicU64::new(0);

pub fn lua_memory() -> u64 {
    LUA_MEMORY.load(Relaxed)
}

impl Drop for Engine {
    fn drop(&mut self) {
        LUA_MEMORY.fetch_sub(self.accounted, Relaxed);
    }
}

/// Hands back to the allocator what this thread's cache kept of the
/// memory a new interpreter's set-up churned through: jemalloc counts it
/// as allocated, and it would count against maxmemory on every thread that
/// runs scripts. (Turning the cache off empties it.)
fn flush_thread_cache() {
    const ENABLED: &[u8] = b"thread.tcache.enabled\0";
    // SAFETY: the key names a bool.
    unsafe {
        if tikv_jemalloc_ctl::raw::read::<bool>(ENABLED) == Ok(true) {
            let _ = tikv_jemalloc_ctl::raw::write(ENABLED, false);
            let _ = tikv_jemalloc_ctl::raw::write(ENABLED, true);
        }
    }
}

/// A script that ended: what it returned, or its error table.
pub struct Outcome {
    pub ok: bool,
    pub value: Value,
}

pub fn sha1_hex(body: &[u8]) -> [u8; 40] {
    let hex = sha1_smol::Sha1::from(body).digest().to_string();
    hex.as_bytes().try_into().expect("40 hex digits")
}

impl Engine {
    pub fn new(run: Arc<RunState>) -> mlua::Result<Engine> {
        // SAFETY: `debug` can break the interpreter's invariants; the
        // prelude keeps it only inside the error handler and removes the
        // global before any script runs, as Redis does.
        let lua = unsafe {
            Lua::unsafe_new_with(
                StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::DEBUG,
                LuaOptions::default(),
            )
        };
        let spare = lua.create_function(|_, ()| Ok(()))?;
        // The pool starts empty: one call puts the first slot in it.
        spare.call::<()>(())?;
        lua.set_app_data(SpareErrorSlot(spare));
        bit::open(&lua)?;
        lua_struct::open(&lua)?;
        cmsgpack::open(&lua)?;
        prng::open(&lua)?;
        let raw = lua.create_table()?;
        raw.raw_set("call", callback(&lua, redis_call)?)?;
        raw.raw_set("pcall", callback(&lua, redis_pcall)?)?;
        raw.raw_set("unwrap_error", callback(&lua, unwrap_error)?)?;
        raw.raw_set("error_reply", callback(&lua, error_reply)?)?;
        raw.raw_set("status_reply", callback(&lua, status_reply)?)?;
        raw.raw_set("sha1hex", callback(&lua, sha1hex)?)?;
        raw.raw_set("log", callback(&lua, log)?)?;
        raw.raw_set("setresp", callback(&lua, setresp)?)?;
        args::register(&lua, &raw, "json_encode", json_encode)?;
        args::register(&lua, &raw, "json_decode", json_decode)?;
        raw.raw_set(
            "null",
            Value::LightUserData(LightUserData(std::ptr::null_mut())),
        )?;
        raw.raw_set("version", REDIS_VERSION)?;
        raw.raw_set("version_num", version_num(REDIS_VERSION))?;
        let (runner, globals): (Function, Table) = lua
            .load(PRELUDE)
            .set_name("=redis")
            .set_mode(ChunkMode::Text)
            .call(raw)?;
        let mut engine = Engine {
            lua,
            runner,
            globals,
            scripts: HashMap::new(),
            run,
            since_gc: 0,
            accounted: 0,
        };
        engine.watch()?;
        engine.account();
        flush_thread_cache();
        Ok(engine)
    }

    /// Every HOOK_PERIOD instructions of a script running LONG_SCRIPT_US
    /// or more, looks for SCRIPT KILL; on the fast path, stops a script
    /// that did not write yet (`super::fast_hook`).
    ///
    /// A script that gets this far runs long, and the runtime must not
    /// wait for it: no other worker may be awake to poll the sockets, and
    /// then nobody would be answered -BUSY or heard asking SCRIPT KILL.
    fn watch(&self) -> mlua::Result<()> {
        let run = Arc::clone(&self.run);
        self.lua.set_hook(
            HookTriggers::new().every_nth_instruction(HOOK_PERIOD),
            move |lua, _| {
                // The count runs on across runs (mlua sets the hook once),
                // so a run's age is what tells a long script.
                if crate::clock::unix_us() < RUN_STARTED_US.get() + LONG_SCRIPT_US {
                    return Ok(VmState::Continue);
                }
                match super::fast_hook() {
                    Some(true) => return Ok(VmState::Continue),
                    Some(false) => return stop(lua, ABORTED),
                    None => {}
                }
                if !run.detached.swap(true, Relaxed) {
                    hand_off_worker();
                }
                super::check_busy(&run);
                if !run.kill.load(Relaxed) {
                    return Ok(VmState::Continue);
                }
                stop(lua, KILLED)
            },
        )
    }

    pub fn has(&self, sha: &[u8; 40]) -> bool {
        self.scripts.contains_key(sha)
    }

    /// Compiles `body`, whose SHA1 is `sha`, unless it already is.
    pub fn compile(&mut self, sha: &[u8; 40], body: &[u8]) -> Result<(), CmdError> {
        if self.has(sha) {
            return Ok(());
        }
        let f = self
            .lua
            .load(body)
            .set_name("@user_script")
            .set_mode(ChunkMode::Text)
            .into_function()
            .map_err(|e| {
                let msg = match e {
                    mlua::Error::SyntaxError { message, .. } => message,
                    other => other.to_string(),
                };
                CmdError::Owned(format!("ERR Error compiling script (new function): {msg}"))
            })?;
        self.scripts.insert(*sha, f);
        Ok(())
    }

    /// Runs the cached script `sha` with KEYS and ARGV set.
    pub fn run<'a>(
        &mut self,
        sha: &[u8; 40],
        keys: impl ExactSizeIterator<Item = &'a [u8]>,
        args: impl ExactSizeIterator<Item = &'a [u8]>,
    ) -> mlua::Result<Outcome> {
        self.globals.raw_set("KEYS", self.array(keys)?)?;
        self.globals.raw_set("ARGV", self.array(args)?)?;
        let f = self.scripts.get(sha).expect("run only cached scripts");
        RUN_STARTED_US.set(crate::clock::unix_us());
        let outcome = self.runner.call::<(bool, Value)>(f);
        if STOPPED.take() {
            self.watch()?;
        }
        self.since_gc += 1;
        if self.since_gc == GC_PERIOD {
            self.since_gc = 0;
            self.lua.gc_step()?;
            self.account();
        }
        let (ok, value) = outcome?;
        Ok(Outcome { ok, value })
    }

    /// Brings LUA_MEMORY up to date with this interpreter's size.
    fn account(&mut self) {
        let now = self.lua.used_memory() as u64;
        LUA_MEMORY.fetch_add(now.wrapping_sub(self.accounted), Relaxed);
        self.accounted = now;
    }

    fn array<'a>(&self, items: impl ExactSizeIterator<Item = &'a [u8]>) -> mlua::Result<Table> {
        let t = self.lua.create_table_with_capacity(items.len(), 0)?;
        for (i, item) in items.enumerate() {
            t.raw_set(i + 1, self.lua.create_string(item)?)?;
        }
        Ok(t)
    }
}

/// Writes a finished script's reply: its value converted, or its error as
/// Redis words it, with the script and line it came from.
pub fn reply(
    outcome: &Outcome,
    sha: &[u8; 40],
    script_resp3: bool,
    out: &mut Reply,
) -> mlua::Result<()> {
    if outcome.ok {
        return convert::lua_to_reply(&outcome.value, out, script_resp3);
    }
    let Value::Table(e) = &outcome.value else {
        out.error("ERR execution failure");
        return Ok(());
    };
    let mut msg = match e.raw_get::<Value>("err")? {
        Value::String(s) => String::from_utf8_lossy(&s.as_bytes()).into_owned(),
        _ => "ERR execution failure".into(),
    };
    if let (Value::String(source), Value::Integer(line)) =
        (e.raw_get("source")?, e.raw_get("line")?)
    {
        msg.push_str(&format!(
            " script: {}, on {}:{line}.",
            std::str::from_utf8(sha).unwrap_or_default(),
            source.to_string_lossy()
        ));
    }
    out.error(&msg);
    Ok(())
}

const KILLED: &str = "Script killed by user with SCRIPT KILL...";
/// Never seen by a client: the run is discarded and the script runs again.
const ABORTED: &str = "Script stopped to run again holding exclusive";

thread_local! {
    /// `stop` replaced the hook of this thread's engine.
    static STOPPED: Cell<bool> = const { Cell::new(false) };
    /// When the running script started (`clock::unix_us`).
    static RUN_STARTED_US: Cell<u64> = const { Cell::new(0) };
}

/// Ends the running script: the error is raised now and, the hook now
/// firing on every line, again at each line of a script that catches it
/// with pcall. `Engine::run` puts the usual hook back.
pub(super) fn stop<T>(lua: &Lua, msg: &'static str) -> mlua::Result<T> {
    lua.set_hook(HookTriggers::EVERY_LINE, move |lua, _| {
        refill_error_slots(lua);
        raise(msg)
    })?;
    STOPPED.set(true);
    refill_error_slots(lua);
    raise(msg)
}

/// Stops a fast-path script to run it again from scratch (mod.rs).
pub(super) fn abort<T>(lua: &Lua) -> mlua::Result<T> {
    stop(lua, ABORTED)
}

/// Lets the runtime go on without this thread, which keeps its worker
/// (its queue, and the tasks its sockets woke) while the script runs.
/// block_in_place offers the worker to a new thread, but takes it back on
/// return if that thread did not pick it up yet: so it waits until the
/// runtime says the worker runs on another thread (bounded: a stuck
/// machine must not stop the script). Nothing to do on a thread that runs
/// no worker (it handed it off already, or it is `block_on`'s).
pub(super) fn hand_off_worker() {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let metrics = runtime.metrics();
    let me = Some(std::thread::current().id());
    let Some(worker) = (0..metrics.num_workers()).find(|&w| metrics.worker_thread_id(w) == me)
    else {
        return;
    };
    tokio::task::block_in_place(|| {
        let started = std::time::Instant::now();
        while metrics.worker_thread_id(worker) == me && started.elapsed() < HAND_OFF_BOUND {
            std::thread::sleep(std::time::Duration::from_micros(50));
        }
    });
    // Only a worker going to sleep polls the sockets: the new thread may
    // be stuck on a slot this script holds, the other worker asleep on a
    // condition variable. A task spawned from a thread with no worker
    // wakes it, and it goes back to sleep polling them.
    runtime.spawn(async {});
}

const HAND_OFF_BOUND: std::time::Duration = std::time::Duration::from_secs(1);

#[cfg(not(tokio_unstable))]
compile_error!("slotcache needs --cfg tokio_unstable (set in .cargo/config.toml) for the runtime's worker_thread_id");

/// Runs `wake` outside the worker: the tasks it wakes are queued where the
/// other workers run them, not in this worker's own next-task slot, which
/// nobody else runs while the script keeps this thread. (`hand_off_worker`
/// may not have handed the worker over: block_in_place takes it back if
/// the new thread did not pick it up in time.)
pub(super) fn wake_off_worker(wake: impl FnOnce()) {
    if tokio::runtime::Handle::try_current().is_err() {
        return wake();
    }
    tokio::task::block_in_place(wake)
}

/// A SHA1 as scripts are stored: 40 hex digits, lower case.
pub(super) fn normalize(sha: &[u8]) -> Option<[u8; 40]> {
    let mut lower: [u8; 40] = sha.try_into().ok()?;
    lower.make_ascii_lowercase();
    Some(lower)
}

/// "7.0.0" as Redis's REDIS_VERSION_NUM, 0x00070000.
fn version_num(version: &str) -> i64 {
    version
        .split('.')
        .take(3)
        .fold(0, |n, part| (n << 8) | part.parse::<i64>().unwrap_or(0))
}

/// `redis.call`: runs a command as the script's caller; an error reply
/// is raised.
fn redis_call(lua: &Lua, args: MultiValue) -> mlua::Result<Value> {
    let (ok, value) = redis_pcall_inner(lua, &args)?;
    if ok {
        return Ok(value);
    }
    let Value::Table(t) = &value else {
        return Ok(value);
    };
    let text: mlua::LuaString = t.raw_get("err")?;
    Err(mlua::Error::external(Raised::Reply(text.to_string_lossy())))
}

/// `redis.pcall`: an error reply is returned as its error table.
fn redis_pcall(lua: &Lua, args: MultiValue) -> mlua::Result<Value> {
    Ok(redis_pcall_inner(lua, &args)?.1)
}

fn redis_pcall_inner(lua: &Lua, args: &MultiValue) -> mlua::Result<(bool, Value)> {
    match with_env(|env| env.call(lua, args)) {
        Some(result) => result,
        None => raise("redis.call/pcall can only be called inside a script invocation"),
    }
}

fn error_reply(lua: &Lua, args: Variadic<Value>) -> mlua::Result<Table> {
    let text = match args.as_slice() {
        [Value::String(s)] if s.as_bytes().starts_with(b"-") => convert::error_text(&s.as_bytes()),
        [Value::String(s)] => convert::error_text(&[b"-", &s.as_bytes()[..]].concat()),
        _ => convert::error_text(b"wrong number or type of arguments"),
    };
    convert::error_table(lua, &text)
}

fn status_reply(lua: &Lua, args: Variadic<Value>) -> mlua::Result<Table> {
    match args.as_slice() {
        [Value::String(s)] => {
            let t = lua.create_table()?;
            t.raw_set("ok", s)?;
            Ok(t)
        }
        _ => convert::error_table(
            lua,
            &convert::error_text(b"wrong number or type of arguments"),
        ),
    }
}

fn sha1hex(lua: &Lua, args: Variadic<Value>) -> mlua::Result<mlua::LuaString> {
    let body = match args.as_slice() {
        [Value::String(s)] => s.as_bytes().to_vec(),
        [Value::Integer(i)] => i.to_string().into_bytes(),
        [Value::Number(n)] => convert::format_g(*n, 14).into_bytes(),
        [_] => Vec::new(),
        _ => return raise("wrong number of arguments"),
    };
    lua.create_string(sha1_hex(&body))
}

fn log(_: &Lua, args: Variadic<Value>) -> mlua::Result<()> {
    if args.len() < 2 {
        return raise("redis.log() requires two arguments or more.");
    }
    let level = match args[0] {
        Value::Integer(i) => i as f64,
        Value::Number(n) => n,
        _ => return raise("First argument must be a number (log level)."),
    };
    if !(0.0..=3.0).contains(&level) {
        return raise("Invalid debug level.");
    }
    let text: Vec<String> = args[1..]
        .iter()
        .filter_map(|v| match v {
            Value::String(s) => Some(s.to_string_lossy()),
            Value::Integer(i) => Some(i.to_string()),
            Value::Number(n) => Some(convert::format_g(*n, 14)),
            _ => None,
        })
        .collect();
    let text = text.join(" ");
    match level as u8 {
        0 => tracing::trace!("{text}"),
        1 => tracing::debug!("{text}"),
        2 => tracing::info!("{text}"),
        _ => tracing::warn!("{text}"),
    }
    Ok(())
}

fn setresp(_: &Lua, args: Variadic<Value>) -> mlua::Result<()> {
    let version = match args.as_slice() {
        [Value::Integer(v)] => *v,
        [Value::Number(v)] => *v as i64,
        [_] => 0,
        _ => return raise("redis.setresp() requires one argument."),
    };
    if version != 2 && version != 3 {
        return raise("RESP version must be 2 or 3.");
    }
    match with_env(|env| env.resp3 = version == 3) {
        Some(()) => Ok(()),
        None => raise("redis.setresp can only be called inside a script invocation"),
    }
}

fn json_encode(a: &Args) -> mlua::Result<mlua::LuaString> {
    let value = one_argument(a)?;
    match cjson::encode(value) {
        Ok(json) => a.lua.create_string(json),
        Err(msg) => a.fail(&msg),
    }
}

fn json_decode(a: &Args) -> mlua::Result<Value> {
    one_argument(a)?;
    match cjson::decode(a.lua, &a.string(1)?.as_bytes()) {
        Ok(value) => Ok(value),
        Err(msg) => a.fail(&msg),
    }
}

/// lua_cjson's check that encode and decode get exactly one argument.
fn one_argument<'a>(a: &'a Args) -> mlua::Result<&'a Value> {
    match a.get(1) {
        Some(value) if a.len() == 1 => Ok(value),
        _ => a.error(1, "expected 1 argument"),
    }
}
