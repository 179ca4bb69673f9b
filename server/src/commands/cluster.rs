//! CLUSTER and its subcommands, ASKING, READONLY, READWRITE.

use std::sync::Arc;

use slotcache_cluster::{flags, key_slot, Cluster, FailoverMode, Node, SetSlot, State, SLOT_COUNT};
use slotcache_protocol::Argv;

use super::{help_reply, int_arg, is, CmdError, CmdResult, Ctx, SYNTAX};

pub const HANDLERS: &[(&str, super::Handler)] = &[
    ("cluster|info", info),
    ("cluster|myid", myid),
    ("cluster|nodes", nodes),
    ("cluster|slots", slots),
    ("cluster|shards", shards),
    ("cluster|keyslot", keyslot),
    ("cluster|countkeysinslot", countkeysinslot),
    ("cluster|getkeysinslot", getkeysinslot),
    ("cluster|meet", meet),
    ("cluster|forget", forget),
    ("cluster|addslots", addslots),
    ("cluster|addslotsrange", addslotsrange),
    ("cluster|delslots", delslots),
    ("cluster|delslotsrange", delslotsrange),
    ("cluster|setslot", setslot),
    ("cluster|replicate", replicate),
    ("cluster|replicas", replicas),
    ("cluster|slaves", replicas),
    ("cluster|failover", failover),
    ("cluster|reset", reset),
    ("cluster|set-config-epoch", set_config_epoch),
    ("cluster|bumpepoch", bumpepoch),
    ("cluster|count-failure-reports", count_failure_reports),
    ("cluster|saveconfig", saveconfig),
    ("cluster|help", help),
    ("asking", asking),
    ("readonly", readonly),
    ("readwrite", readwrite),
];

const DISABLED: CmdError = CmdError::Static("ERR This instance has cluster support disabled");

fn cluster(ctx: &Ctx) -> Result<Arc<Cluster>, CmdError> {
    ctx.server.cluster.clone().ok_or(DISABLED)
}

fn slot_arg(arg: &[u8]) -> Result<u16, CmdError> {
    match int_arg(arg) {
        Ok(s) if (0..SLOT_COUNT as i64).contains(&s) => Ok(s as u16),
        _ => Err(CmdError::Static("ERR Invalid or out of range slot")),
    }
}

fn keys_in_slot(ctx: &Ctx, slot: u16) -> usize {
    ctx.server.db.lock_slot(slot as usize).len()
}

fn key_count(ctx: &Ctx) -> usize {
    ctx.server.db.key_count().0
}

/// Runs an admin change on the state and answers +OK or its error.
fn change(ctx: &mut Ctx, f: impl FnOnce(&mut State, u64) -> Result<(), String>) -> CmdResult {
    cluster(ctx)?.with_state(f)?;
    ctx.out.ok();
    Ok(())
}

fn info(ctx: &mut Ctx, _argv: &Argv) -> CmdResult {
    let text = cluster(ctx)?.read(|s, _| s.info_text());
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

fn myid(ctx: &mut Ctx, _argv: &Argv) -> CmdResult {
    let id = cluster(ctx)?.read(|s, _| s.myself);
    ctx.out.bulk(&id.0);
    Ok(())
}

fn nodes(ctx: &mut Ctx, _argv: &Argv) -> CmdResult {
    let text = cluster(ctx)?.read(|s, _| s.nodes_text());
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

/// Replicas shown to clients: not failing, in id order.
fn live_replicas<'a>(s: &'a State, primary: &Node) -> Vec<&'a Node> {
    s.replicas_of(&primary.id.0)
        .unwrap_or_default()
        .into_iter()
        .filter(|n| !n.has(flags::FAIL))
        .collect()
}

fn slots(ctx: &mut Ctx, _argv: &Argv) -> CmdResult {
    let ranges = cluster(ctx)?.read(|s, _| owner_ranges(s));
    let out = &mut ctx.out;
    out.array(ranges.len());
    for (start, end, primary, replicas) in &ranges {
        out.array(3 + replicas.len());
        out.int(*start as i64);
        out.int(*end as i64);
        for n in std::iter::once(primary).chain(replicas) {
            out.array(4);
            out.bulk(n.ip.as_bytes());
            out.int(n.port as i64);
            out.bulk(&n.id.0);
            out.map(0);
        }
    }
    Ok(())
}

