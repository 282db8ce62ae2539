"""Real concurrency: agents in threads, each with its own app context and session, claim at the same instant.

On PostgreSQL the conditional UPDATE and `FOR UPDATE SKIP LOCKED` do the work; on SQLite writers are
serialised by the database lock (busy timeout), which gives the same guarantees. Never skipped.
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from crm.core.extensions import db
from crm.core.models import User
from tickets import services
from tickets.models import Ticket, TicketEvent

N_AGENTS = 8
N_TICKETS = 24


def _run_in_threads(app, target, n: int) -> list:
    """Run target(index, barrier) in n threads, each inside its own app context; return results or raise."""
    barrier = threading.Barrier(n, timeout=30)
    results: list = [None] * n
    errors: list = []

    def worker(index: int) -> None:
        with app.app_context():
            try:
                results[index] = target(index, barrier)
            except BaseException as error:  # reported in the main thread
                errors.append(error)
                barrier.abort()
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads), "a claimer is stuck"
    if errors:
        raise errors[0]
    return results


def _detach_reads() -> None:
    """End the read transaction, keeping loaded objects usable, so the claim's UPDATE opens the write.

    SQLite cannot upgrade a read snapshot to a write once another writer has committed (SQLITE_BUSY),
    so the claim must be the first statement of its transaction there; PostgreSQL does not care.
    """
    if db.session.get_bind().dialect.name == "sqlite":
        session = db.session()
        session.expire_on_commit = False
        session.commit()
        session.expire_on_commit = True


@pytest.mark.committed
def test_one_winner_among_simultaneous_claims(app, make_ticket, make_user):
    agent_ids = [make_user("agent").id for _ in range(N_AGENTS)]
    ticket_id = make_ticket().id
    db.session.commit()

    def claim(index: int, barrier: threading.Barrier) -> bool:
        agent = db.session.get(User, agent_ids[index])
        ticket = db.session.get(Ticket, ticket_id)
        _ = agent.name, agent.roles, ticket.status, ticket.reference
        _detach_reads()
        barrier.wait()
        won = services.claim_ticket(ticket, agent)
        db.session.commit()
        return won

    results = _run_in_threads(app, claim, N_AGENTS)
    assert sorted(results) == [False] * (N_AGENTS - 1) + [True]
    winner = agent_ids[results.index(True)]
    db.session.expire_all()
    ticket = db.session.get(Ticket, ticket_id)
    assert ticket.assignee_id == winner
    claims = db.session.scalars(sa.select(TicketEvent).where(TicketEvent.ticket_id == ticket_id,
                                                             TicketEvent.kind == "assignee")).all()
    assert [e.actor_id for e in claims] == [winner]


@pytest.mark.committed
def test_claim_next_gives_each_ticket_to_exactly_one_agent(app, make_ticket, make_user, dialect):
    agent_ids = [make_user("agent").id for _ in range(N_AGENTS)]
    ticket_ids = {make_ticket(subject=f"Demande {i}").id for i in range(N_TICKETS)}
    db.session.commit()

    def work_the_queue(index: int, barrier: threading.Barrier) -> tuple[list[int], int]:
        agent = db.session.get(User, agent_ids[index])
        _ = agent.name, agent.roles
        _detach_reads()
        barrier.wait()
        claimed, retries = [], 0
        while True:
            try:
                ticket = services.claim_next_ticket(agent)
                claimed_id = ticket.id if ticket is not None else None
                db.session.commit()
            except OperationalError:
                # SQLite only: a read snapshot went stale under a concurrent writer; start again.
                assert dialect == "sqlite"
                db.session.rollback()
                retries += 1
                continue
            if claimed_id is None:
                return claimed, retries
            claimed.append(claimed_id)

    results = _run_in_threads(app, work_the_queue, N_AGENTS)
    claimed = [ticket_id for ids, _retries in results for ticket_id in ids]
    assert Counter(claimed).most_common(1)[0][1] == 1, "a ticket was claimed twice"
    assert set(claimed) == ticket_ids
    db.session.expire_all()
    owners = dict(db.session.execute(sa.select(Ticket.id, Ticket.assignee_id)).all())
    for ids, _retries in results:
        assert len({owners[i] for i in ids}) <= 1
    assert all(owner is not None for owner in owners.values())
