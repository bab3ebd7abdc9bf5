"""``python -m draco status``: the status of the DR account, in the terminal, as JSON or as a page."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.console import Console

from draco import ops
from draco.outputs import check_writable, write_text
from draco.status.html_report import render_html
from draco.status.json_report import to_json
from draco.status.model import DEFAULT_RPO_HOURS
from draco.status.readers import collect, consumer_config
from draco.status.terminal import render_table


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "status",
        help="DR protection at a glance: newest copy and RPO per source, failures, what the lifecycle deletes next",
        description="Run against the DR account: reads the consumer's job table and the DR snapshots.",
    )
    ops.common_options(parser)
    parser.add_argument("--json", action="store_true", help="print the status as one JSON document")
    parser.add_argument("--html", metavar="FILE", help="also write a self-contained HTML report to FILE")
    parser.add_argument(
        "--rpo-hours",
        type=float,
        default=DEFAULT_RPO_HOURS,
        help=f"flag sources whose newest DR copy is older than this (default {DEFAULT_RPO_HOURS:g})",
    )
    parser.set_defaults(func=run)


def drill_every_days(stage: str, app_dir: Any) -> int:
    """The stage's DRILL_EVERY_DAYS (0 when unset, or the stage is not bootstrapped here)."""
    from chalicelib_shared.drills.settings import DrillSettings

    try:
        return DrillSettings.from_env(ops.stage_env("consumer", stage, app_dir)).every_days
    except ops.OperatorError:
        return 0


def run(args: argparse.Namespace) -> int:
    def go() -> int:
        if args.rpo_hours <= 0:
            raise ops.OperatorError("--rpo-hours must be more than 0")
        page = check_writable(args.html) if args.html else None
        config = consumer_config(args.stage, args.table, args.app_dir)
        session = ops.session_for(args)
        err = Console(stderr=True)
        with err.status(f"reading job table {config.job_table} and the DR account's snapshots", spinner="dots"):
            table = session.resource("dynamodb").Table(config.job_table)
            every = drill_every_days(args.stage, args.app_dir)
            status = collect(table, session.client, config, rpo_hours=args.rpo_hours, drill_every_days=every)
        if page:
            write_text(page, render_html(status))
            err.print(f"wrote {page}")
        if args.json:
            print(json.dumps(to_json(status), indent=2))
        else:
            Console().print(render_table(status))
        return 0

    return ops.guarded("status", go)
