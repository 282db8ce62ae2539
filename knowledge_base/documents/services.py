"""Call documents: upload a version (read and split before anything is written), the passages offered, drafts.

An upload is checked and split entirely in memory (knowledge_base.documents.extraction) before the first row is
added, and the version, its passages and the knowledge-base version bump are flushed together: the request
commits them all or nothing. A new upload of a document replaces the passages offered (the older versions stay,
with their passages, for the history); a document outside its validity dates offers none.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from crm.core.extensions import db, utcnow
from crm.core.models import User
from knowledge_base.documents.extraction import DocumentError, read_document
from knowledge_base.documents.models import CallDocument, DocumentPassage, DocumentVersion
from knowledge_base.models import Article
from knowledge_base.services import ArticleError, bump_kb_version, check_call_code, create_article
from knowledge_base.text import fold

__all__ = ["DocumentError", "draft_from_passage", "offered_passages_query", "upload_document"]

TITLE_MAX = 255


def _slug(title: str, call_code: str | None) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", fold(f"{call_code or ''} {title}")).strip("-")[:100] or "document"
    slug, n = base, 1
    while db.session.scalar(sa.select(CallDocument.id).where(CallDocument.slug == slug)) is not None:
        n += 1
        slug = f"{base}-{n}"
    return slug


def _check_facts(title: str, call_code: str | None, valid_from: date | None,
                 valid_until: date | None) -> tuple[str, str | None]:
    title = " ".join((title or "").split())
    if not title:
        raise DocumentError(_("Le titre du document est obligatoire."))
    if len(title) > TITLE_MAX:
        raise DocumentError(_("Le titre ne doit pas dépasser %(n)s caractères.", n=TITLE_MAX))
    try:
        code = check_call_code(call_code) if (call_code or "").strip() else None
    except ArticleError as error:
        raise DocumentError(str(error)) from None
    if valid_from and valid_until and valid_until < valid_from:
        raise DocumentError(_("La fin de validité précède son début."))
    return title, code


def upload_document(*, title: str, filename: str, content: bytes, author: User | None, call_code: str | None = None,
                    valid_from: date | None = None, valid_until: date | None = None,
                    document: CallDocument | None = None) -> DocumentVersion:
    """Add a version of a document (a new document unless ``document``, or one with the same call and title, is
    given) with its passages; raise DocumentError, with nothing written, when the file is refused."""
    limit = int(current_app.config["KB_DOCUMENT_MAX_BYTES"])
    if len(content) > limit:
        size = f"{limit / 1048576:g} Mo" if limit >= 1048576 else f"{limit // 1024} Ko"
        raise DocumentError(_("Le fichier dépasse la taille maximale de %(size)s.", size=size))
    title, code = _check_facts(title, call_code, valid_from, valid_until)
    filename = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()[:255] or "document"
    kind, passages = read_document(filename, content)  # nothing is added before the file is known to be good
    digest = hashlib.sha256(content).hexdigest()
    if document is None:
        document = db.session.scalar(sa.select(CallDocument).where(
            CallDocument.title == title, CallDocument.call_code.is_(None) if code is None
            else CallDocument.call_code == code))
    elif db.session.scalar(sa.select(CallDocument.id).where(
            CallDocument.id != document.id, CallDocument.title == title,
            CallDocument.call_code.is_(None) if code is None else CallDocument.call_code == code)) is not None:
        raise DocumentError(_("Un autre document de cet appel porte déjà ce titre."))
    now = utcnow()
    if document is None:
        document = CallDocument(slug=_slug(title, code), title=title, call_code=code, created_by=author,
                                created_at=now, current_number=0)
        db.session.add(document)
    elif (current := document.current_version) is not None and current.sha256 == digest:
        raise DocumentError(_("Ce fichier est identique à la version en vigueur du document."))
    document.title, document.call_code = title, code
    document.valid_from, document.valid_until = valid_from, valid_until
    document.updated_at = now
    version = DocumentVersion(number=document.current_number + 1, filename=filename, kind=kind, size=len(content),
                              sha256=digest, content=content, uploaded_at=now, uploaded_by=author)
    version.passages = [DocumentPassage(position=i, heading_path=list(p.heading_path), page=p.page, text=p.text)
                        for i, p in enumerate(passages, start=1)]
    document.versions.append(version)
    document.current_number = version.number
    db.session.flush()
    bump_kb_version()
    return version


def update_validity(document: CallDocument, valid_from: date | None, valid_until: date | None) -> None:
    """Change the dates within which the document's passages are offered."""
    _check_facts(document.title, document.call_code, valid_from, valid_until)
    document.valid_from, document.valid_until, document.updated_at = valid_from, valid_until, utcnow()
    db.session.flush()
    bump_kb_version()


# --- queries ----------------------------------------------------------------------------------------


def offered_passages_query(day: date) -> sa.Select:
    """(passage, document, version number) of the current version of every document valid on ``day``."""
    return (sa.select(DocumentPassage, CallDocument, DocumentVersion.number)
            .join(DocumentVersion, DocumentPassage.version_id == DocumentVersion.id)
            .join(CallDocument, DocumentVersion.document_id == CallDocument.id)
            .where(DocumentVersion.number == CallDocument.current_number,
                   sa.or_(CallDocument.valid_from.is_(None), CallDocument.valid_from <= day),
                   sa.or_(CallDocument.valid_until.is_(None), CallDocument.valid_until >= day))
            .order_by(DocumentPassage.id))


def document_by_slug(slug: str) -> CallDocument | None:
    return db.session.scalar(sa.select(CallDocument).where(CallDocument.slug == slug))


def documents_query() -> sa.Select:
    """Every document, last changed first (the staff list)."""
    return sa.select(CallDocument).order_by(CallDocument.updated_at.desc(), CallDocument.id.desc())


# --- drafts -----------------------------------------------------------------------------------------


def draft_from_passage(passage: DocumentPassage, author: User | None) -> Article:
    """A draft article whose answer quotes the passage, the source (document, version, page) kept in its meta."""
    version = passage.version
    document = version.document
    heading = (passage.heading_path or [document.title])[-1]
    page = _(", page %(n)s", n=passage.page) if passage.page else ""
    source = _("Source : « %(title)s », version %(v)s%(page)s.", title=document.title, v=version.number, page=page)
    data = {"question": heading[:500], "answer": f"{passage.text}\n\n*{source}*",
            "calls": [document.call_code] if document.call_code else [], "valid_from": document.valid_from,
            "valid_until": document.valid_until, "status": "draft",
            "meta": {"source": {"kind": "passage", "passage_id": passage.id, "document_id": document.id,
                                "document": document.slug, "title": document.title, "version": version.number,
                                "page": passage.page, "anchor": passage.anchor}}}
    return create_article(data, author, comment=_("Brouillon créé depuis un passage du document « %(title)s »",
                                                   title=document.title))
