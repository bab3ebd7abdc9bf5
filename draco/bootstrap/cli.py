"""``python -m draco bootstrap producer|consumer`` and ``python -m draco remove producer|consumer``.

Both print their plan first; ``--dry-run`` stops there and changes nothing.
Bootstrap then applies it and writes the stage into the app's Chalice project;
removal asks for the account id (or ``--yes``) before deleting anything. Every
expected failure is one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from chalicelib_shared import config as cfg
from chalicelib_shared.kinds.base import Side
from draco.bootstrap import drill_options, sweeper
from draco.bootstrap.aws import connect
from draco.bootstrap.chalice_config import (
    merge_template,
    merge_template_name,
    role_policy_name,
    would_change,
    write_stage_config,
)
from draco.bootstrap.deploy import Prepared, apply, prepare_consumer, prepare_producer
from draco.bootstrap.executor import Executor
from draco.bootstrap.instructions import BootstrapError, Step, resolve
from draco.bootstrap.names import ALERT_TOPIC
from draco.bootstrap.options import DEFAULT_RPO_HOURS, Alarms

REPO_ROOT = Path(__file__).resolve().parents[2]
PRODUCER_APP_DIR = REPO_ROOT / "producer_app"
CONSUMER_APP_DIR = REPO_ROOT / "consumer_app"


def app_dir(side: Side) -> Path:
    return PRODUCER_APP_DIR if side is Side.PRODUCER else CONSUMER_APP_DIR


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``bootstrap`` and ``remove`` to the operator's CLI."""
    _register_bootstrap(subparsers)
    _register_remove(subparsers)


def _account_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--profile", help="AWS profile of the account")
    sub.add_argument("--region", help="AWS region (default: the profile's)")
    sub.add_argument("--stage", default="dev", help="Chalice stage (default: dev)")
    sub.add_argument("--dry-run", action="store_true", help="show the plan; change nothing")


