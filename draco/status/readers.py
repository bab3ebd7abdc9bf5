"""Where the status comes from: the consumer's job table and the DR account's snapshots.

One Scan of the job table (paged; items without a ``state``, such as the copy-slot
counters, are skipped) and one listing per snapshot kind of the DR account, for
each copy's allocated storage and to notice copies deleted behind DRACO's back.
The local world (``LocalWorld.status``) and the tests read through the same functions
with the world's DR clients.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from chalicelib_shared import clock
from chalicelib_shared.config import ConsumerConfig
from chalicelib_shared.job_table import KEY, SOURCE_PREFIX
from chalicelib_shared.jobs import Job
from chalicelib_shared.kinds import KINDS, Snapshot
from chalicelib_shared.naming import DR_PREFIX
from chalicelib_shared.sources import SourceRecord
from draco import ops
from draco.status.drills import drill_status
from draco.status.model import DEFAULT_RPO_HOURS, Status, build_status


def dr_snapshots(client: Callable[[str], Any]) -> dict[str, Snapshot]:
    """DRACO's copies in the DR account (every kind, through ``client(service)``), by id."""
    return {
        snapshot.snapshot_id: snapshot
        for kind in KINDS.values()
        for snapshot in kind.api(client(kind.service)).owned()
        if snapshot.name.startswith(DR_PREFIX)
    }


def collect(
    table: Any,
    client: Callable[[str], Any],
    config: ConsumerConfig,
    *,
    now: datetime | None = None,
    rpo_hours: float = DEFAULT_RPO_HOURS,
    drill_every_days: int = 0,
) -> Status:
    """Read the consumer's job table (a boto3 ``Table``) and the DR account's snapshots (``client(service)``)."""
    items = ops.scan_items(table)
    jobs = [Job.from_item(item) for item in items if "state" in item]
    records = {
        item[KEY].removeprefix(SOURCE_PREFIX): SourceRecord.from_item(item[KEY].removeprefix(SOURCE_PREFIX), item)
        for item in items
        if str(item[KEY]).startswith(SOURCE_PREFIX)
    }
    status = build_status(
        jobs,
        dr_snapshots(client),
        config,
        now=now or clock.now(),
        records=records,
        rpo_hours=rpo_hours,
        table=getattr(table, "name", ""),
    )
    protected = {s.inventory_key: s.oldest.source_time for s in status.sources if s.oldest is not None}
    return replace(status, drills=drill_status(items, protected, status.generated_at, drill_every_days))


def consumer_config(stage: str, table: str | None, app_dir: Path | None = None) -> ConsumerConfig:
    """The stage's consumer configuration; with ``table`` (``--table``), a missing stage is fine."""
    try:
        env = ops.stage_env("consumer", stage, app_dir)
    except ops.OperatorError:
        if not table:
            raise
        env = {}
    if table:
        env["JOB_TABLE"] = table
    config = ConsumerConfig.from_env(env)
    for problem in (p for p in config.problems if "LIFECYCLE" in p):
        print(f"draco status: warning: {problem}", file=sys.stderr)
    return config
