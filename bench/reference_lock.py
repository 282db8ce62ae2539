"""Why the reference number left the counter row (issue 9): 4 concurrent "submissions" on PostgreSQL, each
"take a number, 3 inserts, 3 ms of work, commit", numbered by a counter row upsert (as before) or a sequence
(as now); prints transactions per second and what the sessions waited on (pg_stat_activity, sampled every 5 ms).

    .venv/bin/python bench/reference_lock.py --dsn postgresql://postgres@127.0.0.1:5432/SCRATCH_DB

Uses three scratch objects (w9_counter, w9_rows, w9_seq) in the given database, dropped at the end.
"""

from __future__ import annotations

import argparse
import collections
import threading
import time

import psycopg

NUMBER = {
    "counter": "INSERT INTO w9_counter VALUES (2026, 1) ON CONFLICT (year) DO UPDATE SET last = w9_counter.last + 1 "
               "RETURNING last",
    "sequence": "SELECT nextval('w9_seq')",
}
DROP = "DROP TABLE IF EXISTS w9_counter, w9_rows; DROP SEQUENCE IF EXISTS w9_seq"


def run(dsn: str, kind: str, per_session: int, sessions: int) -> None:
    waits: collections.Counter = collections.Counter()
    stop = threading.Event()

    def sampler() -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            while not stop.is_set():
                for (wait,) in conn.execute(
                        "SELECT coalesce(wait_event_type || ':' || wait_event, 'cpu/none') FROM pg_stat_activity "
                        "WHERE application_name = 'reference_lock' AND state = 'active'"):
                    waits[wait] += 1
                time.sleep(0.005)

    def worker() -> None:
        with psycopg.connect(dsn, application_name="reference_lock") as conn:
            for _ in range(per_session):
                number = conn.execute(NUMBER[kind]).fetchone()[0]
                for _ in range(3):
                    conn.execute("INSERT INTO w9_rows (ref, body) VALUES (%s, repeat('x', 500))", (number,))
                time.sleep(0.003)  # the request's own work between its statements
                conn.commit()

    watcher = threading.Thread(target=sampler)
    watcher.start()
    start = time.time()
    workers = [threading.Thread(target=worker) for _ in range(sessions)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.time() - start
    stop.set()
    watcher.join()
    print(f"{kind:8s} {sessions * per_session / elapsed:6.1f} tx/s  waits sampled: {dict(waits.most_common(4))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", required=True, help="libpq URL of a scratch PostgreSQL database")
    parser.add_argument("--transactions", type=int, default=150, help="per session (default 150)")
    parser.add_argument("--sessions", type=int, default=4)
    args = parser.parse_args()
    with psycopg.connect(args.dsn, autocommit=True) as conn:
        conn.execute(DROP)
        conn.execute("CREATE TABLE w9_counter (year int PRIMARY KEY, last int); "
                     "CREATE TABLE w9_rows (id serial PRIMARY KEY, ref int, body text); CREATE SEQUENCE w9_seq")
        settings = [conn.execute(f"SHOW {name}").fetchone()[0] for name in ("fsync", "synchronous_commit")]
        print(f"fsync={settings[0]} synchronous_commit={settings[1]}")
    try:
        for kind in ("counter", "sequence", "counter", "sequence"):
            run(args.dsn, kind, args.transactions, args.sessions)
    finally:
        with psycopg.connect(args.dsn, autocommit=True) as conn:
            conn.execute(DROP)


if __name__ == "__main__":
    main()
