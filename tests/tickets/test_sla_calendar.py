"""Tests of tickets.sla.BusinessCalendar: examples, validation, properties against a brute-force model."""

from __future__ import annotations

import json
import time as time_module
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tickets.sla import DAY_KEYS, BusinessCalendar

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
MINUTE = timedelta(minutes=1)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
OFFICE = {day: [("09:00", "12:30"), ("13:30", "17:30")] for day in WEEKDAYS}


def paris(*args: int) -> datetime:
    """Aware datetime in Europe/Paris (fold=0)."""
    return datetime(*args, tzinfo=PARIS)


def utc(value: datetime) -> datetime:
    """Same instant in UTC (never compare same-zone aware datetimes: Python uses wall time then)."""
    return value.astimezone(UTC)


@pytest.fixture
def office() -> BusinessCalendar:
    """Weekdays 9:00-12:30 and 13:30-17:30, French public holidays."""
    return BusinessCalendar(OFFICE)


# --------------------------------------------------------------------------------------------------
# Examples
# --------------------------------------------------------------------------------------------------


def test_friday_evening_rolls_over_the_weekend(office: BusinessCalendar) -> None:
    friday_17 = paris(2026, 3, 6, 17, 0)
    # 30 min left on Friday, then 1 h 30 on Monday morning.
    assert utc(office.add(friday_17, timedelta(hours=2))) == utc(paris(2026, 3, 9, 10, 30))
    assert utc(office.add(friday_17, timedelta(hours=1, minutes=30))) == utc(paris(2026, 3, 9, 10, 0))
    assert office.between(friday_17, paris(2026, 3, 9, 10, 30)) == timedelta(hours=2)


def test_lunch_break_is_skipped(office: BusinessCalendar) -> None:
    assert utc(office.add(paris(2026, 3, 3, 12, 0), timedelta(hours=1))) == utc(paris(2026, 3, 3, 14, 0))
    assert office.between(paris(2026, 3, 3, 12, 0), paris(2026, 3, 3, 14, 0)) == timedelta(hours=1)


def test_full_day_is_seven_and_a_half_hours(office: BusinessCalendar) -> None:
    assert office.between(paris(2026, 3, 3), paris(2026, 3, 4)) == timedelta(hours=7, minutes=30)
    assert office.between(paris(2026, 3, 2), paris(2026, 3, 9)) == timedelta(hours=37, minutes=30)


def test_add_ending_exactly_at_close_returns_close_not_next_opening(office: BusinessCalendar) -> None:
    assert utc(office.add(paris(2026, 3, 6, 17, 0), timedelta(minutes=30))) == utc(paris(2026, 3, 6, 17, 30))
    assert utc(office.add(paris(2026, 3, 6, 17, 0), timedelta(minutes=31))) == utc(paris(2026, 3, 9, 9, 1))


def test_zero_duration_returns_start_even_when_closed(office: BusinessCalendar) -> None:
    saturday = paris(2026, 3, 7, 11, 0)
    assert utc(office.add(saturday, timedelta(0))) == utc(saturday)
    assert utc(office.add(saturday, MINUTE)) == utc(paris(2026, 3, 9, 9, 1))


def test_start_in_closed_time_waits_for_opening(office: BusinessCalendar) -> None:
    assert utc(office.add(paris(2026, 3, 3, 7, 0), timedelta(hours=1))) == utc(paris(2026, 3, 3, 10, 0))
    assert utc(office.add(paris(2026, 3, 3, 12, 45), timedelta(hours=1))) == utc(paris(2026, 3, 3, 14, 30))


def test_negative_duration_is_rejected(office: BusinessCalendar) -> None:
    with pytest.raises(ValueError, match="negative"):
        office.add(paris(2026, 3, 3, 10, 0), timedelta(minutes=-1))


def test_between_reversed_is_zero(office: BusinessCalendar) -> None:
    assert office.between(paris(2026, 3, 4, 10, 0), paris(2026, 3, 3, 10, 0)) == timedelta(0)
    assert office.between(paris(2026, 3, 4, 10, 0), paris(2026, 3, 4, 10, 0)) == timedelta(0)


