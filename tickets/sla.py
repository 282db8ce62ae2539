"""Pure SLA logic: business calendars, SLA policy choice and the SLA clock (no database, no Flask).

Rules shared by everything below:

- Datetimes: every function takes timezone-aware datetimes (any zone; compared as instants) and raises
  ``ValueError`` on naive ones. Returned datetimes are expressed in the calendar's zone
  (``BusinessCalendar.zone``); convert to UTC for storage.
- Business time is *real elapsed time* (instants) spent inside the calendar's open wall-clock ranges.
  Open ranges are half-open intervals ``[start, end)``.
- DST rule: a range's wall-clock boundaries on a local date become instants by attaching the calendar's
  zone with ``fold=0`` and normalising through UTC. In Europe/Paris a range 01:00-04:00 therefore lasts
  2 real hours on the spring-forward day and 4 on the fall-back day; a nonexistent boundary (02:30 on
  the spring-forward day) is read with the pre-transition offset, i.e. becomes 03:30 summer time; an
  ambiguous boundary (02:30 on the fall-back day) is its first occurrence (summer time). A range whose
  boundaries collapse or cross under this rule is empty that day; ranges that come to overlap are merged.
- ``BusinessCalendar.add(start, 0)`` returns ``start`` itself even when closed; a positive duration
  that ends exactly at the end of a range returns that range end (the earliest instant).
  ``between(start, end)`` is ``timedelta(0)`` when ``end <= start``. Searching forward for open time
  (``add``, ``next_open``) raises ``ValueError`` after ``MAX_CLOSED_DAYS`` consecutive closed days.
- Clock: business time counts from ``started_at`` to min(now, stopped_at), minus pauses (clipped to that
  span, merged when they overlap; an ongoing pause ends at that horizon in ``paused_intervals``).
  ``due_at``/``warn_at`` do not depend on ``now``: they are the instants the target / at-risk share is
  (or was already) reached if the clock keeps running from its last resume; both are None while paused
  or stopped. State precedence: met/missed when stopped (met iff elapsed <= target); breached
  (elapsed > target) even while paused, since a breach cannot be undone; paused; at_risk
  (elapsed >= at_risk_share * target); on_track.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

__all__ = [
    "DAY_KEYS",
    "MAX_CLOSED_DAYS",
    "BusinessCalendar",
    "Clock",
    "ClockState",
    "PolicyCandidate",
    "choose_policy",
    "compute_clock",
    "format_business_duration",
]

DAY_KEYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_CLOSED_DAYS = 3660  # forward searches give up (ValueError) after this many consecutive closed days

_TIME_RE = re.compile(r"^(\d{2}):(\d{2})$")
_DAY_MINUTES = 24 * 60
_ONE_DAY = timedelta(days=1)
_ZERO = timedelta(0)
_DAY_CACHE_LIMIT = 20_000

Interval = tuple[datetime, datetime]


# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------


def _require_aware(value: datetime, name: str) -> datetime:
    """Return ``value`` converted to UTC, or raise ValueError if it is not an aware datetime."""
    if not isinstance(value, datetime):
        raise ValueError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (got naive datetime {value.isoformat()})")
    return value.astimezone(UTC)


def _parse_time(text: Any, *, day: str, is_end: bool) -> int:
    """Parse an "HH:MM" string into minutes since midnight ("24:00" allowed as an end only)."""
    if not isinstance(text, str):
        raise ValueError(f"hours[{day!r}]: time {text!r} must be a string 'HH:MM'")
    match = _TIME_RE.match(text)
    if match is None:
        raise ValueError(f"hours[{day!r}]: malformed time {text!r}, expected 'HH:MM'")
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour == 24 and minute == 0:
        if not is_end:
            raise ValueError(f"hours[{day!r}]: '24:00' is only allowed as the end of a range")
        return _DAY_MINUTES
    if hour > 23 or minute > 59:
        raise ValueError(f"hours[{day!r}]: time {text!r} is out of range (00:00-23:59, or 24:00 as an end)")
    return hour * 60 + minute


def _format_minutes(minutes: int) -> str:
    """Format minutes since midnight as "HH:MM"."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _parse_hours(hours: Any) -> dict[int, tuple[tuple[int, int], ...]]:
    """Validate the ``hours`` mapping and return weekday -> sorted (start, end) minute ranges."""
    if not isinstance(hours, Mapping):
        raise ValueError(f"hours must be a mapping of day keys {DAY_KEYS} to ranges, got {type(hours).__name__}")
    parsed: dict[int, tuple[tuple[int, int], ...]] = {}
    for day, ranges in hours.items():
        if day not in DAY_KEYS:
            raise ValueError(f"hours: unknown day key {day!r}, expected one of {', '.join(DAY_KEYS)}")
        if isinstance(ranges, str | bytes) or not isinstance(ranges, Iterable):
            raise ValueError(f"hours[{day!r}] must be a list of ('HH:MM', 'HH:MM') ranges")
        day_ranges: list[tuple[int, int]] = []
        for item in ranges:
            if isinstance(item, str | bytes) or not isinstance(item, Sequence) or len(item) != 2:
                raise ValueError(f"hours[{day!r}]: range {item!r} must be a pair ('HH:MM', 'HH:MM')")
            start = _parse_time(item[0], day=day, is_end=False)
            end = _parse_time(item[1], day=day, is_end=True)
            if end <= start:
                raise ValueError(f"hours[{day!r}]: range {item[0]}-{item[1]} must end after it starts")
            day_ranges.append((start, end))
        day_ranges.sort()
        for (s1, e1), (s2, e2) in zip(day_ranges, day_ranges[1:], strict=False):
            if s2 < e1:
                raise ValueError(
                    f"hours[{day!r}]: ranges {_format_minutes(s1)}-{_format_minutes(e1)} and "
                    f"{_format_minutes(s2)}-{_format_minutes(e2)} overlap"
                )
        if day_ranges:
            parsed[DAY_KEYS.index(day)] = tuple(day_ranges)
    return parsed


