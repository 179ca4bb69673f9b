//! Server commands: COMMAND, INFO, CONFIG, DBSIZE, FLUSHALL/FLUSHDB, TIME,
//! MEMORY, OBJECT, SLOWLOG, WAIT.

use std::sync::atomic::Ordering::Relaxed;

use slotcache_protocol::command::{
    lookup_sub, CommandRef, CommandSpec, CommandTable, Flags, KeySpec,
};
use slotcache_protocol::{lookup, Argv, Reply};

use super::{glob_match, help_reply, int_arg, is, resolve, CmdError, CmdResult, Ctx, SYNTAX};
use crate::config::{find_param, Policy, PARAMS};
use crate::db::{Entry, Value};
use crate::server::Server;
use crate::{clock, info};

pub const HANDLERS: &[(&str, super::Handler)] = &[
    ("command", command),
    ("command|count", command_count),
    ("command|info", command_info),
    ("command|docs", command_docs),
    ("command|list", command_list),
    ("command|getkeys", command_getkeys),
    ("command|help", command_help),
    ("info", info_cmd),
    ("config|get", config_get),
    ("config|set", config_set),
    ("config|resetstat", config_resetstat),
    ("config|rewrite", config_rewrite),
    ("config|help", config_help),
    ("dbsize", dbsize),
    ("flushall", flush),
    ("flushdb", flush),
    ("shutdown", shutdown),
    ("time", time),
    ("memory|usage", memory_usage),
    ("memory|help", memory_help),
    ("object|encoding", object_encoding),
    ("object|freq", object_freq),
    ("object|idletime", object_idletime),
    ("object|refcount", object_refcount),
    ("object|help", object_help),
    ("slowlog|get", slowlog_get),
    ("slowlog|len", slowlog_len),
    ("slowlog|reset", slowlog_reset),
    ("slowlog|help", slowlog_help),
    ("wait", wait),
];

// ---- COMMAND ---------------------------------------------------------------

