//! Command execution: resolve the name in the command table, check arity,
//! authentication and memory, lock the slots of the keys the table names,
//! and run the handler. One file per group, as Redis has `t_string.c` …

mod client;
mod cluster;
mod connection;
mod dump;
mod keys;
mod multi;
mod pubsub;
mod scripting;
mod server_cmds;
mod t_hash;
mod t_list;
mod t_set;
mod t_string;
mod t_zset;
mod util;

use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::OnceLock;
use std::time::Duration;

use bytes::BytesMut;
use parking_lot::{RwLockReadGuard, RwLockWriteGuard};
use slotcache_protocol::command::{lookup_sub, CommandRef, CommandTable, Flags};
use slotcache_protocol::{lookup, Argv, Reply};

use crate::client::Client;
use crate::clock;
use crate::db::evict::{self, Outcome};
use crate::db::{Db, Locked};
use crate::server::Server;
use crate::stats::BatchStats;

pub use multi::{discard_transaction, TxState};
pub use util::*;

/// What a command sees while it runs.
pub struct Ctx<'s, 'c> {
    pub server: &'s Server,
    pub client: &'c mut Client,
    pub out: Reply<'c>,
    /// The slots of this command's keys, locked for its whole run.
    pub keys: Locked<'s>,
    pub cmd: CommandRef,
    /// False inside MULTI and scripts: blocking commands answer at once,
    /// as on a timeout.
    pub may_block: bool,
}

impl Ctx<'_, '_> {
    /// Milliseconds since the epoch when the command started.
    pub fn now(&self) -> u64 {
        self.keys.now
    }
}

/// A command's error reply, including its code (`ERR`, `WRONGTYPE` …).
#[derive(Debug)]
pub enum CmdError {
    Static(&'static str),
    Owned(String),
}

impl CmdError {
    pub fn message(&self) -> &str {
        match self {
            CmdError::Static(s) => s,
            CmdError::Owned(s) => s,
        }
    }
}

impl From<String> for CmdError {
    fn from(s: String) -> Self {
        CmdError::Owned(s)
    }
}

pub type CmdResult = Result<(), CmdError>;
pub type Handler = fn(&mut Ctx, &Argv) -> CmdResult;

/// Handlers by command-table id.
fn handlers() -> &'static [Option<Handler>] {
    static TABLE: OnceLock<Vec<Option<Handler>>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let table = CommandTable::get();
        let mut by_id: Vec<Option<Handler>> = vec![None; table.all.len()];
        let groups: &[&[(&str, Handler)]] = &[
            connection::HANDLERS,
            cluster::HANDLERS,
            client::HANDLERS,
            server_cmds::HANDLERS,
            keys::HANDLERS,
            dump::HANDLERS,
            t_string::HANDLERS,
            t_hash::HANDLERS,
            t_list::HANDLERS,
            t_set::HANDLERS,
            t_zset::HANDLERS,
            pubsub::HANDLERS,
            multi::HANDLERS,
            scripting::HANDLERS,
        ];
        for &(name, handler) in groups.iter().flat_map(|g| g.iter()) {
            let id = table
                .all
                .iter()
                .position(|s| s.name == name)
                .unwrap_or_else(|| panic!("handler for {name}, which is not in the command table"));
            by_id[id] = Some(handler);
        }
        by_id
    })
}

/// Why `argv` names no command that can run.
pub enum NotFound {
    Command,
    /// A container's subcommand: the container.
    Subcommand(CommandRef),
    /// Wrong arity: the command.
    Arity(CommandRef),
}

/// Finds the command (or subcommand) `argv` names and checks its arity.
pub fn find(argv: &Argv) -> Result<CommandRef, NotFound> {
    let mut cmd = lookup(argv.get(0)).ok_or(NotFound::Command)?;
    if cmd.spec.is_container() && (argv.len() >= 2 || cmd.spec.arity != -1) {
        if argv.len() < 2 {
            return Err(NotFound::Arity(cmd));
        }
        cmd = lookup_sub(cmd.spec, argv.get(1)).ok_or(NotFound::Subcommand(cmd))?;
    }
    if !cmd.spec.arity_ok(argv.len()) {
        return Err(NotFound::Arity(cmd));
    }
    Ok(cmd)
}

/// `find`, with Redis's error replies.
pub fn resolve(argv: &Argv) -> Result<CommandRef, CmdError> {
    find(argv).map_err(|e| not_found(argv, e))
}

