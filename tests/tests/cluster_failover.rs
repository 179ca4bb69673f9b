//! Replica promotion: CLUSTER FAILOVER (default, FORCE, TAKEOVER) and a
//! replica replacing a killed primary, checked through CLUSTER NODES on
//! every node, `redis-cli --cluster check` and the cluster client.

use std::time::Duration;

use redis::Commands;
use slotcache_tests::{cluster_check, err, form_cluster, q, wait_until, Node};

const BOUND: Duration = Duration::from_secs(20);

fn start() -> Node {
    Node::start(&["--cluster-enabled", "yes", "--cluster-node-timeout", "1000"])
}

fn id(node: &Node) -> String {
    q(&mut node.client(), &["CLUSTER", "MYID"])
}

/// The CLUSTER NODES line `of` shows for node `id`, split in fields
/// (none while `of` does not know `id` yet).
fn line(of: &Node, id: &str) -> Vec<String> {
    let view: String = q(&mut of.client(), &["CLUSTER", "NODES"]);
    let fields = view.lines().find(|l| l.starts_with(id)).unwrap_or("");
    fields.split(' ').map(str::to_string).collect()
}

/// Whether every node in `nodes` sees `primary` serving the first third
/// of the slots and `replica` replicating it.
fn all_see(nodes: &[&Node], primary: &str, replica: &str) -> bool {
    nodes.iter().all(|n| {
        let p = line(n, primary);
        let r = line(n, replica);
        p.len() > 3
            && r.len() > 3
            && p[2].contains("master")
            && p.get(8).map(String::as_str) == Some("0-5460")
            && r[2].contains("slave")
            && r[3] == primary
    })
}

/// Three primaries and a replica of the first.
fn cluster_with_replica() -> (Vec<Node>, Node) {
    let primaries: Vec<Node> = (0..3).map(|_| start()).collect();
    form_cluster(&primaries);
    let replica = start();
    let mut con = replica.client();
    let first = primaries[0].port.to_string();
    q::<()>(&mut con, &["CLUSTER", "MEET", "127.0.0.1", &first]);
    let primary = id(&primaries[0]);
    wait_until(BOUND, "the replica attaches", || {
        redis::cmd("CLUSTER")
            .arg("REPLICATE")
            .arg(&primary)
            .query::<()>(&mut con)
            .is_ok()
    });
    let all: Vec<&Node> = primaries.iter().chain([&replica]).collect();
    let replica_id = id(&replica);
    wait_until(BOUND, "every node sees the replica", || {
        all_see(&all, &primary, &replica_id)
    });
    (primaries, replica)
}

/// The cluster client writes and reads back keys across all slots.
fn cluster_client_works(node: &Node) {
    let client = redis::cluster::ClusterClient::new(vec![node.url()]).unwrap();
    let mut con = client.get_connection().unwrap();
    for i in 0..300 {
        let _: () = con.set(format!("key:{i}"), i).unwrap();
    }
    for i in 0..300 {
        let v: i64 = con.get(format!("key:{i}")).unwrap();
        assert_eq!(v, i);
    }
}

/// INFO replication's role, and the primary's port for a replica.
fn role(node: &Node) -> (String, Option<u16>) {
    let info: String = q(&mut node.client(), &["INFO", "replication"]);
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .map(str::to_string)
    };
    let port = field("master_port").map(|p| p.parse().unwrap());
    (field("role").unwrap(), port)
}

