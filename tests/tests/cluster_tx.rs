//! Transactions and scripts in cluster mode, as Redis 7.0 routes them: a
//! queued command by its own keys, EXEC by the keys of all queued commands
//! together, EVAL by its declared keys, and every command a script runs
//! only if this node serves its keys.

use std::time::Duration;

use redis::cluster::ClusterClient;
use slotcache_tests::{err, form_cluster, q, Node};

const CROSSSLOT: &str = "CROSSSLOT Keys in request don't hash to the same slot";
const EXECABORT: &str = "EXECABORT Transaction discarded because of previous errors.";
const NON_LOCAL: &str = "ERR Script attempted to access a non local key in a cluster node";

/// Three primaries, node `i` serving slots `i*5461 ..`.
fn cluster() -> Vec<Node> {
    let nodes: Vec<Node> = (0..3)
        .map(|_| Node::start(&["--cluster-enabled", "yes"]))
        .collect();
    form_cluster(&nodes);
    nodes
}

fn owner(slot: u16) -> usize {
    (slot as usize / (16384 / 3)).min(2)
}

fn addr(node: &Node) -> String {
    format!("127.0.0.1:{}", node.port)
}

/// Hash tags (`{tN}`) whose slots node `on` serves, each a different slot.
fn tags_on(node: &Node, on: usize, count: usize) -> Vec<(String, u16)> {
    let mut con = node.client();
    let mut found: Vec<(String, u16)> = Vec::new();
    for i in 0..100_000 {
        let tag = format!("{{t{i}}}");
        let slot: u16 = q(&mut con, &["CLUSTER", "KEYSLOT", &tag]);
        if owner(slot) == on && found.iter().all(|(_, s)| *s != slot) {
            found.push((tag, slot));
            if found.len() == count {
                return found;
            }
        }
    }
    panic!("no {count} tags on node {on}");
}

#[test]
fn transactions_route_as_one_request() {
    let nodes = cluster();
    let here = tags_on(&nodes[0], 0, 2);
    let (a, b) = (&here[0].0, &here[1].0);
    let (there, there_slot) = tags_on(&nodes[0], 1, 1).remove(0);
    let mut con = nodes[0].client();

    // Keys of one slot: the transaction runs on the node serving it.
    let (ok, n, v): (String, i64, String) = redis::pipe()
        .atomic()
        .set(format!("{a}x"), "1")
        .incr(format!("{a}n"), 5)
        .get(format!("{a}x"))
        .query(&mut con)
        .unwrap();
    assert_eq!((ok.as_str(), n, v.as_str()), ("OK", 5, "1"));

    // Each command is local, but together they span two slots: EXEC is
    // refused with CROSSSLOT and the client has left MULTI.
    assert_eq!(q::<String>(&mut con, &["MULTI"]), "OK");
    assert_eq!(
        q::<String>(&mut con, &["SET", &format!("{a}y"), "1"]),
        "QUEUED"
    );
    assert_eq!(
        q::<String>(&mut con, &["SET", &format!("{b}y"), "1"]),
        "QUEUED"
    );
    assert_eq!(err(&mut con, &["EXEC"]), CROSSSLOT);
    assert_eq!(err(&mut con, &["EXEC"]), "ERR EXEC without MULTI");
    let none: (Option<String>, Option<String>) = (
        q(&mut con, &["GET", &format!("{a}y")]),
        q(&mut con, &["GET", &format!("{b}y")]),
    );
    assert_eq!(none, (None, None));

    // A queued command for a slot served elsewhere: MOVED, then EXECABORT.
    assert_eq!(q::<String>(&mut con, &["MULTI"]), "OK");
    assert_eq!(
        q::<String>(&mut con, &["SET", &format!("{a}x"), "2"]),
        "QUEUED"
    );
    assert_eq!(
        err(&mut con, &["SET", &format!("{there}x"), "1"]),
        format!("MOVED {there_slot} {}", addr(&nodes[1]))
    );
    assert_eq!(err(&mut con, &["EXEC"]), EXECABORT);
    assert_eq!(q::<String>(&mut con, &["GET", &format!("{a}x")]), "1");

    // WATCH is routed by its own keys only; they do not count at EXEC.
    assert_eq!(
        err(&mut con, &["WATCH", &format!("{a}x"), &format!("{b}x")]),
        CROSSSLOT
    );
    let moved = err(&mut con, &["WATCH", &format!("{there}x")]);
    assert!(moved.starts_with("MOVED "), "{moved}");
    assert_eq!(q::<String>(&mut con, &["WATCH", &format!("{b}x")]), "OK");
    let (ok,): (String,) = redis::pipe()
        .atomic()
        .set(format!("{a}x"), "3")
        .query(&mut con)
        .unwrap();
    assert_eq!(ok, "OK");

    // The slot stops being served between queueing and EXEC: EXEC gets the
    // error and discards the transaction.
    let slot = here[0].1.to_string();
    assert_eq!(q::<String>(&mut con, &["WATCH", &format!("{a}x")]), "OK");
    assert_eq!(q::<String>(&mut con, &["MULTI"]), "OK");
    assert_eq!(
        q::<String>(&mut con, &["SET", &format!("{a}x"), "4"]),
        "QUEUED"
    );
    let _: () = q(&mut nodes[0].client(), &["CLUSTER", "DELSLOTS", &slot]);
    assert_eq!(err(&mut con, &["EXEC"]), "CLUSTERDOWN Hash slot not served");
    assert_eq!(err(&mut con, &["DISCARD"]), "ERR DISCARD without MULTI");
    let _: () = q(&mut nodes[0].client(), &["CLUSTER", "ADDSLOTS", &slot]);
    assert_eq!(q::<String>(&mut con, &["GET", &format!("{a}x")]), "3");
}