def _register_bootstrap(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("bootstrap", help="create the topics, keys, tables and roles an account needs")
    sides = parser.add_subparsers(dest="account_kind", required=True, metavar="ACCOUNT")

    def common(sub: argparse.ArgumentParser) -> None:
        _account_options(sub)
        sub.add_argument("--peer-stage", default="", help="the other app's stage (default: --stage)")
        sub.add_argument(
            "--tag-key", default=cfg.DEFAULT_TAG_KEY, help=f"tag on DRACO's copies (default {cfg.DEFAULT_TAG_KEY})"
        )
        sub.add_argument(
            "--tag-value", default=cfg.DEFAULT_TAG_VALUE, help=f"its value (default {cfg.DEFAULT_TAG_VALUE})"
        )
        sub.add_argument("--alert-email", default="", help=f"subscribe this address to the {ALERT_TOPIC} topic")
        sub.add_argument(
            "--alarms",
            action=argparse.BooleanOptionalAction,
            default=True,
            help=f"create the app's CloudWatch alarms on the {ALERT_TOPIC} topic (default on)",
        )

    prod = sides.add_parser("producer", help="bootstrap the production account")
    prod.add_argument("--dr-account", required=True, help="the DR account's 12-digit id")
    prod.add_argument("--dr-region", default=None, help="the DR account's Region (default: this account's)")
    prod.add_argument("--transit-limit", type=int, default=10, help="transit copies that may exist at once (10)")
    prod.add_argument("--transit-keep-days", type=int, default=7, help="days a failed job's transit copy is kept (7)")
    common(prod)
    prod.set_defaults(func=_bootstrap_producer)

    cons = sides.add_parser("consumer", help="bootstrap the DR account")
    cons.add_argument("--source-accounts", required=True, help="production account ids, comma-separated")
    cons.add_argument("--source-region", default=None, help="the production accounts' Region (default: this account's)")
    cons.add_argument("--default-lifecycle", default="", help="lifecycle for sources without a Draco_Lifecycle tag")
    cons.add_argument("--custom-lifecycles", default="", help="extra lifecycles, as JSON")
    cons.add_argument("--no-dry-run", action="store_true", help="let the consumer really delete expired DR copies")
    cons.add_argument(
        "--retention-lock",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="a shorter lifecycle waits for draco approve in DR (default on; off: any change applies at once)",
    )
    cons.add_argument("--min-keep", type=int, default=3, help="newest copies per source no lifecycle deletes (3)")
    cons.add_argument("--key-cap", type=int, default=10, help="new DR keys a day per source account (10)")
    cons.add_argument(
        "--key-scope", choices=cfg.KEY_SCOPES, default=cfg.KEY_SCOPES[0], help="one DR key per database or account"
    )
    drill_options.add_arguments(cons)
    cons.add_argument(
        "--rpo-hours",
        type=float,
        default=DEFAULT_RPO_HOURS,
        help=f"RPO alarm threshold: a source's newest DR copy older than this (default {DEFAULT_RPO_HOURS:g})",
    )
    common(cons)
    cons.set_defaults(func=_bootstrap_consumer)


def _register_remove(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("remove", help="delete what bootstrap made in an account (never snapshots)")
    sides = parser.add_subparsers(dest="account_kind", required=True, metavar="ACCOUNT")
    for side in Side:
        sub = sides.add_parser(side.value, help=f"remove the {side} app's resources from this account")
        _account_options(sub)
        sub.add_argument(
            "--delete-keys", action="store_true", help="also schedule DRACO's KMS keys for deletion (in 30 days)"
        )
        sub.add_argument("--yes", action="store_true", help="don't ask for the account id before deleting")
        sub.set_defaults(func=_remove, side=side)


# --------------------------------------------------------------------------- bootstrap


def _common_options(args: argparse.Namespace, rpo_hours: float = DEFAULT_RPO_HOURS) -> dict[str, Any]:
    alarms = Alarms(email=args.alert_email, rpo_hours=rpo_hours) if args.alarms else None
    return {
        "stage": args.stage,
        "peer_stage": args.peer_stage,
        "tag_key": args.tag_key,
        "tag_value": args.tag_value,
        "alarms": alarms,
    }


def _bootstrap_producer(args: argparse.Namespace) -> int:
    return _bootstrap(
        args,
        Side.PRODUCER,
        lambda session: prepare_producer(
            session,
            args.dr_account,
            dr_region=args.dr_region,
            transit_limit=args.transit_limit,
            transit_keep_days=args.transit_keep_days,
            **_common_options(args),
        ),
    )


def _bootstrap_consumer(args: argparse.Namespace) -> int:
    return _bootstrap(
        args,
        Side.CONSUMER,
        lambda session: prepare_consumer(
            session,
            args.source_accounts.split(","),
            source_region=args.source_region,
            default_lifecycle=args.default_lifecycle,
            custom_lifecycles=args.custom_lifecycles,
            no_dry_run=args.no_dry_run,
            retention_lock=args.retention_lock,
            min_keep=args.min_keep,
            key_cap=args.key_cap,
            key_scope=args.key_scope,
            drill_settings=drill_options.from_args(args),
            **_common_options(args, args.rpo_hours),
        ),
    )


def _bootstrap(args: argparse.Namespace, side: Side, prepare: Callable[[boto3.Session], Prepared]) -> int:
    project = app_dir(side)
    config_path = project / ".chalice" / "config.json"

    def run() -> None:
        if not config_path.is_file():
            raise BootstrapError(f"{config_path} not found: run from a complete DRACO checkout")
        prepared = prepare(boto3.Session(profile_name=args.profile, region_name=args.region))
        _print_plan(prepared.account.account, prepared.account.region, prepared.plan, prepared.known, args.dry_run)
        if args.dry_run:
            _print_stage_preview(prepared, project, args.stage)
            print("dry run: nothing changed")
            return
        applied = apply(prepared)
        write_stage_config(project, args.stage, applied.env, applied.deployment)
        print(f"wrote stages.{args.stage} in {config_path}:")
        for name, value in applied.env.items():
            print(f"  {name}={value}")
        print(f"  iam_role_arn={applied.deployment.role_arn} (manage_iam_role: false)")
        print(f"wrote the role's policy, for review, to {config_path.parent / role_policy_name(args.stage)}")
        print(
            f"for chalice package, pass --merge-template .chalice/{merge_template_name(args.stage)} "
            "(it names the functions as chalice deploy does)"
        )

    return _guarded(run, "bootstrap", f"cannot write {config_path}")


def _print_plan(account: str, region: str, steps: list[Step], known: Any, documents: bool) -> None:
    if not steps:
        print(f"account {account} in {region}: nothing to change")
        return
    print(f"account {account} in {region}: {len(steps)} step(s)")
    for step in steps:
        print(f"  - {step}")
    if documents:
        for step in steps:
            if step.document is not None:
                print(f"\n{step}:\n{json.dumps(resolve(step.document, known, preview=True), indent=2)}")


def _print_stage_preview(prepared: Prepared, project: Path, stage: str) -> None:
    """What a real run would write into the Chalice project."""
    config_path = project / ".chalice" / "config.json"
    print(f"\nwould write stages.{stage} in {config_path}:")
    for name, value in prepared.preview_env().items():
        print(f"  {name}={value}")
    deployment = prepared.stack.deployment
    print(f"  manage_iam_role=false, iam_role_arn={deployment.role_arn}")
    template = config_path.parent / merge_template_name(stage)
    state = would_change(template, merge_template(deployment))
    print(f"would write {template} ({state}): function names for chalice package --merge-template")
    record = config_path.parent / role_policy_name(stage)
    policy = resolve(deployment.role_policy, prepared.known, preview=True)
    print(f"would write {record} ({would_change(record, policy)}): the role's policy, for review")


# --------------------------------------------------------------------------- remove


def _remove(args: argparse.Namespace) -> int:
    side: Side = args.side

    def run() -> None:
        session = boto3.Session(profile_name=args.profile, region_name=args.region)
        if not session.region_name:
            raise ValueError("no AWS region: pass --region or set AWS_DEFAULT_REGION")
        acct, clients = connect(session, session.region_name, ())
        found = sweeper.read(clients, acct, side, args.stage)
        removal = sweeper.plan_removal(found, acct, side, args.stage, delete_keys=args.delete_keys)
        _print_plan(acct.account, acct.region, removal.steps, {}, False)
        for line in removal.kept:
            print(f"  kept: {line}")
        if args.dry_run or not removal.steps:
            print("dry run: nothing changed" if args.dry_run else "nothing to remove")
            return
        if not args.yes and _ask(f"type the account id ({acct.account}) to delete all of the above: ") != acct.account:
            raise BootstrapError("not confirmed: nothing changed")
        Executor(clients).execute(removal.steps)
        print(f"removed the {side} app's resources from account {acct.account}")

    return _guarded(run, "remove", "cannot remove")


def _ask(prompt: str) -> str:
    try:
        return input(prompt).strip()
    except EOFError:
        return ""


# --------------------------------------------------------------------------- errors


def _guarded(run: Callable[[], None], command: str, os_error: str) -> int:
    """Run; every expected failure becomes one line on stderr and exit code 2."""
    try:
        run()
        return 0
    except (ValueError, BootstrapError) as err:
        message = str(err)
    except NoCredentialsError:
        message = "no AWS credentials found: pass --profile, or set AWS_PROFILE or AWS_ACCESS_KEY_ID"
    except ClientError as err:
        error = err.response.get("Error", {})
        message = (
            f"AWS refused {err.operation_name}: {error.get('Code')}: {error.get('Message')} "
            "(check the credentials' permissions and run again; it resumes where it stopped)"
        )
    except BotoCoreError as err:
        message = f"AWS error: {err} (check --profile, --region and the network, then run again)"
    except OSError as err:
        message = f"{os_error}: {err}"
    print(f"{command}: {message}", file=sys.stderr)
    return 2
