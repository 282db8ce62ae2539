"""E-mail in: poll the IMAP mailbox, turn messages into tickets or replies, quarantine what cannot be read.

This module reads and records mail; the ticket side is the handler registered with
``crm.core.registry.set_mail_intake`` (tickets.mail_intake): it receives a ``notifications.intake.InboundMail``, checks
the attachments and answers a ``notifications.intake.IntakeResult`` (created / replied / ignored).

Each message is processed in its own transaction, then moved to IMAP_PROCESSED_FOLDER (or to
IMAP_QUARANTINE_FOLDER when it fails, with an InboundMail record saying why): a bad message never
blocks the others and is never lost. A message already recorded (same Message-ID) is not processed
twice, even when a crash happened between the commit and the move.

Identity: the tags of the intake address the message was sent to (``guichet+<tag>@…``, see notifications.intake)
and the Authentication-Results header of the trusted receiving relay (MAIL_AUTHSERV_ID, the topmost one with
that authserv-id; any other is written by whoever sent the mail and is ignored) are handed to the handler, which
decides whether the message may join a conversation; the results are kept on the InboundMail record.

Quoted history: email-reply-parser handles English clients and "-- " signatures but not French
attribution lines ("Le lun. 2 nov. 2026 à 10:00, X a écrit :", possibly wrapped on two lines) nor
Outlook's "De : … / Envoyé : …" header blocks, so ``strip_quotes`` first cuts the text at the first
such marker, then hands the rest to the library.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import hashlib
import imaplib
import logging
import re
import ssl
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from email.message import Message as MimeMessage
from email.utils import getaddresses, parseaddr
from html import unescape
from html.parser import HTMLParser

import sqlalchemy as sa
from email_reply_parser import EmailReplyParser
from flask import current_app

from crm.core.extensions import db
from notifications.intake import InboundMail as Intake
from notifications.intake import intake_address
from notifications.models import InboundMail, InboundStatus, OutboxMessage

log = logging.getLogger(__name__)

MESSAGE_ID_RE = re.compile(r"<[^<>\s]+>")


class MailError(ValueError):
    """A message that cannot be turned into a ticket or a reply (it goes to quarantine)."""


# -- reading a message --------------------------------------------------------------------------


@dataclass
class ParsedMail:
    """What we keep of an incoming message."""

    key: str
    message_id: str | None
    sender_email: str
    sender_name: str
    subject: str
    body: str
    thread_ids: list[str] = field(default_factory=list)
    auto_reason: str | None = None
    attachments: list[tuple[str, bytes, str]] = field(default_factory=list)  # (filename, content, type)
    in_reply_to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    locale: str = "fr"
    reply_tags: list[str] = field(default_factory=list)
    auth: dict = field(default_factory=dict)


def header(msg: MimeMessage, name: str) -> str:
    """A header as text, robust to malformed encodings and addresses."""
    try:
        value = msg.get(name)
        return "" if value is None else str(value)
    except Exception:  # noqa: BLE001 - a broken header must not break the message
        for key, raw in msg.raw_items():
            if key.lower() == name.lower():
                try:
                    return str(make_header(decode_header(str(raw))))
                except Exception:  # noqa: BLE001
                    return str(raw).encode("ascii", "replace").decode()
        return ""


def message_key(raw: bytes, message_id: str | None) -> str:
    """The idempotency key of a message: its Message-ID, else a hash of its bytes."""
    return (message_id or "sha256:" + hashlib.sha256(raw).hexdigest())[:255]


def auto_reason(msg: MimeMessage, sender_email: str) -> str | None:
    """Why a message is an auto-reply, a bounce, a list message or our own mail (None for a person's mail)."""
    auto_submitted = header(msg, "Auto-Submitted").strip().lower()
    if auto_submitted and auto_submitted != "no":
        return f"Auto-Submitted: {auto_submitted}"
    precedence = header(msg, "Precedence").strip().lower()
    if precedence in ("bulk", "junk", "list", "auto_reply"):
        return f"Precedence: {precedence}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Reply", "X-Failed-Recipients"):
        if header(msg, name):
            return name
    if header(msg, "List-Id") or header(msg, "List-Unsubscribe"):
        return "liste de diffusion"
    return_path = header(msg, "Return-Path").strip()
    if msg.get("Return-Path") is not None and return_path in ("<>", ""):
        return "Return-Path vide (message de retour)"
    local = sender_email.partition("@")[0]
    if local in ("mailer-daemon", "postmaster") or local.startswith("mailer-daemon"):
        return "expéditeur mailer-daemon"
    if msg.get_content_type() == "multipart/report":
        return "rapport de remise"
    own = parseaddr(current_app.config["MAIL_SENDER"])[1].lower()
    if own and sender_email == own:
        return "message envoyé par Guichet lui-même"
    return None


