"""Unit tests of the retention engine: parsing, each rule, each lifecycle, edge cases."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from chalicelib_shared.retention import (
    Policy,
    RetentionResult,
    apply_policy,
    parse_policy,
)

UTC = timezone.utc
NOW = datetime(2025, 6, 18, 6, tzinfo=UTC)  # a Wednesday
DAY, HOUR = timedelta(days=1), timedelta(hours=1)


def at(text: str) -> datetime:
    """``2025-06-18T06`` style shorthand for a UTC moment."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def every(step: timedelta, count: int, end: datetime = NOW) -> list[tuple[str, datetime]]:
    """``count`` snapshots ``step`` apart ending at ``end``, named by their time."""
    return [(f"{end - i * step:%Y-%m-%dT%H}", end - i * step) for i in range(count)]


def kept(policy: str, snapshots, now: datetime = NOW) -> list[str]:
    return apply_policy(parse_policy(policy), snapshots, now).keep


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="snapshot 'a' created must be timezone-aware"):
        apply_policy(parse_policy("Test"), [("a", datetime(2025, 1, 1))], NOW)
    with pytest.raises(ValueError, match="now must be timezone-aware"):
        apply_policy(parse_policy("Test"), [], datetime(2025, 1, 1))


def test_duplicate_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="duplicate snapshot id 'a'"):
        apply_policy(parse_policy("Test"), [("a", NOW), ("b", NOW), ("a", NOW - DAY)], NOW)


def test_no_snapshots() -> None:
    assert apply_policy(parse_policy("Standard"), [], NOW) == RetentionResult([], [], {})


def test_other_timezones_are_judged_in_utc() -> None:
    plus2 = timezone(timedelta(hours=2))
    snapshots = [("a", datetime(2025, 6, 18, 1, tzinfo=plus2)), ("b", at("2025-06-17T22"))]
    # a is 2025-06-17T23 UTC: the same UTC day as b, and newer
    assert kept("daily=2", snapshots) == ["a", "b"]  # b only as "oldest daily"
    assert apply_policy(parse_policy("daily=2"), snapshots, NOW).reasons["b"] == ["oldest daily"]


def test_now_defaults_to_the_clock() -> None:
    result = apply_policy(parse_policy("last=1"), [("past", NOW), ("future", NOW + 3650 * DAY)])
    assert result.reasons == {"future": ["future"], "past": ["last"]}


# Each rule


def test_last() -> None:
    assert kept("last=3", every(DAY, 10)) == [s for s, _ in every(DAY, 3)]
    assert kept("last=30", every(DAY, 2)) == [s for s, _ in every(DAY, 2)]


def test_hourly_keeps_the_newest_of_each_hour() -> None:
    start = at("2025-06-18T02:00")
    snapshots = [
        (f"{start + timedelta(minutes=m):%H:%M}", start + timedelta(minutes=m)) for m in range(0, 220, 20)
    ]  # 02:00, 02:20, ... 05:20
    assert kept("hourly=3", snapshots) == ["05:20", "04:40", "03:40"]


def test_daily_counts_days_that_have_a_snapshot() -> None:
    snapshots = [
        (d, at(d))
        for d in ("2025-06-18T06", "2025-06-18T01", "2025-06-10T23", "2025-06-10T01", "2025-05-01", "2025-04-01")
    ]
    result = apply_policy(parse_policy("daily=3"), snapshots, NOW)
    assert result.keep == ["2025-06-18T06", "2025-06-10T23", "2025-05-01"]
    assert result.delete == ["2025-06-18T01", "2025-06-10T01", "2025-04-01"]


def test_weekly_uses_iso_weeks_across_new_year() -> None:
    # 2024-12-29 is a Sunday (2024-W52); 2024-12-30 and 2025-01-01 are in 2025-W01.
    snapshots = [(d, at(d)) for d in ("2025-01-01", "2024-12-30", "2024-12-29", "2024-12-23")]
    assert kept("weekly=2", snapshots, at("2025-01-02")) == ["2025-01-01", "2024-12-29"]


def test_monthly_and_yearly() -> None:
    snapshots = every(DAY, 800)  # 2023-04-10 .. 2025-06-18
    result = apply_policy(parse_policy("monthly=3 yearly=2"), snapshots, NOW)
    assert result.keep == ["2025-06-18T06", "2025-05-31T06", "2025-04-30T06", "2024-12-31T06"]
    assert result.reasons["2025-06-18T06"] == ["monthly", "yearly"]


def test_a_young_history_keeps_its_oldest_snapshot() -> None:
    result = apply_policy(parse_policy("daily=7 monthly=3"), every(HOUR, 30), NOW)
    # 30 hourly snapshots span 2 days: 2 dailies, 2 monthlies... and the oldest for each rule
    oldest = every(HOUR, 30)[-1][0]
    assert result.keep == ["2025-06-18T06", "2025-06-17T23", oldest]
    assert result.reasons[oldest] == ["oldest daily", "oldest monthly"]


