//! EVAL and friends on Lua 5.1, as Redis 7 runs them: the conversions
//! both ways, the `redis` and `cjson` APIs, the script cache, errors, and
//! SCRIPT KILL / -BUSY for a script that runs too long; the `bit`,
//! `struct` and `cmsgpack` libraries and math.random against redis-server.

mod reference;

use std::thread;
use std::time::{Duration, Instant};

use redis::{Script, Value};
use reference::Reference;
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
    for (script, error) in [
        (
            "return cjson.decode({})",
            "decode' (string expected, got table)",
        ),
        ("return cjson.decode()", "decode' (expected 1 argument)"),
        ("return cjson.encode(1, 2)", "encode' (expected 1 argument)"),
    ] {
        assert!(
            eval_err(con, script)
                .starts_with(&format!("ERR user_script:1: bad argument #1 to '{error}")),
            "{script}"
        );
    }
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
                    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
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

// ---- bit, struct, cmsgpack and math.random against redis-server ------------

/// Defines `hex(s)` for the scripts, so bytes compare readably.
const HEX: &str = "local function hex(s) return (s:gsub('.', function(c) \
                   return string.format('%02x', c:byte()) end)) end ";

/// Runs each script (after HEX) on slotcache and on redis-server, in
/// order, and compares the replies; `ok` scripts must succeed on Redis,
/// `failing` ones must fail there, so that each checks what it means to.
fn same_as_redis(ok: &[&str], failing: &[&str]) {
    let node = Node::start(&[]);
    let reference = Reference::start();
    let (mut ours, mut theirs) = (node.client(), reference.client());
    for (scripts, should_fail) in [(ok, false), (failing, true)] {
        for script in scripts {
            let args = ["EVAL".to_string(), format!("{HEX}{script}"), "0".into()];
            let (a, b) = reference::both(&mut ours, &mut theirs, &args, false);
            assert_eq!(
                b.starts_with("error"),
                should_fail,
                "redis-server: {script}: {b}"
            );
            assert_eq!(a, b, "{script}");
        }
    }
}

/// _G, the libraries and the string metatable are read-only tables in
/// Redis 7, also past metatables (rawset, setmetatable, table.insert); a
/// script's own tables, and KEYS, are not. One script's stray assignment
/// must not change what the next script on that interpreter sees.
#[test]
fn the_environment_is_read_only_as_in_redis() {
    same_as_redis(
        &[
            "local t = {} t.a = 1 table.insert(t, 2) table.sort(t) return {t.a, t[1]}",
            "KEYS[1] = 'x' return KEYS[1]",
            "return {tostring(getmetatable(string)), type(getmetatable(_G)), type(getmetatable(_G).__index)}",
            "local n = 0 for k in pairs(string) do n = n + 1 end return n",
            "local n = 0 for k, v in pairs(math) do n = n + 1 end return {n, next(string) ~= nil}",
            "return {type(rawget(_G, 'redis')), type(rawget(string, 'format')), rawget(_G, 'nope')}",
            "local r = {} for k, v in pairs(_G) do r[#r + 1] = k .. ':' .. type(v) end table.sort(r) return r",
            "local t = __redis__err__handler('boom') return {t.err, t.source, t.line}",
            "return __redis__err__handler({err = 'E x'}).err",
            "return {('abc'):upper(), string.format('%d', 5), cjson.encode({1, 2})}",
            "return getmetatable(setmetatable({}, {__metatable = 'locked'}))",
            "return {pcall(function() string.x = 1 end)}",
            "return {type(loadstring), type(gcinfo), type(coroutine), _VERSION}",
        ],
        &[
            "bit = 1",
            "KEYS = 1",
            "_G = nil",
            "_G.z = 1",
            "string.foo = 1",
            "redis.call = nil",
            "cjson.encode = nil",
            "math.random = nil",
            "table.insert = nil",
            "struct.pack = nil",
            "cmsgpack.pack = nil",
            "rawset(_G, 'q', 1)",
            "rawset(string, 'x', 1)",
            "setmetatable(_G, nil)",
            "setmetatable(string, {})",
            "getmetatable(_G).__index = nil",
            "getmetatable('').__index = nil",
            "getmetatable('').__index.len = nil",
            "table.insert(string, 1)",
            "loadstring('x = 1')()",
            "return type(getfenv)",
            "return type(setfenv)",
            "return type(newproxy)",
            "return type(dofile)",
        ],
    );
}

