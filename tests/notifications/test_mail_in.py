"""E-mail in: parsing real-world mail, then mail → ticket against a real Dovecot IMAP server."""

from __future__ import annotations

from email.message import EmailMessage
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

import pytest
import sqlalchemy as sa
from mail_servers import DovecotServer

from crm.core.extensions import db
from notifications.mail_in import html_to_text, parse_mail, process_mail, strip_quotes
from notifications.models import InboundMail, InboundStatus, OutboxMessage
from tickets import services
from tickets.models import Channel, Message, Ticket


def mail(body="Bonjour,\nComment déposer ma proposition ?\n", *, subject="Question sur le dépôt",
         sender="Jeanne Demandeur <jeanne@labo.example>", message_id="<m1@client.example>", **headers) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "guichet@agence.example"
    message["Subject"] = subject
    if message_id:
        message["Message-ID"] = message_id
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message.as_bytes()


# -- parsing (no server) --------------------------------------------------------------------------

FRENCH_REPLY = """Merci, c'est très clair.

Bien cordialement,
Jeanne

Le lun. 2 nov. 2026 à 10:00, Guichet <guichet@agence.example> a
écrit :
> Bonjour,
> voici la procédure.
"""


@pytest.mark.parametrize("text, expected", [
    (FRENCH_REPLY, "Merci, c'est très clair.\n\nBien cordialement,\nJeanne"),
    ("Merci.\n\nLe 02/11/2026 à 10:00, Support a écrit :\n> texte\n", "Merci."),
    ("Merci.\n\nDe : Guichet <g@a.example>\nEnvoyé : lundi 2 novembre 2026 10:00\nÀ : moi\nObjet : x\n\ntexte",
     "Merci."),
    ("Merci.\n\n-----Message d'origine-----\nDe : Guichet\n", "Merci."),
    ("Merci beaucoup.\n--\nJeanne Demandeur\nLaboratoire X\n", "Merci beaucoup."),
    ("Thanks.\n\nOn Mon, Nov 2, 2026 at 10:00 AM Guichet <g@a.example> wrote:\n> hello\n", "Thanks."),
    ("Merci.\n\nEnvoyé de mon iPhone", "Merci."),
    ("> tout est cité\n> rien de neuf\n", "> tout est cité\n> rien de neuf"),  # never empty
])
def test_strip_quotes_handles_french_and_english_clients(text, expected):
    assert strip_quotes(text) == expected


def test_html_only_body_becomes_text(app):
    html = ("<html><head><style>p{color:red}</style></head><body><p>Bonjour,</p><p>Ma question&nbsp;: "
            "<b>délai</b> ?</p><script>alert(1)</script><ul><li>un</li><li>deux</li></ul></body></html>")
    assert html_to_text(html) == "Bonjour,\n\nMa question : délai ?\n\n- un\n\n- deux"
    message = MIMEText(html, "html", "utf-8")
    message["From"], message["Subject"] = "a@b.example", "HTML"
    assert "Ma question : délai ?" in parse_mail(message.as_bytes()).body


def test_wrong_and_unknown_charsets_are_survived(app):
    declared_latin_but_utf8 = (b"From: a@b.example\r\nSubject: x\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
                               b"\r\n" + "Déjà répondu, cœur".encode())
    assert parse_mail(declared_latin_but_utf8).body == "Déjà répondu, cœur"
    unknown = (b"From: a@b.example\r\nSubject: =?x-unknown?q?caf=E9?=\r\n"
               b"Content-Type: text/plain; charset=x-klingon\r\n\r\n" + "Réponse".encode("cp1252"))
    parsed = parse_mail(unknown)
    assert parsed.body == "Réponse"
    no_charset_8bit = b"From: a@b.example\r\nSubject: x\r\n\r\n" + "Problème".encode("latin-1")
    assert parse_mail(no_charset_8bit).body == "Problème"


@pytest.mark.parametrize("headers", [
    {"Auto_Submitted": "auto-replied"},
    {"Precedence": "bulk"},
    {"X_Autoreply": "yes"},
    {"Return_Path": "<>"},
    {"List_Id": "<annonces.agence.example>"},
])
def test_auto_replies_and_bounces_are_recognised(app, headers):
    assert parse_mail(mail(**headers)).auto_reason


