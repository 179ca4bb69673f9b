//! Cluster mode: a PUBLISH on any node reaches the subscribers of every
//! node, primaries and replicas, in RESP2 and RESP3, while its reply counts
//! the publishing node's receivers only; and a cluster config file serves
//! one node at a time.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use slotcache_tests::{
    binary, cluster_settled, form_cluster, free_port, q, resp, wait_until, Node, Raw,
};

fn cluster_node() -> Node {
    Node::start(&["--cluster-enabled", "yes", "--cluster-node-timeout", "5000"])
}

/// Reads until what arrived ends with `tail` (bounded).
fn read_until(raw: &mut Raw, tail: &[u8]) -> Vec<u8> {
    let start = Instant::now();
    let mut got = Vec::new();
    while !got.ends_with(tail) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "waited for {:?}, got {:?}",
            String::from_utf8_lossy(tail),
            String::from_utf8_lossy(&got)
        );
        let more = raw.read_exact_len(1);
        assert!(!more.is_empty(), "closed or timed out after {got:?}");
        got.extend_from_slice(&more);
    }
    got
}

/// A RESP2 array (`*`) or RESP3 push (`>`) of bulk strings and one
/// trailing integer when `count` is given.
fn frame(resp3: bool, items: &[&[u8]], count: Option<i64>) -> Vec<u8> {
    let n = items.len() + count.is_some() as usize;
    let mut out = format!("{}{n}\r\n", if resp3 { '>' } else { '*' }).into_bytes();
    for i in items {
        out.extend_from_slice(format!("${}\r\n", i.len()).as_bytes());
        out.extend_from_slice(i);
        out.extend_from_slice(b"\r\n");
    }
    if let Some(c) = count {
        out.extend_from_slice(format!(":{c}\r\n").as_bytes());
    }
    out
}

/// A raw connection subscribed (`SUBSCRIBE`/`PSUBSCRIBE`) to `name`, in
/// RESP3 after HELLO 3 or in RESP2.
struct Sub {
    raw: Raw,
    resp3: bool,
    pattern: Option<&'static [u8]>,
}

impl Sub {
    fn new(node: &Node, resp3: bool, command: &str, name: &'static [u8]) -> Sub {
        let mut raw = node.raw();
        let mut request = Vec::new();
        if resp3 {
            request.extend(resp(&[b"HELLO", b"3"]));
        }
        request.extend(resp(&[command.as_bytes(), name]));
        raw.send(&request);
        let word = command.to_lowercase();
        read_until(&mut raw, &frame(resp3, &[word.as_bytes(), name], Some(1)));
        let pattern = (command == "PSUBSCRIBE").then_some(name);
        Sub {
            raw,
            resp3,
            pattern,
        }
    }

    /// The next thing that arrives must be exactly this message.
    fn expect(&mut self, channel: &[u8], message: &[u8]) {
        let want = match self.pattern {
            Some(p) => frame(self.resp3, &[b"pmessage", p, channel, message], None),
            None => frame(self.resp3, &[b"message", channel, message], None),
        };
        let got = self.raw.read_exact_len(want.len());
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want)
        );
    }
}

fn publish(node: &Node, channel: &[u8], message: &[u8]) -> String {
    let mut raw = node.raw();
    raw.send(&resp(&[b"PUBLISH", channel, message]));
    String::from_utf8_lossy(&read_until(&mut raw, b"\r\n")).into_owned()
}

