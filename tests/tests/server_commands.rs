//! Connection and server commands through real clients (the `redis` crate,
//! raw sockets, redis-cli, redis-benchmark): replies and error strings as
//! Redis 7.

use std::collections::HashMap;
use std::io::Read;
use std::process::Command;
use std::time::Duration;

use redis::{Connection, Value};
use slotcache_tests::{cmd, err, q, resp, wait_until, Node, Raw};

mod reference;
use reference::Reference;

/// Sends one command on a raw socket and returns its whole reply, parsed.
fn raw_call(raw: &mut Raw, args: &[&str]) -> Value {
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    raw.send(&resp(&args));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = raw.stream.read(&mut chunk).expect("reply");
        assert!(n > 0, "connection closed before a full reply");
        buf.extend_from_slice(&chunk[..n]);
        if let Ok(v) = redis::parse_redis_value(&buf) {
            return v;
        }
    }
}

/// `field:value` lines of an INFO reply.
fn info(con: &mut Connection, section: &str) -> HashMap<String, String> {
    let text: String = q(con, &["INFO", section]);
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// `db0:keys=…,expires=…` and its `avg_ttl`.
fn keyspace_db0(con: &mut Connection) -> (String, u64) {
    let line = info(con, "keyspace")["db0"].clone();
    let (counts, avg) = line.split_once(",avg_ttl=").unwrap();
    (counts.to_string(), avg.parse().unwrap())
}

fn stat(con: &mut Connection, field: &str) -> i64 {
    info(con, "stats")[field].parse().unwrap()
}

fn map_of(v: Value) -> HashMap<String, Value> {
    let pairs = match v {
        Value::Map(pairs) => pairs,
        Value::Array(items) => items
            .chunks(2)
            .map(|c| (c[0].clone(), c[1].clone()))
            .collect(),
        other => panic!("not a map: {other:?}"),
    };
    pairs
        .into_iter()
        .map(|(k, v)| (redis::from_redis_value(k).unwrap(), v))
        .collect()
}

fn text(v: &Value) -> String {
    redis::from_redis_value(v.clone()).unwrap()
}

#[test]
fn ping_echo_select_and_error_strings() {
    let node = Node::start(&[]);
    let mut con = node.client();
    assert_eq!(q::<String>(&mut con, &["PING"]), "PONG");
    assert_eq!(q::<String>(&mut con, &["PING", "hi there"]), "hi there");
    assert_eq!(q::<String>(&mut con, &["ECHO", "x\r\ny"]), "x\r\ny");
    assert_eq!(
        err(&mut con, &["PING", "a", "b"]),
        "ERR wrong number of arguments for 'ping' command"
    );
    assert_eq!(
        err(&mut con, &["ECHO"]),
        "ERR wrong number of arguments for 'echo' command"
    );
    assert_eq!(
        err(&mut con, &["GET"]),
        "ERR wrong number of arguments for 'get' command"
    );
    assert_eq!(
        err(&mut con, &["NOSUCH", "a", "b"]),
        "ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' "
    );
    assert_eq!(
        err(&mut con, &["NOSUCH"]),
        "ERR unknown command 'NOSUCH', with args beginning with: "
    );
    assert_eq!(
        err(&mut con, &["CONFIG", "NOSUCH"]),
        "ERR unknown subcommand 'NOSUCH'. Try CONFIG HELP."
    );
    assert_eq!(
        err(&mut con, &["CONFIG"]),
        "ERR wrong number of arguments for 'config' command"
    );
    assert_eq!(
        err(&mut con, &["CONFIG", "GET"]),
        "ERR wrong number of arguments for 'config|get' command"
    );
    assert_eq!(q::<String>(&mut con, &["SELECT", "0"]), "OK");
    assert_eq!(
        err(&mut con, &["SELECT", "1"]),
        "ERR DB index is out of range"
    );
    assert_eq!(
        err(&mut con, &["SELECT", "x"]),
        "ERR value is not an integer or out of range"
    );
    // The connection survives every error.
    assert_eq!(q::<String>(&mut con, &["PING"]), "PONG");
    assert!(q::<Vec<String>>(&mut con, &["CONFIG", "HELP"]).len() > 4);
}

#[test]
fn hello_resp2_and_resp3() {
    let node = Node::start(&["--availability-zone", "az-1"]);
    let mut con = node.client();
    let id: i64 = q(&mut con, &["CLIENT", "ID"]);
    let hello = map_of(q(&mut con, &["HELLO", "2"]));
    assert_eq!(text(&hello["server"]), "redis");
    assert!(text(&hello["version"]).starts_with('7'));
    assert_eq!(hello["proto"], Value::Int(2));
    assert_eq!(hello["id"], Value::Int(id));
    assert_eq!(text(&hello["mode"]), "standalone");
    assert_eq!(text(&hello["role"]), "master");
    assert_eq!(text(&hello["availability_zone"]), "az-1");

    // RESP3 from the first byte: HELLO answers with a map, and the
    // connection then speaks RESP3.
    let mut raw = node.raw();
    raw.send(&resp(&[b"HELLO", b"3"]));
    let mut head = [0u8; 4];
    raw.stream.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"%8\r\n", "HELLO 3 replies with an 8-entry map");
    let mut raw = node.raw();
    let hello = map_of(raw_call(
        &mut raw,
        &["HELLO", "3", "SETNAME", "resp3-client"],
    ));
    assert_eq!(hello["proto"], Value::Int(3));
    assert_eq!(text(&hello["availability_zone"]), "az-1");
    assert_eq!(
        raw_call(&mut raw, &["CLIENT", "GETNAME"]),
        Value::BulkString(b"resp3-client".to_vec())
    );
    assert!(text(&raw_call(&mut raw, &["CLIENT", "INFO"])).contains(" resp=3 "));
    assert_eq!(raw_call(&mut raw, &["GET", "nokey"]), Value::Nil);
    raw.send(&resp(&[b"GET", b"nokey"]));
    let mut null = [0u8; 3];
    raw.stream.read_exact(&mut null).unwrap();
    assert_eq!(&null, b"_\r\n", "RESP3 null");
    // HELLO without a version answers in the current protocol.
    assert!(matches!(raw_call(&mut raw, &["HELLO"]), Value::Map(_)));
    assert!(matches!(
        raw_call(&mut raw, &["HELLO", "2"]),
        Value::Array(_)
    ));

    // The redis crate's own RESP3 handshake.
    let client = redis::Client::open(format!("{}?protocol=resp3", node.url())).unwrap();
    let mut con3 = client.get_connection().unwrap();
    assert!(matches!(
        q::<Value>(&mut con3, &["CONFIG", "GET", "maxmemory"]),
        Value::Map(_)
    ));

    assert_eq!(
        err(&mut con, &["HELLO", "4"]),
        "NOPROTO unsupported protocol version"
    );
    assert_eq!(
        err(&mut con, &["HELLO", "x"]),
        "ERR Protocol version is not an integer or out of range"
    );
    assert_eq!(
        err(&mut con, &["HELLO", "3", "BOGUS"]),
        "ERR Syntax error in HELLO option 'BOGUS'"
    );
}