#[test]
fn manual_failover_swaps_primary_and_replica() {
    let (primaries, replica) = cluster_with_replica();
    let (old, new) = (id(&primaries[0]), id(&replica));
    let mut con = replica.client();
    assert_eq!(role(&replica), ("slave".into(), Some(primaries[0].port)));
    assert_eq!(role(&primaries[0]), ("master".into(), None));
    assert_eq!(
        err(&mut con, &["CLUSTER", "FAILOVER", "SOON"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut primaries[1].client(), &["CLUSTER", "FAILOVER"]),
        "ERR You should send CLUSTER FAILOVER to a replica"
    );
    q::<()>(&mut con, &["CLUSTER", "FAILOVER"]);
    let all: Vec<&Node> = primaries.iter().chain([&replica]).collect();
    wait_until(BOUND, "the replica is promoted everywhere", || {
        all_see(&all, &new, &old)
    });
    assert_eq!(role(&replica), ("master".into(), None));
    assert_eq!(role(&primaries[0]), ("slave".into(), Some(replica.port)));
    // The new primary's config epoch is above every other primary's (a
    // replica shows its primary's).
    let epochs: Vec<u64> = all
        .iter()
        .map(|n| line(&replica, &id(n))[6].parse().unwrap())
        .collect();
    assert!(epochs[3] > epochs[1].max(epochs[2]), "{epochs:?}");
    assert_eq!(epochs[0], epochs[3]);
    let info: String = q(&mut con, &["CLUSTER", "INFO"]);
    assert!(
        info.contains("cluster_stats_messages_mfstart_sent:1"),
        "{info}"
    );
    // The vote request went to each of the three other nodes.
    assert!(
        info.contains("cluster_stats_messages_auth-req_sent:3"),
        "{info}"
    );
    assert!(
        info.contains("cluster_stats_messages_auth-ack_received:"),
        "{info}"
    );
    wait_until(BOUND, "redis-cli --cluster check passes", || {
        cluster_check(&format!("127.0.0.1:{}", replica.port)).is_ok()
    });
    cluster_client_works(&replica);
    // The old primary answers for its former slots with a redirect.
    let moved = err(&mut primaries[0].client(), &["SET", "foo{a}", "1"]);
    assert_eq!(
        moved,
        format!("MOVED 15495 127.0.0.1:{}", primaries[2].port)
    );
    let slot: i64 = q(&mut con, &["CLUSTER", "KEYSLOT", "bar"]);
    assert!(slot < 5461);
    let moved = err(&mut primaries[0].client(), &["SET", "bar", "1"]);
    assert_eq!(moved, format!("MOVED {slot} 127.0.0.1:{}", replica.port));
}

#[test]
fn takeover_needs_no_vote() {
    let (primaries, replica) = cluster_with_replica();
    let (old, new) = (id(&primaries[0]), id(&replica));
    q::<()>(&mut replica.client(), &["CLUSTER", "FAILOVER", "TAKEOVER"]);
    let all: Vec<&Node> = primaries.iter().chain([&replica]).collect();
    wait_until(BOUND, "the replica took over", || all_see(&all, &new, &old));
    let info: String = q(&mut replica.client(), &["CLUSTER", "INFO"]);
    assert!(!info.contains("auth-req_sent"), "{info}");
    cluster_client_works(&primaries[1]);
}

/// `cluster_with_replica`, the replica told not to fail over by itself
/// (it waits for an operator); also its id.
fn cluster_with_waiting_replica() -> (Vec<Node>, Node, String) {
    let (primaries, replica) = cluster_with_replica();
    q::<()>(
        &mut replica.client(),
        &["CONFIG", "SET", "cluster-replica-no-failover", "yes"],
    );
    let new = id(&replica);
    (primaries, replica, new)
}

#[test]
fn replica_replaces_a_killed_primary() {
    let (mut primaries, replica, new) = cluster_with_waiting_replica();
    let mut con = replica.client();
    wait_until(BOUND, "the others see nofailover", || {
        line(&primaries[1], &new)
            .get(2)
            .is_some_and(|f| f.contains("nofailover"))
    });
    let dead = primaries.remove(0);
    let old = id(&dead);
    drop(dead);
    wait_until(BOUND, "the replica sees its primary fail", || {
        line(&replica, &old)[2].split(',').any(|f| f == "fail")
    });
    assert_eq!(
        err(&mut con, &["CLUSTER", "FAILOVER"]),
        "ERR Master is down or failed, please use CLUSTER FAILOVER FORCE"
    );
    let info: String = q(&mut primaries[0].client(), &["CLUSTER", "INFO"]);
    assert!(info.contains("cluster_state:ok"), "{info}");
    assert!(line(&replica, &new)[2].contains("slave"));
    // Allowed again, it is elected by the two live primaries.
    q::<()>(
        &mut con,
        &["CONFIG", "SET", "cluster-replica-no-failover", "no"],
    );
    let survivors: Vec<&Node> = primaries.iter().chain([&replica]).collect();
    wait_until(BOUND, "the replica is promoted", || {
        survivors.iter().all(|n| {
            let l = line(n, &new);
            l[2].contains("master") && l.get(8).map(String::as_str) == Some("0-5460")
        })
    });
    wait_until(BOUND, "every survivor is ok", || {
        survivors.iter().all(|n| {
            let info: String = q(&mut n.client(), &["CLUSTER", "INFO"]);
            info.contains("cluster_state:ok")
        })
    });
    cluster_client_works(&replica);
}

#[test]
fn forced_failover_of_a_dead_primary() {
    let (mut primaries, replica, new) = cluster_with_waiting_replica();
    let mut con = replica.client();
    drop(primaries.remove(0));
    q::<()>(&mut con, &["CLUSTER", "FAILOVER", "FORCE"]);
    let survivors: Vec<&Node> = primaries.iter().chain([&replica]).collect();
    wait_until(BOUND, "the replica is promoted", || {
        survivors
            .iter()
            .all(|n| line(n, &new)[2].contains("master"))
    });
    cluster_client_works(&replica);
}

#[test]
fn primary_pauses_writes_while_its_replica_takes_over() {
    use std::io::{Read, Write};
    let (primaries, replica) = cluster_with_replica();
    // With the two other primaries stopped, the replica gets one vote of
    // the two it needs: the manual failover runs to its timeout, and the
    // primary's writes stay paused meanwhile. (The node timeout is far
    // longer than this test, so no one is flagged failing.)
    for p in &primaries {
        q::<()>(
            &mut p.client(),
            &["CONFIG", "SET", "cluster-node-timeout", "60000"],
        );
    }
    q::<()>(
        &mut replica.client(),
        &["CONFIG", "SET", "cluster-node-timeout", "60000"],
    );
    primaries[1].signal("-STOP");
    primaries[2].signal("-STOP");
    let mut con = primaries[0].client();
    q::<()>(&mut con, &["SET", "bar", "before"]);
    q::<()>(&mut replica.client(), &["CLUSTER", "FAILOVER"]);
    wait_until(BOUND, "the primary pauses writes", || {
        let info: String = q(&mut replica.client(), &["CLUSTER", "INFO"]);
        info.contains("cluster_stats_messages_auth-req_sent")
    });
    let mut writer = std::net::TcpStream::connect(("127.0.0.1", primaries[0].port)).unwrap();
    writer
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    writer
        .write_all(b"*3\r\n$3\r\nSET\r\n$3\r\nbar\r\n$6\r\nduring\r\n")
        .unwrap();
    let mut reply = [0u8; 5];
    assert!(
        writer.read_exact(&mut reply).is_err(),
        "a write was served during the pause"
    );
    // Reads go on.
    let v: String = q(&mut con, &["GET", "bar"]);
    assert_eq!(v, "before");
    // The manual failover times out (5 s): the write runs.
    writer
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    writer.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"+OK\r\n");
    primaries[1].signal("-CONT");
    primaries[2].signal("-CONT");
    let v: String = q(&mut con, &["GET", "bar"]);
    assert_eq!(v, "during");
    let line = line(&replica, &id(&replica));
    assert!(line[2].contains("slave"), "{line:?}");
}
