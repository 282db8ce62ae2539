"""Demo call documents: the AAPG 2026 rules (Markdown) and its calendar (HTML), written for the demo."""

from __future__ import annotations

from datetime import date

from knowledge_base.demo import DATA_DIR
from knowledge_base.documents.services import upload_document

DOCUMENTS = (
    ("Règlement de l'appel AAPG 2026 (extraits)", "aapg-2026-reglement.md"),
    ("Calendrier et modalités de dépôt de l'AAPG 2026", "aapg-2026-calendrier.html"),
)


def seed(context: dict) -> None:
    """Upload the demo documents as the demo référent, in force until the end of 2027."""
    author = context.get("users", {}).get("referent")
    for title, name in DOCUMENTS:
        path = DATA_DIR / "documents" / name
        upload_document(title=title, filename=name, content=path.read_bytes(), author=author, call_code="AAPG-2026",
                        valid_from=date(2025, 7, 1), valid_until=date(2027, 12, 31))
