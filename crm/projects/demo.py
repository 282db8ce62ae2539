"""Demo calls for proposals: the calls of the demo projects and knowledge base, and calls they do not cover."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from crm.core.extensions import db
from crm.projects.models import Call, CallState

_GENERIC = {"acronyms": ["AAPG"], "aliases": ["appel générique", "appel à projets générique"]}
_JCJC = {"acronyms": ["JCJC"], "aliases": ["jeunes chercheuses et jeunes chercheurs", "jeunes chercheurs"]}
_PRCE = {"acronyms": ["PRCE"], "aliases": ["projet de recherche collaborative entreprise"]}
#: code → (name, year, opens on, closes on, state, acronyms and aliases)
CALLS = {
    "AAPG-2023": ("Appel à projets générique 2023", 2023, date(2022, 7, 1), date(2023, 4, 6), CallState.CLOSED,
                  _GENERIC),
    "AAPG-2024": ("Appel à projets générique 2024", 2024, date(2023, 7, 1), date(2024, 4, 4), CallState.CLOSED,
                  _GENERIC),
    "AAPG-2025": ("Appel à projets générique 2025", 2025, date(2024, 7, 1), date(2025, 4, 3), CallState.CLOSED,
                  _GENERIC),
    "AAPG-2026": ("Appel à projets générique 2026", 2026, date(2026, 7, 1), date(2027, 4, 1), CallState.OPEN,
                  _GENERIC),
    "AAPG-2027": ("Appel à projets générique 2027", 2027, date(2027, 10, 1), None, CallState.UPCOMING, _GENERIC),
    "JCJC-2024": ("Jeunes chercheuses et jeunes chercheurs 2024", 2024, date(2023, 7, 1), date(2024, 4, 4),
                  CallState.CLOSED, _JCJC),
    "JCJC-2026": ("Jeunes chercheuses et jeunes chercheurs 2026", 2026, date(2026, 7, 1), date(2027, 4, 1),
                  CallState.OPEN, _JCJC),
    "PRCE-2025": ("Projets de recherche collaborative – entreprise 2025", 2025, date(2024, 7, 1), date(2025, 4, 3),
                  CallState.CLOSED, _PRCE),
    "PRCE-2026": ("Projets de recherche collaborative – entreprise 2026", 2026, date(2026, 7, 1), date(2027, 4, 1),
                  CallState.OPEN, _PRCE),
    "ETER-2026": ("Extensions territoriales 2026", 2026, date(2026, 10, 15), date(2027, 1, 28), CallState.OPEN,
                  {"acronyms": ["ETER"], "aliases": ["extensions territoriales", "extension territoriale"]}),
    "MRSEI-2026": ("Montage de réseaux scientifiques européens ou internationaux 2026", 2026, date(2026, 9, 15),
                   date(2027, 3, 11), CallState.OPEN,
                   {"acronyms": ["MRSEI"], "aliases": ["montage de réseaux scientifiques"]}),
    "LABCOM-2026": ("Laboratoires communs organismes de recherche – PME 2026", 2026, date(2026, 5, 1),
                    date(2026, 11, 5), CallState.CLOSED,
                    {"acronyms": ["LabCom"], "aliases": ["laboratoire commun", "laboratoires communs"]}),
}


def seed(context: dict) -> None:
    """Create the demo calls that do not exist yet (idempotent)."""
    existing = set(db.session.scalars(sa.select(Call.code)))
    for code, (name, year, opens_on, closes_on, state, names) in CALLS.items():
        if code not in existing:
            db.session.add(Call(code=code, name=name, year=year, opens_on=opens_on, closes_on=closes_on,
                                state=state, acronyms=list(names["acronyms"]), aliases=list(names["aliases"])))
    db.session.flush()
    context["calls"] = list(CALLS)
