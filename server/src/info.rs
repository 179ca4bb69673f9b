//! INFO: Redis's sections and field names, plus slotcache's own.

use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;

use slotcache_cluster::SLOT_COUNT;
use slotcache_protocol::command::CommandTable;

use crate::clock;
use crate::memory::human;
use crate::pubsub::Kind;
use crate::server::Server;
use crate::stats::CommandTotals;

/// The Redis version slotcache answers as: clients and tools gate features
/// on it, and slotcache implements Redis 7.0's commands and replies.
pub const REDIS_VERSION: &str = "7.0.0";

/// Every section, in Redis's order.
const SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "stats",
    "replication",
    "cpu",
    "commandstats",
    "errorstats",
    "cluster",
    "keyspace",
];

/// What INFO with no section (or `default`) shows: all but commandstats.
fn in_default(section: &str) -> bool {
    section != "commandstats"
}

/// The INFO text for the requested sections (none: the default set).
pub fn render(server: &Server, requested: &[String]) -> String {
    let mut wanted: Vec<&str> = Vec::new();
    for r in requested {
        match r.as_str() {
            "all" | "everything" => wanted.extend_from_slice(SECTIONS),
            "default" => wanted.extend(SECTIONS.iter().filter(|s| in_default(s))),
            other => wanted.push(other),
        }
    }
    if requested.is_empty() {
        wanted.extend(SECTIONS.iter().filter(|s| in_default(s)));
    }
    let mut out = String::new();
    for section in SECTIONS.iter().filter(|s| wanted.contains(s)) {
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        match *section {
            "server" => server_section(server, &mut out),
            "clients" => clients_section(server, &mut out),
            "memory" => memory_section(server, &mut out),
            "stats" => stats_section(server, &mut out),
            "replication" => replication_section(server, &mut out),
            "cpu" => cpu_section(&mut out),
            "commandstats" => commandstats_section(&mut out),
            "errorstats" => errorstats_section(&mut out),
            "cluster" => cluster_section(server, &mut out),
            "keyspace" => keyspace_section(server, &mut out),
            _ => unreachable!(),
        }
    }
    out
}

/// Commands called (or refused) since the last CONFIG RESETSTAT.
fn commandstats_section(out: &mut String) {
    out.push_str("# Commandstats\r\n");
    let table = CommandTable::get();
    for (spec, t) in table.all.iter().zip(crate::stats::command_totals()) {
        if t == CommandTotals::default() {
            continue;
        }
        let per_call = if t.calls == 0 {
            0.0
        } else {
            t.usec as f64 / t.calls as f64
        };
        let _ = write!(
            out,
            "cmdstat_{}:calls={},usec={},usec_per_call={per_call:.2},rejected_calls={},failed_calls={}\r\n",
            spec.name, t.calls, t.usec, t.rejected, t.failed
        );
    }
}

fn errorstats_section(out: &mut String) {
    out.push_str("# Errorstats\r\n");
    for (kind, count) in crate::stats::error_counts() {
        let _ = write!(out, "errorstat_{kind}:count={count}\r\n");
    }
}

fn server_section(server: &Server, out: &mut String) {
    let c = server.config.read();
    let uptime = clock::uptime_secs();
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let _ = write!(
        out,
        "# Server\r\nredis_version:{REDIS_VERSION}\r\nslotcache_version:{}\r\nredis_mode:{}\r\nos:{}\r\narch_bits:64\r\nmultiplexing_api:epoll\r\nprocess_id:{}\r\nrun_id:{}\r\ntcp_port:{}\r\nserver_time_usec:{}\r\nuptime_in_seconds:{uptime}\r\nuptime_in_days:{}\r\nhz:{}\r\nexecutable:{exe}\r\nconfig_file:{}\r\nregion:{}\r\navailability_zone:{}\r\n",
        env!("CARGO_PKG_VERSION"),
        if c.cluster_enabled { "cluster" } else { "standalone" },
        os_name(),
        std::process::id(),
        server.run_id,
        server.port,
        clock::unix_us(),
        uptime / 86400,
        c.hz,
        c.config_file,
        c.region,
        c.zone,
    );
}

/// `os:` as Redis prints it from uname(2): "Linux 6.1.0 x86_64".
fn os_name() -> String {
    // SAFETY: uname only writes into the struct we pass.
    let u = unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        libc::uname(&mut u);
        u
    };
    let text = |field: &[libc::c_char]| -> String {
        let bytes: Vec<u8> = field
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    format!(
        "{} {} {}",
        text(&u.sysname),
        text(&u.release),
        text(&u.machine)
    )
}

fn clients_section(server: &Server, out: &mut String) {
    let c = server.config.read();
    let _ = write!(
        out,
        "# Clients\r\nconnected_clients:{}\r\nmaxclients:{}\r\nblocked_clients:{}\r\ntracking_clients:0\r\n",
        server.clients.len(),
        c.maxclients,
        server.blocking.blocked_clients()
    );
}

