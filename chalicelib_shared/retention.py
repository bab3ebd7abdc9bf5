"""Retention: which DR copies a lifecycle keeps and which it deletes.

The DR account holds the last copy of the data, so this module is exact and
conservative: pure functions over ``(id, created)`` pairs, standard library only
(vendored into the Lambda bundles), and every kept snapshot carries its reasons.

A lifecycle is a built-in name (``LIFECYCLES``), an operator's custom name
(``CUSTOM_LIFECYCLES``), or a rule text such as ``daily=7 weekly=5``.

Semantics of ``apply_policy`` (the walk is newest first; ties keep input order):

* ``last=N`` keeps the N newest.
* ``hourly|daily|weekly|monthly|yearly=N`` keeps the newest snapshot of each of
  the N most recent UTC periods (hour, day, ISO week, month, year) that have
  one. If fewer than N periods exist, the oldest snapshot is kept too
  (``oldest <rule>``), so a young history is never thinned below the rule.
* ``within=D`` keeps every snapshot strictly newer than ``newest - D``.
* ``within_<period>=D`` keeps the newest snapshot of each period among those
  strictly newer than ``newest - D``, and the oldest snapshot too when it lies
  in that window (``oldest within_<period>``).
* ``D`` is subtracted calendar-wise: years, then months (clamping to the last
  day of the month, so Mar 31 - 1m = Feb 28/29, and Feb 29 - 1y = Feb 28),
  then days and hours.

Future-dated snapshots (``created > now``) are always kept with the single
reason ``future`` and are invisible to every rule: they count toward no
period, are never ``newest`` or ``oldest``, and take no ``last`` slot. A clock
skew can therefore never push a real snapshot out, and once ``now`` passes
them they are judged like any other.

Re-applying a policy to what it kept keeps all of it (same ``now``): every rule
takes the same snapshots from the kept set as from the full set, because the
newest, the periods each rule took and (when a rule kept it) the oldest all
survive. Only reasons can grow: if the original oldest was deleted, the kept
set's oldest may fall in a ``within_<period>`` window and gain
``oldest within_<period>``.

Lifecycle ``Ignore`` means "not copied, not managed": everything is kept. An
unknown or malformed lifecycle given to ``resolve_lifecycle`` keeps everything
and reports the problem: a typo must never delete anything.
"""

from __future__ import annotations

import calendar
import json
import re
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from types import MappingProxyType

from chalicelib_shared import clock

LIFECYCLES: Mapping[str, str] = MappingProxyType(
    {
        "Test": "last=3 within=5d",
        "Standard": "daily=7 weekly=5 monthly=12 yearly=7",
        "Weekly": "daily=7",
        "Fortnightly": "daily=14",
        "Biweekly": "weekly=2",
        "SemiMonthly": "daily=14 weekly=4",
        "Monthly": "within_daily=1m",
    }
)
"""Built-in lifecycle name -> rule text (``Ignore`` and aliases are separate)."""

ALIASES: Mapping[str, str] = MappingProxyType({"Extreme": "Standard"})
"""Names kept from the original DRACO that mean another built-in lifecycle."""

IGNORE = "Ignore"
NO_LIFECYCLE = "no Draco_Lifecycle tag and no DEFAULT_LIFECYCLE"

PERIODS = ("hourly", "daily", "weekly", "monthly", "yearly")
KEYS = ("last", *PERIODS, "within", *(f"within_{p}" for p in PERIODS))
"""Every rule key, in the canonical order used by ``Policy.describe``."""

