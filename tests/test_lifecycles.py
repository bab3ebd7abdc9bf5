"""Which lifecycle is in force and what a pass deletes: ``keeps_at_least`` and ``plan_pass``
(examples and properties), then the consumer's pass over a source's DR copies on fakes."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib_shared import clock, metrics
from chalicelib_shared.jobs import State
from chalicelib_shared.lifecycles import Lifecycles, keeps_at_least, plan_pass
from chalicelib_shared.retention import KEYS, LIFECYCLES, Duration, apply_policy, parse_policy
from chalicelib_shared.sources import SourceRecord
from tests.conftest import T0
from tests.fakes import PROD, job_of
from tests.properties import examples
from tests.rigs import ConsumerRig, build_consumer

KEY = f"{PROD}#RDS#db1"
SETTINGS = Lifecycles(custom={"Gold": "daily=35 monthly=24"})
PROPERTIES = examples(1 / 2)


def daily(count: int) -> list[tuple[str, datetime]]:
    """One copy a day, ``d0`` the newest (03:00 today), back ``count`` days."""
    return [(f"d{n}", T0 - timedelta(days=n, hours=9)) for n in range(count)]


def names(*days: int) -> tuple[str, ...]:
    return tuple(f"d{n}" for n in days)


# --- keeps_at_least ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wider", "narrower", "expected"),
    [
        ("Fortnightly", "Weekly", True),
        ("Weekly", "Fortnightly", False),
        ("Standard", "Weekly", True),
        ("SemiMonthly", "Biweekly", True),
        ("daily=7", "Weekly", True),
        ("within=5d last=3", "Test", True),
        ("within=4d last=9", "Test", False),
        ("daily=6", "daily=7", False),
        ("within=4d", "within=5d", False),
        ("within=11m", "within=1y", False),
        ("within=1m", "within=30d", False),  # months and days are not compared: the safe side
        ("within=1y2m", "within=1y1m", True),
        ("last=100", "daily=1", False),  # rules of other keys are never compared
        ("Gold", "Weekly", True),
        ("Ignore", "Weekly", False),
        ("Weekly", "Ignore", False),
        ("Weekyl", "Weekly", False),
    ],
)
def test_keeps_at_least(wider: str, narrower: str, expected: bool) -> None:
    assert keeps_at_least(SETTINGS.policy(wider), SETTINGS.policy(narrower)) is expected


def test_what_tags_ask_for() -> None:
    assert SETTINGS.requested({"Draco_Lifecycle": " Weekly "}) == "Weekly"
    assert Lifecycles({}, default="Test").requested({}) == "Test"
    assert Lifecycles({}).requested({"Draco_Lifecycle": ""}) == ""
    assert SETTINGS.source_lifecycle({"Draco_Lifecycle": "Gold"}).name == "Gold"
    assert Lifecycles({}).source_lifecycle({}).ignore


# --- plan_pass ---------------------------------------------------------------------------------------


def record(lifecycle: str = "", pending: str = "") -> SourceRecord:
    return SourceRecord(KEY, lifecycle=lifecycle, pending=pending)


def test_the_first_lifecycle_is_in_force_at_once() -> None:
    decided = plan_pass(SETTINGS, None, "Weekly", daily(10), T0)
    assert (decided.in_force, decided.pending, decided.newly_pending) == ("Weekly", "", False)
    assert decided.delete == names(7, 8, 9) and decided.held == ()


def test_a_lengthening_applies_at_once() -> None:
    decided = plan_pass(SETTINGS, record("Weekly"), "Fortnightly", daily(20), T0)
    assert (decided.in_force, decided.pending) == ("Fortnightly", "")
    assert decided.delete == names(*range(14, 20))


def test_a_shortening_waits_and_only_what_both_delete_is_deleted() -> None:
    decided = plan_pass(SETTINGS, record("Fortnightly"), "Weekly", daily(20), T0)
    assert (decided.in_force, decided.pending, decided.newly_pending) == ("Fortnightly", "Weekly", True)
    assert decided.delete == names(*range(14, 20)) and decided.held == names(*range(7, 14))
    again = plan_pass(SETTINGS, record("Fortnightly", pending="Weekly"), "Weekly", daily(20), T0)
    assert again.pending == "Weekly" and not again.newly_pending


def test_a_change_to_rules_of_other_keys_waits_too() -> None:
    decided = plan_pass(SETTINGS, record("Weekly"), "last=30", daily(10), T0)
    assert (decided.in_force, decided.pending) == ("Weekly", "last=30")
    assert decided.delete == ()  # last=30 deletes none of them


def test_without_retention_lock_any_change_applies_at_once() -> None:
    unlocked = Lifecycles({}, lock=False)
    decided = plan_pass(unlocked, record("Fortnightly"), "Weekly", daily(20), T0)
    assert (decided.in_force, decided.pending) == ("Weekly", "")
    assert decided.delete == names(*range(7, 20))


def test_the_newest_min_keep_copies_and_locked_copies_are_never_deleted() -> None:
    decided = plan_pass(Lifecycles({}, min_keep=5), None, "last=2", daily(8), T0, locked=["d6"])
    assert decided.delete == names(5, 7)
    assert decided.held == names(2, 3, 4, 6)


@pytest.mark.parametrize(("requested", "problem"), [("Ignore", ""), ("Weekyl", "unknown lifecycle 'Weekyl'"), ("", "")])
def test_a_tag_naming_no_usable_lifecycle_changes_nothing_and_deletes_nothing(requested: str, problem: str) -> None:
    decided = plan_pass(SETTINGS, record("Weekly", pending="Test"), requested, daily(20), T0)
    assert (decided.in_force, decided.pending, decided.delete, decided.held) == ("Weekly", "Test", (), ())
    assert problem in decided.problem
    assert plan_pass(SETTINGS, None, requested, daily(20), T0).in_force == requested


def test_a_lifecycle_in_force_that_no_longer_resolves_deletes_nothing() -> None:
    decided = plan_pass(Lifecycles({}), record("Gold"), "Weekly", daily(20), T0)  # Gold was removed from config
    assert (decided.in_force, decided.pending, decided.delete) == ("Gold", "Weekly", ())
    assert "unknown lifecycle 'Gold'" in decided.problem


# --- properties -------------------------------------------------------------------------------------


def _duration() -> st.SearchStrategy[tuple[int, ...]]:
    return st.tuples(*(st.integers(0, top) for top in (2, 14, 40, 48))).filter(any)


def _text(key: str, value: int | tuple[int, ...]) -> str:
    return f"{key}={Duration(*value) if isinstance(value, tuple) else value}"


@st.composite
def paired_lifecycles(draw: st.DrawFn, shorter: bool = False) -> tuple[str, str]:
    """Two rule texts of the same keys, the first's values no smaller than the second's and perhaps
    with rules of other keys besides; or (``shorter``) of the same keys only, some values smaller."""
    keys = draw(st.lists(st.sampled_from(KEYS), min_size=1, max_size=3, unique=True))
    others = [key for key in KEYS if key not in keys]
    extra = [] if shorter else draw(st.lists(st.sampled_from(others), max_size=2, unique=True))
    step = st.sampled_from([-2, -1, 0, 1, 3] if shorter else [0, 1, 3, 12])
    narrow, wide = [], []
    for key in keys:
        if key.startswith("within"):
            small = draw(_duration())
            large = tuple(max(0, part + draw(step)) for part in small)
            large = large if any(large) else small
        else:
            small, large = (count := draw(st.integers(1, 12))), max(1, count + draw(step))
        narrow.append(_text(key, small))
        wide.append(_text(key, large))
    wide += [_text(key, draw(_duration() if key.startswith("within") else st.integers(1, 12))) for key in extra]
    return " ".join(wide), " ".join(narrow)


rule_texts = paired_lifecycles().map(lambda pair: pair[0])
lifecycles = st.one_of(st.sampled_from(sorted(LIFECYCLES)), rule_texts)
copy_times = st.lists(
    st.one_of(st.integers(-3 * 24, 40 * 24), st.integers(0, 800 * 24)).map(lambda hours: T0 - timedelta(hours=hours)),
    min_size=5,
    max_size=40,
)


def _copies(times: list[datetime]) -> list[tuple[str, datetime]]:
    return [(f"c{n}", moment) for n, moment in enumerate(times)]


@PROPERTIES
@given(pair=paired_lifecycles())
def test_a_lifecycle_with_no_smaller_rules_keeps_at_least_the_other(pair) -> None:
    assert keeps_at_least(*(parse_policy(text) for text in pair))


@PROPERTIES
@given(pair=paired_lifecycles(shorter=True), times=copy_times)
def test_a_lifecycle_that_keeps_at_least_another_keeps_every_copy_the_other_keeps(pair, times) -> None:
    wider, narrower = (parse_policy(text) for text in pair)
    if keeps_at_least(wider, narrower):
        copies = _copies(times)
        assert set(apply_policy(narrower, copies, T0).keep) <= set(apply_policy(wider, copies, T0).keep)


@PROPERTIES
@given(
    in_force=st.one_of(st.just(""), lifecycles),
    requested=st.one_of(lifecycles, st.sampled_from(["", "Ignore", "Weekyl"])),
    times=copy_times,
    lock=st.booleans(),
    min_keep=st.integers(0, 5),
    locked=st.sets(st.integers(0, 39), max_size=5),
)
def test_a_pass_never_deletes_what_the_lifecycle_in_force_or_the_floor_keeps(
    in_force, requested, times, lock, min_keep, locked
) -> None:
    settings_ = Lifecycles({}, lock=lock, min_keep=min_keep)
    copies = _copies(times)
    decided = plan_pass(
        settings_, record(in_force) if in_force else None, requested, copies, T0, [f"c{n}" for n in locked]
    )
    deleted = set(decided.delete)
    newest = sorted(copies, key=lambda copy: copy[1], reverse=True)[:min_keep]
    assert not deleted & {copy for copy, _ in newest}
    assert not deleted & {f"c{n}" for n in locked}
    assert deleted <= set(apply_policy(settings_.policy(decided.in_force), copies, T0).delete)
    if requested:
        assert deleted <= set(apply_policy(settings_.policy(requested), copies, T0).delete)  # nor what is asked for
    if in_force and lock:
        assert deleted <= set(apply_policy(settings_.policy(in_force), copies, T0).delete)  # nor what was in force


# --- the consumer's pass over a source's copies -------------------------------------------------------


def history(rig: ConsumerRig, count: int, lifecycle: str = "Test", **changes: Any) -> None:
    """``count`` DR copies of db1, one a day (``d0`` the newest, tagged ``lifecycle``)."""
    for n, (name, taken) in enumerate(daily(count)):
        snapshot = rig.prod().add(name, created=taken, tags={"Draco_Lifecycle": lifecycle})
        job = job_of(snapshot, State.DONE, dr=True, **(changes if n == 0 else {}))
        rig.table.put(job)
        rig.snaps().add(job.job_id, created=taken)


def copy_ids(*days: int) -> list[str]:
    return [f"draco-{PROD}-d{n}" for n in days]


def remaining(rig: ConsumerRig) -> list[str]:
    return [job.job_id for job in reversed(rig.table.inventory(KEY))]


def metric(name: str) -> list[float]:
    return list(metrics.metrics.metric_set.get(name, {}).get("Value", []))


@pytest.fixture
def live(travel) -> Callable[..., ConsumerRig]:
    return lambda **env: build_consumer(NO_DRY_RUN="1", **env)


def test_a_live_pass_deletes_what_the_lifecycle_in_force_deletes(live, log) -> None:
    rig = live()
    history(rig, 8)
    assert rig.app.apply_lifecycle(KEY) == {"keep": copy_ids(4, 3, 2, 1, 0), "delete": copy_ids(5, 6, 7)}
    assert remaining(rig) == copy_ids(*range(5)) and set(rig.snaps().snapshots) == set(copy_ids(*range(5)))
    expired = rig.table.get(copy_ids(5)[0])
    assert expired is not None and (expired.state, expired.reason) == (State.EXPIRED, "expired by lifecycle Test")
    assert metric("SnapshotsDeleted") == [1.0] * 3
    assert [line["message"] for line in log()] == [f"deleted {copy_id}" for copy_id in copy_ids(5, 6, 7)]
    saved = rig.table.source(KEY)
    assert saved is not None and (saved.lifecycle, saved.newest_time, saved.reported_at) == (
        "Test",
        "2026-03-02T03:00:00Z",
        "",
    )


def test_a_shortening_waits_for_approval_and_is_reported_once(live, log) -> None:
    rig = live()
    history(rig, 20, "Weekly")
    rig.table.save_source(SourceRecord(KEY, lifecycle="Fortnightly"))
    assert rig.app.apply_lifecycle(KEY)["delete"] == copy_ids(*range(14, 20))
    rig.app.apply_lifecycle(KEY)
    assert remaining(rig) == copy_ids(*range(14))
    pending = [line for line in log() if line["message"] == "lifecycle change waits for approval in DR"]
    assert len(pending) == 1 and (pending[0]["in_force"], pending[0]["requested"], pending[0]["held"]) == (
        "Fortnightly",
        "Weekly",
        7,
    )
    saved = rig.table.source(KEY)
    assert saved is not None and (saved.lifecycle, saved.pending, saved.pending_since) == (
        "Fortnightly",
        "Weekly",
        clock.iso(T0),
    )
    assert metric("LifecycleChangesPending") == [1.0]


def test_with_retention_lock_off_a_shortening_deletes_at_once(live) -> None:
    rig = live(RETENTION_LOCK="off")
    history(rig, 20, "Weekly")
    rig.table.save_source(SourceRecord(KEY, lifecycle="Fortnightly"))
    rig.app.apply_lifecycle(KEY)
    assert remaining(rig) == copy_ids(*range(7))


def test_min_keep_and_locked_copies_survive_the_pass(live) -> None:
    rig = live(MIN_KEEP="4")
    history(rig, 8, "last=1")
    locked, unlocked = (rig.table.get(copy_id) for copy_id in copy_ids(6, 7))
    assert locked is not None and unlocked is not None
    rig.table.put(replace(locked, locked_until="2026-03-03T00:00:00Z"))
    rig.table.put(replace(unlocked, locked_until="2026-03-02T11:59:59Z"))  # its lock is over
    rig.app.apply_lifecycle(KEY)
    assert remaining(rig) == copy_ids(0, 1, 2, 3, 6)


def test_a_dry_run_source_record_stays_the_same_size_however_much_it_would_delete(travel, log) -> None:
    """The record once listed every would-delete id: an hourly source reached DynamoDB's 400 KB item
    in about 10 months, and then every lifecycle pass failed. It now holds one time."""
    rig = build_consumer()
    history(rig, 7)
    rig.app.apply_lifecycle(KEY)
    small = rig.table.source(KEY)
    assert small is not None
    rig2 = build_consumer()
    history(rig2, 400)
    rig2.app.apply_lifecycle(KEY)
    many = rig2.table.source(KEY)
    assert many is not None and (many.held, small.held) == (400, 7)  # a count: its digits are all that grow
    assert len(json.dumps({**many.to_item(), "held": 0})) == len(json.dumps({**small.to_item(), "held": 0}))
    logged = [line for line in log() if line["message"].startswith("dry run")]
    assert len(logged) == 2 + 395  # each would-delete logged once, in either world
    rig2.app.apply_lifecycle(KEY)
    assert len([line for line in log() if line["message"].startswith("dry run")]) == len(logged)


def test_a_delete_that_fails_leaves_the_copy_and_the_next_pass_tries_again(live, log) -> None:
    rig = live()
    history(rig, 6)
    rig.snaps().fail("delete", "InvalidDBSnapshotState", "the snapshot is being copied")
    assert rig.app.apply_lifecycle(KEY)["keep"] == copy_ids(5, 4, 3, 2, 1, 0)
    assert remaining(rig) == copy_ids(*range(6)) and copy_ids(5)[0] in rig.snaps().snapshots
    assert any(line["message"] == f"could not delete {copy_ids(5)[0]}" for line in log())
    rig.app.apply_lifecycle(KEY)
    assert remaining(rig) == copy_ids(*range(5)) and copy_ids(5)[0] not in rig.snaps().snapshots


def test_a_dry_run_deletes_nothing_and_logs_each_would_delete_once_per_change(travel, log) -> None:
    rig = build_consumer()
    history(rig, 7)
    rig.app.apply_lifecycle(KEY)
    rig.app.apply_lifecycle(KEY)
    assert remaining(rig) == copy_ids(*range(7)) and "delete" not in rig.snaps().ops()
    would = [line["message"] for line in log() if line["message"].startswith("dry run")]
    assert would == [f"dry run: would delete {copy_id}" for copy_id in copy_ids(5, 6)]
    assert metric("SnapshotsWouldDelete") == [1.0] * 4  # counted every pass, logged once
    saved = rig.table.source(KEY)
    assert saved is not None and saved.reported_at == "2026-03-02T12:00:00Z"  # when, not which: bounded
    travel.shift(timedelta(days=1))
    taken = T0 + timedelta(days=1) - timedelta(hours=9)
    newest = rig.prod().add("d-1", created=taken, tags={"Draco_Lifecycle": "Test"})
    rig.table.put(job_of(newest, State.DONE, dr=True))
    rig.app.apply_lifecycle(KEY)
    would = [line["message"] for line in log() if line["message"].startswith("dry run")]
    assert would[2:] == [f"dry run: would delete {copy_ids(4)[0]}"]  # only the one that changed


def test_a_tag_naming_no_usable_lifecycle_deletes_nothing_and_says_why(live, log) -> None:
    rig = live()
    history(rig, 8, "Weekyl")
    assert rig.app.apply_lifecycle(KEY)["delete"] == []
    assert remaining(rig) == copy_ids(*range(8))
    warning = next(line for line in log() if line["message"] == "lifecycle not applied")
    assert "unknown lifecycle 'Weekyl'" in warning["problem"]


def test_a_source_without_copies_is_left_alone(live) -> None:
    rig = live()
    assert rig.app.apply_lifecycle(KEY) == {"keep": [], "delete": []}
    assert rig.table.source(KEY) is None


def test_a_record_another_run_saved_first_is_read_again_and_keeps_its_newer_copy(live) -> None:
    rig = live()
    history(rig, 3)
    later = "2026-03-02T11:00:00Z"
    rig.table.before_next_write(KEY, lambda: rig.table.save_source(SourceRecord(KEY, newest_time=later)))
    rig.app.apply_lifecycle(KEY)
    saved = rig.table.source(KEY)
    assert saved is not None and (saved.newest_time, saved.lifecycle, saved.version) == (later, "Test", 2)


def test_a_record_that_keeps_changing_is_given_up_with_a_warning(live, log) -> None:
    rig = live()
    history(rig, 3)

    def another_run() -> None:
        rig.table.save_source(rig.table.source(KEY) or SourceRecord(KEY))
        rig.table.before_next_write(KEY, another_run)

    rig.table.before_next_write(KEY, another_run)
    rig.app.apply_lifecycle(KEY)
    assert any(line["message"] == "source record not saved: it kept changing" for line in log())
    saved = rig.table.source(KEY)
    assert saved is not None and saved.lifecycle == ""  # only the other runs' writes
