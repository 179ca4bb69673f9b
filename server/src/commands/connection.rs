//! Connection commands: PING ECHO HELLO AUTH SELECT QUIT RESET.

use slotcache_protocol::Argv;

use super::{int_arg, is, CmdError, CmdResult, Ctx};

pub const HANDLERS: &[(&str, super::Handler)] = &[
    ("ping", ping),
    ("echo", echo),
    ("hello", hello),
    ("auth", auth),
    ("select", select),
    ("quit", quit),
    ("reset", reset),
];

fn ping(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    // A RESP2 subscriber gets an array, like its messages.
    if ctx.client.subscribed() && !ctx.client.resp3 && argv.len() <= 2 {
        ctx.out.array(2);
        ctx.out.bulk(b"pong");
        ctx.out
            .bulk(if argv.len() == 2 { argv.get(1) } else { b"" });
        return Ok(());
    }
    match argv.len() {
        1 => ctx.out.simple("PONG"),
        2 => ctx.out.bulk(argv.get(1)),
        _ => {
            return Err(CmdError::Static(
                "ERR wrong number of arguments for 'ping' command",
            ))
        }
    }
    Ok(())
}

fn echo(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    ctx.out.bulk(argv.get(1));
    Ok(())
}

const WRONGPASS: CmdError =
    CmdError::Static("WRONGPASS invalid username-password pair or user is disabled.");

/// Checks a password for the only user there is, `default`.
fn authenticate(ctx: &mut Ctx, user: &[u8], password: &[u8]) -> CmdResult {
    let required = ctx.server.config.read().requirepass.clone();
    if user != b"default" || (!required.is_empty() && password != required.as_bytes()) {
        return Err(WRONGPASS);
    }
    ctx.client.authenticated = true;
    Ok(())
}

fn auth(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    if argv.len() > 3 {
        return Err(super::SYNTAX);
    }
    if argv.len() == 2 && ctx.server.config.read().requirepass.is_empty() {
        return Err(CmdError::Static(
            "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
        ));
    }
    let (user, password) = if argv.len() == 3 {
        (argv.get(1), argv.get(2))
    } else {
        (&b"default"[..], argv.get(1))
    };
    authenticate(ctx, user, password)?;
    ctx.out.ok();
    Ok(())
}

fn hello(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let mut proto = None;
    let mut i = 1;
    if argv.len() > 1 {
        let v = int_arg(argv.get(1)).map_err(|_| {
            CmdError::Static("ERR Protocol version is not an integer or out of range")
        })?;
        if v != 2 && v != 3 {
            return Err(CmdError::Static("NOPROTO unsupported protocol version"));
        }
        proto = Some(v);
        i = 2;
    }
    let mut name = None;
    while i < argv.len() {
        let more = argv.len() - i - 1;
        if is(argv.get(i), "auth") && more >= 2 {
            authenticate(ctx, argv.get(i + 1), argv.get(i + 2))?;
            i += 3;
        } else if is(argv.get(i), "setname") && more >= 1 {
            name = Some(argv.get(i + 1));
            i += 2;
        } else {
            return Err(CmdError::Owned(format!(
                "ERR Syntax error in HELLO option '{}'",
                super::printable(argv.get(i), 128)
            )));
        }
    }
    if !ctx.client.authenticated {
        return Err(CmdError::Static(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
        ));
    }
    if let Some(name) = name {
        super::client::set_name(ctx, name)?;
    }
    if let Some(v) = proto {
        ctx.client.set_resp3(v == 3);
    }
    // The reply is in the protocol just chosen.
    let resp3 = ctx.client.resp3;
    ctx.out.set_resp3(resp3);
    let replica = ctx
        .server
        .cluster
        .as_ref()
        .is_some_and(|c| c.read(|s, _| !s.me().is_master()));
    let out = &mut ctx.out;
    let zone = ctx.server.config.read().zone.clone();
    let mode = if ctx.server.config.read().cluster_enabled {
        "cluster"
    } else {
        "standalone"
    };
    out.map(8);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(crate::info::REDIS_VERSION.as_bytes());
    out.bulk(b"proto");
    out.int(if resp3 { 3 } else { 2 });
    out.bulk(b"id");
    out.int(ctx.client.id() as i64);
    out.bulk(b"mode");
    out.bulk(mode.as_bytes());
    out.bulk(b"role");
    out.bulk(crate::cluster::role_name(replica).as_bytes());
    out.bulk(b"modules");
    out.array(0);
    out.bulk(b"availability_zone");
    out.bulk(zone.as_bytes());
    Ok(())
}

fn select(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let index = int_arg(argv.get(1))?;
    if index != 0 {
        if ctx.server.config.read().cluster_enabled {
            return Err(CmdError::Static(
                "ERR SELECT is not allowed in cluster mode",
            ));
        }
        return Err(CmdError::Static("ERR DB index is out of range"));
    }
    ctx.out.ok();
    Ok(())
}

fn quit(ctx: &mut Ctx, _argv: &Argv) -> CmdResult {
    ctx.client.close_after_reply = true;
    ctx.out.ok();
    Ok(())
}

fn reset(ctx: &mut Ctx, _argv: &Argv) -> CmdResult {
    ctx.client.set_resp3(false);
    ctx.client.authenticated = !ctx
        .server
        .hot
        .auth_required
        .load(std::sync::atomic::Ordering::Relaxed);
    ctx.client.handle.name.lock().clear();
    // Cluster: back to READWRITE.
    ctx.client.readonly = false;
    ctx.client.pubsub = None;
    super::discard_transaction(ctx.server, &mut ctx.client.tx);
    ctx.out.simple("RESET");
    Ok(())
}
