//! Pub/Sub through real clients: the `redis` crate's subscriber in RESP2
//! and RESP3, the exact frames on a raw socket, what a RESP2 subscriber
//! may send, PUBSUB introspection, and a slow subscriber cut at its output
//! limit while the publisher goes on unhindered.

mod reference;
mod replies;

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use redis::{Connection, PushKind, Value};
use replies::Wire;
use slotcache_tests::{wait_until, Node};

fn q<T: redis::FromRedisValue>(con: &mut Connection, name: &str, args: &[&str]) -> T {
    let mut c = redis::cmd(name);
    for a in args {
        c.arg(*a);
    }
    c.query(con)
        .unwrap_or_else(|e| panic!("{name} {args:?}: {e}"))
}

fn publish(con: &mut Connection, channel: &str, message: &str) -> i64 {
    q(con, "PUBLISH", &[channel, message])
}

/// A RESP2 push or reply of bulk strings and integers, as sent.
fn frame(items: &[&str]) -> String {
    let mut out = format!("*{}\r\n", items.len());
    for i in items {
        match i.strip_prefix(':') {
            Some(n) => out.push_str(&format!(":{n}\r\n")),
            None => out.push_str(&format!("${}\r\n{i}\r\n", i.len())),
        }
    }
    out
}

fn numsub(con: &mut Connection, channel: &str) -> i64 {
    let (_, n): (String, i64) = q(con, "PUBSUB", &["NUMSUB", channel]);
    n
}

#[test]
fn resp2_subscriber_of_the_redis_crate() {
    let node = Node::start(&[]);
    let mut publisher = node.client();
    let mut sub_con = node.client();
    let mut sub = sub_con.as_pubsub();
    sub.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    sub.subscribe("news").unwrap();
    sub.psubscribe("n*").unwrap();
    assert_eq!(publish(&mut publisher, "news", "hello"), 2);
    assert_eq!(publish(&mut publisher, "other", "x"), 0);
    assert_eq!(publish(&mut publisher, "nx", "y"), 1);

    let mut got = Vec::new();
    for _ in 0..3 {
        let m = sub.get_message().unwrap();
        let pattern: Option<String> = m.get_pattern().ok();
        got.push((
            pattern,
            m.get_channel_name().to_string(),
            m.get_payload::<String>().unwrap(),
        ));
    }
    let s = |v: &str| v.to_string();
    assert_eq!(
        got,
        [
            (None, s("news"), s("hello")),
            (Some(s("n*")), s("news"), s("hello")),
            (Some(s("n*")), s("nx"), s("y")),
        ]
    );
    sub.unsubscribe("news").unwrap();
    assert_eq!(publish(&mut publisher, "news", "again"), 1);
    let m = sub.get_message().unwrap();
    assert_eq!(m.get_pattern::<String>().unwrap(), "n*");
}

