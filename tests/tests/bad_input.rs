//! "Bad input and limits" of CONTRACT.md over raw sockets: each case checks
//! the exact reply Redis 7 gives, that the connection closes where Redis
//! closes it, and that a client connected before and the data stored
//! before are unharmed.

use std::io::Write;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use slotcache_tests::{resp, wait_until, Node, Raw};

/// A node with a client connected before the bad input, and data stored.
struct Bystander {
    con: redis::Connection,
}

impl Bystander {
    fn new(node: &Node) -> Bystander {
        let mut con = node.client();
        let _: () = redis::cmd("SET")
            .arg("kept")
            .arg("value")
            .query(&mut con)
            .unwrap();
        Bystander { con }
    }

    /// The earlier client still works and the data is intact.
    fn check(&mut self) {
        let pong: String = redis::cmd("PING").query(&mut self.con).unwrap();
        assert_eq!(pong, "PONG");
        let kept: String = redis::cmd("GET").arg("kept").query(&mut self.con).unwrap();
        assert_eq!(kept, "value");
    }

    fn info_field(&mut self, section: &str, field: &str) -> u64 {
        let info: String = redis::cmd("INFO")
            .arg(section)
            .query(&mut self.con)
            .unwrap();
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")))
            .unwrap_or_else(|| panic!("INFO {section} has no {field}"))
            .trim()
            .parse()
            .unwrap()
    }

    fn config_set(&mut self, name: &str, value: &str) {
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg(name)
            .arg(value)
            .query(&mut self.con)
            .unwrap();
    }
}

/// Sends `bytes` and expects exactly `reply`, then the server's close.
fn expect_reply_and_close(raw: &mut Raw, bytes: &[u8], reply: &str) {
    raw.send(bytes);
    let (got, closed) = raw.read_to_close();
    assert_eq!(
        String::from_utf8_lossy(&got),
        reply,
        "reply to {:?}",
        String::from_utf8_lossy(bytes)
    );
    assert!(closed, "connection left open after {reply:?}");
}