fn not_found(argv: &Argv, e: NotFound) -> CmdError {
    match e {
        NotFound::Command => {
            let mut msg = format!(
                "ERR unknown command '{}', with args beginning with: ",
                printable(argv.get(0), 128)
            );
            for arg in argv.iter().skip(1) {
                msg.push_str(&format!("'{}' ", printable(arg, 128)));
            }
            CmdError::Owned(msg)
        }
        NotFound::Subcommand(cmd) => CmdError::Owned(format!(
            "ERR unknown subcommand '{}'. Try {} HELP.",
            printable(argv.get(1), 128),
            cmd.spec.name.to_ascii_uppercase()
        )),
        NotFound::Arity(cmd) => wrong_arity(cmd.spec.name),
    }
}

fn wrong_arity(name: &str) -> CmdError {
    CmdError::Owned(format!(
        "ERR wrong number of arguments for '{name}' command"
    ))
}

/// Text for an error message: at most `max` bytes, lossy UTF-8, no newlines.
pub fn printable(arg: &[u8], max: usize) -> String {
    String::from_utf8_lossy(&arg[..arg.len().min(max)]).replace(['\r', '\n'], " ")
}

/// How a batch of commands holds `exclusive` (db/mod.rs).
pub enum Hold<'a> {
    /// Shared with other batches: ordinary commands.
    Shared(RwLockReadGuard<'a, ()>),
    /// Alone, for EXEC and scripts; kept until the batch's next ordinary
    /// command, so a pipeline of them takes it once.
    Alone(Alone<'a>),
    /// Not at all: a script past `busy-reply-threshold` holds it, and only
    /// ALLOW_BUSY commands run, the others being answered -BUSY.
    Busy,
    /// Not at all: another batch holds it alone; this one stops before the
    /// command that wants it alone, and waits (`Scripts::wait`).
    Waiting,
}

impl<'a> Hold<'a> {
    /// Takes `exclusive` alone, or goes back to sharing it. False when
    /// another batch holds it alone: rather than block this thread, whose
    /// other connections could go on with their I/O meanwhile, the batch
    /// stops and its connection waits without a thread.
    fn switch(&mut self, db: &'a Db, alone: bool) -> bool {
        match (std::mem::replace(self, Hold::Waiting), alone) {
            (Hold::Shared(shared), true) => {
                // Let go first: two batches upgrading at once would deadlock;
                // so would one keeping a slot lock while waiting for this.
                crate::db::release_kept();
                drop(shared);
                loop {
                    let guard = match db.exclusive.try_write() {
                        Some(guard) => Some(guard),
                        None if db.alone_held.load(SeqCst) => return false,
                        // Held shared: ordinary batches end soon.
                        None => db.exclusive.try_write_for(Duration::from_micros(100)),
                    };
                    if let Some(guard) = guard {
                        *self = Hold::Alone(Alone::new(guard, db));
                        return true;
                    }
                }
            }
            (Hold::Alone(alone), false) => *self = Hold::Shared(alone.downgrade()),
            (same, _) => *self = same,
        }
        true
    }
}

/// `exclusive` held for writing; letting it go wakes the connections
/// waiting for it.
pub struct Alone<'a> {
    guard: Option<RwLockWriteGuard<'a, ()>>,
    db: &'a Db,
}

impl<'a> Alone<'a> {
    fn new(guard: RwLockWriteGuard<'a, ()>, db: &'a Db) -> Alone<'a> {
        db.alone_held.store(true, SeqCst);
        Alone {
            guard: Some(guard),
            db,
        }
    }

    fn downgrade(mut self) -> RwLockReadGuard<'a, ()> {
        let guard = self.guard.take().expect("held until dropped");
        self.db.alone_held.store(false, SeqCst);
        RwLockWriteGuard::downgrade(guard)
    }
}

impl Drop for Alone<'_> {
    fn drop(&mut self) {
        if let Some(guard) = self.guard.take() {
            self.db.alone_held.store(false, SeqCst);
            drop(guard);
        }
        // One at a time: see Scripts::admit.
        self.db.exclusive_changed.notify_one();
    }
}

/// What became of a command handed to `execute`.
pub enum Executed {
    /// It ran (or was queued, or refused): its reply is in the output.
    Done,
    /// It wants `exclusive` alone and another batch has it
    /// (`Hold::Waiting`): the batch stops there and runs it again later.
    WaitExclusive,
    /// It writes, and writes are paused until this unix ms (a manual
    /// failover): the batch stops there and runs it again later.
    Paused(u64),
}