/// CLUSTER SLOTS's content: (start, end, primary, live replicas) per
/// contiguous range, copied out so the reply is written without holding
/// the cluster lock.
fn owner_ranges(s: &State) -> Vec<(u16, u16, Node, Vec<Node>)> {
    let mut ranges = Vec::new();
    let mut slot = 0;
    while slot < SLOT_COUNT {
        let Some(owner) = s.owner[slot] else {
            slot += 1;
            continue;
        };
        let start = slot;
        while slot + 1 < SLOT_COUNT && s.owner[slot + 1] == Some(owner) {
            slot += 1;
        }
        let primary = &s.nodes[&owner];
        let replicas = live_replicas(s, primary).into_iter().cloned().collect();
        ranges.push((start as u16, slot as u16, primary.clone(), replicas));
        slot += 1;
    }
    ranges
}

/// CLUSTER SHARDS's content: every primary with its replicas, in slot order.
fn shard_list(s: &State) -> Vec<(Node, Vec<Node>)> {
    let mut primaries: Vec<&Node> = s.nodes.values().filter(|n| n.is_master()).collect();
    primaries.sort_by_key(|n| (n.slots.iter().next().unwrap_or(u16::MAX), n.id));
    primaries
        .into_iter()
        .map(|p| {
            let replicas = s.replicas_of(&p.id.0).unwrap_or_default();
            (p.clone(), replicas.into_iter().cloned().collect())
        })
        .collect()
}

fn shards(ctx: &mut Ctx, _argv: &Argv) -> CmdResult {
    let shards = cluster(ctx)?.read(|s, _| shard_list(s));
    let out = &mut ctx.out;
    out.array(shards.len());
    for (primary, replicas) in &shards {
        out.map(3);
        out.bulk(b"slots");
        let ranges = primary.slots.ranges();
        out.array(ranges.len() * 2);
        for (a, b) in ranges {
            out.int(a as i64);
            out.int(b as i64);
        }
        out.bulk(b"nodes");
        out.array(1 + replicas.len());
        for n in std::iter::once(primary).chain(replicas) {
            let replica = n.has(flags::SLAVE);
            let health = if n.has(flags::FAIL) {
                "fail"
            } else if replica {
                // No replication stream yet: a replica holds no data.
                "loading"
            } else {
                "online"
            };
            out.map(9);
            out.bulk(b"id");
            out.bulk(&n.id.0);
            out.bulk(b"port");
            out.int(n.port as i64);
            out.bulk(b"ip");
            out.bulk(n.ip.as_bytes());
            out.bulk(b"endpoint");
            out.bulk(n.ip.as_bytes());
            out.bulk(b"role");
            out.bulk(crate::cluster::role_name(replica).as_bytes());
            out.bulk(b"replication-offset");
            out.int(0);
            out.bulk(b"health");
            out.bulk(health.as_bytes());
            out.bulk(b"region");
            out.bulk(n.region.as_bytes());
            out.bulk(b"availability-zone");
            out.bulk(n.zone.as_bytes());
        }
        out.bulk(b"id");
        out.bulk(&primary.id.0);
    }
    Ok(())
}

fn keyslot(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    cluster(ctx)?;
    ctx.out.int(key_slot(argv.get(2)) as i64);
    Ok(())
}

fn countkeysinslot(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    cluster(ctx)?;
    let slot = int_arg(argv.get(2))?;
    if !(0..SLOT_COUNT as i64).contains(&slot) {
        return Err(CmdError::Static("ERR Invalid slot"));
    }
    let n = keys_in_slot(ctx, slot as u16);
    ctx.out.int(n as i64);
    Ok(())
}

fn getkeysinslot(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    cluster(ctx)?;
    let slot = int_arg(argv.get(2))?;
    let max = int_arg(argv.get(3))?;
    if !(0..SLOT_COUNT as i64).contains(&slot) || max < 0 {
        return Err(CmdError::Static("ERR Invalid slot or number of keys"));
    }
    let guard = ctx.server.db.lock_slot(slot as usize);
    let n = guard.len().min(max as usize);
    ctx.out.array(n);
    for e in guard.iter().take(n) {
        ctx.out.bulk(e.key());
    }
    Ok(())
}

