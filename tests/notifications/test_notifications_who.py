"""Who is told what: requester mails, staff notifications, preferences and digests, escalations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from crm.core.extensions import db
from notifications import services as notif
from notifications.models import DeliveryMode, Notification, OutboxMessage
from tickets import services, workflow
from tickets.jobs import check_unassigned
from tickets.models import Priority, QueueMember, SlaPolicy
from tickets.sla_tracking import sweep_sla

MONDAY_10H = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
# Monday 8 November 2027, 10:00 in Paris: in the future, so deferred e-mails are not already due.
FUTURE_MONDAY_10H = datetime(2027, 11, 8, 9, 0, tzinfo=UTC)
FUTURE_SUNDAY_2AM = datetime(2027, 11, 14, 1, 0, tzinfo=UTC)


def outbox(*where):
    return db.session.scalars(sa.select(OutboxMessage).where(*where).order_by(OutboxMessage.id)).all()


def notes(user):
    return db.session.scalars(sa.select(Notification).where(Notification.user_id == user.id)
                              .order_by(Notification.id)).all()


def test_assignment_notifies_the_assignee_but_not_a_self_claim(make_ticket, make_user):
    ticket = make_ticket()
    agent, other = make_user("agent"), make_user("agent")
    services.claim_ticket(ticket, agent)
    assert notes(agent) == []
    services.assign_ticket(ticket, other, by=agent)
    [note] = notes(other)
    assert note.kind == "assigned" and ticket.reference in note.title and not note.read_at
    [mail] = outbox(OutboxMessage.recipient == other.email)
    assert mail.subject.startswith(f"[{ticket.reference}]") and "/notifications/" in mail.body_text


def test_requester_reply_notifies_the_assignee(make_ticket, make_user):
    ticket = make_ticket()
    agent = make_user("agent")
    services.claim_ticket(ticket, agent)
    workflow.add_requester_reply(ticket, body="Voici le document demandé.")
    [note] = notes(agent)
    assert note.kind == "requester_replied" and "Voici le document" in note.body


def test_referent_group_members_hear_of_a_routed_question(make_ticket, make_user, reference_data):
    referent = make_user("referent")
    db.session.add(QueueMember(queue=reference_data["queues"]["referents-amendements"], user=referent))
    db.session.flush()
    ticket = make_ticket(topic="avenant")
    [note] = notes(referent)
    assert note.kind == "referent_new" and ticket.reference in note.title


def test_digest_preference_holds_non_urgent_mails_until_the_digest(make_ticket, make_user):
    agent, boss = make_user("agent"), make_user("manager")
    notif.set_delivery_mode(agent, DeliveryMode.DIGEST)
    for i in range(2):
        services.assign_ticket(make_ticket(subject=f"Demande {i}"), agent, by=boss)
    assert len(notes(agent)) == 2 and outbox(OutboxMessage.recipient == agent.email) == []

    assert notif.send_digests() == 1
    [digest] = outbox(OutboxMessage.recipient == agent.email)
    assert digest.kind == "digest" and "Demande 0" in digest.body_text and "Demande 1" in digest.body_text
    assert notif.send_digests() == 0  # nothing pending any more


def test_urgent_notifications_bypass_the_digest(make_ticket, make_user):
    agent, boss = make_user("agent"), make_user("manager")
    notif.set_delivery_mode(agent, DeliveryMode.DIGEST)
    services.assign_ticket(make_ticket(priority=Priority.URGENT), agent, by=boss)
    [mail] = outbox(OutboxMessage.recipient == agent.email)
    assert mail.subject.split("] ", 1)[1].startswith("[Urgent]")


def test_unread_count_and_mark_read(make_ticket, make_user):
    agent, boss = make_user("agent"), make_user("manager")
    for _ in range(3):
        services.assign_ticket(make_ticket(), agent, by=boss)
    assert notif.unread_count(agent) == 3
    first = notes(agent)[0]
    assert notif.mark_read(agent, first.id) == 1
    assert notif.unread_count(agent) == 2
    assert notif.mark_read(agent) == 2 and notif.unread_count(agent) == 0


def test_resolution_sends_the_survey_link(make_ticket, make_user):
    ticket = make_ticket()
    agent = make_user("agent")
    services.reply_to_ticket(ticket, author=agent, body="Réponse")
    services.resolve_ticket(ticket, by=agent)
    [mail] = outbox(OutboxMessage.kind == "resolved")
    assert "http://localhost/enquete/" in mail.body_text
    assert mail.body_html.count("?note=") == 5


def test_auto_answer_mail_from_the_expert_signal(make_ticket):
    from expert import signals as expert_signals

    class Article:
        id = 42
        external_id = "comment-deposer"
        question = "Comment déposer ?"
        answer = "Rendez-vous sur **la plateforme**.<script>alert(1)</script>"

    ticket = make_ticket()
    expert_signals.auto_answered.send(ticket, article=Article(), decision=None, access_key="cle-secrete")
    [mail] = outbox(OutboxMessage.kind == "auto_answer")
    assert "<strong>la plateforme</strong>" in mail.body_html and "<script>" not in mail.body_html
    assert f"/demandes/{ticket.reference}?cle=cle-secrete" in mail.body_text
    assert "comment-deposer" in mail.body_text  # the link to the article


# -- escalations ----------------------------------------------------------------------------------


def _staffed_ticket(make_ticket, make_user, reference_data, at=MONDAY_10H, **kw):
    manager = make_user("manager")
    agent = make_user("agent")
    reference_data["queues"]["support"].manager = manager
    ticket = make_ticket(created_at=at, topic="depot", **kw)
    services.claim_ticket(ticket, agent, now=at)
    return ticket, agent, manager


def test_at_risk_warns_the_assignee_and_breach_reaches_the_manager_once(make_ticket, make_user, reference_data):
    ticket, agent, manager = _staffed_ticket(make_ticket, make_user, reference_data)
    sweep_sla(ticket.first_response_warn_at + timedelta(minutes=1))
    assert [n.kind for n in notes(agent)] == ["sla_at_risk"]
    assert notes(manager) == []

    breach = ticket.first_response_due_at + timedelta(minutes=1)
    sweep_sla(breach)
    sweep_sla(breach + timedelta(minutes=5))  # a second sweep changes nothing
    assert [n.kind for n in notes(agent)] == ["sla_at_risk", "sla_breached"]
    assert [n.kind for n in notes(manager)] == ["sla_breached_manager"]
    assert len(outbox(OutboxMessage.recipient == manager.email)) == 1
    assert len(outbox(OutboxMessage.recipient == agent.email)) == 2


def test_business_hours_escalation_waits_for_the_next_open_instant(make_ticket, make_user, reference_data):
    ticket, agent, manager = _staffed_ticket(make_ticket, make_user, reference_data, at=FUTURE_MONDAY_10H)
    assert ticket.first_response_due_at < FUTURE_SUNDAY_2AM  # breached on Wednesday, swept on Sunday night
    sweep_sla(FUTURE_SUNDAY_2AM)
    [mail] = outbox(OutboxMessage.recipient == manager.email)
    assert mail.next_attempt_at == datetime(2027, 11, 15, 8, 0, tzinfo=UTC)  # Monday 09:00 in Paris
    assert all(m.next_attempt_at == mail.next_attempt_at for m in outbox(OutboxMessage.recipient == agent.email))


def test_urgent_24_7_escalation_is_sent_at_once(make_ticket, make_user, reference_data):
    sunday_1am = FUTURE_SUNDAY_2AM - timedelta(hours=1)
    ticket, agent, manager = _staffed_ticket(make_ticket, make_user, reference_data, at=sunday_1am,
                                             priority=Priority.URGENT)
    assert ticket.sla_policy.name == "Urgence 24/7"
    swept = sunday_1am + timedelta(hours=5)  # first response (4 h) breached at 05:00 on Sunday
    sweep_sla(swept)
    [mail] = outbox(OutboxMessage.recipient == manager.email)
    assert mail.next_attempt_at == swept  # not deferred: the 24/7 calendar is open


def test_policy_can_raise_priority_and_requeue_on_breach(make_ticket, make_user, reference_data):
    policy = db.session.scalar(sa.select(SlaPolicy).where(SlaPolicy.name == "Standard"))
    policy.escalation = {"warn_assignee": False, "notify_manager_on_breach": True,
                         "raise_priority_on_breach": True, "reassign_to_queue_on_breach": True}
    ticket, agent, manager = _staffed_ticket(make_ticket, make_user, reference_data)
    assert ticket.sla_policy.name == "Standard"
    sweep_sla(ticket.first_response_due_at + timedelta(minutes=1))
    assert ticket.priority == Priority.HIGH
    assert ticket.assignee is None
    assert [n.kind for n in notes(agent)] == []  # warn_assignee off
    assert [n.kind for n in notes(manager)] == ["sla_breached_manager"]


def test_unassigned_too_long_tells_the_manager_once(make_ticket, make_user, reference_data, app):
    manager = make_user("manager")
    reference_data["queues"]["support"].manager = manager
    ticket = make_ticket(created_at=MONDAY_10H, topic="depot")
    assert check_unassigned(MONDAY_10H + timedelta(minutes=30)) == 0
    later = MONDAY_10H + timedelta(minutes=app.config["UNASSIGNED_ALERT_MINUTES"] + 90)
    assert check_unassigned(later) == 1
    assert check_unassigned(later + timedelta(hours=1)) == 0
    [note] = notes(manager)
    assert note.kind == "unassigned" and note.ticket_id == ticket.id
