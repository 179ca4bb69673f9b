//! The redis-benchmark scenarios `compare` runs, as data: add a row to
//! `all()` to put a workload in the same table.

/// Random keys `key:%012d` below this (`redis-benchmark -r`).
pub const KEYSPACE: u64 = 1_000_000;
/// Concurrent connections (`redis-benchmark -c`).
pub const CLIENTS: u32 = 50;

pub struct Scenario {
    /// Table label and `--scenarios` filter key: `<test>-P<pipeline>-<size>`.
    pub name: String,
    /// redis-benchmark arguments selecting exactly one test: `-t get`, or a
    /// literal command such as `LPUSH mylist __rand_int__`.
    pub workload: Vec<String>,
    /// `-P`
    pub pipeline: u32,
    /// `-d`, and the value size of the pre-filled keys.
    pub value_size: usize,
    /// `-n` at full scale; a few seconds per run on a small machine.
    pub requests: u64,
    /// Whether every key of the keyspace holds a `value_size` string before
    /// the run (GETs hit, SETs overwrite); otherwise it starts empty.
    pub filled: bool,
}

impl Scenario {
    /// What the keyspace must hold before the run: scenarios sharing it run
    /// back to back after one fill.
    pub fn prep(&self) -> Option<usize> {
        self.filled.then_some(self.value_size)
    }

    /// Whether a `--scenarios` pattern selects this scenario: the whole
    /// name or a `-`-separated prefix of it (`get`, `get-P16`).
    pub fn matches(&self, pattern: &str) -> bool {
        self.name
            .strip_prefix(pattern)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('-'))
    }
}

pub fn all() -> Vec<Scenario> {
    let mut list = Vec::new();
    for test in ["get", "set"] {
        for (pipeline, requests) in [(1, 200_000), (16, 2_000_000)] {
            for (size, label) in [(64, "64"), (1024, "1k")] {
                list.push(Scenario {
                    name: format!("{test}-P{pipeline}-{label}"),
                    workload: vec!["-t".into(), test.into()],
                    pipeline,
                    value_size: size,
                    requests,
                    filled: true,
                });
            }
        }
    }
    list
}