#[test]
fn bit_library_as_redis() {
    same_as_redis(
        &[
            "return {bit.tobit(0x80000000), bit.tobit(2^32 + 5), bit.tobit(-1), \
             bit.tobit(2^32 * 3 - 1), bit.tobit(2^53 + 2), bit.tobit(-2^31 - 1)}",
            "return {bit.tobit(1.5), bit.tobit(2.5), bit.tobit(-2.5), bit.tobit(0.49), \
             bit.tobit('0x10'), bit.tobit(' 12 '), bit.tobit('1e3')}",
            "return {bit.bnot(0), bit.bnot(-1), bit.bnot(0x80000000), bit.bnot(2^32 + 1)}",
            "return {bit.band(0xff00ff00, 0x0ff00ff0, -1), bit.band(5), bit.band(-1, 2^32 - 1), \
             bit.bor(1, 2, 4, 2^31), bit.bor(0), bit.bxor(0xf0f0, 0xff, -1), bit.bxor(7, 7)}",
            "return {bit.lshift(1, 31), bit.lshift(1, 32), bit.lshift(1, -1), bit.lshift(-1, 4), \
             bit.lshift(0x80000000, 1), bit.lshift(3, 2^32 + 2)}",
            "return {bit.rshift(-1, 28), bit.rshift(0x80000000, 1), bit.rshift(256, 36), \
             bit.rshift(-256, 0)}",
            "return {bit.arshift(-256, 4), bit.arshift(0x80000000, 31), bit.arshift(256, 4), \
             bit.arshift(-1, 31)}",
            "return {bit.rol(0x12345678, 4), bit.rol(1, 33), bit.rol(-1, 7), bit.rol(0x80000000, 1), \
             bit.ror(0x12345678, 36), bit.ror(1, 1), bit.ror(5, 0)}",
            "return {bit.bswap(0x12345678), bit.bswap(-1), bit.bswap(0x80), bit.bswap(2^32 + 1)}",
            "return {bit.tohex(255), bit.tohex(-1), bit.tohex(255, 2), bit.tohex(255, -4), \
             bit.tohex(0x12345678, 10), bit.tohex(-2^31, -8), bit.tohex(1, 0), bit.tohex(2^32 + 171)}",
            "local r = {} for k in pairs(bit) do r[#r + 1] = k end table.sort(r) return r",
            // Errors name the function as the caller called it.
            "return {pcall(bit.band, 'x')}",
            "return {pcall(struct.pack, 'i')}",
        ],
        &[
            "return bit.band('x')",
            "return bit.tobit()",
            "return bit.bor(1, {})",
            "return bit.lshift(1)",
            "return bit.tohex(1, nil)",
            "local f = bit.band return f('x')",
            "return bit:tohex({})",
            "return bit:band(1, {})",
        ],
    );
}