_PERIOD_OF: Mapping[str, Callable[[datetime], Hashable]] = MappingProxyType(
    {
        "hourly": lambda t: (t.year, t.month, t.day, t.hour),
        "daily": lambda t: t.date(),
        "weekly": lambda t: t.isocalendar()[:2],
        "monthly": lambda t: (t.year, t.month),
        "yearly": lambda t: t.year,
    }
)
_UNITS = "ymdh"
_DURATION_PART = re.compile(r"([0-9]+)([a-zA-Z])")  # ASCII digits only: int() reads "٣" as 3
_CUSTOM_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_EARLIEST = datetime.min.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class Duration:
    """A calendar duration: months and years have their calendar length."""

    years: int = 0
    months: int = 0
    days: int = 0
    hours: int = 0

    def __str__(self) -> str:
        parts = zip((self.years, self.months, self.days, self.hours), _UNITS, strict=True)
        return "".join(f"{n}{unit}" for n, unit in parts if n)

    def before(self, moment: datetime) -> datetime:
        """``moment`` minus this duration; the earliest datetime if that is out of range."""
        year = moment.year - self.years
        month_index = year * 12 + moment.month - 1 - self.months
        if year < 1 or month_index < 12:
            return _EARLIEST
        moment = _clamped(moment, year, moment.month)
        moment = _clamped(moment, month_index // 12, month_index % 12 + 1)
        try:
            return moment - timedelta(days=self.days, hours=self.hours)
        except OverflowError:
            return _EARLIEST


def _clamped(moment: datetime, year: int, month: int) -> datetime:
    """``moment`` moved to year/month, its day clamped to that month's last day."""
    last_day = calendar.monthrange(year, month)[1]
    return moment.replace(year=year, month=month, day=min(moment.day, last_day))


@dataclass(frozen=True)
class Rule:
    """One ``key=value`` of a rule text: a count (``daily=7``) or a ``Duration``."""

    key: str
    value: int | Duration

    def __str__(self) -> str:
        return f"{self.key}={self.value}"


@dataclass(frozen=True)
class Policy:
    """A parsed lifecycle; ``name`` is None for a written-out rule text."""

    name: str | None = None
    rules: tuple[Rule, ...] = ()
    ignore: bool = False
    keep_all: bool = False
    problem: str | None = None

    def describe(self) -> str:
        """The rule text in canonical key order (empty for Ignore and keep-all)."""
        return " ".join(str(rule) for rule in self.rules)

    def __str__(self) -> str:
        if self.keep_all:
            return f"keep everything ({self.problem})"
        if self.ignore:
            return f"{IGNORE} ({self.problem or 'not copied, not managed'})"
        if self.name is None:
            return self.describe()
        return f"{self.name} ({self.describe()})"


@dataclass(frozen=True)
class RetentionResult:
    """Ids kept and deleted (newest first) and why each kept one is kept."""

    keep: list[str]
    delete: list[str]
    reasons: dict[str, list[str]] = field(default_factory=dict)


# Parsing


def parse_policy(text: str, custom: Mapping[str, str] | None = None) -> Policy:
    """Parse a lifecycle name (case-insensitive) or a rule text; ValueError says what is wrong.

    Built-in names win over ``custom`` ones (``parse_custom_lifecycles``
    refuses custom names that would shadow them).
    """
    text = text.strip()
    if not text:
        raise ValueError("empty lifecycle: give a lifecycle name or a rule such as daily=7")
    if "=" in text or len(text.split()) > 1:
        return Policy(rules=_parse_rules(text))
    return _named_policy(text, custom or {})


def _named_policy(text: str, custom: Mapping[str, str]) -> Policy:
    wanted = text.lower()
    if wanted == IGNORE.lower():
        return Policy(name=IGNORE, ignore=True)
    builtin = {n.lower(): n for n in LIFECYCLES} | {a.lower(): n for a, n in ALIASES.items()}
    if wanted in builtin:
        name = builtin[wanted]
        return Policy(name=name, rules=_parse_rules(LIFECYCLES[name]))
    for name, rule_text in custom.items():
        if name.lower() == wanted:
            try:
                return Policy(name=name, rules=_parse_rules(rule_text))
            except ValueError as err:
                raise ValueError(f"custom lifecycle {name!r}: {err}") from None
    if wanted in KEYS:
        raise ValueError(f"{text!r} needs a value, e.g. {wanted}={'7d' if '_' in wanted else 7}")
    known = ", ".join([*LIFECYCLES, *ALIASES, IGNORE, *custom])
    raise ValueError(f"unknown lifecycle {text!r} (known: {known}; or a rule such as daily=7)")


def _parse_rules(text: str) -> tuple[Rule, ...]:
    """Parse ``key=value`` tokens separated by whitespace into canonically ordered rules."""
    found: dict[str, Rule] = {}
    for token in text.split():
        key, sep, raw = token.partition("=")
        if not sep:
            raise ValueError(f"{token!r} is not key=value (e.g. daily=7)")
        if key not in KEYS:
            raise ValueError(f"unknown key {key!r} in {token!r} (keys: {', '.join(KEYS)})")
        if key in found:
            raise ValueError(f"duplicate key {key!r}")
        try:
            value = parse_duration(raw) if key.startswith("within") else _parse_count(raw)
        except ValueError as err:
            raise ValueError(f"{token!r}: {err}") from None
        found[key] = Rule(key, value)
    if not found:
        raise ValueError("empty rule: give at least one key=value")
    return tuple(found[key] for key in KEYS if key in found)


def _parse_count(raw: str) -> int:
    if not raw.isascii() or not raw.isdigit():
        raise ValueError(f"{raw!r} is not a positive whole number")
    if int(raw) == 0:
        raise ValueError("a count must be at least 1, not 0")
    return int(raw)


def parse_duration(text: str) -> Duration:
    """Parse ``5d``, ``1m14d``, ``1y2m3d4h``: units y m d h, any order, each once, non-zero."""
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"bad duration {text!r}: use numbers with units y m d h, e.g. 5d or 1m14d")
    amounts: dict[str, int] = {}
    for number, unit in parts:
        if unit not in _UNITS:
            raise ValueError(f"bad duration {text!r}: unknown unit {unit!r} (units: y m d h)")
        if unit in amounts:
            raise ValueError(f"bad duration {text!r}: unit {unit!r} appears twice")
        amounts[unit] = int(number)
    if not any(amounts.values()):
        raise ValueError(f"bad duration {text!r}: it must be longer than zero")
    return Duration(*(amounts.get(unit, 0) for unit in _UNITS))