#[test]
fn auth_with_requirepass() {
    let node = Node::start(&["--requirepass", "s3cret"]);
    let mut raw = node.raw();
    let noauth = "NOAUTH Authentication required.";
    let error = |v: Value| match v {
        Value::ServerError(e) => format!("{} {}", e.code(), e.details().unwrap_or("")),
        other => panic!("not an error: {other:?}"),
    };
    assert_eq!(error(raw_call(&mut raw, &["PING"])), noauth);
    assert_eq!(error(raw_call(&mut raw, &["GET", "k"])), noauth);
    assert!(error(raw_call(&mut raw, &["HELLO", "3"])).starts_with("NOAUTH HELLO must be called"));
    assert_eq!(
        error(raw_call(&mut raw, &["AUTH", "wrong"])),
        "WRONGPASS invalid username-password pair or user is disabled."
    );
    assert_eq!(
        error(raw_call(&mut raw, &["AUTH", "nobody", "s3cret"])),
        "WRONGPASS invalid username-password pair or user is disabled."
    );
    assert_eq!(raw_call(&mut raw, &["AUTH", "s3cret"]), Value::Okay);
    assert_eq!(
        raw_call(&mut raw, &["PING"]),
        Value::SimpleString("PONG".into())
    );
    // RESET drops the authentication.
    assert_eq!(
        raw_call(&mut raw, &["RESET"]),
        Value::SimpleString("RESET".into())
    );
    assert_eq!(error(raw_call(&mut raw, &["PING"])), noauth);
    assert_eq!(
        raw_call(&mut raw, &["AUTH", "default", "s3cret"]),
        Value::Okay
    );
    assert_eq!(
        raw_call(&mut raw, &["PING"]),
        Value::SimpleString("PONG".into())
    );

    let mut raw = node.raw();
    let hello = map_of(raw_call(
        &mut raw,
        &["HELLO", "3", "AUTH", "default", "s3cret"],
    ));
    assert_eq!(hello["proto"], Value::Int(3));
    assert_eq!(
        raw_call(&mut raw, &["PING"]),
        Value::SimpleString("PONG".into())
    );

    // Real clients authenticate through the URL and redis-cli's -a.
    let url = format!("redis://:s3cret@127.0.0.1:{}/", node.port);
    let mut con = redis::Client::open(url).unwrap().get_connection().unwrap();
    assert_eq!(q::<String>(&mut con, &["PING"]), "PONG");
    let url3 = format!("redis://:s3cret@127.0.0.1:{}/?protocol=resp3", node.port);
    let mut con3 = redis::Client::open(url3).unwrap().get_connection().unwrap();
    assert_eq!(q::<String>(&mut con3, &["PING"]), "PONG");
    assert_eq!(
        node.cli(&["-a", "s3cret", "--no-auth-warning", "PING"])
            .trim(),
        "PONG"
    );
    assert_eq!(node.cli(&["PING"]).trim(), noauth);

    // Removing the password at run time frees new connections.
    assert_eq!(
        q::<String>(&mut con, &["CONFIG", "SET", "requirepass", ""]),
        "OK"
    );
    assert_eq!(node.cli(&["PING"]).trim(), "PONG");
    assert_eq!(
        err(&mut con, &["AUTH", "x"]),
        "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"
    );
}

#[test]
fn quit_and_reset() {
    let node = Node::start(&[]);
    let mut raw = node.raw();
    raw.send(b"PING\r\nQUIT\r\nPING\r\n");
    let (bytes, closed) = raw.read_to_close();
    assert_eq!(String::from_utf8_lossy(&bytes), "+PONG\r\n+OK\r\n");
    assert!(closed, "QUIT closes the connection");

    let mut raw = node.raw();
    assert!(matches!(raw_call(&mut raw, &["HELLO", "3"]), Value::Map(_)));
    assert_eq!(
        raw_call(&mut raw, &["CLIENT", "SETNAME", "before"]),
        Value::Okay
    );
    assert_eq!(
        raw_call(&mut raw, &["RESET"]),
        Value::SimpleString("RESET".into())
    );
    // Back to RESP2, no name.
    assert_eq!(
        raw.roundtrip(&resp(&[b"CLIENT", b"GETNAME"]), b"$-1\r\n"),
        "$-1\r\n"
    );
    assert!(text(&raw_call(&mut raw, &["CLIENT", "INFO"])).contains(" resp=2 "));
}

