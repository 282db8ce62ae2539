"""Signals of the expert module's outcomes (sent by tickets.triage); tickets.subscribers connects to them.

Receivers run inside the current transaction: they write (outbox rows), they never send anything themselves.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

#: A ticket was answered automatically from the knowledge base (sent once the ticket exists with its SLA).
#: Sender: the Ticket. kwargs: article (knowledge_base Article), decision (TriageDecision),
#: access_key (the requester's clear secret key for the follow link, or None), first_message (the requester's
#: first Message when the ticket was just created, else None: its Message-ID threads the e-mail).
#: The e-mail should offer "Cela répond à ma question" and "J'ai besoin d'un conseiller": both are
#: buttons on the follow page (POST tickets_triage.confirm_answer / tickets_triage.ask_advisor).
auto_answered = _signals.signal("auto-answered")
#: The requester asked for an advisor after an automatic answer. Sender: Ticket. kwargs: queue.
advisor_requested = _signals.signal("advisor-requested")
