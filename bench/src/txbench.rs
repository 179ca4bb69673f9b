//! MULTI/EXEC load, which redis-benchmark cannot send (it repeats one
//! command). Measured as redis-benchmark measures: CLIENTS connections,
//! each keeping `pipeline` transactions in flight; a transaction's latency
//! is from sending its batch to reading its EXEC reply.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::scenario::{CLIENTS, KEYSPACE};

/// Transactions per second, and p50 and p99 latency in ms.
pub fn run(
    port: u16,
    transaction: &[Vec<String>],
    pipeline: u32,
    requests: u64,
) -> Result<(f64, f64, f64), String> {
    let per_client = requests.div_ceil(CLIENTS as u64).max(1);
    let started = Instant::now();
    let workers: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let transaction = transaction.to_vec();
            std::thread::spawn(move || client(port, i, &transaction, pipeline, per_client))
        })
        .collect();
    let mut latencies = Vec::new();
    for w in workers {
        latencies.extend(w.join().map_err(|_| "transaction client panicked")??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e3;
    Ok((latencies.len() as f64 / elapsed, at(0.5), at(0.99)))
}

fn client(
    port: u16,
    id: u32,
    transaction: &[Vec<String>],
    pipeline: u32,
    count: u64,
) -> Result<Vec<Duration>, String> {
    let stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connect: {e}"))?;
    let _ = stream.set_nodelay(true);
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    let mut conn = BufReader::with_capacity(64 * 1024, stream);
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    let mut rng = seed ^ (u64::from(id) + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let mut latencies = Vec::with_capacity(count as usize);
    let mut req = Vec::new();
    let mut line = Vec::new();
    while (latencies.len() as u64) < count {
        let batch = (count - latencies.len() as u64).min(u64::from(pipeline));
        req.clear();
        for _ in 0..batch {
            // One random number per transaction, as its commands go together.
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let rand = format!("{:012}", rng % KEYSPACE);
            for command in transaction {
                encode(&mut req, command, &rand);
            }
        }
        let sent = Instant::now();
        conn.get_mut()
            .write_all(&req)
            .map_err(|e| format!("write: {e}"))?;
        for _ in 0..batch {
            for _ in transaction {
                skip_reply(&mut conn, &mut line)?;
            }
            latencies.push(sent.elapsed());
        }
    }
    Ok(latencies)
}

fn encode(out: &mut Vec<u8>, args: &[String], rand: &str) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for arg in args {
        let arg = arg.replace("__rand_int__", rand);
        out.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
    }
}

/// Reads one whole reply; an error reply anywhere in it is an error.
fn skip_reply(conn: &mut BufReader<TcpStream>, line: &mut Vec<u8>) -> Result<(), String> {
    line.clear();
    match conn.read_until(b'\n', line) {
        Ok(0) => return Err("connection closed".into()),
        Ok(_) => {}
        Err(e) => return Err(format!("read: {e}")),
    }
    let text = String::from_utf8_lossy(line).trim_end().to_string();
    let count = |t: &str| t[1..].parse::<i64>().map_err(|_| format!("bad reply {t}"));
    match text.as_bytes().first() {
        Some(b'-') => Err(text),
        Some(b'*') => {
            for _ in 0..count(&text)?.max(0) {
                skip_reply(conn, line)?;
            }
            Ok(())
        }
        Some(b'$') => {
            let len = count(&text)?;
            if len >= 0 {
                let mut payload = vec![0; len as usize + 2];
                std::io::Read::read_exact(conn, &mut payload).map_err(|e| format!("read: {e}"))?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}
