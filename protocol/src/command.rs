//! The command table: one entry per command (and per subcommand of
//! container commands such as CONFIG), giving arity, flags and where the
//! keys are. The server checks arity from it, routes by its key positions,
//! and answers COMMAND from it, so the three can never disagree.

use std::cell::Cell;
use std::sync::OnceLock;

use hashbrown::HashMap;

use crate::request::Argv;

/// Command flags, named as in COMMAND INFO.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flags(pub u32);

impl Flags {
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 3;
    pub const PUBSUB: u32 = 1 << 4;
    pub const NOSCRIPT: u32 = 1 << 5;
    pub const BLOCKING: u32 = 1 << 6;
    pub const LOADING: u32 = 1 << 7;
    pub const STALE: u32 = 1 << 8;
    pub const FAST: u32 = 1 << 9;
    pub const NO_AUTH: u32 = 1 << 10;
    pub const MAY_REPLICATE: u32 = 1 << 11;
    pub const NO_MULTI: u32 = 1 << 12;
    pub const ALLOW_BUSY: u32 = 1 << 13;
    /// Runs as if ASKING came first (RESTORE-ASKING).
    pub const ASKING: u32 = 1 << 14;
    /// Not shown to MONITOR (there is none; COMMAND INFO lists it).
    pub const SKIP_MONITOR: u32 = 1 << 15;
    /// Not logged in SLOWLOG itself (EXEC: its commands are).
    pub const SKIP_SLOWLOG: u32 = 1 << 16;
    /// May be called with no keys although it takes some (EVAL).
    pub const NO_MANDATORY_KEYS: u32 = 1 << 17;

    /// COMMAND INFO's names, in Redis's order; `may_replicate` is hidden,
    /// as Redis hides it.
    const NAMES: [(u32, &'static str); 17] = [
        (Self::WRITE, "write"),
        (Self::READONLY, "readonly"),
        (Self::DENYOOM, "denyoom"),
        (Self::ADMIN, "admin"),
        (Self::PUBSUB, "pubsub"),
        (Self::NOSCRIPT, "noscript"),
        (Self::BLOCKING, "blocking"),
        (Self::LOADING, "loading"),
        (Self::STALE, "stale"),
        (Self::SKIP_MONITOR, "skip_monitor"),
        (Self::SKIP_SLOWLOG, "skip_slowlog"),
        (Self::ASKING, "asking"),
        (Self::FAST, "fast"),
        (Self::NO_AUTH, "no_auth"),
        (Self::NO_MANDATORY_KEYS, "no_mandatory_keys"),
        (Self::NO_MULTI, "no_multi"),
        (Self::ALLOW_BUSY, "allow_busy"),
    ];

    #[inline]
    pub fn has(self, flag: u32) -> bool {
        self.0 & flag != 0
    }

    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Self::NAMES
            .into_iter()
            .filter(move |(f, _)| self.has(*f))
            .map(|(_, n)| n)
    }
}

/// Where a command's keys are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeySpec {
    None,
    /// Keys at `first`, `first+step`, … up to `last` (negative: from the end).
    Range {
        first: i32,
        last: i32,
        step: i32,
    },
    /// `argv[count_at]` says how many keys follow, starting at `count_at+1`
    /// (EVAL, ZUNION, SINTERCARD …); `dest` is an extra key before the count
    /// (ZUNIONSTORE's destination).
    NumKeys {
        count_at: usize,
        dest: Option<usize>,
    },
    /// The key at `at`; or, if it is empty, every argument after the first
    /// `keyword` at or past `from` (MIGRATE's KEYS, as migrateGetKeys).
    AfterKeyword {
        at: usize,
        keyword: &'static str,
        from: usize,
    },
}

impl KeySpec {
    /// The legacy (first, last, step) triple of COMMAND INFO.
    pub fn legacy_triple(&self) -> (i64, i64, i64) {
        match *self {
            KeySpec::None | KeySpec::NumKeys { dest: None, .. } => (0, 0, 0),
            KeySpec::NumKeys { dest: Some(d), .. } => (d as i64, d as i64, 1),
            KeySpec::Range { first, last, step } => (first as i64, last as i64, step as i64),
            KeySpec::AfterKeyword { at, .. } => (at as i64, at as i64, 1),
        }
    }

