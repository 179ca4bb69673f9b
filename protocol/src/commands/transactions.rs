use super::*;

const G: &str = "transactions";

pub(crate) const SPECS: &[CommandSpec] = &[
    cmd(
        "multi",
        1,
        NS | LD | ST | F | AB,
        NK,
        G,
        "1.2.0",
        "Starts a transaction.",
    ),
    cmd(
        "exec",
        1,
        NS | LD | ST | Flags::SKIP_SLOWLOG,
        NK,
        G,
        "1.2.0",
        "Executes all commands in a transaction.",
    ),
    cmd(
        "discard",
        1,
        NS | LD | ST | F | AB,
        NK,
        G,
        "2.0.0",
        "Discards a transaction.",
    ),
    cmd(
        "watch",
        -2,
        NS | LD | ST | F | AB,
        KALL,
        G,
        "2.2.0",
        "Monitors changes to keys to determine the execution of a transaction.",
    ),
    cmd(
        "unwatch",
        1,
        NS | LD | ST | F | AB,
        NK,
        G,
        "2.2.0",
        "Forgets about watched keys of a transaction.",
    ),
];
