"""``python -m draco drill``: restore each chosen source's newest DR copy in DR, check it, measure it, delete it.

Run with DR credentials. For each source (all with a DR copy, ``--source NAME``
or those whose copies carry ``--tag KEY=VALUE``) it restores the newest DR copy
into the place named (``--subnet-group``, ``--security-group``, ``--zone``;
else the stage's ``DRILL_*`` settings, else AWS's defaults), never publicly
accessible, in the smallest class the engine allows (``--instance-class``),
waits until it is available, checks it (and invokes ``--validator``), records
the drill in the consumer's job table, and deletes what it made. ``--keep``
leaves a restore that passed for use: a real recovery (README, "Restoring from
DR"). ``--sweep`` only deletes what drills left behind. Exit code 0 when every
drill passed, 1 when one failed.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from datetime import timedelta
from typing import Any

from draco.ops import OperatorError, common_options, guarded, session_for, stage_env


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "drill", help="restore DR copies in DR, check them, measure the RTO, clean up; run with DR credentials"
    )
    chosen = parser.add_mutually_exclusive_group()
    chosen.add_argument("--source", metavar="NAME", help="drill this source only (name or ACCOUNT#KIND#NAME)")
    chosen.add_argument("--tag", metavar="KEY=VALUE", help="drill the sources whose DR copies carry this tag")
    parser.add_argument("--keep", action="store_true", help="leave a restore that passed for use (not deleted)")
    parser.add_argument("--subnet-group", metavar="NAME", help="DB subnet group to restore into")
    parser.add_argument("--security-group", metavar="SG", action="append", help="VPC security group (repeatable)")
    parser.add_argument("--zone", metavar="AZ", help="availability zone to restore into")
    parser.add_argument("--instance-class", metavar="CLASS", help="DB instance class (default: the engine's smallest)")
    parser.add_argument("--validator", metavar="FUNCTION", help="Lambda function that validates a restore")
    parser.add_argument("--timeout-minutes", type=int, metavar="N", help="fail a drill not done in N minutes")
    parser.add_argument("--poll-seconds", type=int, default=30, metavar="N", help="look every N seconds (default 30)")
    parser.add_argument("--sweep", action="store_true", help="only delete drill leftovers older than the timeout")
    parser.add_argument("--json", action="store_true", help="print the drills as JSON")
    common_options(parser)
    parser.set_defaults(func=run)


def settings_from(args: argparse.Namespace, env: dict[str, str]) -> Any:
    """The stage's drill settings with the command's options over them; ``OperatorError`` when invalid."""
    from chalicelib_shared.drills.settings import DrillSettings
    from chalicelib_shared.kinds.restoring import Place

    base = DrillSettings.from_env(env)
    place = Place(
        args.subnet_group or base.place.subnet_group,
        tuple(args.security_group or base.place.security_groups),
        args.zone or base.place.zone,
    )
    settings = replace(base, place=place, instance_class=args.instance_class or base.instance_class,
                       validator=args.validator or base.validator)  # fmt: skip
    if args.timeout_minutes is not None:
        if not 15 <= args.timeout_minutes <= 2880:
            raise OperatorError("--timeout-minutes must be from 15 to 2880")
        settings = replace(settings, timeout=timedelta(minutes=args.timeout_minutes))
    checked = settings.checked(list(base.problems))
    if checked.problems:
        raise OperatorError("; ".join(checked.problems))
    return checked


def build(session: Any, table: Any, settings: Any) -> Any:
    """The drill use-case on AWS, as the session's account."""
    from chalicelib_shared.drills.checks import LambdaValidator
    from chalicelib_shared.drills.table import DrillTable
    from chalicelib_shared.drills.use_case import Drills
    from chalicelib_shared.job_table import JobTable
    from chalicelib_shared.kinds import KINDS

    validator = LambdaValidator(session.client("lambda"), settings.validator) if settings.validator else None
    return Drills(
        DrillTable(table),
        JobTable(table, inventory=True),
        lambda kind: KINDS[kind].restores(session.client(KINDS[kind].service)),
        settings,
        validator,
    )


def run(args: argparse.Namespace) -> int:
    from chalicelib_shared.config import CONSUMER_TABLE
    from chalicelib_shared.drills.settings import parse_tag

    def go() -> int:
        try:
            env = stage_env("consumer", args.stage, args.app_dir)
        except OperatorError:
            env = {}  # not bootstrapped from this checkout: the options and AWS's defaults
        problems: list[str] = []
        tag = parse_tag(args.tag or "", problems)
        if problems:
            raise OperatorError("; ".join(problems))
        session = session_for(args)
        table = session.resource("dynamodb").Table(args.table or env.get("JOB_TABLE") or CONSUMER_TABLE)
        drills = build(session, table, settings_from(args, env))
        if args.sweep:
            swept = drills.sweep()
            print(json.dumps({"deleted": swept}) if args.json else f"deleted {len(swept)} drill leftovers")
            return 0
        keys = drills.choose(args.source or "", tag)
        if not keys:
            raise OperatorError("no protected source with a DR copy matches" if args.source or tag else
                                "no protected source has a DR copy yet")  # fmt: skip
        try:
            results = drills.run(keys, wait=lambda pause: time.sleep(pause.total_seconds()), keep=args.keep,
                                 poll=timedelta(seconds=max(5, args.poll_seconds)))  # fmt: skip
        except KeyboardInterrupt:
            drills.abandon(drills.table.running())
            raise
        return report(results, args.json)

    return guarded("drill", go)


def report(results: list[Any], as_json: bool) -> int:
    """Print the drills (a table, or JSON); 0 when all passed."""
    from rich.console import Console
    from rich.table import Table

    from chalicelib_shared.drills.model import PASSED, Drill

    drills = [r for r in results if isinstance(r, Drill)]
    skipped = [r for r in results if not isinstance(r, Drill)]
    if as_json:
        doc = {
            "drills": [d.report() for d in drills],
            "skipped": [{"source": s.source, "reason": s.reason} for s in skipped],
        }
        print(json.dumps(doc, indent=2))
    else:
        table = Table(title="DRACO restore drills", title_justify="left")
        for header in ("source", "kind", "DR copy", "result", "RTO", "cost", "why"):
            table.add_column(header, overflow="fold")
        for drill in drills:
            rto = f"{drill.rto_seconds / 60:.1f} min" if drill.rto_seconds is not None else "-"
            table.add_row(drill.source_name, drill.kind, drill.copy_id, drill.result, rto,
                          f"${drill.cost_usd:.4f}", drill.reason)  # fmt: skip
        for item in skipped:
            table.add_row(item.source.split("#", 2)[-1], "", "", "skipped", "-", "-", item.reason)
        Console().print(table)
    return 0 if drills and all(d.result == PASSED for d in drills) and not skipped else 1
