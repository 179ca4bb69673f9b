//! The command table's entries, one file per command group.

use crate::command::{CommandSpec, Flags, KeySpec};

mod cluster;
mod connection;
mod hash;
mod keyspace;
mod list;
mod pubsub;
mod scripting;
mod server;
mod set;
mod string;
mod transactions;
mod zset;

pub(crate) const GROUPS: &[&[CommandSpec]] = &[
    connection::SPECS,
    cluster::SPECS,
    server::SPECS,
    keyspace::SPECS,
    string::SPECS,
    hash::SPECS,
    list::SPECS,
    pubsub::SPECS,
    set::SPECS,
    zset::SPECS,
    transactions::SPECS,
    scripting::SPECS,
];

// Short flag names keep the tables readable.
pub(crate) const W: u32 = Flags::WRITE;
pub(crate) const R: u32 = Flags::READONLY;
pub(crate) const M: u32 = Flags::DENYOOM;
pub(crate) const A: u32 = Flags::ADMIN;
pub(crate) const F: u32 = Flags::FAST;
pub(crate) const NS: u32 = Flags::NOSCRIPT;
pub(crate) const LD: u32 = Flags::LOADING;
pub(crate) const ST: u32 = Flags::STALE;
pub(crate) const NA: u32 = Flags::NO_AUTH;
pub(crate) const AB: u32 = Flags::ALLOW_BUSY;
pub(crate) const PS: u32 = Flags::PUBSUB;
pub(crate) const BL: u32 = Flags::BLOCKING;

/// No keys.
pub(crate) const NK: KeySpec = KeySpec::None;
/// The key is argv[1].
pub(crate) const K1: KeySpec = KeySpec::Range {
    first: 1,
    last: 1,
    step: 1,
};
/// Every argument from argv[1] is a key.
pub(crate) const KALL: KeySpec = KeySpec::Range {
    first: 1,
    last: -1,
    step: 1,
};

/// `argv[count_at]` says how many keys follow it (EVAL, ZUNION, LMPOP …).
pub(crate) const fn numkeys_at(count_at: usize) -> KeySpec {
    KeySpec::NumKeys {
        count_at,
        dest: None,
    }
}

pub(crate) const fn keys(first: i32, last: i32, step: i32) -> KeySpec {
    KeySpec::Range { first, last, step }
}

pub(crate) const fn cmd(
    name: &'static str,
    arity: i32,
    flags: u32,
    keys: KeySpec,
    group: &'static str,
    since: &'static str,
    summary: &'static str,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags: Flags(flags),
        keys,
        group,
        since,
        summary,
        subcommands: &[],
    }
}

/// A command whose real work is in its subcommands (CONFIG GET, CLIENT ID …).
pub(crate) const fn container(
    name: &'static str,
    group: &'static str,
    since: &'static str,
    summary: &'static str,
    subcommands: &'static [CommandSpec],
) -> CommandSpec {
    CommandSpec {
        name,
        arity: -2,
        flags: Flags(0),
        keys: NK,
        group,
        since,
        summary,
        subcommands,
    }
}
