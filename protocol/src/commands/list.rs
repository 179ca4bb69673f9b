use super::*;

const G: &str = "list";

pub(crate) const SPECS: &[CommandSpec] = &[
    cmd("lpush", -3, W | M | F, K1, G, "1.0.0", "Prepends one or more elements to a list. Creates the key if it doesn't exist."),
    cmd("rpush", -3, W | M | F, K1, G, "1.0.0", "Appends one or more elements to a list. Creates the key if it doesn't exist."),
    cmd("lpushx", -3, W | M | F, K1, G, "2.2.0", "Prepends one or more elements to a list only when the list exists."),
    cmd("rpushx", -3, W | M | F, K1, G, "2.2.0", "Appends an element to a list only when the list exists."),
    cmd("lpop", -2, W | F, K1, G, "1.0.0", "Returns the first elements in a list after removing it. Deletes the list if the last element was popped."),
    cmd("rpop", -2, W | F, K1, G, "1.0.0", "Returns and removes the last elements of a list. Deletes the list if the last element was popped."),
    cmd("llen", 2, R | F, K1, G, "1.0.0", "Returns the length of a list."),
    cmd("lrange", 4, R, K1, G, "1.0.0", "Returns a range of elements from a list."),
    cmd("lindex", 3, R, K1, G, "1.0.0", "Returns an element from a list by its index."),
    cmd("lset", 4, W | M, K1, G, "1.0.0", "Sets the value of an element in a list by its index."),
    cmd("linsert", 5, W | M, K1, G, "2.2.0", "Inserts an element before or after another element in a list."),
    cmd("lrem", 4, W, K1, G, "1.0.0", "Removes elements from a list. Deletes the list if the last element was removed."),
    cmd("ltrim", 4, W, K1, G, "1.0.0", "Removes elements from both ends a list. Deletes the list if all elements were trimmed."),
    cmd("lpos", -3, R, K1, G, "6.0.6", "Returns the index of matching elements in a list."),
    cmd("lmove", 5, W | M, keys(1, 2, 1), G, "6.2.0", "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved."),
    cmd("rpoplpush", 3, W | M, keys(1, 2, 1), G, "1.2.0", "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped."),
    cmd("blpop", -3, W | NS | BL, keys(1, -2, 1), G, "2.0.0", "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped."),
    cmd("brpop", -3, W | NS | BL, keys(1, -2, 1), G, "2.0.0", "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped."),
    cmd("lmpop", -4, W, numkeys_at(1), G, "7.0.0", "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped."),
    cmd("blmpop", -5, W | BL, numkeys_at(2), G, "7.0.0", "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped."),
    cmd("blmove", 6, W | M | NS | BL, keys(1, 2, 1), G, "6.2.0", "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved."),
    cmd("brpoplpush", 4, W | M | NS | BL, keys(1, 2, 1), G, "2.2.0", "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped."),
];
