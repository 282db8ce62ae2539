"""The transactional outbox: enqueue e-mails in the caller's transaction, dispatch them after commit.

Delivery is at-least-once towards the SMTP server and exactly-once per dedup key in the outbox: a row
is claimed (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, a conditional update everywhere) before it is
sent, so two dispatchers never take the same row. Only a process that dies between the SMTP
acknowledgement and the commit of ``sent`` can cause a second delivery (same Message-ID) once the
claim goes stale (OUTBOX_SENDING_TIMEOUT_SECONDS).
"""

from __future__ import annotations

import logging
import smtplib
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import Flask, current_app

from crm.core.database import dialect_insert
from crm.core.extensions import db, utcnow
from notifications.emails import build_message, mail_locale, new_message_id, render_email
from notifications.models import OutboxMessage, OutboxStatus
from notifications.smtp import PermanentError, SmtpTransport, TransientError

log = logging.getLogger(__name__)


#: session.info key: {thread id: {recipient: Message-ID of the thread's first mail to them}} for the threads
#: started in the current transaction (cleared when it ends, see notifications.worker).
FRESH_THREADS = "outbox.fresh_threads"


def start_thread(thread_id: int) -> None:
    """Declare a thread that has no mail before this transaction (a ticket just created): until the transaction
    ends, the first mail of the thread to each recipient is known here and is not looked up."""
    db.session.info.setdefault(FRESH_THREADS, {})[thread_id] = {}


def end_threads(session) -> None:
    """Forget the threads started in a transaction that ended (commit or rollback)."""
    session.info.pop(FRESH_THREADS, None)


def thread_headers(thread_id: int, recipient: str, known: list[str] | tuple[str, ...] = ()) -> tuple[str | None, str]:
    """(In-Reply-To, References): the caller's known Message-IDs, then the first mail of the thread to recipient."""
    ids = [i for i in known if i]
    fresh = db.session.info.get(FRESH_THREADS, {}).get(thread_id)
    if fresh is not None:
        first_out = fresh.get(recipient)
    else:
        first_out = db.session.scalar(
            sa.select(OutboxMessage.message_id)
            .where(OutboxMessage.ticket_id == thread_id, OutboxMessage.recipient == recipient)
            .order_by(OutboxMessage.id).limit(1)
        )
    if first_out and first_out not in ids:
        ids.append(first_out)
    return (ids[-1] if ids else None), " ".join(ids)


def _first_mail(thread_id: int, recipient: str):
    """The first mail of the thread to recipient, as a scalar subquery (NULL if none)."""
    return (sa.select(OutboxMessage.message_id)
            .where(OutboxMessage.ticket_id == thread_id, OutboxMessage.recipient == recipient)
            .order_by(OutboxMessage.id).limit(1).scalar_subquery())


def _thread_headers_in_sql(thread_id: int, recipient: str, known: list) -> tuple:
    """(In-Reply-To, References) as SQL expressions of the row's own INSERT, as thread_headers() computes them,
    so that a single mail costs no read for its thread (issue 9): the caller's known Message-IDs (strings, then
    at most one SQL expression, which may be NULL), then the first mail of the thread to recipient."""
    texts = [i for i in known if isinstance(i, str) and i]
    queries = [i for i in known if isinstance(i, sa.ColumnElement)]
    pieces = []  # nullable SQL parts after the known texts, each NULL when absent or already in the list
    for query in [*queries, _first_mail(thread_id, recipient)]:
        repeated = [query.in_(texts)] if texts else []
        repeated += [query == earlier for earlier in pieces]
        pieces.append(sa.case((sa.or_(query.is_(None), *repeated), sa.null()), else_=query)
                      if repeated else query)
    in_reply_to = sa.func.coalesce(*reversed(pieces), sa.literal(texts[-1]) if texts else sa.null())
    references = sa.literal(" ".join(texts), sa.String)
    for piece in pieces:
        references = references + sa.case(
            (piece.is_(None), sa.literal("")), (references == "", piece), else_=sa.literal(" ") + piece)
    return in_reply_to, references


def resolve_thread_refs(known) -> list[str]:
    """The caller's known Message-IDs as strings: a SQL expression among them is read (one statement each)."""
    return [db.session.scalar(sa.select(i)) if isinstance(i, sa.ColumnElement) else i for i in known]


#: The PostgreSQL channel on which a commit that wrote e-mails wakes `guichet outbox worker`.
CHANNEL = "guichet_outbox"