fn stat(node: &Node, name: &str) -> i64 {
    let info: String = q(&mut node.client(), &["CLUSTER", "INFO"]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .map_or(0, |v| v.trim().parse().unwrap())
}

#[test]
fn publish_reaches_every_node_and_counts_local_receivers() {
    let nodes: Vec<Node> = (0..4).map(|_| cluster_node()).collect();
    let (a, b, c, replica) = (&nodes[0], &nodes[1], &nodes[2], &nodes[3]);
    form_cluster(&nodes[..3]);
    let a_id: String = q(&mut a.client(), &["CLUSTER", "MYID"]);
    let port = a.port.to_string();
    q::<()>(
        &mut replica.client(),
        &["CLUSTER", "MEET", "127.0.0.1", &port],
    );
    wait_until(Duration::from_secs(15), "the replica joins", || {
        cluster_settled(&nodes)
    });
    q::<()>(&mut replica.client(), &["CLUSTER", "REPLICATE", &a_id]);
    wait_until(Duration::from_secs(15), "all see the replica", || {
        nodes.iter().all(|n| {
            let view: String = q(&mut n.client(), &["CLUSTER", "NODES"]);
            view.lines()
                .any(|l| l.contains("slave") && l.contains(&format!(" {a_id} ")))
        }) && cluster_settled(&nodes)
    });

    let mut subs = vec![
        Sub::new(a, false, "SUBSCRIBE", b"news"),
        Sub::new(a, true, "SUBSCRIBE", b"news"),
        Sub::new(c, false, "PSUBSCRIBE", b"n*"),
        Sub::new(c, true, "PSUBSCRIBE", b"n*"),
        Sub::new(replica, false, "SUBSCRIBE", b"news"),
    ];
    // Binary-safe across the bus; nobody listens on B itself.
    let first: &[u8] = b"hel\r\nlo\xff\x00";
    assert_eq!(publish(b, b"news", first), ":0\r\n");
    for s in &mut subs {
        s.expect(b"news", first);
    }

    // With a subscriber of its own B counts one; every other node still
    // delivers, once (the next frame each reads is this one).
    subs.push(Sub::new(b, true, "SUBSCRIBE", b"news"));
    assert_eq!(publish(b, b"news", b"second"), ":1\r\n");
    for s in &mut subs {
        s.expect(b"news", b"second");
    }
    // From a node with two local subscribers, to the others.
    assert_eq!(publish(a, b"news", b"third"), ":2\r\n");
    for s in &mut subs {
        s.expect(b"news", b"third");
    }
    // Nobody anywhere listens to this one.
    assert_eq!(publish(c, b"other", b"x"), ":0\r\n");

    // One message per other node per PUBLISH, none passed on.
    assert_eq!(stat(b, "cluster_stats_messages_publish_sent"), 6);
    assert_eq!(stat(a, "cluster_stats_messages_publish_sent"), 3);
    assert_eq!(stat(replica, "cluster_stats_messages_publish_sent"), 0);
    // The last one, which nobody awaited, may still be on its way.
    let received = "cluster_stats_messages_publish_received";
    wait_until(Duration::from_secs(5), "C's PUBLISH arrives", || {
        stat(a, received) >= 3 && stat(replica, received) >= 4
    });
    assert_eq!((stat(a, received), stat(replica, received)), (3, 4));
    // Nothing more arrived meanwhile.
    for s in &mut subs {
        s.raw
            .stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        assert!(s.raw.read_exact_len(1).is_empty());
    }
}

/// A process this test started, killed if the test fails before it exits.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Sharded Pub/Sub: a shard channel lives in its hash slot, so SSUBSCRIBE
/// and SPUBLISH are redirected like keys, a subscription spans one slot,
/// and a message stays on the node that owns it.
#[test]
fn shard_channels_route_like_keys() {
    let nodes = [cluster_node(), cluster_node()];
    form_cluster(&nodes);
    // "bar" hashes to slot 5061 (node 0), "foo" to 12182 (node 1).
    let one_line = |node: &Node, args: &[&[u8]]| {
        let mut raw = node.raw();
        raw.send(&resp(args));
        String::from_utf8_lossy(&read_until(&mut raw, b"\r\n")).into_owned()
    };
    let moved = format!("-MOVED 12182 127.0.0.1:{}\r\n", nodes[1].port);
    assert_eq!(one_line(&nodes[0], &[b"SSUBSCRIBE", b"foo"]), moved);
    assert_eq!(one_line(&nodes[0], &[b"SPUBLISH", b"foo", b"m"]), moved);
    assert_eq!(
        one_line(&nodes[0], &[b"SSUBSCRIBE", b"bar", b"foo"]),
        "-CROSSSLOT Keys in request don't hash to the same slot\r\n"
    );

    let mut sub = nodes[0].raw();
    sub.send(&resp(&[b"SSUBSCRIBE", b"bar", b"{bar}2"]));
    let mut confirmed = frame(false, &[b"ssubscribe", b"bar"], Some(1));
    confirmed.extend(frame(false, &[b"ssubscribe", b"{bar}2"], Some(2)));
    read_until(&mut sub, &confirmed);
    assert_eq!(one_line(&nodes[0], &[b"SPUBLISH", b"bar", b"hi"]), ":1\r\n");
    let want = frame(false, &[b"smessage", b"bar", b"hi"], None);
    assert_eq!(sub.read_exact_len(want.len()), want);
    // PUBLISH's channels are another namespace, delivered everywhere.
    assert_eq!(one_line(&nodes[1], &[b"PUBLISH", b"bar", b"x"]), ":0\r\n");
    let counts: Vec<String> = q(
        &mut nodes[0].client(),
        &["PUBSUB", "SHARDNUMSUB", "bar", "foo"],
    );
    assert_eq!(counts, ["bar", "1", "foo", "0"]);

    // The slot moves to node 1: node 0 unsubscribes its shard channels
    // there (both are in slot 5061), as Redis's removeChannelsInSlot does.
    let target: String = q(&mut nodes[1].client(), &["CLUSTER", "MYID"]);
    for node in &nodes {
        q::<()>(
            &mut node.client(),
            &["CLUSTER", "SETSLOT", "5061", "NODE", &target],
        );
    }
    let mut gone = frame(false, &[b"sunsubscribe", b"bar"], Some(1));
    gone.extend(frame(false, &[b"sunsubscribe", b"{bar}2"], Some(0)));
    let got = read_until(&mut sub, b":0\r\n");
    // The two arrive in either order; the counts say which came first.
    let names = |frames: &[u8]| {
        let mut names: Vec<String> = String::from_utf8_lossy(frames)
            .split("*3\r\n")
            .map(|f| f.split("\r\n").nth(3).unwrap_or("").to_string())
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        names(&got),
        names(&gone),
        "{}",
        String::from_utf8_lossy(&got)
    );
    assert_eq!(
        one_line(&nodes[0], &[b"SPUBLISH", b"bar", b"m"]),
        format!("-MOVED 5061 127.0.0.1:{}\r\n", nodes[1].port)
    );
}

fn start_on(node: &Node) -> (Proc, u16) {
    let port = free_port();
    let child = Command::new(binary())
        .args(["--port", &port.to_string()])
        .args(["--dir", node.dir.to_str().unwrap()])
        .args(["--cluster-enabled", "yes"])
        .args(["--cluster-config-file", "nodes.conf"])
        .args(["--loglevel", "warning"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start slotcache");
    (Proc(child), port)
}

/// Starts a second node on `node`'s config file; it must exit non-zero
/// with Redis's error.
fn second_node_refused(node: &Node) {
    let (mut second, _) = start_on(node);
    let mut status = None;
    wait_until(Duration::from_secs(10), "the second node exits", || {
        status = second.0.try_wait().unwrap();
        status.is_some()
    });
    assert!(!status.unwrap().success());
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut second.0.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(
        stderr.contains(
            "Sorry, the cluster configuration file nodes.conf is already used by a different \
             Redis Cluster node. Please make sure that different nodes use different cluster \
             configuration files."
        ),
        "{stderr}"
    );
}

#[test]
fn a_cluster_config_file_serves_one_node() {
    let mut first = Node::start(&[
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        "nodes.conf",
    ]);
    let mut con = first.client();
    let id: String = q(&mut con, &["CLUSTER", "MYID"]);
    second_node_refused(&first);
    // Rewriting nodes.conf (a new file renamed over it) keeps it locked.
    q::<()>(&mut con, &["CLUSTER", "ADDSLOTSRANGE", "0", "99"]);
    let conf = first.dir.join("nodes.conf");
    wait_until(Duration::from_secs(5), "nodes.conf is rewritten", || {
        std::fs::read_to_string(&conf).is_ok_and(|t| t.contains(" 0-99"))
    });
    second_node_refused(&first);
    assert!(first.is_running());
    assert_eq!(q::<String>(&mut con, &["PING"]), "PONG");
    assert_eq!(q::<String>(&mut con, &["CLUSTER", "MYID"]), id);
    assert!(std::fs::read_to_string(&conf).unwrap().contains(&id));

    // Once its node is gone, the file is free: a new process takes it
    // over, identity and slots included.
    let status = Command::new("kill")
        .args(["-9", &first.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    wait_until(Duration::from_secs(5), "the first node exits", || {
        !first.is_running()
    });
    let (_next, port) = start_on(&first);
    let mut con = None;
    wait_until(Duration::from_secs(10), "the next node serves", || {
        con = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
            .unwrap()
            .get_connection_with_timeout(Duration::from_secs(1))
            .ok();
        con.is_some()
    });
    let mut con = con.unwrap();
    assert_eq!(q::<String>(&mut con, &["CLUSTER", "MYID"]), id);
    let slots: String = q(&mut con, &["CLUSTER", "NODES"]);
    assert!(slots.contains(" 0-99"), "{slots}");
}

#[test]
fn a_link_to_a_stuck_node_is_freed_at_its_send_buffer_limit() {
    let nodes: Vec<Node> = (0..2).map(|_| cluster_node()).collect();
    form_cluster(&nodes);
    let mut con = nodes[0].client();
    q::<()>(
        &mut con,
        &["CONFIG", "SET", "cluster-link-sendbuf-limit", "1mb"],
    );
    // The peer stops reading: PUBLISHes pile up on the link to it until
    // the link passes the limit and is freed.
    nodes[1].signal("-STOP");
    let message = vec![b'x'; 256 * 1024];
    for _ in 0..64 {
        publish(&nodes[0], b"news", &message);
    }
    let freed = stat(&nodes[0], "total_cluster_links_buffer_limit_exceeded");
    nodes[1].signal("-CONT");
    assert!(freed >= 1, "no link was freed");
    // The link comes back: a PUBLISH reaches the peer's subscriber again.
    wait_until(Duration::from_secs(20), "the link is back", || {
        cluster_settled(&nodes)
    });
    let mut sub = nodes[1].raw();
    sub.send(&resp(&[b"SUBSCRIBE", b"news"]));
    read_until(&mut sub, &frame(false, &[b"subscribe", b"news"], Some(1)));
    wait_until(Duration::from_secs(10), "a PUBLISH gets through", || {
        publish(&nodes[0], b"news", b"again");
        stat(&nodes[1], "cluster_stats_messages_publish_received") > 0
    });
    read_until(
        &mut sub,
        &frame(false, &[b"message", b"news", b"again"], None),
    );
}