#[test]
fn transactions_follow_ask_and_the_cluster_client() {
    let nodes = cluster();
    let (tag, slot) = tags_on(&nodes[0], 0, 1).remove(0);
    let slot_s = slot.to_string();
    let id = |n: &Node| q::<String>(&mut n.client(), &["CLUSTER", "MYID"]);
    let (src, dst) = (&nodes[0], &nodes[1]);
    let _: () = q(&mut src.client(), &["SET", &format!("{tag}old"), "1"]);
    let _: () = q(
        &mut src.client(),
        &["CLUSTER", "SETSLOT", &slot_s, "MIGRATING", &id(dst)],
    );
    let _: () = q(
        &mut dst.client(),
        &["CLUSTER", "SETSLOT", &slot_s, "IMPORTING", &id(src)],
    );

    // The source: a key it no longer has is asked for elsewhere, and the
    // transaction queueing it fails.
    let mut con = src.client();
    assert_eq!(q::<String>(&mut con, &["MULTI"]), "OK");
    assert_eq!(
        err(&mut con, &["SET", &format!("{tag}new"), "1"]),
        format!("ASK {slot} {}", addr(dst))
    );
    assert_eq!(err(&mut con, &["EXEC"]), EXECABORT);

    // The target: ASKING before MULTI covers the whole transaction, as in
    // Redis, and nothing after it.
    let mut con = dst.client();
    let (ok, ok2, v): (String, String, Vec<redis::Value>) = redis::pipe()
        .cmd("ASKING")
        .cmd("MULTI")
        .cmd("SET")
        .arg(format!("{tag}new"))
        .arg("1")
        .ignore()
        .cmd("INCR")
        .arg(format!("{tag}new"))
        .ignore()
        .cmd("EXEC")
        .query(&mut con)
        .unwrap();
    assert_eq!((ok.as_str(), ok2.as_str()), ("OK", "OK"));
    assert_eq!(v.len(), 2, "{v:?}");
    assert_eq!(redis::from_redis_value::<i64>(v[1].clone()).unwrap(), 2);
    let moved = err(&mut con, &["GET", &format!("{tag}new")]);
    assert!(moved.starts_with(&format!("MOVED {slot} ")), "{moved}");
    for node in [src, dst] {
        let _: () = q(
            &mut node.client(),
            &["CLUSTER", "SETSLOT", &slot_s, "STABLE"],
        );
    }

    // The cluster client sends an atomic pipeline to the node serving its
    // keys' slot.
    let urls: Vec<String> = nodes
        .iter()
        .map(|n| format!("redis://{}/", addr(n)))
        .collect();
    let client = ClusterClient::new(urls).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (tag2, slot2) = tags_on(&nodes[0], 2, 1).remove(0);
    let got: (String, i64, String) = rt.block_on(async {
        let mut con = tokio::time::timeout(Duration::from_secs(10), client.get_async_connection())
            .await
            .expect("cluster connection in time")
            .unwrap();
        let pipe = redis::pipe()
            .atomic()
            .set(format!("{tag2}p"), "v")
            .incr(format!("{tag2}q"), 7)
            .get(format!("{tag2}p"))
            .clone();
        tokio::time::timeout(Duration::from_secs(10), pipe.query_async(&mut con))
            .await
            .expect("transaction in time")
            .unwrap()
    });
    assert_eq!(got, ("OK".into(), 7, "v".into()));
    assert_eq!(owner(slot2), 2);
    assert_eq!(
        q::<String>(&mut nodes[2].client(), &["GET", &format!("{tag2}p")]),
        "v"
    );
}