/// Redis's ACL categories, in the order COMMAND INFO lists them (its
/// ACLCommandCategories table).
const ACL_CATEGORIES: [&str; 21] = [
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

/// Categories Redis's command tables name beyond what a command's group
/// gives, and whether they stand instead of the group's.
const EXPLICIT_CATEGORIES: &[(&str, &[&str], bool)] = &[
    ("flushall", &["keyspace", "dangerous"], false),
    ("flushdb", &["keyspace", "dangerous"], false),
    ("dbsize", &["keyspace"], false),
    ("info", &["dangerous"], false),
    ("keys", &["dangerous"], false),
    ("migrate", &["dangerous"], false),
    ("restore", &["dangerous"], false),
    ("restore-asking", &["dangerous"], false),
    ("asking", &["connection"], false),
    ("readonly", &["connection"], false),
    ("readwrite", &["connection"], false),
    ("command", &["connection"], false),
    ("wait", &["connection"], true),
];

/// ACL categories as Redis assigns them: implied by flags (@read not for
/// scripts), the command's data type or group (not for containers, whose
/// subcommands carry it), and the explicit ones above.
fn acl_categories(spec: &CommandSpec) -> Vec<String> {
    let f = spec.flags;
    let explicit = EXPLICIT_CATEGORIES
        .iter()
        .find(|(name, ..)| *name == spec.name);
    let mut cats = Vec::new();
    let mut add = |c: &'static str| cats.push(c);
    if f.has(Flags::WRITE) {
        add("write");
    }
    if f.has(Flags::READONLY) && spec.group != "scripting" {
        add("read");
    }
    if f.has(Flags::ADMIN) {
        add("admin");
        add("dangerous");
    }
    if f.has(Flags::PUBSUB) {
        add("pubsub");
    }
    if f.has(Flags::BLOCKING) {
        add("blocking");
    }
    add(if f.has(Flags::FAST) { "fast" } else { "slow" });
    let replaced = explicit.is_some_and(|(_, _, instead)| *instead);
    if spec.subcommands.is_empty() && !replaced {
        match spec.group {
            "generic" => add("keyspace"),
            "sorted-set" => add("sortedset"),
            "transactions" => add("transaction"),
            g @ ("string" | "hash" | "list" | "set" | "connection" | "scripting") => add(g),
            _ => {}
        }
    }
    for c in explicit.map_or(&[][..], |(_, cats, _)| cats) {
        add(c);
    }
    cats.sort_by_key(|c| ACL_CATEGORIES.iter().position(|known| known == c));
    cats.iter().map(|c| format!("@{c}")).collect()
}

fn write_command_info(ctx: &mut Ctx, spec: &CommandSpec) {
    let out = &mut ctx.out;
    out.array(10);
    out.bulk(spec.name.as_bytes());
    out.int(spec.arity as i64);
    let mut flags: Vec<&str> = spec.flags.names().collect();
    if spec.keys.movable() {
        flags.push("movablekeys");
    }
    out.set(flags.len());
    for f in flags {
        out.simple(f);
    }
    let (first, last, step) = spec.keys.legacy_triple();
    out.int(first);
    out.int(last);
    out.int(step);
    let cats = acl_categories(spec);
    out.set(cats.len());
    for c in &cats {
        out.simple(c);
    }
    out.set(0);
    write_key_specs(out, &spec.keys, spec.flags.has(Flags::WRITE));
    ctx.out.array(spec.subcommands.len());
    for sub in spec.subcommands {
        write_command_info(ctx, sub);
    }
}

/// One Redis 7 key specification: an index to begin the search at, then
/// a `find_keys` of `kind` with its numeric parameters.
fn write_key_spec(
    out: &mut slotcache_protocol::Reply,
    flag: &str,
    begin_index: usize,
    kind: &str,
    params: &[(&str, i64)],
) {
    out.map(3);
    out.bulk(b"flags");
    out.set(1);
    out.simple(flag);
    out.bulk(b"begin_search");
    out.map(2);
    out.bulk(b"type");
    out.bulk(b"index");
    out.bulk(b"spec");
    out.map(1);
    out.bulk(b"index");
    out.int(begin_index as i64);
    out.bulk(b"find_keys");
    out.map(2);
    out.bulk(b"type");
    out.bulk(kind.as_bytes());
    out.bulk(b"spec");
    out.map(params.len());
    for (name, value) in params {
        out.bulk(name.as_bytes());
        out.int(*value);
    }
}

/// Redis 7 key specifications, in the two forms the table knows.
fn write_key_specs(out: &mut slotcache_protocol::Reply, keys: &KeySpec, write: bool) {
    let access = if write { "RW" } else { "RO" };
    match *keys {
        KeySpec::None => out.array(0),
        KeySpec::Range { first, last, step } => {
            out.array(1);
            let lastkey = if last < 0 { last } else { last - first };
            let params = [
                ("lastkey", lastkey as i64),
                ("keystep", step as i64),
                ("limit", 0),
            ];
            write_key_spec(out, access, first as usize, "range", &params);
        }
        KeySpec::NumKeys { count_at, dest } => {
            out.array(1 + dest.is_some() as usize);
            if let Some(d) = dest {
                let params = [("lastkey", 0), ("keystep", 1), ("limit", 0)];
                write_key_spec(out, "OW", d, "range", &params);
            }
            let params = [("keynumidx", 0), ("firstkey", 1), ("keystep", 1)];
            write_key_spec(out, access, count_at, "keynum", &params);
        }
        KeySpec::AfterKeyword { at, .. } => {
            // MIGRATE's key argument; its KEYS form is found by
            // COMMAND GETKEYS (Redis marks this spec INCOMPLETE).
            out.array(1);
            let params = [("lastkey", 0), ("keystep", 1), ("limit", 0)];
            write_key_spec(out, access, at, "range", &params);
        }
    }
}

fn command(ctx: &mut Ctx, _argv: &Argv) -> CmdResult {
    let top = &CommandTable::get().top;
    ctx.out.array(top.len());
    for &cmd in top {
        write_command_info(ctx, cmd.spec);
    }
    Ok(())
}

fn command_count(ctx: &mut Ctx, _argv: &Argv) -> CmdResult {
    ctx.out.int(CommandTable::get().top.len() as i64);
    Ok(())
}

fn command_info(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    if argv.len() == 2 {
        return command(ctx, argv);
    }
    ctx.out.array(argv.len() - 2);
    for name in argv.tail(2).iter() {
        match find_any(name) {
            Some(cmd) => write_command_info(ctx, cmd.spec),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

/// A command by name, or a subcommand as `parent|sub`.
fn find_any(name: &[u8]) -> Option<CommandRef> {
    match name.iter().position(|&b| b == b'|') {
        Some(bar) => lookup_sub(lookup(&name[..bar])?.spec, &name[bar + 1..]),
        None => lookup(name),
    }
}

fn write_docs(ctx: &mut Ctx, spec: &CommandSpec) {
    let out = &mut ctx.out;
    out.map(3 + !spec.subcommands.is_empty() as usize);
    out.bulk(b"summary");
    out.bulk(spec.summary.as_bytes());
    out.bulk(b"since");
    out.bulk(spec.since.as_bytes());
    out.bulk(b"group");
    out.bulk(spec.group.as_bytes());
    if !spec.subcommands.is_empty() {
        ctx.out.bulk(b"subcommands");
        ctx.out.map(spec.subcommands.len());
        for sub in spec.subcommands {
            ctx.out.bulk(sub.name.as_bytes());
            write_docs(ctx, sub);
        }
    }
}

fn command_docs(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let specs: Vec<&CommandSpec> = if argv.len() == 2 {
        CommandTable::get().top.iter().map(|c| c.spec).collect()
    } else {
        argv.tail(2)
            .iter()
            .filter_map(find_any)
            .map(|c| c.spec)
            .collect()
    };
    ctx.out.map(specs.len());
    for spec in specs {
        ctx.out.bulk(spec.name.as_bytes());
        write_docs(ctx, spec);
    }
    Ok(())
}

fn command_list(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let table = CommandTable::get();
    let filter: Option<(Vec<u8>, Vec<u8>)> = match argv.len() {
        2 => None,
        5 if is(argv.get(2), "filterby") => {
            Some((argv.get(3).to_ascii_lowercase(), argv.get(4).to_vec()))
        }
        _ => return Err(SYNTAX),
    };
    let names: Vec<&str> = table
        .top
        .iter()
        .map(|c| c.spec)
        .filter(|s| match &filter {
            None => true,
            Some((kind, value)) if kind == b"pattern" => glob_match(value, s.name.as_bytes(), true),
            Some((kind, value)) if kind == b"aclcat" => acl_categories(s)
                .iter()
                .any(|c| c.as_bytes()[1..].eq_ignore_ascii_case(value)),
            Some((kind, _)) if kind == b"module" => false,
            Some(_) => true,
        })
        .map(|s| s.name)
        .collect();
    if let Some((kind, _)) = &filter {
        if !matches!(&kind[..], b"pattern" | b"aclcat" | b"module") {
            return Err(SYNTAX);
        }
    }
    ctx.out.array(names.len());
    for n in names {
        ctx.out.bulk(n.as_bytes());
    }
    Ok(())
}

fn command_getkeys(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let inner = argv.tail(2);
    let cmd = match resolve(&inner) {
        Ok(cmd) => cmd,
        Err(e) if e.message().starts_with("ERR unknown command") => {
            return Err(CmdError::Static("ERR Invalid command specified"))
        }
        Err(_) => {
            return Err(CmdError::Static(
                "ERR Invalid number of arguments specified for command",
            ))
        }
    };
    let positions: Vec<usize> = cmd.spec.keys.positions(&inner).collect();
    if positions.is_empty() {
        return Err(CmdError::Static("ERR The command has no key arguments"));
    }
    ctx.out.array(positions.len());
    for i in positions {
        ctx.out.bulk(inner.get(i));
    }
    Ok(())
}

fn command_help(ctx: &mut Ctx, _argv: &Argv) -> CmdResult {
    help_reply(
        ctx,
        "COMMAND",
        &[
            "(no subcommand)",
            "    Return details about all commands.",
            "COUNT",
            "    Return the total number of commands in this server.",
            "LIST [FILTERBY (MODULE <module-name>|ACLCAT <category>|PATTERN <pattern>)]",
            "    Return a list of all commands in this server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple commands.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple commands.",
            "GETKEYS <full-command>",
            "    Return the keys from a full command.",
        ],
    );
    Ok(())
}

// ---- INFO and CONFIG -------------------------------------------------------

fn info_cmd(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let sections: Vec<String> = argv
        .tail(1)
        .iter()
        .map(|s| String::from_utf8_lossy(s).to_ascii_lowercase())
        .collect();
    let text = info::render(ctx.server, &sections);
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

fn config_get(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let config = ctx.server.config.read().clone();
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut add = |name: &str, p: &crate::config::Param| {
        if !pairs.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
            pairs.push((name.to_string(), (p.get)(&config)));
        }
    };
    for pattern in argv.tail(2).iter() {
        // A plain name is looked up, and answered as it was typed (Redis).
        if !pattern.iter().any(|b| b"[*?".contains(b)) {
            let name = String::from_utf8_lossy(pattern);
            if let Some(p) = find_param(&name) {
                add(&name, p);
            }
            continue;
        }
        for p in PARAMS {
            for name in std::iter::once(&p.name).chain(p.aliases) {
                if glob_match(pattern, name.as_bytes(), true) {
                    add(name, p);
                }
            }
        }
    }
    ctx.out.map(pairs.len());
    for (name, value) in pairs {
        ctx.out.bulk(name.as_bytes());
        ctx.out.bulk(value.as_bytes());
    }
    Ok(())
}

fn config_set(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let args = argv.tail(2);
    if !args.len().is_multiple_of(2) {
        return Err(SYNTAX);
    }
    // All or nothing, as Redis 7 applies several pairs: every name is
    // checked before any value.
    let names: Vec<String> = (0..args.len())
        .step_by(2)
        .map(|i| String::from_utf8_lossy(args.get(i)).into_owned())
        .collect();
    let failed = |name: &str, why: &str| {
        CmdError::Owned(format!(
            "ERR CONFIG SET failed (possibly related to argument '{name}') - {why}"
        ))
    };
    let mut params = Vec::with_capacity(names.len());
    for name in &names {
        let param = find_param(name).ok_or_else(|| {
            CmdError::Owned(format!(
                "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
            ))
        })?;
        if !param.runtime {
            return Err(failed(name, "can't set immutable config"));
        }
        // By the name given, as Redis: an alias and its setting may both appear.
        if params
            .iter()
            .any(|seen: &&String| seen.eq_ignore_ascii_case(name))
        {
            return Err(failed(name, "duplicate parameter"));
        }
        params.push(name);
    }
    let mut next = ctx.server.config.read().clone();
    for (i, name) in names.iter().enumerate() {
        let value = String::from_utf8_lossy(args.get(2 * i + 1));
        next.set(name, &value)
            .map_err(|e| CmdError::Owned(format!("ERR {e}")))?;
    }
    *ctx.server.config.write() = next;
    ctx.server.settings_changed();
    ctx.out.ok();
    Ok(())
}

fn config_resetstat(ctx: &mut Ctx, _argv: &Argv) -> CmdResult {
    ctx.server.stats.reset();
    crate::stats::reset_command_and_error_stats();
    ctx.server.db.expired_keys.store(0, Relaxed);
    ctx.server.db.evicted_keys.store(0, Relaxed);
    ctx.server.slowlog.lock().entries.clear();
    ctx.out.ok();
    Ok(())
}

fn config_rewrite(ctx: &mut Ctx, _argv: &Argv) -> CmdResult {
    let config = ctx.server.config.read().clone();
    if config.config_file.is_empty() {
        return Err(CmdError::Static(
            "ERR The server is running without a config file",
        ));
    }
    let mut text = String::from("# Written by CONFIG REWRITE\n");
    for p in PARAMS.iter().filter(|p| p.name != "config-file") {
        text.push_str(&format!("{} \"{}\"\n", p.name, (p.get)(&config)));
    }
    let tmp = format!("{}.tmp", config.config_file);
    std::fs::write(&tmp, text)
        .and_then(|_| std::fs::rename(&tmp, &config.config_file))
        .map_err(|e| CmdError::Owned(format!("ERR Rewriting config file: {e}")))?;
    ctx.out.ok();
    Ok(())
}

fn config_help(ctx: &mut Ctx, _argv: &Argv) -> CmdResult {
    help_reply(
        ctx,
        "CONFIG",
        &[
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
        ],
    );
    Ok(())
}

// ---- keyspace-wide ----------------------------------------------------------

fn dbsize(ctx: &mut Ctx, _argv: &Argv) -> CmdResult {
    ctx.out.int(ctx.server.db.key_count().0 as i64);
    Ok(())
}

fn flush(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    match argv.len() {
        1 => {}
        2 if is(argv.get(1), "async") || is(argv.get(1), "sync") => {}
        _ => return Err(SYNTAX),
    }
    // Values are freed on a background thread either way.
    ctx.server.db.flush();
    ctx.out.ok();
    Ok(())
}

/// SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] | ABORT. slotcache keeps no
/// snapshot, so NOSAVE is what it does anyway and SAVE is refused rather
/// than ignored; the cluster config is already written (on every change).
/// As in Redis, success has no reply: the connection closes with the node.
fn shutdown(_ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    if argv.len() == 2 && is(argv.get(1), "abort") {
        return Err(CmdError::Static("ERR No shutdown in progress."));
    }
    let (mut save, mut nosave) = (false, false);
    for i in 1..argv.len() {
        let arg = argv.get(i);
        if is(arg, "save") {
            save = true;
        } else if is(arg, "nosave") {
            nosave = true;
        } else if !is(arg, "now") && !is(arg, "force") {
            return Err(SYNTAX);
        }
    }
    if save && nosave {
        return Err(SYNTAX);
    }
    if save {
        tracing::warn!("SHUTDOWN SAVE refused: slotcache keeps no snapshot to save");
        return Err(CmdError::Static(
            "ERR Errors trying to SHUTDOWN. Check logs.",
        ));
    }
    tracing::warn!("User requested shutdown...");
    std::process::exit(0)
}

fn time(ctx: &mut Ctx, _argv: &Argv) -> CmdResult {
    let us = clock::unix_us();
    ctx.out.array(2);
    ctx.out.bulk_int((us / 1_000_000) as i64);
    ctx.out.bulk_int((us % 1_000_000) as i64);
    Ok(())
}

fn memory_usage(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    match argv.len() {
        3 => {}
        5 if is(argv.get(3), "samples") => {
            int_arg(argv.get(4))?;
        }
        _ => return Err(SYNTAX),
    }
    match ctx.keys.peek(argv.get(2)) {
        Some(entry) => ctx.out.int(entry.memory_usage() as i64),
        None => ctx.out.null(),
    }
    Ok(())
}

fn memory_help(ctx: &mut Ctx, _argv: &Argv) -> CmdResult {
    help_reply(
        ctx,
        "MEMORY",
        &[
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value.",
        ],
    );
    Ok(())
}

/// OBJECT's key subcommands: a missing key answers nil before anything
/// else is looked at (the policy, for FREQ and IDLETIME), as in Redis.
fn object_key(
    ctx: &mut Ctx,
    argv: &Argv,
    reply: impl FnOnce(&Server, &Entry, &mut Reply) -> CmdResult,
) -> CmdResult {
    let Some(entry) = ctx.keys.peek(argv.get(2)) else {
        ctx.out.null();
        return Ok(());
    };
    reply(ctx.server, entry, &mut ctx.out)
}

fn object_encoding(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    object_key(ctx, argv, |_, entry, out| {
        let encoding = match (entry.value(), entry.object()) {
            (Value::Str(s), None) if s.len() <= 20 && super::parse_i64(s).is_some() => "int",
            (Value::Str(s), None) if s.len() <= 44 => "embstr",
            (Value::Str(_), _) => "raw",
            (Value::Obj(o), _) => o.encoding(),
        };
        out.bulk(encoding.as_bytes());
        Ok(())
    })
}

fn object_freq(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    object_key(ctx, argv, |server, entry, out| {
        let access = &server.db.access;
        if !access.is_lfu() {
            return Err(CmdError::Static("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."));
        }
        out.int(access.decayed_counter(entry.access()) as i64);
        Ok(())
    })
}

fn object_idletime(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    object_key(ctx, argv, |server, entry, out| {
        let access = &server.db.access;
        if access.is_lfu() {
            return Err(CmdError::Static("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."));
        }
        out.int(access.idle_secs(entry.access()) as i64);
        Ok(())
    })
}

/// Redis keeps one shared object per integer below 10000 for every key
/// holding it, unless access times must be kept per key (a memory limit
/// under an LRU or LFU policy); a shared object reports INT_MAX references.
fn object_refcount(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    object_key(ctx, argv, |server, entry, out| {
        let small_integer = match (entry.value(), entry.object()) {
            (Value::Str(s), None) if s.len() <= 4 => super::parse_i64(s).is_some_and(|n| n >= 0),
            _ => false,
        };
        let policy = server.config.read().maxmemory_policy;
        let per_key_access = server.hot.maxmemory.load(Relaxed) > 0
            && (policy.is_lfu() || matches!(policy, Policy::AllKeysLru | Policy::VolatileLru));
        out.int(if small_integer && !per_key_access {
            i32::MAX as i64
        } else {
            1
        });
        Ok(())
    })
}

fn object_help(ctx: &mut Ctx, _argv: &Argv) -> CmdResult {
    help_reply(
        ctx,
        "OBJECT",
        &[
            "ENCODING <key>", "    Return the kind of internal representation used in order to store the value associated with a <key>.",
            "FREQ <key>", "    Return the access frequency index of the <key>. The returned integer is proportional to the logarithm of the recent access frequency of the key.",
            "IDLETIME <key>", "    Return the idle time of the <key>, that is the approximated number of seconds elapsed since the last access to the key.",
            "REFCOUNT <key>", "    Return the number of references of the value associated with the specified <key>.",
        ],
    );
    Ok(())
}

// ---- SLOWLOG and WAIT ----------------------------------------------------------

fn slowlog_get(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let count = match argv.len() {
        2 => 10,
        3 => {
            let n = int_arg(argv.get(2))
                .map_err(|_| CmdError::Static("ERR count should be greater than or equal to -1"))?;
            if n < -1 {
                return Err(CmdError::Static(
                    "ERR count should be greater than or equal to -1",
                ));
            }
            if n == -1 {
                usize::MAX
            } else {
                n as usize
            }
        }
        _ => return Err(SYNTAX),
    };
    let log = ctx.server.slowlog.lock();
    let entries: Vec<_> = log.entries.iter().take(count).collect();
    ctx.out.array(entries.len());
    for e in entries {
        ctx.out.array(6);
        ctx.out.int(e.id as i64);
        ctx.out.int(e.unix_secs as i64);
        ctx.out.int(e.micros as i64);
        ctx.out.array(e.args.len());
        for a in &e.args {
            ctx.out.bulk(a);
        }
        ctx.out.bulk(e.peer.as_bytes());
        ctx.out.bulk(e.name.as_bytes());
    }
    Ok(())
}

fn slowlog_len(ctx: &mut Ctx, _argv: &Argv) -> CmdResult {
    let len = ctx.server.slowlog.lock().entries.len();
    ctx.out.int(len as i64);
    Ok(())
}

fn slowlog_reset(ctx: &mut Ctx, _argv: &Argv) -> CmdResult {
    ctx.server.slowlog.lock().entries.clear();
    ctx.out.ok();
    Ok(())
}

fn slowlog_help(ctx: &mut Ctx, _argv: &Argv) -> CmdResult {
    help_reply(
        ctx,
        "SLOWLOG",
        &[
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
        ],
    );
    Ok(())
}

/// WAIT numreplicas timeout-ms. No replica acknowledges writes yet, so
/// as Redis with none: 0 at once when none are wanted (or the client may
/// not block: MULTI), else blocked until the timeout (0: for ever), then 0.
fn wait(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let wanted = int_arg(argv.get(1))?;
    let timeout = int_arg(argv.get(2))
        .map_err(|_| CmdError::Static("ERR timeout is not an integer or out of range"))?;
    if timeout < 0 {
        return Err(CmdError::Static("ERR timeout is negative"));
    }
    let acknowledged = 0;
    if wanted <= acknowledged || !ctx.may_block {
        ctx.out.int(acknowledged);
        return Ok(());
    }
    let timeout = (timeout > 0).then(|| std::time::Duration::from_millis(timeout as u64));
    crate::blocking::block(ctx, argv, [], None, timeout);
    Ok(())
}
