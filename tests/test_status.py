"""The operator's status: an end-to-end run in the local world, the pure core, the CLI, the HTML in Chromium."""

from __future__ import annotations

import io
import json
import os
import shutil
import struct
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from rich.cells import cell_len
from rich.console import Console

from chalicelib_shared.config import ConsumerConfig
from chalicelib_shared.job_table import table_definition
from chalicelib_shared.jobs import Job, State
from draco import ops, status
from draco.world.core import DR, LocalWorld
from draco.world.faults import FaultPlan

DAYS = 5
REFUSAL = "The snapshot uses TDE and cannot be copied"


def refuse_once_in_dr(plan: FaultPlan, armed: dict[str, bool]) -> None:
    """Refuse, permanently, the first DR-side CopyDBSnapshot made while ``armed``."""

    def before_call(operation: str) -> None:
        if armed["on"] and operation == "CopyDBSnapshot" and os.environ.get("MOTO_ACCOUNT_ID") == DR:
            armed["on"] = False
            plan.counts["refused"] += 1
            raise ClientError(
                {"Error": {"Code": "InvalidParameterValue", "Message": REFUSAL}, "ResponseMetadata": {}},
                operation,
            )

    plan.before_call = before_call  # type: ignore[method-assign]


@pytest.fixture(scope="module")
def run() -> Iterator[dict[str, Any]]:
    """Three protected sources and an untagged one, five days; billing stops two days before the end
    and one DR copy of orders is refused."""
    plan, armed = FaultPlan(seed=0), {"on": False}
    refuse_once_in_dr(plan, armed)
    with LocalWorld(log_stream=io.StringIO(), faults=plan) as world:
        world.add_instance("orders", {"Draco_Lifecycle": "Test"})
        world.add_cluster("ledger", {"Draco_Lifecycle": "daily=3"})
        world.add_instance("billing", {"Draco_Lifecycle": "Weekly"})
        world.add_instance("scratch")  # untagged: seen, not copied
        for day in range(DAYS):
            world.move_to(world.start + timedelta(days=day, hours=3))
            if day == 2:  # this day's orders copy is refused in DR
                armed["on"] = True
                world.take_snapshot("orders")
                world.run_until_quiet(limit=timedelta(hours=1))
                armed["on"] = False
            else:
                world.take_snapshot("orders")
            world.take_snapshot("ledger")
            world.take_snapshot("scratch")
            if day < DAYS - 2:
                world.take_snapshot("billing")
            world.run_until_quiet(limit=timedelta(hours=2))
        result = world.status()
    # the world (moto, its clock) ends here; the status is plain data
    yield {"status": result, "json": json.loads(json.dumps(status.to_json(result))), "refused": plan.counts["refused"]}


@pytest.mark.e2e
def test_status_names_every_protected_source_with_its_newest_copy_and_rpo(run) -> None:
    doc = run["json"]
    assert doc["schema"] == 2 and doc["rpo_threshold_hours"] == 26
    sources = {row["source_name"]: row for row in doc["sources"]}
    assert set(sources) == {"orders", "ledger", "billing"}
    for name, row in sources.items():
        assert row["newest_copy"] and row["newest_copy"].startswith(f"draco-111111111111-{name}-")
        assert row["rpo_hours"] is not None and row["copy_count"] >= 3
        assert row["newest_copy"] == row["copies"][0]["copy_id"]
    assert sources["orders"]["rpo_hours"] < 3 and sources["ledger"]["rpo_hours"] < 3
    assert sources["ledger"]["kind"] == "RDS Cluster" and sources["ledger"]["lifecycle"] == "daily=3"
    assert sources["orders"]["lifecycle"] == "Test (last=3 within=5d)"


@pytest.mark.e2e
def test_the_source_whose_snapshots_stopped_is_over_the_threshold(run) -> None:
    rows = {row["source_name"]: row for row in run["json"]["sources"]}
    assert rows["billing"]["rpo_hours"] > 26 and rows["billing"]["over_rpo"] is True
    assert rows["billing"]["health"] == "late"
    assert [name for name, row in rows.items() if row["over_rpo"]] == ["billing"]
    assert run["json"]["sources"][0]["source_name"] == "billing"  # worst first
    assert run["json"]["totals"]["late"] == 1


@pytest.mark.e2e
def test_the_failed_job_is_reported_with_its_reason(run) -> None:
    assert run["refused"] == 1
    rows = {row["source_name"]: row for row in run["json"]["sources"]}
    [failed] = rows["orders"]["failed"]
    assert REFUSAL in failed["reason"] and failed["failed_from"]
    assert failed["job_id"] == "draco-111111111111-orders-2026-01-03-03-00"
    assert rows["orders"]["health"] == "failed" and rows["orders"]["copy_count"] == DAYS - 1
    assert run["json"]["totals"]["failed_jobs"] == 1


