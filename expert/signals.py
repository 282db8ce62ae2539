"""Signals the expert module sends; notifications subscribes to them by name (``expert.<name>``).

Receivers run inside the current transaction: they write (outbox rows), they never send anything themselves.
"""

from __future__ import annotations

from blinker import signal

#: A ticket was answered automatically from the knowledge base (sent once the ticket exists with its SLA).
#: Sender: the Ticket. kwargs: article (knowledge_base Article), decision (TriageDecision),
#: access_key (the requester's clear secret key for the follow link, or None).
#: The e-mail should offer "Cela répond à ma question" and "J'ai besoin d'un conseiller": both are
#: buttons on the follow page (POST tickets_triage.confirm_answer / tickets_triage.ask_advisor).
auto_answered = signal("expert.auto-answered")
#: The requester confirmed the automatic answer (ticket resolved, counted as deflected). Sender: Ticket.
answer_confirmed = signal("expert.answer-confirmed")
#: The requester asked for an advisor after an automatic answer. Sender: Ticket. kwargs: queue.
advisor_requested = signal("expert.advisor-requested")