#[test]
fn client_commands() {
    let node = Node::start(&[]);
    let mut con = node.client();
    let mut other = node.client();
    let id: i64 = q(&mut con, &["CLIENT", "ID"]);
    let other_id: i64 = q(&mut other, &["CLIENT", "ID"]);
    assert_ne!(id, other_id);

    assert_eq!(q::<Option<String>>(&mut con, &["CLIENT", "GETNAME"]), None);
    assert_eq!(
        q::<String>(&mut con, &["CLIENT", "SETNAME", "worker-1"]),
        "OK"
    );
    assert_eq!(q::<String>(&mut con, &["CLIENT", "GETNAME"]), "worker-1");
    assert_eq!(
        err(&mut con, &["CLIENT", "SETNAME", "has space"]),
        "ERR Client names cannot contain spaces, newlines or special characters."
    );
    assert_eq!(
        q::<String>(&mut con, &["CLIENT", "SETINFO", "LIB-NAME", "mylib"]),
        "OK"
    );
    assert_eq!(
        q::<String>(&mut con, &["CLIENT", "SETINFO", "lib-ver", "1.2.3"]),
        "OK"
    );
    assert_eq!(
        err(&mut con, &["CLIENT", "SETINFO", "color", "red"]),
        "ERR Unrecognized option 'color'"
    );

    let me: String = q(&mut con, &["CLIENT", "INFO"]);
    for field in [
        format!("id={id} "),
        "name=worker-1 ".into(),
        "cmd=client|info ".into(),
        "lib-name=mylib ".into(),
        "lib-ver=1.2.3".into(),
        "db=0 ".into(),
        " laddr=127.0.0.1:".into(),
    ] {
        assert!(me.contains(&field), "CLIENT INFO lacks {field:?}: {me}");
    }
    // The harness's readiness probe may still be on its way out.
    wait_until(Duration::from_secs(5), "only our two clients", || {
        q::<String>(&mut con, &["CLIENT", "LIST"]).lines().count() == 2
    });
    let list: String = q(&mut con, &["CLIENT", "LIST"]);
    let mine = list
        .lines()
        .find(|l| l.starts_with(&format!("id={id} ")))
        .unwrap();
    assert!(mine.contains("cmd=client|list "), "{mine}");
    let theirs = list
        .lines()
        .find(|l| l.starts_with(&format!("id={other_id} ")))
        .unwrap();
    assert!(theirs.contains("cmd=client|id "), "{theirs}");
    // The redis crate announces itself.
    assert!(theirs.contains("lib-name=redis-rs "), "{theirs}");
    let only: String = q(&mut con, &["CLIENT", "LIST", "ID", &other_id.to_string()]);
    assert_eq!(only.lines().count(), 1);
    assert!(q::<String>(&mut con, &["CLIENT", "LIST", "TYPE", "pubsub"]).is_empty());
    assert_eq!(
        q::<String>(&mut con, &["CLIENT", "LIST", "TYPE", "normal"])
            .lines()
            .count(),
        2
    );
    assert_eq!(
        err(&mut con, &["CLIENT", "LIST", "TYPE", "bogus"]),
        "ERR Unknown client type 'bogus'"
    );

    // KILL by id closes the other connection, and only it.
    assert_eq!(q::<i64>(&mut con, &["CLIENT", "KILL", "ID", "999999"]), 0);
    assert_eq!(
        q::<i64>(&mut con, &["CLIENT", "KILL", "ID", &other_id.to_string()]),
        1
    );
    assert!(
        cmd(&["PING"]).query::<String>(&mut other).is_err(),
        "the killed connection is closed"
    );
    wait_until(
        Duration::from_secs(5),
        "killed client leaves the list",
        || q::<String>(&mut con, &["CLIENT", "LIST"]).lines().count() == 1,
    );
    assert_eq!(q::<String>(&mut con, &["PING"]), "PONG");

    // The old form, by address.
    let mut victim = node.raw();
    let addr = victim.stream.local_addr().unwrap().to_string();
    wait_until(
        Duration::from_secs(5),
        "the server registers the victim",
        || q::<String>(&mut con, &["CLIENT", "LIST"]).contains(&format!(" addr={addr} ")),
    );
    assert_eq!(q::<String>(&mut con, &["CLIENT", "KILL", &addr]), "OK");
    let (_, closed) = victim.read_to_close();
    assert!(closed);
    assert_eq!(
        err(&mut con, &["CLIENT", "KILL", "10.0.0.1:1"]),
        "ERR No such client"
    );
    // Filters that match nobody, or are wrong.
    assert_eq!(q::<i64>(&mut con, &["CLIENT", "KILL", "TYPE", "pubsub"]), 0);
    assert_eq!(q::<i64>(&mut con, &["CLIENT", "KILL", "MAXAGE", "1000"]), 0);
    assert_eq!(
        err(&mut con, &["CLIENT", "KILL", "USER", "bob"]),
        "ERR No such user 'bob'"
    );
    assert_eq!(
        err(&mut con, &["CLIENT", "KILL", "ID", "x"]),
        "ERR client-id should be greater than 0"
    );
    // SKIPME no: a client may kill itself; it gets the reply first.
    wait_until(
        Duration::from_secs(5),
        "killed client leaves the list",
        || q::<String>(&mut con, &["CLIENT", "LIST"]).lines().count() == 1,
    );
    let mut raw = node.raw();
    raw.send(&resp(&[
        b"CLIENT",
        b"KILL",
        b"LADDR",
        format!("127.0.0.1:{}", node.port).as_bytes(),
        b"SKIPME",
        b"no",
    ]));
    let (bytes, closed) = raw.read_to_close();
    assert!(closed);
    assert_eq!(
        String::from_utf8_lossy(&bytes),
        ":2\r\n",
        "itself and `con`"
    );
}

