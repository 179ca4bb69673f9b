//! Pub/Sub commands. The registry and the subscribers' queues are in
//! `crate::pubsub`.

use std::sync::Arc;

use slotcache_protocol::Argv;

use super::{help_reply, printable, CmdError, CmdResult, Ctx};
use crate::pubsub::{confirm, Kind, Subscription};

pub const HANDLERS: &[(&str, super::Handler)] = &[
    ("subscribe", subscribe),
    ("unsubscribe", unsubscribe),
    ("psubscribe", psubscribe),
    ("punsubscribe", punsubscribe),
    ("publish", publish),
    ("ssubscribe", ssubscribe),
    ("sunsubscribe", sunsubscribe),
    ("spublish", spublish),
    ("pubsub|channels", channels),
    ("pubsub|numsub", numsub),
    ("pubsub|shardchannels", shardchannels),
    ("pubsub|shardnumsub", shardnumsub),
    ("pubsub|numpat", numpat),
    ("pubsub|help", help),
];

/// SUBSCRIBE, PSUBSCRIBE and SSUBSCRIBE.
fn subscribe_generic(ctx: &mut Ctx, argv: &Argv, kind: Kind, word: &str) -> CmdResult {
    let client = &mut *ctx.client;
    let sub = client.pubsub.get_or_insert_with(|| {
        Subscription::new(Arc::clone(&ctx.server.pubsub), Arc::clone(&client.handle))
    });
    // Messages already queued were published before this command: they go
    // first. A subscriber cut meanwhile is closed by its connection.
    sub.drain(&mut ctx.out);
    for name in argv.tail(1).iter() {
        sub.subscribe(kind, name);
        confirm(&mut ctx.out, word, Some(name), sub.count(kind));
    }
    Ok(())
}

/// UNSUBSCRIBE, PUNSUBSCRIBE and SUNSUBSCRIBE: the names given, or without any, every
/// subscription of that kind; one confirmation each, or one with a null
/// name when there is nothing to confirm.
fn unsubscribe_generic(ctx: &mut Ctx, argv: &Argv, kind: Kind, word: &str) -> CmdResult {
    let Some(sub) = ctx.client.pubsub.as_mut() else {
        if argv.len() == 1 {
            confirm(&mut ctx.out, word, None, 0);
        }
        for name in argv.tail(1).iter() {
            confirm(&mut ctx.out, word, Some(name), 0);
        }
        return Ok(());
    };
    sub.drain(&mut ctx.out);
    if argv.len() > 1 {
        for name in argv.tail(1).iter() {
            sub.unsubscribe(kind, name);
            confirm(&mut ctx.out, word, Some(name), sub.count(kind));
        }
        return Ok(());
    }
    let names = sub.names(kind);
    if names.is_empty() {
        confirm(&mut ctx.out, word, None, sub.count(kind));
    }
    for name in names {
        sub.unsubscribe(kind, &name);
        confirm(&mut ctx.out, word, Some(&name), sub.count(kind));
    }
    Ok(())
}

fn subscribe(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    subscribe_generic(ctx, argv, Kind::Channel, "subscribe")
}

fn psubscribe(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    subscribe_generic(ctx, argv, Kind::Pattern, "psubscribe")
}

fn unsubscribe(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    unsubscribe_generic(ctx, argv, Kind::Channel, "unsubscribe")
}

fn punsubscribe(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    unsubscribe_generic(ctx, argv, Kind::Pattern, "punsubscribe")
}

/// Unlike SUBSCRIBE, refused inside MULTI (Redis kept that only for the
/// old commands' sake).
fn ssubscribe(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    if !ctx.may_block {
        return Err(CmdError::Static(
            "ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client",
        ));
    }
    subscribe_generic(ctx, argv, Kind::Shard, "ssubscribe")
}

fn sunsubscribe(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    unsubscribe_generic(ctx, argv, Kind::Shard, "sunsubscribe")
}

/// Delivered on this node only: the channel's slot is this node's (the
/// command table routes the channel as a key).
fn spublish(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let receivers = ctx.server.pubsub.publish_shard(argv.get(1), argv.get(2));
    ctx.out.int(receivers as i64);
    Ok(())
}

/// In cluster mode every other node delivers it too; the reply counts
/// this node's receivers only, as in Redis.
fn publish(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    let (channel, message) = (argv.get(1), argv.get(2));
    let receivers = ctx.server.pubsub.publish(channel, message);
    if let Some(cluster) = &ctx.server.cluster {
        cluster.publish(channel, message);
    }
    ctx.out.int(receivers as i64);
    Ok(())
}

fn channels(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    list_channels(ctx, argv, Kind::Channel)
}

fn shardchannels(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    list_channels(ctx, argv, Kind::Shard)
}

/// PUBSUB CHANNELS and SHARDCHANNELS.
fn list_channels(ctx: &mut Ctx, argv: &Argv, kind: Kind) -> CmdResult {
    if argv.len() > 3 {
        return Err(CmdError::Owned(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
            printable(argv.get(1), 128)
        )));
    }
    let pattern = (argv.len() == 3).then(|| argv.get(2));
    let found = ctx.server.pubsub.channels(kind, pattern);
    ctx.out.array(found.len());
    for c in found {
        ctx.out.bulk(&c);
    }
    Ok(())
}

fn numsub(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    count_subscribers(ctx, argv, Kind::Channel)
}

fn shardnumsub(ctx: &mut Ctx, argv: &Argv) -> CmdResult {
    count_subscribers(ctx, argv, Kind::Shard)
}

/// PUBSUB NUMSUB and SHARDNUMSUB: a flat array [channel, count, …] in the
/// order asked, under RESP3 too.
fn count_subscribers(ctx: &mut Ctx, argv: &Argv, kind: Kind) -> CmdResult {
    ctx.out.array(2 * (argv.len() - 2));
    for channel in argv.tail(2).iter() {
        ctx.out.bulk(channel);
        ctx.out.int(ctx.server.pubsub.numsub(kind, channel) as i64);
    }
    Ok(())
}

fn numpat(ctx: &mut Ctx, _argv: &Argv) -> CmdResult {
    ctx.out.int(ctx.server.pubsub.numpat() as i64);
    Ok(())
}

fn help(ctx: &mut Ctx, _argv: &Argv) -> CmdResult {
    help_reply(
        ctx,
        "PUBSUB",
        &[
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
        ],
    );
    Ok(())
}
