"""The status's view of DR's decisions and capacity: ages never negative, retired and waiting
sources, and the history of decisions in every report."""

from __future__ import annotations

import io
from datetime import timedelta

from rich.console import Console

from chalicelib_shared import clock
from chalicelib_shared.jobs import State
from chalicelib_shared.sources import SourceRecord
from draco import status
from draco.approvals import Decision
from tests.test_status import CONFIG, NOW, job

KEY = "111111111111#RDS#db"
ADMIN = "arn:aws:iam::222222222222:user/dr-admin"


def test_a_copy_dated_after_now_shows_an_age_of_zero() -> None:
    ahead = job("db", 0, source_time=clock.iso(NOW + timedelta(hours=5)))
    [row] = status.to_json(status.build_status([ahead], None, CONFIG, now=NOW))["sources"]
    assert row["rpo_hours"] == 0.0 and not row["over_rpo"]


def test_a_retired_source_is_not_late_and_its_decisions_show_everywhere() -> None:
    jobs = [job("db", 5), job("db", 6)]
    retired = SourceRecord(KEY, newest_time=jobs[0].source_time, retired_by=ADMIN, retired_at=clock.iso(NOW))
    decisions = [
        Decision(KEY, "reject", "last=1", "Standard", ADMIN, clock.iso(NOW - timedelta(days=1))),
        Decision(KEY, "retire", "Standard", "Standard", ADMIN, clock.iso(NOW)),
        Decision("111111111111", "budget", "190 keys until 2026-03-02T12:00:00Z", "", ADMIN, clock.iso(NOW)),
    ]
    report = status.build_status(jobs, None, CONFIG, now=NOW, records={KEY: retired}, decisions=decisions)
    doc = status.to_json(report)
    [row] = doc["sources"]
    assert (row["health"], row["over_rpo"], row["retired_by"]) == ("retired", False, ADMIN)
    assert [d["action"] for d in row["decisions"]] == ["reject", "retire"]
    assert [d["action"] for d in doc["decisions"]] == ["reject", "retire", "budget"]
    assert doc["totals"]["late"] == 0 and doc["totals"]["retired"] == 1
    console = Console(width=160, record=True, file=io.StringIO())
    console.print(status.render_table(report))
    text = console.export_text()
    assert "decisions in DR" in text and "190 keys until" in text
    assert 'id="decisions"' in status.render_html(report)


def test_copies_waiting_for_room_show_with_their_reason() -> None:
    reason = "db holds its share of DR's RDS snapshots (42 of 42: MAX_KEEP, or what an approved lifecycle keeps)"
    jobs = [job("db", 0, state=State.COPY_QUEUED, reason=reason), job("db", 1)]
    report = status.build_status(jobs, None, CONFIG, now=NOW)
    [row] = status.to_json(report)["sources"]
    assert (row["health"], row["waiting"]) == ("waiting", [reason])
    assert 'id="waiting"' in status.render_html(report)
