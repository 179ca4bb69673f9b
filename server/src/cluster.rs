//! Cluster mode glue: opens this node's cluster state (nodes.conf), starts
//! the bus, and routes keyed commands (-MOVED, -ASK, -CROSSSLOT,
//! -CLUSTERDOWN, -TRYAGAIN) as Redis's getNodeByQuery does.

use std::path::PathBuf;
use std::sync::Arc;

use slotcache_cluster::routing::NONE;
use slotcache_cluster::{key_slot, Cluster, Myself};
use slotcache_protocol::command::CommandRef;
use slotcache_protocol::Argv;

use crate::client::Client;
use crate::clock;
use crate::commands::CmdError;
use crate::config::Config;
use crate::server::Server;

/// Opens the cluster state when `cluster-enabled` is on. The process is
/// already in `dir`, so a relative config file is found there.
pub fn open(config: &Config, port: u16) -> Result<Option<Arc<Cluster>>, String> {
    if !config.cluster_enabled {
        return Ok(None);
    }
    let path = if config.cluster_config_file.is_empty() {
        PathBuf::from(format!("nodes-{port}.conf"))
    } else {
        PathBuf::from(&config.cluster_config_file)
    };
    // A wildcard bind address says nothing about how peers reach us: the
    // IP is then learned from the first bus connection, as Redis does.
    let bind = config.bind.split_whitespace().next().unwrap_or("0.0.0.0");
    let ip = match bind.parse::<std::net::IpAddr>() {
        Ok(a) if !a.is_unspecified() => a.to_string(),
        _ => String::new(),
    };
    let me = Myself {
        ip,
        port,
        cport: config.bus_port() as u16,
        region: config.region.clone(),
        zone: config.zone.clone(),
    };
    Cluster::open(
        path,
        me,
        config.cluster_node_timeout,
        config.cluster_require_full_coverage,
        bind,
    )
    .map(Some)
}

/// Starts the bus (its port is already bound); exits if that fails.
pub fn start(server: &Arc<Server>) {
    if let Some(cluster) = &server.cluster {
        // Weak: the server owns the cluster, which owns this hook.
        let weak = Arc::downgrade(server);
        cluster.on_slots_lost(move |slots| {
            if let Some(server) = weak.upgrade() {
                let removed = server.db.flush_slots(slots.iter().map(|&s| s as usize));
                tracing::warn!(
                    "dropped {removed} keys of {} slots now served elsewhere",
                    slots.len()
                );
            }
        });
        let weak = Arc::downgrade(server);
        cluster.on_slots_unserved(move |slots| {
            if let Some(server) = weak.upgrade() {
                let mut unserved = vec![false; slotcache_cluster::SLOT_COUNT];
                for &s in slots {
                    unserved[s as usize] = true;
                }
                server
                    .pubsub
                    .drop_shard_channels(|channel| unserved[key_slot(channel) as usize]);
            }
        });
        // PUBLISHes of other nodes reach this node's subscribers.
        let pubsub = Arc::clone(&server.pubsub);
        cluster.on_publish(move |channel, message| {
            pubsub.publish(channel, message);
        });
        if let Err(e) = cluster.start() {
            eprintln!("can't start the cluster bus: {e}");
            std::process::exit(1);
        }
    }
}

/// Mirrors the run-time settings the cluster state machine reads.
pub fn settings_changed(server: &Server) {
    if let Some(cluster) = &server.cluster {
        let c = server.config.read();
        let (timeout, full) = (c.cluster_node_timeout, c.cluster_require_full_coverage);
        let no_failover = c.cluster_replica_no_failover;
        let sendbuf_limit = c.cluster_link_sendbuf_limit;
        drop(c);
        cluster.with_state(|s, _| {
            s.node_timeout = timeout;
            s.link_sendbuf_limit = sendbuf_limit;
            s.set_no_failover(no_failover);
            if s.full_coverage != full {
                s.full_coverage = full;
                s.update_state();
            }
        });
    }
}

const CROSSSLOT: CmdError =
    CmdError::Static("CROSSSLOT Keys in request don't hash to the same slot");
const TRYAGAIN: CmdError =
    CmdError::Static("TRYAGAIN Multiple keys request during rehashing of slot");
/// The whole cluster is down (scripts word this error their own way).
pub const DOWN: &str = "CLUSTERDOWN The cluster is down";

/// Whether this node serves `cmd` itself; otherwise the redirect or error.
pub fn route(
    server: &Server,
    cluster: &Cluster,
    client: &Client,
    cmd: CommandRef,
    argv: &Argv,
) -> Result<(), CmdError> {
    let keys = || cmd.spec.keys.positions(argv).map(|i| argv.get(i));
    route_keys(server, cluster, client, keys, cmd.spec.is_write())
}

/// `route` for a request whose keys `keys` yields (for EXEC, those of all
/// its queued commands, as getNodeByQuery sees a transaction); `write` if
/// any of its commands writes.
pub fn route_keys<'k, I: Iterator<Item = &'k [u8]>>(
    server: &Server,
    cluster: &Cluster,
    client: &Client,
    keys: impl Fn() -> I,
    write: bool,
) -> Result<(), CmdError> {
    let mut all = keys();
    let Some(first_key) = all.next() else {
        return Ok(());
    };
    let slot = key_slot(first_key);
    let mut multiple_keys = false;
    for key in all {
        if key_slot(key) != slot {
            return Err(CROSSSLOT);
        }
        multiple_keys |= key != first_key;
    }
    let r = cluster.routing.read();
    let owner = r.owner[slot as usize];
    if owner == NONE {
        return Err(CmdError::Static("CLUSTERDOWN Hash slot not served"));
    }
    if !r.ok {
        return Err(CmdError::Static(DOWN));
    }
    let migrating_to = (owner == r.me).then(|| r.migrating.get(&slot)).flatten();
    let importing = owner != r.me && r.importing.contains_key(&slot);
    if migrating_to.is_none() && !importing {
        if owner == r.me || (client.readonly && !write && owner == r.my_primary) {
            return Ok(());
        }
        return Err(redirect("MOVED", slot, &r.addrs[owner as usize]));
    }
    // A slot in transit: which of the keys are here decides.
    let now = clock::unix_ms();
    let (mut existing, mut missing) = (0, 0);
    {
        let keys: Vec<&[u8]> = keys().collect();
        let mut locked = server.db.lock(keys.iter().copied(), now);
        for key in &keys {
            if locked.exists(key) {
                existing += 1;
            } else {
                missing += 1;
            }
        }
    }
    if let Some(&to) = migrating_to {
        if missing == 0 {
            return Ok(());
        }
        if existing > 0 {
            return Err(TRYAGAIN);
        }
        return Err(redirect("ASK", slot, &r.addrs[to as usize]));
    }
    if client.asking {
        if multiple_keys && missing > 0 {
            return Err(TRYAGAIN);
        }
        return Ok(());
    }
    Err(redirect("MOVED", slot, &r.addrs[owner as usize]))
}

fn redirect(kind: &str, slot: u16, addr: &str) -> CmdError {
    CmdError::Owned(format!("{kind} {slot} {addr}"))
}

/// A node's role as HELLO and CLUSTER SHARDS name it.
pub fn role_name(replica: bool) -> &'static str {
    if replica {
        "replica"
    } else {
        "master"
    }
}
