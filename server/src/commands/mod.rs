//! Command execution: resolve the name in the command table, check arity,
//! authentication and memory, lock the slots of the keys the table names,
//! and run the handler. One file per group, as Redis has `t_string.c` …

mod client;
mod connection;
mod keys;
mod server_cmds;
mod t_hash;
mod t_string;
mod util;

use std::sync::atomic::Ordering::Relaxed;
use std::sync::OnceLock;

use bytes::BytesMut;
use parking_lot::RwLockReadGuard;
use slotcache_protocol::command::{lookup_sub, CommandRef, CommandTable, Flags};
use slotcache_protocol::{lookup, Argv, Reply};

use crate::client::Client;
use crate::clock;
use crate::db::evict::{self, Outcome};
use crate::db::Locked;
use crate::server::Server;
use crate::stats::BatchStats;

pub use util::*;

/// What a command sees while it runs.
pub struct Ctx<'s, 'c> {
    pub server: &'s Server,
    pub client: &'c mut Client,
    pub out: Reply<'c>,
    /// The slots of this command's keys, locked for its whole run.
    pub keys: Locked<'s>,
    pub cmd: CommandRef,
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
            client::HANDLERS,
            server_cmds::HANDLERS,
            keys::HANDLERS,
            t_string::HANDLERS,
            t_hash::HANDLERS,
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

/// Finds the command (or subcommand) `argv` names and checks its arity.
pub fn resolve(argv: &Argv) -> Result<CommandRef, CmdError> {
    let name = argv.get(0);
    let Some(mut cmd) = lookup(name) else {
        let mut msg = format!(
            "ERR unknown command '{}', with args beginning with: ",
            printable(name, 128)
        );
        for arg in argv.iter().skip(1) {
            msg.push_str(&format!("'{}' ", printable(arg, 128)));
        }
        return Err(CmdError::Owned(msg));
    };
    if cmd.spec.is_container() && (argv.len() >= 2 || cmd.spec.arity != -1) {
        if argv.len() < 2 {
            return Err(wrong_arity(cmd.spec.name));
        }
        cmd = lookup_sub(cmd.spec, argv.get(1)).ok_or_else(|| {
            CmdError::Owned(format!(
                "ERR unknown subcommand '{}'. Try {} HELP.",
                printable(argv.get(1), 128),
                cmd.spec.name.to_ascii_uppercase()
            ))
        })?;
    }
    if !cmd.spec.arity_ok(argv.len()) {
        return Err(wrong_arity(cmd.spec.name));
    }
    Ok(cmd)
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

/// Runs one command and writes its reply to `out`.
pub fn execute(
    server: &Server,
    client: &mut Client,
    out: &mut BytesMut,
    argv: Argv,
    stats: &mut BatchStats,
    _shared: &mut RwLockReadGuard<'_, ()>,
) {
    stats.commands += 1;
    let mut reply = Reply::new(out, client.resp3);
    let cmd = match check(server, client, &argv) {
        Ok(cmd) => cmd,
        Err(e) => {
            stats.errors += 1;
            reply.error(e.message());
            return;
        }
    };
    let now = clock::unix_ms();
    let keys = server
        .db
        .lock(cmd.spec.keys.positions(&argv).map(|i| argv.get(i)), now);
    let mut ctx = Ctx {
        server,
        client,
        out: reply,
        keys,
        cmd,
    };
    let handler = handlers()[cmd.id].expect("every command in the table has a handler");
    let slow_threshold = server.hot.slowlog_threshold_us.load(Relaxed);
    let started = (slow_threshold != u64::MAX).then(quanta::Instant::now);
    let result = handler(&mut ctx, &argv);
    stats.hits += ctx.keys.hits;
    stats.misses += ctx.keys.misses;
    drop(ctx.keys);
    if let Err(e) = result {
        stats.errors += 1;
        ctx.out.error(e.message());
    }
    if let Some(started) = started {
        let micros = started.elapsed().as_micros() as u64;
        if micros >= slow_threshold {
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
    }
    ctx.client.handle.last_command.store(cmd.id, Relaxed);
}

/// The checks every command passes before it runs.
fn check(server: &Server, client: &Client, argv: &Argv) -> Result<CommandRef, CmdError> {
    let cmd = resolve(argv)?;
    let flags = cmd.spec.flags;
    if !client.authenticated && !flags.has(Flags::NO_AUTH) {
        return Err(CmdError::Static("NOAUTH Authentication required."));
    }
    // As Redis: evict first, refuse only when nothing could be evicted.
    if flags.has(Flags::DENYOOM)
        && server.over_memory_limit()
        && evict::perform(server) == Outcome::Fail
    {
        return Err(CmdError::Static(
            "OOM command not allowed when used memory > 'maxmemory'.",
        ));
    }
    Ok(cmd)
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
