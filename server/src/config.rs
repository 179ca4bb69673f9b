//! Settings. One table (`PARAMS`) describes every setting once; the command
//! line, `--config` files and CONFIG GET/SET are all driven by it, so a flag
//! can never exist in one place and not the others.

use std::fmt;

use clap::parser::ValueSource;
use clap::{Arg, ArgAction, Command};

/// Eviction policies (`maxmemory-policy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    NoEviction,
    AllKeysLru,
    AllKeysLfu,
    AllKeysRandom,
    VolatileLru,
    VolatileLfu,
    VolatileRandom,
    VolatileTtl,
    /// slotcache's own: allkeys-lfu that evicts, among keys of equal
    /// counter, the one idle longest (see `db::evict`).
    AllKeysLfuLru,
}

impl Policy {
    /// In Redis's order (its CONFIG SET error lists them so), ours last.
    const ALL: [(Policy, &'static str); 9] = [
        (Policy::VolatileLru, "volatile-lru"),
        (Policy::VolatileLfu, "volatile-lfu"),
        (Policy::VolatileRandom, "volatile-random"),
        (Policy::VolatileTtl, "volatile-ttl"),
        (Policy::AllKeysLru, "allkeys-lru"),
        (Policy::AllKeysLfu, "allkeys-lfu"),
        (Policy::AllKeysRandom, "allkeys-random"),
        (Policy::NoEviction, "noeviction"),
        (Policy::AllKeysLfuLru, "allkeys-lfu-lru"),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(p, _)| *p == self)
            .map(|(_, n)| *n)
            .unwrap_or("noeviction")
    }

    /// Whether the per-entry access field holds an LFU counter (else LRU time).
    pub fn is_lfu(self) -> bool {
        matches!(
            self,
            Policy::AllKeysLfu | Policy::VolatileLfu | Policy::AllKeysLfuLru
        )
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    pub port: u64,
    pub bind: String,
    pub cluster_enabled: bool,
    pub cluster_port: u64,
    pub cluster_config_file: String,
    pub cluster_node_timeout: u64,
    pub cluster_require_full_coverage: bool,
    pub cluster_replica_no_failover: bool,
    pub cluster_link_sendbuf_limit: u64,
    pub dir: String,
    pub maxmemory: u64,
    pub maxmemory_policy: Policy,
    pub maxmemory_samples: u64,
    pub lfu_log_factor: u64,
    pub lfu_decay_time: u64,
    pub region: String,
    pub zone: String,
    pub requirepass: String,
    pub hotkey_threshold: u64,
    pub hotkey_fanout: u64,
    pub metrics_port: u64,
    pub loglevel: String,
    pub config_file: String,
    pub maxclients: u64,
    pub proto_max_bulk_len: u64,
    pub client_query_buffer_limit: u64,
    pub client_output_buffer_limit: String,
    pub timeout: u64,
    pub hz: u64,
    pub slowlog_log_slower_than: i64,
    pub slowlog_max_len: u64,
    pub save: String,
    pub appendonly: bool,
    pub databases: u64,
    pub io_threads: u64,
    pub busy_reply_threshold: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            port: 6379,
            bind: "127.0.0.1".into(),
            cluster_enabled: false,
            cluster_port: 0,
            cluster_config_file: String::new(),
            cluster_node_timeout: 15000,
            cluster_require_full_coverage: false,
            cluster_replica_no_failover: false,
            cluster_link_sendbuf_limit: 0,
            dir: ".".into(),
            maxmemory: 0,
            maxmemory_policy: Policy::AllKeysLfu,
            maxmemory_samples: 5,
            lfu_log_factor: 10,
            lfu_decay_time: 1,
            region: "default".into(),
            zone: String::new(),
            requirepass: String::new(),
            hotkey_threshold: 5000,
            hotkey_fanout: 8,
            metrics_port: 0,
            loglevel: "notice".into(),
            config_file: String::new(),
            maxclients: 10000,
            proto_max_bulk_len: 512 * 1024 * 1024,
            client_query_buffer_limit: 1024 * 1024 * 1024,
            client_output_buffer_limit:
                "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60".into(),
            timeout: 0,
            hz: 10,
            slowlog_log_slower_than: 10000,
            slowlog_max_len: 128,
            save: String::new(),
            appendonly: false,
            databases: 1,
            io_threads: default_io_threads(),
            busy_reply_threshold: 5000,
        }
    }
}

