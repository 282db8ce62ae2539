"""Call documents read into passages: the format checked by content, text split under its headings (pure).

:func:`read_document` takes the uploaded bytes and file name and returns the format and the passages, or raises
:class:`DocumentError` with a French message (wrong type, unreadable, encrypted or empty PDF, too many passages).
Each format is turned into a stream of blocks (a heading with its level, or a paragraph, with its page), then
:func:`passages_from_blocks` groups the paragraphs under the current heading path, a passage never crossing a
heading or a page and never longer than ``MAX_PASSAGE_CHARS`` (longer sections are cut between paragraphs, a
paragraph longer than that between sentences).

Formats: PDF (pypdf: one page after the other; a short numbered line or one in capitals is taken as a heading,
since a PDF's text has no marked headings), HTML (``h1``–``h6`` and the text blocks; scripts and styles left out)
and Markdown (ATX headings ``#``…). DOCX and ODT are refused with a message asking for a PDF: see docs/documents.md.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser

from flask_babel import gettext as _

__all__ = ["KINDS", "Block", "DocumentError", "Passage", "passages_from_blocks", "read_document"]

#: The formats accepted, by the file extensions that may name them.
KINDS = {"pdf": ("pdf",), "html": ("html", "htm"), "markdown": ("md", "markdown")}
MAX_PASSAGE_CHARS = 1500
MAX_PASSAGES = 3000
MAX_HEADING_CHARS = 200
_ZIP = b"PK\x03\x04"
_ATX = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_PDF_HEADING = re.compile(r"^(?:(?:\d+(?:\.\d+)*|[IVX]+|Article\s+\d+|Annexe\s+\w+)[.)]?\s+)\S.{0,100}$")
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+")


class DocumentError(ValueError):
    """A document refused, with a French message for the person who uploaded it."""


@dataclass(frozen=True)
class Block:
    """A heading (``level`` 1–6) or a paragraph (``level`` 0) of a document, on a page (PDF) or none."""

    text: str
    level: int = 0
    page: int | None = None


@dataclass(frozen=True)
class Passage:
    """A piece of a document: its text, the headings above it (outermost first) and its page."""

    text: str
    heading_path: tuple[str, ...] = ()
    page: int | None = None


def _clean(text: str) -> str:
    return " ".join(text.split())


# --- the format -----------------------------------------------------------------------------------


def _extension(filename: str) -> str:
    return filename.rsplit(".", 1)[-1].lower() if "." in filename else ""


def _decode(content: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise DocumentError(_("Le fichier n'est pas un texte lisible (encodage inconnu)."))


def detect_kind(filename: str, content: bytes) -> str:
    """Return "pdf", "html" or "markdown" when the extension and the content agree; else raise DocumentError."""
    extension = _extension(filename)
    if extension in ("docx", "odt", "doc") or content.startswith(_ZIP):
        raise DocumentError(_("Les documents DOCX et ODT ne sont pas lus : enregistrez-le en PDF, "
                              "puis déposez le PDF."))
    kind = next((k for k, extensions in KINDS.items() if extension in extensions), None)
    if kind is None:
        raise DocumentError(_("Type de fichier non accepté : PDF, HTML ou Markdown (.pdf, .html, .md)."))
    if not content.strip():
        raise DocumentError(_("Le fichier est vide."))
    is_pdf = content.lstrip()[:5] == b"%PDF-"
    if (kind == "pdf") != is_pdf or (not is_pdf and b"\x00" in content[:4096]):
        raise DocumentError(_("Le contenu du fichier ne correspond pas à son extension (.%(ext)s).", ext=extension))
    return kind


# --- blocks of each format ------------------------------------------------------------------------


def markdown_blocks(text: str) -> Iterator[Block]:
    """Headings and paragraphs of a Markdown text (paragraphs separated by blank lines; fenced code kept)."""
    paragraph: list[str] = []
    for line in text.splitlines():
        heading = _ATX.match(line)
        if heading or not line.strip():
            if paragraph:
                yield Block(_clean(" ".join(paragraph)))
                paragraph = []
            if heading:
                yield Block(_clean(heading.group(2))[:MAX_HEADING_CHARS], level=len(heading.group(1)))
            continue
        paragraph.append(line.strip().lstrip(">").strip())
    if paragraph:
        yield Block(_clean(" ".join(paragraph)))


class _HtmlBlocks(HTMLParser):
    _HEADINGS = {f"h{n}": n for n in range(1, 7)}
    _BLOCKS = {"p", "li", "dt", "dd", "td", "th", "div", "section", "article", "blockquote", "pre", "tr", "br",
               "ul", "ol", "table", "caption", "main", "header", "footer", "figcaption"}
    _SKIPPED = {"script", "style", "template", "noscript", "head", "nav"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[Block] = []
        self._text: list[str] = []
        self._level = 0
        self._skipping = 0

    def _flush(self) -> None:
        text = _clean("".join(self._text))
        self._text = []
        if text:
            self.blocks.append(Block(text[:MAX_HEADING_CHARS] if self._level else text, level=self._level))

    def handle_starttag(self, tag, attrs):
        if tag in self._SKIPPED:
            self._skipping += 1
        elif tag in self._HEADINGS:
            self._flush()
            self._level = self._HEADINGS[tag]
        elif tag in self._BLOCKS and not self._level:
            self._flush()

    def handle_endtag(self, tag):
        if tag in self._SKIPPED:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self._HEADINGS:
            self._flush()
            self._level = 0
        elif tag in self._BLOCKS and not self._level:
            self._flush()

    def handle_data(self, data):
        if not self._skipping:
            self._text.append(data)

    def close(self):
        super().close()
        self._flush()


def html_blocks(text: str) -> list[Block]:
    """Headings (h1–h6) and text blocks of an HTML page, in the order they come."""
    parser = _HtmlBlocks()
    parser.feed(text)
    parser.close()
    return parser.blocks


def _pdf_line_is_heading(line: str) -> bool:
    letters = [c for c in line if c.isalpha()]
    if not letters or len(line) > 100 or line.endswith((".", ",", ";")) and not _PDF_HEADING.match(line):
        return False
    return bool(_PDF_HEADING.match(line)) or (len(letters) >= 4 and all(c.isupper() for c in letters))


def _heading_level(line: str) -> int:
    number = re.match(r"^(\d+(?:\.\d+)*)", line)
    return min(6, number.group(1).count(".") + 1) if number else 1


def pdf_blocks(content: bytes) -> list[Block]:
    """Headings and paragraphs of a PDF, page by page; raise DocumentError for a broken, encrypted or empty one."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(content), strict=False)
        if reader.is_encrypted:
            raise DocumentError(_("Ce PDF est protégé par un mot de passe : déposez une version sans protection."))
        pages = [page.extract_text() or "" for page in reader.pages]
    except DocumentError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, IndexError, AttributeError, OSError, RecursionError):
        raise DocumentError(_("Ce PDF est illisible ou endommagé : enregistrez-le à nouveau, "
                              "puis déposez-le.")) from None
    blocks: list[Block] = []
    for number, text in enumerate(pages, start=1):
        paragraph: list[str] = []
        for raw in text.splitlines():
            line = _clean(raw)
            if line and _pdf_line_is_heading(line):
                if paragraph:
                    blocks.append(Block(" ".join(paragraph), page=number))
                    paragraph = []
                blocks.append(Block(line[:MAX_HEADING_CHARS], level=_heading_level(line), page=number))
            elif line:
                paragraph.append(line)
            elif paragraph:
                blocks.append(Block(" ".join(paragraph), page=number))
                paragraph = []
        if paragraph:
            blocks.append(Block(" ".join(paragraph), page=number))
    if not any(b.level == 0 for b in blocks):
        raise DocumentError(_("Aucun texte n'a pu être lu dans ce PDF (document numérisé ?) : déposez une version "
                              "qui contient du texte."))
    return blocks


