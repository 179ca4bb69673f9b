//! EVAL, EVALSHA, their read-only forms, and SCRIPT. The interpreter and
//! its rules are in `crate::scripting`.

use slotcache_protocol::Argv;

use super::{help_reply, is, CmdError, CmdResult, Ctx};

pub const HANDLERS: &[(&str, super::Handler)] = &[
    ("eval", eval),
    ("evalsha", evalsha),
    ("eval_ro", eval_ro),
    ("evalsha_ro", evalsha_ro),
    ("script|load", script_load),
    ("script|exists", script_exists),
    ("script|flush", script_flush),
    ("script|kill", script_kill),
    ("script|help", script_help),
];

fn eval(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let server = ctx.server;
    server.scripts.eval(ctx, argv, false, false)
}

fn evalsha(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let server = ctx.server;
    server.scripts.eval(ctx, argv, true, false)
}

fn eval_ro(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let server = ctx.server;
    server.scripts.eval(ctx, argv, false, true)
}

fn evalsha_ro(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let server = ctx.server;
    server.scripts.eval(ctx, argv, true, true)
}

fn script_load(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let sha = ctx.server.scripts.load(argv.get(2))?;
    ctx.out.bulk(&sha);
    Ok(())
}

fn script_exists(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let shas = argv.tail(2);
    ctx.out.array(shas.len());
    for sha in shas.iter() {
        ctx.out.int(ctx.server.scripts.exists(sha) as i64);
    }
    Ok(())
}

fn script_flush(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let lazy = match argv.len() {
        2 => false,
        3 if is(argv.get(2), "async") => true,
        3 if is(argv.get(2), "sync") => false,
        _ => {
            return Err(CmdError::Static(
                "ERR SCRIPT FLUSH only support SYNC|ASYNC option",
            ))
        }
    };
    ctx.server.scripts.flush(lazy);
    ctx.out.ok();
    Ok(())
}

fn script_kill(ctx: &mut Ctx, _argv: &Argv) -> CmdResult {
    ctx.server.scripts.kill()?;
    ctx.out.ok();
    Ok(())
}

fn script_help(ctx: &mut Ctx, _argv: &Argv) -> CmdResult {
    help_reply(
        ctx,
        "SCRIPT",
        &[
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache. Very dangerous on replicas.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the scripts cache.",
            "    * SYNC: Synchronously flush the scripts cache.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
        ],
    );
    Ok(())
}
