//! DUMP, RESTORE and MIGRATE: values in Redis's serialized form
//! (`db/dump.rs`), and moving keys to another node with them, as
//! `redis-cli --cluster reshard` does.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use slotcache_protocol::Argv;

use super::{free_entry, int_arg, is, CmdError, CmdResult, Ctx, SYNTAX};
use crate::db::dump::{self, BadFormat};
use crate::db::{Entry, Object};

pub const HANDLERS: &[(&str, super::Handler)] = &[
    ("dump", dump),
    ("restore", restore),
    ("restore-asking", restore),
    ("migrate", migrate),
];

fn dump(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    match ctx.keys.get(argv.get(1)).map(|e| dump::dump(e.value())) {
        Some(payload) => ctx.out.bulk(&payload),
        None => ctx.out.null(),
    }
    Ok(())
}

/// RESTORE and RESTORE-ASKING (the routing lets the latter into an
/// importing slot; here they are the same).
fn restore(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let key = argv.get(1);
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq) = (None, None);
    let mut i = 4;
    while i < argv.len() {
        let arg = argv.get(i);
        let more = i + 1 < argv.len();
        if is(arg, "replace") {
            replace = true;
        } else if is(arg, "absttl") {
            absttl = true;
        } else if is(arg, "idletime") && more && freq.is_none() {
            i += 1;
            let secs = int_arg(argv.get(i))?;
            if secs < 0 {
                return Err(CmdError::Static("ERR Invalid IDLETIME value, must be >= 0"));
            }
            idle = Some(secs as u64);
        } else if is(arg, "freq") && more && idle.is_none() {
            i += 1;
            let f = int_arg(argv.get(i))?;
            freq = Some(u8::try_from(f).map_err(|_| {
                CmdError::Static("ERR Invalid FREQ value, must be >= 0 and <= 255")
            })?);
        } else {
            return Err(SYNTAX);
        }
        i += 1;
    }
    if !replace && ctx.keys.peek(key).is_some() {
        return Err(CmdError::Static("BUSYKEY Target key name already exists."));
    }
    let ttl = int_arg(argv.get(2))?;
    if ttl < 0 {
        return Err(CmdError::Static("ERR Invalid TTL value, must be >= 0"));
    }
    let payload = argv.get(3);
    if !dump::verify(payload) {
        return Err(CmdError::Static(
            "ERR DUMP payload version or checksum are wrong",
        ));
    }
    let obj = dump::load(payload).map_err(|BadFormat| CmdError::Static("ERR Bad data format"))?;
    let now = ctx.now();
    let expire_at = match ttl as u64 {
        0 => None,
        at if absttl => Some(at),
        ttl => Some(now.saturating_add(ttl)),
    };
    if replace {
        if let Some(old) = ctx.keys.remove(key) {
            free_entry(old);
        }
    }
    // Already expired: the old key (if replaced) is gone, no new one.
    if expire_at.is_some_and(|at| at <= now) {
        ctx.out.ok();
        return Ok(());
    }
    let access = ctx.server.db.access.restored(idle, freq);
    ctx.keys.insert(match obj {
        Object::Raw(s) => Entry::new_string(key, &s, expire_at, access),
        obj => Entry::new_object(key, obj, expire_at, access),
    });
    ctx.out.ok();
    Ok(())
}

/// A key sent to the target, to delete once it took it.
struct Sent<'a> {
    key: &'a [u8],
    expire_at: Option<u64>,
    /// The payload's checksum: the value is deleted only if it still
    /// serializes to it.
    crc: [u8; 8],
}

