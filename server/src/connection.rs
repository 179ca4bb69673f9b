//! One client connection: read, run every complete command of the read in
//! order, send all their replies in one write.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use bytes::{Buf, BytesMut};
use slotcache_protocol::{ProtocolError, Reply, RequestParser};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::client::{Client, ClientHandle};
use crate::commands;
use crate::server::Server;
use crate::stats::BatchStats;

const READ_CHUNK: usize = 16 * 1024;
/// Replies are sent once this much is pending, even mid-batch, so a big
/// pipeline of large values does not pile up in memory.
const FLUSH_AT: usize = 256 * 1024;

/// Answers a connection that is not admitted, then closes it.
pub async fn refuse(mut stream: TcpStream, msg: &str) {
    let mut out = BytesMut::new();
    Reply::new(&mut out, false).error(msg);
    let _ = stream.write_all(&out).await;
}

enum Next {
    /// Everything parsed; read more.
    Read,
    /// Replies must go out before parsing continues.
    Flush,
    /// Send what is pending, then close.
    Close,
}

pub async fn serve(server: &Arc<Server>, mut stream: TcpStream, handle: Arc<ClientHandle>) {
    let auth_required = server.hot.auth_required.load(Relaxed);
    let mut client = Client::new(Arc::clone(&handle), !auth_required);
    let mut parser = RequestParser::new();
    let mut input = BytesMut::with_capacity(READ_CHUNK);
    let mut output = BytesMut::with_capacity(READ_CHUNK);
    let mut stats = BatchStats::default();
    loop {
        let next = run_batch(
            server,
            &mut client,
            &mut parser,
            &mut input,
            &mut output,
            &mut stats,
        );
        server.stats.add(&mut stats);
        if !output.is_empty() {
            server
                .stats
                .total_net_output_bytes
                .fetch_add(output.len() as u64, Relaxed);
            handle.output_buffer.store(output.len() as u64, Relaxed);
            if stream.write_all(&output).await.is_err() {
                return;
            }
            output.clear();
            handle.output_buffer.store(0, Relaxed);
        }
        match next {
            Next::Close => return,
            Next::Flush => continue,
            Next::Read => {}
        }
        if input.capacity() - input.len() < READ_CHUNK / 4 {
            input.reserve(READ_CHUNK);
        }
        let read = tokio::select! {
            read = stream.read_buf(&mut input) => read,
            _ = handle.killed() => return,
        };
        match read {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                server
                    .stats
                    .total_net_input_bytes
                    .fetch_add(n as u64, Relaxed);
                handle.query_buffer.store(input.len() as u64, Relaxed);
            }
        }
        if handle.is_killed() {
            return;
        }
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
) -> Next {
    if input.is_empty() {
        return Next::Read;
    }
    let (limits, query_limit) = server.request_limits();
    let mut shared = server.db.exclusive.read();
    let next = loop {
        match parser.parse(input, &limits) {
            Ok(Some(parsed)) => {
                let argv = parser.argv(input, &parsed);
                commands::execute(server, client, output, argv, stats, &mut shared);
                input.advance(parsed.consumed);
                if client.close_after_reply {
                    break Next::Close;
                }
                if output.len() >= FLUSH_AT {
                    break Next::Flush;
                }
            }
            Ok(None) => {
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
