//! String commands.

use slotcache_protocol::Argv;

use super::{CmdResult, Ctx, WRONGTYPE};

pub const HANDLERS: &[(&str, super::Handler)] = &[("get", get), ("set", set)];

fn get(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    match ctx.keys.get(argv.get(1)) {
        None => ctx.out.null(),
        Some(entry) => match entry.string() {
            Some(value) => ctx.out.bulk(value),
            None => return Err(WRONGTYPE),
        },
    }
    Ok(())
}

fn set(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    ctx.keys.set_string(argv.get(1), argv.get(2), None);
    ctx.out.ok();
    Ok(())
}
