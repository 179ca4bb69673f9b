//! Transactions: MULTI queues commands, EXEC runs them with no other
//! client's command on their keys in between (it holds their slots, or, for
//! a command that may walk the keyspace, the dispatcher hands it
//! `exclusive`), and WATCH makes EXEC fail when a watched key changed since
//! (db/watch.rs).

use std::sync::atomic::Ordering::Relaxed;

use bytes::BytesMut;
use slotcache_protocol::command::{CommandRef, Flags};
use slotcache_protocol::request::OwnedArgv;
use slotcache_protocol::{Argv, Reply};

use super::{call, is, out_of_memory, CmdError, CmdResult, Ctx};
use crate::client::Client;
use crate::clock;
use crate::db::watch::WatchFlag;
use crate::server::Server;
use crate::stats::BatchStats;

pub const HANDLERS: &[(&str, super::Handler)] = &[
    ("multi", multi),
    ("exec", exec),
    ("discard", discard),
    ("watch", watch),
    ("unwatch", unwatch),
];

/// A client's transaction state.
#[derive(Default)]
pub struct TxState {
    /// Commands queued since MULTI; None outside a transaction.
    queued: Option<Queued>,
    /// WATCHed keys, and the flag a change of any of them sets.
    watched: Option<Watched>,
}

#[derive(Default)]
struct Queued {
    commands: Vec<(CommandRef, OwnedArgv)>,
    /// A command was refused while queueing: EXEC fails.
    refused: bool,
    /// A queued command may reach keys it does not name: a keyless one may
    /// walk the keyspace (KEYS, DBSIZE, FLUSHALL ...), a script may touch
    /// keys it did not declare. Holding the slots of the transaction's keys
    /// would not isolate it (nor keep the script, locking as it goes, from
    /// deadlocking with another transaction): EXEC runs alone.
    reaches_beyond: bool,
}

struct Watched {
    flag: WatchFlag,
    keys: Vec<Box<[u8]>>,
}

impl TxState {
    pub fn in_multi(&self) -> bool {
        self.queued.is_some()
    }

    pub fn queued_len(&self) -> Option<usize> {
        self.queued.as_ref().map(|q| q.commands.len())
    }

    /// A WATCHed key changed since WATCH (EXEC will fail).
    pub fn watch_changed(&self) -> bool {
        self.watched
            .as_ref()
            .is_some_and(|w| w.flag.load(std::sync::atomic::Ordering::Relaxed))
    }
}

/// Inside MULTI, queues any command but those that drive the transaction,
/// answering +QUEUED. False when the command is to run now.
pub(super) fn queue(client: &mut Client, cmd: CommandRef, argv: &Argv, out: &mut BytesMut) -> bool {
    let Some(queued) = client.tx.queued.as_mut() else {
        return false;
    };
    if matches!(
        cmd.spec.name,
        "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
    ) {
        return false;
    }
    queued.reaches_beyond |=
        super::runs_alone(cmd) || cmd.spec.keys.positions(argv).next().is_none();
    queued.commands.push((cmd, argv.to_owned_args()));
    Reply::new(out, client.resp3).simple("QUEUED");
    true
}

/// Whether EXEC must run with no other batch at all (`reaches_beyond`).
pub(super) fn needs_exclusive(client: &Client) -> bool {
    client.tx.queued.as_ref().is_some_and(|q| q.reaches_beyond)
}

/// Whether the command about to run may write or be replicated (scripts,
/// PUBLISH), counting a transaction's queued commands for EXEC: what a
/// write pause holds back, as Redis's is_may_replicate_command.
pub(super) fn may_replicate(client: &Client, cmd: CommandRef) -> bool {
    let replicated = |cmd: CommandRef| cmd.spec.flags.has(Flags::WRITE | Flags::MAY_REPLICATE);
    match (cmd.spec.name, &client.tx.queued) {
        ("exec", Some(queued)) => queued.commands.iter().any(|(c, _)| replicated(*c)),
        _ => replicated(cmd),
    }
}

impl Queued {
    fn writes(&self) -> bool {
        self.commands.iter().any(|(cmd, _)| cmd.spec.is_write())
    }
}

/// The keys of the queued commands, in order.
fn queued_keys(queued: &Queued) -> impl Iterator<Item = &[u8]> {
    queued.commands.iter().flat_map(|(cmd, args)| {
        let argv = args.argv();
        cmd.spec.keys.positions(&argv).map(move |i| argv.get(i))
    })
}

/// Answers a command refused before it could run or be queued. Inside
/// MULTI that fails the transaction; EXEC itself refused discards it (as
/// Redis words it: a plain ERR loses its code, others keep theirs).
pub(super) fn refused(
    server: &Server,
    client: &mut Client,
    argv: &Argv,
    msg: &str,
    out: &mut BytesMut,
) {
    let mut reply = Reply::new(out, client.resp3);
    if is(argv.get(0), "exec") {
        discard_transaction(server, &mut client.tx);
        let reason = msg.strip_prefix("ERR ").unwrap_or(msg);
        reply.error(&format!(
            "EXECABORT Transaction discarded because of: {reason}"
        ));
        return;
    }
    if let Some(queued) = client.tx.queued.as_mut() {
        queued.refused = true;
    }
    reply.error(msg);
}