/// MIGRATE host port key|"" db timeout [COPY] [REPLACE] [AUTH pw]
/// [AUTH2 user pw] [KEYS key ...], as Redis 7.0's migrateCommand.
fn migrate(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let (mut copy, mut replace) = (false, false);
    let mut auth: Vec<&[u8]> = Vec::new();
    let mut j = 6;
    while j < argv.len() {
        let more = argv.len() - j - 1;
        let arg = argv.get(j);
        if is(arg, "copy") {
            copy = true;
        } else if is(arg, "replace") {
            replace = true;
        } else if is(arg, "auth") && more >= 1 {
            auth = vec![b"AUTH", argv.get(j + 1)];
            j += 1;
        } else if is(arg, "auth2") && more >= 2 {
            auth = vec![b"AUTH", argv.get(j + 1), argv.get(j + 2)];
            j += 2;
        } else if is(arg, "keys") {
            if !argv.get(3).is_empty() {
                return Err(CmdError::Static("ERR When using MIGRATE KEYS option, the key argument must be set to the empty string"));
            }
            break;
        } else {
            return Err(SYNTAX);
        }
        j += 1;
    }
    let timeout = int_arg(argv.get(5))?;
    let db = int_arg(argv.get(4))?;
    let timeout = Duration::from_millis(if timeout <= 0 { 1000 } else { timeout as u64 });

    // Serialize under the slot locks, which the dispatcher took for the
    // keys the command table names (the same the KEYS parse above finds).
    let now = ctx.now();
    let restore_cmd: &[u8] = if ctx.server.cluster.is_some() {
        b"RESTORE-ASKING"
    } else {
        b"RESTORE"
    };
    let mut body = Vec::new();
    let mut sent = Vec::new();
    let mut ttl_buf = itoa::Buffer::new();
    for at in ctx.cmd.spec.keys.positions(argv) {
        let key = argv.get(at);
        let Some(entry) = ctx.keys.get(key) else {
            continue;
        };
        let expire_at = entry.expire_at();
        let ttl = expire_at.map_or(0, |at| at.saturating_sub(now).max(1));
        let payload = dump::dump(entry.value());
        let mut parts: Vec<&[u8]> =
            vec![restore_cmd, key, ttl_buf.format(ttl).as_bytes(), &payload];
        if replace {
            parts.push(b"REPLACE");
        }
        encode(&mut body, &parts);
        sent.push(Sent {
            key,
            expire_at,
            crc: payload[payload.len() - 8..].try_into().unwrap(),
        });
    }
    if sent.is_empty() {
        ctx.out.simple("NOKEY");
        return Ok(());
    }

    // No slot lock is held over the network: the keys' slots are released
    // and taken again for the deletes. (Inside MULTI the transaction keeps
    // its locks throughout, which keeps it atomic as in Redis.)
    let (hits, misses) = (ctx.keys.hits, ctx.keys.misses);
    let none: [&[u8]; 0] = [];
    drop(std::mem::replace(
        &mut ctx.keys,
        ctx.server.db.lock(none, now),
    ));
    crate::db::release_kept();
    let target = format!(
        "{}:{}",
        String::from_utf8_lossy(argv.get(1)),
        String::from_utf8_lossy(argv.get(2))
    );
    let outcome =
        tokio::task::block_in_place(|| transfer(&target, timeout, &auth, db, &body, sent.len()));
    // All the command's keys, as the dispatcher had them: what runs after
    // the handler (waking blocked clients) looks them up.
    let positions = ctx.cmd.spec.keys.positions(argv);
    ctx.keys = ctx.server.db.lock(positions.map(|i| argv.get(i)), now);
    ctx.keys.hits = hits;
    ctx.keys.misses = misses;

    if !copy {
        for (s, _) in sent.iter().zip(&outcome.accepted).filter(|(_, &ok)| ok) {
            // Deleted only if unchanged since it was sent: a write that
            // came in meanwhile stays (on both nodes, rather than lost).
            let unchanged = ctx.keys.peek(s.key).is_some_and(|e| {
                e.expire_at() == s.expire_at && dump::dump(e.value()).ends_with(&s.crc)
            });
            if unchanged {
                if let Some(old) = ctx.keys.remove(s.key) {
                    free_entry(old);
                }
            }
        }
    }
    outcome.result?;
    ctx.out.ok();
    Ok(())
}

/// What the target made of a MIGRATE's RESTOREs.
struct Outcome {
    /// For each RESTORE replied to, in order, whether it succeeded.
    accepted: Vec<bool>,
    result: Result<(), CmdError>,
}

/// A connection kept for the next MIGRATE to the same target (Redis's
/// migrate cached sockets: at most 64, closed after 10 s unused).
struct Cached {
    target: String,
    stream: TcpStream,
    /// The database last SELECTed on it; -1 after an error.
    db: i64,
    last_use: Instant,
}

const CACHE_ITEMS: usize = 64;
const CACHE_TTL: Duration = Duration::from_secs(10);
static SOCKETS: Mutex<Vec<Cached>> = Mutex::new(Vec::new());

