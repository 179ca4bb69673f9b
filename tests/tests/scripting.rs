//! EVAL and friends on Lua 5.1, as Redis 7 runs them: the conversions
//! both ways, the `redis` and `cjson` APIs, the script cache, errors, and
//! SCRIPT KILL / -BUSY for a script that runs too long.

use std::thread;
use std::time::{Duration, Instant};

use redis::{Script, Value};
use slotcache_tests::{err, q, resp, wait_until, Node, Sampler};

fn eval<T: redis::FromRedisValue>(
    con: &mut redis::Connection,
    script: &str,
    keys: &[&str],
    args: &[&str],
) -> T {
    let mut c = redis::cmd("EVAL");
    c.arg(script).arg(keys.len()).arg(keys).arg(args);
    c.query(con).unwrap_or_else(|e| panic!("{script}: {e}"))
}

fn eval_err(con: &mut redis::Connection, script: &str) -> String {
    let e = redis::cmd("EVAL")
        .arg(script)
        .arg(0)
        .query::<Value>(con)
        .expect_err(script);
    format!("{} {}", e.code().unwrap_or("?"), e.detail().unwrap_or(""))
}

/// Checks the exact reply bytes of a script.
fn assert_reply(node: &Node, script: &str, expected: &str) {
    let mut raw = node.raw();
    let got = raw.roundtrip(
        &resp(&[b"EVAL", script.as_bytes(), b"0"]),
        expected.as_bytes(),
    );
    assert_eq!(got, expected, "{script}");
}

#[test]
fn lua_values_become_replies() {
    let node = Node::start(&[]);
    assert_reply(&node, "return 3.99", ":3\r\n");
    assert_reply(&node, "return -3.99", ":-3\r\n");
    assert_reply(&node, "return 'text'", "$4\r\ntext\r\n");
    assert_reply(&node, "return true", ":1\r\n");
    assert_reply(&node, "return false", "$-1\r\n");
    assert_reply(&node, "return nil", "$-1\r\n");
    assert_reply(&node, "return {ok='FINE'}", "+FINE\r\n");
    assert_reply(
        &node,
        "return {err='MYCODE went wrong'}",
        "-MYCODE went wrong\r\n",
    );
    assert_reply(&node, "return redis.status_reply('DONE')", "+DONE\r\n");
    assert_reply(
        &node,
        "return redis.error_reply('My Error')",
        "-My Error\r\n",
    );
    assert_reply(
        &node,
        "return redis.error_reply('NOCODE')",
        "-ERR NOCODE\r\n",
    );
    // Arrays stop at the first nil; nested tables nest.
    assert_reply(
        &node,
        "return {1, 'a', {2, {ok='x'}}, false, nil, 5}",
        "*4\r\n:1\r\n$1\r\na\r\n*2\r\n:2\r\n+x\r\n$-1\r\n",
    );
    assert_reply(&node, "return {}", "*0\r\n");
}

#[test]
fn replies_become_lua_values() {
    let node = Node::start(&[]);
    let con = &mut node.client();
    q::<()>(con, &["SET", "n", "41"]);
    // Integer reply → number.
    let s = "local v = redis.call('incr', KEYS[1]) return {type(v), v + 1}";
    let (t, v): (String, i64) = eval(con, s, &["n"], &[]);
    assert_eq!((t.as_str(), v), ("number", 43));
    // Bulk → string, nil bulk → false.
    let s = "return {type(redis.call('get', KEYS[1])), tostring(redis.call('get', 'missing'))}";
    let got: Vec<String> = eval(con, s, &["n"], &[]);
    assert_eq!(got, ["string", "false"]);
    // Status → {ok=…}; error → {err=…} (redis.pcall returns it).
    let s = "return redis.call('set', KEYS[1], 'x').ok";
    assert_eq!(eval::<String>(con, s, &["n"], &[]), "OK");
    let s = "return redis.pcall('incr', KEYS[1]).err";
    assert_eq!(
        eval::<String>(con, s, &["n"], &[]),
        "ERR value is not an integer or out of range"
    );
    // Array → table, with nil bulks as false.
    q::<()>(con, &["SET", "a", "1"]);
    let s =
        "local r = redis.call('mget', 'a', 'missing', 'a') return {#r, r[1], tostring(r[2]), r[3]}";
    let got: Vec<String> = eval(con, s, &[], &[]);
    assert_eq!(got, ["3", "1", "false", "1"]);
    // Lua numbers reach commands as %.17g.
    let s = "redis.call('set', 'f', 0.1) redis.call('set', 'i', 7) return {redis.call('get', 'f'), redis.call('get', 'i')}";
    let got: Vec<String> = eval(con, s, &[], &[]);
    assert_eq!(got, ["0.10000000000000001", "7"]);
    // KEYS and ARGV.
    let got: Vec<String> = eval(
        con,
        "return {KEYS[1], KEYS[2], ARGV[1], #ARGV}",
        &["k1", "k2"],
        &["a1", "a2"],
    );
    assert_eq!(got, ["k1", "k2", "a1", "2"]);
    // RESP3 replies after redis.setresp(3): a map becomes {map=…}.
    q::<()>(con, &["HSET", "h", "f", "v"]);
    let s = "redis.setresp(3) local r = redis.call('hgetall', KEYS[1]) return r.map.f";
    assert_eq!(eval::<String>(con, s, &["h"], &[]), "v");
}

