"""Signals the tickets package sends; tickets.subscribers and tickets.escalations connect to these objects.

Every signal's sender is the Ticket; keyword arguments are listed per signal. Receivers run inside the current
transaction: they write (outbox rows, notifications), they never send anything themselves.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

#: The ticket exists with its SLA due times. kwargs: message, access_key (clear, for the requester's link).
ticket_created = _signals.signal("ticket-created")
#: Staff replied publicly. kwargs: message.
ticket_replied = _signals.signal("ticket-replied")
#: The requester replied. kwargs: message.
requester_replied = _signals.signal("requester-replied")
#: The assignee changed. kwargs: assignee (User or None), previous (User or None), by (User or None).
ticket_assigned = _signals.signal("ticket-assigned")
#: The ticket was resolved. kwargs: by.
ticket_resolved = _signals.signal("ticket-resolved")
#: An SLA target reached its at-risk share (sent once per ticket and target).
#: kwargs: target, now (the sweep's instant), notify_at (the calendar's next open instant from now).
sla_at_risk = _signals.signal("sla-at-risk")
#: An SLA target was breached (sent once per ticket and target), before the policy's escalation actions
#: (raise priority, requeue) are applied. kwargs: target, now, notify_at, escalation (settings dict).
sla_breached = _signals.signal("sla-breached")
#: An active ticket stayed unassigned too long (business time); sent until a receiver answers non-None,
#: then recorded once per ticket. kwargs: manager (the queue manager), now, notify_at.
unassigned_too_long = _signals.signal("unassigned-too-long")