#[test]
fn resp2_frames_and_what_a_subscriber_may_send() {
    let node = Node::start(&[]);
    let mut publisher = node.client();
    let mut w = Wire::connect(&node);
    assert_eq!(
        w.call(&["UNSUBSCRIBE"]),
        "*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n"
    );
    assert_eq!(
        w.call(&["PUNSUBSCRIBE"]),
        "*3\r\n$12\r\npunsubscribe\r\n$-1\r\n:0\r\n"
    );
    w.send(&["SUBSCRIBE", "a", "b", "a"]);
    assert_eq!(w.reply(), frame(&["subscribe", "a", ":1"]));
    assert_eq!(w.reply(), frame(&["subscribe", "b", ":2"]));
    assert_eq!(w.reply(), frame(&["subscribe", "a", ":2"]));
    assert_eq!(w.call(&["PING"]), frame(&["pong", ""]));
    assert_eq!(w.call(&["PING", "hi"]), frame(&["pong", "hi"]));
    assert_eq!(
        w.call(&["GET", "k"]),
        "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n"
    );
    assert_eq!(
        w.call(&["CLIENT", "LIST"]),
        "-ERR Can't execute 'client|list': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n"
    );
    assert_eq!(
        w.call(&["PSUBSCRIBE", "p*"]),
        frame(&["psubscribe", "p*", ":3"])
    );

    assert_eq!(publish(&mut publisher, "a", "m1"), 1);
    assert_eq!(w.reply(), frame(&["message", "a", "m1"]));
    assert_eq!(publish(&mut publisher, "pq", "m2"), 1);
    assert_eq!(w.reply(), frame(&["pmessage", "p*", "pq", "m2"]));
    let binary = "bin\r\nary";
    assert_eq!(publish(&mut publisher, "b", binary), 1);
    assert_eq!(w.reply(), frame(&["message", "b", binary]));

    assert_eq!(
        w.call(&["UNSUBSCRIBE", "x"]),
        frame(&["unsubscribe", "x", ":3"])
    );
    w.send(&["UNSUBSCRIBE"]);
    // Every channel, in no particular order, counting down.
    let (first, second) = (w.reply(), w.reply());
    let (x, y) = if first.contains("\r\na\r\n") {
        ("a", "b")
    } else {
        ("b", "a")
    };
    assert_eq!(first, frame(&["unsubscribe", x, ":2"]));
    assert_eq!(second, frame(&["unsubscribe", y, ":1"]));
    // No channel left, a pattern still: a null name and the count left.
    assert_eq!(
        w.call(&["UNSUBSCRIBE"]),
        "*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:1\r\n"
    );
    assert_eq!(
        w.call(&["PUNSUBSCRIBE"]),
        frame(&["punsubscribe", "p*", ":0"])
    );
    assert_eq!(w.call(&["GET", "k"]), "$-1\r\n", "out of subscribed mode");
    assert_eq!(publish(&mut publisher, "a", "gone"), 0);

    // RESET leaves subscribed mode too; QUIT is allowed in it.
    w.call(&["SUBSCRIBE", "c"]);
    assert_eq!(w.call(&["RESET"]), "+RESET\r\n");
    assert_eq!(w.call(&["GET", "k"]), "$-1\r\n");
    assert_eq!(numsub(&mut publisher, "c"), 0);
    w.call(&["SUBSCRIBE", "c"]);
    assert_eq!(w.call(&["QUIT"]), "+OK\r\n");
    let (_, closed) = w.raw.read_to_close();
    assert!(closed);
    wait_until(
        Duration::from_secs(5),
        "the closed subscriber is gone",
        || numsub(&mut publisher, "c") == 0,
    );
}

#[test]
fn resp3_subscribers_get_pushes_and_may_run_anything() {
    let node = Node::start(&[]);
    let mut publisher = node.client();
    let mut w = Wire::connect(&node);
    assert!(w.call(&["HELLO", "3"]).starts_with('%'));
    assert_eq!(
        w.call(&["SUBSCRIBE", "a"]),
        ">3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n"
    );
    assert_eq!(w.call(&["GET", "k"]), "_\r\n");
    assert_eq!(w.call(&["PING"]), "+PONG\r\n");
    assert_eq!(publish(&mut publisher, "a", "hi"), 1);
    assert_eq!(w.reply(), ">3\r\n$7\r\nmessage\r\n$1\r\na\r\n$2\r\nhi\r\n");
    assert_eq!(
        w.call(&["PSUBSCRIBE", "*"]),
        ">3\r\n$10\r\npsubscribe\r\n$1\r\n*\r\n:2\r\n"
    );
    // A client on both a channel and a matching pattern gets both.
    assert_eq!(publish(&mut publisher, "a", "x"), 2);
    let mut both = [w.reply(), w.reply()];
    both.sort();
    assert_eq!(
        both,
        [
            ">3\r\n$7\r\nmessage\r\n$1\r\na\r\n$1\r\nx\r\n".to_string(),
            ">4\r\n$8\r\npmessage\r\n$1\r\n*\r\n$1\r\na\r\n$1\r\nx\r\n".to_string(),
        ]
    );
    // It may publish to itself.
    assert_eq!(w.call(&["PUBLISH", "b", "self"]), ":1\r\n");
    assert_eq!(
        w.reply(),
        ">4\r\n$8\r\npmessage\r\n$1\r\n*\r\n$1\r\nb\r\n$4\r\nself\r\n"
    );
    assert_eq!(
        w.call(&["UNSUBSCRIBE"]),
        ">3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:1\r\n"
    );
    assert_eq!(
        w.call(&["UNSUBSCRIBE"]),
        ">3\r\n$11\r\nunsubscribe\r\n_\r\n:1\r\n"
    );
}

