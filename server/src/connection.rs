//! One client connection: read, run every complete command of the read in
//! order, write the replies. As in Redis, reading goes on while replies
//! wait to be written, so a client that sends its whole pipeline before it
//! reads a reply never deadlocks against the server; what a slow reader
//! makes the server hold is bounded by `client-output-buffer-limit`.

use std::io;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use slotcache_protocol::request::peek;
use slotcache_protocol::{ProtocolError, Reply, RequestParser};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::blocking::{self, Wake};
use crate::client::{Client, ClientHandle};
use crate::commands::{self, Executed};
use crate::pubsub;
use crate::server::Server;
use crate::stats::BatchStats;

const READ_CHUNK: usize = 16 * 1024;
/// A batch stops to send its replies once it has added this much, so a big
/// pipeline of large values goes out while it runs.
const FLUSH_AT: usize = 256 * 1024;
/// An empty buffer that grew past this (a huge value, a long pipeline) is
/// given back rather than kept for the connection's lifetime.
const KEEP_CAPACITY: usize = 4 * FLUSH_AT;
/// What an unauthenticated client may make the server hold (Redis 7).
const UNAUTH_QUERY_LIMIT: u64 = 1024 * 1024;

/// Answers a connection that is not admitted, then closes it.
pub async fn refuse(mut stream: TcpStream, msg: &str) {
    let mut out = BytesMut::new();
    Reply::new(&mut out, false).error(msg);
    let _ = stream.write_all(&out).await;
}

enum Next {
    /// Everything parsed; read more.
    Read,
    /// More complete commands are buffered: send what is ready, then go on.
    Flush,
    /// Send what is pending, then close.
    Close,
    /// Another batch holds `exclusive` alone: run the commands once it
    /// lets go, or its script turns busy.
    Wait,
    /// Writes are paused until this unix ms: run the commands then, or
    /// sooner if the pause is lifted.
    Paused(u64),
}

/// How often a connection held back by a write pause looks whether the
/// pause was lifted early (a manual failover ends as the new primary
/// takes over).
const PAUSE_POLL: Duration = Duration::from_millis(10);