#: session.info key: the outbox rows a batch (see :func:`batch`) holds until it ends
PENDING_ROWS = "outbox.pending_rows"
#: session.info key: {dedup key: Message-IDs the caller knows} for the rows of a batch whose thread is looked up
#: at its end (threads not started in the transaction), all in one statement
PENDING_THREADS = "outbox.pending_threads"


@contextmanager
def batch() -> Iterator[None]:
    """Write the e-mails enqueued inside in one multi-row statement at the end (a submission's, say, or a batch
    of SLA steps).

    enqueue_email() then returns None (the row is not read back); the dedup keys still apply (ON CONFLICT DO
    NOTHING), repeated keys inside the batch included. The threading headers of mails continuing an existing
    thread are found at the end too, for every row in one statement: a mail threads on the first mail of its
    thread to the same recipient, written before or earlier in the batch. Nested batches join the outer one."""
    if PENDING_ROWS in db.session.info:
        yield
        return
    db.session.info[PENDING_ROWS] = {}
    db.session.info[PENDING_THREADS] = {}
    try:
        yield
        rows = db.session.info[PENDING_ROWS]
        if rows:
            _thread_rows(rows, db.session.info[PENDING_THREADS])
            _insert_rows(list(rows.values()))
    finally:
        db.session.info.pop(PENDING_ROWS, None)
        db.session.info.pop(PENDING_THREADS, None)


def _thread_rows(rows: dict[str, dict], known: dict[str, list[str]]) -> None:
    """Set In-Reply-To and References of the batch's rows waiting for their thread (``known``), as
    thread_headers() would have one by one: one read of the first mail to each (thread, recipient) pair."""
    first: dict[tuple[int, str], str] = {}
    waiting = [rows[key] for key in known]
    if waiting:
        threads = sorted({r["ticket_id"] for r in waiting})
        recipients = sorted({r["recipient"] for r in waiting})
        earliest = (
            sa.select(sa.func.min(OutboxMessage.id))
            .where(OutboxMessage.ticket_id.in_(threads), OutboxMessage.recipient.in_(recipients))
            .group_by(OutboxMessage.ticket_id, OutboxMessage.recipient)
        )
        for thread_id, recipient, message_id in db.session.execute(
            sa.select(OutboxMessage.ticket_id, OutboxMessage.recipient, OutboxMessage.message_id)
            .where(OutboxMessage.id.in_(earliest))
        ):
            first[(thread_id, recipient)] = message_id
    for key, values in rows.items():  # in the order they were enqueued
        pair = (values["ticket_id"], values["recipient"])
        if key in known:
            ids = list(known[key])
            if pair in first and first[pair] not in ids:
                ids.append(first[pair])
            values["in_reply_to"], values["references"] = (ids[-1] if ids else None), " ".join(ids)
        if values["ticket_id"] is not None:
            first.setdefault(pair, values["message_id"])


#: Above this many rows a batch is inserted as an executemany (SQLAlchemy's "insertmanyvalues": the rows sent as
#: multi-row VALUES pages of up to a thousand) and the commit hook sends the NOTIFY; up to this many, the NOTIFY
#: rides on the insert itself (a CTE), in a statement of one bound parameter per row and column.
MANY_ROWS = 20

#: the notifying statements of _insert_rows, by (columns, number of rows): built once per process, so that a
#: submission neither builds nor compiles its e-mail's INSERT again (literal values made each batch a statement
#: of its own, compiled afresh)
_NOTIFYING: dict[tuple[tuple[str, ...], int], sa.Select] = {}


def _notifying_insert(columns: tuple[str, ...], rows: int) -> sa.Select:
    """INSERT … ON CONFLICT DO NOTHING of ``rows`` rows whose written ids, if any, send the NOTIFY (PostgreSQL)."""
    statement = _NOTIFYING.get((columns, rows))
    if statement is None:
        from sqlalchemy.dialects.postgresql import insert

        table = OutboxMessage.__table__
        written = insert(table).values([
            {c: sa.bindparam(f"{c}_{i}", type_=table.c[c].type) for c in columns} for i in range(rows)
        ]).on_conflict_do_nothing(index_elements=["dedup_key"]).returning(table.c.id).cte("written")
        statement = sa.select(sa.func.pg_notify(CHANNEL, "")).where(sa.exists(sa.select(written.c.id)))
        _NOTIFYING[(columns, rows)] = statement
    return statement