impl Config {
    /// The cluster bus port: `cluster-port`, or client port + 10000.
    pub fn bus_port(&self) -> u64 {
        if self.cluster_port == 0 {
            self.port + 10000
        } else {
            self.cluster_port
        }
    }

    /// The output buffer limits of one client class: (hard, soft, soft seconds).
    pub fn output_limit(&self, class: &str) -> (u64, u64, u64) {
        let words: Vec<&str> = self.client_output_buffer_limit.split_whitespace().collect();
        words
            .chunks(4)
            .find(|c| c.len() == 4 && (c[0] == class || (class == "replica" && c[0] == "slave")))
            .map(|c| {
                (
                    parse_memory(c[1]).unwrap_or(0),
                    parse_memory(c[2]).unwrap_or(0),
                    c[3].parse().unwrap_or(0),
                )
            })
            .unwrap_or((0, 0, 0))
    }
}

fn default_io_threads() -> u64 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as u64)
}

/// One setting.
pub struct Param {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    /// Settable with CONFIG SET.
    pub runtime: bool,
    pub help: &'static str,
    pub get: fn(&Config) -> String,
    pub set: fn(&mut Config, &str) -> Result<(), String>,
}

/// `100mb`, `1gb`, `512k` … as Redis reads them (k=1000, kb=1024).
pub fn parse_memory(v: &str) -> Result<u64, String> {
    let lower = v.trim().to_ascii_lowercase();
    let split = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (digits, unit) = lower.split_at(split);
    let mul: u64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return Err(NOT_MEMORY.into()),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mul))
        .ok_or_else(|| NOT_MEMORY.into())
}

const NOT_MEMORY: &str = "argument must be a memory value";

/// A setting's number within `min..=max`, read by `read` (a plain
/// integer or a memory value), out of range worded as Redis words it.
fn bounded<T: TryFrom<i128>>(
    read: fn(&str) -> Result<i128, String>,
    min: i128,
    max: i128,
) -> impl Fn(&str) -> Result<T, String> {
    move |v| {
        let n = read(v)?;
        if n < min || n > max {
            return Err(format!(
                "argument must be between {min} and {max} inclusive"
            ));
        }
        T::try_from(n).map_err(|_| format!("{n} does not fit this setting"))
    }
}

fn integer(v: &str) -> Result<i128, String> {
    parse_int(v)
}

fn memory(v: &str) -> Result<i128, String> {
    parse_memory(v).map(i128::from)
}

const INT_MAX: i128 = i32::MAX as i128;
const LONG_MAX: i128 = i64::MAX as i128;

fn parse_bool(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err("argument must be 'yes' or 'no'".into()),
    }
}

fn show_bool(b: bool) -> String {
    if b { "yes" } else { "no" }.into()
}

fn parse_int<T: std::str::FromStr>(v: &str) -> Result<T, String> {
    v.trim()
        .parse()
        .map_err(|_| "argument couldn't be parsed into an integer".into())
}

fn parse_policy(v: &str) -> Result<Policy, String> {
    let lower = v.to_ascii_lowercase();
    Policy::ALL
        .iter()
        .find(|(_, n)| *n == lower)
        .map(|(p, _)| *p)
        .ok_or_else(|| {
            format!(
                "argument(s) must be one of the following: {}",
                Policy::ALL.map(|(_, n)| n).join(", ")
            )
        })
}

/// Redis takes any `hz` as a hint and keeps it to 1..=500.
fn parse_hz(v: &str) -> Result<u64, String> {
    bounded(integer, 0, INT_MAX)(v).map(|hz: u64| hz.clamp(1, 500))
}

