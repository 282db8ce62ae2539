"""Signals the tickets package sends; notifications subscribes to them (triage is called directly).

Every signal's sender is the Ticket; keyword arguments are listed per signal. Receivers run inside the
current transaction: they write (outbox rows, decisions), they never send anything themselves.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

#: A request was submitted; triage (tickets.triage) runs right after, before the SLA policy is chosen.
#: kwargs: message (the first Message).
ticket_submitted = _signals.signal("ticket-submitted")
#: The ticket exists with its SLA due times. kwargs: message, access_key (clear, for the requester's link).
ticket_created = _signals.signal("ticket-created")
#: Staff replied publicly. kwargs: message.
ticket_replied = _signals.signal("ticket-replied")
#: The requester replied. kwargs: message.
requester_replied = _signals.signal("requester-replied")
#: An internal note was added. kwargs: message.
note_added = _signals.signal("note-added")
#: The assignee changed. kwargs: assignee (User or None), previous (User or None), by (User or None).
ticket_assigned = _signals.signal("ticket-assigned")
#: The status changed. kwargs: before, after, by.
status_changed = _signals.signal("status-changed")
#: The ticket was resolved. kwargs: by.
ticket_resolved = _signals.signal("ticket-resolved")
#: An SLA target reached its at-risk share (sent once per ticket and target). kwargs: target.
sla_at_risk = _signals.signal("sla-at-risk")
#: An SLA target was breached (sent once per ticket and target). kwargs: target.
sla_breached = _signals.signal("sla-breached")