def _insert_rows(rows: list[dict]) -> None:
    """One insert of the rows; on PostgreSQL with the outbox kick on, the same statement sends the NOTIFY that
    wakes the outbox worker (delivered at commit, like the one the commit hook sends): no statement of its own.
    Otherwise, and for a large batch (MANY_ROWS), an executemany of the plain INSERT, still one statement up to a
    thousand rows (compiled once: the values are parameters)."""
    table = OutboxMessage.__table__
    if (len(rows) <= MANY_ROWS and db.session.get_bind().dialect.name == "postgresql"
            and current_app.config["OUTBOX_KICK_AFTER_COMMIT"]):
        columns = tuple(rows[0])
        db.session.execute(_notifying_insert(columns, len(rows)),
                           {f"{c}_{i}": row[c] for i, row in enumerate(rows) for c in columns})
        return
    written = db.session.execute(
        dialect_insert(table).on_conflict_do_nothing(index_elements=["dedup_key"]).returning(table.c.id), rows
    ).all()
    if written:
        db.session.info["outbox_kick"] = True


def enqueue_email(*, dedup_key: str, kind: str, recipient: str, template: str, locale: str | None = "fr",
                  user=None, thread_id: int | None = None, subject_prefix: str = "",
                  thread_refs: list | tuple = (), not_before: datetime | None = None,
                  message_id: str | None = None, reply_to: str | None = None, **context) -> OutboxMessage | None:
    """Write an e-mail to the outbox in the current transaction; None when its dedup key already exists
    (and inside a :func:`batch`, where the row is written at the end).

    ``template`` is the path of the templates without locale and extension ("tickets/mail/ack"); a mail of a
    thread (``thread_id``, e.g. a ticket) is prefixed with ``subject_prefix`` and threaded on ``thread_refs``
    (Message-IDs the caller knows, e.g. the requester's own e-mail; one of them may be a scalar SQL expression,
    NULL for none, so that it is read by the row's own INSERT) and on the first mail of the thread to the same
    recipient, found by the INSERT too when the row is written alone (no read before it).
    ``reply_to``: the Reply-To address (a thread's tagged intake address), None for none.
    """
    recipient = (recipient or "").strip()
    if not recipient:
        return None
    dedup_key = dedup_key[:255]
    locale = mail_locale(locale)
    subject, text, html = render_email(template, locale, user=user, **context)
    pending = db.session.info.get(PENDING_ROWS)
    in_reply_to, references, deferred = None, "", None
    if thread_id is not None:
        subject = f"{subject_prefix}{subject}"
        fresh_thread = thread_id in db.session.info.get(FRESH_THREADS, {})
        if pending is None and not fresh_thread:  # one row: its thread is found by its own INSERT
            in_reply_to, references = _thread_headers_in_sql(thread_id, recipient, list(thread_refs))
        elif pending is not None and not fresh_thread:
            # looked up with the batch's other rows, at its end
            deferred = [i for i in resolve_thread_refs(thread_refs) if i]
        else:
            in_reply_to, references = thread_headers(thread_id, recipient, resolve_thread_refs(thread_refs))
    elif thread_refs:
        thread_refs = resolve_thread_refs(thread_refs)
    now = utcnow()
    values = dict(
        dedup_key=dedup_key, kind=kind, ticket_id=thread_id,
        recipient=recipient, recipient_user_id=user.id if user is not None else None, locale=locale,
        subject=subject[:300], body_text=text, body_html=html, message_id=message_id or new_message_id(),
        in_reply_to=in_reply_to, references=references, reply_to=reply_to, status=OutboxStatus.PENDING, attempts=0,
        next_attempt_at=max(not_before or now, now), created_at=now, last_error="", claim_token=None,
        claimed_at=None, sent_at=None,
    )
    if pending is not None:
        if dedup_key in pending:
            return None
        pending[dedup_key] = values
        if deferred is not None:
            db.session.info[PENDING_THREADS][dedup_key] = deferred
        message_id = values["message_id"]
    else:
        statement = (  # ON CONFLICT DO NOTHING is the dedup; RETURNING gives the row without reading it again
            dialect_insert(OutboxMessage).values(**values)
            .on_conflict_do_nothing(index_elements=["dedup_key"])
            .returning(OutboxMessage)
        )
        # the row points at rows already written (a thread has an id, a recipient user too unless just created):
        # no need to flush the change being made, which is then written once (a ticket's SLA columns with it)
        written = user is None or sa.inspect(user).has_identity
        with db.session.no_autoflush if written else nullcontext():
            row = db.session.scalar(statement)
        if row is None:
            return None
        message_id = row.message_id
    fresh = db.session.info.get(FRESH_THREADS, {}).get(thread_id)
    if fresh is not None:
        fresh.setdefault(recipient, message_id)
    if pending is not None:
        return None
    db.session.info["outbox_kick"] = True
    return row


