"""Signals of the portal, for the packages that react to them.

- `password_link_requested(user, url=..., reset=...)`: a user must receive this single-use link to set their
  password (reset: they had one and forgot it); crm.portal.emails writes the e-mail in reaction.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

password_link_requested = _signals.signal("password-link-requested")