def test_results_are_in_the_calendar_zone(office: BusinessCalendar) -> None:
    result = office.add(datetime(2026, 3, 3, 8, 0, tzinfo=UTC), timedelta(hours=1))
    assert result.tzinfo == PARIS
    assert result.replace(tzinfo=None) == datetime(2026, 3, 3, 10, 0)
    assert office.next_open(datetime(2026, 3, 7, 12, 0, tzinfo=UTC)).tzinfo == PARIS


def test_other_zones_give_the_same_instants(office: BusinessCalendar) -> None:
    start = paris(2026, 3, 6, 17, 0)
    expected = utc(office.add(start, timedelta(hours=2)))
    for zone in (UTC, NEW_YORK, ZoneInfo("Asia/Tokyo")):
        assert utc(office.add(start.astimezone(zone), timedelta(hours=2))) == expected
        assert office.between(start.astimezone(zone), expected.astimezone(zone)) == timedelta(hours=2)


@pytest.mark.parametrize(
    "call",
    [
        lambda cal: cal.add(datetime(2026, 3, 3, 10, 0), timedelta(hours=1)),
        lambda cal: cal.between(datetime(2026, 3, 3, 10, 0), paris(2026, 3, 3, 11, 0)),
        lambda cal: cal.between(paris(2026, 3, 3, 10, 0), datetime(2026, 3, 3, 11, 0)),
        lambda cal: cal.is_open(datetime(2026, 3, 3, 10, 0)),
        lambda cal: cal.next_open(datetime(2026, 3, 3, 10, 0)),
    ],
)
def test_naive_datetimes_are_rejected(office: BusinessCalendar, call) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        call(office)


def test_is_open_and_next_open(office: BusinessCalendar) -> None:
    assert office.is_open(paris(2026, 3, 3, 9, 0))
    assert office.is_open(paris(2026, 3, 3, 12, 29))
    assert not office.is_open(paris(2026, 3, 3, 12, 30))  # ranges are half-open
    assert not office.is_open(paris(2026, 3, 7, 10, 0))  # Saturday
    open_now = paris(2026, 3, 3, 10, 17)
    assert utc(office.next_open(open_now)) == utc(open_now)
    assert utc(office.next_open(paris(2026, 3, 6, 17, 30))) == utc(paris(2026, 3, 9, 9, 0))
    assert utc(office.next_open(paris(2026, 3, 3, 12, 30))) == utc(paris(2026, 3, 3, 13, 30))


# -- holidays and closed days ----------------------------------------------------------------------


def test_easter_monday_is_closed(office: BusinessCalendar) -> None:
    # 2026-04-06 is Easter Monday: Friday 17:00 + 2 h lands on Tuesday.
    assert utc(office.add(paris(2026, 4, 3, 17, 0), timedelta(hours=2))) == utc(paris(2026, 4, 7, 10, 30))
    assert not office.is_open(paris(2026, 4, 6, 10, 0))


def test_bastille_day_and_all_saints_are_closed() -> None:
    cal = BusinessCalendar({day: [("09:00", "17:00")] for day in DAY_KEYS})
    # 2026-07-14 is a Tuesday, 2026-11-01 a Sunday (open every day in this calendar otherwise).
    assert utc(cal.add(paris(2026, 7, 13, 16, 0), timedelta(hours=2))) == utc(paris(2026, 7, 15, 10, 0))
    assert cal.between(paris(2026, 11, 1), paris(2026, 11, 2)) == timedelta(0)
    assert cal.between(paris(2026, 10, 31), paris(2026, 11, 1)) == timedelta(hours=8)


def test_alsace_moselle_subdivision_closes_good_friday() -> None:
    national = BusinessCalendar(OFFICE)
    moselle = BusinessCalendar(OFFICE, subdivision="57")
    good_friday = paris(2026, 4, 3, 10, 0)
    assert national.is_open(good_friday)
    assert not moselle.is_open(good_friday)
    assert utc(moselle.add(paris(2026, 4, 2, 17, 0), timedelta(hours=2))) == utc(paris(2026, 4, 7, 10, 30))


def test_no_country_means_no_public_holidays() -> None:
    cal = BusinessCalendar(OFFICE, country=None)
    assert cal.is_open(paris(2026, 4, 6, 10, 0))