@pytest.mark.e2e
def test_storage_cost_dry_run_deletions_and_skipped_sources(run) -> None:
    doc = run["json"]
    rows = {row["source_name"]: row for row in doc["sources"]}
    assert rows["orders"]["storage_gb"] == 20 * (DAYS - 1)
    assert rows["orders"]["monthly_cost_usd"] == round(20 * (DAYS - 1) * status.PRICES_PER_GB_MONTH["RDS"], 2)
    assert doc["price_per_gb_month_usd"] == status.PRICES_PER_GB_MONTH
    # daily=3 over five daily copies: the two oldest go next (dry run: nothing was deleted)
    assert rows["ledger"]["would_delete"] == [c["copy_id"] for c in rows["ledger"]["copies"][-2:]]
    assert doc["live"] is False and rows["ledger"]["copy_count"] == DAYS
    assert doc["skipped"] == [
        {
            "source_acct": "111111111111",
            "source_name": "scratch",
            "kind": "RDS",
            "reason": "no Draco_Lifecycle tag and no DEFAULT_LIFECYCLE",
            "snapshots": DAYS,
            "last_seen": "2026-01-05T03:00:00Z",
        }
    ]


def rendered(result: status.Status, width: int) -> str:
    console = Console(record=True, width=width, file=io.StringIO())
    console.print(status.render_table(result))
    return console.export_text()


@pytest.mark.e2e
def test_the_terminal_table_shows_the_same(run) -> None:
    text = rendered(run["status"], 200)
    assert "billing" in text and "late" in text and REFUSAL in text and "scratch" in text
    assert "$/month" in text and "oldest" in text and "RDS Cluster" in text


@pytest.mark.e2e
@pytest.mark.parametrize("width", [80, 100, 132])
def test_the_terminal_table_fits_narrow_terminals_with_fewer_columns(run, width: int) -> None:
    lines = rendered(run["status"], width).splitlines()
    assert max(cell_len(line) for line in lines) <= width
    header = next(line for line in lines if line.startswith("health"))
    assert {"source", "lifecycle", "RPO", "copies", "enc.", "failed"} <= set(header.split())
    assert ("$/month" in header) is False and ("kind" in header) is (width >= 100)
    assert REFUSAL.split()[-1] in "\n".join(lines)  # the reason is folded, not cut


@pytest.mark.e2e
def test_each_source_says_whether_its_dr_copies_are_encrypted(run) -> None:
    rows = {row["source_name"]: row for row in run["json"]["sources"]}
    assert {name: row["encrypted"] for name, row in rows.items()} == {"orders": True, "ledger": True, "billing": True}


# --------------------------------------------------------------------------- the HTML report in Chromium


def chromium() -> str | None:
    return next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", header[16:24])


