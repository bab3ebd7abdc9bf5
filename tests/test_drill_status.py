"""Drills in the operator's view: each protected source's last drill (date, result, RTO) and which are overdue,
in the terminal, the JSON and the HTML page."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from rich.console import Console

from chalicelib_shared.drills.model import FAILED, PASSED, Drill, Step
from chalicelib_shared.drills.table import DRILL_PREFIX
from draco.status import render_html, render_table, to_json
from draco.status.drills import drill_status
from draco.status.model import Status

NOW = datetime(2026, 3, 2, 12, tzinfo=timezone.utc)
ORDERS, LEDGER, FILES = "111111111111#RDS#orders", "111111111111#RDS Cluster#ledger", "111111111111#EBS#vol-1"


def item(source: str, started: str, result: str, step: Step = Step.DONE, reason: str = "") -> dict[str, object]:
    _, kind, name = source.split("#")
    drill = Drill(f"id-{source}-{started}", source, kind, name, "copy-1", "draco-drill-x", step, started=started,
                  restore_called=started, available="2026-03-01T10:15:00Z", validated="2026-03-01T10:16:00Z",
                  result=result, reason=reason)  # fmt: skip
    return {"job_id": DRILL_PREFIX + drill.drill_id, **drill.to_item()}


ITEMS = [
    item(ORDERS, "2026-01-01T10:00:00Z", PASSED),
    item(ORDERS, "2026-03-01T10:00:00Z", PASSED),
    item(LEDGER, "2026-03-01T10:00:00Z", FAILED, reason="restore refused: KMSKeyNotAccessibleFault: key disabled"),
    item(LEDGER, "2026-03-02T11:00:00Z", "", Step.RESTORING),
    {"job_id": "draco-111111111111-orders-1", "state": "done"},  # a job: not a drill
]
FIRST_COPIES = {ORDERS: NOW - timedelta(days=90), LEDGER: NOW - timedelta(days=90), FILES: NOW - timedelta(days=40)}


def test_last_drill_running_and_overdue_per_source() -> None:
    drills = {d.source_name: d for d in drill_status(ITEMS, FIRST_COPIES, NOW)}
    assert drills["orders"].last is not None and drills["orders"].last.started == "2026-03-01T10:00:00Z"
    assert drills["orders"].last.rto_seconds == 960 and not drills["orders"].overdue
    assert drills["ledger"].running and drills["ledger"].last.result == FAILED
    assert drills["vol-1"].last is None and drills["vol-1"].overdue  # never drilled, first copy 40 days old
    assert not drill_status(ITEMS, FIRST_COPIES, NOW, every_days=60)[0].overdue


def test_terminal_json_and_html_show_the_drills() -> None:
    status = Status(NOW, "DracoConsumerJobs", False, 26.0, (), (), drill_status(ITEMS, FIRST_COPIES, NOW))
    doc = to_json(status)
    assert doc["drills_overdue"] == 1 and doc["drills_failed"] == 1
    orders = next(d for d in doc["drills"] if d["source"] == "orders")
    assert orders == {"source": "orders", "kind": "RDS", "last_drill": "2026-03-01T10:00:00Z", "result": "passed",
                      "rto_seconds": 960.0, "reason": "", "copy": "copy-1", "running": False,
                      "overdue": False}  # fmt: skip
    console = Console(width=200, record=True)
    console.print(render_table(status))
    text = console.export_text()
    assert "restore drills" in text and "16.0 min" in text and "KMSKeyNotAccessibleFault" in text
    page = render_html(status)
    assert '<table id="drills">' in page and "overdue" in page and "16.0 min" in page