/// `save`'s pairs of seconds and changes, checked as Redis checks them;
/// kept only for CONFIG GET, as slotcache takes no snapshots.
fn parse_save(v: &str) -> Result<String, String> {
    let words: Vec<&str> = v.split_whitespace().collect();
    let numbers = words.iter().all(|w| w.parse::<i64>().is_ok());
    if !words.len().is_multiple_of(2) || !numbers {
        return Err("Invalid save parameters".into());
    }
    Ok(words.join(" "))
}

/// `no` only: a cache writes no AOF.
fn parse_appendonly(v: &str) -> Result<bool, String> {
    match parse_bool(v)? {
        false => Ok(false),
        true => Err("slotcache is a cache and never writes an AOF".into()),
    }
}

fn parse_loglevel(v: &str) -> Result<String, String> {
    let lower = v.to_ascii_lowercase();
    match lower.as_str() {
        "debug" | "verbose" | "notice" | "warning" => Ok(lower),
        _ => {
            Err("argument(s) must be one of the following: debug, verbose, notice, warning".into())
        }
    }
}

fn parse_output_limits(v: &str) -> Result<String, String> {
    let words: Vec<&str> = v.split_whitespace().collect();
    if words.is_empty() || !words.len().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    let mut merged = Config::default().client_output_buffer_limit;
    for c in words.chunks(4) {
        let class = match c[0].to_ascii_lowercase().as_str() {
            "normal" => "normal",
            "slave" | "replica" => "slave",
            "pubsub" => "pubsub",
            _ => {
                return Err("Invalid client class specified in buffer limit configuration.".into())
            }
        };
        let hard = parse_memory(c[1])?;
        let soft = parse_memory(c[2])?;
        let secs: u64 = parse_int(c[3])?;
        let mut groups: Vec<String> = merged
            .split_whitespace()
            .collect::<Vec<_>>()
            .chunks(4)
            .map(|g| g.join(" "))
            .collect();
        for g in groups.iter_mut() {
            if g.starts_with(class) {
                *g = format!("{class} {hard} {soft} {secs}");
            }
        }
        merged = groups.join(" ");
    }
    Ok(merged)
}

macro_rules! params {
    ($( $name:literal $(| $alias:literal)* => $field:ident, $parse:expr, $show:expr, $runtime:expr, $help:literal; )*) => {
        pub const PARAMS: &[Param] = &[ $( Param {
            name: $name,
            aliases: &[$($alias),*],
            runtime: $runtime,
            help: $help,
            get: |c: &Config| ($show)(c.$field.clone()),
            set: |c: &mut Config, v: &str| { c.$field = ($parse)(v)?; Ok(()) },
        } ),* ];
    };
}

fn show<T: ToString>(v: T) -> String {
    v.to_string()
}

fn text(v: &str) -> Result<String, String> {
    Ok(v.to_string())
}