def test_oldest_is_not_added_when_the_rule_is_used_up() -> None:
    assert kept("daily=2", every(HOUR, 30)) == ["2025-06-18T06", "2025-06-17T23"]


def test_oldest_taken_as_a_period_is_not_doubled() -> None:
    result = apply_policy(parse_policy("daily=5"), every(DAY, 3), NOW)
    assert len(result.keep) == 3 and all(r == ["daily"] for r in result.reasons.values())


def test_within_is_strict() -> None:
    snapshots = every(DAY, 10)
    result = apply_policy(parse_policy("within=3d"), snapshots, NOW)
    assert result.keep == ["2025-06-18T06", "2025-06-17T06", "2025-06-16T06"]  # not 06-15T06
    assert result.reasons["2025-06-16T06"] == ["within 3d"]


def test_within_counts_from_the_newest_snapshot_not_from_now() -> None:
    snapshots = every(DAY, 10, end=at("2025-01-10T06"))
    assert len(kept("within=3d", snapshots, NOW)) == 3


def test_within_daily_one_month_from_a_month_end() -> None:
    snapshots = [
        (d, at(d))
        for d in ("2025-03-31T06", "2025-03-01T00", "2025-02-28T07", "2025-02-28T06:30", "2025-02-28T06", "2025-01-01")
    ]
    result = apply_policy(parse_policy("within_daily=1m"), snapshots, NOW)
    assert result.keep == ["2025-03-31T06", "2025-03-01T00", "2025-02-28T07"]
    assert result.reasons["2025-02-28T07"] == ["within_daily 1m"]


def test_within_period_keeps_the_oldest_when_it_is_in_the_window() -> None:
    snapshots = every(HOUR, 30)  # all within 2d
    result = apply_policy(parse_policy("within_daily=2d"), snapshots, NOW)
    oldest = snapshots[-1][0]
    assert result.keep == ["2025-06-18T06", "2025-06-17T23", oldest]
    assert result.reasons[oldest] == ["oldest within_daily"]
    # out of the window the oldest gets no extra
    assert kept("within_daily=1d", snapshots) == ["2025-06-18T06", "2025-06-17T23"]


def test_reasons_are_listed_in_rule_order() -> None:
    result = apply_policy(parse_policy("within_hourly=1d within=1d yearly=2 last=1"), every(DAY, 3), NOW)
    assert result.reasons == {
        "2025-06-18T06": ["last", "yearly", "within 1d", "within_hourly 1d"],
        "2025-06-16T06": ["oldest yearly"],
    }


# Ties


def test_ties_keep_input_order() -> None:
    snapshots = [("b", NOW), ("a", NOW), ("c", NOW - DAY), ("d", NOW - DAY)]
    result = apply_policy(parse_policy("daily=5"), snapshots, NOW)
    assert result.keep == ["b", "c", "d"]
    assert result.delete == ["a"]
    assert result.reasons["d"] == ["oldest daily"]
    assert kept("last=1", snapshots) == ["b"]
    reordered = [("a", NOW), ("b", NOW), ("d", NOW - DAY), ("c", NOW - DAY)]
    assert kept("last=1 daily=5", reordered) == ["a", "d", "c"]


# Future-dated snapshots


def test_future_snapshots_are_kept_and_take_no_slot() -> None:
    snapshots = [("soon", NOW + HOUR), ("later", NOW + 400 * DAY)] + every(DAY, 5)
    result = apply_policy(parse_policy("last=1 daily=1"), snapshots, NOW)
    assert result.keep == ["later", "soon", "2025-06-18T06"]
    assert result.reasons == {"later": ["future"], "soon": ["future"], "2025-06-18T06": ["last", "daily"]}


def test_future_snapshots_do_not_move_the_within_window() -> None:
    snapshots = [("skewed", NOW + 30 * DAY)] + every(DAY, 5)
    assert kept("within=2d", snapshots) == ["skewed", "2025-06-18T06", "2025-06-17T06"]


def test_a_snapshot_taken_exactly_now_is_not_future() -> None:
    assert apply_policy(parse_policy("last=1"), [("now", NOW)], NOW).reasons == {"now": ["last"]}


def test_all_future_keeps_only_them() -> None:
    snapshots = [("a", NOW + HOUR), ("b", NOW + DAY)]
    for text in ("within=1y", "within_daily=1m", "daily=3", "last=5"):
        result = apply_policy(parse_policy(text), snapshots, NOW)
        assert result.keep == ["b", "a"]
        assert set(map(tuple, result.reasons.values())) == {("future",)}


# Idempotence: the one way reasons can change


