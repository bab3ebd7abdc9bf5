"""``python -m draco status``: the status of the DR account, in the terminal, as JSON or as a page."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.console import Console

from draco import ops, quota_plan
from draco.outputs import check_writable, write_text
from draco.status.html_report import render_html
from draco.status.json_report import to_json
from draco.status.model import DEFAULT_RPO_HOURS, Status
from draco.status.readers import collect, consumer_config
from draco.status.terminal import render_table


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "status",
        help="DR protection at a glance: newest copy and RPO per source, failures, what the lifecycle deletes next",
        description="Run against the DR account: reads the consumer's job table and the DR snapshots. "
        "Also sets the copies each kind will hold at steady state against the account's manual snapshot "
        "quota. Exit code 0: every source ok or pending; 1: something needs attention (a source late, failed, "
        "waiting for approval or to check, or a kind planned over its quota); 2: status could not be read.",
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


ATTENTION = ("late", "failed", "approve", "check")


def planned_sources(status: Status) -> list[tuple[str, str, Any, list[Any]]]:
    """Each protected source's kind, key, lifecycle in force and copies' source times, for the quota plan."""
    return [(s.kind, s.inventory_key, s.policy, [c.source_time for c in s.copies]) for s in status.sources]


def needs_attention(status: Status) -> bool:
    """Whether a source's health asks for an operator (``status`` then exits 1, for scripts and monitors)."""
    return any(source.health in ATTENTION for source in status.sources)


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
            quotas = quota_plan.plan(planned_sources(status), quota_plan.read_quotas(session.client))
        if page:
            write_text(page, render_html(status))
            err.print(f"wrote {page}")
        over = [kind for kind in quotas if kind.over]
        if args.json:
            print(json.dumps({**to_json(status), "quota_plan": quota_plan.to_json(quotas)}, indent=2))
        else:
            console = Console()
            console.print(render_table(status))
            console.print("\nManual snapshot quota, at steady state (draco.quota_plan):")
            for kind in quotas:
                console.print(f"  {kind.line()}")
        for kind in over:
            err.print(f"warning: {kind.line()}: raise the quota or shorten a lifecycle before copies have to wait")
        return 1 if needs_attention(status) or over else 0

    return ops.guarded("status", go)