def test_mailer_daemon_is_a_bounce(app):
    assert parse_mail(mail(sender="MAILER-DAEMON@mx.example")).auto_reason


def test_a_person_is_not_an_auto_reply(app):
    assert parse_mail(mail(Auto_Submitted="no")).auto_reason is None


# -- processing (database, no server) -------------------------------------------------------------


def test_new_message_opens_a_ticket_by_email_with_acknowledgement(reference_data):
    record = process_mail(mail())
    ticket = db.session.get(Ticket, record.ticket_id)
    assert record.status == InboundStatus.TICKET_CREATED
    assert (ticket.channel, ticket.requester_email, ticket.requester_name) == (
        Channel.EMAIL, "jeanne@labo.example", "Jeanne Demandeur")
    assert ticket.requester is None  # no account needed
    assert ticket.messages[0].email_message_id == "<m1@client.example>"
    [ack] = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.kind == "ack")).all()
    assert ack.in_reply_to == "<m1@client.example>"  # threads under the requester's own message


def test_reply_is_matched_by_in_reply_to_not_by_the_subject_alone(reference_data):
    ticket = db.session.get(Ticket, process_mail(mail()).ticket_id)
    ack = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.kind == "ack"))
    by_header = process_mail(mail(FRENCH_REPLY, subject="Re: whatever", message_id="<m2@client.example>",
                                  In_Reply_To=ack.message_id))
    by_subject = process_mail(mail("Encore une précision.", subject=f"Re: [{ticket.reference}] Question",
                                   message_id="<m3@client.example>"))
    assert (by_header.status, by_header.ticket_id) == (InboundStatus.REPLY_ADDED, ticket.id)
    # the reference alone proves nothing (tests/notifications/test_mail_identity.py): a new request, with why
    assert by_subject.status == InboundStatus.TICKET_CREATED and by_subject.ticket_id != ticket.id
    assert "sans le jeton de réponse" in by_subject.detail
    bodies = [m.body for m in ticket.messages]
    assert bodies[1:] == ["Merci, c'est très clair.\n\nBien cordialement,\nJeanne"]


def test_someone_else_quoting_a_reference_opens_their_own_ticket(reference_data):
    ticket = db.session.get(Ticket, process_mail(mail()).ticket_id)
    record = process_mail(mail(subject=f"Re: [{ticket.reference}]", sender="intrus@ailleurs.example",
                               message_id="<x@ailleurs.example>"))
    assert record.status == InboundStatus.TICKET_CREATED and record.ticket_id != ticket.id


def test_reply_to_a_closed_ticket_opens_a_new_one(reference_data, make_user):
    ticket = db.session.get(Ticket, process_mail(mail()).ticket_id)
    services.change_status(ticket, "closed", by=make_user("agent"))
    ack = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.kind == "ack"))
    record = process_mail(mail("Encore moi", subject=f"Re: [{ticket.reference}] Question", message_id="<m9@c>",
                               In_Reply_To=ack.message_id))
    assert record.status == InboundStatus.TICKET_CREATED
    new = db.session.get(Ticket, record.ticket_id)
    assert new.messages[0].body.startswith(f"Suite de la demande {ticket.reference}")


def test_the_same_message_twice_is_processed_once(reference_data):
    first = process_mail(mail())
    second = process_mail(mail())
    assert second.status == InboundStatus.DUPLICATE and second.ticket_id == first.ticket_id
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Ticket)) == 1


def test_attachments_kept_and_refused_ones_noted(reference_data):
    message = MIMEMultipart()
    message["From"], message["Subject"], message["Message-ID"] = "a@labo.example", "Pièces", "<att@c>"
    message.attach(MIMEText("Voici mes pièces.", "plain", "utf-8"))
    pdf = MIMEApplication(b"%PDF-1.4 contenu", "pdf")
    pdf.add_header("Content-Disposition", "attachment", filename="budget.pdf")
    exe = MIMEApplication(b"MZ\x90\x00", "octet-stream")
    exe.add_header("Content-Disposition", "attachment", filename="virus.exe")
    message.attach(pdf)
    message.attach(exe)
    record = process_mail(message.as_bytes())
    first = db.session.get(Ticket, record.ticket_id).messages[0]
    assert [a.filename for a in first.attachments] == ["budget.pdf"]
    assert "Pièce jointe refusée" in first.body and "virus.exe" in first.body