    /// Where the first key is when there is one, without reading the
    /// arguments: a hint for fetching its slot before the command runs
    /// (a count of 0 keys makes it name an argument that is not a key).
    pub fn first_hint(&self) -> Option<usize> {
        match *self {
            KeySpec::None => None,
            KeySpec::Range { first, .. } => Some(first as usize),
            KeySpec::NumKeys { dest: Some(d), .. } => Some(d),
            KeySpec::NumKeys { count_at, .. } => Some(count_at + 1),
            KeySpec::AfterKeyword { at, .. } => Some(at),
        }
    }

    pub fn movable(&self) -> bool {
        matches!(self, KeySpec::NumKeys { .. } | KeySpec::AfterKeyword { .. })
    }

    /// Positions of the keys in `argv`. A malformed count yields no keys;
    /// the command itself reports that error.
    pub fn positions(&self, argv: &Argv) -> KeyPositions {
        let argc = argv.len() as i64;
        match *self {
            KeySpec::None => KeyPositions::empty(),
            KeySpec::Range { first, last, step } => {
                let last = if last < 0 {
                    argc + last as i64
                } else {
                    (last as i64).min(argc - 1)
                };
                KeyPositions {
                    extra: None,
                    next: first as usize,
                    end: (last + 1).max(0) as usize,
                    step: step as usize,
                }
            }
            KeySpec::NumKeys { count_at, dest } => {
                let count = std::str::from_utf8(argv.get(count_at.min(argv.len() - 1)))
                    .ok()
                    .and_then(|s| s.parse::<usize>().ok())
                    .filter(|&n| count_at < argv.len() && count_at + n < argv.len());
                match count {
                    Some(n) => KeyPositions {
                        extra: dest,
                        next: count_at + 1,
                        end: count_at + 1 + n,
                        step: 1,
                    },
                    None => KeyPositions::empty(),
                }
            }
            KeySpec::AfterKeyword { at, keyword, from } => {
                let after = (at < argv.len() && argv.get(at).is_empty())
                    .then(|| {
                        (from..argv.len())
                            .find(|&i| argv.get(i).eq_ignore_ascii_case(keyword.as_bytes()))
                    })
                    .flatten();
                let (next, end) = match after {
                    Some(i) => (i + 1, argv.len()),
                    None => (at, (at + 1).min(argv.len())),
                };
                KeyPositions {
                    extra: None,
                    next,
                    end,
                    step: 1,
                }
            }
        }
    }
}

pub struct KeyPositions {
    extra: Option<usize>,
    next: usize,
    end: usize,
    step: usize,
}

impl KeyPositions {
    fn empty() -> Self {
        KeyPositions {
            extra: None,
            next: 0,
            end: 0,
            step: 1,
        }
    }
}

impl Iterator for KeyPositions {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        if let Some(d) = self.extra.take() {
            return Some(d);
        }
        if self.next >= self.end || self.step == 0 {
            return None;
        }
        let at = self.next;
        self.next += self.step;
        Some(at)
    }
}

/// One command or subcommand.
#[derive(Debug)]
pub struct CommandSpec {
    /// Lower case; subcommands are `parent|sub`.
    pub name: &'static str,
    /// Redis arity: N means exactly N arguments (the name included), -N at least N.
    pub arity: i32,
    pub flags: Flags,
    pub keys: KeySpec,
    pub group: &'static str,
    pub since: &'static str,
    pub summary: &'static str,
    pub subcommands: &'static [CommandSpec],
}

impl CommandSpec {
    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i32;
        if self.arity >= 0 {
            argc == self.arity
        } else {
            argc >= -self.arity
        }
    }

    pub fn is_write(&self) -> bool {
        self.flags.has(Flags::WRITE)
    }

    pub fn is_container(&self) -> bool {
        !self.subcommands.is_empty()
    }
}

/// A resolved command: its spec and its index in the table (servers keep
/// per-command data, such as handlers and call counts, by this index).
#[derive(Clone, Copy, Debug)]
pub struct CommandRef {
    pub id: usize,
    pub spec: &'static CommandSpec,
}

pub struct CommandTable {
    /// Every command and subcommand; the index is the command id.
    pub all: Vec<&'static CommandSpec>,
    /// Top-level commands only, in table order.
    pub top: Vec<CommandRef>,
    by_name: HashMap<&'static str, usize>,
}

pub static COMMAND_TABLE: OnceLock<CommandTable> = OnceLock::new();

