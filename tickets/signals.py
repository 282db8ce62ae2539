"""Signals the tickets package sends; notifications subscribes to them by name (triage is called directly).

They live in blinker's default namespace as ``tickets.<name>`` so other packages connect without importing
tickets. Every signal's sender is the Ticket; keyword arguments are listed per signal. Receivers run inside the
current transaction: they write (outbox rows, decisions), they never send anything themselves.
"""

from __future__ import annotations

from blinker import signal

#: A request was submitted; triage (tickets.triage) runs right after, before the SLA policy is chosen.
#: kwargs: message (the first Message).
ticket_submitted = signal("tickets.ticket-submitted")
#: The ticket exists with its SLA due times. kwargs: message, access_key (clear, for the requester's link).
ticket_created = signal("tickets.ticket-created")
#: Staff replied publicly. kwargs: message.
ticket_replied = signal("tickets.ticket-replied")
#: The requester replied. kwargs: message.
requester_replied = signal("tickets.requester-replied")
#: An internal note was added. kwargs: message.
note_added = signal("tickets.note-added")
#: The assignee changed. kwargs: assignee (User or None), previous (User or None), by (User or None).
ticket_assigned = signal("tickets.ticket-assigned")
#: The status changed. kwargs: before, after, by.
status_changed = signal("tickets.status-changed")
#: The ticket was resolved. kwargs: by.
ticket_resolved = signal("tickets.ticket-resolved")
#: An SLA target reached its at-risk share (sent once per ticket and target).
#: kwargs: target, now (the sweep's instant), notify_at (the calendar's next open instant from now).
sla_at_risk = signal("tickets.sla-at-risk")
#: An SLA target was breached (sent once per ticket and target), before the policy's escalation actions
#: (raise priority, requeue) are applied. kwargs: target, now, notify_at, escalation (settings dict).
sla_breached = signal("tickets.sla-breached")
#: An active ticket stayed unassigned too long (business time); sent until a receiver answers non-None,
#: then recorded once per ticket. kwargs: manager (the queue manager), now, notify_at.
unassigned_too_long = signal("tickets.unassigned-too-long")
