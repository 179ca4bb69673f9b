//! The node starts, answers real clients, and stops.

use slotcache_tests::Node;

#[test]
fn ping_set_get_through_redis_crate_and_cli() {
    let node = Node::start(&[]);
    let mut con = node.client();
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
    let _: () = redis::cmd("SET")
        .arg("greeting")
        .arg("hello")
        .query(&mut con)
        .unwrap();
    let got: String = redis::cmd("GET").arg("greeting").query(&mut con).unwrap();
    assert_eq!(got, "hello");
    assert_eq!(node.cli(&["GET", "greeting"]).trim(), "hello");
}
