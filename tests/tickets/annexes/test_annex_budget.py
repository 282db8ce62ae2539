"""The annex figures as pure data: checks with a message per line, canonical digest, differences."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tickets.annexes import budget

GOOD = {"staff": "100000", "equipment": "20 000,50", "missions": "5000", "subcontracting": "0",
        "overheads": "10000", "requested_aid": "135000.50", "rate": "100"}


def test_figures_are_normalised_to_the_cent_and_totalled():
    figures = budget.make_figures(GOOD)
    assert figures.amounts["equipment"] == Decimal("20000.50")
    assert figures.total == Decimal("135000.50")
    assert figures.ceiling == Decimal("135000.50")


@pytest.mark.parametrize(("line", "raw", "message"), [
    ("staff", "-1", "négatif"),
    ("missions", "douze", "illisible"),
    ("missions", None, "illisible"),
    ("overheads", "1.234", "Deux décimales"),
    ("rate", "100.5", "entre 0 et 100"),
    ("staff", "NaN", "illisible"),
    ("staff", "1e20", "trop élevé"),
    ("staff", "1e400", "trop élevé"),
    ("rate", "1e400", "entre 0 et 100"),
])
def test_each_bad_line_gets_its_own_message(line, raw, message):
    with pytest.raises(budget.BudgetError) as caught:
        budget.make_figures({**GOOD, line: raw})
    assert list(caught.value.errors) == [line]
    assert message in caught.value.errors[line]


def test_the_requested_aid_stays_within_the_rate_applied_to_the_budget():
    with pytest.raises(budget.BudgetError) as caught:
        budget.make_figures({**GOOD, "rate": "50"})  # ceiling 67 500,25 €
    assert "67 500,25" in caught.value.errors["requested_aid"]
    assert budget.make_figures({**GOOD, "rate": "50", "requested_aid": "67500.25"}).ceiling == Decimal("67500.25")


def test_the_digest_is_canonical_and_moves_with_any_figure_or_the_subject():
    subject = {"project": "ANR-1", "partner": 1, "siret": "x", "version": 1}
    a = budget.make_figures(GOOD)
    same = budget.make_figures({**GOOD, "staff": "100000.00", "equipment": "20000.5"})
    assert budget.digest(subject, a) == budget.digest(dict(reversed(subject.items())), same)
    assert len(budget.digest(subject, a)) == 64
    changed = budget.make_figures({**GOOD, "missions": "5000.01", "requested_aid": "135000"})
    assert budget.digest(subject, changed) != budget.digest(subject, a)
    assert budget.digest({**subject, "version": 2}, a) != budget.digest(subject, a)


def test_differences_list_only_the_lines_that_changed():
    a = budget.make_figures(GOOD)
    b = budget.make_figures({**GOOD, "staff": "90000", "requested_aid": "125000.50"})
    assert [(c.line, c.before, c.after) for c in budget.differences(a, b)] == [
        ("staff", Decimal("100000.00"), Decimal("90000.00")),
        ("requested_aid", Decimal("135000.50"), Decimal("125000.50"))]
    assert budget.differences(a, a) == []
    assert [c.line for c in budget.differences(None, a)] == list(budget.LINES)