/// CLIENT LIST shows each connection's state as Redis does: subscriptions,
/// a transaction's queue, a blocked or a dirty-CAS client, and TYPE pubsub
/// selects subscribers (for LIST and KILL).
#[test]
fn client_list_shows_connection_state() {
    let node = Node::start(&[]);
    let mut con = node.client();
    let line_of = |con: &mut Connection, id: i64| -> String {
        q::<String>(con, &["CLIENT", "LIST", "ID", &id.to_string()])
    };
    let mut subscriber = node.raw();
    let sub_id = match raw_call(&mut subscriber, &["CLIENT", "ID"]) {
        Value::Int(id) => id,
        other => panic!("{other:?}"),
    };
    subscriber.send(&resp(&[b"SUBSCRIBE", b"a", b"b"]));
    subscriber.send(&resp(&[b"PSUBSCRIBE", b"n*"]));
    wait_until(Duration::from_secs(5), "the subscriptions show", || {
        line_of(&mut con, sub_id).contains(" flags=P db=0 sub=2 psub=1 ssub=0 multi=-1 ")
    });

    let mut tx = node.raw();
    let tx_id = match raw_call(&mut tx, &["CLIENT", "ID"]) {
        Value::Int(id) => id,
        other => panic!("{other:?}"),
    };
    raw_call(&mut tx, &["WATCH", "w"]);
    raw_call(&mut tx, &["MULTI"]);
    raw_call(&mut tx, &["SET", "k", "v"]);
    raw_call(&mut tx, &["GET", "k"]);
    assert!(line_of(&mut con, tx_id).contains(" flags=x db=0 sub=0 psub=0 ssub=0 multi=2 "));
    q::<()>(&mut con, &["SET", "w", "changed"]);
    // The dirty flag shows from the client's next command on.
    raw_call(&mut tx, &["GET", "k"]);
    let line = line_of(&mut con, tx_id);
    assert!(
        line.contains(" flags=xd db=0 ") && line.contains(" multi=3 "),
        "{line}"
    );

    let mut blocked = node.raw();
    let blocked_id = match raw_call(&mut blocked, &["CLIENT", "ID"]) {
        Value::Int(id) => id,
        other => panic!("{other:?}"),
    };
    blocked.send(&resp(&[b"BLPOP", b"list", b"0"]));
    wait_until(Duration::from_secs(5), "the blocked client shows", || {
        line_of(&mut con, blocked_id).contains(" flags=b ")
    });
    assert!(line_of(&mut con, blocked_id).contains(" cmd=blpop "));

    let pubsub: String = q(&mut con, &["CLIENT", "LIST", "TYPE", "pubsub"]);
    assert_eq!(pubsub.lines().count(), 1, "{pubsub}");
    assert!(pubsub.starts_with(&format!("id={sub_id} ")));
    assert_eq!(q::<i64>(&mut con, &["CLIENT", "KILL", "TYPE", "pubsub"]), 1);
    let (_, closed) = subscriber.read_to_close();
    assert!(closed, "the subscriber was killed");
    assert!(
        line_of(&mut con, tx_id).contains(" flags=xd "),
        "others stay"
    );
}

#[test]
fn command_introspection() {
    let node = Node::start(&[]);
    let mut con = node.client();
    let count: usize = q(&mut con, &["COMMAND", "COUNT"]);
    let names: Vec<String> = q(&mut con, &["COMMAND", "LIST"]);
    assert_eq!(count, names.len());
    for n in ["get", "hset", "config", "client", "command", "ping"] {
        assert!(names.iter().any(|x| x == n), "COMMAND LIST lacks {n}");
    }
    let all: Vec<Value> = q(&mut con, &["COMMAND"]);
    assert_eq!(all.len(), count);

    let info: Vec<Value> = q(
        &mut con,
        &["COMMAND", "INFO", "get", "nosuch", "config|get"],
    );
    let Value::Array(get) = &info[0] else {
        panic!("{info:?}")
    };
    assert_eq!(text(&get[0]), "get");
    assert_eq!(get[1], Value::Int(2));
    let flags: Vec<String> = redis::from_redis_value(get[2].clone()).unwrap();
    assert!(flags.contains(&"readonly".into()) && flags.contains(&"fast".into()));
    assert_eq!(&get[3..6], &[Value::Int(1), Value::Int(1), Value::Int(1)]);
    assert_eq!(info[1], Value::Nil);
    let Value::Array(config_get) = &info[2] else {
        panic!("{info:?}")
    };
    assert_eq!(text(&config_get[0]), "config|get");
    assert_eq!(config_get[1], Value::Int(-3));

    let docs = map_of(q(&mut con, &["COMMAND", "DOCS", "get"]));
    let get = map_of(docs["get"].clone());
    assert!(!text(&get["summary"]).is_empty());
    assert_eq!(text(&get["group"]), "string");
    assert_eq!(text(&get["since"]), "1.0.0");

    let mut hs: Vec<String> = q(&mut con, &["COMMAND", "LIST", "FILTERBY", "PATTERN", "hs*"]);
    hs.sort();
    assert_eq!(hs, ["hscan", "hset", "hsetnx", "hstrlen"]);
    let hash: Vec<String> = q(&mut con, &["COMMAND", "LIST", "FILTERBY", "ACLCAT", "hash"]);
    assert!(hash.contains(&"hget".into()) && !hash.contains(&"get".into()));

    let keys = |con: &mut Connection, args: &[&str]| -> Vec<String> {
        let mut full = vec!["COMMAND", "GETKEYS"];
        full.extend_from_slice(args);
        q(con, &full)
    };
    assert_eq!(keys(&mut con, &["SET", "a", "b"]), ["a"]);
    assert_eq!(keys(&mut con, &["MSET", "a", "1", "b", "2"]), ["a", "b"]);
    assert_eq!(keys(&mut con, &["HSET", "h", "f", "v"]), ["h"]);
    assert_eq!(keys(&mut con, &["MEMORY", "USAGE", "k"]), ["k"]);
    assert_eq!(
        err(&mut con, &["COMMAND", "GETKEYS", "PING", "x"]),
        "ERR The command has no key arguments"
    );
    assert_eq!(
        err(&mut con, &["COMMAND", "GETKEYS", "NOSUCH", "x"]),
        "ERR Invalid command specified"
    );
    assert_eq!(
        err(&mut con, &["COMMAND", "GETKEYS", "GET", "a", "b"]),
        "ERR Invalid number of arguments specified for command"
    );
}