/// The cached connection to `target`, or a new one (db -1: none selected).
fn connect(target: &str, timeout: Duration) -> io::Result<(TcpStream, i64)> {
    {
        let mut cache = cached();
        if let Some(at) = cache.iter().position(|c| c.target == target) {
            let c = cache.swap_remove(at);
            return Ok((c.stream, c.db));
        }
    }
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
    // Split at the last colon, so an IPv6 host keeps its own.
    let (host, port) = target.rsplit_once(':').unwrap_or((target, ""));
    let port: u16 = port
        .parse()
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "bad port"))?;
    for addr in (host, port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => {
                stream.set_nodelay(true)?;
                return Ok((stream, -1));
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

fn cached() -> std::sync::MutexGuard<'static, Vec<Cached>> {
    SOCKETS.lock().unwrap_or_else(|e| e.into_inner())
}

fn keep(target: &str, stream: TcpStream, db: i64) {
    // Idle connections close after CACHE_TTL, as Redis's cron closes them.
    static PRUNER: std::sync::Once = std::sync::Once::new();
    PRUNER.call_once(|| {
        let prune = || {
            crate::memory::count_this_thread();
            loop {
                std::thread::sleep(Duration::from_secs(1));
                cached().retain(|c| c.last_use.elapsed() < CACHE_TTL);
            }
        };
        if let Err(e) = std::thread::Builder::new()
            .name("migrate-sockets".into())
            .spawn(prune)
        {
            tracing::warn!("cannot start the MIGRATE connection pruner: {e}");
        }
    });
    let mut cache = cached();
    if cache.len() >= CACHE_ITEMS {
        cache.remove(0);
    }
    cache.push(Cached {
        target: target.to_string(),
        stream,
        db,
        last_use: Instant::now(),
    });
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
}

/// Sends AUTH and SELECT as needed, then the RESTOREs in `body`, and reads
/// the replies, each within `timeout`. As Redis, a connection that fails
/// before any RESTORE was answered (a cached one the target closed) is
/// tried once more, fresh, unless it timed out.
fn transfer(
    target: &str,
    timeout: Duration,
    auth: &[&[u8]],
    db: i64,
    body: &[u8],
    count: usize,
) -> Outcome {
    let ioerr = |writing: bool| Outcome {
        accepted: Vec::new(),
        result: Err(CmdError::Static(if writing {
            "IOERR error or timeout writing to target instance"
        } else {
            "IOERR error or timeout reading to target instance"
        })),
    };
    let mut may_retry = true;
    loop {
        let Ok((stream, last_db)) = connect(target, timeout) else {
            return Outcome {
                accepted: Vec::new(),
                result: Err(CmdError::Static(
                    "IOERR error or timeout connecting to the client",
                )),
            };
        };
        let select = last_db != db;
        let mut head = Vec::new();
        if !auth.is_empty() {
            encode(&mut head, auth);
        }
        if select {
            encode(
                &mut head,
                &[b"SELECT", itoa::Buffer::new().format(db).as_bytes()],
            );
        }
        let io_setup = stream
            .set_read_timeout(Some(timeout))
            .and_then(|_| stream.set_write_timeout(Some(timeout)));
        let written = io_setup
            .and_then(|_| (&stream).write_all(&head))
            .and_then(|_| (&stream).write_all(body));
        if let Err(e) = written {
            if may_retry && !is_timeout(&e) {
                may_retry = false;
                continue;
            }
            return ioerr(true);
        }
        let mut reader = BufReader::new(&stream);
        let mut first_error: Option<String> = None;
        let mut read_header = |n: bool, first_error: &mut Option<String>| -> io::Result<()> {
            if n {
                let line = read_line(&mut reader)?;
                if let Some(err) = line.strip_prefix('-') {
                    first_error.get_or_insert_with(|| err.to_string());
                }
            }
            Ok(())
        };
        let header = read_header(!auth.is_empty(), &mut first_error)
            .and_then(|_| read_header(select, &mut first_error));
        if let Err(e) = header {
            if may_retry && !is_timeout(&e) {
                may_retry = false;
                continue;
            }
            return ioerr(false);
        }
        // An AUTH or SELECT error fails every RESTORE after it.
        let header_failed = first_error.is_some();
        let mut accepted = Vec::with_capacity(count);
        let mut socket_error = None;
        for _ in 0..count {
            match read_line(&mut reader) {
                Ok(line) => match line.strip_prefix('-') {
                    Some(err) => {
                        first_error.get_or_insert_with(|| err.to_string());
                        accepted.push(false);
                    }
                    None => accepted.push(!header_failed),
                },
                Err(e) => {
                    socket_error = Some(e);
                    break;
                }
            }
        }
        drop(reader);
        if let Some(e) = &socket_error {
            if accepted.is_empty() && first_error.is_none() && may_retry && !is_timeout(e) {
                may_retry = false;
                continue;
            }
        }
        let result = match (first_error, &socket_error) {
            (Some(err), _) => Err(CmdError::Owned(format!(
                "ERR Target instance replied with error: {err}"
            ))),
            (None, Some(_)) => ioerr(false).result,
            (None, None) => Ok(()),
        };
        if socket_error.is_none() {
            keep(target, stream, if result.is_ok() { db } else { -1 });
        }
        return Outcome { accepted, result };
    }
}

/// One reply line, without its CRLF; EOF is an error.
fn read_line(reader: &mut impl BufRead) -> io::Result<String> {
    let mut line = Vec::new();
    if reader.read_until(b'\n', &mut line)? == 0 || !line.ends_with(b"\n") {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    let end = line.len() - if line.ends_with(b"\r\n") { 2 } else { 1 };
    Ok(String::from_utf8_lossy(&line[..end]).into_owned())
}

/// Appends a command as a RESP array of bulk strings.
fn encode(buf: &mut Vec<u8>, parts: &[&[u8]]) {
    let mut n = itoa::Buffer::new();
    buf.push(b'*');
    buf.extend_from_slice(n.format(parts.len()).as_bytes());
    buf.extend_from_slice(b"\r\n");
    for p in parts {
        buf.push(b'$');
        buf.extend_from_slice(n.format(p.len()).as_bytes());
        buf.extend_from_slice(b"\r\n");
        buf.extend_from_slice(p);
        buf.extend_from_slice(b"\r\n");
    }
}
