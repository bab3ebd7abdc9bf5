"""Property tests of the retention engine, and a naive reference it must match exactly.

The reference below is written from the semantics text, not from the module:
it reads rule texts itself, ranks periods as sets instead of walking, finds
ISO weeks by their Monday, and subtracts months one at a time.
"""

from __future__ import annotations

import calendar
import random
import re
from collections import Counter
from datetime import date, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from chalicelib_shared.retention import (
    LIFECYCLES,
    Policy,
    RetentionResult,
    apply_policy,
    parse_policy,
    resolve_lifecycle,
)
from tests.properties import examples

UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FAST = examples(1)
THOROUGH = examples(4)
LIGHTER = examples(8 / 3)

# The naive reference

ORDER = [
    "last",
    "hourly",
    "daily",
    "weekly",
    "monthly",
    "yearly",
    "within",
    "within_hourly",
    "within_daily",
    "within_weekly",
    "within_monthly",
    "within_yearly",
]
PERIOD = {
    "hourly": lambda t: t.replace(minute=0, second=0, microsecond=0),
    "daily": lambda t: (t.year, t.timetuple().tm_yday),
    "weekly": lambda t: t.date() - timedelta(days=t.weekday()),  # its Monday names an ISO week
    "monthly": lambda t: t.year * 100 + t.month,
    "yearly": lambda t: t.year,
}


def ref_minus(moment: datetime, amount: dict[str, int]) -> datetime:
    """moment - amount, calendar-wise (the strategies stay far from year 1)."""
    year, month = moment.year - amount.get("y", 0), moment.month
    day = min(moment.day, calendar.monthrange(year, month)[1])
    for _ in range(amount.get("m", 0)):
        month -= 1
        if month == 0:
            year, month = year - 1, 12
    day = min(day, calendar.monthrange(year, month)[1])
    moment = moment.replace(year=year, month=month, day=day)
    return moment - timedelta(hours=amount.get("d", 0) * 24 + amount.get("h", 0))


def ref_rules(text: str) -> dict[str, object]:
    """key -> int or {unit: amount}, read straight from the text."""
    rules: dict[str, object] = {}
    for key, value in (token.split("=") for token in text.split()):
        if key.startswith("within"):
            rules[key] = {u: int(n) for n, u in re.findall(r"(\d+)([ymdh])", value)}
        else:
            rules[key] = int(value)
    return rules


def ref_duration_text(amount: dict[str, int]) -> str:
    return "".join(f"{amount[u]}{u}" for u in "ymdh" if amount.get(u))