#[test]
fn scripts_route_by_keys_and_touch_only_local_keys() {
    let nodes = cluster();
    let here = tags_on(&nodes[0], 0, 2);
    let (a, b) = (&here[0].0, &here[1].0);
    let (there, there_slot) = tags_on(&nodes[0], 1, 1).remove(0);

    // Declared keys of one slot: the cluster client sends EVAL to its node.
    let urls: Vec<String> = nodes
        .iter()
        .map(|n| format!("redis://{}/", addr(n)))
        .collect();
    let mut cluster = ClusterClient::new(urls).unwrap().get_connection().unwrap();
    let n: i64 = redis::cmd("EVAL")
        .arg("redis.call('SET', KEYS[1], ARGV[1]); return redis.call('INCRBY', KEYS[2], ARGV[1])")
        .arg(2)
        .arg(format!("{there}s"))
        .arg(format!("{there}n"))
        .arg(4)
        .query(&mut cluster)
        .unwrap();
    assert_eq!(n, 4);
    assert_eq!(
        q::<String>(&mut nodes[1].client(), &["GET", &format!("{there}s")]),
        "4"
    );
    let got: Option<String> = redis::cmd("EVAL_RO")
        .arg("return redis.call('GET', KEYS[1])")
        .arg(1)
        .arg(format!("{there}s"))
        .query(&mut cluster)
        .unwrap();
    assert_eq!(got.as_deref(), Some("4"));

    let mut con = nodes[0].client();
    // Declared keys of two slots, or of a slot served elsewhere.
    let get = "return redis.call('GET', KEYS[1])";
    assert_eq!(
        err(
            &mut con,
            &["EVAL", get, "2", &format!("{a}k"), &format!("{b}k")]
        ),
        CROSSSLOT
    );
    assert_eq!(
        err(&mut con, &["EVAL", get, "1", &format!("{there}s")]),
        format!("MOVED {there_slot} {}", addr(&nodes[1]))
    );
    assert_eq!(
        err(
            &mut con,
            &[
                "EVALSHA_RO",
                "0000000000000000000000000000000000000000",
                "1",
                &format!("{there}s")
            ]
        ),
        format!("MOVED {there_slot} {}", addr(&nodes[1]))
    );

    // A key the script did not declare, served elsewhere: the call fails
    // (pcall hands the error to the script), with or without declared keys.
    let undeclared = format!("return redis.call('GET', '{there}s')");
    let declared = format!("{a}k");
    for numkeys in [vec!["0"], vec!["1", declared.as_str()]] {
        let mut args = vec!["EVAL", undeclared.as_str()];
        args.extend(numkeys);
        let e = err(&mut con, &args);
        assert!(e.starts_with(&format!("{NON_LOCAL} script: ")), "{e}");
    }
    let caught = format!("local r = redis.pcall('SET', '{there}s', 'x'); return r['err']");
    assert_eq!(q::<String>(&mut con, &["EVAL", &caught, "0"]), NON_LOCAL);
    assert_eq!(
        q::<String>(&mut nodes[1].client(), &["GET", &format!("{there}s")]),
        "4"
    );
    // One command over two slots inside a script is refused the same way.
    let mget = format!("return redis.call('MGET', '{a}k', '{b}k')");
    let e = err(&mut con, &["EVAL", &mget, "0"]);
    assert!(e.starts_with(NON_LOCAL), "{e}");

    // Keys of several slots this node serves, declared or not: allowed, as
    // for Redis's EVAL scripts without a shebang.
    let both = format!(
        "redis.call('SET', KEYS[1], '1'); redis.call('SET', '{b}k', '2'); \
         return {{redis.call('GET', KEYS[1]), redis.call('GET', '{b}k')}}"
    );
    assert_eq!(
        q::<Vec<String>>(&mut con, &["EVAL", &both, "1", &format!("{a}k")]),
        ["1", "2"]
    );

    // In a transaction, EVAL's declared keys count with the others'.
    assert_eq!(q::<String>(&mut con, &["MULTI"]), "OK");
    assert_eq!(q::<String>(&mut con, &["GET", &format!("{a}k")]), "QUEUED");
    assert_eq!(
        q::<String>(&mut con, &["EVAL", get, "1", &format!("{b}k")]),
        "QUEUED"
    );
    assert_eq!(err(&mut con, &["EXEC"]), CROSSSLOT);
    assert_eq!(q::<String>(&mut con, &["MULTI"]), "OK");
    assert_eq!(
        err(&mut con, &["EVAL", get, "1", &format!("{there}s")]),
        format!("MOVED {there_slot} {}", addr(&nodes[1]))
    );
    assert_eq!(err(&mut con, &["EXEC"]), EXECABORT);

    // The whole cluster down: what the script runs is refused as Redis words it.
    let _: () = q(
        &mut con,
        &["CONFIG", "SET", "cluster-require-full-coverage", "yes"],
    );
    let _: () = q(&mut con, &["CLUSTER", "DELSLOTS", &here[1].1.to_string()]);
    let e = err(
        &mut con,
        &["EVAL", &format!("return redis.call('GET', '{a}k')"), "0"],
    );
    assert!(
        e.starts_with(
            "ERR Script attempted to execute a command while the cluster is down script: "
        ),
        "{e}"
    );
    assert_eq!(
        err(&mut con, &["GET", &format!("{a}k")]),
        "CLUSTERDOWN The cluster is down"
    );
}
