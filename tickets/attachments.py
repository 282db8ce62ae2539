"""Attachment checks (count, size, type by extension and content) and storage by SHA-256."""

from __future__ import annotations

import hashlib
import mimetypes
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from werkzeug.utils import secure_filename

from crm.core.database import on_transaction_end
from crm.core.extensions import db

# Leading bytes of the binary types we accept; text types are checked for decodability.
_MAGIC = {
    "pdf": [b"%PDF-"],
    "png": [b"\x89PNG\r\n\x1a\n"],
    "jpg": [b"\xff\xd8\xff"],
    "jpeg": [b"\xff\xd8\xff"],
    "odt": [b"PK\x03\x04"],
    "ods": [b"PK\x03\x04"],
    "docx": [b"PK\x03\x04"],
    "xlsx": [b"PK\x03\x04"],
}


#: The types a browser may show itself, by the content's first bytes (never the declared type or the extension).
_INLINE_SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF87a", "image/gif"),
                      (b"GIF89a", "image/gif"), (b"%PDF-", "application/pdf"))
SNIFF_BYTES = 16


def inline_type(head: bytes) -> str | None:
    """The type to show a file inline as, sniffed from its first bytes; None: download it, never render it."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return next((kind for magic, kind in _INLINE_SIGNATURES if head.startswith(magic)), None)


class AttachmentError(ValueError):
    """A file was refused; the message is shown to the user."""


@dataclass(frozen=True)
class IncomingFile:
    """A file received from a form, the API or an e-mail."""

    filename: str
    content: bytes
    content_type: str | None = None


def check_files(files: list[IncomingFile]) -> list[IncomingFile]:
    """Validate count, size and type of files; raise AttachmentError with a clear message."""
    config = current_app.config
    files = [f for f in files if f.filename or f.content]
    if len(files) > config["ATTACHMENT_MAX_FILES"]:
        raise AttachmentError(_("Vous pouvez joindre au plus %(n)s fichiers.", n=config["ATTACHMENT_MAX_FILES"]))
    allowed = tuple(config["ATTACHMENT_EXTENSIONS"])
    limit = config["ATTACHMENT_MAX_BYTES"]
    for f in files:
        name = secure_filename(f.filename) or "fichier"
        extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        if extension not in allowed:
            raise AttachmentError(_("« %(name)s » : type de fichier non accepté (acceptés : %(allowed)s).",
                                    name=f.filename, allowed=", ".join(allowed)))
        if len(f.content) > limit:
            raise AttachmentError(_("« %(name)s » dépasse la taille maximale de %(mb)s Mo.", name=f.filename,
                                    mb=limit // (1024 * 1024)))
        if not f.content:
            raise AttachmentError(_("« %(name)s » est vide.", name=f.filename))
        magics = _MAGIC.get(extension)
        if magics and not any(f.content.startswith(m) for m in magics):
            raise AttachmentError(_("« %(name)s » : le contenu ne correspond pas à l'extension.", name=f.filename))
        if extension in ("txt", "csv"):
            try:
                f.content.decode("utf-8")
            except UnicodeDecodeError:
                try:
                    f.content.decode("cp1252")
                except UnicodeDecodeError:
                    raise AttachmentError(_("« %(name)s » n'est pas un fichier texte lisible.",
                                             name=f.filename)) from None
    return files


#: session.info key: the files this transaction wrote (removed if it rolls back)
WRITTEN = "tickets.written_files"

#: Holders of stored files other than the attachments (a draft's documents): each is called with a function that
#: executes a statement and the digests in question, and answers those it still uses (kept from removal).
_FILE_HOLDERS: list[Callable[[Callable, list[str]], set[str]]] = []


def register_file_holder(holder: Callable[[Callable, list[str]], set[str]]) -> None:
    """Declare files stored by store_file that no attachment row uses but that must stay (idempotent)."""
    if holder not in _FILE_HOLDERS:
        _FILE_HOLDERS.append(holder)


def _used(execute: Callable, digests: list[str]) -> set[str]:
    """The digests among ``digests`` an attachment or a registered holder still uses."""
    from tickets.models import Attachment

    used = set(execute(sa.select(Attachment.sha256).where(Attachment.sha256.in_(digests))).scalars())
    for holder in _FILE_HOLDERS:
        used |= holder(execute, digests)
    return used


def store_file(f: IncomingFile) -> tuple[str, str, str, int]:
    """Write the file content under the upload folder; return (filename, content type, sha256, size).

    Storage is by content (SHA-256): a file already stored is not written again. A file this call writes is
    removed if the transaction rolls back (a refused or failed submission leaves nothing behind); what a crash
    leaves is removed by the ``attachment_orphans`` job."""
    digest = hashlib.sha256(f.content).hexdigest()
    folder = Path(current_app.config["UPLOAD_FOLDER"]) / digest[:2]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / digest
    if not path.exists():
        temporary = path.with_name(f".{digest}.part")
        temporary.write_bytes(f.content)
        temporary.replace(path)  # never a half-written file under its final name
        db.session.info.setdefault(WRITTEN, []).append(path)
    name = secure_filename(f.filename) or "fichier"
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return name, content_type, digest, len(f.content)


def _remove_written(session, written: list[Path]) -> None:
    """The transaction rolled back: its rows are gone, so are the files it wrote — unless a row committed by
    another transaction meanwhile uses the same content (read on a connection of its own)."""
    digests = [p.name for p in written]
    try:
        bind = session.get_bind()
        if isinstance(bind, sa.engine.Connection):
            used = _used(bind.execute, digests)
        else:
            with bind.connect() as connection:
                used = _used(connection.execute, digests)
    except sa.exc.SQLAlchemyError:  # the database is unreachable: keep the files, the orphan job will decide
        return
    for path in written:
        if path.name not in used:
            path.unlink(missing_ok=True)


def _transaction_ended(session, committed: bool) -> None:
    written = session.info.pop(WRITTEN, None)
    if written and not committed:
        _remove_written(session, written)


def install_cleanup() -> None:
    """Remove the files written by a transaction that rolls back (idempotent)."""
    on_transaction_end(_transaction_ended)


def remove_orphans(older_than: timedelta) -> int:
    """Remove stored files that no attachment row (nor a registered holder) uses, written more than
    ``older_than`` ago (a process that died between writing a file and committing its row). Returns the number
    removed."""
    root = Path(current_app.config["UPLOAD_FOLDER"])
    if not root.is_dir():
        return 0
    limit = time.time() - older_than.total_seconds()
    candidates = [p for p in root.glob("??/*") if p.is_file() and p.stat().st_mtime < limit]
    removed = 0
    for start in range(0, len(candidates), 500):
        chunk = candidates[start:start + 500]
        names = [p.name.removeprefix(".").removesuffix(".part") for p in chunk]
        used = _used(db.session.execute, names)
        for path, name in zip(chunk, names, strict=True):
            if name not in used or path.name.endswith(".part"):
                path.unlink(missing_ok=True)
                removed += 1
    return removed


def stored_path(sha256: str) -> Path:
    """Where an attachment's content lives."""
    return Path(current_app.config["UPLOAD_FOLDER"]) / sha256[:2] / sha256
