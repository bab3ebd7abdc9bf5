"""Unit tests of the retention engine's language: lifecycle names, rule text, durations, custom lifecycles,
resolving a source's lifecycle."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from chalicelib_shared.retention import (
    LIFECYCLES,
    NO_LIFECYCLE,
    Duration,
    apply_policy,
    parse_custom_lifecycles,
    parse_duration,
    parse_policy,
    resolve_lifecycle,
)
from tests.test_retention import DAY, NOW, at, every, kept

UTC = timezone.utc


# Parsing


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty lifecycle"),
        ("   ", "empty lifecycle"),
        ("Platinum", "unknown lifecycle 'Platinum'"),
        ("daily", "'daily' needs a value"),
        ("hourly=", "'' is not a positive whole number"),
        ("within_daily", "needs a value, e.g. within_daily=7d"),
        ("daily=7 daily=3", "duplicate key 'daily'"),
        ("dayly=7", "unknown key 'dayly'"),
        ("Daily=7", "unknown key 'Daily'"),
        ("daily=0", "'daily=0': a count must be at least 1"),
        ("daily=-1", "'-1' is not a positive whole number"),
        ("daily=1.5", "'1.5' is not a positive whole number"),
        ("daily=٣", "is not a positive whole number"),
        ("daily=7,weekly=5", "'7,weekly=5' is not a positive whole number"),
        ("last=x", "'last=x'"),
        ("within=5", "bad duration '5'"),
        ("within=d", "bad duration 'd'"),
        ("within=5w", "unknown unit 'w'"),
        ("within=5M", "unknown unit 'M'"),
        ("within=1d2d", "unit 'd' appears twice"),
        ("within=0d", "longer than zero"),
        ("within=0y0m", "longer than zero"),
        ("within=-5d", "bad duration '-5d'"),
        ("within=5d ", None),
        ("Standard daily=3", "'Standard' is not key=value"),
        ("daily=7 weekly", "'weekly' is not key=value"),
    ],
)
def test_parse_errors_say_what_is_wrong(text: str, fragment: str | None) -> None:
    if fragment is None:
        assert parse_policy(text).describe() == "within=5d"
        return
    with pytest.raises(ValueError) as caught:
        parse_policy(text)
    assert fragment in str(caught.value)


def test_unknown_lifecycle_lists_known_names_including_custom() -> None:
    with pytest.raises(ValueError, match=r"known: Test, Standard, .*Ignore, Gold; or a rule"):
        parse_policy("Platinum", {"Gold": "daily=3"})


@pytest.mark.parametrize("name", ["standard", "STANDARD", "Standard", " standard "])
def test_names_are_case_insensitive(name: str) -> None:
    policy = parse_policy(name)
    assert policy.name == "Standard"
    assert policy.describe() == "daily=7 weekly=5 monthly=12 yearly=7"
    assert str(policy) == "Standard (daily=7 weekly=5 monthly=12 yearly=7)"


def test_extreme_is_an_alias_of_standard() -> None:
    assert parse_policy("extreme") == parse_policy("Standard")


@pytest.mark.parametrize(("name", "rule"), sorted(LIFECYCLES.items()))
def test_every_builtin_rule_text_is_canonical(name: str, rule: str) -> None:
    policy = parse_policy(name.upper())
    assert (policy.name, policy.describe()) == (name, rule)
    assert not policy.ignore and not policy.keep_all and policy.problem is None


def test_builtin_table() -> None:
    assert dict(LIFECYCLES) == {
        "Test": "last=3 within=5d",
        "Standard": "daily=7 weekly=5 monthly=12 yearly=7",
        "Weekly": "daily=7",
        "Fortnightly": "daily=14",
        "Biweekly": "weekly=2",
        "SemiMonthly": "daily=14 weekly=4",
        "Monthly": "within_daily=1m",
    }


def test_ignore() -> None:
    policy = parse_policy("IGNORE")
    assert (policy.name, policy.ignore, policy.keep_all, policy.rules) == ("Ignore", True, False, ())
    assert str(policy) == "Ignore (not copied, not managed)"


def test_rule_text_is_put_in_canonical_order() -> None:
    policy = parse_policy("  within=14d1m yearly=2\tlast=2  daily=7 within_hourly=0y6h ")
    assert policy.name is None
    assert policy.describe() == "last=2 daily=7 yearly=2 within=1m14d within_hourly=6h"
    assert str(policy) == policy.describe()
    assert parse_policy(policy.describe()) == policy


def test_every_key() -> None:
    text = (
        "last=1 hourly=2 daily=3 weekly=4 monthly=5 yearly=6 within=1h within_hourly=1d "
        "within_daily=1m within_weekly=2m within_monthly=1y within_yearly=10y"
    )
    assert parse_policy(text).describe() == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5d", Duration(days=5)),
        ("1m14d", Duration(months=1, days=14)),
        ("14d1m", Duration(months=1, days=14)),
        ("4h3d2m1y", Duration(1, 2, 3, 4)),
        ("0y36h", Duration(hours=36)),
    ],
)
def test_durations(text: str, expected: Duration) -> None:
    assert parse_duration(text) == expected


def test_duration_prints_canonically() -> None:
    assert str(parse_duration("4h0d3y")) == "3y4h"


# Calendar subtraction


@pytest.mark.parametrize(
    ("moment", "duration", "expected"),
    [
        ("2025-03-31T06", "1m", "2025-02-28T06"),
        ("2024-03-31T06", "1m", "2024-02-29T06"),
        ("2024-02-29T06", "1y", "2023-02-28T06"),
        ("2024-02-29T06", "4y", "2020-02-29T06"),
        ("2024-02-29T06", "1y1m", "2023-01-28T06"),  # years first, each step clamps
        ("2025-01-31T06", "1m", "2024-12-31T06"),
        ("2025-05-31T06", "3m", "2025-02-28T06"),
        ("2025-03-31T06", "1m1d", "2025-02-27T06"),
        ("2025-03-01T00", "1d", "2025-02-28T00"),
        ("2024-03-01T00", "1d", "2024-02-29T00"),
        ("2025-01-01T01", "2h", "2024-12-31T23"),
        ("2025-05-04T05", "1y2m3d4h", "2024-03-01T01"),
        ("2025-06-18T06", "13m", "2024-05-18T06"),
    ],
)
def test_calendar_subtraction(moment: str, duration: str, expected: str) -> None:
    assert parse_duration(duration).before(at(moment)) == at(expected)


def test_subtraction_past_year_one_means_forever() -> None:
    earliest = datetime.min.replace(tzinfo=UTC)
    assert parse_duration("3000y").before(NOW) == earliest
    assert parse_duration("99999m").before(NOW) == earliest
    assert parse_duration("999999999d").before(NOW) == earliest
    assert kept("within=9999y", every(365 * DAY, 3)) == [s for s, _ in every(365 * DAY, 3)]


# Custom lifecycles and resolution


def test_custom_lifecycles() -> None:
    text = json.dumps({"Gold": "daily=35 monthly=24 yearly=10", "tier-2_b": "last=5"})
    custom = parse_custom_lifecycles(text)
    assert custom == {"Gold": "daily=35 monthly=24 yearly=10", "tier-2_b": "last=5"}
    gold = parse_policy("GOLD", custom)
    assert gold.name == "Gold"
    assert str(gold) == "Gold (daily=35 monthly=24 yearly=10)"


@pytest.mark.parametrize("text", ["", "  \n"])
def test_no_custom_lifecycles(text: str) -> None:
    assert parse_custom_lifecycles(text) == {}


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("{", "not valid JSON"),
        ('["daily=7"]', "must be a JSON object"),
        ('{"Gold": 7}', "the rule must be a string"),
        ('{"Gold": "daily=0"}', "lifecycle 'Gold': 'daily=0': a count must be at least 1"),
        ('{"Gold": "Standard"}', "lifecycle 'Gold': 'Standard' is not key=value"),
        ('{"Gold": ""}', "lifecycle 'Gold': empty rule"),
        ('{"Go ld": "daily=7"}', "may hold only letters, digits"),
        ('{"": "daily=7"}', "may hold only letters, digits"),
        ('{"Gold=1": "daily=7"}', "may hold only letters, digits"),
        ('{"standard": "daily=7"}', "'standard' is taken"),
        ('{"EXTREME": "daily=7"}', "'EXTREME' is taken"),
        ('{"ignore": "daily=7"}', "'ignore' is taken"),
        ('{"Gold": "daily=7", "gold": "daily=8"}', "'gold' is taken"),
        ('{"Gold": "daily=7", "Gold": "daily=8"}', "'Gold' appears twice"),
    ],
)
def test_custom_lifecycle_errors(text: str, fragment: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_custom_lifecycles(text)
    assert fragment in str(caught.value)


def test_custom_rule_errors_name_the_lifecycle() -> None:
    with pytest.raises(ValueError, match="custom lifecycle 'Gold': 'daily=x'"):
        parse_policy("gold", {"Gold": "daily=x"})


def test_builtin_names_win_over_unvalidated_custom() -> None:
    assert parse_policy("weekly", {"Weekly": "last=1"}).describe() == "daily=7"


def test_resolve_lifecycle() -> None:
    custom = {"Gold": "daily=35"}
    assert resolve_lifecycle("gold", custom).describe() == "daily=35"
    assert resolve_lifecycle("daily=2 last=1").describe() == "last=1 daily=2"
    assert resolve_lifecycle(None, custom, default="Gold").name == "Gold"
    assert resolve_lifecycle("  ", default="Weekly").name == "Weekly"
    assert resolve_lifecycle("Test", default="Weekly").name == "Test"


@pytest.mark.parametrize("value", [None, "", " "])
def test_no_tag_and_no_default_is_ignored_with_a_problem(value: str | None) -> None:
    policy = resolve_lifecycle(value, {}, default="")
    assert policy.ignore and not policy.keep_all
    assert policy.problem == NO_LIFECYCLE
    assert str(policy) == f"Ignore ({NO_LIFECYCLE})"


@pytest.mark.parametrize(
    ("value", "default", "problem"),
    [
        ("Standrad", "", "unknown lifecycle 'Standrad'"),
        ("daily=0", "Weekly", "'daily=0': a count must be at least 1, not 0"),
        (None, "Gloden", "unknown lifecycle 'Gloden'"),
    ],
)
def test_a_typo_keeps_everything(value: str | None, default: str, problem: str) -> None:
    policy = resolve_lifecycle(value, {"Golden": "daily=1"}, default=default)
    assert policy.keep_all and not policy.ignore
    assert policy.problem is not None and policy.problem.startswith(problem)
    assert str(policy).startswith(f"keep everything ({problem}")
    result = apply_policy(policy, every(DAY, 30) + [("future", NOW + DAY)], NOW)
    assert result.delete == [] and len(result.keep) == 31
    assert set(map(tuple, result.reasons.values())) == {("keep_all",)}


def test_ignore_keeps_everything() -> None:
    result = apply_policy(parse_policy("Ignore"), every(DAY, 10), NOW)
    assert (len(result.keep), result.delete) == (10, [])
    assert all(r == ["ignore"] for r in result.reasons.values())


# Input checks


@pytest.mark.parametrize(
    "text", ["within=\u0663d", "within_hourly=1\u0663h", "last=\u0663", "daily=\uff13", "within=\uff15d"]
)
def test_digits_other_than_ascii_are_refused(text: str) -> None:
    """Python's int() reads Arabic-Indic and full-width digits; a lifecycle tag must not."""
    with pytest.raises(ValueError, match="bad duration|positive whole number"):
        parse_policy(text)