#[test]
fn info_sections_and_counters() {
    let node = Node::start(&["--region", "eu", "--availability-zone", "eu-1a"]);
    let mut con = node.client();
    let _other = node.client();
    let server = info(&mut con, "server");
    assert!(server["redis_version"].starts_with('7'));
    assert_eq!(server["tcp_port"], node.port.to_string());
    assert_eq!(server["redis_mode"], "standalone");
    assert_eq!(server["region"], "eu");
    assert_eq!(server["availability_zone"], "eu-1a");
    assert_eq!(server["process_id"], node.pid().to_string());
    assert_eq!(
        server["os"].split(' ').count(),
        3,
        "sysname release machine"
    );
    assert!(server.contains_key("uptime_in_seconds") && server.contains_key("run_id"));
    assert!(
        !server.contains_key("connected_clients"),
        "only the asked section"
    );

    // The harness's readiness probe may still be on its way out.
    wait_until(Duration::from_secs(5), "two connected clients", || {
        info(&mut con, "clients")["connected_clients"] == "2"
    });
    let memory = info(&mut con, "memory");
    assert!(memory["used_memory"].parse::<u64>().unwrap() > 0);
    assert!(memory.contains_key("used_memory_human"));
    assert_eq!(memory["maxmemory"], "0");
    assert_eq!(memory["maxmemory_policy"], "allkeys-lfu");
    // A script's interpreter shows apart from used_memory, as in Redis.
    let _: i64 = q(&mut con, &["EVAL", "return 1", "0"]);
    let lua: u64 = info(&mut con, "memory")["used_memory_lua"].parse().unwrap();
    assert!(lua > 10_000, "{lua}");

    let all: String = q(&mut con, &["INFO"]);
    for section in ["# Server", "# Clients", "# Memory", "# Stats", "# Keyspace"] {
        assert!(all.contains(section), "INFO lacks {section}");
    }
    let two: String = q(&mut con, &["INFO", "server", "CLIENTS"]);
    assert!(two.contains("# Server") && two.contains("# Clients") && !two.contains("# Memory"));
    assert!(q::<String>(&mut con, &["INFO", "everything"]).contains("# Keyspace"));
    assert!(q::<String>(&mut con, &["INFO", "nosuchsection"]).is_empty());

    // Hits and misses count key lookups of reads.
    assert_eq!(q::<String>(&mut con, &["CONFIG", "RESETSTAT"]), "OK");
    assert_eq!(stat(&mut con, "keyspace_hits"), 0);
    let _: () = q(&mut con, &["SET", "k", "v"]);
    for _ in 0..3 {
        let _: String = q(&mut con, &["GET", "k"]);
    }
    let _: Option<String> = q(&mut con, &["GET", "missing"]);
    let _: Vec<Option<String>> = q(&mut con, &["MGET", "k", "missing", "missing2"]);
    assert_eq!(stat(&mut con, "keyspace_hits"), 4);
    assert_eq!(stat(&mut con, "keyspace_misses"), 3);
    assert!(stat(&mut con, "total_commands_processed") >= 7);
    let errors = stat(&mut con, "total_error_replies");
    let _ = cmd(&["NOSUCH"]).query::<Value>(&mut con);
    assert_eq!(stat(&mut con, "total_error_replies"), errors + 1);

    // Expired keys are counted whether found by a read or by the sweep.
    let _: () = q(&mut con, &["SET", "short", "v", "PX", "30"]);
    let _: () = q(&mut con, &["SET", "long", "v", "EX", "1000"]);
    let (counts, avg_ttl) = keyspace_db0(&mut con);
    assert_eq!(counts, "keys=3,expires=2");
    assert!(
        (400_000..=600_000).contains(&avg_ttl),
        "avg_ttl {avg_ttl} ms"
    );
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(q::<Option<String>>(&mut con, &["GET", "short"]), None);
    assert_eq!(stat(&mut con, "expired_keys"), 1);
    assert_eq!(q::<i64>(&mut con, &["DBSIZE"]), 2);
    let (counts, avg_ttl) = keyspace_db0(&mut con);
    assert_eq!(counts, "keys=2,expires=1");
    assert!(
        (990_000..=1_000_000).contains(&avg_ttl),
        "avg_ttl {avg_ttl} ms"
    );
    assert_eq!(q::<String>(&mut con, &["CONFIG", "RESETSTAT"]), "OK");
    assert_eq!(stat(&mut con, "expired_keys"), 0);
    assert_eq!(stat(&mut con, "keyspace_misses"), 0);

    assert_eq!(q::<String>(&mut con, &["FLUSHALL"]), "OK");
    assert_eq!(q::<i64>(&mut con, &["DBSIZE"]), 0);
    assert!(!info(&mut con, "keyspace").contains_key("db0"));
    let _: () = q(&mut con, &["SET", "k", "v"]);
    assert_eq!(q::<String>(&mut con, &["FLUSHDB", "ASYNC"]), "OK");
    assert_eq!(q::<i64>(&mut con, &["DBSIZE"]), 0);
    assert_eq!(err(&mut con, &["FLUSHALL", "BOGUS"]), "ERR syntax error");
}

#[test]
fn config_get_and_set() {
    let node = Node::start(&[]);
    let mut con = node.client();
    let got: HashMap<String, String> = q(&mut con, &["CONFIG", "GET", "maxmemory*"]);
    let mut names: Vec<&String> = got.keys().collect();
    names.sort();
    assert_eq!(
        names,
        ["maxmemory", "maxmemory-policy", "maxmemory-samples"]
    );
    assert_eq!(got["maxmemory-policy"], "allkeys-lfu");
    let got: HashMap<String, String> = q(&mut con, &["CONFIG", "GET", "port", "BIND", "port"]);
    assert_eq!(got.len(), 2);
    assert_eq!(got["port"], node.port.to_string());
    // A plain name comes back as it was typed, as in Redis.
    assert_eq!(got["BIND"], "127.0.0.1");
    assert!(q::<HashMap<String, String>>(&mut con, &["CONFIG", "GET", "nosuch"]).is_empty());
    assert!(q::<HashMap<String, String>>(&mut con, &["CONFIG", "GET", "*"]).len() > 20);

    let get = |con: &mut Connection, name: &str| -> String {
        let got: HashMap<String, String> = q(con, &["CONFIG", "GET", name]);
        got[name].clone()
    };
    assert_eq!(
        q::<String>(&mut con, &["CONFIG", "SET", "maxmemory", "100mb"]),
        "OK"
    );
    assert_eq!(get(&mut con, "maxmemory"), "104857600");
    assert_eq!(info(&mut con, "memory")["maxmemory"], "104857600");
    assert_eq!(
        q::<String>(
            &mut con,
            &[
                "CONFIG",
                "SET",
                "maxmemory-policy",
                "allkeys-lru",
                "hz",
                "20"
            ]
        ),
        "OK"
    );
    assert_eq!(get(&mut con, "maxmemory-policy"), "allkeys-lru");
    assert_eq!(get(&mut con, "hz"), "20");
    assert_eq!(
        err(&mut con, &["CONFIG", "SET", "region", "elsewhere"]),
        "ERR CONFIG SET failed (possibly related to argument 'region') - can't set immutable config"
    );
    assert!(err(&mut con, &["CONFIG", "SET", "maxmemory", "lots"])
        .starts_with("ERR CONFIG SET failed (possibly related to argument 'maxmemory') - "));
    assert_eq!(
        err(&mut con, &["CONFIG", "SET", "nosuch", "1"]),
        "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'"
    );
    assert_eq!(
        err(&mut con, &["CONFIG", "SET", "hz", "30", "maxmemory"]),
        "ERR syntax error"
    );
    // All or nothing: a bad second pair leaves the first unapplied.
    assert!(err(
        &mut con,
        &["CONFIG", "SET", "hz", "30", "maxmemory-policy", "bogus"]
    )
    .starts_with("ERR CONFIG SET failed"));
    assert_eq!(get(&mut con, "hz"), "20");
    assert_eq!(get(&mut con, "maxmemory-policy"), "allkeys-lru");
}

