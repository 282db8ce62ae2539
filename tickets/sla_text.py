"""The explanation of an SLA clock in the reader's language (tickets.sla.Clock.reason() is the French one, for the API).

Same sentences as Clock.reason(): elapsed against target in business time, how much late, the pauses while waiting
on the requester; durations in hours and minutes of business time, pauses in real time with days.
"""

from __future__ import annotations

from datetime import UTC, timedelta

from flask_babel import gettext as _

from crm.core.i18n import percent
from tickets.sla import Clock, format_business_duration

_DAY = timedelta(days=1)


def real_duration(td: timedelta) -> str:
    """A real (calendar) duration: "2 j 3 h" ("2 d 3 h" in English), "5 h 20", "12 min"."""
    td = max(td, timedelta(0))
    days, rest = divmod(td, _DAY)
    if not days:
        return format_business_duration(rest)
    hours = rest // timedelta(hours=1)
    return _("%(d)s j %(h)s h", d=days, h=hours) if hours else _("%(d)s j", d=days)


def clock_explanation(clock: Clock) -> str:
    """Why the clock is in its state, for the ticket page."""
    ratio = _("%(elapsed)s sur %(target)s ouvrées", elapsed=format_business_duration(clock.elapsed),
              target=format_business_duration(clock.target))
    over = format_business_duration(clock.elapsed - clock.target)
    if clock.state == "met":
        text = _("Délai respecté : %(ratio)s", ratio=ratio)
    elif clock.state == "missed":
        text = _("Délai manqué de %(over)s : %(ratio)s", over=over, ratio=ratio)
    elif clock.state == "breached":
        text = _("Délai dépassé de %(over)s (%(ratio)s)", over=over, ratio=ratio)
    else:
        text = _("%(share)s du délai écoulé (%(ratio)s)", share=percent(clock.share if clock.share is not None else 1),
                 ratio=ratio)
    pauses = [end.astimezone(UTC) - start.astimezone(UTC) for start, end in clock.paused_intervals]
    total = sum(pauses, timedelta(0))
    if clock.paused and pauses:
        text += _(" ; horloge suspendue depuis %(d)s en attente du demandeur", d=real_duration(pauses[-1]))
        if len(pauses) > 1:
            text += _(" (%(d)s au total)", d=real_duration(total))
    elif total > timedelta(0):
        text += _(" ; horloge suspendue %(d)s en attente du demandeur", d=real_duration(total))
    return text
