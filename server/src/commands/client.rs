//! CLIENT subcommands.

use std::sync::atomic::Ordering::Relaxed;

use slotcache_protocol::command::CommandTable;
use slotcache_protocol::Argv;

use super::{int_arg, is, CmdError, CmdResult, Ctx, SYNTAX};
use crate::client::ClientHandle;
use crate::clock;

pub const HANDLERS: &[(&str, super::Handler)] = &[
    ("client|id", id),
    ("client|setname", setname),
    ("client|getname", getname),
    ("client|list", list),
    ("client|info", info),
    ("client|kill", kill),
    ("client|setinfo", setinfo),
    ("client|help", help),
];

fn id(ctx: &mut Ctx, _argv: &Argv) -> CmdResult {
    ctx.out.int(ctx.client.id() as i64);
    Ok(())
}

/// Names may not contain spaces or control characters (they would break
/// the CLIENT LIST format).
fn check_name(name: &[u8]) -> bool {
    name.iter().all(|&c| (b'!'..=b'~').contains(&c))
}

pub fn set_name(ctx: &mut Ctx, name: &[u8]) -> CmdResult {
    if !check_name(name) {
        return Err(CmdError::Static(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    *ctx.client.handle.name.lock() = String::from_utf8_lossy(name).into_owned();
    Ok(())
}

fn setname(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    set_name(ctx, argv.get(2))?;
    ctx.out.ok();
    Ok(())
}

fn getname(ctx: &mut Ctx, _argv: &Argv) -> CmdResult {
    let name = ctx.client.handle.name.lock().clone();
    if name.is_empty() {
        ctx.out.null();
    } else {
        ctx.out.bulk(name.as_bytes());
    }
    Ok(())
}

fn setinfo(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let value = argv.get(3);
    if !check_name(value) && !value.is_empty() {
        return Err(CmdError::Static(
            "ERR lib-name and lib-ver cannot contain spaces, newlines or special characters.",
        ));
    }
    let value = String::from_utf8_lossy(value).into_owned();
    let attr = argv.get(2);
    if is(attr, "lib-name") {
        *ctx.client.handle.lib_name.lock() = value;
    } else if is(attr, "lib-ver") {
        *ctx.client.handle.lib_ver.lock() = value;
    } else {
        return Err(CmdError::Owned(format!(
            "ERR Unrecognized option '{}'",
            super::printable(attr, 64)
        )));
    }
    ctx.out.ok();
    Ok(())
}

/// One CLIENT LIST line, with Redis 7's fields. `running` is the command
/// the client runs now (its own CLIENT LIST/INFO), which Redis shows as
/// `cmd=` although it has not finished yet.
fn describe(h: &ClientHandle, running: Option<usize>) -> String {
    let now = clock::unix_ms();
    let last_cmd = running.unwrap_or_else(|| h.last_command.load(Relaxed));
    let table = CommandTable::get();
    let cmd = if last_cmd < table.all.len() {
        table.all[last_cmd].name
    } else {
        "NULL"
    };
    let qbuf = h.query_buffer.load(Relaxed);
    let omem = h.output_buffer.load(Relaxed);
    let state = *h.state.lock();
    format!(
        "id={} addr={} laddr={} fd=-1 name={} age={} idle={} flags={} db=0 sub={} psub={} ssub={} multi={} qbuf={qbuf} qbuf-free=0 argv-mem=0 multi-mem=0 rbs=16384 rbp=0 obl=0 oll=0 omem={omem} tot-mem={} events=r cmd={cmd} user=default redir=-1 resp={} lib-name={} lib-ver={}\n",
        h.id,
        h.addr,
        h.local_addr,
        h.name.lock(),
        now.saturating_sub(h.created_ms) / 1000,
        now.saturating_sub(h.last_active_ms.load(Relaxed)) / 1000,
        state.flags(),
        state.subscriptions,
        state.patterns,
        state.shard_subscriptions,
        state.queued.map_or(-1, |n| n as i64),
        qbuf + omem + 16384,
        h.resp.load(Relaxed),
        h.lib_name.lock(),
        h.lib_ver.lock(),
    )
}

/// A client class as CLIENT LIST/KILL TYPE take it: whether it is the
/// pubsub class (Some(true)) or normal (Some(false)); None for the
/// replication classes, which no connection is yet.
fn client_type(kind: &[u8]) -> Result<Option<bool>, CmdError> {
    if is(kind, "normal") || is(kind, "pubsub") {
        return Ok(Some(is(kind, "pubsub")));
    }
    if ["master", "replica", "slave"].iter().any(|k| is(kind, k)) {
        return Ok(None);
    }
    Err(CmdError::Owned(format!(
        "ERR Unknown client type '{}'",
        super::printable(kind, 64)
    )))
}

/// Whether a client is of the class `client_type` gave.
fn of_type(h: &ClientHandle, pubsub: Option<bool>) -> bool {
    pubsub.is_some_and(|p| h.state.lock().pubsub() == p)
}

fn list(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let mut ids: Option<Vec<u64>> = None;
    let mut class = None;
    let mut i = 2;
    while i < argv.len() {
        if is(argv.get(i), "type") && i + 1 < argv.len() {
            class = Some(client_type(argv.get(i + 1))?);
            i += 2;
        } else if is(argv.get(i), "id") && i + 1 < argv.len() {
            let mut list = Vec::new();
            for arg in argv.tail(i + 1).iter() {
                let id = int_arg(arg)
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or(CmdError::Static("ERR Invalid client ID"))?;
                list.push(id as u64);
            }
            ids = Some(list);
            i = argv.len();
        } else {
            return Err(SYNTAX);
        }
    }
    let mut handles: Vec<_> = ctx
        .server
        .clients
        .iter()
        .map(|e| e.value().clone())
        .collect();
    handles.sort_by_key(|h| h.id);
    // This client's own state as of now, not of its last batch.
    ctx.client.publish_state();
    let me = ctx.client.id();
    let text: String = handles
        .iter()
        .filter(|h| ids.as_ref().is_none_or(|ids| ids.contains(&h.id)))
        .filter(|h| class.is_none_or(|c| of_type(h, c)))
        .map(|h| describe(h, (h.id == me).then_some(ctx.cmd.id)))
        .collect();
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

fn info(ctx: &mut Ctx, _argv: &Argv) -> CmdResult {
    ctx.client.publish_state();
    ctx.out
        .verbatim(describe(&ctx.client.handle, Some(ctx.cmd.id)).as_bytes());
    Ok(())
}

fn kill(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    // Old form: CLIENT KILL ip:port.
    if argv.len() == 3 {
        let addr = String::from_utf8_lossy(argv.get(2)).into_owned();
        let target = ctx
            .server
            .clients
            .iter()
            .find(|e| e.value().addr.to_string() == addr)
            .map(|e| e.value().clone());
        let Some(target) = target else {
            return Err(CmdError::Static("ERR No such client"));
        };
        target.kill();
        ctx.out.ok();
        return Ok(());
    }
    let mut id = None;
    let mut addr = None;
    let mut laddr = None;
    let mut max_age = None;
    let mut class = None;
    let mut skip_me = true;
    let mut pairs = argv.tail(2).iter();
    while let Some(name) = pairs.next() {
        let Some(value) = pairs.next() else {
            return Err(SYNTAX);
        };
        let text = String::from_utf8_lossy(value).into_owned();
        if is(name, "id") {
            id = Some(
                int_arg(value)
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or(CmdError::Static("ERR client-id should be greater than 0"))?
                    as u64,
            );
        } else if is(name, "addr") {
            addr = Some(text);
        } else if is(name, "laddr") {
            laddr = Some(text);
        } else if is(name, "skipme") {
            skip_me = match text.to_ascii_lowercase().as_str() {
                "yes" => true,
                "no" => false,
                _ => return Err(SYNTAX),
            };
        } else if is(name, "type") {
            class = Some(client_type(value)?);
        } else if is(name, "user") {
            // `default` is the only user.
            if value != b"default" {
                return Err(CmdError::Owned(format!(
                    "ERR No such user '{}'",
                    super::printable(value, 64)
                )));
            }
        } else if is(name, "maxage") {
            // Redis 7.4: kills clients older than this many seconds; 0 is no filter.
            max_age = Some(int_arg(value)?.max(0) as u64).filter(|&secs| secs > 0);
        } else {
            return Err(SYNTAX);
        }
    }
    let me = ctx.client.id();
    let now = clock::unix_ms();
    let mut killed = 0;
    for entry in ctx.server.clients.iter() {
        let h = entry.value();
        let matches = id.is_none_or(|id| id == h.id)
            && max_age.is_none_or(|secs| now.saturating_sub(h.created_ms) / 1000 > secs)
            && addr.as_ref().is_none_or(|a| *a == h.addr.to_string())
            && laddr
                .as_ref()
                .is_none_or(|a| *a == h.local_addr.to_string())
            && class.is_none_or(|c| of_type(h, c))
            && !(skip_me && h.id == me);
        if matches {
            if h.id == me {
                ctx.client.close_after_reply = true;
            } else {
                h.kill();
            }
            killed += 1;
        }
    }
    ctx.out.int(killed);
    Ok(())
}

fn help(ctx: &mut Ctx, _argv: &Argv) -> CmdResult {
    super::help_reply(
        ctx,
        "CLIENT",
        &[
            "ID",
            "    Return the ID of the current connection.",
            "GETNAME",
            "    Return the name of the current connection.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "SETINFO <option> <value>",
            "    Set client meta attr (LIB-NAME, LIB-VER).",
            "LIST [TYPE <normal|master|replica|pubsub>] [ID <id> [<id> ...]]",
            "    Return information about client connections.",
            "INFO",
            "    Return information about the current client connection.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are: ID, ADDR, LADDR, TYPE, USER, SKIPME.",
        ],
    );
    Ok(())
}