def test_extra_closed_days() -> None:
    cal = BusinessCalendar(OFFICE, closed=[date(2026, 3, 9), date(2026, 3, 10)])
    assert utc(cal.add(paris(2026, 3, 6, 17, 0), timedelta(hours=2))) == utc(paris(2026, 3, 11, 10, 30))
    assert cal.is_closed_day(date(2026, 3, 9))
    assert cal.is_closed_day(date(2026, 12, 25))
    assert not cal.is_closed_day(date(2026, 3, 11))


def test_holidays_are_extended_lazily_over_years(office: BusinessCalendar) -> None:
    # From 24 December 2026 to 4 January 2027: Christmas and New Year's Day are both closed.
    start = paris(2026, 12, 24, 17, 30)
    assert utc(office.add(start, timedelta(hours=7, minutes=30))) == utc(paris(2026, 12, 28, 17, 30))
    assert office.between(paris(2026, 12, 31), paris(2027, 1, 3)) == timedelta(hours=7, minutes=30)
    assert not office.is_open(paris(2031, 1, 1, 10, 0))


# -- DST ---------------------------------------------------------------------------------------------


def test_dst_range_lengths_in_paris() -> None:
    night = BusinessCalendar({day: [("01:00", "04:00")] for day in DAY_KEYS}, country=None)
    assert night.between(paris(2026, 3, 28), paris(2026, 3, 29)) == timedelta(hours=3)
    assert night.between(paris(2026, 3, 29), paris(2026, 3, 30)) == timedelta(hours=2)  # spring forward
    assert night.between(paris(2026, 10, 25), paris(2026, 10, 26)) == timedelta(hours=4)  # fall back
    assert utc(night.add(paris(2026, 3, 29, 0, 0), timedelta(hours=2))) == datetime(2026, 3, 29, 2, 0, tzinfo=UTC)
    assert utc(night.add(paris(2026, 10, 25, 0, 0), timedelta(hours=4))) == datetime(2026, 10, 25, 3, 0, tzinfo=UTC)


def test_always_calendar_counts_real_time_across_dst() -> None:
    always = BusinessCalendar.always()
    assert always.between(paris(2026, 3, 29), paris(2026, 3, 30)) == timedelta(hours=23)
    assert always.between(paris(2026, 10, 25), paris(2026, 10, 26)) == timedelta(hours=25)
    start = paris(2026, 3, 1, 8, 15)
    assert utc(always.add(start, timedelta(days=60))) == utc(start) + timedelta(days=60)
    assert always.is_open(paris(2026, 12, 25, 3, 0))
    assert utc(always.next_open(paris(2026, 5, 1, 0, 0))) == utc(paris(2026, 5, 1, 0, 0))


def test_nonexistent_and_ambiguous_boundaries_follow_fold_zero_rule() -> None:
    cal = BusinessCalendar({"sun": [("02:30", "05:00")]}, country=None)
    # Spring forward: 02:30 does not exist; fold=0 reads it with +01:00, i.e. 03:30 summer time.
    assert utc(cal.next_open(paris(2026, 3, 29, 0, 0))) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert cal.between(paris(2026, 3, 29), paris(2026, 3, 30)) == timedelta(hours=1, minutes=30)
    # Fall back: 02:30 happens twice; fold=0 is the first occurrence (summer time, 00:30 UTC).
    assert utc(cal.next_open(paris(2026, 10, 25, 0, 0))) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert cal.between(paris(2026, 10, 25), paris(2026, 10, 26)) == timedelta(hours=3, minutes=30)


def test_range_collapsing_in_the_spring_gap_is_empty_and_overlaps_are_merged() -> None:
    cal = BusinessCalendar({"sun": [("02:00", "02:30"), ("02:45", "03:15"), ("03:20", "04:00")]}, country=None)
    # On 2026-03-29: 02:00-02:30 -> 03:00-03:30 CEST; 02:45-03:15 -> 03:45-03:15 (empty);
    # 03:20-04:00 stays and overlaps the first one: the overlap is counted once.
    assert cal.between(paris(2026, 3, 29), paris(2026, 3, 30)) == timedelta(hours=1)
    assert cal.between(paris(2026, 4, 5), paris(2026, 4, 6)) == timedelta(hours=1, minutes=40)