#[test]
fn object_memory_time_and_wait() {
    let node = Node::start(&[]);
    let mut con = node.client();
    let _: () = q(&mut con, &["SET", "int", "12345"]);
    let _: () = q(&mut con, &["SET", "short", "hello"]);
    let _: () = q(&mut con, &["SET", "long", &"x".repeat(100)]);
    for (key, encoding) in [("int", "int"), ("short", "embstr"), ("long", "raw")] {
        assert_eq!(
            q::<String>(&mut con, &["OBJECT", "ENCODING", key]),
            encoding
        );
    }
    assert_eq!(
        q::<Option<String>>(&mut con, &["OBJECT", "ENCODING", "nokey"]),
        None
    );
    assert_eq!(q::<i64>(&mut con, &["OBJECT", "REFCOUNT", "short"]), 1);
    assert_eq!(
        q::<Option<i64>>(&mut con, &["OBJECT", "REFCOUNT", "nokey"]),
        None
    );

    // LFU by default: a new key starts at 5 and reads raise it.
    let fresh: i64 = q(&mut con, &["OBJECT", "FREQ", "short"]);
    assert!((4..=5).contains(&fresh), "{fresh}");
    for _ in 0..200 {
        let _: String = q(&mut con, &["GET", "short"]);
    }
    let read: i64 = q(&mut con, &["OBJECT", "FREQ", "short"]);
    assert!(read > fresh, "{fresh} -> {read}");
    assert!(err(&mut con, &["OBJECT", "IDLETIME", "short"])
        .starts_with("ERR An LFU maxmemory policy is selected, idle time not tracked."));
    // LRU: idle time is tracked instead.
    assert_eq!(
        q::<String>(
            &mut con,
            &["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"]
        ),
        "OK"
    );
    let _: () = q(&mut con, &["SET", "lru", "v"]);
    assert!(q::<i64>(&mut con, &["OBJECT", "IDLETIME", "lru"]) <= 1);
    assert_eq!(
        q::<Option<i64>>(&mut con, &["OBJECT", "IDLETIME", "nokey"]),
        None
    );
    assert!(err(&mut con, &["OBJECT", "FREQ", "lru"])
        .starts_with("ERR An LFU maxmemory policy is not selected, access frequency not tracked."));
    assert!(q::<Vec<String>>(&mut con, &["OBJECT", "HELP"]).len() > 4);

    let small: i64 = q(&mut con, &["MEMORY", "USAGE", "short"]);
    let big: i64 = q(&mut con, &["MEMORY", "USAGE", "long", "SAMPLES", "5"]);
    assert!(
        small >= "short".len() as i64 + 5 && big >= small + 90,
        "{small} {big}"
    );
    assert_eq!(
        q::<Option<i64>>(&mut con, &["MEMORY", "USAGE", "nokey"]),
        None
    );

    let (secs, micros): (String, String) = q(&mut con, &["TIME"]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((secs.parse::<i64>().unwrap() - now).abs() <= 2);
    assert!(micros.parse::<u64>().unwrap() < 1_000_000);

    assert_eq!(q::<i64>(&mut con, &["WAIT", "0", "0"]), 0);
    // No replica acknowledges: blocked until the timeout, as Redis with none.
    let started = std::time::Instant::now();
    assert_eq!(q::<i64>(&mut con, &["WAIT", "1", "150"]), 0);
    assert!(started.elapsed() >= Duration::from_millis(140));
    let tx: Vec<i64> = redis::pipe()
        .atomic()
        .cmd("WAIT")
        .arg(1)
        .arg(0)
        .query(&mut con)
        .unwrap();
    assert_eq!(tx, [0], "inside MULTI it does not block");
    let mut forever = node.raw();
    forever.send(&resp(&[b"WAIT", b"1", b"0"]));
    wait_until(Duration::from_secs(5), "WAIT 1 0 blocks", || {
        q::<String>(&mut con, &["CLIENT", "LIST"])
            .lines()
            .any(|l| l.contains(" flags=b ") && l.contains(" cmd=wait "))
    });
    assert_eq!(
        q::<i64>(
            &mut con,
            &["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"]
        ),
        1
    );
    let (unanswered, closed) = forever.read_to_close();
    assert!(closed && unanswered.is_empty(), "{unanswered:?}");
    assert_eq!(
        err(&mut con, &["WAIT", "0", "-1"]),
        "ERR timeout is negative"
    );
    assert_eq!(
        err(&mut con, &["WAIT", "x", "0"]),
        "ERR value is not an integer or out of range"
    );
}

#[test]
fn slowlog() {
    let node = Node::start(&[]);
    let mut con = node.client();
    let _: () = q(&mut con, &["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
    let _: () = q(&mut con, &["CLIENT", "SETNAME", "slowpoke"]);
    let _: String = q(&mut con, &["ECHO", "hello"]);
    assert!(q::<i64>(&mut con, &["SLOWLOG", "LEN"]) >= 2);
    let entries: Vec<Value> = q(&mut con, &["SLOWLOG", "GET", "2"]);
    assert_eq!(entries.len(), 2);
    // Newest first: SLOWLOG LEN, then ECHO hello.
    let Value::Array(echo) = &entries[1] else {
        panic!("{entries:?}")
    };
    assert_eq!(echo.len(), 6);
    let Value::Array(newest) = &entries[0] else {
        panic!("{entries:?}")
    };
    let id = |v: &Value| -> i64 { redis::from_redis_value(v.clone()).unwrap() };
    assert_eq!(id(&newest[0]), id(&echo[0]) + 1, "ids grow");
    let args: Vec<String> = redis::from_redis_value(echo[3].clone()).unwrap();
    assert_eq!(args, ["ECHO", "hello"]);
    let when = id(&echo[1]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((when - now).abs() <= 2);
    assert!(id(&echo[2]) >= 0);
    assert!(text(&echo[4]).starts_with("127.0.0.1:"));
    assert_eq!(text(&echo[5]), "slowpoke");
    assert!(q::<Vec<Value>>(&mut con, &["SLOWLOG", "GET", "-1"]).len() >= 4);
    assert_eq!(
        err(&mut con, &["SLOWLOG", "GET", "-2"]),
        "ERR count should be greater than or equal to -1"
    );
    let _: () = q(
        &mut con,
        &["CONFIG", "SET", "slowlog-log-slower-than", "1000000"],
    );
    assert_eq!(q::<String>(&mut con, &["SLOWLOG", "RESET"]), "OK");
    assert_eq!(q::<i64>(&mut con, &["SLOWLOG", "LEN"]), 0);
    // A negative threshold turns the log off.
    let _: () = q(
        &mut con,
        &["CONFIG", "SET", "slowlog-log-slower-than", "-1"],
    );
    let _: String = q(&mut con, &["PING"]);
    assert_eq!(q::<i64>(&mut con, &["SLOWLOG", "LEN"]), 0);
}

#[test]
fn redis_cli_and_redis_benchmark_work() {
    let node = Node::start(&[]);
    let port = node.port.to_string();
    let out = Command::new("redis-cli")
        .args(["-p", &port, "--no-raw", "COMMAND", "DOCS", "get"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("\"summary\"") && !stdout.contains("ERR"),
        "{stdout}"
    );
    // Commands piped in, as an interactive session sends them.
    let mut child = Command::new("redis-cli")
        .args(["-p", &port])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"SET a 1\nINCR a\nHSET h f v\nHGETALL h\nCLIENT SETNAME cli\nCLIENT GETNAME\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "OK\n2\n1\nf\nv\nOK\ncli\n"
    );

    let out = Command::new("redis-benchmark")
        .args(["-p", &port, "-t", "ping", "-n", "1000", "-q"])
        .output()
        .expect("redis-benchmark is installed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    for test in ["PING_INLINE", "PING_MBULK"] {
        assert!(
            stdout
                .lines()
                .any(|l| l.contains(test) && l.contains("requests per second")),
            "{stdout}"
        );
    }
}

#[test]
fn shutdown_stops_the_node_and_refuses_what_it_cannot_do() {
    let mut node = Node::start(&[]);
    let mut con = node.client();
    assert_eq!(
        err(&mut con, &["SHUTDOWN", "ABORT"]),
        "ERR No shutdown in progress."
    );
    assert_eq!(err(&mut con, &["SHUTDOWN", "LATER"]), "ERR syntax error");
    assert_eq!(
        err(&mut con, &["SHUTDOWN", "SAVE", "NOSAVE"]),
        "ERR syntax error"
    );
    // Nothing to save: SAVE is refused, not ignored.
    assert_eq!(
        err(&mut con, &["SHUTDOWN", "SAVE"]),
        "ERR Errors trying to SHUTDOWN. Check logs."
    );
    q::<()>(&mut con, &["MULTI"]);
    assert_eq!(
        err(&mut con, &["SHUTDOWN"]),
        "ERR Command not allowed inside a transaction"
    );
    q::<()>(&mut con, &["DISCARD"]);
    assert!(node.is_running());
    // Success has no reply: the connection closes as the process exits.
    let out = node.cli(&["SHUTDOWN", "NOSAVE", "NOW"]);
    assert!(!out.contains("ERR"), "{out}");
    wait_until(Duration::from_secs(10), "the node to exit", || {
        !node.is_running()
    });
}

/// CONFIG SET's checks and OBJECT's order of checks answer as
/// redis-server's do: bounds and wording of each number, every name
/// checked (unknown, duplicate) before any value, save's pairs, the
/// eviction policies in Redis's order, a missing key before the policy.
#[test]
fn config_set_and_object_reply_as_redis_server() {
    let node = Node::start(&[]);
    let reference = Reference::start();
    let (mut ours, mut theirs) = (node.client(), reference.client());
    let script = [
        "CONFIG SET maxmemory-policy allkeys-lfu",
        "SET s 10",
        "OBJECT IDLETIME nokey",
        "OBJECT FREQ nokey",
        "OBJECT ENCODING nokey",
        "OBJECT IDLETIME s",
        "CONFIG SET maxmemory abc",
        "CONFIG SET maxmemory -1",
        "CONFIG SET maxmemory-samples abc",
        "CONFIG SET maxmemory-samples 0",
        "CONFIG SET maxmemory-samples -1",
        "CONFIG SET lfu-log-factor -1",
        "CONFIG SET lfu-decay-time abc",
        "CONFIG SET hz 0",
        "CONFIG GET hz",
        "CONFIG SET hz 10",
        "CONFIG SET timeout -1",
        "CONFIG SET maxclients 0",
        "CONFIG SET slowlog-log-slower-than -2",
        "CONFIG SET slowlog-log-slower-than -1",
        "CONFIG SET slowlog-max-len -1",
        "CONFIG SET proto-max-bulk-len 1",
        "CONFIG SET client-query-buffer-limit 1000",
        "CONFIG SET busy-reply-threshold abc",
        "CONFIG SET save foo",
        "CONFIG SET save 900",
        "CONFIG SET save 900~1~300~10",
        "CONFIG SET appendonly maybe",
        "CONFIG SET appendonly no",
        "CONFIG SET maxmemory 1mb maxmemory 2mb",
        "CONFIG SET lua-time-limit 5 busy-reply-threshold 5",
        "CONFIG SET maxmemory abc nosuch 1",
        "CONFIG SET timeout 1 timeout",
        "CONFIG SET maxmemory-samples 7 lfu-log-factor -1",
        "CONFIG GET maxmemory-samples",
    ];
    reference::assert_replies_alike(&mut ours, &mut theirs, &script);
    // Redis's policies in its order, then slotcache's own.
    let args = ["CONFIG", "SET", "maxmemory-policy", "foo"].map(String::from);
    let (a, b) = reference::both(&mut ours, &mut theirs, &args, false);
    assert_eq!(
        a,
        b.replacen("noeviction", "noeviction, allkeys-lfu-lru", 1)
    );
}

#[test]
fn introspection_replies_as_redis_server() {
    let node = Node::start(&[]);
    let reference = Reference::start();
    let (mut ours, mut theirs) = (node.client(), reference.client());
    let script = [
        "WAIT 0 x",
        "WAIT x 0",
        "CONFIG HELP",
        "COMMAND INFO nosuch",
        "COMMAND GETKEYS get",
        "COMMAND GETKEYS get a b",
        "COMMAND GETKEYS mset a 1 b 2",
        // A plain name comes back as typed.
        "CONFIG GET MAXMEMORY",
        "CONFIG GET maxmemory MAXMEMORY",
        "CONFIG GET MaxMemory-Samples",
        // Integers below 10000 are one shared object in Redis (no memory
        // limit here): OBJECT REFCOUNT says INT_MAX.
        "SET k 9999",
        "OBJECT REFCOUNT k",
        "SET k 10000",
        "OBJECT REFCOUNT k",
        "SET k 01",
        "OBJECT REFCOUNT k",
        "SET k -1",
        "OBJECT REFCOUNT k",
        "INCR n",
        "OBJECT REFCOUNT n",
        "LPUSH l 1",
        "OBJECT REFCOUNT l",
    ];
    reference::assert_replies_alike(&mut ours, &mut theirs, &script);
    // Every command both have: the same flags and ACL categories, in
    // Redis's order (@read @string @fast), and the same arity but for
    // ZRANK/ZREVRANK, which take Redis 7.2's WITHSCORE.
    let table = |con: &mut Connection| -> HashMap<String, Vec<Value>> {
        let all: Vec<Vec<Value>> = redis::cmd("COMMAND").query(con).unwrap();
        all.into_iter()
            .map(|info| (redis::from_redis_value(info[0].clone()).unwrap(), info))
            .collect()
    };
    let (mine, redis_table) = (table(&mut ours), table(&mut theirs));
    let mut compared = 0;
    for (name, info) in &mine {
        let Some(reference) = redis_table.get(name) else {
            continue;
        };
        compared += 1;
        let arity_too = !matches!(name.as_str(), "zrank" | "zrevrank");
        assert_eq!(
            (&info[2], &info[6], arity_too.then_some(&info[1])),
            (
                &reference[2],
                &reference[6],
                arity_too.then_some(&reference[1])
            ),
            "{name}: flags, categories, arity"
        );
    }
    assert!(compared > 150, "{compared} commands compared");
}

#[test]
fn command_and_error_stats_count_as_redis_server() {
    let node = Node::start(&[]);
    let redis = Reference::start();
    // Calls, failed calls (an error while running: WRONGTYPE), rejected
    // calls (refused before running: arity, NOAUTH-free checks), error
    // replies by their first word, and CONFIG RESETSTAT.
    let script: &[&[&str]] = &[
        &["SET", "s", "1"],
        &["GET", "s"],
        &["GET"],
        &["LPUSH", "s", "x"],
        &["INCR", "s"],
        &["INCR", "s"],
        &["HSET", "h", "f"],
        &["NOSUCHCOMMAND"],
        &["CONFIG", "GET", "maxmemory"],
    ];
    let counts = |con: &mut Connection| {
        let stats = info(con, "commandstats");
        let mut lines: Vec<String> = stats
            .iter()
            .filter(|(k, _)| k.starts_with("cmdstat_") && k.as_str() != "cmdstat_info")
            .map(|(k, v)| {
                // Times differ; the counts must not.
                let fields: Vec<&str> = v.split(',').filter(|f| !f.starts_with("usec")).collect();
                format!("{k}:{}", fields.join(","))
            })
            .collect();
        lines.sort();
        let mut errors: Vec<String> = info(con, "errorstats")
            .into_iter()
            .map(|(k, v)| format!("{k}:{v}"))
            .collect();
        errors.sort();
        (lines, errors)
    };
    let mut seen = Vec::new();
    for port in [node.port, redis.port] {
        let con = &mut redis::Client::open(format!("redis://127.0.0.1:{port}/"))
            .unwrap()
            .get_connection()
            .unwrap();
        assert_eq!(q::<String>(con, &["CONFIG", "RESETSTAT"]), "OK");
        for args in script {
            let _ = cmd(args).query::<Value>(con);
        }
        let (lines, errors) = counts(con);
        assert!(
            lines.contains(&"cmdstat_get:calls=1,rejected_calls=1,failed_calls=0".to_string()),
            "{lines:?}"
        );
        assert!(
            errors.contains(&"errorstat_WRONGTYPE:count=1".to_string()),
            "{errors:?}"
        );
        // Commandstats is not in INFO's default set; errorstats is.
        let default: String = q(con, &["INFO"]);
        assert!(default.contains("# Errorstats") && !default.contains("# Commandstats"));
        assert!(q::<String>(con, &["INFO", "all"]).contains("# Commandstats"));
        seen.push((lines, errors));
        assert_eq!(q::<String>(con, &["CONFIG", "RESETSTAT"]), "OK");
        let (lines, errors) = counts(con);
        assert_eq!(
            lines,
            ["cmdstat_config|resetstat:calls=1,rejected_calls=0,failed_calls=0"]
        );
        assert!(errors.is_empty(), "{errors:?}");
    }
    assert_eq!(seen[0], seen[1], "slotcache, then redis-server");
}