fn meet(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let cluster = cluster(ctx)?;
    if argv.len() > 5 {
        return Err(SYNTAX);
    }
    let ip = std::str::from_utf8(argv.get(2)).unwrap_or("");
    let port = int_arg(argv.get(3))
        .ok()
        .and_then(|p| u16::try_from(p).ok())
        .ok_or_else(|| {
            CmdError::Owned(format!(
                "ERR Invalid base port specified: {}",
                super::printable(argv.get(3), 64)
            ))
        })?;
    let cport = if argv.len() == 5 {
        int_arg(argv.get(4))
            .ok()
            .and_then(|p| u16::try_from(p).ok())
            .ok_or_else(|| {
                CmdError::Owned(format!(
                    "ERR Invalid bus port specified: {}",
                    super::printable(argv.get(4), 64)
                ))
            })?
    } else {
        port.wrapping_add(10000)
    };
    cluster.meet(ip, port, cport)?;
    ctx.out.ok();
    Ok(())
}

fn forget(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let id = argv.get(2).to_vec();
    change(ctx, |s, now| s.forget(&id, now))
}

fn slot_list(argv: &Argv) -> Result<Vec<u16>, CmdError> {
    argv.iter().skip(2).map(slot_arg).collect()
}

fn slot_ranges(argv: &Argv) -> Result<Vec<u16>, CmdError> {
    if !argv.len().is_multiple_of(2) {
        return Err(CmdError::Owned(format!(
            "ERR wrong number of arguments for 'cluster|{}' command",
            String::from_utf8_lossy(argv.get(1)).to_ascii_lowercase()
        )));
    }
    let mut slots = Vec::new();
    let args: Vec<&[u8]> = argv.iter().skip(2).collect();
    for pair in args.chunks(2) {
        let (a, b) = (slot_arg(pair[0])?, slot_arg(pair[1])?);
        if a > b {
            return Err(CmdError::Owned(format!(
                "ERR start slot number {a} is greater than end slot number {b}"
            )));
        }
        slots.extend(a..=b);
    }
    Ok(slots)
}

fn addslots(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let slots = slot_list(argv)?;
    change(ctx, |s, _| s.add_del_slots(&slots, false))
}

fn addslotsrange(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let slots = slot_ranges(argv)?;
    change(ctx, |s, _| s.add_del_slots(&slots, false))
}

fn delslots(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let slots = slot_list(argv)?;
    change(ctx, |s, _| s.add_del_slots(&slots, true))
}

fn delslotsrange(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let slots = slot_ranges(argv)?;
    change(ctx, |s, _| s.add_del_slots(&slots, true))
}

fn setslot(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let slot = slot_arg(argv.get(2))?;
    let node = || {
        if argv.len() == 5 {
            Ok(argv.get(4).to_vec())
        } else {
            Err(CmdError::Static(
                "ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP",
            ))
        }
    };
    let action = match argv.get(3) {
        a if is(a, "migrating") => SetSlot::Migrating(node()?),
        a if is(a, "importing") => SetSlot::Importing(node()?),
        a if is(a, "node") => SetSlot::Node(node()?),
        a if is(a, "stable") && argv.len() == 4 => SetSlot::Stable,
        _ => {
            return Err(CmdError::Static(
                "ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP",
            ))
        }
    };
    let keys = keys_in_slot(ctx, slot);
    change(ctx, |s, _| s.set_slot(slot, action, keys))
}

fn replicate(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let id = argv.get(2).to_vec();
    let keys = key_count(ctx);
    change(ctx, |s, _| s.replicate(&id, keys))
}

fn replicas(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let lines = cluster(ctx)?.read(|s, _| {
        s.replicas_of(argv.get(2))
            .map(|rs| rs.iter().map(|n| s.node_line(n, false)).collect::<Vec<_>>())
    })?;
    ctx.out.array(lines.len());
    for l in lines {
        ctx.out.bulk(l.as_bytes());
    }
    Ok(())
}

fn failover(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let mode = match argv.len() {
        2 => FailoverMode::Default,
        3 if is(argv.get(2), "force") => FailoverMode::Force,
        3 if is(argv.get(2), "takeover") => FailoverMode::Takeover,
        _ => return Err(SYNTAX),
    };
    change(ctx, |s, now| s.manual_failover(mode, now))
}

