use super::*;

const G: &str = "generic";

/// argv[3], or with an empty argv[3] the keys after KEYS.
const MIGRATE_KEYS: KeySpec = KeySpec::AfterKeyword {
    at: 3,
    keyword: "keys",
    from: 6,
};

pub(crate) const SPECS: &[CommandSpec] = &[
    cmd("del", -2, W, KALL, G, "1.0.0", "Deletes one or more keys."),
    cmd("unlink", -2, W | F, KALL, G, "4.0.0", "Asynchronously deletes one or more keys."),
    cmd("exists", -2, R | F, KALL, G, "1.0.0", "Determines whether one or more keys exist."),
    cmd("type", 2, R | F, K1, G, "1.0.0", "Determines the type of value stored at a key."),
    cmd("expire", -3, W | F, K1, G, "1.0.0", "Sets the expiration time of a key in seconds."),
    cmd("pexpire", -3, W | F, K1, G, "2.6.0", "Sets the expiration time of a key in milliseconds."),
    cmd("expireat", -3, W | F, K1, G, "1.2.0", "Sets the expiration time of a key to a Unix timestamp."),
    cmd("pexpireat", -3, W | F, K1, G, "2.6.0", "Sets the expiration time of a key to a Unix milliseconds timestamp."),
    cmd("ttl", 2, R | F, K1, G, "1.0.0", "Returns the expiration time in seconds of a key."),
    cmd("pttl", 2, R | F, K1, G, "2.6.0", "Returns the expiration time in milliseconds of a key."),
    cmd("expiretime", 2, R | F, K1, G, "7.0.0", "Returns the expiration time of a key as a Unix timestamp."),
    cmd("pexpiretime", 2, R | F, K1, G, "7.0.0", "Returns the expiration time of a key as a Unix milliseconds timestamp."),
    cmd("persist", 2, W | F, K1, G, "2.2.0", "Removes the expiration time of a key."),
    cmd("keys", 2, R, NK, G, "1.0.0", "Returns all key names that match a pattern."),
    cmd("scan", -2, R, NK, G, "2.8.0", "Iterates over the key names in the database."),
    cmd("randomkey", 1, R, NK, G, "1.0.0", "Returns a random key name from the database."),
    cmd("rename", 3, W, keys(1, 2, 1), G, "1.0.0", "Renames a key and overwrites the destination."),
    cmd("renamenx", 3, W | F, keys(1, 2, 1), G, "1.0.0", "Renames a key only when the target key name doesn't exist."),
    cmd("copy", -3, W | M, keys(1, 2, 1), G, "6.2.0", "Copies the value of a key to a new key."),
    cmd("dump", 2, R, K1, G, "2.6.0", "Returns a serialized representation of the value stored at a key."),
    cmd("restore", -4, W | M, K1, G, "2.6.0", "Creates a key from the serialized representation of a value."),
    cmd("restore-asking", -4, W | M | Flags::ASKING, K1, G, "3.0.0", "An internal command for migrating keys in a cluster."),
    cmd("migrate", -6, W, MIGRATE_KEYS, G, "2.6.0", "Atomically transfers a key from one Redis instance to another."),
    cmd("touch", -2, R | F, KALL, G, "3.2.1", "Returns the number of existing keys out of those specified after updating the time they were last accessed."),
];
