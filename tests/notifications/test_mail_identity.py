"""E-mail identity: only the ticket's reply token or our Message-ID threads a mail, and only from the requester with
no DMARC failure; the trusted relay's Authentication-Results are recorded and shown (real mail, real Dovecot)."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from email.utils import parseaddr

import pytest
import sqlalchemy as sa
from mail_servers import DovecotServer

from crm.core.extensions import db
from notifications.emails import build_message
from notifications.mail_in import authentication, parse_authentication_results, parse_mail, process_mail
from notifications.models import InboundMail, InboundStatus, OutboxMessage
from tickets.models import AuthorKind, Message, Ticket

RELAY = "mx.agence.example"
REQUESTER = "Jeanne Demandeur <jeanne@labo.example>"


@pytest.fixture(autouse=True)
def _trusted_relay(app):
    saved = {k: app.config.get(k) for k in ("MAIL_AUTHSERV_ID", "MAIL_INTAKE_ADDRESS")}
    app.config.update(MAIL_AUTHSERV_ID=RELAY, MAIL_INTAKE_ADDRESS="Guichet <guichet@agence.example>")
    yield
    app.config.update(saved)


def auth_results(dkim="pass", spf="pass", dmarc="pass", domain="labo.example", authserv_id=RELAY) -> str:
    return (f"{authserv_id}; dkim={dkim} (2048-bit key; unprotected) header.d={domain} header.s=s1 "
            f"header.b=AbCd; spf={spf} (domain of {domain} designates 192.0.2.1 as permitted sender) "
            f"smtp.mailfrom={domain}; dmarc={dmarc} (p=REJECT sp=REJECT dis=NONE) header.from={domain}")


def mail(body="Bonjour,\nComment déposer ma proposition ?\n", *, subject="Question sur le dépôt", sender=REQUESTER,
         to="guichet@agence.example", message_id="<m1@client.example>", auth: str | list[str] | None = None,
         **headers) -> bytes:
    message = EmailMessage()
    for value in ([auth] if isinstance(auth, str) else auth or []):
        message["Authentication-Results"] = value
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = message_id
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message.as_bytes()


def ack_of(ticket: Ticket) -> OutboxMessage:
    return db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.ticket_id == ticket.id,
                                                            OutboxMessage.kind == "ack"))


def reply_to_ack(ack: OutboxMessage, body: str, *, sender=REQUESTER, message_id="<r1@client.example>",
                 auth=None, thread=True) -> bytes:
    """What a mail client sends when the requester presses "Reply" on our acknowledgement."""
    sent = build_message(ack)
    headers = {"In_Reply_To": sent["Message-ID"], "References": sent["Message-ID"]} if thread else {}
    return mail(body, subject=f"RE: {sent['Subject']}", sender=sender, to=str(sent["Reply-To"]),
                message_id=message_id, auth=auth, **headers)


def opened(raw: bytes | None = None) -> Ticket:
    record = process_mail(raw or mail(auth=auth_results()))
    assert record.status == InboundStatus.TICKET_CREATED
    return db.session.get(Ticket, record.ticket_id)


# -- reading the relay's results (no database) --------------------------------------------------------------


def test_authentication_results_are_parsed_with_comments_and_versions():
    authserv_id, methods = parse_authentication_results(
        "MX.Agence.example 1; dkim=pass (good (nested) signature) header.d=Labo.example header.i=@labo.example;"
        " dkim=fail header.d=other.example; spf=softfail smtp.mailfrom=x.example; dmarc=pass header.from=labo.example")
    assert authserv_id == "mx.agence.example"
    assert methods["dkim"] == [("pass", {"header.d": "labo.example", "header.i": "@labo.example"}),
                               ("fail", {"header.d": "other.example"})]
    assert methods["spf"][0][0] == "softfail" and methods["dmarc"][0][0] == "pass"


@pytest.mark.parametrize("header, verdict", [
    (auth_results(), "dkim"),
    (auth_results(domain="mail.labo.example"), "dkim"),  # a subdomain signature is aligned (relaxed)
    (auth_results(dkim="fail", dmarc="pass"), "spf"),
    (auth_results(domain="ailleurs.example", dmarc="fail"), "fail"),
    (auth_results(domain="ailleurs.example", dmarc="none"), "none"),  # a signature, but not of the sender
    (f"{RELAY}; none", "none"),
    (auth_results(authserv_id="mx.attaquant.example"), "none"),  # written by the sender: not believed
])
def test_only_the_trusted_relay_is_believed(app, header, verdict):
    msg = email.message_from_bytes(mail(auth=header), policy=email.policy.default)
    assert authentication(msg, "jeanne@labo.example")["verdict"] == verdict


def test_the_topmost_header_of_the_relay_wins_over_a_forged_one_below(app):
    forged_below = auth_results()  # the sender wrote it before the mail reached our relay
    raw = mail(auth=[auth_results(dkim="fail", dmarc="fail"), forged_below])
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert authentication(msg, "jeanne@labo.example")["verdict"] == "fail"


def test_no_authserv_id_configured_believes_nothing(app):
    app.config["MAIL_AUTHSERV_ID"] = None
    assert parse_mail(mail(auth=auth_results())).auth == {"authserv_id": None, "verdict": "none"}


def test_reply_tags_come_from_our_intake_address_only(app):
    parsed = parse_mail(mail(to="Guichet <guichet+abcdefghijklmnop@agence.example>, x+zzzzzzzzzzzz@agence.example",
                             Cc="guichet+qrstuvwxyz234567@ailleurs.example",
                             Delivered_To="guichet+deliv3red@agence.example"))
    assert parsed.reply_tags == ["abcdefghijklmnop", "deliv3red"]


# -- threading (database) -----------------------------------------------------------------------------------


def test_our_mails_carry_the_ticket_reply_token_in_reply_to(reference_data):
    ticket = opened()
    sent = build_message(ack_of(ticket))
    name, address = parseaddr(str(sent["Reply-To"]))
    assert address == f"guichet+{ticket.reply_token}@agence.example" and name == "Guichet"
    assert len(ticket.reply_token) == 24
    assert ticket.requester is None and ticket.requester_confirmed_at is None


def test_pressing_reply_threads_by_the_token_alone(reference_data):
    ticket = opened()
    record = process_mail(reply_to_ack(ack_of(ticket), "Voici la précision.", auth=auth_results(), thread=False))
    assert (record.status, record.ticket_id) == (InboundStatus.REPLY_ADDED, ticket.id)
    assert ticket.messages[-1].body == "Voici la précision."


def test_our_message_id_in_the_chain_threads_but_the_requesters_own_does_not(reference_data):
    ticket = opened()
    by_chain = process_mail(mail("Suite.", subject="Re: whatever", message_id="<r1@c>",
                                 In_Reply_To=ack_of(ticket).message_id))
    own_only = process_mail(mail("Autre.", subject="Re: Question", message_id="<r2@c>",
                                 In_Reply_To="<m1@client.example>", References="<m1@client.example>"))
    assert (by_chain.status, by_chain.ticket_id) == (InboundStatus.REPLY_ADDED, ticket.id)
    assert own_only.status == InboundStatus.TICKET_CREATED and own_only.ticket_id != ticket.id


def test_forged_from_with_the_reference_in_the_subject_opens_a_new_request_with_the_reason(reference_data):
    ticket = opened()
    before = [m.body for m in ticket.messages]
    record = process_mail(mail("Annulez ma demande et écrivez à pirate@ailleurs.example.",
                               subject=f"Re: [{ticket.reference}] Question sur le dépôt", message_id="<forged@x>",
                               auth=auth_results(dkim="none", spf="fail", dmarc="fail")))
    assert record.status == InboundStatus.TICKET_CREATED and record.ticket_id != ticket.id
    assert f"la référence {ticket.reference} est citée dans l'objet sans le jeton de réponse" in record.detail
    db.session.expire(ticket)
    assert [m.body for m in ticket.messages] == before  # nothing added to the real requester's ticket
    new = db.session.get(Ticket, record.ticket_id)
    [note] = [m for m in new.messages if m.internal]
    assert note.author_kind == AuthorKind.SYSTEM and ticket.reference in note.body and "non rattaché" in note.body
    assert new.requester is None  # not linked to any account either


def test_the_token_from_another_sender_does_not_thread(reference_data):
    ticket = opened()
    record = process_mail(reply_to_ack(ack_of(ticket), "Je m'immisce.", sender="intrus@ailleurs.example",
                                       auth=auth_results(domain="ailleurs.example")))
    assert record.status == InboundStatus.TICKET_CREATED and record.ticket_id != ticket.id
    assert "vient de intrus@ailleurs.example, qui n'en est pas le demandeur" in record.detail


def test_a_dmarc_failure_from_the_requesters_address_does_not_thread(reference_data):
    ticket = opened()
    record = process_mail(reply_to_ack(ack_of(ticket), "Message usurpé.",
                                       auth=auth_results(dkim="fail", spf="fail", dmarc="fail")))
    assert record.status == InboundStatus.TICKET_CREATED and record.ticket_id != ticket.id
    assert "échec DMARC pour jeanne@labo.example" in record.detail
    assert record.auth_results["dmarc"] == "fail"


def test_an_email_request_is_not_linked_to_the_account_of_its_address(reference_data, make_user):
    make_user("requester", email="jeanne@labo.example")
    ticket = opened()
    assert ticket.requester_id is None
    assert "/confirmer-adresse?jeton=" in ack_of(ticket).body_text


def test_authentication_is_recorded_and_shown_to_the_agent(reference_data, client, make_user, login):
    ticket = opened(mail(auth=auth_results()))
    process_mail(reply_to_ack(ack_of(ticket), "Précision non signée.", auth=f"{RELAY}; none"))
    record = db.session.scalar(sa.select(InboundMail).where(InboundMail.message_key == "<m1@client.example>"))
    assert record.auth_results["verdict"] == "dkim" and record.auth_results["dkim_domains"] == ["labo.example"]
    assert [m.email_auth["verdict"] for m in ticket.messages if not m.internal] == ["dkim", "none"]
    login(make_user("agent"))
    html = client.get(f"/agent/demandes/{ticket.reference}").get_data(as_text=True)
    assert html.count("guichet-auth-badge") == 2
    assert "Authentifié (DKIM)" in html and "Non authentifié" in html
    assert "adresse non confirmée" in html
    client.post("/deconnexion")
    login(make_user("admin"))
    listing = client.get("/admin/courriels-recus").get_data(as_text=True)
    assert "DKIM pass · SPF pass · DMARC pass" in listing  # the first mail, as the relay found it


# -- through a real IMAP server -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dovecot():
    server = DovecotServer().start()
    yield server
    server.stop()


@pytest.fixture
def mailbox(app, dovecot):
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


def test_through_the_mailbox_a_genuine_reply_threads_and_a_forged_one_does_not(mailbox, reference_data):
    from notifications.mail_in import fetch_mail

    mailbox.append(mail(auth=auth_results()))
    assert fetch_mail().created == 1
    ticket = db.session.scalar(sa.select(Ticket))
    mailbox.append(reply_to_ack(ack_of(ticket), "Merci, voici le budget.", auth=auth_results()))
    mailbox.append(mail("Changez l'adresse de versement.", subject=f"Re: [{ticket.reference}] Question sur le dépôt",
                        message_id="<forged@x>", auth=auth_results(dkim="none", dmarc="fail")))
    result = fetch_mail()
    assert (result.replies, result.created, result.quarantined) == (1, 1, 0)
    bodies = list(db.session.scalars(sa.select(Message.body).where(Message.ticket_id == ticket.id,
                                                                   Message.internal.is_(False))
                                     .order_by(Message.id)))
    assert bodies == ["Bonjour,\nComment déposer ma proposition ?", "Merci, voici le budget."]
    forged = db.session.scalar(sa.select(InboundMail).where(InboundMail.message_key == "<forged@x>"))
    assert forged.status == InboundStatus.TICKET_CREATED and "sans le jeton de réponse" in forged.detail
    assert forged.auth_results["verdict"] == "fail"
