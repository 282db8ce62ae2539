"""Signals of the nightly import.

- `import_finished(run)`: an import run ended (``run.status`` says how).
- `partner_budgets_imported(budgets)`: the `financial_annexes` file created or changed these partners' budgets
  (``budgets``: the parsed values, a dict per partner, written but not yet committed); tickets.annexes publishes
  a new version of the annexes whose figures differ.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

import_finished = _signals.signal("import-finished")
partner_budgets_imported = _signals.signal("partner-budgets-imported")
