"""Tests of tickets.sla: the SLA clock (pauses, due/warn times, states), its wording, and policy choice."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tickets.sla import (
    BusinessCalendar,
    Clock,
    PolicyCandidate,
    choose_policy,
    compute_clock,
    format_business_duration,
)

PARIS = ZoneInfo("Europe/Paris")
MINUTE = timedelta(minutes=1)
OFFICE = BusinessCalendar(
    {day: [("09:00", "12:30"), ("13:30", "17:30")] for day in ("mon", "tue", "wed", "thu", "fri")}
)
TARGET = timedelta(hours=7, minutes=30)
START = datetime(2026, 3, 2, 9, 0, tzinfo=PARIS)  # a Monday


def paris(*args: int) -> datetime:
    """Aware datetime in Europe/Paris."""
    return datetime(*args, tzinfo=PARIS)


def utc(value: datetime | None) -> datetime | None:
    """Same instant in UTC (same-zone aware datetimes compare by wall time in Python)."""
    return None if value is None else value.astimezone(UTC)


def clock(now: datetime, pauses=(), **kwargs) -> Clock:
    """Office clock started Monday 09:00 with a 7 h 30 target."""
    return compute_clock(OFFICE, START, list(pauses), TARGET, now, **kwargs)


# --------------------------------------------------------------------------------------------------
# Running clock
# --------------------------------------------------------------------------------------------------


def test_running_clock() -> None:
    c = clock(paris(2026, 3, 2, 11, 0))
    assert c.elapsed == timedelta(hours=2)
    assert c.remaining == timedelta(hours=5, minutes=30)
    assert utc(c.due_at) == utc(paris(2026, 3, 2, 17, 30))
    # 75 % of 7 h 30 = 5 h 37 min 30 s, lunch hour skipped.
    assert utc(c.warn_at) == utc(paris(2026, 3, 2, 15, 37, 30))
    assert c.state == "on_track"
    assert not c.paused
    assert [tuple(map(utc, iv)) for iv in c.counted] == [(utc(START), utc(paris(2026, 3, 2, 11, 0)))]
    assert c.paused_intervals == []
    assert c.due_at.tzinfo == PARIS


def test_due_and_warn_do_not_depend_on_now() -> None:
    nows = [paris(2026, 3, 2, 9, 30), paris(2026, 3, 2, 16, 0), paris(2026, 3, 3, 11, 0), paris(2026, 3, 9)]
    dues = {utc(clock(now).due_at) for now in nows}
    warns = {utc(clock(now).warn_at) for now in nows}
    assert dues == {utc(paris(2026, 3, 2, 17, 30))}
    assert warns == {utc(paris(2026, 3, 2, 15, 37, 30))}


def test_clock_not_started_yet() -> None:
    c = clock(paris(2026, 3, 1, 12, 0))
    assert c.elapsed == timedelta(0)
    assert c.state == "on_track"
    assert c.counted == []
    assert utc(c.due_at) == utc(paris(2026, 3, 2, 17, 30))


def test_at_risk_boundary_is_75_percent_inclusive() -> None:
    warn = paris(2026, 3, 2, 15, 37, 30)
    before = clock(warn - timedelta(seconds=1))
    at = clock(warn)
    assert before.state == "on_track"
    assert at.state == "at_risk"
    assert at.elapsed == TARGET * 0.75
    assert clock(paris(2026, 3, 2, 15, 30)).state == "on_track"
    assert clock(paris(2026, 3, 2, 15, 40)).state == "at_risk"


def test_custom_at_risk_share() -> None:
    c = clock(paris(2026, 3, 2, 13, 45), at_risk_share=0.5)  # 3 h 45 = exactly 50 %
    assert c.state == "at_risk"
    assert utc(c.warn_at) == utc(paris(2026, 3, 2, 13, 45))
    with pytest.raises(ValueError, match="at_risk_share"):
        clock(paris(2026, 3, 2, 13, 45), at_risk_share=1.5)


def test_warn_at_already_passed_is_kept_in_the_past() -> None:
    c = clock(paris(2026, 3, 3, 10, 0))
    assert utc(c.warn_at) == utc(paris(2026, 3, 2, 15, 37, 30))
    assert utc(c.due_at) == utc(paris(2026, 3, 2, 17, 30))


def test_breach() -> None:
    # At Monday 18:00 the full target has elapsed but not more: an answer now would still be met.
    evening = clock(paris(2026, 3, 2, 18, 0))
    assert evening.elapsed == TARGET
    assert evening.remaining == timedelta(0)
    assert evening.state == "at_risk"
    late = clock(paris(2026, 3, 3, 9, 1))
    assert late.elapsed == TARGET + MINUTE
    assert late.state == "breached"
    assert late.remaining == timedelta(0)
    assert utc(late.due_at) == utc(paris(2026, 3, 2, 17, 30))
    assert late.reason() == "Délai dépassé de 1 min (7 h 31 sur 7 h 30 ouvrées)"


# --------------------------------------------------------------------------------------------------
# Stopped clock: met / missed
# --------------------------------------------------------------------------------------------------


def test_met_and_missed() -> None:
    now = paris(2026, 3, 10, 12, 0)
    met = clock(now, stopped_at=paris(2026, 3, 2, 17, 30))
    assert met.state == "met"
    assert met.elapsed == TARGET
    assert met.due_at is None and met.warn_at is None
    assert not met.paused
    assert met.reason() == "Délai respecté : 7 h 30 sur 7 h 30 ouvrées"
    # Answering during closed hours after the due time still meets the target.
    assert clock(now, stopped_at=paris(2026, 3, 2, 20, 0)).state == "met"
    missed = clock(now, stopped_at=paris(2026, 3, 3, 10, 15))
    assert missed.state == "missed"
    assert missed.elapsed == timedelta(hours=8, minutes=45)
    assert missed.reason() == "Délai manqué de 1 h 15 : 8 h 45 sur 7 h 30 ouvrées"


def test_stopped_while_paused_counts_until_the_stop() -> None:
    c = clock(
        paris(2026, 3, 5, 12, 0),
        pauses=[(paris(2026, 3, 2, 10, 0), None)],
        stopped_at=paris(2026, 3, 3, 9, 0),
    )
    assert c.state == "met"
    assert c.elapsed == timedelta(hours=1)
    assert not c.paused
    assert [tuple(map(utc, iv)) for iv in c.paused_intervals] == [
        (utc(paris(2026, 3, 2, 10, 0)), utc(paris(2026, 3, 3, 9, 0)))
    ]


def test_stop_in_the_future_counts_until_now() -> None:
    c = clock(paris(2026, 3, 2, 10, 0), stopped_at=paris(2026, 3, 2, 11, 0))
    assert c.elapsed == timedelta(hours=1)
    assert c.state == "met"


# --------------------------------------------------------------------------------------------------
# Pauses
# --------------------------------------------------------------------------------------------------


def test_pause_moves_due_at_by_exactly_the_business_time_paused() -> None:
    paused_at, resumed_at = paris(2026, 3, 2, 10, 0), paris(2026, 3, 3, 11, 0)
    now = paris(2026, 3, 3, 12, 0)
    plain = clock(now)
    paused = clock(now, pauses=[(paused_at, resumed_at)])
    assert OFFICE.between(paused_at, resumed_at) == timedelta(hours=8, minutes=30)
    assert utc(paused.due_at) == utc(paris(2026, 3, 4, 10, 0))
    assert OFFICE.between(plain.due_at, paused.due_at) == OFFICE.between(paused_at, resumed_at)
    assert paused.elapsed == timedelta(hours=2)  # 9:00-10:00 on Monday, 11:00-12:00 on Tuesday
    assert [tuple(map(utc, iv)) for iv in paused.counted] == [
        (utc(START), utc(paused_at)),
        (utc(resumed_at), utc(now)),
    ]


def test_target_reached_exactly_when_the_pause_starts() -> None:
    c = compute_clock(
        OFFICE,
        START,
        [(paris(2026, 3, 2, 10, 0), paris(2026, 3, 2, 11, 0))],
        timedelta(hours=1),
        paris(2026, 3, 2, 12, 0),
    )
    assert utc(c.due_at) == utc(paris(2026, 3, 2, 10, 0))
    assert c.elapsed == timedelta(hours=2)
    assert c.state == "breached"


def test_while_paused_there_is_no_due_time() -> None:
    c = clock(paris(2026, 3, 2, 15, 0), pauses=[(paris(2026, 3, 2, 10, 0), None)])
    assert c.paused
    assert c.state == "paused"
    assert c.due_at is None and c.warn_at is None
    assert c.elapsed == timedelta(hours=1)
    assert c.remaining == timedelta(hours=6, minutes=30)
    assert [tuple(map(utc, iv)) for iv in c.paused_intervals] == [
        (utc(paris(2026, 3, 2, 10, 0)), utc(paris(2026, 3, 2, 15, 0)))
    ]
    assert c.reason() == (
        "13 % du délai écoulé (1 h sur 7 h 30 ouvrées) ; horloge suspendue depuis 5 h en attente du demandeur"
    )


def test_resume_restores_the_due_time() -> None:
    paused_at = paris(2026, 3, 2, 10, 0)
    during = clock(paris(2026, 3, 2, 11, 0), pauses=[(paused_at, None)])
    assert during.due_at is None
    resumed_at = paris(2026, 3, 2, 11, 0)
    after = clock(paris(2026, 3, 2, 11, 30), pauses=[(paused_at, resumed_at)])
    assert not after.paused
    assert after.state == "on_track"
    assert utc(after.due_at) == utc(paris(2026, 3, 3, 10, 0))  # one business hour after Monday 17:30
    # A pause scheduled to end later than now is still in progress.
    assert clock(paris(2026, 3, 2, 10, 30), pauses=[(paused_at, resumed_at)]).paused


def test_pause_entirely_in_closed_hours_changes_nothing() -> None:
    now = paris(2026, 3, 9, 9, 30)
    start = paris(2026, 3, 6, 14, 0)
    plain = compute_clock(OFFICE, start, [], TARGET, now)
    weekend = compute_clock(OFFICE, start, [(paris(2026, 3, 6, 18, 0), paris(2026, 3, 9, 8, 0))], TARGET, now)
    assert weekend.elapsed == plain.elapsed == timedelta(hours=4)
    assert utc(weekend.due_at) == utc(plain.due_at) == utc(paris(2026, 3, 9, 14, 0))


def test_pause_overlapping_closed_hours_only_removes_business_time() -> None:
    start = paris(2026, 3, 6, 9, 0)  # Friday
    now = paris(2026, 3, 9, 12, 0)  # Monday
    pause = (paris(2026, 3, 6, 16, 30), paris(2026, 3, 9, 10, 0))
    plain = compute_clock(OFFICE, start, [], TARGET, now)
    paused = compute_clock(OFFICE, start, [pause], TARGET, now)
    assert plain.elapsed - paused.elapsed == timedelta(hours=2)  # Friday 16:30-17:30 + Monday 9:00-10:00
    assert OFFICE.between(plain.due_at, paused.due_at) == timedelta(hours=2)


def test_pauses_are_clipped_merged_and_future_ones_ignored() -> None:
    now = paris(2026, 3, 2, 16, 0)
    c = clock(
        now,
        pauses=[
            (paris(2026, 3, 1, 10, 0), paris(2026, 3, 2, 9, 30)),  # starts before the clock: clipped
            (paris(2026, 3, 2, 10, 0), paris(2026, 3, 2, 11, 0)),
            (paris(2026, 3, 2, 10, 30), paris(2026, 3, 2, 11, 30)),  # overlaps the previous one: merged
            (paris(2026, 3, 2, 17, 0), None),  # after now: not started yet
        ],
    )
    assert [tuple(map(utc, iv)) for iv in c.paused_intervals] == [
        (utc(START), utc(paris(2026, 3, 2, 9, 30))),
        (utc(paris(2026, 3, 2, 10, 0)), utc(paris(2026, 3, 2, 11, 30))),
    ]
    assert not c.paused
    assert c.elapsed == timedelta(minutes=30) + timedelta(hours=1) + timedelta(hours=2, minutes=30)


def test_breach_is_kept_while_paused() -> None:
    c = clock(paris(2026, 3, 4, 10, 0), pauses=[(paris(2026, 3, 3, 10, 0), None)])
    assert c.paused
    assert c.state == "breached"
    assert c.due_at is None


def test_reason_with_past_pause_matches_the_ticket_page_wording() -> None:
    # 1 h on Monday morning before a two-day pause, then 4 h 33 on Wednesday.
    c = clock(
        paris(2026, 3, 4, 15, 33),
        pauses=[(paris(2026, 3, 2, 10, 0), paris(2026, 3, 4, 10, 0))],
    )
    assert c.elapsed == timedelta(hours=5, minutes=33)
    assert c.reason() == (
        "74 % du délai écoulé (5 h 33 sur 7 h 30 ouvrées) ; horloge suspendue 2 j en attente du demandeur"
    )


def test_reason_for_a_second_pause_in_progress() -> None:
    c = clock(
        paris(2026, 3, 4, 15, 0),
        pauses=[(paris(2026, 3, 2, 10, 0), paris(2026, 3, 2, 13, 0)), (paris(2026, 3, 4, 9, 0), None)],
    )
    assert c.reason().endswith("horloge suspendue depuis 6 h en attente du demandeur (9 h au total)")


def test_pause_durations_are_real_time_across_dst() -> None:
    start = paris(2026, 3, 27, 9, 0)
    c = compute_clock(OFFICE, start, [(paris(2026, 3, 27, 10, 0), None)], TARGET, paris(2026, 3, 30, 10, 0))
    assert c.paused_total == timedelta(days=3) - timedelta(hours=1)  # 29 March has 23 hours
    assert "depuis 2 j 23 h" in c.reason()


# -- 24/7 calendar and edge cases -----------------------------------------------------------------------


def test_urgent_clock_on_a_24_7_calendar_across_dst() -> None:
    always = BusinessCalendar.always()
    start = paris(2026, 3, 29, 0, 30)
    c = compute_clock(always, start, [], timedelta(hours=4), paris(2026, 3, 29, 4, 30))
    assert utc(c.due_at) == utc(start) + timedelta(hours=4)
    assert c.elapsed == timedelta(hours=3)  # 00:30 CET -> 04:30 CEST
    assert c.state == "at_risk"


def test_zero_target() -> None:
    at_start = compute_clock(OFFICE, START, [], timedelta(0), START)
    assert utc(at_start.due_at) == utc(START)
    assert at_start.state == "at_risk"
    assert compute_clock(OFFICE, START, [], timedelta(0), START + MINUTE).state == "breached"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"now": datetime(2026, 3, 2, 10, 0)}, "timezone-aware"),
        ({"pauses": [(datetime(2026, 3, 2, 10, 0), None)]}, "timezone-aware"),
        ({"pauses": [(paris(2026, 3, 2, 10, 0), paris(2026, 3, 2, 9, 0))]}, "before it started"),
        ({"target": timedelta(hours=-1)}, "non-negative"),
        ({"stopped_at": datetime(2026, 3, 2, 10, 0)}, "timezone-aware"),
    ],
)
def test_invalid_clock_inputs(kwargs, message: str) -> None:
    args = {"pauses": [], "target": TARGET, "now": paris(2026, 3, 2, 11, 0)} | kwargs
    with pytest.raises(ValueError, match=message):
        compute_clock(OFFICE, START, args.pop("pauses"), args.pop("target"), args.pop("now"), **args)


@pytest.mark.parametrize(
    ("td", "text"),
    [
        (timedelta(0), "0 min"),
        (timedelta(minutes=45), "45 min"),
        (timedelta(hours=2, minutes=5), "2 h 05"),
        (timedelta(hours=8), "8 h"),
        (timedelta(hours=27, minutes=30), "27 h 30"),
        (timedelta(hours=2, minutes=5, seconds=59), "2 h 05"),
        (timedelta(days=3), "72 h"),
        (-timedelta(hours=1, minutes=10), "-1 h 10"),
    ],
)
def test_format_business_duration(td: timedelta, text: str) -> None:
    assert format_business_duration(td) == text


# -- properties -------------------------------------------------------------------------------------


@st.composite
def pause_lists(draw: st.DrawFn) -> list[tuple[datetime, datetime | None]]:
    """Up to three pauses (minute offsets from START within two weeks), the last one possibly open."""
    pauses: list[tuple[datetime, datetime | None]] = []
    for _ in range(draw(st.integers(0, 3))):
        begin = START + draw(st.integers(-1440, 14 * 1440)) * MINUTE
        pauses.append((begin, begin + draw(st.integers(0, 4 * 1440)) * MINUTE))
    if pauses and draw(st.booleans()):
        pauses[-1] = (pauses[-1][0], None)
    return pauses


def as_of(pauses: list[tuple[datetime, datetime | None]], now: datetime) -> list[tuple[datetime, datetime | None]]:
    """The pauses an event log would hold at ``now``: none starting later, none resumed yet after it."""
    return [(p, r if r is not None and r <= now else None) for p, r in pauses if p <= now]


CLOCK_SETTINGS = settings(max_examples=80, deadline=None, database=None)
CALENDARS = st.sampled_from([OFFICE, BusinessCalendar.always()])


@CLOCK_SETTINGS
@given(calendar=CALENDARS, pauses=pause_lists(), now_offset=st.integers(0, 20 * 1440))
def test_elapsed_is_business_time_minus_paused_business_time(calendar, pauses, now_offset: int) -> None:
    now = START + now_offset * MINUTE
    c = compute_clock(calendar, START, pauses, TARGET, now)
    paused_business = sum((calendar.between(a, b) for a, b in c.paused_intervals), timedelta(0))
    assert c.elapsed == calendar.between(START, now) - paused_business
    assert c.elapsed == sum((calendar.between(a, b) for a, b in c.counted), timedelta(0))
    assert c.remaining == max(TARGET - c.elapsed, timedelta(0))
    assert (c.due_at is None) == c.paused
    assert c.state in {"on_track", "at_risk", "breached", "paused"}


@CLOCK_SETTINGS
@given(calendar=CALENDARS, pauses=pause_lists(), now_offset=st.integers(0, 20 * 1440))
def test_due_and_warn_are_where_the_clock_reaches_its_thresholds(calendar, pauses, now_offset: int) -> None:
    now = START + now_offset * MINUTE
    pauses = as_of(pauses, now)
    c = compute_clock(calendar, START, pauses, TARGET, now)
    if c.paused:
        return
    # Replaying the same events up to due_at / warn_at shows exactly the target / 75 % elapsed.
    assert compute_clock(calendar, START, pauses, TARGET, c.due_at).elapsed == TARGET
    assert compute_clock(calendar, START, pauses, TARGET, c.warn_at).elapsed == TARGET * 0.75
    # ... and they are the earliest such instants.
    second = timedelta(seconds=1)
    assert compute_clock(calendar, START, pauses, TARGET, c.due_at - second).elapsed < TARGET
    assert compute_clock(calendar, START, pauses, TARGET, c.warn_at - second).elapsed < TARGET * 0.75
    assert (c.state == "breached") == (c.elapsed > TARGET)
    if utc(now) < utc(c.warn_at):
        assert c.state == "on_track"


@CLOCK_SETTINGS
@given(
    calendar=CALENDARS,
    pause_start=st.integers(0, 3 * 1440),
    pause_length=st.integers(0, 5 * 1440),
    after=st.integers(0, 5 * 1440),
)
def test_single_pause_shifts_due_at_by_its_business_time(calendar, pause_start, pause_length, after) -> None:
    paused_at = START + pause_start * MINUTE
    resumed_at = paused_at + pause_length * MINUTE
    now = resumed_at + after * MINUTE
    plain = compute_clock(calendar, START, [], TARGET, now)
    if utc(paused_at) >= utc(plain.due_at):
        return  # the target was reached before the pause: nothing to shift
    paused = compute_clock(calendar, START, [(paused_at, resumed_at)], TARGET, now)
    assert calendar.between(plain.due_at, paused.due_at) == calendar.between(paused_at, resumed_at)


@CLOCK_SETTINGS
@given(pauses=pause_lists(), stop_offset=st.integers(0, 20 * 1440))
def test_stopped_clock_is_met_iff_elapsed_within_target(pauses, stop_offset: int) -> None:
    stop = START + stop_offset * MINUTE
    c = compute_clock(OFFICE, START, pauses, TARGET, stop + timedelta(days=30), stopped_at=stop)
    assert c.state == ("met" if c.elapsed <= TARGET else "missed")
    assert c.due_at is None and c.warn_at is None and not c.paused
    assert c.elapsed == compute_clock(OFFICE, START, pauses, TARGET, stop).elapsed


# --------------------------------------------------------------------------------------------------
# Policy choice
# --------------------------------------------------------------------------------------------------

DEFAULT = PolicyCandidate(1, "Standard", None, None, None, None)
URGENT = PolicyCandidate(2, "Urgent", None, "urgent", None, None)
PREMIUM_URGENT = PolicyCandidate(3, "Premium urgent", "premium", "urgent", None, None)
PREMIUM = PolicyCandidate(4, "Premium", "premium", None, None, None)
FUNDING_QUEUE = PolicyCandidate(5, "Conventionnement", None, None, None, "conventionnement")
TICKET = {"tier": "premium", "priority": "urgent", "topic": "paiement", "queue": "conventionnement"}


def test_most_specific_policy_wins_with_a_french_explanation() -> None:
    chosen, why = choose_policy([DEFAULT, URGENT, PREMIUM_URGENT], **TICKET)
    assert chosen == PREMIUM_URGENT
    assert why == (
        "Politique « Premium urgent » : niveau de service premium, priorité urgente "
        "(2 critères sur 4 ; plus spécifique parmi 3 politiques applicables)"
    )


def test_only_default_policy() -> None:
    chosen, why = choose_policy([DEFAULT, PREMIUM], **(TICKET | {"tier": "standard"}))
    assert chosen == DEFAULT
    assert why == (
        "Politique « Standard » : politique par défaut, sans critère (0 critère sur 4 ; seule politique applicable)"
    )


def test_no_matching_policy() -> None:
    assert choose_policy([], **TICKET) is None
    assert choose_policy([PREMIUM], **(TICKET | {"tier": None})) is None
    assert choose_policy([URGENT], **(TICKET | {"priority": "low"})) is None


def test_ties_are_broken_by_field_weight_then_lowest_id() -> None:
    chosen, why = choose_policy([FUNDING_QUEUE, URGENT, PREMIUM], **TICKET)
    assert chosen == PREMIUM  # tier outweighs priority and queue
    assert "à égalité avec « Urgent » : critères de plus fort poids retenus" in why
    assert choose_policy([FUNDING_QUEUE, URGENT], **TICKET)[0] == URGENT
    topic = PolicyCandidate(6, "Paiements", None, None, "paiement", None)
    assert choose_policy([FUNDING_QUEUE, topic], **TICKET)[0] == topic
    twin = PolicyCandidate(9, "Premium bis", "premium", None, None, None)
    chosen, why = choose_policy([twin, PREMIUM], **TICKET)
    assert chosen == PREMIUM
    assert "plus petit identifiant retenu" in why


def test_criteria_wording() -> None:
    full = PolicyCandidate(7, "Tout", "premium", "low", "paiement", "conventionnement")
    _, why = choose_policy([full], **(TICKET | {"priority": "low"}))
    assert why == (
        "Politique « Tout » : niveau de service premium, priorité basse, thème « paiement », "
        "file « conventionnement » (4 critères sur 4 ; seule politique applicable)"
    )


def test_choice_does_not_depend_on_candidate_order() -> None:
    pool = [DEFAULT, URGENT, PREMIUM, FUNDING_QUEUE, PolicyCandidate(8, "Premium bis", "premium", None, None, None)]
    results = {choose_policy(list(order), **(TICKET | {"priority": "high"})) for order in itertools.permutations(pool)}
    assert len(results) == 1
    assert next(iter(results))[0] == PREMIUM
