"""The change log of configuration: every edit recorded with who, when and the fields' before and after values."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import sqlalchemy as sa

from crm.core.extensions import db, utcnow
from crm.core.models import ChangeRecord, User


def diff(before: Mapping, after: Mapping) -> dict[str, list]:
    """{field: [before, after]} for every field whose value differs (a missing field counts as None)."""
    return {key: [before.get(key), after.get(key)] for key in sorted(set(before) | set(after))
            if before.get(key) != after.get(key)}


def record_change(object_type: str, object_id: int, action: str, *, by: User | None,
                  before: Mapping | None = None, after: Mapping | None = None, comment: str = "",
                  at: datetime | None = None) -> ChangeRecord | None:
    """Append one change; an update that changes nothing is not recorded (None)."""
    changes = diff(before or {}, after or {})
    if action == "updated" and not changes and not comment:
        return None
    record = ChangeRecord(object_type=object_type, object_id=object_id, action=action,
                          actor_id=by.id if by is not None else None, changes=changes,
                          comment=comment[:300], created_at=at or utcnow())
    db.session.add(record)
    return record


def history(object_type: str, object_id: int, limit: int = 200) -> list[ChangeRecord]:
    """The object's changes, newest first."""
    return list(db.session.scalars(
        sa.select(ChangeRecord).where(ChangeRecord.object_type == object_type, ChangeRecord.object_id == object_id)
        .order_by(ChangeRecord.created_at.desc(), ChangeRecord.id.desc()).limit(limit)
    ))