def test_new_york_calendar_dst() -> None:
    cal = BusinessCalendar({day: [("00:30", "03:30")] for day in DAY_KEYS}, timezone="America/New_York", country="US")
    day_start = datetime(2026, 3, 8, tzinfo=NEW_YORK)
    assert cal.between(day_start, day_start + timedelta(days=1)) == timedelta(hours=2)
    fall = datetime(2026, 11, 1, tzinfo=NEW_YORK)
    assert cal.between(fall, fall + timedelta(days=1)) == timedelta(hours=4)


# -- efficiency and limits -----------------------------------------------------------------------------


def test_long_durations_iterate_by_day_not_by_minute(office: BusinessCalendar) -> None:
    start = paris(2026, 3, 2, 9, 0)
    began = time_module.perf_counter()
    result = office.add(start, timedelta(hours=7, minutes=30) * 30)
    far = office.add(start, timedelta(hours=7, minutes=30) * 2000)
    elapsed = time_module.perf_counter() - began
    # 30 business days from Monday 2 March 2026, skipping Easter Monday (6 April).
    assert utc(result) == utc(paris(2026, 4, 13, 17, 30))
    assert office.between(start, far) == timedelta(hours=7, minutes=30) * 2000
    assert elapsed < 2.0


def test_all_closed_calendar() -> None:
    closed = BusinessCalendar({})
    start = paris(2026, 3, 3, 10, 0)
    with pytest.raises(ValueError, match="no open business time"):
        closed.add(start, MINUTE)
    with pytest.raises(ValueError, match="no open business time"):
        closed.next_open(start)
    assert closed.add(start, timedelta(0)) == start
    assert closed.between(start, start + timedelta(days=400)) == timedelta(0)
    assert not closed.is_open(start)