# -- against a real IMAP server -------------------------------------------------------------------


@pytest.fixture(scope="module")
def dovecot():
    server = DovecotServer().start()  # fails with a clear message when Dovecot is missing: never skipped
    yield server
    server.stop()


@pytest.fixture
def mailbox(app, dovecot):
    """The app reads the Dovecot mailbox; folders are emptied before each test."""
    saved = {k: app.config.get(k) for k in dovecot.config()}
    app.config.update(dovecot.config())
    client = dovecot.client()
    for folder in ("INBOX", app.config["IMAP_PROCESSED_FOLDER"], app.config["IMAP_QUARANTINE_FOLDER"]):
        if client.select(f'"{folder}"')[0] == "OK":
            client.uid("STORE", "1:*", "+FLAGS.SILENT", r"(\Deleted)")
            client.expunge()
    client.logout()
    yield dovecot
    app.config.update(saved)


def test_fetch_turns_mailbox_messages_into_tickets_and_moves_them(mailbox, reference_data, app):
    from notifications.mail_in import fetch_mail

    mailbox.append(mail())
    mailbox.append(mail("Réponse automatique : je suis absente.", message_id="<auto@c>",
                        Auto_Submitted="auto-replied"))
    mailbox.append(b"From: \r\nSubject: \xff\xfe\r\nContent-Type: multipart/mixed\r\n\r\n--sans fin")
    mailbox.append(mail("Autre question", subject="Deuxième demande", message_id="<m2@c>",
                        sender="karim@labo.example"))

    result = fetch_mail()

    assert (result.created, result.ignored, result.quarantined) == (2, 1, 1)
    assert mailbox.messages("INBOX") == []
    assert len(mailbox.messages(app.config["IMAP_PROCESSED_FOLDER"])) == 3
    [bad] = mailbox.messages(app.config["IMAP_QUARANTINE_FOLDER"])
    assert b"--sans fin" in bad  # moved aside intact, never lost
    records = {r.status: r for r in db.session.scalars(sa.select(InboundMail))}
    assert "expéditeur illisible" in records[InboundStatus.QUARANTINED].detail
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Ticket)) == 2

    again = fetch_mail()  # nothing is fetched twice
    assert (again.created, again.ignored, again.quarantined) == (0, 0, 0)


def test_huge_message_is_quarantined_without_blocking_the_next(mailbox, reference_data, app):
    from notifications.mail_in import fetch_mail

    app.config["IMAP_MAX_MESSAGE_BYTES"], saved = 50_000, app.config["IMAP_MAX_MESSAGE_BYTES"]
    try:
        mailbox.append(mail("x" * 200_000, subject="Énorme", message_id="<big@c>"))
        mailbox.append(mail())
        result = fetch_mail()
    finally:
        app.config["IMAP_MAX_MESSAGE_BYTES"] = saved
    assert (result.created, result.quarantined) == (1, 1)
    record = db.session.scalar(sa.select(InboundMail).where(InboundMail.status == InboundStatus.QUARANTINED))
    assert "trop volumineux" in record.detail and record.subject == "Énorme"


def test_emailed_reply_lands_on_its_ticket(mailbox, reference_data, app):
    from notifications.mail_in import fetch_mail

    mailbox.append(mail())
    fetch_mail()
    ticket = db.session.scalar(sa.select(Ticket))
    ack = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.kind == "ack"))
    mailbox.append(mail(FRENCH_REPLY, subject=f"RE: {ack.subject}", message_id="<m2@c>",
                        In_Reply_To=ack.message_id, References=f"<m1@client.example> {ack.message_id}"))
    result = fetch_mail()
    assert result.replies == 1
    assert [m.email_message_id for m in db.session.scalars(
        sa.select(Message).where(Message.ticket_id == ticket.id).order_by(Message.id))] == [
        "<m1@client.example>", "<m2@c>"]
