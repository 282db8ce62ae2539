"""In-app notifications, e-mail preferences (immediate or daily digest) and the digest itself."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app

from crm.core.database import dialect_insert
from crm.core.extensions import db, utcnow
from crm.core.models import User
from notifications.models import DeliveryMode, Notification, NotificationPreference
from notifications.outbox import batch as outbox_batch
from notifications.outbox import enqueue_email


def delivery_mode(user: User) -> str:
    """The user's choice for non-urgent e-mails (immediate by default)."""
    preference = db.session.get(NotificationPreference, user.id)
    return preference.mode if preference else DeliveryMode.IMMEDIATE


def set_delivery_mode(user: User, mode: str) -> None:
    """Record the user's choice: immediate e-mails or a daily digest."""
    if mode not in set(DeliveryMode):
        raise ValueError(f"unknown delivery mode {mode!r}")
    preference = db.session.get(NotificationPreference, user.id)
    if preference is None:
        db.session.add(NotificationPreference(user_id=user.id, mode=mode))
    else:
        preference.mode = mode
    db.session.flush()


def notification_link(notification: Notification | int) -> str:
    """The absolute link of a notification (or of its id): it marks it read and opens what it is about."""
    number = notification if isinstance(notification, int) else notification.id
    return f"{current_app.config['BASE_URL'].rstrip('/')}/notifications/{number}"


#: session.info key: the notifications a batch (see :func:`batch`) holds until it ends
PENDING_NOTICES = "notifications.pending"


@contextmanager
def batch() -> Iterator[None]:
    """Notifications and e-mails made inside are written at the end in at most four statements whatever the
    number of recipients: the delivery choices of the recipients, the notifications (one multi-row insert), then
    the outbox rows with the other e-mails of the batch (one more). notify_user() returns None inside."""
    if PENDING_NOTICES in db.session.info:
        yield
        return
    db.session.info[PENDING_NOTICES] = {}
    try:
        with outbox_batch():
            yield
            _write_notices(list(db.session.info[PENDING_NOTICES].values()))
    finally:
        db.session.info.pop(PENDING_NOTICES, None)


def _write_notices(items: list[dict]) -> None:
    if not items:
        return
    casual = sorted({item["user"].id for item in items if not item["urgent"]})
    modes = dict(db.session.execute(
        sa.select(NotificationPreference.user_id, NotificationPreference.mode)
        .where(NotificationPreference.user_id.in_(casual))
    ).all()) if casual else {}
    now = utcnow()
    for item in items:
        mode = modes.get(item["user"].id, DeliveryMode.IMMEDIATE)
        item["digest"] = not item["urgent"] and mode == DeliveryMode.DIGEST
    table = Notification.__table__
    # An executemany: SQLAlchemy sends it as one multi-row INSERT (up to a thousand rows) from a statement
    # compiled once and cached; .values([...]) would compile one bound parameter per value every time.
    rows = db.session.execute(
        dialect_insert(table).on_conflict_do_nothing(index_elements=["dedup_key"])
        .returning(table.c.id, table.c.dedup_key),
        [dict(dedup_key=i["dedup_key"], user_id=i["user"].id, kind=i["kind"], ticket_id=i["thread_id"],
              title=i["title"][:300], body=i["body"], url=i["url"][:500], urgent=i["urgent"],
              digest_pending=i["digest"], created_at=now)
         for i in items],
    ).all()
    ids = {key: number for number, key in rows}
    for item in items:
        if item["dedup_key"] in ids and not item["digest"]:
            _email_notice(item, ids[item["dedup_key"]])


def _email_notice(item: dict, notification_id: int) -> None:
    user = item["user"]
    enqueue_email(dedup_key=f"notice:{item['dedup_key']}", kind=item["kind"], recipient=user.email,
                  template="notifications/mail/staff_notice", locale=user.locale, user=user,
                  thread_id=item["thread_id"], subject_prefix=item["subject_prefix"], not_before=item["not_before"],
                  title=item["title"], body=item["body"], link=notification_link(notification_id),
                  urgent=item["urgent"], **item["context"])


def notify_user(user: User | None, *, kind: str, dedup_key: str, title: str, body: str = "", url: str = "",
                thread_id: int | None = None, subject_prefix: str = "", urgent: bool = False,
                not_before: datetime | None = None, **context) -> Notification | None:
    """Notify a staff member in the app, and by e-mail now (urgent or immediate choice) or in the digest.

    ``url`` is the page the notification opens (a path of this application); ``thread_id`` and
    ``subject_prefix`` thread the e-mail (see enqueue_email); ``context`` goes to the e-mail template.
    Idempotent: a second call with the same dedup key does nothing and returns None.
    """
    if user is None or not user.active:
        return None
    pending = db.session.info.get(PENDING_NOTICES)
    if pending is not None:
        pending.setdefault(dedup_key[:255], dict(
            user=user, kind=kind, dedup_key=dedup_key[:255], title=title, body=body, url=url, thread_id=thread_id,
            subject_prefix=subject_prefix, urgent=urgent, not_before=not_before, context=context))
        return None
    now = utcnow()
    notification = db.session.scalar(  # RETURNING gives the row without reading it again
        dialect_insert(Notification).values(
            dedup_key=dedup_key[:255], user_id=user.id, kind=kind, ticket_id=thread_id,
            title=title[:300], body=body, url=url[:500], urgent=urgent, digest_pending=False, created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["dedup_key"])
        .returning(Notification)
    )
    if notification is None:
        return None
    if urgent or delivery_mode(user) == DeliveryMode.IMMEDIATE:
        _email_notice(dict(user=user, kind=kind, dedup_key=dedup_key, title=title, body=body,
                           thread_id=thread_id, subject_prefix=subject_prefix, urgent=urgent,
                           not_before=not_before, context=context), notification.id)
    else:
        notification.digest_pending = True
    return notification


def unread_count(user: User) -> int:
    """How many notifications the user has not read."""
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
    ) or 0


def notifications_of(user: User, *, unread_only: bool = False):
    """The user's notifications, newest first (a query to paginate)."""
    query = sa.select(Notification).where(Notification.user_id == user.id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    return query.order_by(Notification.id.desc())


def mark_read(user: User, notification_id: int | None = None) -> int:
    """Mark one (or every) notification of the user as read; returns how many changed."""
    statement = (
        sa.update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if notification_id is not None:
        statement = statement.where(Notification.id == notification_id)
    return db.session.execute(statement).rowcount


def send_digests(now: datetime | None = None) -> int:
    """One e-mail per user gathering their pending non-urgent notifications; returns how many were written."""
    now = now or utcnow()
    local_day = now.astimezone(ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])).date()
    user_ids = db.session.scalars(
        sa.select(Notification.user_id).where(Notification.digest_pending.is_(True)).distinct()
    ).all()
    written = 0
    for user_id in user_ids:
        user = db.session.get(User, user_id)
        items = db.session.scalars(
            sa.select(Notification)
            .where(Notification.user_id == user_id, Notification.digest_pending.is_(True))
            .order_by(Notification.id)
        ).all()
        if user is not None and user.active and items:
            row = enqueue_email(
                dedup_key=f"digest:{user_id}:{local_day.isoformat()}:{items[-1].id}", kind="digest",
                recipient=user.email, template="notifications/mail/digest", locale=user.locale, user=user,
                items=[(n, notification_link(n)) for n in items], day=local_day,
            )
            written += row is not None
        for item in items:
            item.digest_pending = False
    db.session.flush()
    return written
