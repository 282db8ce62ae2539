"""Time the outbox: enqueue N e-mails (rendered FR templates), then dispatch them to a local aiosmtpd.

    .venv/bin/python bench/outbox_dispatch.py [--url URL] [--messages 1000]

Uses a throw-away SQLite file unless --url points at a PostgreSQL database (its tables are recreated).
Prints enqueue and dispatch rates (messages per second, one SMTP session per batch of OUTBOX_BATCH).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from mail_servers import SmtpCatcher  # noqa: E402

from crm import create_app  # noqa: E402
from crm.core.config import TestConfig  # noqa: E402
from crm.core.extensions import db  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default=None)
    parser.add_argument("--messages", type=int, default=1000)
    args = parser.parse_args()
    url = args.url or "sqlite:///" + str(Path(tempfile.mkdtemp()) / "bench.sqlite3")
    smtp = SmtpCatcher().start()
    config = {k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()}
    config.update(smtp.config(), SQLALCHEMY_DATABASE_URI=url)
    app = create_app(config)
    try:
        with app.app_context():
            db.drop_all()
            db.create_all()
            from notifications.outbox import dispatch_outbox, enqueue_email
            from tickets.demo import seed_reference_data
            from tickets.workflow import create_ticket

            seed_reference_data()
            ticket, _key = create_ticket(subject="Banc d'essai", body="Question", requester_email="a@b.example")
            db.session.commit()
            started = time.perf_counter()
            for i in range(args.messages):
                enqueue_email(
                    dedup_key=f"bench:{i}",
                    kind="ack",
                    recipient=f"r{i}@bench.example",
                    template="tickets/mail/ack",
                    ticket=ticket,
                    link="http://localhost/x",
                    due="lundi",
                )
            db.session.commit()
            enqueued = time.perf_counter() - started
            started = time.perf_counter()
            result = dispatch_outbox()
            dispatched = time.perf_counter() - started
            assert result.sent == args.messages + 1, result
            db.drop_all()
    finally:
        smtp.stop()
    backend = url.split(":", 1)[0]
    print(
        f"| {backend} | {args.messages} | {args.messages / enqueued:.0f} msg/s | "
        f"{(args.messages + 1) / dispatched:.0f} msg/s |"
    )


if __name__ == "__main__":
    main()
