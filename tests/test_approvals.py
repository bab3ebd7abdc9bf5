"""Decisions in DR against moto's DynamoDB: approve only the text named, reject, retire, key budgets,
and the append-only history each writes in the same transaction as its change."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
import pytest
import time_machine

from chalicelib_shared import clock
from chalicelib_shared.job_table import JobTable, table_definition
from chalicelib_shared.lifecycles import Lifecycles, plan_pass
from chalicelib_shared.room import after_pass, key_budget
from chalicelib_shared.sources import SourceRecord
from draco import approvals
from draco.approvals import DecisionError, approve, budget, decisions, reject, retire
from draco.ops import scan_items

KEY = "111111111111#RDS#orders"
ADMIN = "arn:aws:iam::222222222222:user/dr-admin"
SETTINGS = Lifecycles({})
T0 = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)


@pytest.fixture
def raw(mocked_aws: None) -> Iterator[Any]:
    with time_machine.travel(T0, tick=False):
        yield boto3.resource("dynamodb", region_name="us-east-1").create_table(**table_definition("Jobs"))


@pytest.fixture
def table(raw: Any) -> JobTable:
    table = JobTable(raw, inventory=True)
    table.save_source(SourceRecord(KEY, newest_time="2026-03-01T03:00:00Z", lifecycle="Standard", pending="Weekly"))
    return table


def history(raw: Any) -> list[tuple[str, str, str, str, str]]:
    return [(d.action, d.what, d.was, d.asked, d.who) for d in decisions(scan_items(raw))]


def test_approve_puts_exactly_the_named_text_in_force_and_records_it(table: JobTable, raw: Any) -> None:
    saved = approve(table, SETTINGS, "orders", ADMIN, "Weekly")
    assert (saved.lifecycle, saved.pending, saved.approved_by, saved.approved_at) == (
        "Weekly",
        "",
        ADMIN,
        "2026-03-01T12:00:00Z",
    )
    assert history(raw) == [("approve", "Weekly", "Standard", "Weekly", ADMIN)]


def test_approving_another_text_than_what_waits_is_refused_with_the_difference(table: JobTable, raw: Any) -> None:
    record = table.source(KEY)
    assert record is not None
    table.save_source(SourceRecord(KEY, lifecycle="Standard", pending="last=1", version=record.version))  # swapped
    with pytest.raises(DecisionError) as refused:
        approve(table, SETTINGS, "orders", ADMIN, "Weekly")
    assert "waiting:  last=1" in str(refused.value) and "you gave: Weekly (daily=7)" in str(refused.value)
    after = table.source(KEY)
    assert after is not None and (after.lifecycle, after.pending) == ("Standard", "last=1")
    assert history(raw) == []


@pytest.mark.parametrize("text", ["", "Ignore", "dialy=7"])
def test_approve_refuses_what_is_no_lifecycle(table: JobTable, text: str) -> None:
    record = table.source(KEY)
    assert record is not None
    table.save_source(SourceRecord(KEY, lifecycle="Standard", version=record.version))  # nothing waits
    with pytest.raises(DecisionError):
        approve(table, SETTINGS, "orders", ADMIN, text)


def test_a_rejected_change_is_dismissed_until_production_asks_for_another(table: JobTable, raw: Any) -> None:
    with pytest.raises(DecisionError, match="not 'last=1'"):
        reject(table, "orders", ADMIN, "last=1")
    saved = reject(table, "orders", ADMIN, "Weekly")
    assert (saved.pending, saved.rejected, saved.lifecycle) == ("", "Weekly", "Standard")
    assert history(raw) == [("reject", "Weekly", "Standard", "", ADMIN)]
    copies = [(f"c{n}", T0 - timedelta(days=n)) for n in range(20)]
    again = plan_pass(SETTINGS, saved, "Weekly", copies, T0)  # production still asks: no alert, Standard alone
    assert (again.pending, again.newly_pending, again.rejected, again.in_force) == ("", False, "Weekly", "Standard")
    other = plan_pass(SETTINGS, saved, "last=2", copies, T0)  # production asks for something else: it waits again
    assert (other.pending, other.newly_pending, other.rejected) == ("last=2", True, "")
    with pytest.raises(DecisionError, match="nothing to reject"):
        reject(table, "orders", ADMIN)


def test_a_retired_source_is_watched_again_once_a_newer_copy_comes(table: JobTable, raw: Any) -> None:
    saved = retire(table, "orders", ADMIN)
    assert saved.retired and saved.retired_by == ADMIN
    assert not SourceRecord(KEY, newest_time="2026-03-02T03:00:00Z", retired_at=saved.retired_at).retired
    assert history(raw) == [("retire", "Standard", "Standard", "", ADMIN)]


def test_the_history_is_append_only_and_keeps_every_decision(table: JobTable, raw: Any) -> None:
    approve(table, SETTINGS, "orders", ADMIN, "Weekly")
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        approve(table, SETTINGS, "orders", "arn:aws:iam::222222222222:user/other", "Standard")
    assert [entry[:3] for entry in history(raw)] == [
        ("approve", "Weekly", "Standard"),
        ("approve", "Standard", "Weekly"),
    ]
    (first, _) = [item for item in scan_items(raw) if str(item["job_id"]).startswith(approvals.DECISION_PREFIX)]
    with pytest.raises(Exception, match="ConditionalCheckFailed"):
        table.append({**first, "who": "someone else"})


def test_a_decision_on_a_record_that_changed_meanwhile_changes_nothing(table: JobTable, raw: Any) -> None:
    stale = table.source(KEY)
    assert stale is not None
    table.save_source(stale)  # another run wrote the record since it was read
    with pytest.raises(DecisionError, match="changed meanwhile"):
        approvals._save(table, stale, approvals.Decision(KEY, "approve", "Weekly", "Standard", ADMIN, "t"))
    assert history(raw) == []


def test_a_key_budget_is_drawn_once_per_key_and_ends(table: JobTable, raw: Any) -> None:
    with pytest.raises(DecisionError, match="not one of"):
        budget(table, ["111111111111"], "333333333333", 5, 24, ADMIN)
    until = budget(table, ["111111111111"], "111111111111", 2, 24, ADMIN)
    assert until == "2026-03-02T12:00:00Z"
    now = clock.iso(T0)
    assert [table.draw(key_budget("111111111111"), now) for _ in range(3)] == [True, True, False]
    assert not table.draw(key_budget("333333333333"), now)  # no budget: a stranger stays at KEY_CAP
    budget(table, ["111111111111"], "111111111111", 2, 1, ADMIN)
    assert not table.draw(key_budget("111111111111"), "2026-03-01T13:00:01Z")  # past its end
    assert [entry[0] for entry in history(raw)] == ["budget", "budget"]


def test_a_lengthening_by_production_no_longer_names_the_previous_approver() -> None:
    approved = SourceRecord(KEY, lifecycle="Weekly", approved_by=ADMIN, approved_at="2026-03-01T12:00:00Z")
    copies = [(f"c{n}", T0 - timedelta(days=n)) for n in range(3)]
    longer = after_pass(approved, plan_pass(SETTINGS, approved, "Fortnightly", copies, T0), 3)
    assert (longer["lifecycle"], longer["approved_by"], longer["approved_at"], longer["held"]) == (
        "Fortnightly",
        "",
        "",
        3,
    )
    same = after_pass(approved, plan_pass(SETTINGS, approved, "Weekly", copies, T0), 3)
    assert (same["lifecycle"], same["approved_by"]) == ("Weekly", ADMIN)


@pytest.mark.parametrize(
    "argv",
    [["approve", "orders"], ["budget", "111111111111"], ["reject"], ["retire"]],
)
def test_the_commands_refuse_what_they_need_and_is_missing(argv: list[str]) -> None:
    from draco.cli import build_parser

    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(argv)
    assert exit_.value.code == 2