#[test]
fn resp3_subscriber_of_the_redis_crate() {
    let node = Node::start(&[]);
    let mut publisher = node.client();
    let client = redis::Client::open(format!("{}?protocol=resp3", node.url())).unwrap();
    let mut sub = client
        .get_connection_with_timeout(Duration::from_secs(5))
        .unwrap();
    let (tx, rx) = mpsc::channel();
    sub.set_push_sender(tx);
    sub.subscribe_resp3("events").unwrap();
    // Pushes are read along with replies.
    assert_eq!(q::<String>(&mut sub, "PING", &[]), "PONG");
    assert_eq!(publish(&mut publisher, "events", "e1"), 1);
    wait_until(Duration::from_secs(5), "the message arrived", || {
        q::<String>(&mut sub, "PING", &[]) == "PONG"
            && rx.try_iter().any(|p| {
                p.kind == PushKind::Message
                    && p.data
                        == [
                            Value::BulkString(b"events".to_vec()),
                            Value::BulkString(b"e1".to_vec()),
                        ]
            })
    });
}

#[test]
fn pubsub_introspection() {
    let node = Node::start(&[]);
    let mut con = node.client();
    let mut a = Wire::connect(&node);
    a.send(&["SUBSCRIBE", "alpha", "beta"]);
    a.reply();
    a.reply();
    let mut b = Wire::connect(&node);
    b.call(&["SUBSCRIBE", "alpha"]);
    b.send(&["PSUBSCRIBE", "x*", "y*"]);
    b.reply();
    b.reply();
    let mut c = Wire::connect(&node);
    c.call(&["PSUBSCRIBE", "x*"]);

    let mut channels: Vec<String> = q(&mut con, "PUBSUB", &["CHANNELS"]);
    channels.sort();
    assert_eq!(channels, ["alpha", "beta"]);
    assert_eq!(
        q::<Vec<String>>(&mut con, "PUBSUB", &["CHANNELS", "a*"]),
        ["alpha"]
    );
    assert!(q::<Vec<String>>(&mut con, "PUBSUB", &["CHANNELS", "z*"]).is_empty());
    let counts: Vec<Value> = q(&mut con, "PUBSUB", &["NUMSUB", "alpha", "beta", "gamma"]);
    assert_eq!(
        counts,
        [
            Value::BulkString(b"alpha".to_vec()),
            Value::Int(2),
            Value::BulkString(b"beta".to_vec()),
            Value::Int(1),
            Value::BulkString(b"gamma".to_vec()),
            Value::Int(0),
        ]
    );
    assert!(q::<Vec<Value>>(&mut con, "PUBSUB", &["NUMSUB"]).is_empty());
    assert_eq!(
        q::<i64>(&mut con, "PUBSUB", &["NUMPAT"]),
        2,
        "distinct patterns"
    );
    let info: String = q(&mut con, "INFO", &["stats"]);
    assert!(
        info.contains("pubsub_channels:2\r\npubsub_patterns:2\r\n"),
        "{info}"
    );
    assert_eq!(publish(&mut con, "xa", "m"), 2);
    let e = redis::cmd("PUBSUB")
        .arg("CHANNELS")
        .arg("a")
        .arg("b")
        .query::<Value>(&mut con)
        .unwrap_err();
    assert_eq!(
        e.detail(),
        Some("unknown subcommand or wrong number of arguments for 'CHANNELS'. Try PUBSUB HELP.")
    );
    let help: Vec<String> = q(&mut con, "PUBSUB", &["HELP"]);
    assert!(help.iter().any(|l| l.starts_with("NUMSUB")));

    drop(b);
    wait_until(Duration::from_secs(5), "b's subscriptions are gone", || {
        numsub(&mut con, "alpha") == 1 && q::<i64>(&mut con, "PUBSUB", &["NUMPAT"]) == 1
    });
    assert_eq!(publish(&mut con, "xa", "m"), 1);
    assert_eq!(c.reply(), frame(&["pmessage", "x*", "xa", "m"]));
}