/// Runs one command and writes its reply to `out`, under the batch's
/// `hold` of `exclusive`, unless it must wait (see `Executed`).
pub fn execute<'a>(
    server: &'a Server,
    client: &mut Client,
    out: &mut BytesMut,
    argv: Argv,
    stats: &mut BatchStats,
    hold: &mut Hold<'a>,
) -> Executed {
    let asking = match dispatch(server, client, out, argv, stats, hold) {
        Ok(asking) => asking,
        Err(wait) => return wait,
    };
    stats.commands += 1;
    // ASKING covers the command right after it, or a whole transaction
    // begun right after it (Redis's resetClient).
    if !asking && !client.tx.in_multi() {
        client.asking = false;
    }
    Executed::Done
}

/// Checks, queues or runs one command; whether it was ASKING, or why it
/// must wait.
fn dispatch<'a>(
    server: &'a Server,
    client: &mut Client,
    out: &mut BytesMut,
    argv: Argv,
    stats: &mut BatchStats,
    hold: &mut Hold<'a>,
) -> Result<bool, Executed> {
    let checked = check(server, client, &argv).and_then(|cmd| {
        if matches!(hold, Hold::Busy) && !cmd.spec.flags.has(Flags::ALLOW_BUSY) {
            return Err(CmdError::Static(crate::scripting::BUSY));
        }
        Ok(cmd)
    });
    let cmd = match checked {
        Ok(cmd) => cmd,
        Err(e) => {
            stats.error(e.message());
            multi::refused(server, client, &argv, e.message(), out);
            return Ok(false);
        }
    };
    // As Redis postpones a paused write, inside MULTI too: it runs once
    // the pause ends (by then its slot may have a new owner: -MOVED). A
    // blocked command served again is not new: it goes on.
    if let (Some(cluster), None) = (&server.cluster, &client.blocked) {
        let paused_until = cluster.writes_paused_until.load(Relaxed);
        if paused_until != 0 && paused_until > clock::unix_ms() && multi::may_replicate(client, cmd)
        {
            return Err(Executed::Paused(paused_until));
        }
    }
    if multi::queue(client, cmd, &argv, out) {
        return Ok(false);
    }
    // Scripts, and EXEC unless holding its keys' slots isolates it, run
    // with no other command in between. A script declaring keys first
    // tries holding their slots instead, and may have to run again alone
    // (scripting/mod.rs). MULTI only opens a transaction: it keeps the hold
    // for the EXEC to come.
    let switched = match cmd.spec.name {
        "multi" => true,
        "exec" => hold.switch(&server.db, multi::needs_exclusive(client)),
        _ => hold.switch(
            &server.db,
            runs_alone(cmd) && !crate::scripting::may_run_parallel(&argv),
        ),
    };
    if !switched {
        return Err(Executed::WaitExclusive);
    }
    let reply = Reply::new(out, client.resp3);
    call(server, client, reply, &argv, cmd, stats, true);
    if crate::scripting::rerun_alone() {
        if !hold.switch(&server.db, true) {
            return Err(Executed::WaitExclusive);
        }
        let reply = Reply::new(out, client.resp3);
        call(server, client, reply, &argv, cmd, stats, true);
    }
    Ok(cmd.spec.name == "asking")
}

/// Where commands that look a member (or field) up in the key's collection
/// name it, counted from the key: the batch loop fetches its place ahead.
/// (ZADD's options, when given, come first: then this names one of them,
/// and the fetch is wasted.)
pub fn member_after_key(cmd: CommandRef) -> Option<usize> {
    static MEMBER: OnceLock<Vec<Option<usize>>> = OnceLock::new();
    MEMBER.get_or_init(|| {
        CommandTable::get()
            .all
            .iter()
            .map(|s| match s.name {
                "sadd" | "srem" | "sismember" | "smismember" | "hset" | "hsetnx" | "hget"
                | "hmget" | "hmset" | "hdel" | "hexists" | "hincrby" | "hincrbyfloat"
                | "hstrlen" | "zscore" | "zmscore" | "zrem" | "zrank" | "zrevrank" => Some(1),
                "zadd" | "zincrby" => Some(2),
                _ => None,
            })
            .collect()
    })[cmd.id]
}

/// Scripts: they take `exclusive` for their whole run, and lock the slots
/// of keys as their inner commands need them.
fn runs_alone(cmd: CommandRef) -> bool {
    static ALONE: OnceLock<Vec<bool>> = OnceLock::new();
    ALONE.get_or_init(|| {
        let table = CommandTable::get();
        table
            .all
            .iter()
            .map(|s| matches!(s.name, "eval" | "evalsha" | "eval_ro" | "evalsha_ro"))
            .collect()
    })[cmd.id]
}

