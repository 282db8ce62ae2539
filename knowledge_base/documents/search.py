"""Passages as the matcher sees them, and what a search returns about one (read from the index, no query)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from crm.core.extensions import db
from knowledge_base.documents.models import CallDocument, DocumentPassage, DocumentVersion
from knowledge_base.documents.services import offered_passages_query
from knowledge_base.matcher import Entry, Match
from knowledge_base.text import call_key

#: Entry ids of passages start with this (they live in an index of their own, apart from the articles').
PREFIX = "passage:"


@dataclass(frozen=True, slots=True)
class PassageMatch:
    """A passage found for a question, with what quoting it needs (document, version, page, link anchor)."""

    passage_id: int
    position: int
    text: str
    heading_path: tuple[str, ...]
    page: int | None
    document_slug: str
    document_title: str
    version: int
    call_code: str | None
    valid_until: date | None
    confidence: float
    score: float

    @property
    def anchor(self) -> str:
        return f"passage-{self.position}"


def passage_question(title: str, heading_path) -> str:
    """A passage's question for the matcher (and its semantic vector): the document title, then its headings."""
    return " › ".join([title, *(heading_path or ())])


def passage_entry(passage: DocumentPassage, document: CallDocument, number: int) -> Entry:
    """The matcher's view of a passage: the document title and headings as its question, the text as its answer."""
    return Entry(
        id=f"{PREFIX}{passage.id}",
        question=passage_question(document.title, passage.heading_path),
        answer=passage.text,
        meta={"passage_id": passage.id, "position": passage.position, "page": passage.page,
              "heading_path": tuple(passage.heading_path or ()), "slug": document.slug, "title": document.title,
              "version": number, "call": document.call_code, "valid_from": document.valid_from,
              "valid_until": document.valid_until},
    )


def offered_passage_entries(day: date) -> list[Entry]:
    """The entries of the passages offered on ``day`` (current versions of the documents valid that day)."""
    return [passage_entry(p, d, n) for p, d, n in db.session.execute(offered_passages_query(day))]


def unexpired_passage_texts(day: date, connection) -> list[tuple[str, str]]:
    """(question, text) of every passage of the current version of a document not expired on ``day`` (valid from a
    later day included, so that its vectors are ready when it is offered): what the ``kb_embeddings`` job embeds."""
    statement = (sa.select(CallDocument.title, DocumentPassage.heading_path, DocumentPassage.text)
                 .join(DocumentVersion, DocumentPassage.version_id == DocumentVersion.id)
                 .join(CallDocument, DocumentVersion.document_id == CallDocument.id)
                 .where(DocumentVersion.number == CallDocument.current_number,
                        sa.or_(CallDocument.valid_until.is_(None), CallDocument.valid_until >= day)))
    return [(passage_question(title, headings), text or "") for title, headings, text in connection.execute(statement)]


def passage_match(entry: Entry, match: Match, *, day: date, call: str | None) -> PassageMatch | None:
    """The result for a passage entry, or None when its document is not valid on ``day`` or is about another call."""
    meta = entry.meta
    if (meta["valid_from"] and meta["valid_from"] > day) or (meta["valid_until"] and meta["valid_until"] < day):
        return None
    if call and meta["call"] and call_key(call) != call_key(meta["call"]):
        return None
    return PassageMatch(passage_id=meta["passage_id"], text=entry.answer, heading_path=meta["heading_path"],
                        page=meta["page"], document_slug=meta["slug"], document_title=meta["title"],
                        version=meta["version"], call_code=meta["call"], valid_until=meta["valid_until"],
                        confidence=float(match.confidence), score=float(match.score), position=meta["position"])