#[test]
fn struct_library_as_redis() {
    same_as_redis(
        &[
            // First, on an interpreter that never ran a library function,
            // and then after errors raised by them were caught.
            "return #{struct.unpack(string.rep('b', 7990), string.rep('\\1', 7990))}",
            "pcall(redis.call, 'nosuch') pcall(cjson.decode) pcall(struct.pack, 'z') \
             return #{struct.unpack(string.rep('b', 7996), string.rep('\\1', 7996))}",
            "return hex(struct.pack('>hHlLbB', -2, 65535, -3, 2^40, -128, 255))",
            "return hex(struct.pack('<hHlLbB', -2, 65535, -3, 2^40, -128, 255))",
            "return hex(struct.pack('<i>i', 1, 2)) .. ' ' .. hex(struct.pack('i3 I5 i16 I1', -1, 2^33, -2, 300))",
            "return hex(struct.pack('<fd', 1.5, -0.1)) .. ' ' .. hex(struct.pack('>fd', 1.5, -0.1))",
            "return hex(struct.pack('s', 'abc')) .. ' ' .. hex(struct.pack('c5', 'abcdefg')) .. ' ' \
             .. hex(struct.pack('c0', 'xyz')) .. ' ' .. hex(struct.pack('c', 12))",
            "return hex(struct.pack('!4 b i', 1, 2)) .. ' ' .. hex(struct.pack('!8 b d b h', 1, 2.5, 3, 4)) \
             .. ' ' .. hex(struct.pack('! b l', 1, 2)) .. ' ' .. hex(struct.pack('!2 b i8', 1, 2))",
            "return hex(struct.pack('x b x', 7)) .. ' ' .. hex(struct.pack('T', 9)) .. ' ' \
             .. hex(struct.pack('i', '42')) .. ' ' .. hex(struct.pack('b', 300))",
            "return {struct.unpack('>hHlLbB', struct.pack('>hHlLbB', -2, 65535, -3, 2^40, -128, 255))}",
            "return {struct.unpack('<i3 I5 i16', struct.pack('<i3 I5 i16', -1, 2^33, -2))}",
            "local f, d, n = struct.unpack('>fd', struct.pack('>fd', 1.5, -0.1)) \
             return {tostring(f), tostring(d), n}",
            "return {struct.unpack('bc0 s s', '\\3abcde\\0gh\\0')}",
            "return {struct.unpack('b', '\\1\\2\\3', 2)}",
            "return {struct.unpack('!4 b i', struct.pack('!4 b i', 5, 70000))}",
            "return {struct.unpack('c2 x b', 'abzQ')}",
            "return {hex(struct.pack('i0 b I0', 5, 6, 7)), struct.unpack('i0 b I0', '\\1')}",
            "return {struct.size('!4 b i d'), struct.size('i3 c10'), struct.size('<>hh'), \
             struct.size(''), struct.size('!8 b d'), struct.size('z')}",
            "local r = {} for k in pairs(struct) do r[#r + 1] = k end table.sort(r) return r",
        ],
        &[
            "return struct.size('s')",
            "return struct.size('c0')",
            "return struct.size('#')",
            "return struct.pack('z')",
            "return struct.size('!3')",
            "return struct.pack('c5', 'ab')",
            "return struct.unpack('i', 'ab')",
            "return struct.unpack('c0', 'ab')",
            "return struct.unpack('s', 'ab')",
            "return struct.unpack('b', 'ab', 0)",
            "return struct.pack('i40', 1)",
            "return struct.pack('i99999999999', 1)",
            "return struct.pack('i')",
            "return struct.pack('i', 'x')",
            "return struct.pack()",
            "return struct.unpack('b')",
            "return struct.unpack(string.rep('b', 7998), string.rep('\\1', 7998))",
        ],
    );
}