# -- validation ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        ({"monday": [("09:00", "12:00")]}, "unknown day key 'monday'"),
        ({"Mon": [("09:00", "12:00")]}, "unknown day key"),
        ({"mon": [("9:00", "12:00")]}, "malformed time '9:00'"),
        ({"mon": [("09h00", "12:00")]}, "malformed time"),
        ({"mon": [("25:00", "26:00")]}, "out of range"),
        ({"mon": [("09:60", "12:00")]}, "out of range"),
        ({"mon": [("09:00", "24:30")]}, "out of range"),
        ({"mon": [("24:00", "24:00")]}, "only allowed as the end"),
        ({"mon": [("12:00", "09:00")]}, "must end after it starts"),
        ({"mon": [("12:00", "12:00")]}, "must end after it starts"),
        ({"mon": [("09:00", "12:30"), ("12:00", "17:00")]}, "overlap"),
        ({"mon": [("13:00", "17:00"), ("09:00", "13:30")]}, "overlap"),
        ({"mon": [("09:00",)]}, "must be a pair"),
        ({"mon": ["09:00-12:00"]}, "must be a pair"),
        ({"mon": "09:00-12:00"}, "must be a list"),
        ({"mon": [(9, 12)]}, "must be a string"),
        ([("mon", [("09:00", "12:00")])], "must be a mapping"),
    ],
)
def test_invalid_hours_are_rejected(hours, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BusinessCalendar(hours)


def test_valid_edge_hours_are_accepted() -> None:
    cal = BusinessCalendar(
        {"mon": [("00:00", "09:00"), ("09:00", "24:00")], "tue": [], "wed": [["08:00", "10:00"]]},
        country=None,
    )
    assert cal.between(paris(2026, 3, 2), paris(2026, 3, 3)) == timedelta(hours=24)
    assert cal.between(paris(2026, 3, 3), paris(2026, 3, 4)) == timedelta(0)
    assert cal.between(paris(2026, 3, 4), paris(2026, 3, 5)) == timedelta(hours=2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timezone": "Europe/Pariss"}, "unknown time zone"),
        ({"timezone": ""}, "IANA"),
        ({"country": "XX"}, "no public holidays"),
        ({"country": "FR", "subdivision": "ZZ"}, "no public holidays"),
        ({"country": None, "subdivision": "57"}, "subdivision requires a country"),
        ({"closed": ["2026-05-01"]}, "datetime.date"),
        ({"closed": [datetime(2026, 5, 1)]}, "datetime.date"),
    ],
)
def test_invalid_options_are_rejected(kwargs, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BusinessCalendar(OFFICE, **kwargs)


def test_dict_round_trip_through_json() -> None:
    cal = BusinessCalendar(OFFICE, subdivision="57", closed=[date(2026, 8, 14), date(2026, 5, 15)])
    data = json.loads(json.dumps(cal.to_dict()))
    assert data["closed"] == ["2026-05-15", "2026-08-14"]
    assert data["hours"]["mon"] == [["09:00", "12:30"], ["13:30", "17:30"]]
    assert "sat" not in data["hours"]
    again = BusinessCalendar.from_dict(data)
    assert again == cal
    assert hash(again) == hash(cal)
    assert again.to_dict() == cal.to_dict()
    assert BusinessCalendar.always() == BusinessCalendar.from_dict(BusinessCalendar.always().to_dict())
    assert BusinessCalendar.from_dict({"hours": {}}).country == "FR"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "must have 'hours'"),
        ({"hours": {}, "zone": "UTC"}, "unknown calendar keys: zone"),
        ({"hours": {}, "closed": ["14/07/2026"]}, "not an ISO date"),
        ({"hours": {}, "closed": [20260714]}, "ISO dates"),
        ({"hours": {"mon": [["09:00", "08:00"]]}}, "must end after it starts"),
    ],
)
def test_from_dict_rejects_malformed_data(data, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BusinessCalendar.from_dict(data)


# --------------------------------------------------------------------------------------------------
# Properties against a brute-force, minute-by-minute reference
# --------------------------------------------------------------------------------------------------

ANCHORS = (
    date(2026, 3, 29),  # spring forward, Europe/Paris
    date(2026, 10, 25),  # fall back, Europe/Paris
    date(2026, 3, 8),  # spring forward, America/New_York
    date(2026, 11, 1),  # fall back, America/New_York; All Saints' Day
    date(2026, 4, 6),  # Easter Monday
    date(2026, 7, 14),  # Bastille Day
    date(2026, 5, 25),  # Whit Monday
)
INTERESTING_MINUTES = (0, 60, 90, 120, 150, 180, 210, 240, 540, 750, 810, 1050, 1380, 1439, 1440)
WINDOW = timedelta(days=60)
PROPERTY_SETTINGS = settings(
    max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


def _hhmm(minutes: int) -> str:
    """Minutes since midnight as 'HH:MM' (1440 -> '24:00')."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@st.composite
def day_ranges(draw: st.DrawFn, avoid_dst_hours: bool = False) -> list[tuple[str, str]]:
    """0 to 3 non-overlapping ranges of one day, biased towards DST-sensitive and office boundaries."""
    boundary = st.one_of(st.sampled_from(INTERESTING_MINUTES), st.integers(0, 1440))
    if avoid_dst_hours:
        boundary = boundary.filter(lambda m: not 60 < m < 180)
    points = sorted(draw(st.lists(boundary, max_size=6, unique=True)))
    points = points[: len(points) // 2 * 2]
    return [(_hhmm(points[i]), _hhmm(points[i + 1])) for i in range(0, len(points), 2)]


@st.composite
def scenarios(draw: st.DrawFn, avoid_dst_hours: bool = False) -> dict:
    """A random calendar plus a whole-minute start instant near an interesting date."""
    hours = draw(
        st.fixed_dictionaries({day: day_ranges(avoid_dst_hours) for day in DAY_KEYS}).filter(lambda h: any(h.values()))
    )
    zone_name = draw(st.sampled_from(["Europe/Paris", "Europe/Paris", "America/New_York"]))
    country = draw(st.sampled_from(["FR", None]))
    anchor = draw(st.sampled_from(ANCHORS))
    closed = draw(st.lists(st.integers(-4, 10).map(lambda k: anchor + timedelta(days=k)), max_size=3))
    zone = ZoneInfo(zone_name)
    midnight = datetime.combine(anchor, time(0, 0), tzinfo=zone).astimezone(UTC)
    start = midnight + draw(st.integers(-3 * 1440, 2 * 1440)) * MINUTE
    calendar = BusinessCalendar(hours, timezone=zone_name, country=country, closed=closed)
    reference = Reference(hours, zone, country, set(closed), start, start + WINDOW)
    return {"calendar": calendar, "reference": reference, "start": start, "zone": zone}


@lru_cache(maxsize=64)
def _reference_holidays(country: str, year: int) -> frozenset[date]:
    """Public holidays straight from the holidays package (cached: building them is slow)."""
    return frozenset(holidays.country_holidays(country, years=year))


class Reference:
    """Brute-force model: one byte per minute of a window, 1 when open (fold=0 rule applied per range)."""

    def __init__(self, hours, zone: ZoneInfo, country, closed: set[date], begin: datetime, end: datetime) -> None:
        """Mark every open minute of [begin, end) (both whole-minute UTC instants)."""
        self.begin = begin
        self.size = (end - begin) // MINUTE
        self.minutes = bytearray(self.size)
        day = begin.astimezone(zone).date() - timedelta(days=2)
        last = end.astimezone(zone).date() + timedelta(days=1)
        while day <= last:
            public = country is not None and day in _reference_holidays(country, day.year)
            if day not in closed and not public:
                for start_txt, end_txt in hours[DAY_KEYS[day.weekday()]]:
                    lo = self.index(self.wall(day, start_txt, zone))
                    hi = self.index(self.wall(day, end_txt, zone))
                    if hi > lo:
                        self.minutes[lo:hi] = b"\x01" * (hi - lo)
            day += timedelta(days=1)

    @staticmethod
    def wall(day: date, text: str, zone: ZoneInfo) -> datetime:
        """Wall-clock 'HH:MM' of a local date -> UTC instant, fold=0 ('24:00' = next midnight)."""
        hour, minute = map(int, text.split(":"))
        if hour == 24:
            day, hour = day + timedelta(days=1), 0
        return datetime.combine(day, time(hour, minute), tzinfo=zone).astimezone(UTC)

    def index(self, instant: datetime) -> int:
        """Minute index of an instant, clamped to the window."""
        return max(0, min(self.size, (instant - self.begin) // MINUTE))

    def is_open(self, instant: datetime) -> bool:
        """Open minute test."""
        return self.minutes[(utc(instant) - self.begin) // MINUTE] == 1

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Count open minutes one by one."""
        lo, hi = self.index(utc(start)), self.index(utc(end))
        return sum(self.minutes[i] for i in range(lo, hi)) * MINUTE if hi > lo else timedelta(0)

    def add(self, start: datetime, duration: timedelta) -> datetime | None:
        """Walk open minutes one by one until ``duration`` is reached (None if past the window)."""
        position = self.index(utc(start))
        wanted = duration // MINUTE
        if wanted == 0:
            return utc(start)
        for _ in range(wanted):
            position = self.minutes.find(1, position)
            if position < 0:
                return None
            position += 1
        return self.begin + position * MINUTE

    def total(self) -> int:
        """Open minutes in the window."""
        return self.minutes.count(1)


def _duration(data: st.DataObject, reference: Reference, start: datetime) -> timedelta:
    """A whole-minute business duration that fits in the window: random, or one that ends a range exactly."""
    if data.draw(st.booleans()):
        return data.draw(st.integers(0, min(3 * 1440, reference.total() // 2))) * MINUTE
    return reference.between(start, start + data.draw(st.integers(0, 5 * 1440)) * MINUTE)


def _instant(data: st.DataObject, scenario: dict, span_days: int = 20) -> datetime:
    """A whole-minute instant within ``span_days`` after the scenario start."""
    return scenario["start"] + data.draw(st.integers(0, span_days * 1440)) * MINUTE


@PROPERTY_SETTINGS
@given(scenario=scenarios(), data=st.data())
def test_add_matches_reference(scenario: dict, data: st.DataObject) -> None:
    cal, ref, start = scenario["calendar"], scenario["reference"], scenario["start"]
    duration = _duration(data, ref, start)
    expected = ref.add(start, duration)
    assert expected is not None
    assert utc(cal.add(start, duration)) == expected


@PROPERTY_SETTINGS
@given(scenario=scenarios(), data=st.data())
def test_between_matches_reference(scenario: dict, data: st.DataObject) -> None:
    cal, ref = scenario["calendar"], scenario["reference"]
    a, b = _instant(data, scenario), _instant(data, scenario)
    assert cal.between(a, b) == ref.between(a, b)


@PROPERTY_SETTINGS
@given(scenario=scenarios(), data=st.data())
def test_is_open_and_next_open_match_reference(scenario: dict, data: st.DataObject) -> None:
    cal, ref = scenario["calendar"], scenario["reference"]
    for _ in range(5):
        instant = _instant(data, scenario, span_days=5)
        assert cal.is_open(instant) == ref.is_open(instant)
        following = ref.add(instant, MINUTE)
        assert following is not None
        assert utc(cal.next_open(instant)) == following - MINUTE


@PROPERTY_SETTINGS
@given(scenario=scenarios(), data=st.data())
def test_between_inverts_add(scenario: dict, data: st.DataObject) -> None:
    cal, start = scenario["calendar"], scenario["start"]
    duration = _duration(data, scenario["reference"], start)
    assert cal.between(start, cal.add(start, duration)) == duration


@PROPERTY_SETTINGS
@given(scenario=scenarios(), data=st.data())
def test_add_is_monotonic(scenario: dict, data: st.DataObject) -> None:
    cal, ref, start = scenario["calendar"], scenario["reference"], scenario["start"]
    d1, d2 = sorted([_duration(data, ref, start), _duration(data, ref, start)])
    assert utc(cal.add(start, d1)) <= utc(cal.add(start, d2))
    later = start + data.draw(st.integers(0, 3 * 1440)) * MINUTE
    assert utc(cal.add(start, d1)) <= utc(cal.add(later, d1))


@PROPERTY_SETTINGS
@given(scenario=scenarios(), data=st.data())
def test_between_is_additive(scenario: dict, data: st.DataObject) -> None:
    cal = scenario["calendar"]
    a, b, c = sorted(_instant(data, scenario) for _ in range(3))
    assert cal.between(a, b) + cal.between(b, c) == cal.between(a, c)


@PROPERTY_SETTINGS
@given(scenario=scenarios(), data=st.data())
def test_input_zone_does_not_matter(scenario: dict, data: st.DataObject) -> None:
    cal, start = scenario["calendar"], scenario["start"]
    duration = _duration(data, scenario["reference"], start)
    end = _instant(data, scenario)
    results = set()
    for zone in (UTC, NEW_YORK, PARIS, scenario["zone"]):
        results.add((utc(cal.add(start.astimezone(zone), duration)), cal.between(start.astimezone(zone), end)))
        assert cal.add(start.astimezone(zone), duration).tzinfo == cal.zone
    assert len(results) == 1


@PROPERTY_SETTINGS
@given(scenario=scenarios(avoid_dst_hours=True), data=st.data())
def test_is_open_matches_plain_wall_clock_away_from_dst_hours(scenario: dict, data: st.DataObject) -> None:
    cal, zone = scenario["calendar"], scenario["zone"]
    hours = cal.to_dict()["hours"]
    for _ in range(5):
        instant = _instant(data, scenario, span_days=5)
        local = instant.astimezone(zone)
        minute = local.hour * 60 + local.minute
        in_range = any(_parse(s) <= minute < _parse(e) for s, e in hours.get(DAY_KEYS[local.weekday()], []))
        assert cal.is_open(instant) == (in_range and not cal.is_closed_day(local.date()))


def _parse(text: str) -> int:
    """'HH:MM' -> minutes."""
    hour, minute = map(int, text.split(":"))
    return hour * 60 + minute


@settings(max_examples=30, deadline=None, database=None)
@given(naive=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)))
def test_naive_datetimes_always_raise(naive: datetime) -> None:
    cal = BusinessCalendar.always()
    with pytest.raises(ValueError):
        cal.add(naive, MINUTE)
    with pytest.raises(ValueError):
        cal.between(naive, naive.replace(tzinfo=UTC))