fn table() -> &'static CommandTable {
    COMMAND_TABLE.get_or_init(|| {
        let mut all = Vec::new();
        let mut top = Vec::new();
        let mut by_name = HashMap::new();
        for group in crate::commands::GROUPS {
            for spec in group.iter() {
                top.push(CommandRef {
                    id: all.len(),
                    spec,
                });
                for s in std::iter::once(spec).chain(spec.subcommands) {
                    let previous = by_name.insert(s.name, all.len());
                    assert!(previous.is_none(), "command {} is defined twice", s.name);
                    all.push(s);
                }
            }
        }
        CommandTable { all, top, by_name }
    })
}

impl CommandTable {
    pub fn get() -> &'static CommandTable {
        table()
    }

    pub fn by_id(&self, id: usize) -> CommandRef {
        CommandRef {
            id,
            spec: self.all[id],
        }
    }

    fn find(&self, lower: &str) -> Option<CommandRef> {
        self.by_name.get(lower).map(|&id| self.by_id(id))
    }
}

thread_local! {
    /// The command `lookup` found last on this thread: pipelines repeat
    /// commands, and the batch loop looks the next one up early to fetch
    /// its key's slot (`request::peek`), so the same name comes twice.
    static LAST: Cell<Option<CommandRef>> = const { Cell::new(None) };
}

/// Finds a top-level command by name, case-insensitively.
#[inline]
pub fn lookup(name: &[u8]) -> Option<CommandRef> {
    if let Some(last) = LAST.get() {
        if last.spec.name.as_bytes().eq_ignore_ascii_case(name) {
            return Some(last);
        }
    }
    let mut lower = [0u8; 32];
    if name.len() > lower.len() {
        return None;
    }
    for (dst, src) in lower.iter_mut().zip(name) {
        *dst = src.to_ascii_lowercase();
    }
    let lower = std::str::from_utf8(&lower[..name.len()]).ok()?;
    if lower.contains('|') {
        return None;
    }
    let found = table().find(lower);
    LAST.set(found);
    found
}

/// Finds `parent|sub`, case-insensitively.
pub fn lookup_sub(parent: &CommandSpec, sub: &[u8]) -> Option<CommandRef> {
    let full = format!(
        "{}|{}",
        parent.name,
        String::from_utf8_lossy(sub).to_ascii_lowercase()
    );
    table().find(&full)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::OwnedArgv;

    #[test]
    fn lookups_are_case_insensitive() {
        assert_eq!(lookup(b"GeT").unwrap().spec.name, "get");
        assert!(lookup(b"nosuchcommand").is_none());
        let config = lookup(b"CONFIG").unwrap();
        assert_eq!(
            lookup_sub(config.spec, b"Get").unwrap().spec.name,
            "config|get"
        );
    }

    #[test]
    fn key_positions() {
        let keys = |cmd: &str, args: &[&str]| -> Vec<usize> {
            let argv: OwnedArgv = args.iter().collect();
            lookup(cmd.as_bytes())
                .unwrap()
                .spec
                .keys
                .positions(&argv.argv())
                .collect()
        };
        assert_eq!(keys("get", &["get", "k"]), vec![1]);
        assert_eq!(keys("mset", &["mset", "a", "1", "b", "2"]), vec![1, 3]);
        assert_eq!(keys("del", &["del", "a", "b", "c"]), vec![1, 2, 3]);
        assert_eq!(keys("ping", &["ping"]), Vec::<usize>::new());
        let migrate = |args: &[&str]| {
            let mut all = vec!["migrate", "h", "1"];
            all.extend_from_slice(args);
            keys("migrate", &all)
        };
        assert_eq!(migrate(&["k", "0", "5"]), vec![3]);
        assert_eq!(
            migrate(&["", "0", "5", "COPY", "keys", "a", "b"]),
            vec![8, 9]
        );
        assert_eq!(migrate(&["", "0", "5"]), vec![3]);
        // KEYS is an option only from argv[6] on.
        assert_eq!(migrate(&["", "keys", "5", "x"]), vec![3]);
    }

    #[test]
    fn table_is_consistent() {
        for spec in &CommandTable::get().all {
            assert_eq!(spec.name, spec.name.to_ascii_lowercase());
            assert!(spec.arity != 0, "{} has arity 0", spec.name);
            if let KeySpec::Range { first, .. } = spec.keys {
                assert!(
                    first >= 1 && first < spec.arity.abs().max(2),
                    "{}",
                    spec.name
                );
            }
        }
    }
}