#[test]
fn script_errors_as_redis_words_them() {
    let node = Node::start(&[]);
    let con = &mut node.client();
    let sha = |body: &str| q::<String>(&mut node.client(), &["SCRIPT", "LOAD", body]);
    let s = "return redis.call('nosuch')";
    assert_eq!(
        eval_err(con, s),
        format!(
            "ERR Unknown Redis command called from script script: {}, on @user_script:1.",
            sha(s)
        )
    );
    let cases = [
        (
            "return redis.call('get')",
            "ERR Wrong number of args calling Redis command from script",
        ),
        (
            "return redis.call()",
            "ERR Please specify at least one argument for this redis lib call",
        ),
        (
            "return redis.call('get', {})",
            "ERR Lua redis lib command arguments must be strings or integers",
        ),
        (
            "return redis.call('multi')",
            "ERR This Redis command is not allowed from script",
        ),
        (
            "return redis.call('eval', 'return 1', 0)",
            "ERR This Redis command is not allowed from script",
        ),
        (
            "redis.call('set', 'k', 'v') return redis.call('incr', 'k')",
            "ERR value is not an integer or out of range",
        ),
        ("error('boom')", "ERR user_script:1: boom"),
        ("error({err='MYCODE custom'})", "MYCODE custom"),
        (
            "return a",
            "ERR user_script:1: Script attempted to access nonexistent global variable 'a'",
        ),
        (
            "a = 1",
            "ERR user_script:1: Attempt to modify a readonly table",
        ),
        (
            "return cjson.encode(redis.call)",
            "ERR user_script:1: Cannot serialise function: type not supported",
        ),
    ];
    for (script, message) in cases {
        let got = eval_err(con, script);
        assert!(
            got.starts_with(&format!("{message} script: ")),
            "{script}: {got}"
        );
        assert!(got.ends_with(", on @user_script:1."), "{script}: {got}");
    }
    // Errors caught in the script.
    let got: Vec<Value> = eval(con, "return {pcall(redis.call, 'nosuch')}", &[], &[]);
    assert_eq!(
        got,
        [
            Value::Nil,
            Value::BulkString(b"ERR Unknown Redis command called from script".to_vec())
        ]
    );
    assert!(err(con, &["EVAL", "return (", "0"]).starts_with(
        "ERR Error compiling script (new function): user_script:1: unexpected symbol near '<eof>'"
    ));
    assert_eq!(
        err(con, &["EVAL", "return 1", "-1"]),
        "ERR Number of keys can't be negative"
    );
    assert_eq!(
        err(con, &["EVAL", "return 1", "2", "a"]),
        "ERR Number of keys can't be greater than number of args"
    );
    assert_eq!(
        err(con, &["EVAL", "return 1", "x"]),
        "ERR value is not an integer or out of range"
    );
    assert!(
        err(con, &["EVAL_RO", "return redis.call('set', 'k', 'v')", "0"])
            .starts_with("ERR Write commands are not allowed from read-only scripts. script: ")
    );
    assert_eq!(
        q::<String>(con, &["EVAL_RO", "return redis.call('get', 'k')", "0"]),
        "v"
    );
    assert_eq!(
        err(
            con,
            &["EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0"]
        ),
        "NOSCRIPT No matching script. Please use EVAL."
    );
}

