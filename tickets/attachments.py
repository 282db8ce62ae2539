"""Attachment checks (count, size, type by extension and content) and storage by SHA-256."""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from werkzeug.utils import secure_filename

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


def store_file(f: IncomingFile) -> tuple[str, str, str, int]:
    """Write the file content under the upload folder; return (filename, content type, sha256, size)."""
    digest = hashlib.sha256(f.content).hexdigest()
    folder = Path(current_app.config["UPLOAD_FOLDER"]) / digest[:2]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / digest
    if not path.exists():
        path.write_bytes(f.content)
    name = secure_filename(f.filename) or "fichier"
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return name, content_type, digest, len(f.content)


def stored_path(sha256: str) -> Path:
    """Where an attachment's content lives."""
    return Path(current_app.config["UPLOAD_FOLDER"]) / sha256[:2] / sha256
