"""The SLA clock's explanation on the ticket page: Clock.reason()'s French sentences, and the same in English."""

from __future__ import annotations

import pytest
from flask_babel import force_locale

from tests.tickets.test_sla_clock import OFFICE, START, TARGET, clock, paris
from tickets.sla import compute_clock
from tickets.sla_text import clock_explanation

CASES = [  # (clock, French as Clock.reason() says it, English)
    (lambda: clock(paris(2026, 3, 2, 15, 0), pauses=[(paris(2026, 3, 2, 10, 0), None)]),
     "13 % du délai écoulé (1 h sur 7 h 30 ouvrées) ; horloge suspendue depuis 5 h en attente du demandeur",
     "13% of the target elapsed (1 h out of 7 h 30 business time); clock paused for 5 h, waiting on the requester"),
    (lambda: clock(paris(2026, 3, 4, 15, 33), pauses=[(paris(2026, 3, 2, 10, 0), paris(2026, 3, 4, 10, 0))]),
     "74 % du délai écoulé (5 h 33 sur 7 h 30 ouvrées) ; horloge suspendue 2 j en attente du demandeur",
     "74% of the target elapsed (5 h 33 out of 7 h 30 business time); clock paused 2 d waiting on the requester"),
    (lambda: clock(paris(2026, 3, 4, 15, 0), pauses=[(paris(2026, 3, 2, 10, 0), paris(2026, 3, 2, 13, 0)),
                                                     (paris(2026, 3, 4, 9, 0), None)]),
     None, "clock paused for 6 h, waiting on the requester (9 h in total)"),
    (lambda: compute_clock(OFFICE, START, [(paris(2026, 3, 27, 10, 0), None)], TARGET, paris(2026, 3, 30, 10, 0)),
     None, "clock paused for 2 d 23 h, waiting on the requester"),
    (lambda: clock(paris(2026, 3, 3, 9, 1)), "Délai dépassé de 1 min (7 h 31 sur 7 h 30 ouvrées)",
     "Target exceeded by 1 min (7 h 31 out of 7 h 30 business time)"),
]


@pytest.mark.parametrize(("make", "french", "english"), CASES)
def test_explanation_in_both_languages(app, make, french, english):
    c = make()
    with app.test_request_context("/"):
        with force_locale("fr"):
            assert clock_explanation(c).replace("\xa0", " ") == c.reason()  # the API's French text, word for word
            if french:
                assert c.reason() == french
        with force_locale("en"):
            assert clock_explanation(c).endswith(english) or clock_explanation(c).startswith(english)
