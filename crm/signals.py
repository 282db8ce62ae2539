"""Signals the CRM domain emits for other packages (notifications e-mails the links, for instance).

- `password_link_requested(user, url=...)`: a portal user must receive this single-use link to set
  their password; the notifications package sends the e-mail.
- `import_finished(run)`: a nightly import run ended (run.status says how).
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

password_link_requested = _signals.signal("crm.password-link-requested")
import_finished = _signals.signal("crm.import-finished")
