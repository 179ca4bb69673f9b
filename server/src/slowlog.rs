//! SLOWLOG: the most recent commands that ran longer than
//! `slowlog-log-slower-than` microseconds.

use std::collections::VecDeque;

pub struct SlowEntry {
    pub id: u64,
    pub unix_secs: u64,
    pub micros: u64,
    pub args: Vec<Vec<u8>>,
    pub peer: String,
    pub name: String,
}

#[derive(Default)]
pub struct SlowLog {
    next_id: u64,
    pub entries: VecDeque<SlowEntry>,
}

/// Redis keeps at most 32 arguments of 128 bytes each.
const MAX_ARGS: usize = 32;
const MAX_ARG_LEN: usize = 128;

impl SlowLog {
    pub fn push<'a>(
        &mut self,
        args: impl ExactSizeIterator<Item = &'a [u8]>,
        micros: u64,
        peer: String,
        name: String,
        max_len: usize,
    ) {
        let total = args.len();
        let mut kept: Vec<Vec<u8>> = Vec::new();
        for (i, arg) in args.enumerate() {
            if i == MAX_ARGS - 1 && total > MAX_ARGS {
                kept.push(format!("... ({} more arguments)", total - MAX_ARGS + 1).into_bytes());
                break;
            }
            if arg.len() > MAX_ARG_LEN {
                let mut cut = arg[..MAX_ARG_LEN].to_vec();
                cut.extend_from_slice(
                    format!("... ({} more bytes)", arg.len() - MAX_ARG_LEN).as_bytes(),
                );
                kept.push(cut);
            } else {
                kept.push(arg.to_vec());
            }
        }
        self.entries.push_front(SlowEntry {
            id: self.next_id,
            unix_secs: crate::clock::unix_ms() / 1000,
            micros,
            args: kept,
            peer,
            name,
        });
        self.next_id += 1;
        self.entries.truncate(max_len);
    }
}
