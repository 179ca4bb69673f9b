use super::*;

const G: &str = "sorted-set";

/// ZUNIONSTORE/ZINTERSTORE/ZDIFFSTORE destination numkeys key [key ...] …
const STORE_NUMKEYS_AT_2: KeySpec = KeySpec::NumKeys {
    count_at: 2,
    dest: Some(1),
};
/// BZPOPMIN/BZPOPMAX key [key ...] timeout
const ALL_BUT_LAST: KeySpec = keys(1, -2, 1);

pub(crate) const SPECS: &[CommandSpec] = &[
    cmd("zadd", -4, W | M | F, K1, G, "1.2.0", "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist."),
    cmd("zincrby", 4, W | M | F, K1, G, "1.2.0", "Increments the score of a member in a sorted set."),
    cmd("zrem", -3, W | F, K1, G, "1.2.0", "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed."),
    cmd("zcard", 2, R | F, K1, G, "1.2.0", "Returns the number of members in a sorted set."),
    cmd("zscore", 3, R | F, K1, G, "1.2.0", "Returns the score of a member in a sorted set."),
    cmd("zmscore", -3, R | F, K1, G, "6.2.0", "Returns the score of one or more members in a sorted set."),
    cmd("zrank", -3, R | F, K1, G, "2.0.0", "Returns the index of a member in a sorted set ordered by ascending scores."),
    cmd("zrevrank", -3, R | F, K1, G, "2.0.0", "Returns the index of a member in a sorted set ordered by descending scores."),
    cmd("zcount", 4, R | F, K1, G, "2.0.0", "Returns the count of members in a sorted set that have scores within a range."),
    cmd("zlexcount", 4, R | F, K1, G, "2.8.9", "Returns the number of members in a sorted set within a lexicographical range."),
    cmd("zrange", -4, R, K1, G, "1.2.0", "Returns members in a sorted set within a range of indexes."),
    cmd("zrangestore", -5, W | M, keys(1, 2, 1), G, "6.2.0", "Stores a range of members from sorted set in a key."),
    cmd("zrevrange", -4, R, K1, G, "1.2.0", "Returns members in a sorted set within a range of indexes in reverse order."),
    cmd("zrangebyscore", -4, R, K1, G, "1.0.5", "Returns members in a sorted set within a range of scores."),
    cmd("zrevrangebyscore", -4, R, K1, G, "2.2.0", "Returns members in a sorted set within a range of scores in reverse order."),
    cmd("zrangebylex", -4, R, K1, G, "2.8.9", "Returns members in a sorted set within a lexicographical range."),
    cmd("zrevrangebylex", -4, R, K1, G, "2.8.9", "Returns members in a sorted set within a lexicographical range in reverse order."),
    cmd("zpopmin", -2, W | F, K1, G, "5.0.0", "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped."),
    cmd("zpopmax", -2, W | F, K1, G, "5.0.0", "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped."),
    cmd("zmpop", -4, W, numkeys_at(1), G, "7.0.0", "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped."),
    cmd("bzmpop", -5, W | BL, numkeys_at(2), G, "7.0.0", "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped."),
    cmd("bzpopmin", -3, W | NS | BL | F, ALL_BUT_LAST, G, "5.0.0", "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped."),
    cmd("bzpopmax", -3, W | NS | BL | F, ALL_BUT_LAST, G, "5.0.0", "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise.  Deletes the sorted set if the last element was popped."),
    cmd("zremrangebyrank", 4, W, K1, G, "2.0.0", "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed."),
    cmd("zremrangebyscore", 4, W, K1, G, "1.2.0", "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed."),
    cmd("zremrangebylex", 4, W, K1, G, "2.8.9", "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed."),
    cmd("zunionstore", -4, W | M, STORE_NUMKEYS_AT_2, G, "2.0.0", "Stores the union of multiple sorted sets in a key."),
    cmd("zinterstore", -4, W | M, STORE_NUMKEYS_AT_2, G, "2.0.0", "Stores the intersect of multiple sorted sets in a key."),
    cmd("zdiffstore", -4, W | M, STORE_NUMKEYS_AT_2, G, "6.2.0", "Stores the difference of multiple sorted sets in a key."),
    cmd("zunion", -3, R, numkeys_at(1), G, "6.2.0", "Returns the union of multiple sorted sets."),
    cmd("zinter", -3, R, numkeys_at(1), G, "6.2.0", "Returns the intersect of multiple sorted sets."),
    cmd("zdiff", -3, R, numkeys_at(1), G, "6.2.0", "Returns the difference between multiple sorted sets."),
    cmd("zintercard", -3, R, numkeys_at(1), G, "7.0.0", "Returns the number of members of the intersect of multiple sorted sets."),
    cmd("zscan", -3, R, K1, G, "2.8.0", "Iterates over members and scores of a sorted set."),
    cmd("zrandmember", -2, R, K1, G, "6.2.0", "Returns one or more random members from a sorted set."),
];