def parse_custom_lifecycles(text: str) -> dict[str, str]:
    """Parse ``CUSTOM_LIFECYCLES``, a JSON object of name -> rule text; ValueError on any flaw."""
    if not text.strip():
        return {}
    try:
        data = json.loads(text, object_pairs_hook=_refuse_duplicate_names)
    except json.JSONDecodeError as err:
        raise ValueError(f"not valid JSON ({err})") from None
    if not isinstance(data, dict):
        raise ValueError('must be a JSON object such as {"Gold": "daily=35 monthly=24"}')
    taken = {n.lower() for n in (*LIFECYCLES, *ALIASES, IGNORE)}
    for name, rule_text in data.items():
        if not _CUSTOM_NAME.match(name):
            raise ValueError(f"lifecycle name {name!r} may hold only letters, digits, '_' and '-'")
        if name.lower() in taken:
            raise ValueError(f"lifecycle name {name!r} is taken (built-in or repeated)")
        taken.add(name.lower())
        if not isinstance(rule_text, str):
            raise ValueError(f"lifecycle {name!r}: the rule must be a string such as 'daily=7'")
        try:
            _parse_rules(rule_text)
        except ValueError as err:
            raise ValueError(f"lifecycle {name!r}: {err}") from None
    return data


def _refuse_duplicate_names(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """JSON would silently keep the last of two equal names; refuse instead."""
    result: dict[str, object] = {}
    for name, value in pairs:
        if name in result:
            raise ValueError(f"lifecycle name {name!r} appears twice")
        result[name] = value
    return result


def resolve_lifecycle(value: str | None, custom: Mapping[str, str] | None = None, default: str = "") -> Policy:
    """The policy for a snapshot's ``Draco_Lifecycle`` tag; never raises.

    No tag falls back to ``default``; with no default the snapshot is ignored.
    Anything unparsable keeps everything and carries the problem, so a typo in
    a tag can never delete a copy.
    """
    text = (value or "").strip() or default.strip()
    if not text:
        return Policy(ignore=True, problem=NO_LIFECYCLE)
    try:
        return parse_policy(text, custom)
    except ValueError as err:
        return Policy(keep_all=True, problem=str(err))


# Applying

Snapshot = tuple[str, datetime]


def apply_policy(
    policy: Policy, snapshots: Iterable[tuple[str, datetime]], now: datetime | None = None
) -> RetentionResult:
    """Split snapshots into kept and deleted (newest first) following ``policy``."""
    now = clock.now() if now is None else _utc(now, "now")
    walk = _newest_first(snapshots)
    reasons: dict[str, list[str]] = {}
    if policy.ignore or policy.keep_all:
        label = "ignore" if policy.ignore else "keep_all"
        reasons = {sid: [label] for sid, _ in walk}
    else:
        present = [s for s in walk if s[1] <= now]
        reasons = {sid: ["future"] for sid, created in walk if created > now}
        for rule in policy.rules:
            for sid, reason in _select(rule, present):
                reasons.setdefault(sid, []).append(reason)
    return RetentionResult(
        keep=[sid for sid, _ in walk if sid in reasons],
        delete=[sid for sid, _ in walk if sid not in reasons],
        reasons=reasons,
    )


def _utc(moment: datetime, what: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {moment.isoformat()}")
    return moment.astimezone(timezone.utc)


def _newest_first(snapshots: Iterable[tuple[str, datetime]]) -> list[Snapshot]:
    """Validated snapshots, newest first; a stable sort keeps ties in input order."""
    seen: set[str] = set()
    checked: list[Snapshot] = []
    for sid, created in snapshots:
        if sid in seen:
            raise ValueError(f"duplicate snapshot id {sid!r}")
        seen.add(sid)
        checked.append((sid, _utc(created, f"snapshot {sid!r} created")))
    return sorted(checked, key=lambda s: s[1], reverse=True)


def _select(rule: Rule, walk: list[Snapshot]) -> Iterator[tuple[str, str]]:
    """(id, reason) for each snapshot of ``walk`` (newest first, none future) ``rule`` keeps."""
    if not walk:
        return iter(())
    if isinstance(rule.value, int):
        if rule.key == "last":
            return ((sid, "last") for sid, _ in walk[: rule.value])
        return _per_period(walk, rule.key, rule.value, rule.key, f"oldest {rule.key}")
    cutoff = rule.value.before(walk[0][1])
    window = [s for s in walk if s[1] > cutoff]
    if rule.key == "within":
        return ((sid, f"within {rule.value}") for sid, _ in window)
    period = rule.key.removeprefix("within_")
    oldest_reason = f"oldest {rule.key}" if window[-1] == walk[-1] else None
    return _per_period(window, period, len(window), f"{rule.key} {rule.value}", oldest_reason)


def _per_period(
    walk: list[Snapshot], period: str, count: int, reason: str, oldest_reason: str | None
) -> Iterator[tuple[str, str]]:
    """The newest snapshot of each of the ``count`` most recent periods in ``walk``.

    If the count is not used up, the last (oldest) snapshot of ``walk`` is kept
    too with ``oldest_reason`` (unless that is None), so a short history keeps
    its oldest snapshot.
    """
    period_of = _PERIOD_OF[period]
    taken, last_taken, oldest = 0, None, walk[-1][0]
    for sid, created in walk:
        if taken == count:
            return
        if (current := period_of(created)) != last_taken:
            taken, last_taken = taken + 1, current
            yield sid, reason
            if sid == oldest:
                return
    if oldest_reason:
        yield oldest, oldest_reason