fn memory_section(server: &Server, out: &mut String) {
    let used = server.memory.refresh();
    let rss = server.memory.refresh_rss();
    let peak = server.memory.peak();
    // Scripts' interpreters, left out of used_memory as Redis does.
    let lua = crate::scripting::lua_memory();
    let c = server.config.read();
    let frag = if used > 0 {
        rss as f64 / used as f64
    } else {
        0.0
    };
    let _ = write!(
        out,
        "# Memory\r\nused_memory:{used}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\nused_memory_rss_human:{}\r\nused_memory_peak:{peak}\r\nused_memory_peak_human:{}\r\nused_memory_lua:{lua}\r\nused_memory_lua_human:{}\r\nmaxmemory:{}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:{}\r\nmem_fragmentation_ratio:{frag:.2}\r\nmem_allocator:jemalloc\r\n",
        human(used),
        human(rss),
        human(peak),
        human(lua),
        c.maxmemory,
        human(c.maxmemory),
        c.maxmemory_policy,
    );
}

fn stats_section(server: &Server, out: &mut String) {
    let s = &server.stats;
    let l = |c: &std::sync::atomic::AtomicU64| c.load(Relaxed);
    let _ = write!(
        out,
        "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\nrejected_connections:{}\r\nexpired_keys:{}\r\nevicted_keys:{}\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\ntotal_error_replies:{}\r\nclient_query_buffer_limit_disconnections:{}\r\nclient_output_buffer_limit_disconnections:{}\r\npubsub_channels:{}\r\npubsub_patterns:{}\r\npubsubshard_channels:{}\r\n",
        l(&s.total_connections_received),
        l(&s.total_commands_processed),
        l(&s.total_net_input_bytes),
        l(&s.total_net_output_bytes),
        l(&s.rejected_connections),
        l(&server.db.expired_keys),
        l(&server.db.evicted_keys),
        l(&s.keyspace_hits),
        l(&s.keyspace_misses),
        l(&s.total_error_replies),
        l(&s.client_query_buffer_limit_disconnections),
        l(&s.client_output_buffer_limit_disconnections),
        server.pubsub.channel_count(Kind::Channel),
        server.pubsub.numpat(),
        server.pubsub.channel_count(Kind::Shard),
    );
}

fn replication_section(server: &Server, out: &mut String) {
    // A cluster replica names its primary; no data flows from it yet, so
    // its link is reported down.
    let primary = server.cluster.as_ref().and_then(|c| {
        c.read(|s, _| {
            let p = s.my_primary();
            (p.id != s.myself).then(|| (p.ip.clone(), p.port))
        })
    });
    out.push_str("# Replication\r\n");
    match primary {
        Some((host, port)) => {
            let _ = write!(
                out,
                "role:slave\r\nmaster_host:{host}\r\nmaster_port:{port}\r\nmaster_link_status:down\r\nslave_read_only:1\r\nconnected_slaves:0\r\n"
            );
        }
        None => out.push_str("role:master\r\nconnected_slaves:0\r\n"),
    }
    let _ = write!(
        out,
        "master_replid:{}\r\nmaster_repl_offset:0\r\n",
        server.run_id
    );
}

fn cpu_section(out: &mut String) {
    // SAFETY: getrusage only writes into the struct we pass.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let _ = write!(
        out,
        "# CPU\r\nused_cpu_sys:{:.6}\r\nused_cpu_user:{:.6}\r\n",
        secs(usage.ru_stime),
        secs(usage.ru_utime)
    );
}

fn cluster_section(server: &Server, out: &mut String) {
    let _ = write!(
        out,
        "# Cluster\r\ncluster_enabled:{}\r\n",
        server.config.read().cluster_enabled as u8
    );
}

/// Volatile keys whose TTL is sampled per slot for `avg_ttl`.
const AVG_TTL_SAMPLES_PER_SLOT: usize = 4;

fn keyspace_section(server: &Server, out: &mut String) {
    out.push_str("# Keyspace\r\n");
    let now = clock::unix_ms();
    let (mut keys, mut expires, mut ttl_sum, mut sampled) = (0, 0, 0u64, 0u64);
    for i in 0..SLOT_COUNT {
        let slot = server.db.lock_slot(i);
        keys += slot.len();
        expires += slot.volatile();
        if slot.volatile() == 0 {
            continue;
        }
        // Like Redis, avg_ttl (ms) is an estimate from a sample, so INFO
        // stays cheap on a big keyspace.
        for at in slot
            .iter()
            .filter_map(|e| e.expire_at())
            .take(AVG_TTL_SAMPLES_PER_SLOT)
        {
            ttl_sum += at.saturating_sub(now);
            sampled += 1;
        }
    }
    if keys > 0 {
        let avg_ttl = ttl_sum.checked_div(sampled).unwrap_or(0);
        let _ = write!(
            out,
            "db0:keys={keys},expires={expires},avg_ttl={avg_ttl}\r\n"
        );
    }
}