params! {
    "port" => port, bounded(integer, 0, 65535), show, false, "client port (RESP)";
    "bind" => bind, text, show, false, "listen address";
    "cluster-enabled" => cluster_enabled, parse_bool, show_bool, false, "yes: a cluster node; no: standalone, owning every slot";
    "cluster-port" => cluster_port, bounded(integer, 0, 65535), show, false, "cluster bus port (0: port+10000)";
    "cluster-config-file" => cluster_config_file, text, show, false, "cluster state file (default nodes-<port>.conf in --dir)";
    "cluster-node-timeout" => cluster_node_timeout, bounded(integer, 0, LONG_MAX), show, true, "failure detection timeout, ms";
    "cluster-require-full-coverage" => cluster_require_full_coverage, parse_bool, show_bool, true, "stop serving when some slot is uncovered";
    "cluster-replica-no-failover" => cluster_replica_no_failover, parse_bool, show_bool, true, "yes: this replica never replaces a failed primary by itself";
    "cluster-link-sendbuf-limit" => cluster_link_sendbuf_limit, parse_memory, show, true, "bytes a cluster bus link may have queued before it is freed (0: no limit)";
    "dir" => dir, text, show, false, "working directory for files the node writes";
    "maxmemory" => maxmemory, parse_memory, show, true, "memory limit in bytes (100mb, 1gb …); 0: none";
    "maxmemory-policy" => maxmemory_policy, parse_policy, show, true, "eviction policy";
    "maxmemory-samples" => maxmemory_samples, bounded(integer, 1, INT_MAX), show, true, "keys sampled per eviction";
    "lfu-log-factor" => lfu_log_factor, bounded(integer, 0, INT_MAX), show, true, "LFU counter logarithm factor";
    "lfu-decay-time" => lfu_decay_time, bounded(integer, 0, INT_MAX), show, true, "LFU counter decay period, minutes";
    "region" => region, text, show, false, "region of this node's cluster";
    "availability-zone" | "zone" => zone, text, show, true, "availability zone inside the region";
    "requirepass" => requirepass, text, show, true, "password clients must AUTH with";
    "hotkey-threshold" => hotkey_threshold, parse_int, show, true, "reads/s at which a key is fanned out (0: off)";
    "hotkey-fanout" => hotkey_fanout, parse_int, show, true, "copies of a hot key";
    "metrics-port" => metrics_port, bounded(integer, 0, 65535), show, false, "Prometheus /metrics port (0: off)";
    "loglevel" => loglevel, parse_loglevel, show, true, "debug, verbose, notice or warning";
    "config-file" => config_file, text, show, false, "the file settings were read from";
    "maxclients" => maxclients, bounded(integer, 1, u32::MAX as i128), show, true, "most clients connected at once";
    "proto-max-bulk-len" => proto_max_bulk_len, bounded(memory, 1 << 20, LONG_MAX), show, true, "longest bulk string a client may send";
    "client-query-buffer-limit" => client_query_buffer_limit, bounded(memory, 1 << 20, LONG_MAX), show, true, "most unparsed input held per client";
    "client-output-buffer-limit" => client_output_buffer_limit, parse_output_limits, show, true, "per class: hard soft soft-seconds";
    "timeout" => timeout, bounded(integer, 0, INT_MAX), show, true, "close clients idle this many seconds (0: never)";
    "hz" => hz, parse_hz, show, true, "background task frequency";
    "slowlog-log-slower-than" => slowlog_log_slower_than, bounded(integer, -1, LONG_MAX), show, true, "log commands slower than this, µs";
    "slowlog-max-len" => slowlog_max_len, bounded(integer, 0, LONG_MAX), show, true, "slow log length";
    "save" => save, parse_save, show, true, "snapshots: slotcache keeps none, so only \"\" is meaningful";
    "appendonly" => appendonly, parse_appendonly, show_bool, true, "slotcache is a cache and never writes an AOF";
    "io-threads" => io_threads, bounded(integer, 1, 128), show, false, "threads serving clients (default: one per core)";
    "busy-reply-threshold" | "lua-time-limit" => busy_reply_threshold, bounded(integer, 0, LONG_MAX), show, true, "ms a script runs before other clients get -BUSY and SCRIPT KILL works (0: never)";
    "databases" => databases, bounded(integer, 1, INT_MAX), show, false, "number of databases (only 0 exists)";
}

pub fn find_param(name: &str) -> Option<&'static Param> {
    let lower = name.to_ascii_lowercase();
    PARAMS
        .iter()
        .find(|p| p.name == lower || p.aliases.contains(&lower.as_str()))
}

/// Checks a value the way setting it would, without keeping it.
fn check_consistency(c: &Config) -> Result<(), String> {
    if c.databases != 1 {
        return Err("slotcache has a single database".into());
    }
    Ok(())
}

