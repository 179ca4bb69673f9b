use super::*;

const G: &str = "hash";

pub(crate) const SPECS: &[CommandSpec] = &[
    cmd("hset", -4, W | M | F, K1, G, "2.0.0", "Creates or modifies the value of a field in a hash."),
    cmd("hsetnx", 4, W | M | F, K1, G, "2.0.0", "Sets the value of a field in a hash only when the field doesn't exist."),
    cmd("hget", 3, R | F, K1, G, "2.0.0", "Returns the value of a field in a hash."),
    cmd("hmget", -3, R | F, K1, G, "2.0.0", "Returns the values of all fields in a hash."),
    cmd("hmset", -4, W | M | F, K1, G, "2.0.0", "Sets the values of multiple fields."),
    cmd("hdel", -3, W | F, K1, G, "2.0.0", "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain."),
    cmd("hlen", 2, R | F, K1, G, "2.0.0", "Returns the number of fields in a hash."),
    cmd("hexists", 3, R | F, K1, G, "2.0.0", "Determines whether a field exists in a hash."),
    cmd("hgetall", 2, R, K1, G, "2.0.0", "Returns all fields and values in a hash."),
    cmd("hkeys", 2, R, K1, G, "2.0.0", "Returns all fields in a hash."),
    cmd("hvals", 2, R, K1, G, "2.0.0", "Returns all values in a hash."),
    cmd("hincrby", 4, W | M | F, K1, G, "2.0.0", "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist."),
    cmd("hincrbyfloat", 4, W | M | F, K1, G, "2.6.0", "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist."),
    cmd("hstrlen", 3, R | F, K1, G, "3.2.0", "Returns the length of the value of a field."),
    cmd("hscan", -3, R, K1, G, "2.8.0", "Iterates over fields and values of a hash."),
    cmd("hrandfield", -2, R, K1, G, "6.2.0", "Returns one or more random fields from a hash."),
];