# --- passages -------------------------------------------------------------------------------------


def _pieces(text: str) -> Iterator[str]:
    """A paragraph cut between sentences into pieces of at most MAX_PASSAGE_CHARS (a sentence longer, by force)."""
    if len(text) <= MAX_PASSAGE_CHARS:
        yield text
        return
    piece = ""
    for sentence in _SENTENCE_END.split(text):
        while len(sentence) > MAX_PASSAGE_CHARS:
            if piece:
                yield piece
                piece = ""
            yield sentence[:MAX_PASSAGE_CHARS]
            sentence = sentence[MAX_PASSAGE_CHARS:]
        if piece and len(piece) + 1 + len(sentence) > MAX_PASSAGE_CHARS:
            yield piece
            piece = ""
        piece = f"{piece} {sentence}".strip()
    if piece:
        yield piece


def passages_from_blocks(blocks: Iterable[Block]) -> list[Passage]:
    """Group paragraphs into passages under their heading path (see the module's docstring)."""
    passages: list[Passage] = []
    path: list[tuple[int, str]] = []
    current: list[str] = []
    page: int | None = None

    def close() -> None:
        if current:
            passages.append(Passage(" ".join(current), tuple(t for _level, t in path), page))
            current.clear()

    for block in blocks:
        if block.level:
            close()
            path = [(level, text) for level, text in path if level < block.level] + [(block.level, block.text)]
            page = block.page
            continue
        if block.page != page:
            close()
            page = block.page
        for piece in _pieces(block.text):
            if current and len(" ".join(current)) + 1 + len(piece) > MAX_PASSAGE_CHARS:
                close()
            current.append(piece)
    close()
    if not passages:
        raise DocumentError(_("Le document ne contient aucun texte à indexer."))
    if len(passages) > MAX_PASSAGES:
        raise DocumentError(_("Le document est trop long : %(n)s passages au plus.", n=MAX_PASSAGES))
    return passages


def read_document(filename: str, content: bytes) -> tuple[str, list[Passage]]:
    """Return the format ("pdf", "html" or "markdown") and the passages of an uploaded document."""
    kind = detect_kind(filename, content)
    if kind == "pdf":
        blocks: Iterable[Block] = pdf_blocks(content)
    elif kind == "html":
        blocks = html_blocks(_decode(content))
    else:
        blocks = markdown_blocks(_decode(content))
    return kind, passages_from_blocks(blocks)
