"""``python -m draco demo``: DRACO at work in the local two-account world.

Bootstraps both accounts, creates five production databases (DB instances and
Aurora clusters, each lifecycle kind, one untagged) and an EBS volume (tagged
on the volume, unencrypted), takes a snapshot of each every simulated day, and
lets both apps carry them to DR, then drills every protected source (restores
its newest DR copy in DR, checks it, measures the RTO, deletes the restore:
``draco.world.restores``). Ends with one row per
source, then the operator's status table of the DR account (``draco.status``);
``--json`` prints the same as one JSON document on stdout (the status under
``status``, in ``draco.status``'s schema), ``--html FILE`` writes the status report.
``--dr-region REGION`` puts the DR account in another Region than production's
(``us-east-1``); the report names both Regions and counts what either left
behind: transit copies in production, and DR's relay copies outside its Region.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TextIO

from rich import box
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from chalicelib_shared import clock
from chalicelib_shared.config import is_region
from chalicelib_shared.jobs import State
from chalicelib_shared.kinds import KINDS, Snapshot
from chalicelib_shared.naming import LIFECYCLE_TAG, SOURCE_ARN_TAG, SOURCE_NAME_TAG, is_transit_id, key_alias
from draco import status as draco_status
from draco.outputs import OutputError, check_writable, progress, write_text
from draco.world.local_aws import without_aws_profile

if TYPE_CHECKING:
    from draco.world.core import LocalWorld


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
    days: int, live: bool, log: TextIO, progress: Progress | None = None, dr_region: str | None = None
) -> tuple[dict[str, Any], draco_status.Status]:
    """Run the demo (DR in ``dr_region``, default production's); return the report and DR's status at the end."""
    from draco.world.core import LocalWorld
    from draco.world.restores import drill

    with LocalWorld(live=live, log_stream=log, dr_region=dr_region) as world:
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
        drilled = drill(world)  # every protected source, once the copies are in (draco.world.restores)
        status = world.status()
        report = _report(world, names, taken, live, status)
        by_name = {name: demo_name for demo_name, name in names.items()}
        report["drills"] = [{**row, "source": by_name.get(row["source"], row["source"])} for row in drilled.rows()]
        report["drill_leftovers"] = len(drilled.leftovers)
        report["drill_alarms"] = drilled.alarms
        report["status"] = draco_status.to_json(status)
        return report, status


def _report(
    world: LocalWorld, names: dict[str, str], taken: dict[str, int], live: bool, status: draco_status.Status
) -> dict[str, Any]:
    """One row per source (``names``: each demo source's source name, a volume's id). The lifecycle and what
    it would delete come from the status, which decides as the consumer does; ``encrypted`` says whether
    the DR copies are (None: not copied), ``key_alias`` (only for encrypted ones) the key they are under."""
    from draco.world.core import DR, PROD

    dr_jobs = world.jobs(DR)
    prod_jobs = world.jobs(PROD)
    aliases = {a["AliasName"] for a in world.client("kms", DR).list_aliases()["Aliases"]}
    protected = {(s.kind, s.source_name): s for s in status.sources if s.source_acct == PROD}
    rows = []
    for source in SOURCES:
        name, kind = names[source.name], KINDS[source.kind]
        jobs = [job for job in dr_jobs if job.source_name == name and job.kind == source.kind]
        retained = [
            snap
            for snap in kind.api(world.client(kind.service, DR)).owned()
            if snap.tags.get(SOURCE_NAME_TAG) == name and f":{PROD}:" in snap.tags.get(SOURCE_ARN_TAG, "")
        ]
        copied = [job for job in jobs if job.state in (State.DONE, State.EXPIRED)]
        newest = max((job.source_created for job in copied), default=None)
        seen = protected.get((source.kind, name))
        row = {
            "source": source.name,
            "source_name": name,
            "kind": source.kind,
            "policy": (seen.policy.name or seen.policy.describe()) if seen else "not copied",
            "taken": taken[source.name],
            "copied": len(copied),
            "retained": len(retained),
            "deleted": sum(job.state is State.EXPIRED for job in jobs),
            "would_delete": len(seen.would_delete) if seen and not live else 0,
            "encrypted": seen.encrypted if seen else None,
            "newest_copy_age_hours": round((clock.now() - newest).total_seconds() / 3600, 1) if newest else None,
        }
        if row["encrypted"] and key_alias(name) in aliases:
            row["key_alias"] = key_alias(name)
        rows.append(row)

    def owned(account: str, region: str) -> list[Snapshot]:
        return [s for kind in KINDS.values() for s in kind.api(world.client(kind.service, account, region)).owned()]

    transit_left = sum(is_transit_id(snap.name) for region in world.regions for snap in owned(PROD, region))
    relay_left = sum(len(owned(DR, region)) for region in world.regions if region != world.dr_region)
    all_jobs = dr_jobs + prod_jobs
    return {
        "live": live,
        "source_region": world.region,
        "dr_region": world.dr_region,
        "sources": rows,
        "transit_left": transit_left,
        "relay_left": relay_left,
        "pending": sum(job.state.is_active for job in all_jobs),
        "failed": sum(job.state is State.FAILED for job in all_jobs),
        "invocations": dict(world.stats.invocations),
    }


#: (report field, header, right-aligned, the narrowest terminal that shows it)
_COLUMNS = (
    ("source", "source", False, 0),
    ("kind", "kind", False, 100),
    ("policy", "policy", False, 0),
    ("taken", "taken", True, 0),
    ("copied", "copied", True, 0),
    ("retained", "kept", True, 0),
    ("deleted", "deleted", True, 0),
    ("would_delete", "would delete", True, 0),
    ("encrypted", "encrypted", False, 0),
    ("key_alias", "DR key", False, 120),
    ("newest_copy_age_hours", "newest DR copy", True, 110),
)


def _cell(row: dict[str, Any], field: str) -> str:
    value = row.get(field)
    if field == "encrypted":
        return {True: "yes", False: "no", None: "-"}[value]
    if field == "newest_copy_age_hours":
        return "-" if value is None else f"{value} h old"
    return "-" if value in (None, "") else str(value)


def _table(report: dict[str, Any], width: int) -> Table:
    """The demo's rows, with as many columns as a terminal ``width`` wide shows."""
    mode = "live: deletions made" if report["live"] else "dry run: nothing deleted"
    if report.get("dr_region") and report["dr_region"] != report.get("source_region"):
        mode += f"; DR in {report['dr_region']}"
    table = Table(
        title=f"DRACO demo ({mode})", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False
    )
    shown = [column for column in _COLUMNS if width >= column[3]]
    for _, header, right, _ in shown:
        table.add_column(header, justify="right" if right else "left", overflow="fold")
    for row in report["sources"]:
        table.add_row(*(_cell(row, field) for field, *_ in shown))
    return table


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("demo", help="run DRACO end to end in a local two-account AWS")
    parser.add_argument("--days", type=int, default=21, help="simulated days of daily snapshots (default 21)")
    parser.add_argument("--live", action="store_true", help="set NO_DRY_RUN: the lifecycle really deletes")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON document")
    parser.add_argument("--log", metavar="FILE", help="write both apps' JSON logs here (default: a temp file)")
    parser.add_argument("--html", metavar="FILE", help="write the DR status report (HTML) to FILE")
    parser.add_argument(
        "--dr-region", metavar="REGION", help="put the DR account in REGION (default: production's, us-east-1)"
    )
    parser.set_defaults(func=run)


def _region_problem(region: str) -> str:
    """Why the local world can't put DR in ``region`` ("": it can)."""
    if not is_region(region):
        return f"--dr-region {region!r} is not an AWS Region name (like us-west-2)"
    from boto3.session import Session  # only when asked: registering the command stays cheap

    if region not in Session().get_available_regions("rds"):
        return f"--dr-region {region!r} is not an AWS Region botocore knows in the aws partition"
    return ""


def run(args: argparse.Namespace) -> int:
    if not 1 <= args.days <= 3660:
        print("draco demo: --days must be from 1 to 3660", file=sys.stderr)
        return 2
    problem = _region_problem(args.dr_region) if args.dr_region is not None else ""
    if problem:
        print(f"draco demo: {problem}", file=sys.stderr)
        return 2
    try:
        page = check_writable(args.html) if args.html else None
        log_path = check_writable(args.log) if args.log else None
    except OutputError as err:
        print(f"draco demo: {err}", file=sys.stderr)
        return 2
    if log_path is None:
        log_path = tempfile.NamedTemporaryFile(prefix="draco-demo-", suffix=".log", delete=False).name
    err = Console(stderr=True)
    with without_aws_profile(), open(log_path, "w") as log, progress(quiet=args.json) as shown:
        report, status = simulate(args.days, args.live, log, shown, args.dr_region)
    if page:
        try:
            write_text(page, draco_status.render_html(status))
        except OutputError as error:
            print(f"draco demo: {error}", file=sys.stderr)
            return 2
        err.print(f"wrote the status report to {page}")
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    console = Console()
    console.print(_table(report, console.width))
    relay = f"relay copies left: {report['relay_left']}   " if report["dr_region"] != report["source_region"] else ""
    console.print(
        f"transit copies left: {report['transit_left']}   {relay}pending jobs: {report['pending']}   "
        f"failed jobs: {report['failed']}"
    )
    for row in report["drills"]:
        rto = f"{row['rto_seconds'] / 60:.1f} min" if row["rto_seconds"] is not None else row["reason"]
        console.print(f"restore drill: {row['source']} ({row['kind']}) {row['result']}, RTO {rto}")
    console.print(f"drill leftovers: {report['drill_leftovers']}")
    console.print()
    console.print(draco_status.render_table(status))
    console.print(f"both apps' logs: {log_path}")
    return 0