# -- identity: the tagged address it was sent to, what the receiving relay checked -------------------------

RECIPIENT_HEADERS = ("To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To", "Resent-To")
_TAG_RE = re.compile(r"^[a-z0-9]{8,64}$")


def reply_tags(msg: MimeMessage) -> list[str]:
    """The tags of our intake address among the recipients (``guichet+<tag>@domain``), in order, lowercase."""
    _name, local, domain = intake_address()
    if not local or not domain:
        return []
    values = [header(msg, name) for name in RECIPIENT_HEADERS]
    tags: list[str] = []
    for _display, address in getaddresses([v for v in values if v]):
        left, _at, right = address.strip().lower().rpartition("@")
        tag = left[len(local) + 1:] if right == domain and left.startswith(local + "+") else ""
        if _TAG_RE.match(tag) and tag not in tags:
            tags.append(tag)
    return tags


def _without_comments(value: str) -> str:
    previous = None
    while previous != value:
        previous, value = value, re.sub(r"\([^()]*\)", " ", value)
    return value


def parse_authentication_results(value: str) -> tuple[str, dict[str, list[tuple[str, dict[str, str]]]]]:
    """(authserv-id, {method: [(result, {property: value})]}) of one Authentication-Results header (RFC 8601)."""
    parts = [p.strip() for p in _without_comments(value).split(";")]
    authserv_id = (parts[0].split() or [""])[0].lower()
    methods: dict[str, list[tuple[str, dict[str, str]]]] = {}
    for part in parts[1:]:
        words = part.split()
        if not words or "=" not in words[0]:
            continue
        method, _eq, result = words[0].partition("=")
        props = {}
        for word in words[1:]:
            key, eq, val = word.partition("=")
            if eq:
                props[key.lower()] = val.strip('"').lower()
        methods.setdefault(method.split("/")[0].lower(), []).append((result.lower(), props))
    return authserv_id, methods


def _aligned(domain: str, sender_domain: str) -> bool:
    """Relaxed alignment, approximated: one domain is the other or a subdomain of it."""
    return bool(domain) and (domain == sender_domain or sender_domain.endswith("." + domain)
                             or domain.endswith("." + sender_domain))


def authentication(msg: MimeMessage, sender_email: str) -> dict:
    """What the trusted relay found: dkim, spf, dmarc results, the DKIM-signing domains that passed, and a verdict:
    "dkim" (a DKIM signature of the sender's domain passed), "spf" (DMARC passed on SPF alone), "fail" (DMARC
    failed) or "none" (nothing trusted says who sent it: no header of MAIL_AUTHSERV_ID, or it is not set)."""
    trusted = (current_app.config.get("MAIL_AUTHSERV_ID") or "").strip().lower()
    found = None
    if trusted:
        try:
            values = [str(v) for v in msg.get_all("Authentication-Results") or ()]
        except Exception:  # noqa: BLE001 - an unreadable header says nothing
            values = []
        for value in values:  # the topmost header of our relay: the one it wrote on reception
            authserv_id, methods = parse_authentication_results(value)
            if authserv_id == trusted:
                found = methods
                break
    if found is None:
        return {"authserv_id": None, "verdict": "none"}
    sender_domain = sender_email.rpartition("@")[2]

    def first(method: str) -> str | None:
        return found[method][0][0] if found.get(method) else None

    dkim_passed = [props.get("header.d") or props.get("header.i", "").rpartition("@")[2]
                   for result, props in found.get("dkim", ()) if result == "pass"]
    dkim_passed = [d for d in dkim_passed if d]
    dmarc = first("dmarc")
    if dmarc == "fail":
        verdict = "fail"
    elif any(_aligned(d, sender_domain) for d in dkim_passed):
        verdict = "dkim"
    elif dmarc == "pass":
        verdict = "spf"
    else:
        verdict = "none"
    return {"authserv_id": trusted, "dkim": "pass" if dkim_passed else first("dkim"), "dkim_domains": dkim_passed,
            "spf": first("spf"), "dmarc": dmarc, "verdict": verdict}