@dataclass
class DispatchResult:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0

    def __str__(self) -> str:
        text = f"{self.sent} envoyé(s), {self.retried} à réessayer, {self.failed} en échec"
        return text + (f", {self.skipped} périmé(s) non envoyé(s)" if self.skipped else "")


#: app.extensions key: {kind: check(rows) -> {row id: reason}} (see register_stale_check)
STALE_CHECKS = "guichet.outbox_stale_checks"

StaleCheck = Callable[[list[OutboxMessage]], dict[int, str]]


def register_stale_check(app: Flask, kind: str, check: StaleCheck) -> None:
    """Let a domain say, when their turn comes, which of its e-mails of ``kind`` are stale and why.

    ``check`` gets the claimed rows of that kind (in one call per batch, so that it reads what it needs once) and
    returns {row id: reason} for those not to send; the reason is a French msgid, shown translated on the outbox
    page. A ticket's "résolue" e-mail, say, is stale once the ticket was reopened (tickets.emails)."""
    app.extensions.setdefault(STALE_CHECKS, {})[kind] = check


def _stale_reasons(rows: list[OutboxMessage]) -> dict[int, str]:
    checks = current_app.extensions.get(STALE_CHECKS, {})
    reasons: dict[int, str] = {}
    for kind in sorted({r.kind for r in rows} & checks.keys()):
        reasons.update(checks[kind]([r for r in rows if r.kind == kind]))
    return reasons


def backoff(attempts: int) -> timedelta:
    """Exponential delay before attempt n+1: base × 2^(n-1), capped."""
    config = current_app.config
    seconds = config["OUTBOX_BACKOFF_SECONDS"] * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, config["OUTBOX_BACKOFF_MAX_SECONDS"]))


def _release_stale(now: datetime) -> None:
    """Claims older than the sending timeout belong to a dead dispatcher: put them back in the queue."""
    limit = now - timedelta(seconds=current_app.config["OUTBOX_SENDING_TIMEOUT_SECONDS"])
    db.session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.SENDING, OutboxMessage.claimed_at < limit)
        .values(status=OutboxStatus.PENDING, claim_token=None, last_error="envoi interrompu, nouvel essai")
        .execution_options(synchronize_session=False)
    )


def _waits_for_earlier(now: datetime):
    """The row has an earlier mail of its thread to the same recipient still on its way (being sent, due, or
    coming back after a failed attempt): it goes after it, so that a thread's mails arrive in the order they
    were written. An earlier mail deliberately held back (``not_before``, never tried) does not hold it."""
    earlier = sa.orm.aliased(OutboxMessage)
    return sa.exists(
        sa.select(earlier.id).where(
            earlier.ticket_id == OutboxMessage.ticket_id, earlier.recipient == OutboxMessage.recipient,
            earlier.id < OutboxMessage.id,
            sa.or_(earlier.status == OutboxStatus.SENDING,
                   sa.and_(earlier.status == OutboxStatus.PENDING,
                           sa.or_(earlier.attempts > 0, earlier.next_attempt_at <= now))),
        )
    )


def claim_batch(now: datetime, batch: int) -> list[OutboxMessage]:
    """Take due pending rows for this dispatcher; rows another dispatcher holds are skipped, and so is a row
    whose thread has an earlier mail to the same recipient still to send (it comes in a later round)."""
    query = (
        sa.select(OutboxMessage.id)
        .where(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at <= now,
               ~_waits_for_earlier(now))
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(batch)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = db.session.scalars(query).all()
    if not ids:
        return []
    token = uuid.uuid4().hex
    db.session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), OutboxMessage.status == OutboxStatus.PENDING)
        .values(status=OutboxStatus.SENDING, claim_token=token, claimed_at=now,
                attempts=OutboxMessage.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    rows = db.session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.claim_token == token).order_by(OutboxMessage.id)
        .execution_options(populate_existing=True)
    ).all()
    return list(rows)