fn reset(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let hard = match argv.len() {
        2 => false,
        3 if is(argv.get(2), "hard") => true,
        3 if is(argv.get(2), "soft") => false,
        _ => return Err(SYNTAX),
    };
    let keys = key_count(ctx);
    change(ctx, |s, _| s.reset(hard, keys))
}

fn set_config_epoch(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let epoch = int_arg(argv.get(2))?;
    change(ctx, |s, _| s.set_config_epoch(epoch))
}

fn bumpepoch(ctx: &mut Ctx, _argv: &Argv) -> CmdResult {
    let (bumped, epoch) = cluster(ctx)?.with_state(|s, _| s.bump_epoch());
    let word = if bumped { "BUMPED" } else { "STILL" };
    ctx.out.simple(&format!("{word} {epoch}"));
    Ok(())
}

fn count_failure_reports(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let n = cluster(ctx)?.read(|s, now| s.count_failure_reports(argv.get(2), now))?;
    ctx.out.int(n as i64);
    Ok(())
}

fn saveconfig(ctx: &mut Ctx, _argv: &Argv) -> CmdResult {
    change(ctx, |s, _| {
        s.dirty_conf = true;
        Ok(())
    })
}

fn help(ctx: &mut Ctx, _argv: &Argv) -> CmdResult {
    help_reply(
        ctx,
        "CLUSTER",
        &[
            "ADDSLOTS <slot> [<slot> ...]",
            "    Assign slots to current node.",
            "ADDSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
            "    Assign slots which are between <start-slot> and <end-slot> to current node.",
            "BUMPEPOCH",
            "    Advance the cluster config epoch.",
            "COUNT-FAILURE-REPORTS <node-id>",
            "    Return number of failure reports for <node-id>.",
            "COUNTKEYSINSLOT <slot>",
            "    Return the number of keys in <slot>.",
            "DELSLOTS <slot> [<slot> ...]",
            "    Delete slots information from current node.",
            "DELSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
            "    Delete slots information which are between <start-slot> and <end-slot> from current node.",
            "FAILOVER [FORCE|TAKEOVER]",
            "    Promote current replica node to being a master.",
            "FORGET <node-id>",
            "    Remove a node from the cluster.",
            "GETKEYSINSLOT <slot> <count>",
            "    Return key names stored by current node in a slot.",
            "INFO",
            "    Return information about the cluster.",
            "KEYSLOT <key>",
            "    Return the hash slot for <key>.",
            "MEET <ip> <port> [<bus-port>]",
            "    Connect nodes into a working cluster.",
            "MYID",
            "    Return the node id.",
            "NODES",
            "    Return cluster configuration seen by node. Output format:",
            "    <id> <ip:port@bus-port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
            "REPLICATE <node-id>",
            "    Configure current node as replica to <node-id>.",
            "RESET [HARD|SOFT]",
            "    Reset current node (default: soft).",
            "SET-CONFIG-EPOCH <epoch>",
            "    Set config epoch of current node.",
            "SETSLOT <slot> (IMPORTING <node-id>|MIGRATING <node-id>|STABLE|NODE <node-id>)",
            "    Set slot state.",
            "REPLICAS <node-id>",
            "    Return <node-id> replicas.",
            "SAVECONFIG",
            "    Force saving cluster configuration on disk.",
            "SHARDS",
            "    Return information about slot range mappings and the nodes associated with them.",
            "SLOTS",
            "    Return information about slots range mappings. Each range is made of:",
            "    start, end, master and replicas IP addresses, ports and ids",
        ],
    );
    Ok(())
}

fn asking(ctx: &mut Ctx, _argv: &Argv) -> CmdResult {
    cluster(ctx)?;
    ctx.client.asking = true;
    ctx.out.ok();
    Ok(())
}

fn readonly(ctx: &mut Ctx, _argv: &Argv) -> CmdResult {
    cluster(ctx)?;
    ctx.client.readonly = true;
    ctx.out.ok();
    Ok(())
}

fn readwrite(ctx: &mut Ctx, _argv: &Argv) -> CmdResult {
    cluster(ctx)?;
    ctx.client.readonly = false;
    ctx.out.ok();
    Ok(())
}
