"""``python -m draco approve SOURCE [--lifecycle NAME]``: a decision only the DR account can take.

Production may lengthen how long DR keeps a source's copies, never shorten it
(``chalicelib_shared.lifecycles``): a lifecycle change that would delete copies
the one in force keeps waits, and ``status`` shows it as pending. Run with DR
credentials, ``approve`` puts the pending lifecycle (or the one named with
``--lifecycle``) in force for that source and records who approved it and when
in the source's record in the consumer's job table. The consumer applies it at
the source's next lifecycle pass (its next DR copy); until then nothing more is
deleted than before.

SOURCE is the source's name, or ``ACCOUNT/NAME`` or ``ACCOUNT#KIND#NAME`` when
two source accounts or kinds share a name.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import Any

from chalicelib_shared import clock
from chalicelib_shared.config import ConsumerConfig
from chalicelib_shared.job_table import JobTable
from chalicelib_shared.lifecycles import Lifecycles
from chalicelib_shared.sources import SourceRecord
from draco.ops import CONSUMER_TABLE, OperatorError, common_options, guarded, session_for, stage_env


def find_source(records: list[SourceRecord], source: str) -> SourceRecord:
    """The one record SOURCE names; ``OperatorError`` when none or several do."""
    wanted = source.strip()
    found = [
        record
        for record in records
        if wanted in (record.inventory_key, record.source_name, f"{record.source_acct}/{record.source_name}")
    ]
    if not found:
        known = ", ".join(sorted(record.source_name for record in records)) or "none yet"
        raise OperatorError(f"no protected source {wanted!r} in this DR account (sources: {known})")
    if len(found) > 1:
        keys = ", ".join(record.inventory_key for record in found)
        raise OperatorError(f"{wanted!r} names {len(found)} sources; give one of: {keys}")
    return found[0]


def approve(
    inventory: JobTable, settings: Lifecycles, source: str, who: str, lifecycle: str | None = None
) -> SourceRecord:
    """Put the pending (or the given) lifecycle in force for one source; the saved record."""
    record = find_source(inventory.sources(), source)
    chosen = (lifecycle or record.pending).strip()
    if not chosen:
        raise OperatorError(
            f"no lifecycle change waits for approval for {record.inventory_key} (in force: "
            f"{record.lifecycle or 'none yet'}); pass --lifecycle NAME to put another one in force"
        )
    policy = settings.policy(chosen)
    if policy.ignore or policy.keep_all:
        raise OperatorError(f"--lifecycle {chosen!r} is not a lifecycle DR can apply ({policy.problem or 'Ignore'})")
    approved = replace(record, lifecycle=chosen, pending="", pending_since="", approved_by=who)
    saved = inventory.save_source(replace(approved, approved_at=clock.iso(clock.now())))
    if saved is None:
        raise OperatorError(f"{record.inventory_key} changed while approving; run the command again")
    return saved


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "approve", help="put a pending (shorter) lifecycle in force for a source; run with DR credentials"
    )
    parser.add_argument("source", metavar="SOURCE", help="the source's name (or ACCOUNT/NAME)")
    parser.add_argument("--lifecycle", metavar="NAME", help="put this lifecycle in force instead of the pending one")
    common_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    def go() -> int:
        env = stage_env("consumer", args.stage)
        config = ConsumerConfig.from_env(env)
        session = session_for(args)
        table: Any = session.resource("dynamodb").Table(args.table or env.get("JOB_TABLE") or CONSUMER_TABLE)
        who = session.client("sts").get_caller_identity()["Arn"]
        saved = approve(JobTable(table, inventory=True), config.lifecycles, args.source, who, args.lifecycle)
        print(
            f"{saved.inventory_key}: lifecycle {saved.lifecycle} in force, approved by {saved.approved_by} "
            f"at {saved.approved_at}; it applies at the source's next DR copy"
        )
        return 0

    return guarded("approve", go)