#[test]
fn malformed_resp_is_a_protocol_error_and_closes() {
    let node = Node::start(&[]);
    let mut by = Bystander::new(&node);
    let cases: &[(&[u8], &str)] = &[
        (
            b"*2\r\n:1\r\n",
            "-ERR Protocol error: expected '$', got ':'\r\n",
        ),
        (
            b"*x\r\n",
            "-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*01\r\n",
            "-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*1\r\n$-5\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\n$x\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"SET a \"b c\r\n",
            "-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
        (
            b"SET a 'b'c\r\n",
            "-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
        // Commands before the bad one are answered first.
        (
            b"PING\r\n*1\r\n$4\r\nPING\r\n*3\r\nfoo",
            "+PONG\r\n+PONG\r\n-ERR Protocol error: expected '$', got 'f'\r\n",
        ),
    ];
    for (bytes, reply) in cases {
        expect_reply_and_close(&mut node.raw(), bytes, reply);
        by.check();
    }
    // A header line of more than 64 KB without its end.
    let mut raw = node.raw();
    let mut long = b"*1".to_vec();
    long.resize(64 * 1024 + 10, b'1');
    expect_reply_and_close(
        &mut raw,
        &long,
        "-ERR Protocol error: too big mbulk count string\r\n",
    );
    let mut inline = vec![b'a'; 64 * 1024 + 10];
    inline.extend_from_slice(b"\r\n");
    expect_reply_and_close(
        &mut node.raw(),
        &inline,
        "-ERR Protocol error: too big inline request\r\n",
    );
    by.check();
}

#[test]
fn bulk_longer_than_proto_max_bulk_len() {
    let node = Node::start(&[]);
    let mut by = Bystander::new(&node);
    expect_reply_and_close(
        &mut node.raw(),
        b"*2\r\n$3\r\nGET\r\n$536870913\r\n",
        "-ERR Protocol error: invalid bulk length\r\n",
    );
    by.check();

    by.config_set("proto-max-bulk-len", "1mb");
    expect_reply_and_close(
        &mut node.raw(),
        b"*2\r\n$4\r\nECHO\r\n$1048577\r\n",
        "-ERR Protocol error: invalid bulk length\r\n",
    );
    by.check();
    // Exactly the limit is fine.
    let big = vec![b'x'; 1024 * 1024];
    let mut raw = node.raw();
    let mut expected = b"$1048576\r\n".to_vec();
    expected.extend_from_slice(&big);
    expected.extend_from_slice(b"\r\n");
    raw.send(&resp(&[b"ECHO", &big]));
    assert!(raw.read_exact_len(expected.len()) == expected);
    // 1mb is the minimum.
    let below: redis::RedisResult<()> = redis::cmd("CONFIG")
        .arg("SET")
        .arg("proto-max-bulk-len")
        .arg("1048575")
        .query(&mut by.con);
    assert!(below.is_err(), "proto-max-bulk-len below 1mb accepted");
    let got: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("proto-max-bulk-len")
        .query(&mut by.con)
        .unwrap();
    assert_eq!(got, ["proto-max-bulk-len", "1048576"]);
    by.check();
}

#[test]
fn multibulk_of_more_than_a_million_items() {
    let node = Node::start(&[]);
    let mut by = Bystander::new(&node);
    expect_reply_and_close(
        &mut node.raw(),
        b"*1048577\r\n",
        "-ERR Protocol error: invalid multibulk length\r\n",
    );
    by.check();
    // 1,048,576 items parse: ECHO then answers about its arity.
    let mut request = b"*1048576\r\n$4\r\nECHO\r\n".to_vec();
    for _ in 1..1048576 {
        request.extend_from_slice(b"$1\r\na\r\n");
    }
    let mut raw = node.raw();
    let expected = b"-ERR wrong number of arguments for 'echo' command\r\n";
    assert_eq!(
        raw.roundtrip(&request, expected),
        String::from_utf8_lossy(expected)
    );
    assert_eq!(raw.roundtrip(b"PING\r\n", b"+PONG\r\n"), "+PONG\r\n");
    by.check();
}

#[test]
fn query_buffer_over_the_limit_closes() {
    let node = Node::start(&[]);
    let mut by = Bystander::new(&node);
    by.config_set("client-query-buffer-limit", "1mb");
    let limit = 1024 * 1024;
    // A partial SET whose value would be 2 MB: one byte over the limit is
    // sent, so the server has read everything when it closes.
    let mut partial = b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$2000000\r\n".to_vec();
    partial.resize(limit + 1, b'v');
    let mut raw = node.raw();
    for chunk in partial.chunks(64 * 1024) {
        if raw.stream.write_all(chunk).is_err() {
            break;
        }
    }
    let (got, closed) = raw.read_to_close();
    assert_eq!(
        String::from_utf8_lossy(&got),
        "-ERR Protocol error: query buffer limit exceeded\r\n"
    );
    assert!(closed);
    assert_eq!(
        by.info_field("stats", "client_query_buffer_limit_disconnections"),
        1
    );
    let exists: i64 = redis::cmd("EXISTS").arg("big").query(&mut by.con).unwrap();
    assert_eq!(exists, 0);
    by.check();
    // Under the limit a partial command just waits for the rest.
    let value = vec![b'v'; 900 * 1024];
    let request = resp(&[b"SET", b"big", &value]);
    let mut raw = node.raw();
    raw.send(&request[..800 * 1024]);
    thread::sleep(Duration::from_millis(100));
    assert_eq!(raw.roundtrip(&request[800 * 1024..], b"+OK\r\n"), "+OK\r\n");
    by.check();
}

#[test]
fn maxclients_refuses_the_next_connection() {
    let node = Node::start(&["--maxclients", "3"]);
    let mut by = Bystander::new(&node);
    // The harness's readiness probes may still be registered for a moment.
    wait_until(
        Duration::from_secs(5),
        "only the bystander connected",
        || by.info_field("clients", "connected_clients") == 1,
    );
    let mut second = node.raw();
    let mut third = node.raw();
    assert_eq!(second.roundtrip(b"PING\r\n", b"+PONG\r\n"), "+PONG\r\n");
    assert_eq!(third.roundtrip(b"PING\r\n", b"+PONG\r\n"), "+PONG\r\n");
    let mut fourth = node.raw();
    let (got, closed) = fourth.read_to_close();
    assert_eq!(
        String::from_utf8_lossy(&got),
        "-ERR max number of clients reached\r\n"
    );
    assert!(closed);
    // Earlier connections keep working.
    assert_eq!(second.roundtrip(b"PING\r\n", b"+PONG\r\n"), "+PONG\r\n");
    by.check();
    assert_eq!(by.info_field("stats", "rejected_connections"), 1);
    // A place freed is a place taken.
    drop(third);
    wait_until(Duration::from_secs(5), "the third client is gone", || {
        by.info_field("clients", "connected_clients") == 2
    });
    let mut again = node.raw();
    assert_eq!(again.roundtrip(b"PING\r\n", b"+PONG\r\n"), "+PONG\r\n");
}

/// Pipelines `GET big` on a socket that never reads; returns how long the
/// server took to count an output-buffer disconnection.
fn slow_reader_is_cut(node: &Node, by: &mut Bystander) -> (Raw, Duration) {
    let value = vec![b'v'; 512 * 1024];
    let _: () = redis::cmd("SET")
        .arg("big")
        .arg(&value)
        .query(&mut by.con)
        .unwrap();
    let before = by.info_field("stats", "client_output_buffer_limit_disconnections");
    let mut slow = node.raw();
    let started = Instant::now();
    slow.send(&resp(&[b"GET", b"big"]).repeat(100));
    wait_until(Duration::from_secs(10), "the slow reader is cut", || {
        // Meanwhile another client is served as usual.
        by.check();
        by.info_field("stats", "client_output_buffer_limit_disconnections") == before + 1
    });
    (slow, started.elapsed())
}

/// Reads what the server sent before it cut the connection.
fn assert_cut(mut slow: Raw) {
    let (got, closed) = slow.read_to_close();
    assert!(closed, "slow reader still connected");
    assert!(got.len() < 100 * 512 * 1024, "every reply was delivered");
}

#[test]
fn slow_reader_cut_at_the_hard_limit() {
    let node = Node::start(&[]);
    let mut by = Bystander::new(&node);
    by.config_set("client-output-buffer-limit", "normal 1mb 512kb 1");
    let (slow, _) = slow_reader_is_cut(&node, &mut by);
    assert_cut(slow);
    by.check();
}

#[test]
fn slow_reader_cut_after_soft_seconds() {
    let node = Node::start(&[]);
    let mut by = Bystander::new(&node);
    by.config_set("client-output-buffer-limit", "normal 0 512kb 1");
    let (slow, took) = slow_reader_is_cut(&node, &mut by);
    assert!(
        took >= Duration::from_secs(1),
        "cut after {took:?}, before soft-seconds"
    );
    assert_cut(slow);
    by.check();
}

#[test]
fn whole_pipeline_sent_before_reading_does_not_deadlock() {
    // 32 MB of requests whose replies are as big: with no output limit the
    // server must keep reading while replies wait, as Redis does.
    let node = Node::start(&[]);
    let mut by = Bystander::new(&node);
    let value = vec![b'e'; 64 * 1024];
    let request = resp(&[b"ECHO", &value]).repeat(500);
    let mut one = format!("${}\r\n", value.len()).into_bytes();
    one.extend_from_slice(&value);
    one.extend_from_slice(b"\r\n");
    let mut raw = node.raw();
    let (done_tx, done_rx) = mpsc::channel();
    thread::spawn(move || {
        raw.send(&request);
        let got = raw.read_exact_len(one.len() * 500);
        let _ = done_tx.send(got == one.repeat(500));
    });
    let all_right = done_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("client and server deadlocked");
    assert!(all_right, "replies differ");
    by.check();
}

#[test]
fn writes_over_maxmemory_under_noeviction_get_oom() {
    let node = Node::start(&["--maxmemory-policy", "noeviction"]);
    let mut by = Bystander::new(&node);
    let used = by.info_field("memory", "used_memory");
    by.config_set("maxmemory", &(used + 1024 * 1024).to_string());
    let mut raw = node.raw();
    let value = vec![b'x'; 10 * 1024];
    let oom = "-OOM command not allowed when used memory > 'maxmemory'.\r\n";
    let mut stored = 0;
    loop {
        let key = format!("fill:{stored}");
        let reply = raw.roundtrip(&resp(&[b"SET", key.as_bytes(), &value]), b"+OK\r\n");
        if reply != "+OK\r\n" {
            // "+OK\r\n" is 5 bytes; read the rest of the error.
            let rest = raw.read_exact_len(oom.len() - reply.len());
            assert_eq!(reply + &String::from_utf8_lossy(&rest), oom);
            break;
        }
        stored += 1;
        assert!(stored < 10_000, "no OOM after {stored} writes");
    }
    assert!(stored > 0, "OOM before any write");
    // Other writes that may grow memory are refused too.
    let reply = raw.roundtrip(&resp(&[b"APPEND", b"kept", b"more"]), oom.as_bytes());
    assert_eq!(reply, oom);
    // Reads and DEL still work; data is intact.
    let mut expected = format!("${}\r\n", value.len()).into_bytes();
    expected.extend_from_slice(&value);
    expected.extend_from_slice(b"\r\n");
    raw.send(&resp(&[b"GET", b"fill:0"]));
    assert!(raw.read_exact_len(expected.len()) == expected);
    assert_eq!(
        raw.roundtrip(&resp(&[b"DEL", b"fill:0"]), b":1\r\n"),
        ":1\r\n"
    );
    by.check();
}

#[test]
fn inline_commands_as_telnet_sends_them() {
    let node = Node::start(&[]);
    let mut by = Bystander::new(&node);
    let mut raw = node.raw();
    assert_eq!(raw.roundtrip(b"PING\r\n", b"+PONG\r\n"), "+PONG\r\n");
    assert_eq!(raw.roundtrip(b"SET a \"b c\"\r\n", b"+OK\r\n"), "+OK\r\n");
    assert_eq!(
        raw.roundtrip(b"GET a\r\n", b"$3\r\nb c\r\n"),
        "$3\r\nb c\r\n"
    );
    // Blank lines are skipped, bare \n ends a line, escapes are decoded.
    assert_eq!(
        raw.roundtrip(b"\r\n\r\n  \r\nPING\n", b"+PONG\r\n"),
        "+PONG\r\n"
    );
    assert_eq!(
        raw.roundtrip(b"ECHO \"x\\ty\\x41\" \r\n", b"$4\r\nx\tyA\r\n"),
        "$4\r\nx\tyA\r\n"
    );
    assert_eq!(
        raw.roundtrip(b"ECHO 'it\\'s'\r\n", b"$4\r\nit's\r\n"),
        "$4\r\nit's\r\n"
    );
    // A command split across writes is assembled.
    raw.send(b"GE");
    thread::sleep(Duration::from_millis(50));
    assert_eq!(raw.roundtrip(b"T a\r\n", b"$3\r\nb c\r\n"), "$3\r\nb c\r\n");
    by.check();
}

#[test]
fn unauthenticated_clients_send_only_small_requests() {
    let node = Node::start(&["--requirepass", "secret"]);
    let mut by = {
        let client =
            redis::Client::open(format!("redis://:secret@127.0.0.1:{}/", node.port)).unwrap();
        let mut con = client.get_connection().unwrap();
        let _: () = redis::cmd("SET")
            .arg("kept")
            .arg("value")
            .query(&mut con)
            .unwrap();
        Bystander { con }
    };
    expect_reply_and_close(
        &mut node.raw(),
        b"*11\r\n",
        "-ERR Protocol error: unauthenticated multibulk length\r\n",
    );
    expect_reply_and_close(
        &mut node.raw(),
        b"*2\r\n$4\r\nAUTH\r\n$16385\r\n",
        "-ERR Protocol error: unauthenticated bulk length\r\n",
    );
    by.check();
    // AUTH lifts the limits for the rest of the same pipeline.
    let big = vec![b'b'; 20_000];
    let mut request = resp(&[b"AUTH", b"secret"]);
    request.extend_from_slice(&resp(&[b"ECHO", &big]));
    let mut expected = b"+OK\r\n$20000\r\n".to_vec();
    expected.extend_from_slice(&big);
    expected.extend_from_slice(b"\r\n");
    let mut raw = node.raw();
    raw.send(&request);
    assert!(raw.read_exact_len(expected.len()) == expected);
    by.check();
}