@lru_cache(maxsize=512)
def _public_holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    """Return the public holidays of one year for a country/subdivision (cached)."""
    return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=year).keys())


def _wall_to_instant(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    """Turn a wall-clock time (minutes since midnight, 1440 = next midnight) into a UTC instant (fold=0)."""
    if minutes >= _DAY_MINUTES:
        day, minutes = day + _ONE_DAY, minutes - _DAY_MINUTES
    wall = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=zone)
    return wall.astimezone(UTC)


# --------------------------------------------------------------------------------------------------
# Business calendar
# --------------------------------------------------------------------------------------------------


class BusinessCalendar:
    """Working hours per weekday in a time zone, minus public holidays and extra closed days."""

    def __init__(
        self,
        hours: Mapping[str, Iterable[Sequence[str]]],
        *,
        timezone: str = "Europe/Paris",
        country: str | None = "FR",
        subdivision: str | None = None,
        closed: Iterable[date] = (),
    ) -> None:
        """Validate and build a calendar; raise ValueError on any invalid argument."""
        self._ranges = _parse_hours(hours)
        if not isinstance(timezone, str) or not timezone:
            raise ValueError(f"timezone must be an IANA zone name, got {timezone!r}")
        try:
            self._zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {timezone!r}") from exc
        self._timezone = timezone
        if country is None and subdivision is not None:
            raise ValueError("subdivision requires a country")
        if country is not None:
            try:
                holidays.country_holidays(country, subdiv=subdivision, years=[])
            except NotImplementedError as exc:
                raise ValueError(f"no public holidays available for {country!r}/{subdivision!r}: {exc}") from exc
        self._country = country
        self._subdivision = subdivision
        closed_days: set[date] = set()
        for day in closed:
            if isinstance(day, datetime) or not isinstance(day, date):
                raise ValueError(f"closed days must be datetime.date values, got {day!r}")
            closed_days.add(day)
        self._closed = frozenset(closed_days)
        self._day_cache: dict[date, tuple[Interval, ...]] = {}

    # -- construction helpers ---------------------------------------------------------------------

    @classmethod
    def always(cls, *, timezone: str = "Europe/Paris") -> BusinessCalendar:
        """Return a 24/7 calendar without public holidays (business time == real time)."""
        return cls({day: [("00:00", "24:00")] for day in DAY_KEYS}, timezone=timezone, country=None)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BusinessCalendar:
        """Build a calendar from its JSON form (see ``to_dict``); raise ValueError if malformed."""
        if not isinstance(data, Mapping):
            raise ValueError("calendar data must be a mapping")
        unknown = set(data) - {"hours", "timezone", "country", "subdivision", "closed"}
        if unknown:
            raise ValueError(f"unknown calendar keys: {', '.join(sorted(map(str, unknown)))}")
        if "hours" not in data:
            raise ValueError("calendar data must have 'hours'")
        closed: list[date] = []
        for item in data.get("closed") or ():
            if not isinstance(item, str):
                raise ValueError(f"closed days must be ISO dates 'YYYY-MM-DD', got {item!r}")
            try:
                closed.append(date.fromisoformat(item))
            except ValueError as exc:
                raise ValueError(f"closed day {item!r} is not an ISO date 'YYYY-MM-DD'") from exc
        return cls(
            data["hours"],
            timezone=data.get("timezone", "Europe/Paris"),
            country=data.get("country", "FR"),
            subdivision=data.get("subdivision"),
            closed=closed,
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-serialisable form of this calendar (inverse of ``from_dict``)."""
        return {
            "hours": {
                DAY_KEYS[weekday]: [[_format_minutes(s), _format_minutes(e)] for s, e in ranges]
                for weekday, ranges in sorted(self._ranges.items())
            },
            "timezone": self._timezone,
            "country": self._country,
            "subdivision": self._subdivision,
            "closed": sorted(day.isoformat() for day in self._closed),
        }

    # -- read-only attributes -----------------------------------------------------------------------

    @property
    def timezone(self) -> str:
        """IANA name of the calendar's time zone."""
        return self._timezone

    @property
    def zone(self) -> ZoneInfo:
        """The calendar's time zone object."""
        return self._zone

    @property
    def country(self) -> str | None:
        """Country code for public holidays, or None for none."""
        return self._country

    @property
    def subdivision(self) -> str | None:
        """Subdivision code for public holidays (e.g. "57" for Moselle), or None."""
        return self._subdivision

    @property
    def closed(self) -> frozenset[date]:
        """Extra closed days."""
        return self._closed

    def __eq__(self, other: object) -> bool:
        """Calendars are equal when their stored (``to_dict``) forms are equal."""
        if not isinstance(other, BusinessCalendar):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        """Hash consistent with equality."""
        return hash(
            (
                tuple(sorted(self._ranges.items())),
                self._timezone,
                self._country,
                self._subdivision,
                self._closed,
            )
        )

    def __repr__(self) -> str:
        """Readable representation."""
        d = self.to_dict()
        return (
            f"BusinessCalendar({d['hours']!r}, timezone={self._timezone!r}, country={self._country!r}, "
            f"subdivision={self._subdivision!r}, closed={d['closed']!r})"
        )

    # -- days -------------------------------------------------------------------------------------

    def is_closed_day(self, day: date) -> bool:
        """True if ``day`` (a local date) is a public holiday or an extra closed day."""
        if day in self._closed:
            return True
        return self._country is not None and day in _public_holidays(self._country, self._subdivision, day.year)

    def open_intervals(self, day: date) -> tuple[Interval, ...]:
        """Return the open intervals of one local date as sorted, merged, non-empty UTC instant pairs."""
        cached = self._day_cache.get(day)
        if cached is not None:
            return cached
        ranges = self._ranges.get(day.weekday())
        result: tuple[Interval, ...] = ()
        if ranges and not self.is_closed_day(day):
            raw = sorted(
                (_wall_to_instant(day, s, self._zone), _wall_to_instant(day, e, self._zone)) for s, e in ranges
            )
            merged: list[Interval] = []
            for start, end in raw:
                if end <= start:
                    continue
                if merged and start <= merged[-1][1]:
                    if end > merged[-1][1]:
                        merged[-1] = (merged[-1][0], end)
                else:
                    merged.append((start, end))
            result = tuple(merged)
        if len(self._day_cache) >= _DAY_CACHE_LIMIT:
            self._day_cache.clear()
        self._day_cache[day] = result
        return result

    def _local_date(self, instant_utc: datetime) -> date:
        """Local date of a UTC instant in the calendar's zone."""
        return instant_utc.astimezone(self._zone).date()

    def _intervals(self, first_day: date, last_day: date | None = None) -> Iterator[Interval]:
        """Yield non-overlapping open intervals in time order, day by day (bounded by MAX_CLOSED_DAYS)."""
        day = first_day
        last_end: datetime | None = None
        idle = 0
        try:
            while last_day is None or day <= last_day:
                intervals = self.open_intervals(day)
                if intervals:
                    idle = 0
                else:
                    idle += 1
                    if last_day is None and idle > MAX_CLOSED_DAYS:
                        raise ValueError(f"no open business time within {MAX_CLOSED_DAYS} days after {first_day}")
                for start, end in intervals:
                    if last_end is not None and start < last_end:
                        start = last_end
                    if end <= start:
                        continue
                    yield start, end
                    last_end = end
                day += _ONE_DAY
        except OverflowError as exc:
            raise ValueError("business time search went past the supported date range") from exc

    # -- queries -----------------------------------------------------------------------------------

    def is_open(self, instant: datetime) -> bool:
        """True if ``instant`` lies inside an open range (ranges are half-open [start, end))."""
        t = _require_aware(instant, "instant")
        day = self._local_date(t)
        return any(start <= t < end for start, end in self._intervals(day - _ONE_DAY, day + _ONE_DAY))

    def next_open(self, instant: datetime) -> datetime:
        """Return ``instant`` itself if open, else the start of the next open range (calendar zone)."""
        t = _require_aware(instant, "instant")
        for start, end in self._intervals(self._local_date(t) - _ONE_DAY):
            if end > t:
                return max(start, t).astimezone(self._zone)
        raise AssertionError("unreachable: _intervals is unbounded")  # pragma: no cover

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """Earliest instant (calendar zone) when ``duration`` of business time has elapsed since ``start``."""
        t = _require_aware(start, "start")
        if not isinstance(duration, timedelta):
            raise ValueError(f"duration must be a timedelta, got {type(duration).__name__}")
        if duration < _ZERO:
            raise ValueError(f"duration must not be negative (got {duration})")
        if duration == _ZERO:
            return t.astimezone(self._zone)
        remaining = duration
        for a, b in self._intervals(self._local_date(t) - _ONE_DAY):
            if b <= t:
                continue
            a = max(a, t)
            available = b - a
            if remaining <= available:
                return (a + remaining).astimezone(self._zone)
            remaining -= available
        raise AssertionError("unreachable: _intervals is unbounded")  # pragma: no cover

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Return the business time elapsed from ``start`` to ``end`` (timedelta(0) if end <= start)."""
        s = _require_aware(start, "start")
        e = _require_aware(end, "end")
        if e <= s:
            return _ZERO
        total = _ZERO
        for a, b in self._intervals(self._local_date(s) - _ONE_DAY, self._local_date(e) + _ONE_DAY):
            if a >= e:
                break
            lo, hi = max(a, s), min(b, e)
            if hi > lo:
                total += hi - lo
        return total

    def open_ranges(self, start: datetime, end: datetime) -> list[Interval]:
        """The parts of [start, end) inside open ranges, in time order (calendar zone): what ``between`` adds up."""
        s = _require_aware(start, "start")
        e = _require_aware(end, "end")
        if e <= s:
            return []
        out: list[Interval] = []
        for a, b in self._intervals(self._local_date(s) - _ONE_DAY, self._local_date(e) + _ONE_DAY):
            if a >= e:
                break
            lo, hi = max(a, s), min(b, e)
            if hi > lo:
                out.append((lo.astimezone(self._zone), hi.astimezone(self._zone)))
        return out


def business_ranges(calendar: BusinessCalendar, spans: Iterable[Interval]) -> list[Interval]:
    """The business-time ranges of wall-clock spans (a clock's ``counted``): the ranges the clock really counted."""
    return [r for a, b in spans for r in calendar.open_ranges(a, b)]


# --------------------------------------------------------------------------------------------------
# SLA policy choice
# --------------------------------------------------------------------------------------------------

_PRIORITY_FR = {"low": "basse", "normal": "normale", "high": "haute", "urgent": "urgente"}
_CRITERIA = ("tier", "priority", "topic", "queue")


@dataclass(frozen=True)
class PolicyCandidate:
    """An SLA policy as seen by the chooser; a None criterion is a wildcard."""

    id: int
    name: str
    tier: str | None = None
    priority: str | None = None
    topic: str | None = None
    queue: str | None = None

    def criteria(self) -> tuple[bool, ...]:
        """Which criteria are set, in weight order (tier, priority, topic, queue)."""
        return tuple(getattr(self, name) is not None for name in _CRITERIA)

    def matches(self, *, tier: str | None, priority: str | None, topic: str | None, queue: str | None) -> bool:
        """True if every set criterion equals the ticket's value."""
        ticket = {"tier": tier, "priority": priority, "topic": topic, "queue": queue}
        return all(getattr(self, name) is None or getattr(self, name) == ticket[name] for name in _CRITERIA)


def _specificity_key(candidate: PolicyCandidate) -> tuple[int, tuple[bool, ...], int]:
    """Sort key: most criteria, then heaviest criteria (tier > priority > topic > queue), then lowest id."""
    flags = candidate.criteria()
    return (-sum(flags), tuple(not f for f in flags), candidate.id)


def _describe_criteria(candidate: PolicyCandidate) -> str:
    """French description of a policy's set criteria."""
    parts: list[str] = []
    if candidate.tier is not None:
        parts.append(f"niveau de service {candidate.tier}")
    if candidate.priority is not None:
        parts.append(f"priorité {_PRIORITY_FR.get(candidate.priority, candidate.priority)}")
    if candidate.topic is not None:
        parts.append(f"thème « {candidate.topic} »")
    if candidate.queue is not None:
        parts.append(f"file « {candidate.queue} »")
    return ", ".join(parts) if parts else "politique par défaut, sans critère"


def choose_policy(
    candidates: Iterable[PolicyCandidate],
    *,
    tier: str | None,
    priority: str | None,
    topic: str | None,
    queue: str | None,
) -> tuple[PolicyCandidate, str] | None:
    """Pick the most specific matching policy and explain the choice in French; None if none matches."""
    applicable = [c for c in candidates if c.matches(tier=tier, priority=priority, topic=topic, queue=queue)]
    if not applicable:
        return None
    ranked = sorted(applicable, key=_specificity_key)
    chosen = ranked[0]
    count = sum(chosen.criteria())
    detail = f"{count} critère{'s' if count > 1 else ''} sur {len(_CRITERIA)} ; "
    if len(applicable) == 1:
        detail += "seule politique applicable"
    else:
        detail += f"plus spécifique parmi {len(applicable)} politiques applicables"
        runner_up = ranked[1]
        if sum(runner_up.criteria()) == count:
            if runner_up.criteria() == chosen.criteria():
                detail += f", à égalité avec « {runner_up.name} » : plus petit identifiant retenu"
            else:
                detail += f", à égalité avec « {runner_up.name} » : critères de plus fort poids retenus"
    return chosen, f"Politique « {chosen.name} » : {_describe_criteria(chosen)} ({detail})"


# --------------------------------------------------------------------------------------------------
# SLA clock
# --------------------------------------------------------------------------------------------------

ClockState = Literal["on_track", "at_risk", "breached", "paused", "met", "missed"]


def format_business_duration(td: timedelta) -> str:
    """Format a business duration in French hours/minutes, truncated to the minute ("27 h 30", "45 min")."""
    sign = "-" if td < _ZERO else ""
    minutes = int(abs(td) // timedelta(minutes=1))
    hours, mins = divmod(minutes, 60)
    if hours == 0:
        return f"{sign}{mins} min"
    if mins == 0:
        return f"{sign}{hours} h"
    return f"{sign}{hours} h {mins:02d}"


def _format_real_duration(td: timedelta) -> str:
    """Format a real (calendar) duration in French with days ("2 j", "2 j 3 h", "5 h 20", "12 min")."""
    minutes = int(max(td, _ZERO) // timedelta(minutes=1))
    days, rest = divmod(minutes, _DAY_MINUTES)
    if days == 0:
        return format_business_duration(timedelta(minutes=rest))
    hours = rest // 60
    return f"{days} j {hours} h" if hours else f"{days} j"


def _real_length(interval: Interval) -> timedelta:
    """Real elapsed time of an interval (computed in UTC: same-zone subtraction would use wall time)."""
    return interval[1].astimezone(UTC) - interval[0].astimezone(UTC)


@dataclass(frozen=True)
class Clock:
    """State of one SLA clock (first response or resolution) at a given instant."""

    elapsed: timedelta
    remaining: timedelta
    due_at: datetime | None
    warn_at: datetime | None
    paused: bool
    counted: list[Interval]
    paused_intervals: list[Interval]
    state: ClockState
    target: timedelta = _ZERO
    at_risk_share: float = 0.75
    now: datetime | None = None
    stopped_at: datetime | None = None

    @property
    def stopped(self) -> bool:
        """True once the clock was stopped (first response given or ticket resolved)."""
        return self.stopped_at is not None

    @property
    def share(self) -> float | None:
        """Elapsed share of the target (1.0 = target reached), or None for a zero target."""
        if self.target <= _ZERO:
            return None
        return self.elapsed / self.target

    @property
    def paused_total(self) -> timedelta:
        """Real (not business) time spent paused so far."""
        return sum((_real_length(iv) for iv in self.paused_intervals), _ZERO)

    def reason(self) -> str:
        """Short French explanation of the clock state, for the ticket page."""
        target_txt = format_business_duration(self.target)
        elapsed_txt = format_business_duration(self.elapsed)
        share = self.share
        pct = f"{math.floor(share * 100)} %" if share is not None else "100 %"
        ratio = f"{elapsed_txt} sur {target_txt} ouvrées"
        over = format_business_duration(self.elapsed - self.target)
        if self.state == "met":
            text = f"Délai respecté : {ratio}"
        elif self.state == "missed":
            text = f"Délai manqué de {over} : {ratio}"
        elif self.state == "breached":
            text = f"Délai dépassé de {over} ({ratio})"
        else:
            text = f"{pct} du délai écoulé ({ratio})"
        total_paused = self.paused_total
        if self.paused and self.paused_intervals:
            current = self.paused_intervals[-1]
            text += f" ; horloge suspendue depuis {_format_real_duration(_real_length(current))}"
            text += " en attente du demandeur"
            if len(self.paused_intervals) > 1:
                text += f" ({_format_real_duration(total_paused)} au total)"
        elif total_paused > _ZERO:
            text += f" ; horloge suspendue {_format_real_duration(total_paused)} en attente du demandeur"
        return text


def _subtract(span: Interval, holes: Sequence[Interval]) -> list[Interval]:
    """Return ``span`` minus the sorted, disjoint ``holes``, as non-empty intervals."""
    start, end = span
    out: list[Interval] = []
    cursor = start
    for h_start, h_end in holes:
        if h_start > cursor:
            out.append((cursor, min(h_start, end)))
        cursor = max(cursor, h_end)
        if cursor >= end:
            break
    if cursor < end:
        out.append((cursor, end))
    return [(a, b) for a, b in out if b > a]


def _reach(
    calendar: BusinessCalendar,
    closed_segments: Sequence[Interval],
    running_from: datetime,
    amount: timedelta,
) -> datetime:
    """Earliest instant the clock reaches ``amount``: in past segments, else running from ``running_from``."""
    cumulated = _ZERO
    for a, b in closed_segments:
        counted = calendar.between(a, b)
        if cumulated + counted >= amount:
            return calendar.add(a, amount - cumulated)
        cumulated += counted
    return calendar.add(running_from, amount - cumulated)


def compute_clock(
    calendar: BusinessCalendar,
    started_at: datetime,
    pauses: Iterable[tuple[datetime, datetime | None]],
    target: timedelta,
    now: datetime,
    *,
    at_risk_share: float = 0.75,
    stopped_at: datetime | None = None,
) -> Clock:
    """Compute an SLA clock at ``now`` (resumed_at None = still paused); see the module docstring."""
    start = _require_aware(started_at, "started_at")
    now_utc = _require_aware(now, "now")
    stop = _require_aware(stopped_at, "stopped_at") if stopped_at is not None else None
    if not isinstance(target, timedelta) or target < _ZERO:
        raise ValueError(f"target must be a non-negative timedelta, got {target!r}")
    if not 0 <= at_risk_share <= 1:
        raise ValueError(f"at_risk_share must be between 0 and 1, got {at_risk_share!r}")
    horizon = min(now_utc, stop) if stop is not None else now_utc

    raw_pauses: list[tuple[datetime, datetime | None]] = []
    for item in pauses:
        paused_at, resumed_at = item
        p = _require_aware(paused_at, "paused_at")
        r = _require_aware(resumed_at, "resumed_at") if resumed_at is not None else None
        if r is not None and r < p:
            raise ValueError(f"pause resumed ({resumed_at}) before it started ({paused_at})")
        raw_pauses.append((p, r))

    is_paused = stop is None and any(
        p <= now_utc and (r is None or r > now_utc) and now_utc >= start for p, r in raw_pauses
    )

    # Clip pauses to [start, horizon] and merge them.
    merged: list[Interval] = []
    for p, r in sorted(raw_pauses, key=lambda pr: pr[0]):
        lo = max(p, start)
        hi = min(r, horizon) if r is not None else horizon
        if hi <= lo:
            continue
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))

    counted = _subtract((start, horizon), merged) if horizon > start else []
    elapsed = sum((calendar.between(a, b) for a, b in counted), _ZERO)
    remaining = max(target - elapsed, _ZERO)
    warn_amount = target * at_risk_share

    due_at: datetime | None = None
    warn_at: datetime | None = None
    if stop is None and not is_paused:
        # The clock is running from its last resume (or its start); earlier segments are closed.
        running_from = max([start] + [r for _, r in merged if r <= now_utc])
        closed_segments = [(a, b) for a, b in counted if b <= running_from]
        due_at = _reach(calendar, closed_segments, running_from, target)
        warn_at = _reach(calendar, closed_segments, running_from, warn_amount)

    state: ClockState
    if stop is not None:
        state = "met" if elapsed <= target else "missed"
    elif elapsed > target:
        state = "breached"
    elif is_paused:
        state = "paused"
    elif elapsed >= warn_amount:
        state = "at_risk"
    else:
        state = "on_track"

    zone = calendar.zone
    return Clock(
        elapsed=elapsed,
        remaining=remaining,
        due_at=due_at,
        warn_at=warn_at,
        paused=is_paused,
        counted=[(a.astimezone(zone), b.astimezone(zone)) for a, b in counted],
        paused_intervals=[(a.astimezone(zone), b.astimezone(zone)) for a, b in merged],
        state=state,
        target=target,
        at_risk_share=at_risk_share,
        now=now_utc.astimezone(zone),
        stopped_at=stop.astimezone(zone) if stop is not None else None,
    )