@pytest.mark.skipif(chromium() is None, reason="no chromium binary (apt-get install -y chromium)")
@pytest.mark.e2e
def test_the_html_report_opens_in_chromium_with_the_table_and_timelines(run, tmp_path: Path) -> None:
    page = tmp_path / "status.html"
    page.write_text(status.render_html(run["status"]))
    text = page.read_text()
    assert "http://" not in text.replace("http://www.w3.org/2000/svg", "") and "<script" not in text
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    shot = tmp_path / "status.png"
    subprocess.run(
        [chromium(), *flags, f"--screenshot={shot}", "--window-size=1400,1000", page.as_uri()],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert shot.is_file() and shot.stat().st_size > 20_000
    assert png_size(shot) == (1400, 1000)
    dom = subprocess.run(
        [chromium(), *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120, check=False
    ).stdout
    assert '<table id="sources">' in dom and "<th>encrypted</th>" in dom
    for key in ("111111111111#RDS#orders", "111111111111#RDS Cluster#ledger", "111111111111#RDS#billing"):
        assert f'<tr data-source="{key}"' in dom and f'<div class="timeline" data-source="{key}"' in dom
    assert dom.count('<div class="timeline"') == 3 and dom.count("<svg") == 3
    assert 'data-health="late"' in dom and REFUSAL in dom


# --------------------------------------------------------------------------- the pure core


NOW = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
CONFIG = ConsumerConfig.from_env({"SOURCE_ACCTS": "111111111111"})


def job(source: str, day: int, state: State = State.DONE, **changes: Any) -> Job:
    when = NOW - timedelta(days=day)
    made = Job(
        job_id=f"draco-111111111111-{source}-{day}",
        state=state,
        kind="RDS",
        source_acct="111111111111",
        source_arn=f"arn:aws:rds:us-east-1:111111111111:snapshot:{source}-{day}",
        source_id=f"{source}-{day}",
        source_name=source,
        source_time=when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        tags={"Draco_Lifecycle": "daily=2"},
    )
    return replace(made, **changes)


def test_a_copy_gone_from_dr_is_not_a_recovery_point() -> None:
    jobs = [job("db", 0), job("db", 1), job("db", 2)]
    result = status.build_status(jobs, {}, CONFIG, now=NOW)  # DR was read and holds none of them
    [row] = status.to_json(result)["sources"]
    assert row["missing_copies"] == [j.job_id for j in jobs] and row["newest_copy"] is None
    assert row["health"] == "late"  # its first snapshot is 2 days old and no copy exists


def test_an_unknown_lifecycle_deletes_nothing_and_asks_for_a_check() -> None:
    jobs = [job("db", n, tags={"Draco_Lifecycle": "Goldd"}) for n in range(4)]
    [row] = status.to_json(status.build_status(jobs, None, CONFIG, now=NOW))["sources"]
    assert row["health"] == "check" and row["would_delete"] == [] and "Goldd" in row["lifecycle_problem"]


def test_encryption_comes_from_the_newest_copy_and_is_unknown_before_a_transit_copy_is_shared() -> None:
    cluster = [job("aurora", n, kind="RDS Cluster", encrypted=False) for n in range(1, 3)]
    cluster.append(job("aurora", 0, State.COPYING, kind="RDS Cluster", encrypted=False))
    waiting = [job("fresh", 0, State.INITIATED)]  # the consumer's job before copy-shared: encrypted is its default
    jobs = cluster + waiting + [job("db", 1), job("db", 0, State.COPYING, encrypted=False)]
    doc = status.to_json(status.build_status(jobs, None, CONFIG, now=NOW))
    assert {row["source_name"]: row["encrypted"] for row in doc["sources"]} == {
        "aurora": False,
        "fresh": None,
        "db": True,  # the newest copy's, not the copy still running
    }
    only_running = status.build_status([job("new", 0, State.COPYING, encrypted=False)], None, CONFIG, now=NOW)
    assert status.to_json(only_running)["sources"][0]["encrypted"] is False
    text = rendered(status.build_status(cluster, None, CONFIG, now=NOW), 80)
    assert [line.split()[-3] for line in text.splitlines() if line.startswith("ok ")] == ["no"]
    assert "<th>encrypted</th>" in status.render_html(status.build_status(cluster, None, CONFIG, now=NOW))


def test_an_empty_status_says_so() -> None:
    empty = status.build_status([], {}, CONFIG, now=NOW, table="Jobs")
    text = rendered(empty, 80)
    assert text.startswith("No sources yet") and "health" not in text
    page = status.render_html(empty)
    assert "No sources yet" in page and '<table id="sources">' not in page and "<svg" not in page
    doc = status.to_json(empty)
    assert doc["sources"] == [] and doc["skipped"] == []
    only_skipped = status.build_status([job("scratch", 0, State.SKIPPED, reason="untagged")], {}, CONFIG, now=NOW)
    text = rendered(only_skipped, 80)
    assert text.startswith("No protected sources yet: 1 source(s) seen but not copied") and "untagged" in text


def test_custom_lifecycles_and_pending_first_copies() -> None:
    config = ConsumerConfig.from_env({"SOURCE_ACCTS": "111111111111", "CUSTOM_LIFECYCLES": '{"Gold": "last=1"}'})
    jobs = [job("db", n, tags={"Draco_Lifecycle": "gold"}) for n in range(5)]
    jobs.append(replace(job("new", 0, State.COPYING), source_time=NOW.strftime("%Y-%m-%dT%H:%M:%SZ")))
    doc = status.to_json(status.build_status(jobs, None, config, now=NOW))
    rows = {row["source_name"]: row for row in doc["sources"]}
    # last=1 would keep one; the floor (MIN_KEEP 3) keeps the newest three
    assert rows["db"]["lifecycle"] == "Gold (last=1)" and len(rows["db"]["would_delete"]) == 2
    floor = [copy["reasons"] for copy in rows["db"]["copies"][1:3]]
    assert floor == [["newest 3 (MIN_KEEP)"], ["newest 3 (MIN_KEEP)"]]
    assert rows["new"]["health"] == "pending" and rows["new"]["pending"] == {"copying": 1}
    assert doc["totals"]["pending_jobs"] == 1


# --------------------------------------------------------------------------- the CLI against moto


@pytest.fixture
def consumer_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    app_dir = tmp_path / "consumer_app"
    (app_dir / ".chalice").mkdir(parents=True)
    env = {"SOURCE_ACCTS": "111111111111", "JOB_TABLE": "Jobs", "CUSTOM_LIFECYCLES": '{"Gold": "daily=2"}'}
    config = {"version": "2.0", "stages": {"dev": {"environment_variables": env}}}
    (app_dir / ".chalice" / "config.json").write_text(json.dumps(config))
    monkeypatch.setitem(ops.APP_DIRS, "consumer", app_dir)
    return app_dir


def test_cli_status_json_and_html(mocked_aws, consumer_app, tmp_path: Path, capsys) -> None:
    from draco.cli import main

    table = boto3.resource("dynamodb", region_name="us-east-1").create_table(**table_definition("Jobs"))
    for n in range(3):
        table.put_item(Item=job("db", n, tags={"Draco_Lifecycle": "Gold"}).to_item())
    table.put_item(Item={"job_id": "#slots#RDS", "holders": {"x"}})  # not a job
    assert main(["status", "--json", "--html", str(tmp_path / "s.html"), "--rpo-hours", "12"]) == 0
    doc = json.loads(capsys.readouterr().out)
    [row] = doc["sources"]
    assert row["lifecycle"] == "Gold (daily=2)" and row["missing_copies"] == [j["copy_id"] for j in row["copies"]]
    assert doc["rpo_threshold_hours"] == 12 and doc["table"] == "Jobs"
    assert (tmp_path / "s.html").read_text().startswith("<!DOCTYPE html>")


def test_cli_status_fits_an_80_column_terminal(mocked_aws, consumer_app, monkeypatch, capsys) -> None:
    from draco.cli import main

    table = boto3.resource("dynamodb", region_name="us-east-1").create_table(**table_definition("Jobs"))
    assert main(["status"]) == 0
    assert capsys.readouterr().out.startswith("No sources yet")
    for n in range(3):
        table.put_item(Item=job("a-database-with-a-rather-long-name", n).to_item())
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["status"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert max(cell_len(line) for line in lines) <= 80 and any(line.startswith("late ") for line in lines)


def test_cli_errors_are_one_line_with_what_to_do(mocked_aws, consumer_app, capsys) -> None:
    from draco.cli import main

    assert main(["status"]) == 2  # no table in this (moto) account
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "ResourceNotFoundException" in err and "--table" in err
    assert main(["status", "--stage", "prod"]) == 2
    err = capsys.readouterr().err.strip()
    assert "stage 'prod' is not in" in err and "bootstrap consumer --stage prod" in err


@pytest.mark.e2e
def test_the_demo_ends_with_the_status_and_keeps_its_json_contract(tmp_path: Path, capsys) -> None:
    from draco.cli import main

    page = tmp_path / "demo.html"
    assert main(["demo", "--days", "2", "--json", "--html", str(page), "--log", str(tmp_path / "log")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {"sources", "transit_left", "pending", "failed"} <= set(report)
    row_keys = {"source", "kind", "policy", "taken", "copied", "retained", "deleted", "would_delete"}
    assert all(row_keys <= set(row) for row in report["sources"])
    volume = {row["source"]: row["source_name"] for row in report["sources"]}["fileserver"]
    protected = {row["source_name"] for row in report["status"]["sources"]}
    assert protected == {"orders", "staging", "ledger", "analytics", volume}
    assert [row["source_name"] for row in report["status"]["skipped"]] == ["scratch"]
    assert page.read_text().count('<div class="timeline"') == 5
    # staging: an unencrypted DB instance, encrypted by its transit copy; analytics: an unencrypted Aurora
    # cluster, whose copies stay unencrypted and which has no DR key (none is made for an unencrypted copy);
    # fileserver: an unencrypted EBS volume, encrypted by its transit copy
    keys = {row["source"]: (row["encrypted"], row.get("key_alias")) for row in report["sources"]}
    assert keys == {
        "orders": (True, "alias/DRACO-orders"),
        "staging": (True, "alias/DRACO-staging"),
        "ledger": (True, "alias/DRACO-ledger"),
        "analytics": (False, None),
        "scratch": (None, None),
        "fileserver": (True, f"alias/DRACO-{volume}"),
    }
    assert {row["source_name"]: row["encrypted"] for row in report["status"]["sources"]}["analytics"] is False
