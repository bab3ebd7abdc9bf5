"""``python -m draco status``: the status of the DR account, in the terminal, as JSON or as a page."""

from __future__ import annotations

import argparse
import json

from rich.console import Console

from draco import ops
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
        "Exit code 0: every source ok or pending; 1: something needs attention (a source late, failed, "
        "waiting for approval or to check); 2: status could not be read.",
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


def needs_attention(status: Status) -> bool:
    """Whether a source's health asks for an operator (``status`` then exits 1, for scripts and monitors)."""
    return any(source.health in ATTENTION for source in status.sources)


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
            status = collect(table, session.client, config, rpo_hours=args.rpo_hours)
        if page:
            write_text(page, render_html(status))
            err.print(f"wrote {page}")
        if args.json:
            print(json.dumps(to_json(status), indent=2))
        else:
            Console().print(render_table(status))
        return 1 if needs_attention(status) else 0

    return ops.guarded("status", go)