def reference(text: str, snapshots: list[tuple[str, datetime]], now: datetime) -> RetentionResult:
    """Brute force straight from the semantics: each rule computes its own set."""
    position = {sid: i for i, (sid, _) in enumerate(snapshots)}
    micros = {sid: (t - EPOCH) // timedelta(microseconds=1) for sid, t in snapshots}
    created = dict(snapshots)
    walk = sorted(position, key=lambda sid: (-micros[sid], position[sid]))
    why: dict[str, list[str]] = {sid: ["future"] for sid in walk if created[sid] > now}
    present = [sid for sid in walk if sid not in why]

    def keep(sid: str, reason: str) -> None:
        why.setdefault(sid, []).append(reason)

    rules = ref_rules(text)
    for key in [k for k in ORDER if k in rules and present]:
        value = rules[key]
        if key == "last":
            for sid in present[:value]:
                keep(sid, "last")
        elif key in PERIOD:
            periods = sorted({PERIOD[key](created[s]) for s in present}, reverse=True)
            for p in periods[:value]:
                keep(next(s for s in present if PERIOD[key](created[s]) == p), key)
            if len(periods) < value and key not in why.get(present[-1], []):
                keep(present[-1], f"oldest {key}")
        else:
            cutoff = ref_minus(created[present[0]], value)
            window = [s for s in present if created[s] > cutoff]
            label = f"{key} {ref_duration_text(value)}"
            if key == "within":
                for sid in window:
                    keep(sid, label)
                continue
            period = PERIOD[key.split("_")[1]]
            firsts = {}
            for sid in reversed(window):  # the last one written wins: the newest
                firsts[period(created[sid])] = sid
            newest_of_period = set(firsts.values())
            for sid in window:
                if sid in newest_of_period:
                    keep(sid, label)
            if present[-1] in window and present[-1] not in newest_of_period:
                keep(present[-1], f"oldest {key}")
    return RetentionResult(keep=[s for s in walk if s in why], delete=[s for s in walk if s not in why], reasons=why)


# Strategies

BASE = st.datetimes(min_value=datetime(2019, 1, 1), max_value=datetime(2030, 12, 31))


def hourly(rng: random.Random, end: datetime, count: int) -> list[datetime]:
    return [end - timedelta(hours=i) for i in range(count) if rng.random() > 0.2]


def daily(rng: random.Random, end: datetime, count: int) -> list[datetime]:
    """About one a day, some days missed; exactly on time or up to 90 minutes off."""
    jitter = rng.choice([0, 90])
    return [end - timedelta(days=i, minutes=rng.randint(-jitter, jitter)) for i in range(count) if rng.random() > 0.2]


def bursty(rng: random.Random, end: datetime, count: int) -> list[datetime]:
    """Bursts of up to 8 snapshots 7 minutes apart, scattered over 400 days."""
    starts = [end - timedelta(hours=rng.randint(0, 400 * 24)) for _ in range(count // 6 + 1)]
    return [t - timedelta(minutes=7 * k) for t in starts for k in range(rng.randint(1, 8))]


def sparse(rng: random.Random, end: datetime, count: int) -> list[datetime]:
    return [end - timedelta(seconds=rng.randint(0, 6 * 366 * 86400)) for _ in range(count // 2)]


def ties(rng: random.Random, end: datetime, count: int) -> list[datetime]:
    """Few distinct times, each repeated: duplicate timestamps everywhere."""
    pool = [end - timedelta(hours=rng.randint(0, 24 * 40)) for _ in range(rng.randint(1, 6))]
    return [rng.choice(pool) for _ in range(count // 2)]


def mixed(rng: random.Random, end: datetime, count: int) -> list[datetime]:
    return [*hourly(rng, end, count), *daily(rng, end, count), *sparse(rng, end, count)]


SHAPES = {f.__name__: f for f in (hourly, daily, bursty, sparse, ties, mixed)}


@st.composite
def schedules(draw, kind: str | None = None) -> list[tuple[str, datetime]]:
    """Snapshots of one shape, in a random input order.

    Hypothesis draws the shape, end, size and a seed; the seed fills in the
    details, which keeps thousands of examples fast.
    """
    shape = SHAPES[kind or draw(st.sampled_from(sorted(SHAPES)))]
    end = draw(BASE).replace(tzinfo=UTC)
    count = draw(st.integers(0, 60))
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    snapshots = [(f"s{i}", t) for i, t in enumerate(shape(rng, end, count))]
    rng.shuffle(snapshots)
    return snapshots


def shuffled(snapshots: list, seed: int) -> list:
    copy = list(snapshots)
    random.Random(seed).shuffle(copy)
    return copy


@st.composite
def nows(draw, snapshots: list[tuple[str, datetime]]) -> datetime:
    """Usually after the newest snapshot; sometimes before some (future-dated ones)."""
    newest = max((t for _, t in snapshots), default=datetime(2025, 1, 1, tzinfo=UTC))
    return newest + timedelta(hours=draw(st.one_of(st.integers(0, 24 * 60), st.integers(-24 * 30, 0))))


def random_duration(rng: random.Random) -> dict[str, int]:
    """Often one unit (hitting snapshots exactly on the cutoff), else a mix; never zero."""
    if rng.random() < 0.5:
        unit = rng.choice("mdh")
        return {unit: rng.randint(1, {"m": 3, "d": 20, "h": 60}[unit])}
    limits = {"y": 1, "m": 14, "d": 40, "h": 72}
    amount = {u: rng.randint(0, n) for u, n in limits.items() if rng.random() < (0.1 if u == "y" else 0.4)}
    return amount if any(amount.values()) else {"h": rng.randint(1, 72)}


@st.composite
def rule_texts(draw) -> str:
    """A written-out rule with a random subset of keys, in random key and unit order."""
    keys = draw(st.lists(st.sampled_from(ORDER), min_size=1, max_size=5, unique=True))
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    tokens = []
    for key in keys:
        if key.startswith("within"):
            parts = [f"{n}{u}" for u, n in random_duration(rng).items()]
            rng.shuffle(parts)
            tokens.append(f"{key}={''.join(parts)}")
        else:
            tokens.append(f"{key}={rng.randint(1, 12)}")
    return " ".join(tokens)


POLICY_TEXTS = st.one_of(st.sampled_from([*LIFECYCLES, "Extreme", "ignore"]), rule_texts())
NAMED = {**{name.lower(): text for name, text in LIFECYCLES.items()}, "extreme": LIFECYCLES["Standard"]}


# Properties


def check_partition(result: RetentionResult, snapshots: list[tuple[str, datetime]]) -> None:
    assert sorted(result.keep + result.delete) == sorted(sid for sid, _ in snapshots)
    assert set(result.reasons) == set(result.keep)
    assert all(result.reasons.values())
    created = dict(snapshots)
    for ids in (result.keep, result.delete):
        assert [created[s] for s in ids] == sorted((created[s] for s in ids), reverse=True)


@THOROUGH
@given(st.data(), POLICY_TEXTS, schedules())
def test_matches_the_naive_reference(data, text: str, snapshots) -> None:
    now = data.draw(nows(snapshots))
    policy = parse_policy(text)
    result = apply_policy(policy, snapshots, now)
    if policy.ignore:
        assert result.keep == [s for s, _ in sorted(snapshots, key=lambda s: s[1], reverse=True)]
        return
    assert result == reference(NAMED.get(text.lower(), text), snapshots, now)


@LIGHTER
@given(st.data(), rule_texts(), schedules("ties"))
def test_matches_the_naive_reference_on_ties(data, text: str, snapshots) -> None:
    now = data.draw(nows(snapshots))
    assert apply_policy(parse_policy(text), snapshots, now) == reference(text, snapshots, now)


@FAST
@given(st.data(), POLICY_TEXTS, schedules())
def test_partition(data, text: str, snapshots) -> None:
    check_partition(apply_policy(parse_policy(text), snapshots, data.draw(nows(snapshots))), snapshots)


@FAST
@given(st.data(), POLICY_TEXTS, schedules())
def test_the_newest_present_snapshot_is_always_kept(data, text: str, snapshots) -> None:
    now = data.draw(nows(snapshots))
    present = [s for s in snapshots if s[1] <= now]
    result = apply_policy(parse_policy(text), snapshots, now)
    if present:
        newest = max(t for _, t in present)
        assert any(dict(snapshots)[s] == newest for s in result.keep)
    assert all(s in result.keep for s, t in snapshots if t > now)


@FAST
@given(st.data(), POLICY_TEXTS, schedules())
def test_input_order_does_not_matter(data, text: str, snapshots) -> None:
    """Exactly for distinct times; with ties, a tied snapshot's id may swap with its twin's.

    Rules only see times and the walk order, so the multiset of (time, reasons)
    is the invariant; it pins the ids whenever times are distinct.
    """
    now = data.draw(nows(snapshots))
    policy = parse_policy(text)
    first = apply_policy(policy, snapshots, now)
    second = apply_policy(policy, shuffled(snapshots, data.draw(st.integers(0, 2**32 - 1))), now)
    created = dict(snapshots)

    def seen(result: RetentionResult) -> Counter:
        return Counter((created[s], tuple(r)) for s, r in result.reasons.items())

    assert seen(first) == seen(second)
    if len(set(created.values())) == len(created):
        assert first == second


@LIGHTER
@given(st.data(), POLICY_TEXTS, schedules())
def test_reapplying_keeps_everything_it_kept(data, text: str, snapshots) -> None:
    """Idempotent on the kept set, with one way the reasons may grow.

    Every rule takes the same snapshots from the kept set: the newest survives
    (so windows do not move), each period a rule took survives (so the ranking
    of periods does not change), and a rule's "oldest" extra is the oldest of
    the kept set too. The one change: when the original oldest was deleted, the
    kept set has a new oldest, and a ``within_<period>`` rule whose window
    holds it adds ``oldest within_<period>`` to a snapshot kept anyway.
    """
    now = data.draw(nows(snapshots))
    policy = parse_policy(text)
    first = apply_policy(policy, snapshots, now)
    again = apply_policy(policy, [s for s in snapshots if s[0] in first.reasons], now)
    assert again.keep == first.keep and again.delete == []
    oldest = min(reversed(snapshots), key=lambda s: s[1], default=("", None))[0]
    for sid, reasons in first.reasons.items():
        extra = list(again.reasons[sid])
        for reason in reasons:
            extra.remove(reason)  # ValueError if a reason was lost
        if extra:
            assert all(r.startswith("oldest within_") for r in extra)
            assert sid == first.keep[-1] and oldest in first.delete


@FAST
@given(st.data(), st.text(max_size=40), schedules())
def test_unknown_lifecycles_keep_everything(data, text: str, snapshots) -> None:
    now = data.draw(nows(snapshots))
    policy = resolve_lifecycle(text, {"Gold": "daily=3"}, default="Weekly")
    try:
        expected = parse_policy(text.strip() or "Weekly", {"Gold": "daily=3"})
    except ValueError as err:
        assert policy == Policy(keep_all=True, problem=str(err))
        result = apply_policy(policy, snapshots, now)
        assert result.delete == [] and len(result.keep) == len(snapshots)
    else:
        assert policy == expected


@FAST
@given(rule_texts())
def test_describe_round_trips(text: str) -> None:
    policy = parse_policy(text)
    assert parse_policy(policy.describe()) == policy
    assert sorted(policy.describe().split()) == sorted(
        f"{k}={ref_duration_text(v) if isinstance(v, dict) else v}" for k, v in ref_rules(text).items()
    )


MONTH_ENDS = st.builds(
    lambda y, m, d, h: datetime(y, m, min(d, calendar.monthrange(y, m)[1]), h),
    st.integers(2019, 2030),
    st.integers(1, 12),
    st.integers(27, 31),
    st.integers(0, 23),
)


@FAST
@given(
    st.one_of(BASE, MONTH_ENDS, st.sampled_from([datetime(y, 2, 29, 6) for y in (2020, 2024, 2028)])),
    st.integers(0, 2**32 - 1),
)
def test_calendar_subtraction_matches_the_reference(moment: datetime, seed: int) -> None:
    rng = random.Random(seed)
    amount = {u: rng.randint(0, n) for u, n in zip("ymdh", (4, 14, 31, 48), strict=True) if rng.random() < 0.5}
    amount = amount if any(amount.values()) else {"y": 1}
    policy = parse_policy("within=" + "".join(f"{n}{u}" for u, n in amount.items()))
    moment = moment.replace(tzinfo=UTC)
    assert policy.rules[0].value.before(moment) == ref_minus(moment, amount)


def test_reference_subtraction_spot_checks() -> None:
    """The reference itself, on cases worked out by hand."""
    march31 = datetime(2024, 3, 31, 6, tzinfo=UTC)
    assert ref_minus(march31, {"m": 1}) == datetime(2024, 2, 29, 6, tzinfo=UTC)
    assert ref_minus(march31, {"y": 1, "m": 1}) == datetime(2023, 2, 28, 6, tzinfo=UTC)
    assert ref_minus(march31, {"d": 31, "h": 6}) == datetime(2024, 2, 29, tzinfo=UTC)
    assert PERIOD["weekly"](datetime(2025, 1, 5, tzinfo=UTC)) == date(2024, 12, 30)