pub async fn serve(server: &Arc<Server>, stream: TcpStream, handle: Arc<ClientHandle>) {
    let auth_required = server.hot.auth_required.load(Relaxed);
    let mut client = Client::new(Arc::clone(&handle), !auth_required);
    let mut parser = RequestParser::new();
    let mut input = BytesMut::with_capacity(READ_CHUNK);
    let mut output = BytesMut::with_capacity(READ_CHUNK);
    let mut stats = BatchStats::default();
    let mut limit = OutputLimit::default();
    let mut closing = false;
    // Input arrived, or commands were left, since the last batch.
    let mut to_parse = false;
    // Reads that found input, since one found none or the task yielded.
    let mut reads_in_a_row = 0u32;
    // Woken, having waited for `exclusive` (Scripts::admit).
    let mut waited = false;
    // One wait for CLIENT KILL for the connection's life: a new one per
    // pass would join and leave the signal's waiter list per request.
    let killed = handle.killed();
    tokio::pin!(killed);
    loop {
        let mut next = Next::Read;
        // Messages published before the commands just read go out before
        // their replies.
        if let Some(sub) = &mut client.pubsub {
            if !sub.drain(&mut Reply::new(&mut output, client.resp3)) {
                cut(server, &handle, output.len());
                return;
            }
        }
        // A blocked client's further commands wait in `input`; served, its
        // reply goes out first.
        if to_parse && !closing && client.blocked.as_ref().is_none_or(|b| b.woken()) {
            // Capacity is measured before the buffer drains: draining moves
            // its start, and an emptied buffer would reclaim it all.
            let big_input = input.capacity() > KEEP_CAPACITY;
            next = run_batch(
                server,
                &mut client,
                &mut parser,
                &mut input,
                &mut output,
                &mut stats,
                std::mem::take(&mut waited),
            );
            server.stats.add(&mut stats);
            client.publish_state();
            closing = matches!(next, Next::Close);
            to_parse = matches!(next, Next::Flush | Next::Wait | Next::Paused(_));
            if input.is_empty() && big_input {
                input = BytesMut::with_capacity(READ_CHUNK);
            }
        }
        let big_output = output.capacity() > KEEP_CAPACITY;
        if write_now(server, &stream, &mut output).is_err() {
            return;
        }
        handle.output_buffer.store(output.len() as u64, Relaxed);
        if output.is_empty() {
            limit.clear();
            if closing {
                return;
            }
            if big_output {
                output = BytesMut::with_capacity(READ_CHUNK);
            }
        } else {
            let class = if client.subscribed() {
                "pubsub"
            } else {
                "normal"
            };
            if limit.reached(server, output.len(), class) {
                cut(server, &handle, output.len());
                return;
            }
        }
        if matches!(next, Next::Flush) && client.blocked.is_none() {
            continue;
        }
        if input.capacity() - input.len() < READ_CHUNK / 4 {
            input.reserve(READ_CHUNK);
        }
        // A client whose input never runs dry must not keep the thread
        // from the others until tokio's budget runs out: as Redis serves
        // each ready client once per event-loop pass, it yields every
        // other read. A client that waits for its replies (the socket runs
        // dry in between) never pays for a yield.
        if reads_in_a_row >= 2 {
            reads_in_a_row = 0;
            tokio::task::yield_now().await;
        }
        let soft_deadline = limit.deadline();
        let mut woke = None;
        tokio::select! {
            ready = stream.readable(), if !closing => {
                if ready.is_err() {
                    return;
                }
                match stream.try_read_buf(&mut input) {
                    Ok(0) => return,
                    Ok(n) => {
                        server
                            .stats
                            .total_net_input_bytes
                            .fetch_add(n as u64, Relaxed);
                        handle.query_buffer.store(input.len() as u64, Relaxed);
                        to_parse = true;
                        reads_in_a_row += 1;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => reads_in_a_row = 0,
                    Err(_) => return,
                }
            }
            ready = stream.writable(), if !output.is_empty() => {
                if ready.is_err() {
                    return;
                }
            }
            _ = &mut killed => return,
            // Built lazily: a disabled branch's future is still built.
            _ = async { tokio::time::sleep_until(soft_deadline?.into()).await; Some(()) },
                if soft_deadline.is_some() => {}
            wake = blocking::wait(&client), if !matches!(next, Next::Wait) => woke = Some(wake),
            _ = pubsub::wait(&client) => {}
            _ = server.scripts.wait(&server.db), if matches!(next, Next::Wait) => waited = true,
            _ = pause_over(&next), if matches!(next, Next::Paused(_)) => {}
        }
        if handle.is_killed() {
            return;
        }
        match woke {
            Some(Wake::Ready) => to_parse = true,
            Some(Wake::Timeout) => {
                blocking::unblock(&mut client, &mut output);
                to_parse = true;
            }
            None => {}
        }
    }
}

/// Resolves when a connection held back by a write pause should try
/// again; never for one that is not.
async fn pause_over(next: &Next) {
    let Next::Paused(until) = *next else {
        return std::future::pending().await;
    };
    let left = Duration::from_millis(until.saturating_sub(crate::clock::unix_ms()));
    tokio::time::sleep(left.min(PAUSE_POLL)).await;
}

/// Writes as much of `output` as the socket takes without waiting.
fn write_now(server: &Server, stream: &TcpStream, output: &mut BytesMut) -> io::Result<()> {
    while !output.is_empty() {
        match stream.try_write(output) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                server
                    .stats
                    .total_net_output_bytes
                    .fetch_add(n as u64, Relaxed);
                output.advance(n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Closes a client over its output limit: counts it and says why.
fn cut(server: &Server, handle: &ClientHandle, pending: usize) {
    server
        .stats
        .client_output_buffer_limit_disconnections
        .fetch_add(1, Relaxed);
    tracing::warn!(
        "closing client {} for overcoming of output buffer limits ({pending} bytes pending)",
        handle.addr
    );
}

/// `client-output-buffer-limit` for the client's class, applied to replies
/// the client has not taken yet: at the hard limit the connection closes
/// at once; over the soft limit for soft-seconds without a break, too.
#[derive(Default)]
struct OutputLimit {
    /// Since when pending output has been over the soft limit, and when
    /// that becomes too long.
    soft: Option<(Instant, Instant)>,
}

impl OutputLimit {
    fn clear(&mut self) {
        self.soft = None;
    }

    /// True when the connection must be cut. Read only when replies wait,
    /// so clients that keep up never look at the configuration.
    fn reached(&mut self, server: &Server, pending: usize, class: &str) -> bool {
        let (hard, soft, soft_secs) = server.config.read().output_limit(class);
        let pending = pending as u64;
        if hard != 0 && pending >= hard {
            return true;
        }
        if soft == 0 || pending < soft {
            self.soft = None;
            return false;
        }
        let now = Instant::now();
        match self.soft {
            Some((since, _)) => now.duration_since(since) >= Duration::from_secs(soft_secs),
            None => {
                self.soft = Some((now, now + Duration::from_secs(soft_secs)));
                false
            }
        }
    }

    /// When to look again even if the socket stays stuck.
    fn deadline(&self) -> Option<Instant> {
        self.soft.map(|(_, at)| at)
    }
}

/// Runs the complete commands at the front of `input`.
fn run_batch(
    server: &Server,
    client: &mut Client,
    parser: &mut RequestParser,
    input: &mut BytesMut,
    output: &mut BytesMut,
    stats: &mut BatchStats,
    waited: bool,
) -> Next {
    match &client.blocked {
        Some(b) if b.woken() => blocking::unblock(client, output),
        Some(_) => return Next::Read,
        None => {}
    }
    if input.is_empty() {
        return Next::Read;
    }
    let (mut limits, query_limit) = server.request_limits();
    let flush_at = output.len() + FLUSH_AT;
    let Some(mut hold) = server.scripts.admit(&server.db, waited) else {
        return Next::Wait;
    };
    // Dropped before `hold`: a slot lock kept for a next command goes first.
    let _end = crate::db::BatchEnd;
    let next = loop {
        // AUTH earlier in the same pipeline lifts the limits for the rest.
        limits.unauthenticated = !client.authenticated;
        match parser.parse(input, &limits) {
            Ok(Some(parsed)) => {
                let rest = &input[parsed.consumed..];
                let next = peek(rest);
                let member = || next.arg_after_key(rest, commands::member_after_key(next.cmd?)?);
                let after = || next.len(rest).and_then(|len| peek(&rest[len..]).first_key);
                server.db.next_in_batch(next.first_key, member, after);
                let argv = parser.argv(input, &parsed);
                // One that must wait is left in the input.
                match commands::execute(server, client, output, argv, stats, &mut hold) {
                    Executed::Done => {}
                    Executed::WaitExclusive => break Next::Wait,
                    Executed::Paused(until) => break Next::Paused(until),
                }
                input.advance(parsed.consumed);
                if client.blocked.is_some() {
                    break Next::Flush;
                }
                if client.close_after_reply {
                    break Next::Close;
                }
                if output.len() >= flush_at {
                    break Next::Flush;
                }
            }
            Ok(None) => {
                let query_limit = if client.authenticated {
                    query_limit
                } else {
                    query_limit.min(UNAUTH_QUERY_LIMIT)
                };
                if (input.len() as u64) > query_limit {
                    server
                        .stats
                        .client_query_buffer_limit_disconnections
                        .fetch_add(1, Relaxed);
                    tracing::warn!(
                        "closing client {} that reached max query buffer length",
                        client.handle.addr
                    );
                    protocol_error(
                        output,
                        client.resp3,
                        &ProtocolError("query buffer limit exceeded".into()),
                    );
                    break Next::Close;
                }
                break Next::Read;
            }
            Err(e) => {
                tracing::debug!("protocol error from {}: {e}", client.handle.addr);
                protocol_error(output, client.resp3, &e);
                break Next::Close;
            }
        }
    };
    client
        .handle
        .last_active_ms
        .store(crate::clock::unix_ms(), Relaxed);
    next
}

fn protocol_error(output: &mut BytesMut, resp3: bool, e: &ProtocolError) {
    Reply::new(output, resp3).error(&format!("ERR {e}"));
}