/// Runs a command that passed the checks (directly, or inside EXEC or a
/// script, where `may_block` is false): locks its keys, calls its handler,
/// counts it.
pub fn call(
    server: &Server,
    client: &mut Client,
    reply: Reply,
    argv: &Argv,
    cmd: CommandRef,
    stats: &mut BatchStats,
    may_block: bool,
) {
    let now = clock::unix_ms();
    let positions = (!runs_alone(cmd)).then(|| cmd.spec.keys.positions(argv));
    let mut keys = server
        .db
        .lock(positions.into_iter().flatten().map(|i| argv.get(i)), now);
    keys.read_only = cmd.spec.flags.has(Flags::READONLY);
    let mut ctx = Ctx {
        server,
        client,
        out: reply,
        keys,
        cmd,
        may_block,
    };
    let handler = handlers()[cmd.id].expect("every command in the table has a handler");
    let started = quanta::Instant::now();
    let result = handler(&mut ctx, argv);
    let micros = started.elapsed().as_micros() as u64;
    if cmd.spec.is_write() {
        crate::blocking::keys_written(&mut ctx, argv);
    }
    stats.hits += ctx.keys.hits;
    stats.misses += ctx.keys.misses;
    drop(ctx.keys);
    if may_block {
        crate::blocking::serve_deferred(server, now);
    }
    crate::stats::count_call(cmd.id, micros, result.is_err());
    if let Err(e) = result {
        stats.error(e.message());
        ctx.out.error(e.message());
    }
    let slow_threshold = server.hot.slowlog_threshold_us.load(Relaxed);
    if micros >= slow_threshold && !cmd.spec.flags.has(Flags::SKIP_SLOWLOG) {
        let max_len = server.config.read().slowlog_max_len as usize;
        let name = ctx.client.handle.name.lock().clone();
        server.slowlog.lock().push(
            argv.iter(),
            micros,
            ctx.client.handle.addr.to_string(),
            name,
            max_len,
        );
    }
    ctx.client.handle.last_command.store(cmd.id, Relaxed);
}

/// Over `maxmemory` with nothing left to evict. As Redis: evict first,
/// refuse only when nothing could be evicted. Never call it holding slot locks.
pub fn out_of_memory(server: &Server) -> bool {
    server.over_memory_limit() && evict::perform(server) == Outcome::Fail
}

/// The checks every command passes before it runs. A known command that
/// fails one counts as rejected (INFO commandstats).
fn check(server: &Server, client: &mut Client, argv: &Argv) -> Result<CommandRef, CmdError> {
    let cmd = find(argv).map_err(|e| {
        if let NotFound::Arity(cmd) = e {
            crate::stats::count_rejected(cmd.id);
        }
        not_found(argv, e)
    })?;
    checks(server, client, argv, cmd)
        .inspect_err(|_| crate::stats::count_rejected(cmd.id))
        .map(|()| cmd)
}

fn checks(
    server: &Server,
    client: &mut Client,
    argv: &Argv,
    cmd: CommandRef,
) -> Result<(), CmdError> {
    let flags = cmd.spec.flags;
    if !client.authenticated && !flags.has(Flags::NO_AUTH) {
        return Err(CmdError::Static("NOAUTH Authentication required."));
    }
    // RESTORE-ASKING brings its own ASKING (Redis's CMD_ASKING); `execute`
    // clears it after the command, or after the transaction it is queued in.
    if flags.has(Flags::ASKING) {
        client.asking = true;
    }
    if let Some(cluster) = &server.cluster {
        crate::cluster::route(server, cluster, client, cmd, argv)?;
    }
    if client.tx.in_multi() && flags.has(Flags::NO_MULTI) {
        return Err(CmdError::Static(
            "ERR Command not allowed inside a transaction",
        ));
    }
    if flags.has(Flags::DENYOOM) && out_of_memory(server) {
        return Err(CmdError::Static(
            "OOM command not allowed when used memory > 'maxmemory'.",
        ));
    }
    // A RESP2 subscriber's connection carries messages: only commands
    // whose replies cannot be mistaken for one are allowed (RESP3 pushes
    // are told apart by type).
    if !client.resp3
        && client.subscribed()
        && !matches!(
            cmd.spec.name,
            "ping"
                | "subscribe"
                | "unsubscribe"
                | "psubscribe"
                | "punsubscribe"
                | "ssubscribe"
                | "sunsubscribe"
                | "quit"
                | "reset"
        )
    {
        return Err(CmdError::Owned(format!(
            "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
            cmd.spec.name
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_has_a_handler() {
        let table = CommandTable::get();
        let handlers = handlers();
        for (id, spec) in table.all.iter().enumerate() {
            // A container with subcommands is dispatched to them.
            assert!(
                handlers[id].is_some() || (spec.is_container() && spec.arity != -1),
                "no handler for {}",
                spec.name
            );
        }
    }
}