#[test]
fn script_cache_and_the_client_script_helper() {
    let node = Node::start(&[]);
    let con = &mut node.client();
    let body = "return redis.call('incrby', KEYS[1], ARGV[1])";
    let sha: String = q(con, &["SCRIPT", "LOAD", body]);
    assert_eq!(sha, Script::new(body).get_hash());
    assert_eq!(
        q::<i64>(con, &["EVALSHA", &sha.to_uppercase(), "1", "c", "5"]),
        5
    );
    assert_eq!(
        q::<Vec<i64>>(
            con,
            &[
                "SCRIPT",
                "EXISTS",
                &sha,
                "0000000000000000000000000000000000000000"
            ]
        ),
        [1, 0]
    );
    q::<()>(con, &["SCRIPT", "FLUSH"]);
    assert_eq!(q::<Vec<i64>>(con, &["SCRIPT", "EXISTS", &sha]), [0]);
    // EVALSHA first, EVAL when the script is not cached, as clients do.
    let script = Script::new(body);
    assert_eq!(script.key("c").arg(2).invoke::<i64>(con).unwrap(), 7);
    assert_eq!(q::<Vec<i64>>(con, &["SCRIPT", "EXISTS", &sha]), [1]);
    assert_eq!(script.key("c").arg(3).invoke::<i64>(con).unwrap(), 10);
    q::<()>(con, &["SCRIPT", "FLUSH", "ASYNC"]);
    assert_eq!(script.key("c").arg(1).invoke::<i64>(con).unwrap(), 11);
    assert_eq!(
        err(con, &["SCRIPT", "FLUSH", "LATER"]),
        "ERR SCRIPT FLUSH only support SYNC|ASYNC option"
    );
    assert_eq!(
        err(con, &["SCRIPT", "KILL"]),
        "NOTBUSY No scripts in execution right now."
    );
}