_LATIN = {"us-ascii", "ascii", "iso-8859-1", "latin-1", "latin1", "windows-1252", "cp1252", "iso-8859-15"}


def decode_payload(part: MimeMessage) -> str:
    """A text part as str, surviving wrong, unknown or missing charsets."""
    try:
        payload = part.get_payload(decode=True) or b""
    except Exception:  # noqa: BLE001
        payload = str(part.get_payload()).encode("utf-8", "replace")
    if isinstance(payload, str):
        return payload
    declared = (part.get_content_charset() or "").lower() or None
    candidates = ["utf-8", declared] if declared in _LATIN or declared is None else [declared, "utf-8"]
    for charset in [*candidates, "cp1252"]:
        if not charset:
            continue
        try:
            return payload.decode(charset)
        except (LookupError, UnicodeDecodeError):
            continue
    return payload.decode("latin-1")


class _TextExtractor(HTMLParser):
    """A small HTML → text converter: block elements become line breaks, script and style are dropped."""

    BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table", "ul",
              "ol", "pre", "hr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "head"):
            self.skip += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")
        if tag == "li":
            self.parts.append("- ")

    def handle_endtag(self, tag):
        if tag in ("script", "style", "head"):
            self.skip = max(0, self.skip - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Readable text from an HTML body."""
    parser = _TextExtractor()
    try:
        parser.feed(html)
        parser.close()
        text = "".join(parser.parts)
    except Exception:  # noqa: BLE001 - fall back to a crude tag strip
        text = unescape(re.sub(r"<[^>]+>", " ", html))
    lines = [" ".join(line.split()) for line in text.replace("\xa0", " ").splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


_CUT_MARKERS = [
    re.compile(r"^\s*-{2,}\s*(message d'origine|original message|message transféré|forwarded message)", re.I),
    re.compile(r"^\s*_{10,}\s*$"),
    re.compile(r"^\s*--\s*$"),  # signature delimiter, with or without the trailing space
    re.compile(r"^\s*(envoyé|envoye|sent) (de|depuis|from) mon\b", re.I),
]
_ATTRIBUTION = re.compile(r"^\s*(le|on)\s.+\b(a écrit|a ecrit|wrote)\s*:\s*$", re.I)
_OUTLOOK_FROM = re.compile(r"^\s*\**(de|from)\s*:\**\s", re.I)
_OUTLOOK_NEXT = re.compile(r"^\s*\**(envoyé|envoye|sent|date|à|to|objet|subject)\s*:", re.I)


def _cut_index(lines: list[str]) -> int | None:
    for i, line in enumerate(lines):
        if any(marker.search(line) for marker in _CUT_MARKERS):
            return i
        if _ATTRIBUTION.search(line):
            return i
        if i + 1 < len(lines) and re.match(r"^\s*(le|on)\s", line, re.I) \
                and _ATTRIBUTION.search(line + " " + lines[i + 1]):
            return i
        if _OUTLOOK_FROM.search(line) and any(_OUTLOOK_NEXT.search(n) for n in lines[i + 1:i + 4]):
            return i
        if line.lstrip().startswith(">") and all(n.lstrip().startswith(">") or not n.strip() for n in lines[i:]):
            return i
    return None


def strip_quotes(text: str) -> str:
    """The new part of a reply: cut at French/Outlook quote markers, then email-reply-parser."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    cut = _cut_index(lines)
    kept = "\n".join(lines[:cut] if cut is not None else lines).strip()
    if not kept:
        return text.strip()
    reply = EmailReplyParser.parse_reply(kept).strip()
    return reply or kept


def _attachments(msg: MimeMessage) -> list[tuple[str, bytes, str]]:
    """Every attached file as (filename, content, content type); tickets checks them when it takes the mail."""
    files = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        disposition = part.get_content_disposition()
        try:
            filename = part.get_filename()
        except Exception:  # noqa: BLE001
            filename = "piece-jointe"
        if not filename and disposition != "attachment":
            continue
        if disposition == "inline" and part.get("Content-ID") and part.get_content_maintype() == "image":
            continue  # an image embedded in the HTML body (logos, signatures)
        try:
            content = part.get_payload(decode=True) or b""
        except Exception:  # noqa: BLE001
            content = b""
        files.append((filename or "piece-jointe", content, part.get_content_type()))
    return files


def _body(msg: MimeMessage) -> str:
    plain, html = None, None
    for part in msg.walk():
        if part.is_multipart() or part.get_content_disposition() == "attachment":
            continue
        try:
            if part.get_filename():
                continue
        except Exception:  # noqa: BLE001, S112
            continue
        content_type = part.get_content_type()
        if content_type == "text/plain" and plain is None:
            plain = decode_payload(part)
        elif content_type == "text/html" and html is None:
            html = decode_payload(part)
    if plain and plain.strip():
        return plain
    if html:
        return html_to_text(html)
    return plain or ""


def parse_mail(raw: bytes) -> ParsedMail:
    """Read a raw message: sender, subject, new text, thread ids, attachments, auto-reply status."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    name, address = parseaddr(header(msg, "From"))
    address = address.strip().lower()
    if "@" not in address:
        raise MailError("expéditeur illisible")
    message_id = (MESSAGE_ID_RE.findall(header(msg, "Message-ID")) or [None])[0]
    in_reply_to = MESSAGE_ID_RE.findall(header(msg, "In-Reply-To"))
    references = MESSAGE_ID_RE.findall(header(msg, "References"))
    subject = " ".join(header(msg, "Subject").split())[:200]
    parsed = ParsedMail(key=message_key(raw, message_id), message_id=message_id, sender_email=address,
                        sender_name=name.strip()[:200], subject=subject, body="",
                        thread_ids=in_reply_to + references, in_reply_to=in_reply_to, references=references)
    parsed.auto_reason = auto_reason(msg, address)
    parsed.auth = authentication(msg, address)
    if parsed.auto_reason:
        return parsed
    parsed.reply_tags = reply_tags(msg)
    parsed.body = strip_quotes(_body(msg))
    parsed.attachments = _attachments(msg)
    language = header(msg, "Content-Language").strip().lower()
    parsed.locale = "en" if language.startswith("en") else "fr"
    return parsed


# -- turning a message into a ticket or a reply ----------------------------------------------------


def thread_ticket_id(parsed: ParsedMail) -> int | None:
    """The ticket of an e-mail we sent that this message answers (its In-Reply-To/References), or None."""
    ids = [i for i in parsed.thread_ids if len(i) <= 255]
    if not ids:
        return None
    return db.session.scalar(
        sa.select(OutboxMessage.ticket_id)
        .where(OutboxMessage.message_id.in_(ids), OutboxMessage.ticket_id.is_not(None))
        .order_by(OutboxMessage.id.desc()).limit(1)
    )


def intake_of(parsed: ParsedMail) -> Intake:
    """The neutral structure handed to the intake handler (notifications.intake.InboundMail)."""
    return Intake(sender=parsed.sender_email, name=parsed.sender_name, subject=parsed.subject, text=parsed.body,
                  message_id=parsed.message_id, in_reply_to=list(parsed.in_reply_to),
                  references=list(parsed.references), attachments=list(parsed.attachments), locale=parsed.locale,
                  ticket_hint=thread_ticket_id(parsed), reply_tags=list(parsed.reply_tags), auth=dict(parsed.auth))


_STATUS_OF = {"created": InboundStatus.TICKET_CREATED, "replied": InboundStatus.REPLY_ADDED,
              "ignored": InboundStatus.IGNORED}


def process_mail(raw: bytes) -> InboundMail:
    """Turn one raw message into a ticket, a reply or an ignored record; flushes, the caller commits."""
    from crm.core import registry

    parsed = parse_mail(raw)
    record = InboundMail(message_key=parsed.key, sender=parsed.sender_email, subject=parsed.subject[:300],
                         size=len(raw), auth_results=parsed.auth)
    already = db.session.scalar(
        sa.select(InboundMail).where(InboundMail.message_key == parsed.key,
                                     InboundMail.status != InboundStatus.QUARANTINED).limit(1)
    )
    if already is not None:
        record.status, record.ticket_id, record.detail = InboundStatus.DUPLICATE, already.ticket_id, "déjà traité"
        db.session.add(record)
        db.session.flush()
        return record
    if parsed.auto_reason:
        record.status, record.detail = InboundStatus.IGNORED, parsed.auto_reason
        db.session.add(record)
        db.session.flush()
        return record
    handler = registry.mail_intake(current_app)
    if handler is None:
        raise MailError("aucun module ne reçoit les demandes par e-mail")
    result = handler(intake_of(parsed))
    if result.outcome not in _STATUS_OF:
        raise MailError(f"résultat inattendu : {result.outcome}")
    record.status, record.ticket_id, record.detail = _STATUS_OF[result.outcome], result.ticket_id, result.reason
    db.session.add(record)
    db.session.flush()
    return record


def quarantine_record(raw: bytes, error: str, *, size: int | None = None) -> InboundMail:
    """Record a message that could not be processed (headers read as far as possible)."""
    sender = subject = ""
    message_id = None
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        sender = parseaddr(header(msg, "From"))[1].lower()
        subject = " ".join(header(msg, "Subject").split())
        message_id = (MESSAGE_ID_RE.findall(header(msg, "Message-ID")) or [None])[0]
    except Exception:  # noqa: BLE001, S110 - the record matters more than its details
        pass
    record = InboundMail(message_key=message_key(raw, message_id), sender=sender[:254], subject=subject[:300],
                         size=size if size is not None else len(raw), status=InboundStatus.QUARANTINED,
                         detail=error[:2000], folder=current_app.config["IMAP_QUARANTINE_FOLDER"])
    db.session.add(record)
    db.session.flush()
    return record


# -- the IMAP side ---------------------------------------------------------------------------------


def _quote(mailbox: str) -> str:
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'


def imap_connect(config) -> imaplib.IMAP4:
    """Log in to the configured mailbox (IMAPS, or IMAP with optional STARTTLS)."""
    host, port, timeout = config["IMAP_HOST"], int(config["IMAP_PORT"]), float(config["IMAP_TIMEOUT"])
    if config.get("IMAP_SSL"):
        client = imaplib.IMAP4_SSL(host, port, ssl_context=ssl.create_default_context(), timeout=timeout)
    else:
        client = imaplib.IMAP4(host, port, timeout=timeout)
        if config.get("IMAP_STARTTLS"):
            client.starttls(ssl_context=ssl.create_default_context())
    client.login(config["IMAP_USERNAME"] or "", config["IMAP_PASSWORD"] or "")
    return client


def _ensure_folder(client: imaplib.IMAP4, name: str) -> None:
    typ, _data = client.create(_quote(name))  # NO when it exists already: fine
    if typ == "OK":
        client.subscribe(_quote(name))


def _move(client: imaplib.IMAP4, uid: bytes, folder: str) -> None:
    if b"MOVE" in client.capabilities or "MOVE" in client.capabilities:
        typ, data = client.uid("MOVE", uid, _quote(folder))
        if typ == "OK":
            return
    typ, data = client.uid("COPY", uid, _quote(folder))
    if typ != "OK":
        raise imaplib.IMAP4.error(f"COPY {uid!r} → {folder}: {data!r}")
    client.uid("STORE", uid, "+FLAGS.SILENT", r"(\Deleted \Seen)")
    client.expunge()


def _size(client: imaplib.IMAP4, uid: bytes) -> int:
    typ, data = client.uid("FETCH", uid, "(RFC822.SIZE)")
    match = re.search(rb"RFC822\.SIZE (\d+)", b" ".join(d if isinstance(d, bytes) else b" ".join(d) for d in data
                                                           if d))
    return int(match.group(1)) if match else 0


def _fetch(client: imaplib.IMAP4, uid: bytes, what: str) -> bytes:
    typ, data = client.uid("FETCH", uid, f"({what})")
    for item in data or ():
        if isinstance(item, tuple) and len(item) == 2:
            return item[1]
    raise imaplib.IMAP4.error(f"FETCH {uid!r}: réponse inattendue")


@dataclass
class FetchResult:
    created: int = 0
    replies: int = 0
    ignored: int = 0
    duplicates: int = 0
    quarantined: int = 0

    def __str__(self) -> str:
        return (f"{self.created} demande(s) créée(s), {self.replies} réponse(s), {self.ignored} ignoré(s), "
                f"{self.duplicates} déjà traité(s), {self.quarantined} en quarantaine")


def fetch_mail(*, limit: int | None = None) -> FetchResult:
    """Process the messages waiting in the mailbox, one transaction each; a job-level function (commits)."""
    config = current_app.config
    if not config.get("IMAP_HOST"):
        raise MailError("IMAP_HOST n'est pas configuré.")
    result = FetchResult()
    client = imap_connect(config)
    try:
        processed, quarantine = config["IMAP_PROCESSED_FOLDER"], config["IMAP_QUARANTINE_FOLDER"]
        _ensure_folder(client, processed)
        _ensure_folder(client, quarantine)
        typ, data = client.select(_quote(config["IMAP_FOLDER"]))
        if typ != "OK":
            raise MailError(f"dossier IMAP introuvable : {config['IMAP_FOLDER']}")
        typ, data = client.uid("SEARCH", None, "UNDELETED")
        uids = (data[0] or b"").split()[: limit or config["IMAP_BATCH"]]
        for uid in uids:
            _process_uid(client, uid, processed, quarantine, result)
    finally:
        with contextlib.suppress(imaplib.IMAP4.error, OSError):
            client.logout()
    return result


def _process_uid(client, uid: bytes, processed: str, quarantine: str, result: FetchResult) -> None:
    size = _size(client, uid)
    cap = current_app.config["IMAP_MAX_MESSAGE_BYTES"]
    if size > cap:
        raw = _fetch(client, uid, "BODY.PEEK[HEADER]")
        quarantine_record(raw, f"message trop volumineux ({size} octets, maximum {cap})", size=size)
        db.session.commit()
        _move(client, uid, quarantine)
        result.quarantined += 1
        return
    raw = _fetch(client, uid, "BODY.PEEK[]")
    try:
        record = process_mail(raw)
        record.folder = processed
        db.session.commit()
    except Exception as error:  # noqa: BLE001 - any failure: quarantine, never block the others
        db.session.rollback()
        log.warning("incoming message %r quarantined: %s", uid, error, exc_info=True)
        quarantine_record(raw, f"{type(error).__name__}: {error}")
        db.session.commit()
        _move(client, uid, quarantine)
        result.quarantined += 1
        return
    _move(client, uid, processed)
    status = record.status
    if status == InboundStatus.TICKET_CREATED:
        result.created += 1
    elif status == InboundStatus.REPLY_ADDED:
        result.replies += 1
    elif status == InboundStatus.DUPLICATE:
        result.duplicates += 1
    else:
        result.ignored += 1

