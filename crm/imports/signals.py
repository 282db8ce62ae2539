"""Signals of the nightly import.

- `import_finished(run)`: an import run ended (``run.status`` says how).
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

import_finished = _signals.signal("import-finished")