#[test]
fn redis_and_cjson_libraries() {
    let node = Node::start(&[]);
    let con = &mut node.client();
    let got: Vec<String> = eval(
        con,
        "return {redis.sha1hex(''), redis.sha1hex('Pizza & Mandolino')}",
        &[],
        &[],
    );
    assert_eq!(
        got,
        [
            "da39a3ee5e6b4b0d3255bfef95601890afd80709",
            "74822d82031af7493c20eefa13bd07ec4fada82f"
        ]
    );
    let s = r#"return cjson.encode({1, 2.5, 'a/b', true, {x = 1e20}})"#;
    assert_eq!(
        eval::<String>(con, s, &[], &[]),
        r#"[1,2.5,"a\/b",true,{"x":1e+20}]"#
    );
    assert_eq!(
        eval::<String>(con, "return cjson.encode({})", &[], &[]),
        "{}"
    );
    let s = r#"local t = cjson.decode(ARGV[1]) return {t.name, t.tags[2], tostring(t.none == cjson.null)}"#;
    let got: Vec<String> = eval(
        con,
        s,
        &[],
        &[r#"{"name":"n","tags":["a","b"],"none":null}"#],
    );
    assert_eq!(got, ["n", "b", "true"]);
    assert!(eval_err(con, "return cjson.decode('[1,')")
        .starts_with("ERR user_script:1: Expected value but found T_END at character 4"));
    assert_eq!(
        eval::<Value>(
            con,
            "redis.log(redis.LOG_WARNING, 'from a script')",
            &[],
            &[]
        ),
        Value::Nil
    );
    assert!(eval_err(con, "redis.log(99, 'x')").starts_with("ERR Invalid debug level."));
}

#[test]
fn scripts_and_transactions_together() {
    let node = Node::start(&[]);
    let con = &mut node.client();
    let (a, b): (i64, i64) = redis::pipe()
        .atomic()
        .cmd("EVAL")
        .arg("return redis.call('incr', KEYS[1])")
        .arg(1)
        .arg("n")
        .cmd("EVAL")
        .arg("return redis.call('incr', KEYS[1])")
        .arg(1)
        .arg("n")
        .query(con)
        .unwrap();
    assert_eq!((a, b), (1, 2));
}

#[test]
fn scripts_run_with_no_command_in_between() {
    let node = Node::start(&[]);
    const STEPS: i64 = 2000;
    let reader = Sampler::start(&node, |con| {
        q::<Option<i64>>(con, &["GET", "n"]).unwrap_or(0)
    });
    let con = &mut node.client();
    let s = "for i = 1, tonumber(ARGV[1]) do redis.call('incr', KEYS[1]) end";
    for _ in 0..10 {
        eval::<Value>(con, s, &["n"], &[&STEPS.to_string()]);
    }
    for n in reader.stop() {
        assert_eq!(n % STEPS, 0, "saw a script half done: {n}");
    }
}

/// Sends a script on its own connection; its reply is read later.
fn start_script(node: &Node, script: &str) -> thread::JoinHandle<Result<Value, String>> {
    let mut con = node.client();
    let script = script.to_string();
    thread::spawn(move || {
        redis::cmd("EVAL")
            .arg(script)
            .arg(0)
            .query::<Value>(&mut con)
            .map_err(|e| format!("{} {}", e.code().unwrap_or("?"), e.detail().unwrap_or("")))
    })
}

fn wait_busy(con: &mut redis::Connection) {
    wait_until(
        Duration::from_secs(10),
        "the script to be reported busy",
        || match redis::cmd("PING").query::<String>(con) {
            Ok(_) => false,
            Err(e) => {
                let line = format!("{} {}", e.code().unwrap_or("?"), e.detail().unwrap_or(""));
                assert_eq!(
                    line,
                    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSCRIPT."
                );
                true
            }
        },
    );
}

#[test]
fn script_kill_stops_a_busy_read_only_script() {
    let node = Node::start(&["--busy-reply-threshold", "100"]);
    let con = &mut node.client();
    assert_eq!(
        q::<Vec<String>>(con, &["CONFIG", "GET", "lua-time-limit"])[1],
        "100"
    );
    let script = start_script(&node, "local i = 0 while true do i = i + 1 end");
    wait_busy(con);
    // MULTI and DISCARD are allowed; commands inside fail the transaction.
    q::<()>(con, &["MULTI"]);
    assert!(err(con, &["INCR", "x"]).starts_with("BUSY "));
    assert!(err(con, &["EXEC"]).starts_with("EXECABORT Transaction discarded because of: BUSY "));
    assert_eq!(q::<String>(con, &["SCRIPT", "KILL"]), "OK");
    let e = script.join().unwrap().unwrap_err();
    assert!(
        e.starts_with("ERR Script killed by user with SCRIPT KILL... script: "),
        "{e}"
    );
    assert_eq!(q::<String>(con, &["PING"]), "PONG");
    assert_eq!(q::<i64>(con, &["EXISTS", "x"]), 0);

    // pcall cannot catch the kill.
    let script = start_script(
        &node,
        "local f = function() while 1 do redis.call('ping') end end while 1 do pcall(f) end",
    );
    wait_busy(con);
    assert_eq!(q::<String>(con, &["SCRIPT", "KILL"]), "OK");
    let e = script.join().unwrap().unwrap_err();
    assert!(
        e.starts_with("ERR Script killed by user with SCRIPT KILL... script: ")
            && e.ends_with(", on @user_script:1."),
        "{e}"
    );
    assert_eq!(q::<String>(con, &["PING"]), "PONG");
}

#[test]
fn a_script_that_wrote_cannot_be_killed() {
    let node = Node::start(&["--lua-time-limit", "100"]);
    let con = &mut node.client();
    let started = Instant::now();
    let script = start_script(
        &node,
        "redis.call('set', 'w', '1') \
         local t = redis.call('time') \
         local until_us = t[1] * 1000000 + t[2] + 700000 \
         repeat t = redis.call('time') until t[1] * 1000000 + t[2] >= until_us \
         return 'done'",
    );
    wait_busy(con);
    assert_eq!(
        err(con, &["SCRIPT", "KILL"]),
        "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command."
    );
    assert_eq!(
        script.join().unwrap().unwrap(),
        Value::BulkString(b"done".to_vec())
    );
    assert!(started.elapsed() >= Duration::from_millis(700));
    assert_eq!(q::<String>(con, &["GET", "w"]), "1");
}