#[test]
fn a_slow_subscriber_is_cut_while_the_publisher_goes_on() {
    let node = Node::start(&[]);
    let mut publisher = node.client();
    q::<String>(
        &mut publisher,
        "CONFIG",
        &["SET", "client-output-buffer-limit", "pubsub 4mb 0 0"],
    );
    // Subscribes, then never reads again.
    let mut slow = Wire::connect(&node);
    slow.call(&["SUBSCRIBE", "feed"]);
    // Keeps reading everything, on its own thread.
    let mut fast = Wire::connect(&node);
    fast.call(&["SUBSCRIBE", "feed"]);
    let messages = 300;
    let received = Arc::new(AtomicUsize::new(0));
    let reader = {
        let received = Arc::clone(&received);
        std::thread::spawn(move || {
            while fast
                .try_reply()
                .is_some_and(|m| m.starts_with("*3\r\n$7\r\nmessage"))
            {
                received.fetch_add(1, Relaxed);
            }
        })
    };

    let payload = "p".repeat(100 * 1024);
    let mut slowest = Duration::ZERO;
    let started = Instant::now();
    let mut receivers = Vec::new();
    for i in 0..messages {
        // The fast subscriber stays within 1mb of the publisher, well
        // inside its limit, however slowly this test build reads.
        wait_until(
            Duration::from_secs(10),
            "the fast subscriber keeps up",
            || received.load(Relaxed) + 10 >= i,
        );
        let t = Instant::now();
        receivers.push(publish(&mut publisher, "feed", &payload));
        slowest = slowest.max(t.elapsed());
    }
    assert!(
        slowest < Duration::from_secs(1),
        "a PUBLISH took {slowest:?} (total {:?})",
        started.elapsed()
    );
    assert_eq!(receivers[0], 2);
    assert_eq!(*receivers.last().unwrap(), 1, "the slow subscriber was cut");
    wait_until(
        Duration::from_secs(10),
        "the fast subscriber got everything",
        || received.load(Relaxed) == messages,
    );
    assert_eq!(numsub(&mut publisher, "feed"), 1);
    let info: String = q(&mut publisher, "INFO", &["stats"]);
    assert!(
        info.contains("client_output_buffer_limit_disconnections:1\r\n"),
        "{info}"
    );
    let (_, closed) = slow.raw.read_to_close();
    assert!(closed);
    drop(publisher);
    drop(node);
    reader.join().unwrap();
}

/// Sharded Pub/Sub in RESP2 and RESP3 against redis-server, byte for byte:
/// confirmations count shard channels alone, messages are `smessage`,
/// patterns and PUBLISH do not cross into it, SSUBSCRIBE is refused in
/// MULTI where SUBSCRIBE is not.
fn shard_transcript(port: u16) -> Vec<String> {
    let mut wires = [Wire::at(port), Wire::at(port), Wire::at(port)];
    let mut out = Vec::new();
    // (connection: 0 subscribes, 1 publishes, 2 in RESP3; command;
    // replies it gets)
    let script: &[(usize, &[&str], usize)] = &[
        (0, &["SSUBSCRIBE", "a", "b"], 2),
        (0, &["SUBSCRIBE", "c"], 1),
        (0, &["PSUBSCRIBE", "*"], 1),
        (0, &["GET", "x"], 1),
        (1, &["SPUBLISH", "a", "m1"], 1),
        (0, &[], 1),
        (1, &["PUBLISH", "a", "m2"], 1),
        (0, &[], 1),
        (1, &["SPUBLISH", "c", "m3"], 1),
        (1, &["PUBSUB", "SHARDCHANNELS", "a*"], 1),
        (1, &["PUBSUB", "SHARDNUMSUB", "a", "c"], 1),
        (1, &["PUBSUB", "NUMSUB", "a", "c"], 1),
        (1, &["SSUBSCRIBE"], 1),
        (1, &["SPUBLISH", "a"], 1),
        (0, &["SUNSUBSCRIBE", "a", "zz"], 2),
        (0, &["UNSUBSCRIBE"], 1),
        (0, &["PUNSUBSCRIBE"], 1),
        (0, &["PING"], 1),
        (0, &["SUNSUBSCRIBE"], 1),
        (0, &["SUNSUBSCRIBE"], 1),
        (0, &["PING"], 1),
        (2, &["HELLO", "3"], 1),
        (2, &["SSUBSCRIBE", "s"], 1),
        (2, &["GET", "x"], 1),
        (1, &["SPUBLISH", "s", "hi"], 1),
        (2, &[], 1),
        (2, &["SUNSUBSCRIBE"], 1),
        (2, &["SUNSUBSCRIBE"], 1),
        (1, &["MULTI"], 1),
        (1, &["SSUBSCRIBE", "a"], 1),
        (1, &["EXEC"], 1),
        (
            1,
            &["EVAL", "return redis.call('spublish', 'a', 'b')", "0"],
            1,
        ),
    ];
    for (at, cmd, replies) in script {
        let wire = &mut wires[*at];
        if !cmd.is_empty() {
            wire.send(cmd);
        }
        for _ in 0..*replies {
            let reply = wire.reply();
            // HELLO's map: its fields (version, availability_zone) differ.
            out.push(if cmd.first() == Some(&"HELLO") {
                reply[..1].into()
            } else {
                reply
            });
        }
    }
    out
}

#[test]
fn shard_channels_reply_as_redis_server() {
    let node = Node::start(&[]);
    let reference = reference::Reference::start();
    assert_eq!(
        shard_transcript(node.port),
        shard_transcript(reference.port)
    );
}
