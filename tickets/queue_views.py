"""Views of the agent queue: the built-in ones (tabs) and each staff member's saved ones (filters and sort kept
as the queue's query string, only the known parameters)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

import sqlalchemy as sa

from crm.core.extensions import db
from crm.core.models import User
from tickets.models import SavedQueueView

#: The queue's parameters a view keeps (never the page, nor anything else in the address).
QUERY_KEYS = ("q", "statut", "file", "attribution", "sla", "priorite", "theme", "tri")
#: The built-in views: key -> query arguments, and their labels.
BUILT_IN = {
    "mine": {"attribution": "me"},
    "group": {"attribution": "group"},
    "unassigned": {"attribution": "none"},
    "at_risk": {"sla": "at_risk"},
    "all": {},
}
VIEW_LABELS = {
    "mine": "Mes demandes",
    "group": "Mon groupe",
    "unassigned": "Non attribuées",
    "at_risk": "À risque",
    "all": "Toutes",
}
MAX_VIEWS = 30


def clean_query(pairs) -> dict[str, str]:
    """The known, non-empty queue parameters of (key, value) pairs, in a fixed order."""
    given = {key: str(value)[:200] for key, value in pairs if key in QUERY_KEYS and value}
    return {key: given[key] for key in QUERY_KEYS if key in given}


def query_args(query: str) -> dict[str, str]:
    """The queue arguments stored in a view (or carried back from a confirmation page)."""
    return clean_query(parse_qsl(query or "", keep_blank_values=False))


def current_view(args: dict[str, str], saved: list[SavedQueueView]) -> str | None:
    """Which view the queue shows: a built-in key, "saved-<id>", or None when the filters are someone's own."""
    shown = {k: v for k, v in args.items() if k != "tri"}
    for key, view_args in BUILT_IN.items():
        if shown == view_args:
            return key
    for view in saved:
        if query_args(view.query) == args:
            return f"saved-{view.id}"
    return None


def saved_views(user_id: int) -> list[SavedQueueView]:
    """A staff member's saved views, by name."""
    return list(db.session.scalars(
        sa.select(SavedQueueView).where(SavedQueueView.user_id == user_id).order_by(SavedQueueView.name)
        .limit(MAX_VIEWS)
    ))


def save_view(user: User, name: str, args: dict[str, str]) -> SavedQueueView:
    """Save the filters under a name; a view of the same name is replaced."""
    query = urlencode(clean_query(args.items()))
    view = db.session.scalar(sa.select(SavedQueueView).where(SavedQueueView.user_id == user.id,
                                                             SavedQueueView.name == name))
    if view is None:
        view = SavedQueueView(user_id=user.id, name=name, query=query)
        db.session.add(view)
    else:
        view.query = query
    db.session.flush()
    return view


def delete_view(user: User, view_id: int) -> bool:
    """Delete one of the user's own views; False when they have none with this id."""
    result = db.session.execute(sa.delete(SavedQueueView).where(SavedQueueView.id == view_id,
                                                                SavedQueueView.user_id == user.id))
    return result.rowcount == 1
