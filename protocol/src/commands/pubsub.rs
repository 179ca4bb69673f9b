use super::*;

const G: &str = "pubsub";

pub(crate) const SPECS: &[CommandSpec] = &[
    cmd(
        "subscribe",
        -2,
        PS | NS | LD | ST,
        NK,
        G,
        "2.0.0",
        "Listens for messages published to channels.",
    ),
    cmd(
        "unsubscribe",
        -1,
        PS | NS | LD | ST,
        NK,
        G,
        "2.0.0",
        "Stops listening to messages posted to channels.",
    ),
    cmd(
        "psubscribe",
        -2,
        PS | NS | LD | ST,
        NK,
        G,
        "2.0.0",
        "Listens for messages published to channels that match one or more patterns.",
    ),
    cmd(
        "punsubscribe",
        -1,
        PS | NS | LD | ST,
        NK,
        G,
        "2.0.0",
        "Stops listening to messages published to channels that match one or more patterns.",
    ),
    cmd(
        "publish",
        3,
        PS | LD | ST | F | Flags::MAY_REPLICATE,
        NK,
        G,
        "2.0.0",
        "Posts a message to a channel.",
    ),
    container(
        "pubsub",
        G,
        "2.8.0",
        "A container for Pub/Sub commands.",
        PUBSUB,
    ),
];

const PUBSUB: &[CommandSpec] = &[
    cmd(
        "pubsub|channels",
        -2,
        PS | LD | ST,
        NK,
        G,
        "2.8.0",
        "Returns the active channels.",
    ),
    cmd(
        "pubsub|numsub",
        -2,
        PS | LD | ST,
        NK,
        G,
        "2.8.0",
        "Returns a count of subscribers to channels.",
    ),
    cmd(
        "pubsub|numpat",
        2,
        PS | LD | ST,
        NK,
        G,
        "2.8.0",
        "Returns a count of unique pattern subscriptions.",
    ),
    cmd(
        "pubsub|help",
        2,
        LD | ST,
        NK,
        G,
        "6.2.0",
        "Returns helpful text about the different subcommands.",
    ),
];
