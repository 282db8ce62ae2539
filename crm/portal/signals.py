"""Signals of the portal, for the packages that react to them.

- `password_link_requested(user, url=...)`: a portal user must receive this single-use link to set their
  password; the portal's own e-mail (crm.portal.emails) is written in reaction.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

password_link_requested = _signals.signal("password-link-requested")
