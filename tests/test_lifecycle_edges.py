"""The lifecycle pass's early answers, field by field (mutation testing found them unchecked): no usable
lifecycle requested, a lifecycle in force that is no longer usable, nothing requested at all, and an
untagged source under DEFAULT_LIFECYCLE."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from chalicelib_shared.lifecycles import LifecyclePass, Lifecycles, plan_pass
from chalicelib_shared.retention import NO_LIFECYCLE
from chalicelib_shared.sources import SourceRecord

NOW = datetime(2026, 3, 2, 12, tzinfo=timezone.utc)
KEY = "111111111111#RDS#db1"
COPIES = [(f"d{n}", NOW - timedelta(days=n)) for n in range(10)]


def test_an_unusable_request_keeps_everything_and_the_pending_change_as_it_was() -> None:
    record = SourceRecord(KEY, lifecycle="Standard", pending="Test")
    decided = plan_pass(Lifecycles({}), record, "Weekyl", COPIES, NOW)
    assert decided.problem and "Weekyl" in decided.problem
    assert decided == LifecyclePass("Standard", "Weekyl", "Test", False, (), (), decided.problem)
    first = plan_pass(Lifecycles({}), None, "Weekyl", COPIES, NOW)
    assert first == LifecyclePass("Weekyl", "Weekyl", "", False, (), (), decided.problem)


def test_a_lifecycle_in_force_that_is_no_longer_usable_deletes_nothing_and_holds_the_request() -> None:
    record = SourceRecord(KEY, lifecycle="Gold", pending="")  # a custom lifecycle since removed
    decided = plan_pass(Lifecycles({}), record, "Test", COPIES, NOW)
    assert decided.problem and "Gold" in decided.problem
    assert decided == LifecyclePass("Gold", "Test", "Test", False, (), (), decided.problem)


def test_nothing_requested_is_no_lifecycle() -> None:
    decided = plan_pass(Lifecycles({}), None, "", COPIES, NOW)
    assert decided == LifecyclePass("", "", "", False, (), (), NO_LIFECYCLE)


def test_an_untagged_source_follows_the_default_lifecycle() -> None:
    policy = Lifecycles({}, default="Weekly").source_lifecycle({})
    assert not policy.ignore and policy.describe() == "daily=7"
    assert Lifecycles({}).source_lifecycle({}).ignore


def test_the_pass_judges_by_its_own_now_not_the_wall_clock() -> None:
    """A copy after the pass's ``now`` is in the future: kept, whatever the machine's clock says."""
    copies = [("a", NOW - timedelta(days=1)), ("b", NOW + timedelta(days=1))]
    free = plan_pass(Lifecycles({}, lock=False, min_keep=0), None, "last=1", copies, NOW)
    assert (free.requested, free.delete, free.held) == ("last=1", (), ())
    record = SourceRecord(KEY, lifecycle="Standard")
    waiting = plan_pass(Lifecycles({}, min_keep=0), record, "last=1", copies, NOW)
    assert (waiting.in_force, waiting.pending, waiting.delete, waiting.held) == ("Standard", "last=1", (), ())


def test_ignore_requested_or_in_force_deletes_nothing_and_names_no_problem() -> None:
    asked = plan_pass(Lifecycles({}), None, "Ignore", COPIES, NOW)
    assert asked == LifecyclePass("Ignore", "Ignore", "", False, (), (), "")
    record = SourceRecord(KEY, lifecycle="Ignore")
    kept = plan_pass(Lifecycles({}), record, "Test", COPIES, NOW)
    assert kept == LifecyclePass("Ignore", "Test", "Test", False, (), (), "")
