"""``python -m draco demo``: DRACO at work in the local two-account world.

Bootstraps both accounts, creates five production databases (DB instances and
Aurora clusters, each lifecycle kind, one untagged) and an EBS volume (tagged
on the volume, unencrypted), takes a snapshot of each every simulated day, and
lets both apps carry them to DR. Ends with one row per
source, then the operator's status table of the DR account (``draco.status``);
``--json`` prints the same as one JSON document on stdout (the status under
``status``, in ``draco.status``'s schema), ``--html FILE`` writes the status report.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from chalicelib_shared import clock
from chalicelib_shared.jobs import State
from chalicelib_shared.kinds import KINDS
from chalicelib_shared.naming import LIFECYCLE_TAG, SOURCE_ARN_TAG, SOURCE_NAME_TAG, is_transit_id, key_alias
from chalicelib_shared.retention import apply_policy, resolve_lifecycle
from draco import status as draco_status
from draco.world import DR, PROD, LocalWorld


@dataclass(frozen=True)
class DemoSource:
    name: str  # the database's identifier; for a volume, its Name tag (its id is the source name)
    kind: str  # SnapshotType
    tags: dict[str, str] = field(default_factory=dict)
    automated: bool = True
    encrypted: bool = True


SOURCES = (
    DemoSource("orders", "RDS", tags={LIFECYCLE_TAG: "Standard", "aws:cloudformation:stack-name": "shop"}),
    DemoSource("staging", "RDS", tags={LIFECYCLE_TAG: "Test"}, automated=False, encrypted=False),
    DemoSource("ledger", "RDS Cluster", tags={LIFECYCLE_TAG: "Weekly", "team": "finance"}),
    DemoSource("analytics", "RDS Cluster", {LIFECYCLE_TAG: "daily=3 weekly=2"}, automated=False, encrypted=False),
    DemoSource("scratch", "RDS"),
    DemoSource("fileserver", "EBS", tags={LIFECYCLE_TAG: "Test", "team": "storage"}, automated=False, encrypted=False),
)
SNAPSHOT_HOUR = 3


def simulate(
    days: int, live: bool, log: TextIO, progress: Progress | None = None
) -> tuple[dict[str, Any], draco_status.Status]:
    """Run the demo; return the report and the DR account's status at the end."""
    with LocalWorld(live=live, log_stream=log) as world:
        names = {
            source.name: world.add_source(source.kind, source.name, source.tags, source.encrypted) for source in SOURCES
        }
        taken = {source.name: 0 for source in SOURCES}
        task = progress.add_task("simulated days", total=days) if progress else None
        for day in range(days):
            world.move_to(world.start + timedelta(days=day, hours=SNAPSHOT_HOUR))
            for source in SOURCES:
                world.take_snapshot(names[source.name], automated=source.automated)
                taken[source.name] += 1
            world.run_until_quiet()
            if progress and task is not None:
                progress.advance(task)
        status = draco_status.from_world(world)
        report = _report(world, names, taken, live)
        report["status"] = draco_status.to_json(status)
        return report, status


def _report(world: LocalWorld, names: dict[str, str], taken: dict[str, int], live: bool) -> dict[str, Any]:
    """One row per source; ``names``: each demo source's source name (a volume's id)."""
    dr_jobs = world.jobs(DR)
    prod_jobs = world.jobs(PROD)
    aliases = {a["AliasName"] for a in world.client("kms", DR).list_aliases()["Aliases"]}
    rows = []
    for source in SOURCES:
        name, kind = names[source.name], KINDS[source.kind]
        jobs = [job for job in dr_jobs if job.source_name == name and job.kind == source.kind]
        retained = [
            snap
            for snap in kind.api(world.client(kind.service, DR)).owned()
            if snap.tags.get(SOURCE_NAME_TAG) == name and f":{PROD}:" in snap.tags.get(SOURCE_ARN_TAG, "")
        ]
        policy = resolve_lifecycle(source.tags.get(LIFECYCLE_TAG))
        copied = [job for job in jobs if job.state in (State.DONE, State.EXPIRED)]
        kept_now = [(job.job_id, job.source_created) for job in jobs if job.state is State.DONE]
        would_delete = 0
        if kept_now and not live and not (policy.ignore or policy.keep_all):
            would_delete = len(apply_policy(policy, kept_now).delete)
        newest = max((job.source_created for job in copied), default=None)
        rows.append(
            {
                "source": source.name,
                "source_name": name,
                "kind": source.kind,
                "policy": "not copied" if policy.ignore else (policy.name or policy.describe()),
                "taken": taken[source.name],
                "copied": len(copied),
                "retained": len(retained),
                "deleted": sum(job.state is State.EXPIRED for job in jobs),
                "would_delete": would_delete,
                "key_alias": key_alias(name) if key_alias(name) in aliases else "",
                "newest_copy_age_hours": round((clock.now() - newest).total_seconds() / 3600, 1) if newest else None,
            }
        )
    transit_left = sum(
        is_transit_id(snap.name)
        for kind in KINDS.values()
        for snap in kind.api(world.client(kind.service, PROD)).owned()
    )
    all_jobs = dr_jobs + prod_jobs
    return {
        "live": live,
        "sources": rows,
        "transit_left": transit_left,
        "pending": sum(job.state.is_active for job in all_jobs),
        "failed": sum(job.state is State.FAILED for job in all_jobs),
        "invocations": dict(world.stats.invocations),
    }


def _table(report: dict[str, Any]) -> Table:
    mode = "live: deletions made" if report["live"] else "dry run: nothing deleted"
    table = Table(title=f"DRACO demo ({mode})")
    columns = ("source", "kind", "policy", "taken", "copied", "retained", "deleted", "would_delete", "key_alias")
    for column in (*columns, "newest DR copy"):
        table.add_column(column.replace("_", " "), justify="right" if column in columns[3:8] else "left", no_wrap=True)
    for row in report["sources"]:
        age = row["newest_copy_age_hours"]
        table.add_row(*(str(row[c]) for c in columns), f"{age} h old" if age is not None else "-")
    return table


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("demo", help="run DRACO end to end in a local two-account AWS")
    parser.add_argument("--days", type=int, default=21, help="simulated days of daily snapshots (default 21)")
    parser.add_argument("--live", action="store_true", help="set NO_DRY_RUN: the lifecycle really deletes")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON document")
    parser.add_argument("--log", metavar="FILE", help="write both apps' JSON logs here (default: a temp file)")
    parser.add_argument("--html", metavar="FILE", help="write the DR status report (HTML) to FILE")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not 1 <= args.days <= 3660:
        print("demo: --days must be from 1 to 3660", file=sys.stderr)
        return 2
    log_path = args.log or tempfile.NamedTemporaryFile(prefix="draco-demo-", suffix=".log", delete=False).name
    err = Console(stderr=True)
    with open(log_path, "w") as log, Progress(console=err, transient=True, disable=args.json) as progress:
        report, status = simulate(args.days, args.live, log, progress)
    if args.html:
        try:
            Path(args.html).write_text(draco_status.render_html(status))
        except OSError as error:
            print(f"demo: cannot write {args.html}: {error}", file=sys.stderr)
            return 2
        err.print(f"wrote the status report to {args.html}")
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    console = Console(width=max(Console().width, 132))
    console.print(_table(report))
    console.print(
        f"transit copies left: {report['transit_left']}   pending jobs: {report['pending']}   "
        f"failed jobs: {report['failed']}"
    )
    console.print()
    console.print(draco_status.render_table(status))
    console.print(f"both apps' logs: {log_path}")
    return 0
