"""What automatic mails carry: nothing typed on the form to an unconfirmed address, no remote image from Markdown."""

from __future__ import annotations

import flask_babel
import pytest
import sqlalchemy as sa
from mail_servers import SmtpCatcher

from crm.core.extensions import db
from notifications.outbox import dispatch_outbox
from tickets.emails import markdown_html, markdown_text
from tickets.models import Ticket

ATTACK_SUBJECT = "Votre compte sera suspendu : payez sur http://pirate.example"
ATTACK_NAME = "Service des impôts"
ATTACK_BODY = "Rendez-vous sur http://pirate.example/paiement avant demain."


@pytest.fixture
def smtp(app):
    server = SmtpCatcher().start()
    saved = {k: app.config.get(k) for k in server.config()}
    app.config.update(server.config())
    yield server
    server.stop()
    app.config.update(saved)


def _parts(mail) -> tuple[str, str]:
    return (mail.get_body(preferencelist=("plain",)).get_content(),
            mail.get_body(preferencelist=("html",)).get_content())


def _submit(client, **fields):
    data = {"name": ATTACK_NAME, "email": "victime@labo.example", "topic": "depot", "subject": ATTACK_SUBJECT,
            "message": ATTACK_BODY, "project_reference": "", "website": ""}
    data.update(fields)
    db.session.commit()
    response = client.post("/demande", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)[:400]


@pytest.mark.parametrize("locale", ["fr", "en"])
def test_the_acknowledgement_to_an_unconfirmed_address_echoes_nothing_typed(client, reference_data, smtp, locale):
    if locale == "en":
        client.post("/langue", data={"lang": "en", "next": "/demande"})
        flask_babel.refresh()  # the test's app context spans requests: choose the locale afresh
    _submit(client)
    dispatch_outbox()
    [mail] = smtp.messages
    assert mail["To"] == "victime@labo.example"
    text, html = _parts(mail)
    everything = mail["Subject"] + text + html
    for typed in (ATTACK_SUBJECT, ATTACK_NAME, ATTACK_BODY, "pirate.example"):
        assert typed not in everything, typed
    reference = mail["Subject"][1:].split("]")[0]
    assert reference.startswith("DEM-") and reference in text and reference in html
    assert f"/demandes/{reference}?cle=" in text  # the follow link is there
    expected = {"fr": "Accusé de réception de votre demande", "en": "We received your request"}[locale]
    assert mail["Subject"] == f"[{reference}] {expected}"
    handled = {"fr": "Votre demande est traitée par :", "en": "Your request is handled by:"}[locale]
    ticket = db.session.scalar(sa.select(Ticket).where(Ticket.reference == reference))
    assert f"{handled} {ticket.queue.name}." in text and ticket.queue.name in html  # who answers, and by when
    assert {"fr": "au plus tard le", "en": "first answer by"}[locale] in text


def test_a_requester_signed_in_as_the_address_gets_their_subject_back(client, reference_data, smtp, make_user,
                                                                      login):
    login(make_user("requester", email="jeanne@labo.example", name="Jeanne Martin"))
    _submit(client, email="Jeanne@Labo.example", name="Jeanne Martin", subject="Dépôt de mon annexe")
    dispatch_outbox()
    [mail] = smtp.messages
    text, _html = _parts(mail)
    assert mail["Subject"].endswith("] Accusé de réception : Dépôt de mon annexe")
    assert "Bonjour Jeanne Martin" in text and "« Dépôt de mon annexe »" in text


def test_signed_in_as_another_address_is_not_a_confirmation(client, reference_data, smtp, make_user, login):
    login(make_user("requester", email="attaquant@labo.example"))
    _submit(client)
    dispatch_outbox()
    [mail] = smtp.messages
    assert ATTACK_SUBJECT not in mail["Subject"] and ATTACK_NAME not in _parts(mail)[0]


def test_the_automatic_answer_to_an_unconfirmed_address_has_no_remote_image(make_ticket, smtp):
    from expert import signals as expert_signals

    class Article:
        id = 7
        external_id = "kb-depot"
        question = "Comment déposer ?"
        answer = ("Voir la **plateforme**.\n\n![Capture de la plateforme](https://traceur.example/pixel.png \"t\")\n\n"
                  "Par référence : ![schéma][s] et brut : <img src=\"http://traceur.example/b.gif\" alt=\"brut\">\n\n"
                  "[s]: http://traceur.example/schema.png\n")

    ticket = make_ticket(subject=ATTACK_SUBJECT, requester_name=ATTACK_NAME)
    smtp.messages.clear()
    expert_signals.auto_answered.send(ticket, article=Article(), decision=None, access_key="cle")
    dispatch_outbox()
    [mail] = [m for m in smtp.messages if "Une réponse à votre question" in m["Subject"]]
    text, html = _parts(mail)
    assert mail["Subject"] == f"[{ticket.reference}] Une réponse à votre question"
    assert ATTACK_NAME not in text + html
    assert "<img" not in html and "traceur.example/pixel" not in html and "traceur.example/b.gif" not in html
    assert "Capture de la plateforme" in html and "schéma" in html and "<strong>plateforme</strong>" in html
    assert "Capture de la plateforme" in text and "pixel.png" not in text and "b.gif" not in text
    assert "brut" in text


def test_markdown_images_become_their_alt_text():
    assert markdown_text('a ![x](http://h/i.png "t") b ![y][r] <IMG SRC=x ALT=\'z\'> <img src=q>') == "a x b y z "
    html = str(markdown_html("![logo](https://h.example/l.png) **gras** [lien](https://h.example)"))
    assert html == '<p>logo <strong>gras</strong> <a href="https://h.example" rel="noopener noreferrer">lien</a></p>'
    assert "<img" not in str(markdown_html('<p><img src="https://h.example/x.png"> après</p>'))
