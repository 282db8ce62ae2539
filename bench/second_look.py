"""The semantic channel's second look after the commit (issue 9): what it costs the worker, per submission.

    .venv/bin/python bench/second_look.py --url postgresql+psycopg://postgres@127.0.0.1:55432/guichet_peer

Run after a load of submissions (the peer harness's, ../shared/bench/peers/guichet/run.sh, leaves its unanswered
ones marked): runs tickets.triage.second_looks in batches of --batch, one transaction each as the
``triage_second_look`` job does, until nothing is pending, and reports how many were looked at and answered,
the wall and CPU time per ticket, and the drain rate. Nothing else runs meanwhile; the semantic channel must be on
with its vectors stored (`guichet kb embed`).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crm import create_app  # noqa: E402
from crm.core.database import transaction  # noqa: E402
from crm.core.extensions import db  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="the database the submissions were written to")
    parser.add_argument("--batch", type=int, default=50, help="decisions per transaction (the job's 50)")
    args = parser.parse_args()
    os.environ["DATABASE_URL"] = args.url
    os.environ.setdefault("SECRET_KEY", "bench-second-look-secret-key-0123456789")
    app = create_app()
    import sqlalchemy as sa

    from expert.models import TriageDecision
    from knowledge_base.index import refresh_index, semantic_active
    from tickets.triage import second_looks

    with app.app_context():
        refresh_index()
        if not semantic_active():
            raise SystemExit("the semantic channel is off or its vectors are missing (guichet kb embed)")
        pending = db.session.scalar(sa.select(sa.func.count()).where(TriageDecision.second_look_at.is_not(None)))
        db.session.remove()
        totals = {"looked": 0, "answered": 0, "skipped": 0}
        started, cpu = time.perf_counter(), time.process_time()
        while True:
            with transaction():
                counts = second_looks(limit=args.batch)
            for key in totals:
                totals[key] += counts[key]
            if not any(counts.values()):
                break
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    n = totals["looked"] + totals["skipped"]
    print(f"pending at start: {pending}; looked at {totals['looked']}, answered {totals['answered']}, "
          f"skipped {totals['skipped']} (taken meanwhile)")
    if n:
        print(f"{wall:.1f} s wall, {cpu:.1f} s CPU: {1000 * wall / n:.1f} ms wall and {1000 * cpu / n:.1f} ms CPU "
              f"per ticket, {n / wall:.1f} tickets/s drained by one process; load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