def _retry_or_fail(row: OutboxMessage, error: str, now: datetime, result: DispatchResult, permanent=False) -> None:
    row.claim_token = None
    row.last_error = error[:2000]
    if permanent or row.attempts >= current_app.config["OUTBOX_MAX_ATTEMPTS"]:
        row.status = OutboxStatus.FAILED
        result.failed += 1
        log.warning("outbox %s failed for good: %s", row.id, error)
    else:
        row.status = OutboxStatus.PENDING
        row.next_attempt_at = now + backoff(row.attempts)
        result.retried += 1


class _SmtpSession:
    """The dispatch run's SMTP connection: opened at the first mail to send, kept for the run's later rounds
    (a thread's next mail comes in the next round), closed at the end or dropped after a connection error."""

    def __init__(self, config) -> None:
        self.config = config
        self.transport: SmtpTransport | None = None

    def get(self) -> SmtpTransport:
        if self.transport is None:
            self.transport = SmtpTransport(self.config).__enter__()
        return self.transport

    def drop(self) -> None:
        """Forget a connection that failed (closed without QUIT); the next round opens a new one."""
        if self.transport is not None and self.transport.client is not None:
            self.transport.client.close()
        self.transport = None

    def close(self) -> None:
        if self.transport is not None:
            self.transport.__exit__(None, None, None)
            self.transport = None


def dispatch_outbox(now: datetime | None = None, *, batch: int | None = None) -> DispatchResult:
    """Send due outbox rows over SMTP, each thread's in order, over one connection per run; commits after each
    row (a job-level function, not a service). Rounds go on until nothing is left to claim."""
    now = now or utcnow()
    batch = batch or current_app.config["OUTBOX_BATCH"]
    result = DispatchResult()
    released = False
    smtp = _SmtpSession(current_app.config)
    try:
        while True:
            try:
                if not released:  # claims a crashed dispatcher left: once per run, every round has the same `now`
                    _release_stale(now)
                    released = True
                rows = claim_batch(now, batch)
                db.session.commit()
            except sa.exc.OperationalError:  # SQLite: another dispatcher holds the write lock
                db.session.rollback()
                return result
            if not rows:
                return result
            _send_rows(rows, now, result, smtp)
            # a round sends at most one mail per thread and recipient: the next round takes those that followed
    finally:
        smtp.close()


def _skip_stale(rows: list[OutboxMessage], result: DispatchResult) -> list[OutboxMessage]:
    """Mark the rows a registered check finds stale as skipped, with its reason; return the others."""
    reasons = _stale_reasons(rows)
    for row in rows:
        if row.id in reasons:
            row.status, row.claim_token, row.last_error = OutboxStatus.SKIPPED, None, reasons[row.id][:2000]
            result.skipped += 1
            log.info("outbox %s not sent: %s", row.id, reasons[row.id])
    if reasons:
        db.session.commit()
    return [row for row in rows if row.id not in reasons]


def _send_rows(rows: list[OutboxMessage], now: datetime, result: DispatchResult, smtp: _SmtpSession) -> None:
    pending = _skip_stale(rows, result)
    if not pending:
        return
    try:
        transport = smtp.get()
        while pending:
            row = pending[0]
            try:
                transport.send(build_message(row))
            except PermanentError as error:  # this message alone fails; the batch goes on
                _retry_or_fail(row, str(error), now, result, permanent=True)
            except TransientError as error:  # this message alone comes back later
                _retry_or_fail(row, str(error), now, result)
            else:
                row.status = OutboxStatus.SENT
                row.sent_at = utcnow()
                row.claim_token = None
                row.last_error = ""
                result.sent += 1
            pending.pop(0)
            db.session.commit()
    except (smtplib.SMTPException, OSError) as error:
        # Connection-level problem: this row and the rest of the batch go back with a delay.
        smtp.drop()
        message = f"{type(error).__name__}: {error}"
        for row in pending:
            _retry_or_fail(row, message, now, result)
        db.session.commit()


def retry_now(row: OutboxMessage) -> None:
    """Put a failed row back in the queue (admin action)."""
    if row.status == OutboxStatus.FAILED:
        row.status = OutboxStatus.PENDING
        row.attempts = 0
        row.next_attempt_at = utcnow()
        row.last_error = ""