/// Leaves MULTI and forgets the WATCHed keys (DISCARD, RESET, an EXEC that
/// was refused).
pub fn discard_transaction(server: &Server, tx: &mut TxState) {
    tx.queued = None;
    release(server, tx, false);
}

/// Forgets the client's WATCHed keys. With `check`, first lets those that
/// expired expire (a change EXEC must see); returns whether any changed.
fn release(server: &Server, tx: &mut TxState, check: bool) -> bool {
    let Some(watched) = tx.watched.take() else {
        return false;
    };
    let mut keys = server.db.lock(watched.keys.iter(), clock::unix_ms());
    for key in &watched.keys {
        if check {
            keys.exists(key);
        }
        keys.unwatch(key, &watched.flag);
    }
    drop(keys);
    watched.flag.load(Relaxed)
}

fn multi(ctx: &mut Ctx, _argv: &Argv) -> CmdResult {
    if ctx.client.tx.in_multi() {
        return Err(CmdError::Static("ERR MULTI calls can not be nested"));
    }
    ctx.client.tx.queued = Some(Queued::default());
    ctx.out.ok();
    Ok(())
}

fn discard(ctx: &mut Ctx, _argv: &Argv) -> CmdResult {
    if !ctx.client.tx.in_multi() {
        return Err(CmdError::Static("ERR DISCARD without MULTI"));
    }
    discard_transaction(ctx.server, &mut ctx.client.tx);
    ctx.out.ok();
    Ok(())
}

fn watch(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    if ctx.client.tx.in_multi() {
        return Err(CmdError::Static("ERR WATCH inside MULTI is not allowed"));
    }
    let watched = ctx.client.tx.watched.get_or_insert_with(|| Watched {
        flag: WatchFlag::default(),
        keys: Vec::new(),
    });
    for key in argv.tail(1).iter() {
        if watched.keys.iter().any(|k| **k == *key) {
            continue;
        }
        ctx.keys.watch(key, &watched.flag);
        watched.keys.push(key.into());
    }
    ctx.out.ok();
    Ok(())
}

fn unwatch(ctx: &mut Ctx, _argv: &Argv) -> CmdResult {
    release(ctx.server, &mut ctx.client.tx, false);
    ctx.out.ok();
    Ok(())
}

/// Runs the queued commands, each reply an element of EXEC's array (errors
/// included); a nil array when a WATCHed key changed.
fn exec(ctx: &mut Ctx, _argv: &Argv) -> CmdResult {
    let Some(queued) = ctx.client.tx.queued.take() else {
        return Err(CmdError::Static("ERR EXEC without MULTI"));
    };
    // Cluster mode: the queued commands' keys together must be in one slot
    // served here, else the redirect, and the transaction is gone (as Redis
    // routes EXEC, before looking at anything else).
    if let Some(cluster) = &ctx.server.cluster {
        let keys = || queued_keys(&queued);
        let routed =
            crate::cluster::route_keys(ctx.server, cluster, ctx.client, keys, queued.writes());
        if routed.is_err() {
            release(ctx.server, &mut ctx.client.tx, false);
            return routed;
        }
    }
    // As Redis refuses EXEC itself when a queued command may use memory.
    let may_grow = queued
        .commands
        .iter()
        .any(|(cmd, _)| cmd.spec.flags.has(Flags::DENYOOM));
    if may_grow && out_of_memory(ctx.server) {
        release(ctx.server, &mut ctx.client.tx, false);
        return Err(CmdError::Static(
            "EXECABORT Transaction discarded because of: OOM command not allowed when used memory > 'maxmemory'.",
        ));
    }
    // Holding the slots of every key it names, WATCHed ones included, from
    // the WATCH check to the last reply makes the transaction atomic. Not
    // before eviction above: it may lock any slot.
    let _held = (!queued.reaches_beyond).then(|| {
        let watched = ctx.client.tx.watched.iter().flat_map(|w| w.keys.iter());
        ctx.server
            .db
            .hold(queued_keys(&queued).chain(watched.map(|k| &k[..])))
    });
    let changed = release(ctx.server, &mut ctx.client.tx, true);
    if queued.refused {
        return Err(CmdError::Static(
            "EXECABORT Transaction discarded because of previous errors.",
        ));
    }
    if changed {
        ctx.out.null_array();
        return Ok(());
    }
    ctx.out.array(queued.commands.len());
    let mut replies = BytesMut::new();
    let mut stats = BatchStats::default();
    for (cmd, args) in &queued.commands {
        let reply = Reply::new(&mut replies, ctx.client.resp3);
        call(
            ctx.server,
            ctx.client,
            reply,
            &args.argv(),
            *cmd,
            &mut stats,
            false,
        );
    }
    ctx.out.raw(&replies);
    ctx.server.stats.add(&mut stats);
    Ok(())
}
