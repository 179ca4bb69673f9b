use super::*;

const G: &str = "string";

pub(crate) const SPECS: &[CommandSpec] = &[
    cmd("get", 2, R | F, K1, G, "1.0.0", "Returns the string value of a key."),
    cmd("set", -3, W | M, K1, G, "1.0.0", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist."),
    cmd("setnx", 3, W | M | F, K1, G, "1.0.0", "Set the string value of a key only when the key doesn't exist."),
    cmd("setex", 4, W | M, K1, G, "2.0.0", "Sets the string value and expiration time of a key. Creates the key if it doesn't exist."),
    cmd("psetex", 4, W | M, K1, G, "2.6.0", "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist."),
    cmd("getex", -2, W | F, K1, G, "6.2.0", "Returns the string value of a key after setting its expiration time."),
    cmd("getdel", 2, W | F, K1, G, "6.2.0", "Returns the string value of a key after deleting the key."),
    cmd("getset", 3, W | M | F, K1, G, "1.0.0", "Returns the previous string value of a key after setting it to a new value."),
    cmd("mget", -2, R | F, KALL, G, "1.0.0", "Atomically returns the string values of one or more keys."),
    cmd("mset", -3, W | M, keys(1, -1, 2), G, "1.0.1", "Atomically creates or modifies the string values of one or more keys."),
    cmd("msetnx", -3, W | M, keys(1, -1, 2), G, "1.0.1", "Atomically modifies the string values of one or more keys only when all keys don't exist."),
    cmd("incr", 2, W | M | F, K1, G, "1.0.0", "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist."),
    cmd("decr", 2, W | M | F, K1, G, "1.0.0", "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist."),
    cmd("incrby", 3, W | M | F, K1, G, "1.0.0", "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist."),
    cmd("decrby", 3, W | M | F, K1, G, "1.0.0", "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist."),
    cmd("incrbyfloat", 3, W | M | F, K1, G, "2.6.0", "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist."),
    cmd("append", 3, W | M | F, K1, G, "2.0.0", "Appends a string to the value of a key. Creates the key if it doesn't exist."),
    cmd("strlen", 2, R | F, K1, G, "2.2.0", "Returns the length of a string value."),
    cmd("getrange", 4, R, K1, G, "2.4.0", "Returns a substring of the string stored at a key."),
    cmd("substr", 4, R, K1, G, "1.0.0", "Returns a substring from a string value."),
    cmd("setrange", 4, W | M, K1, G, "2.2.0", "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist."),
];