impl Config {
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        let param = find_param(name).ok_or_else(|| {
            format!("Unknown option or number of arguments for CONFIG SET - '{name}'")
        })?;
        let mut next = self.clone();
        (param.set)(&mut next, value).map_err(|e| {
            format!(
                "CONFIG SET failed (possibly related to argument '{}') - {e}",
                param.name
            )
        })?;
        check_consistency(&next).map_err(|e| {
            format!(
                "CONFIG SET failed (possibly related to argument '{}') - {e}",
                param.name
            )
        })?;
        *self = next;
        Ok(())
    }

    /// Reads a redis.conf-style file: one `name value…` per line, `#` comments.
    pub fn load_file(&mut self, path: &str) -> Result<(), String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("can't read {path}: {e}"))?;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (name, value) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            let value = value.trim().trim_matches('"');
            self.set(name, value)
                .map_err(|e| format!("{path}:{}: {e}", n + 1))?;
        }
        self.config_file = path.into();
        Ok(())
    }

    /// Builds the settings from the command line: defaults, then the
    /// `--config` file, then flags given explicitly.
    pub fn from_args<I: IntoIterator<Item = String>>(args: I) -> Result<Config, String> {
        let mut cli = Command::new("slotcache")
            .about("A Redis-protocol cache cluster node")
            .version(env!("CARGO_PKG_VERSION"))
            .arg(
                Arg::new("config")
                    .long("config")
                    .value_name("FILE")
                    .help("read settings from a redis.conf-style file"),
            );
        for p in PARAMS {
            let mut arg = Arg::new(p.name)
                .long(p.name)
                .value_name("VALUE")
                .help(p.help)
                .action(ArgAction::Set);
            for alias in p.aliases {
                arg = arg.visible_alias(*alias);
            }
            cli = cli.arg(arg);
        }
        let matches = cli.try_get_matches_from(args).map_err(|e| e.to_string())?;
        let mut config = Config::default();
        if let Some(path) = matches.get_one::<String>("config") {
            config.load_file(path)?;
        }
        for p in PARAMS {
            if matches.value_source(p.name) == Some(ValueSource::CommandLine) {
                let value = matches.get_one::<String>(p.name).expect("flag has a value");
                config
                    .set(p.name, value)
                    .map_err(|e| format!("--{}: {e}", p.name))?;
            }
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        std::iter::once("slotcache")
            .chain(list.iter().copied())
            .map(String::from)
            .collect()
    }

    #[test]
    fn flags_and_defaults() {
        let c = Config::from_args(args(&[
            "--port",
            "7000",
            "--maxmemory",
            "100mb",
            "--cluster-enabled",
            "yes",
        ]))
        .unwrap();
        assert_eq!(c.port, 7000);
        assert_eq!(c.maxmemory, 100 * 1024 * 1024);
        assert!(c.cluster_enabled);
        assert_eq!(c.bus_port(), 17000);
        assert_eq!(c.maxmemory_policy, Policy::AllKeysLfu);
        let z = Config::from_args(args(&["--availability-zone", "az1"])).unwrap();
        assert_eq!(z.zone, "az1");
        assert!(Config::from_args(args(&["--maxmemory-policy", "bogus"])).is_err());
    }

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("1gb").unwrap(), 1 << 30);
        assert_eq!(parse_memory("1k").unwrap(), 1000);
        assert_eq!(parse_memory("12").unwrap(), 12);
        assert!(parse_memory("12xb").is_err());
    }

    #[test]
    fn config_file_then_flags() {
        let path = std::env::temp_dir().join(format!("slotcache-conf-{}", std::process::id()));
        std::fs::write(
            &path,
            "# comment\nport 7001\nmaxmemory-policy allkeys-lru\n",
        )
        .unwrap();
        let c = Config::from_args(args(&[
            "--config",
            path.to_str().unwrap(),
            "--port",
            "7002",
        ]))
        .unwrap();
        std::fs::remove_file(&path).ok();
        assert_eq!(c.port, 7002);
        assert_eq!(c.maxmemory_policy, Policy::AllKeysLru);
    }

    #[test]
    fn output_limits_merge_by_class() {
        let mut c = Config::default();
        c.set("client-output-buffer-limit", "pubsub 1mb 512kb 10")
            .unwrap();
        assert_eq!(c.output_limit("pubsub"), (1 << 20, 512 * 1024, 10));
        assert_eq!(c.output_limit("normal"), (0, 0, 0));
    }
}