#[test]
fn cmsgpack_library_as_redis() {
    same_as_redis(
        &[
            "return hex(cmsgpack.pack(0, 127, 128, 255, 256, 65535, 65536, 2^32 - 1, 2^32, \
             -1, -32, -33, -128, -129, -32768, -32769, -2^31, -2^31 - 1, -2^53, 2^62))",
            "return hex(cmsgpack.pack(1.5, 0.1, -0.0, 1e300, 1/0, -1/0, 2^63, -2^63, 3.5e38, 0.5^149))",
            "return hex(cmsgpack.pack('', 'a', true, false, nil, tostring, cjson.null))",
            "return hex(cmsgpack.pack(string.rep('x', 31))) .. ' ' .. hex(cmsgpack.pack(string.rep('x', 32)))",
            "local a = cmsgpack.pack(string.rep('x', 255)) local b = cmsgpack.pack(string.rep('x', 256)) \
             local c = cmsgpack.pack(string.rep('x', 65536)) \
             return {#a, hex(a:sub(1, 3)), #b, hex(b:sub(1, 4)), #c, hex(c:sub(1, 6))}",
            "return hex(cmsgpack.pack({}, {1, 2, 3}, {a = 1}, {1, 2, nil, 4}, {[1] = 1, [2] = 2, [3.5] = 1}))",
            "return hex(cmsgpack.pack({1, {2, {3}}, {x = {y = 'z'}}}))",
            "local t, m = {}, {} for i = 1, 16 do t[i] = i m['k' .. i] = i end \
             local big = {} for i = 1, 70000 do big[i] = 1 end \
             local p = cmsgpack.pack(big) \
             return {hex(cmsgpack.pack(t)), hex(cmsgpack.pack(m)), #p, hex(p:sub(1, 6))}",
            "local t = {} t[1] = t return hex(cmsgpack.pack(t))",
            "local t = {} t.self = t return hex(cmsgpack.pack(t))",
            "return {cmsgpack.unpack(cmsgpack.pack(1, 2, 3))}",
            "return cmsgpack.unpack(cmsgpack.pack({1, 2, {3, 'x', {true}}}))",
            "return hex(cmsgpack.pack(cmsgpack.unpack(cmsgpack.pack({a = {1, 2}, b = {c = 'd'}, [5] = false}))))",
            "local v = {cmsgpack.unpack('\\202\\63\\192\\0\\0\\203\\63\\185\\153\\153\\153\\153\\153\\154')} \
             return {tostring(v[1]), tostring(v[2])}",
            "return {cmsgpack.unpack('\\207\\0\\0\\0\\1\\0\\0\\0\\0\\211\\255\\255\\255\\255\\255\\255\\255\\254\
             \\208\\128\\209\\128\\0\\210\\128\\0\\0\\0\\204\\200\\205\\1\\0\\206\\0\\1\\0\\0\\255\\224')}",
            "return {cmsgpack.unpack('\\217\\1a\\218\\0\\2bc\\219\\0\\0\\0\\1d\\220\\0\\2\\1\\2\\221\\0\\0\\0\\1\\3')}",
            "return hex(cmsgpack.pack(cmsgpack.unpack('\\222\\0\\1\\1\\2\\223\\0\\0\\0\\1\\161k\\192')))",
            "return cmsgpack.unpack('')",
            "local s = cmsgpack.pack(1, 'two', {3}) \
             return {{cmsgpack.unpack_one(s)}, {cmsgpack.unpack_one(s, 1)}, {cmsgpack.unpack_one(s, 5)}, \
             {cmsgpack.unpack_limit(s, 2)}, {cmsgpack.unpack_limit(s, 5, 2)}, {cmsgpack.unpack_limit(s, 0, 0)}, \
             {cmsgpack.unpack_limit(s, 0, 1)}, {cmsgpack.unpack_one(s, #s)}}",
            "local t = cmsgpack.unpack(string.rep('\\145', 3999) .. '\\1') local n = 0 \
             while type(t) == 'table' do t = t[1] n = n + 1 end return n",
            "local t = cmsgpack.unpack(string.rep('\\129\\1', 3999) .. '\\1') local n = 0 \
             while type(t) == 'table' do t = t[1] n = n + 1 end return n",
            "return #{cmsgpack.unpack(string.rep('\\1', 7990))}",
            "local r = {} for k, v in pairs(cmsgpack) do r[#r + 1] = k .. '=' .. tostring(type(v) == 'string' and v) end \
             table.sort(r) return r",
        ],
        &[
            "return cmsgpack.pack()",
            "return cmsgpack.unpack('\\193')",
            "return cmsgpack.unpack('\\196\\1a')",
            "return cmsgpack.unpack('\\146\\1')",
            "return cmsgpack.unpack('\\203\\0\\0')",
            "return cmsgpack.unpack('\\129\\192\\1')",
            "return cmsgpack.unpack_one('\\1', 5)",
            "return cmsgpack.unpack_one('\\1', -1)",
            "return cmsgpack.unpack_limit('\\1', -1)",
            "return cmsgpack.unpack_limit('\\1')",
            "return cmsgpack.unpack(nil)",
            "return cmsgpack.unpack(string.rep('\\145', 4000) .. '\\1')",
            "return cmsgpack.unpack(string.rep('\\129\\1', 4000) .. '\\1')",
            "return cmsgpack.unpack(string.rep('\\1', 8000))",
        ],
    );
}

#[test]
fn math_random_as_redis() {
    // Redis's generator state is the process's: a fresh server starts
    // from rand48's initial state and scripts do not reseed it.
    let node = Node::start(&[]);
    let con = &mut node.client();
    let first: String = eval(con, "return tostring(math.random())", &[], &[]);
    assert_eq!(first, "0.39646477363839");
    drop(node);
    same_as_redis(
        &[
            "return {tostring(math.random()), tostring(math.random())}",
            "return {tostring(math.random()), math.random(10), math.random(3, 7)}",
            "math.randomseed(42) return {tostring(math.random()), math.random(10), math.random(5, 7), \
             math.random(-3, 3), math.random(1), math.random(2^31 - 1)}",
            "return tostring(math.random())",
            "math.randomseed(-7) return {tostring(math.random()), tostring(math.random())}",
            "math.randomseed(2^40 + 3) return tostring(math.random())",
            "math.randomseed('12') return {math.random(100), math.random(100), math.random(100)}",
            "math.randomseed(0) local t = {} for i = 1, 200 do t[i] = math.random(1000) end return t",
            "return {math.random(-2^31, 2^31 - 1), math.random(2.9), math.random(-5.5, -1)}",
            "local r = {} for i = 1, 50 do r[i] = tostring(math.random()) end return r",
        ],
        &[
            "return math.random(0)",
            "return math.random(3, 1)",
            "return math.random(1, 2, 3)",
            "return math.random('x')",
            "return math.random(2^31)",
            "return math.randomseed()",
        ],
    );
}
