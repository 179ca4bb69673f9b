//! Cluster mode: real slotcache nodes formed into a cluster by redis-cli or
//! by CLUSTER commands, driven by cluster-aware clients.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use redis::cluster::ClusterClient;
use slotcache_tests::{binary, cluster_check, free_port, redis_cli, resp, wait_until, Node};

/// A cluster node whose process can be killed and restarted on the same
/// port and directory.
struct CNode {
    port: u16,
    dir: PathBuf,
    timeout_ms: u64,
    child: Option<Child>,
}

impl CNode {
    fn start(timeout_ms: u64) -> CNode {
        let port = free_port();
        let dir =
            std::env::temp_dir().join(format!("slotcache-cluster-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut node = CNode {
            port,
            dir,
            timeout_ms,
            child: None,
        };
        node.spawn();
        node
    }

    fn spawn(&mut self) {
        let child = Command::new(binary())
            .args(["--port", &self.port.to_string()])
            .args(["--dir", self.dir.to_str().unwrap()])
            .args(["--cluster-enabled", "yes"])
            .args(["--cluster-node-timeout", &self.timeout_ms.to_string()])
            .args(["--loglevel", "warning"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start slotcache");
        self.child = Some(child);
        wait_for_bus(self.port);
    }

    /// kill -9 this node only.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    fn con(&self) -> redis::Connection {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))
            .unwrap()
            .get_connection_with_timeout(Duration::from_secs(5))
            .unwrap()
    }

    fn cmd<T: redis::FromRedisValue>(&self, args: &[&str]) -> redis::RedisResult<T> {
        let mut c = redis::cmd(args[0]);
        for a in &args[1..] {
            c.arg(*a);
        }
        c.query(&mut self.con())
    }

    fn info(&self) -> String {
        self.cmd(&["CLUSTER", "INFO"]).unwrap()
    }

    fn nodes(&self) -> String {
        self.cmd(&["CLUSTER", "NODES"]).unwrap()
    }

    fn id(&self) -> String {
        self.cmd(&["CLUSTER", "MYID"]).unwrap()
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for CNode {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Waits until the node's client and bus ports both accept connections.
fn wait_for_bus(port: u16) {
    wait_until(Duration::from_secs(10), "node accepts connections", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            && std::net::TcpStream::connect(("127.0.0.1", port + 10000)).is_ok()
    });
}

fn field(info: &str, name: &str) -> String {
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or("")
        .trim()
        .to_string()
}

/// The NODES line of node `id` as `of` sees it.
fn line_of(of: &CNode, id: &str) -> String {
    of.nodes()
        .lines()
        .find(|l| l.starts_with(id))
        .unwrap_or("")
        .to_string()
}

/// `n` primaries, slots split as redis-cli splits them, formed with
/// CLUSTER commands only; waits until every node agrees.
fn form(n: usize, timeout_ms: u64) -> Vec<CNode> {
    let nodes: Vec<CNode> = (0..n).map(|_| CNode::start(timeout_ms)).collect();
    let per = 16384 / n;
    for (i, node) in nodes.iter().enumerate() {
        let start = i * per;
        let end = if i + 1 == n { 16383 } else { start + per - 1 };
        let _: () = node
            .cmd(&[
                "CLUSTER",
                "ADDSLOTSRANGE",
                &start.to_string(),
                &end.to_string(),
            ])
            .unwrap();
        let _: () = node
            .cmd(&["CLUSTER", "SET-CONFIG-EPOCH", &(i + 1).to_string()])
            .unwrap();
    }
    for node in &nodes[1..] {
        let _: () = node
            .cmd(&["CLUSTER", "MEET", "127.0.0.1", &nodes[0].port.to_string()])
            .unwrap();
    }
    wait_until(Duration::from_secs(15), "all nodes agree", || {
        nodes.iter().all(|node| {
            let info = node.info();
            field(&info, "cluster_state") == "ok"
                && field(&info, "cluster_known_nodes") == n.to_string()
                && field(&info, "cluster_slots_ok") == "16384"
        })
    });
    nodes
}

#[test]
fn redis_cli_creates_a_cluster_that_clients_use() {
    let nodes: Vec<CNode> = (0..6).map(|_| CNode::start(5000)).collect();
    let addrs: Vec<String> = nodes.iter().map(|n| n.addr()).collect();
    let mut args = vec!["--cluster", "create"];
    args.extend(addrs.iter().map(|s| s.as_str()));
    args.extend(["--cluster-replicas", "1", "--cluster-yes"]);
    let (ok, out) = redis_cli(&args, None);
    assert!(ok, "{out}");
    assert!(out.contains("[OK] All 16384 slots covered."), "{out}");

    cluster_check(&addrs[0]).unwrap();
    // Three primaries, three replicas, each replica naming its primary.
    let view = nodes[0].nodes();
    let replicas: Vec<&str> = view.lines().filter(|l| l.contains(" slave ")).collect();
    assert_eq!(replicas.len(), 3, "{view}");
    for r in replicas {
        let master = r.split(' ').nth(3).unwrap();
        assert!(view.contains(&format!("{master} ")), "{view}");
    }

    // The redis crate's cluster client: 10k keys over all primaries.
    let client = ClusterClient::new(
        addrs
            .iter()
            .map(|a| format!("redis://{a}/"))
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let mut con = client.get_connection().unwrap();
    for i in 0..10_000 {
        let _: () = redis::cmd("SET")
            .arg(format!("key:{i}"))
            .arg(i)
            .query(&mut con)
            .unwrap();
    }
    for i in (0..10_000).step_by(7) {
        let v: i64 = redis::cmd("GET")
            .arg(format!("key:{i}"))
            .query(&mut con)
            .unwrap();
        assert_eq!(v, i);
    }
    let total: usize = nodes
        .iter()
        .map(|n| n.cmd::<usize>(&["DBSIZE"]).unwrap())
        .sum();
    assert_eq!(total, 10_000);

    // redis-cli -c follows MOVED from any entry node. Keys go in slot
    // order, so it hops between nodes a few times rather than per key.
    let mut pipe = redis::pipe();
    for i in 0..10_000 {
        pipe.cmd("CLUSTER").arg("KEYSLOT").arg(format!("cli:{i}"));
    }
    let slots: Vec<u16> = pipe.query(&mut nodes[0].con()).unwrap();
    let mut order: Vec<usize> = (0..10_000).collect();
    order.sort_by_key(|&i| slots[i]);
    let sets: String = order
        .iter()
        .map(|i| format!("SET cli:{i} v{i}\n"))
        .collect();
    let (ok, out) = redis_cli(&["-c", "-p", &nodes[3].port.to_string()], Some(&sets));
    assert!(ok, "{out}");
    assert!(out.contains("-> Redirected to slot"), "{out:.400}");
    let replies = |out: &str| -> Vec<String> {
        out.lines()
            .filter(|l| !l.starts_with("-> Redirected"))
            .map(String::from)
            .collect()
    };
    let oks = replies(&out);
    assert_eq!(oks.len(), 10_000, "{out:.400}");
    assert!(oks.iter().all(|l| l == "OK"), "{out:.400}");
    let gets: String = order.iter().map(|i| format!("GET cli:{i}\n")).collect();
    let (ok, out) = redis_cli(&["-c", "-p", &nodes[1].port.to_string()], Some(&gets));
    assert!(ok, "{out}");
    let values = replies(&out);
    assert_eq!(values.len(), 10_000, "{out:.400}");
    for (i, v) in order.iter().zip(&values) {
        assert_eq!(*v, format!("v{i}"));
    }
}

#[test]
fn redirects_and_cross_slot_errors() {
    let nodes = form(3, 5000);
    let owner_of = |slot: u16| &nodes[(slot as usize / (16384 / 3)).min(2)];
    // "foo" is slot 12182 (node 2); ask node 0.
    let raw = std::net::TcpStream::connect(("127.0.0.1", nodes[0].port)).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut raw = slotcache_tests::Raw { stream: raw };
    let moved = format!("-MOVED 12182 {}\r\n", owner_of(12182).addr());
    assert_eq!(
        raw.roundtrip(&resp(&[b"GET", b"foo"]), moved.as_bytes()),
        moved
    );
    let cross = "-CROSSSLOT Keys in request don't hash to the same slot\r\n";
    assert_eq!(
        raw.roundtrip(&resp(&[b"MGET", b"foo", b"bar"]), cross.as_bytes()),
        cross
    );
    // Same hash tag: one slot, served by its owner.
    let tagged = nodes
        .iter()
        .find(|n| n.cmd::<Option<String>>(&["GET", "{bar}x"]).is_ok())
        .unwrap();
    let _: () = tagged.cmd(&["MSET", "{bar}x", "1", "{bar}y", "2"]).unwrap();
    // Keyless commands run anywhere.
    assert_eq!(raw.roundtrip(&resp(&[b"PING"]), b"+PONG\r\n"), "+PONG\r\n");

    // A slot in transit: node 2 migrates 12182 ("foo", "{foo}…") to node 0.
    let (src, dst) = (&nodes[2], &nodes[0]);
    let _: () = src.cmd(&["SET", "{foo}here", "1"]).unwrap();
    let _: () = src
        .cmd(&["CLUSTER", "SETSLOT", "12182", "MIGRATING", &dst.id()])
        .unwrap();
    let _: () = dst
        .cmd(&["CLUSTER", "SETSLOT", "12182", "IMPORTING", &src.id()])
        .unwrap();
    assert!(line_of(src, &src.id()).contains(&format!("[12182->-{}]", dst.id())));
    assert!(line_of(dst, &dst.id()).contains(&format!("[12182-<-{}]", src.id())));
    // The source serves keys it still has, sends the rest to the target.
    assert_eq!(src.cmd::<String>(&["GET", "{foo}here"]).unwrap(), "1");
    let err = src.cmd::<Option<String>>(&["GET", "foo"]).unwrap_err();
    assert_eq!(err.code(), Some("ASK"), "{err}");
    assert!(err.to_string().contains(&dst.addr()), "{err}");
    let err = src
        .cmd::<Vec<Option<String>>>(&["MGET", "{foo}here", "{foo}gone"])
        .unwrap_err();
    assert_eq!(err.code(), Some("TRYAGAIN"), "{err}");
    // The target: MOVED without ASKING, served after it, once.
    let mut con = dst.con();
    let err = redis::cmd("GET")
        .arg("foo")
        .query::<Option<String>>(&mut con)
        .unwrap_err();
    assert_eq!(err.code(), Some("MOVED"), "{err}");
    let (ok, v): (String, Option<String>) = redis::pipe()
        .cmd("ASKING")
        .cmd("GET")
        .arg("foo")
        .query(&mut con)
        .unwrap();
    assert_eq!((ok.as_str(), v), ("OK", None));
    let err = redis::cmd("GET")
        .arg("foo")
        .query::<Option<String>>(&mut con)
        .unwrap_err();
    assert_eq!(err.code(), Some("MOVED"), "{err}");

    // The target takes the slot over: a newer config epoch wins everywhere,
    // and the source drops the keys it still had there.
    let _: () = dst
        .cmd(&["CLUSTER", "SETSLOT", "12182", "NODE", &dst.id()])
        .unwrap();
    wait_until(
        Duration::from_secs(10),
        "the source gives the slot up",
        || {
            src.cmd::<i64>(&["CLUSTER", "COUNTKEYSINSLOT", "12182"])
                .unwrap()
                == 0
                && nodes
                    .iter()
                    .all(|n| line_of(n, &dst.id()).contains(" 12182"))
        },
    );
    let err = src.cmd::<Option<String>>(&["GET", "foo"]).unwrap_err();
    assert!(
        err.to_string().contains(&format!("12182 {}", dst.addr())),
        "{err}"
    );

    // An unassigned slot: CLUSTERDOWN for it; covered slots keep serving.
    let _: () = nodes[0].cmd(&["CLUSTER", "DELSLOTS", "5061"]).unwrap();
    let err = nodes[0].cmd::<Option<String>>(&["GET", "bar"]).unwrap_err();
    assert!(err.to_string().contains("Hash slot not served"), "{err}");
    assert_eq!(
        nodes[0].cmd::<i64>(&["CLUSTER", "KEYSLOT", "a"]).unwrap(),
        15495
    );
    assert_eq!(nodes[2].cmd::<Option<String>>(&["GET", "a"]).unwrap(), None);
}

#[test]
fn failed_node_is_flagged_and_rejoins_with_its_id() {
    let mut nodes = form(3, 1000);
    let victim_id = nodes[2].id();
    let slots_before = line_of(&nodes[0], &victim_id)
        .split(' ')
        .skip(8)
        .collect::<Vec<_>>()
        .join(" ");
    nodes[2].kill();
    let killed = Instant::now();
    wait_until(
        Duration::from_secs(30),
        "the others flag the node fail",
        || {
            nodes[..2].iter().all(|n| {
                line_of(n, &victim_id)
                    .split(' ')
                    .nth(2)
                    .is_some_and(|f| f.split(',').any(|f| f == "fail"))
            })
        },
    );
    // PFAIL after the 1 s timeout, FAIL once gossip reaches a majority:
    // ~2 s, far less than 15 even on a loaded CI machine.
    assert!(
        killed.elapsed() < Duration::from_secs(15),
        "{:?}",
        killed.elapsed()
    );
    assert_eq!(field(&nodes[0].info(), "cluster_slots_fail"), "5462");

    nodes[2].spawn();
    assert_eq!(nodes[2].id(), victim_id, "same id after restart");
    let own = line_of(&nodes[2], &victim_id);
    assert!(own.contains("myself,master"), "{own}");
    assert!(own.ends_with(&slots_before), "{own} vs {slots_before}");
    wait_until(
        Duration::from_secs(15),
        "the node is back everywhere",
        || {
            nodes.iter().all(|n| {
                let info = n.info();
                let line = line_of(n, &victim_id);
                field(&info, "cluster_state") == "ok"
                    && field(&info, "cluster_slots_ok") == "16384"
                    && !line.contains("fail")
                    && line.contains(" connected")
            })
        },
    );
    let _: () = nodes[2].cmd(&["SET", "foo", "bar"]).unwrap();
}

#[test]
fn cluster_commands_and_errors() {
    let standalone = Node::start(&[]);
    let out = standalone.cli(&["CLUSTER", "INFO"]);
    assert!(
        out.contains("This instance has cluster support disabled"),
        "{out}"
    );

    let a = CNode::start(5000);
    let b = CNode::start(5000);
    let info = a.info();
    assert_eq!(field(&info, "cluster_state"), "fail");
    assert_eq!(field(&info, "cluster_known_nodes"), "1");
    assert_eq!(a.id().len(), 40);
    assert_eq!(a.cmd::<i64>(&["CLUSTER", "KEYSLOT", "foo"]).unwrap(), 12182);
    let err = a
        .cmd::<()>(&["CLUSTER", "ADDSLOTSRANGE", "10", "5"])
        .unwrap_err();
    assert!(err
        .to_string()
        .contains("start slot number 10 is greater than end slot number 5"));
    let _: () = a.cmd(&["CLUSTER", "ADDSLOTS", "0", "1", "2"]).unwrap();
    let err = a.cmd::<()>(&["CLUSTER", "ADDSLOTS", "2"]).unwrap_err();
    assert!(err.to_string().contains("Slot 2 is already busy"), "{err}");
    let _: () = a.cmd(&["CLUSTER", "DELSLOTSRANGE", "1", "2"]).unwrap();
    let _: () = a.cmd(&["CLUSTER", "ADDSLOTSRANGE", "1", "16383"]).unwrap();
    assert_eq!(field(&a.info(), "cluster_state"), "ok");
    assert_eq!(
        a.cmd::<String>(&["CLUSTER", "BUMPEPOCH"]).unwrap(),
        "BUMPED 1"
    );
    assert_eq!(
        a.cmd::<String>(&["CLUSTER", "BUMPEPOCH"]).unwrap(),
        "STILL 1"
    );
    let _: () = a.cmd(&["SET", "foo", "1"]).unwrap();
    assert_eq!(
        a.cmd::<i64>(&["CLUSTER", "COUNTKEYSINSLOT", "12182"])
            .unwrap(),
        1
    );
    assert_eq!(
        a.cmd::<Vec<String>>(&["CLUSTER", "GETKEYSINSLOT", "12182", "10"])
            .unwrap(),
        vec!["foo"]
    );

    // With full coverage required, one unserved slot stops everything.
    let _: () = a.cmd(&["CLUSTER", "DELSLOTS", "0"]).unwrap();
    assert_eq!(a.cmd::<String>(&["GET", "foo"]).unwrap(), "1");
    let _: () = a
        .cmd(&["CONFIG", "SET", "cluster-require-full-coverage", "yes"])
        .unwrap();
    let err = a.cmd::<String>(&["GET", "foo"]).unwrap_err();
    assert!(err.to_string().contains("The cluster is down"), "{err}");
    let _: () = a
        .cmd(&["CONFIG", "SET", "cluster-require-full-coverage", "no"])
        .unwrap();
    let _: () = a.cmd(&["CLUSTER", "ADDSLOTS", "0"]).unwrap();

    // CLUSTER SLOTS / SHARDS describe the single primary.
    let slots: redis::Value = a.cmd(&["CLUSTER", "SLOTS"]).unwrap();
    let text = format!("{slots:?}");
    assert!(text.contains(&a.id()) && text.contains("16383"), "{text}");
    let shards: redis::Value = a.cmd(&["CLUSTER", "SHARDS"]).unwrap();
    let text = format!("{shards:?}");
    for f in ["availability-zone", "region", "default", "online", "master"] {
        assert!(text.contains(f), "{f} in {text}");
    }

    // b meets a and replicates it.
    let _: () = b
        .cmd(&["CLUSTER", "MEET", "127.0.0.1", &a.port.to_string()])
        .unwrap();
    let _: () = b.cmd(&["CLUSTER", "REPLICATE", &a.id()]).unwrap();
    wait_until(Duration::from_secs(10), "a sees its replica", || {
        line_of(&a, &b.id()).contains(&format!("slave {}", a.id()))
    });
    let hello: redis::Value = b.cmd(&["HELLO"]).unwrap();
    assert!(format!("{hello:?}").contains("replica"), "{hello:?}");
    let hello: redis::Value = a.cmd(&["HELLO"]).unwrap();
    assert!(!format!("{hello:?}").contains("replica"), "{hello:?}");
    let replicas: Vec<String> = a.cmd(&["CLUSTER", "REPLICAS", &a.id()]).unwrap();
    assert_eq!(replicas.len(), 1);
    assert!(replicas[0].starts_with(&b.id()));
    // A replica redirects to its primary; READONLY lets it serve reads.
    let mut con = b.con();
    let err = redis::cmd("GET")
        .arg("foo")
        .query::<Option<String>>(&mut con)
        .unwrap_err();
    assert_eq!(err.code(), Some("MOVED"));
    let _: () = redis::cmd("READONLY").query(&mut con).unwrap();
    let v: Option<String> = redis::cmd("GET").arg("foo").query(&mut con).unwrap();
    assert_eq!(v, None, "the replica holds no data yet");
    assert_eq!(
        a.cmd::<i64>(&["CLUSTER", "COUNT-FAILURE-REPORTS", &b.id()])
            .unwrap(),
        0
    );
    let err = a.cmd::<()>(&["CLUSTER", "FORGET", &a.id()]).unwrap_err();
    assert!(err.to_string().contains("can't forget myself"), "{err}");
    let _: () = a.cmd(&["CLUSTER", "FORGET", &b.id()]).unwrap();
    assert_eq!(field(&a.info(), "cluster_known_nodes"), "1");

    // Region mismatch: refused with a clear error.
    let other = Node::start(&["--cluster-enabled", "yes", "--region", "eu-west"]);
    wait_for_bus(other.port);
    let err = a
        .cmd::<()>(&["CLUSTER", "MEET", "127.0.0.1", &other.port.to_string()])
        .unwrap_err();
    assert!(err.to_string().contains("region 'eu-west'"), "{err}");
    assert_eq!(field(&a.info(), "cluster_known_nodes"), "1");

    // Garbage on the bus port: that connection is dropped, nothing else.
    let mut bus = std::net::TcpStream::connect(("127.0.0.1", a.port + 10000)).unwrap();
    bus.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    bus.write_all(b"\x00\x00\x00\x08GARBAGE!").unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(std::io::Read::read(&mut bus, &mut buf).unwrap_or(0), 0);
    assert_eq!(field(&a.info(), "cluster_state"), "ok");

    // nodes.conf holds the state and is reloaded.
    let conf = std::fs::read_to_string(a.dir.join(format!("nodes-{}.conf", a.port))).unwrap();
    assert!(
        conf.contains(&a.id()) && conf.contains("vars currentEpoch 1"),
        "{conf}"
    );
}
