//! Feeds arbitrary bytes to `RequestParser::parse`, whole and cut at
//! arbitrary points, and checks: no panic, `consumed` never exceeds the
//! input, and both ways give the same commands and the same outcome.
//! How to run: see the comment at the top of fuzz/Cargo.toml.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slotcache_protocol::{RequestLimits, RequestParser};

type Command = Vec<Vec<u8>>;

/// The commands parsed from `chunks` fed one after another, then the final
/// state: the error, or how many bytes were left waiting for more input.
fn run(chunks: &[&[u8]], limits: &RequestLimits) -> (Vec<Command>, Result<usize, String>) {
    let mut parser = RequestParser::new();
    let mut buf = Vec::new();
    let mut commands = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        loop {
            match parser.parse(&buf, limits) {
                Ok(Some(parsed)) => {
                    assert!(parsed.consumed > 0, "a command consumed nothing");
                    assert!(parsed.consumed <= buf.len(), "consumed beyond the input");
                    let argv = parser.argv(&buf, &parsed);
                    assert!(!argv.is_empty(), "an empty command was returned");
                    commands.push(argv.iter().map(<[u8]>::to_vec).collect());
                    buf.drain(..parsed.consumed);
                }
                Ok(None) => break,
                Err(e) => return (commands, Err(e.0)),
            }
        }
    }
    (commands, Ok(buf.len()))
}

fuzz_target!(|data: &[u8]| {
    // Header: 1 byte of limits, 1 byte of cut count, then 4 bytes per cut.
    let [flags, cuts, rest @ ..] = data else {
        return;
    };
    let ncuts = (*cuts % 16) as usize;
    if rest.len() < ncuts * 4 {
        return;
    }
    let (cut_bytes, input) = rest.split_at(ncuts * 4);
    let limits = RequestLimits {
        // Small limits now and then, so the limit paths are reached.
        max_bulk_len: if flags & 1 != 0 {
            (flags >> 2) as usize * 8
        } else {
            512 << 20
        },
        max_multibulk_len: if flags & 2 != 0 {
            (flags >> 4) as usize
        } else {
            1 << 20
        },
        unauthenticated: flags & 0x80 != 0,
    };
    let mut points: Vec<usize> = cut_bytes
        .chunks(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as usize % (input.len() + 1))
        .collect();
    points.sort_unstable();
    let mut pieces = Vec::new();
    let mut at = 0;
    for p in points {
        pieces.push(&input[at..p]);
        at = p;
    }
    pieces.push(&input[at..]);

    let whole = run(&[input], &limits);
    let split = run(&pieces, &limits);
    assert_eq!(whole, split, "whole and split input disagree");
    // Byte by byte too, for short inputs (quadratic).
    if input.len() <= 256 {
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(whole, run(&bytes, &limits), "byte-by-byte input disagrees");
    }
});