def test_reapplying_keeps_the_same_set_but_may_find_a_new_oldest() -> None:
    policy = parse_policy("last=2 within_daily=2d")
    snapshots = [("x1", at("2025-06-18T05")), ("x2", at("2025-06-18T04")), ("x3", at("2025-06-10"))]
    first = apply_policy(policy, snapshots, NOW)
    assert first.keep == ["x1", "x2"] and first.reasons["x2"] == ["last"]
    again = apply_policy(policy, [s for s in snapshots if s[0] in first.keep], NOW)
    assert again.keep == first.keep
    assert again.reasons["x2"] == ["last", "oldest within_daily"]


# Each lifecycle on a realistic history: a daily backup at 06:00 for 400 days


def dates(result_ids: list[str]) -> list[str]:
    return [s[:10] for s in result_ids]


def test_standard_golden() -> None:
    result = apply_policy(parse_policy("Standard"), every(DAY, 400), NOW)
    assert dates(result.keep) == [
        "2025-06-18",
        "2025-06-17",
        "2025-06-16",
        "2025-06-15",
        "2025-06-14",
        "2025-06-13",
        "2025-06-12",  # daily=7
        "2025-06-08",
        "2025-06-01",  # Sundays closing ISO weeks (with 06-18 and 06-15)
        "2025-05-31",  # monthly
        "2025-05-25",  # weekly=5 ends here
        "2025-04-30",
        "2025-03-31",
        "2025-02-28",
        "2025-01-31",
        "2024-12-31",
        "2024-11-30",
        "2024-10-31",
        "2024-09-30",
        "2024-08-31",
        "2024-07-31",
        "2024-05-15",  # the first snapshot: only 2 of the 7 years exist yet
    ]
    assert result.reasons["2025-06-18T06"] == ["daily", "weekly", "monthly", "yearly"]
    assert result.reasons["2024-12-31T06"] == ["monthly", "yearly"]
    assert result.reasons["2024-05-15T06"] == ["oldest yearly"]
    assert len(result.delete) == 400 - 22


def test_standard_on_eight_years_keeps_seven_yearlies() -> None:
    result = apply_policy(parse_policy("Standard"), every(DAY, 8 * 366), NOW)
    yearly = [s[:10] for s in result.keep if "yearly" in result.reasons[s]]
    assert yearly == ["2025-06-18"] + [f"{y}-12-31" for y in range(2024, 2018, -1)]
    assert not any(r.startswith("oldest") for rs in result.reasons.values() for r in rs)


def test_test_lifecycle() -> None:
    assert dates(kept("Test", every(DAY, 30))) == ["2025-06-18", "2025-06-17", "2025-06-16", "2025-06-15", "2025-06-14"]
    # sparse: within 5d holds two snapshots, last=3 holds a third
    assert dates(kept("Test", every(3 * DAY, 10))) == ["2025-06-18", "2025-06-15", "2025-06-12"]


def test_weekly_lifecycle_on_hourly_snapshots() -> None:
    result = apply_policy(parse_policy("Weekly"), every(HOUR, 24 * 30), NOW)
    assert result.keep == ["2025-06-18T06"] + [f"2025-06-{d}T23" for d in range(17, 11, -1)]


def test_fortnightly_lifecycle() -> None:
    assert dates(kept("Fortnightly", every(DAY, 60))) == [f"2025-06-{d:02d}" for d in range(18, 4, -1)]


def test_biweekly_lifecycle() -> None:
    assert dates(kept("Biweekly", every(DAY, 60))) == ["2025-06-18", "2025-06-15"]


def test_semimonthly_lifecycle() -> None:
    assert dates(kept("SemiMonthly", every(DAY, 60))) == [
        *(f"2025-06-{d:02d}" for d in range(18, 4, -1)),
        "2025-06-01",
    ]  # weeks 25, 24, 23, 22


def test_monthly_lifecycle() -> None:
    result = apply_policy(parse_policy("Monthly"), every(DAY, 60), NOW)
    # newest 2025-06-18T06 - 1m = 2025-05-18T06, excluded: 05-19 .. 06-18
    assert dates(result.keep) == [
        *(f"2025-06-{d:02d}" for d in range(18, 0, -1)),
        *(f"2025-05-{d:02d}" for d in range(31, 18, -1)),
    ]
    assert result.reasons["2025-05-19T06"] == ["within_daily 1m"]


def test_monthly_lifecycle_young_history_keeps_the_oldest() -> None:
    snapshots = every(HOUR, 36)
    result = apply_policy(parse_policy("Monthly"), snapshots, NOW)
    assert result.keep == ["2025-06-18T06", "2025-06-17T23", "2025-06-16T23", "2025-06-16T19"]
    assert snapshots[-1][0] == "2025-06-16T19"
    assert result.reasons["2025-06-16T19"] == ["oldest within_daily"]


def test_policy_is_frozen() -> None:
    policy = parse_policy("Test")
    with pytest.raises(AttributeError):
        policy.name = "Other"  # type: ignore[misc]
    assert isinstance(hash(policy), int)
    assert Policy() == Policy(name=None, rules=())
