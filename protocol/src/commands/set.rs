use super::*;

const G: &str = "set";

pub(crate) const SPECS: &[CommandSpec] = &[
    cmd("sadd", -3, W | M | F, K1, G, "1.0.0", "Adds one or more members to a set. Creates the key if it doesn't exist."),
    cmd("srem", -3, W | F, K1, G, "1.0.0", "Removes one or more members from a set. Deletes the set if the last member was removed."),
    cmd("smembers", 2, R, K1, G, "1.0.0", "Returns all members of a set."),
    cmd("sismember", 3, R | F, K1, G, "1.0.0", "Determines whether a member belongs to a set."),
    cmd("smismember", -3, R | F, K1, G, "6.2.0", "Determines whether multiple members belong to a set."),
    cmd("scard", 2, R | F, K1, G, "1.0.0", "Returns the number of members in a set."),
    cmd("spop", -2, W | F, K1, G, "1.0.0", "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped."),
    cmd("srandmember", -2, R, K1, G, "1.0.0", "Get one or multiple random members from a set"),
    cmd("smove", 4, W | F, keys(1, 2, 1), G, "1.0.0", "Moves a member from one set to another."),
    cmd("sinter", -2, R, KALL, G, "1.0.0", "Returns the intersect of multiple sets."),
    cmd("sinterstore", -3, W | M, KALL, G, "1.0.0", "Stores the intersect of multiple sets in a key."),
    cmd("sintercard", -3, R, numkeys_at(1), G, "7.0.0", "Returns the number of members of the intersect of multiple sets."),
    cmd("sunion", -2, R, KALL, G, "1.0.0", "Returns the union of multiple sets."),
    cmd("sunionstore", -3, W | M, KALL, G, "1.0.0", "Stores the union of multiple sets in a key."),
    cmd("sdiff", -2, R, KALL, G, "1.0.0", "Returns the difference of multiple sets."),
    cmd("sdiffstore", -3, W | M, KALL, G, "1.0.0", "Stores the difference of multiple sets in a key."),
    cmd("sscan", -3, R, K1, G, "2.8.0", "Iterates over members of a set."),
];
