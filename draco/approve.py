"""``approve``, ``reject``, ``retire`` and ``budget``: decisions only the DR account can take.

Run with DR credentials; each reads the stage's consumer settings and writes to the
consumer's job table, appending the decision to the history ``status`` shows. What
each means is in ``draco.approvals``:

* ``python -m draco approve SOURCE --lifecycle TEXT``: put exactly TEXT in force
  (refused, with the difference, when another change waits);
* ``python -m draco reject SOURCE [--lifecycle TEXT]``: dismiss the change waiting,
  until production asks for another;
* ``python -m draco retire SOURCE``: stop watching a source gone on purpose;
* ``python -m draco budget ACCOUNT --keys N [--hours H]``: N new DR keys past
  ``KEY_CAP`` for onboarding that production account, within H hours (24).

SOURCE is the source's name, or ``ACCOUNT/NAME`` or ``ACCOUNT#KIND#NAME`` when two
source accounts or kinds share a name.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from chalicelib_shared.config import ConsumerConfig
from chalicelib_shared.job_table import JobTable
from draco import approvals
from draco.ops import CONSUMER_TABLE, OperatorError, common_options, guarded, session_for, stage_env


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    approve = subparsers.add_parser(
        "approve", help="put a lifecycle waiting for approval in force for a source; run with DR credentials"
    )
    approve.add_argument("source", metavar="SOURCE", help="the source's name (or ACCOUNT/NAME)")
    approve.add_argument(
        "--lifecycle", metavar="TEXT", required=True, help="the lifecycle you approve, exactly as status shows it"
    )
    reject = subparsers.add_parser(
        "reject", help="dismiss a lifecycle change waiting for approval, until production asks for another"
    )
    reject.add_argument("source", metavar="SOURCE", help="the source's name (or ACCOUNT/NAME)")
    reject.add_argument("--lifecycle", metavar="TEXT", help="reject only if this is what waits")
    retire = subparsers.add_parser(
        "retire", help="stop watching a source gone on purpose (its copies and lifecycle stay)"
    )
    retire.add_argument("source", metavar="SOURCE", help="the source's name (or ACCOUNT/NAME)")
    budget = subparsers.add_parser(
        "budget", help="let one production account make N new DR keys past KEY_CAP (onboarding many databases)"
    )
    budget.add_argument("account", metavar="ACCOUNT", help="the production account id")
    budget.add_argument("--keys", type=int, required=True, help="new DR keys allowed past KEY_CAP")
    budget.add_argument("--hours", type=int, default=24, help="how long the budget lasts (default 24)")
    for parser, run in ((approve, _approve), (reject, _reject), (retire, _retire), (budget, _budget)):
        common_options(parser)
        parser.set_defaults(func=_command(parser.prog.split()[-1], run))


Decide = Callable[[JobTable, ConsumerConfig, argparse.Namespace, str], str]


def _command(name: str, decide: Decide) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        def go() -> int:
            env = stage_env("consumer", args.stage)
            config = ConsumerConfig.from_env(env)
            session = session_for(args)
            table: Any = session.resource("dynamodb").Table(args.table or env.get("JOB_TABLE") or CONSUMER_TABLE)
            who = session.client("sts").get_caller_identity()["Arn"]
            try:
                print(decide(JobTable(table, inventory=True), config, args, who))
            except approvals.DecisionError as err:
                raise OperatorError(str(err)) from None
            return 0

        return guarded(name, go)

    return run


def _approve(table: JobTable, config: ConsumerConfig, args: argparse.Namespace, who: str) -> str:
    saved = approvals.approve(table, config.lifecycles, args.source, who, args.lifecycle)
    return (
        f"{saved.inventory_key}: lifecycle {saved.lifecycle} in force, approved by {saved.approved_by} "
        f"at {saved.approved_at}; it applies at the source's next DR copy"
    )


def _reject(table: JobTable, config: ConsumerConfig, args: argparse.Namespace, who: str) -> str:
    saved = approvals.reject(table, args.source, who, args.lifecycle)
    return f"{saved.inventory_key}: {saved.rejected} rejected; {saved.lifecycle or 'nothing'} stays in force"


def _retire(table: JobTable, config: ConsumerConfig, args: argparse.Namespace, who: str) -> str:
    saved = approvals.retire(table, args.source, who)
    return f"{saved.inventory_key}: retired at {saved.retired_at}; its copies stay, its lifecycle keeps running"


def _budget(table: JobTable, config: ConsumerConfig, args: argparse.Namespace, who: str) -> str:
    until = approvals.budget(table, config.source_accounts, args.account, args.keys, args.hours, who)
    return f"account {args.account}: {args.keys} new DR keys past KEY_CAP until {until}"
