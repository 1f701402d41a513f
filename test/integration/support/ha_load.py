"""Load and watch for the HA tests (run with Debian's /usr/bin/python3: psycopg 3 over libpq).

writer <url> <out> <stop>: inserts numbered rows (1, 2, ...) into ha_rows through the multi-host
URL without pause, reconnecting after any error, and appends to <out> the number of every row whose
commit the server acknowledged ("ack <n> <unix time> <server port>"), until the file <stop> exists.

watch <out> <stop> <conninfo>...: every 100 ms asks every member, through its own address, whether
it accepts writes (pg_is_in_recovery() is false) and appends "writable <t> <i,j,...>" to <out>
whenever that set changes; "split <t> <i,j>" whenever two or more accept writes at once.
"""
import os
import sys
import time

import psycopg


def writer(url, out, stop):
    n = 0
    conn = None
    with open(out, "a", buffering=1) as log:
        while not os.path.exists(stop):
            try:
                if conn is None:
                    # A partitioned server sends nothing, not even a reset: without these, a client
                    # waits for its answer as long as the kernel's TCP timeouts (minutes to hours).
                    conn = psycopg.connect(url, autocommit=True, connect_timeout=2, tcp_user_timeout=2000,
                                           keepalives=1, keepalives_idle=1, keepalives_interval=1, keepalives_count=2)
                    port = conn.execute("SELECT current_setting('port')").fetchone()[0]
                n += 1
                conn.execute("INSERT INTO ha_rows (id) VALUES (%s)", (n,))
                log.write(f"ack {n} {time.time():.3f} {port}\n")
            except Exception as e:  # any failure: the outcome of row n is unknown, it is not counted
                log.write(f"error {n} {time.time():.3f} {type(e).__name__}\n")
                try:
                    if conn is not None:
                        conn.close()
                except Exception:
                    pass
                conn = None
                time.sleep(0.05)


def watch(out, stop, conninfos):
    conns = [None] * len(conninfos)
    last = None
    with open(out, "a", buffering=1) as log:
        while not os.path.exists(stop):
            t0 = time.time()
            writable = []
            for i, info in enumerate(conninfos):
                try:
                    if conns[i] is None:
                        conns[i] = psycopg.connect(info, autocommit=True, connect_timeout=1)
                    if conns[i].execute("SELECT pg_is_in_recovery()").fetchone()[0] is False:
                        writable.append(i)
                except Exception:
                    try:
                        if conns[i] is not None:
                            conns[i].close()
                    except Exception:
                        pass
                    conns[i] = None
            if writable != last:
                log.write(f"writable {t0:.3f} {','.join(map(str, writable))}\n")
                last = writable
            if len(writable) > 1:
                log.write(f"split {t0:.3f} {','.join(map(str, writable))}\n")
            time.sleep(max(0.0, 0.1 - (time.time() - t0)))


if __name__ == "__main__":
    if sys.argv[1] == "writer":
        writer(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        watch(sys.argv[2], sys.argv[3], sys.argv[4:])
