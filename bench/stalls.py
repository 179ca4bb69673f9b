#!/usr/bin/env python3
"""Finds stalls: one client grows one big collection in pipelined batches
of 100 (or, for zpopmin, grows a sorted set untimed and then empties it by
ZPOPMIN) and reports the batches that took over 3 ms (how many, and the
longest with the collection's size then). Run it against a slotcache and a
redis-server port in turn; a stall here is what every client of that key
(and, in slotcache, of its slot) waits through.

    python3 bench/stalls.py PORT zadd|sadd|hset|zpopmin [COMMANDS]
"""
import random
import socket
import sys
import time


def encode(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def command(kind, rnd):
    member = "m%d" % rnd.randrange(100_000_000)
    if kind == "zpopmin":
        return encode("ZPOPMIN", "stalls:z")
    if kind == "zadd":
        return encode("ZADD", "stalls:z", rnd.randrange(1_000_000), member)
    if kind == "hset":
        return encode("HSET", "stalls:h", member, "v")
    return encode("SADD", "stalls:s", member)


def run(con, kind, rnd, total, batch, stalls):
    # Lines per reply: an integer, or ZPOPMIN's array of member and score.
    lines = 5 if kind == "zpopmin" else 1
    for b in range(total // batch):
        request = b"".join(command(kind, rnd) for _ in range(batch))
        started = time.perf_counter()
        con.sendall(request)
        received = 0
        while received < batch * lines:
            received += con.recv(65536).count(b"\r\n")
        took = time.perf_counter() - started
        if took > 0.003 and stalls is not None:
            size = b * batch if kind != "zpopmin" else total - b * batch
            stalls.append((round(took * 1000, 1), size))


def main():
    port, kind = int(sys.argv[1]), sys.argv[2]
    total = int(sys.argv[3]) if len(sys.argv) > 3 else 1_000_000
    batch = 100
    con = socket.create_connection(("127.0.0.1", port))
    con.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    rnd = random.Random(1)
    stalls = []
    if kind == "zpopmin":
        con.sendall(encode("DEL", "stalls:z"))
        con.recv(64)
        run(con, "zadd", rnd, total, 1000, None)
        con.sendall(encode("ZCARD", "stalls:z"))
        total = int(con.recv(64)[1:-2])
    run(con, kind, rnd, total, batch, stalls)
    stalls.sort(reverse=True)
    print(f"{kind}: {len(stalls)} batches over 3 ms; longest (ms, size): {stalls[:5]}")


main()
