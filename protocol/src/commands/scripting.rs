use super::*;

const G: &str = "scripting";
const MR: u32 = Flags::MAY_REPLICATE;
/// EVAL's family: hidden from MONITOR, callable without keys.
const SM_NMK: u32 = Flags::SKIP_MONITOR | Flags::NO_MANDATORY_KEYS;
/// EVAL's keys: argv[2] says how many follow it.
const NUMKEYS: KeySpec = numkeys_at(2);

pub(crate) const SPECS: &[CommandSpec] = &[
    cmd(
        "eval",
        -3,
        NS | ST | MR | SM_NMK,
        NUMKEYS,
        G,
        "2.6.0",
        "Executes a server-side Lua script.",
    ),
    cmd(
        "evalsha",
        -3,
        NS | ST | MR | SM_NMK,
        NUMKEYS,
        G,
        "2.6.0",
        "Executes a server-side Lua script by SHA1 digest.",
    ),
    cmd(
        "eval_ro",
        -3,
        NS | ST | R | SM_NMK,
        NUMKEYS,
        G,
        "7.0.0",
        "Executes a read-only server-side Lua script.",
    ),
    cmd(
        "evalsha_ro",
        -3,
        NS | ST | R | SM_NMK,
        NUMKEYS,
        G,
        "7.0.0",
        "Executes a read-only server-side Lua script by SHA1 digest.",
    ),
    container(
        "script",
        G,
        "2.6.0",
        "A container for Lua scripts management commands.",
        SCRIPT,
    ),
];

const SCRIPT: &[CommandSpec] = &[
    cmd(
        "script|load",
        3,
        NS | ST,
        NK,
        G,
        "2.6.0",
        "Loads a server-side Lua script to the script cache.",
    ),
    cmd(
        "script|exists",
        -3,
        NS,
        NK,
        G,
        "2.6.0",
        "Determines whether server-side Lua scripts exist in the script cache.",
    ),
    cmd(
        "script|flush",
        -2,
        NS,
        NK,
        G,
        "2.6.0",
        "Removes all server-side Lua scripts from the script cache.",
    ),
    cmd(
        "script|kill",
        2,
        NS | AB,
        NK,
        G,
        "2.6.0",
        "Terminates a server-side Lua script during execution.",
    ),
    cmd(
        "script|help",
        2,
        LD | ST,
        NK,
        G,
        "5.0.0",
        "Returns helpful text about the different subcommands.",
    ),
];
