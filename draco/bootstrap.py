"""Bootstrap: create, idempotently, what Chalice doesn't create for the two apps.

Chalice deploys the Lambdas, their roles and their SNS subscriptions; it can't make
the topics they listen on (each named in a fixed way so the two accounts can find
each other without a circular dependency), their cross-account policies, the RDS
event subscriptions, the transit KMS key or the job tables. This module does.

Plan, then apply (see DESIGN.md): ``plan_producer``/``plan_consumer`` only read the
account and return the steps still needed, each a line an operator can check and
the call that makes it so; ``producer``/``consumer`` apply that plan and return the
app's Lambda environment. A resource that is already as wanted yields no step, so a
second run has an empty plan. Policies are compared as parsed JSON, ignoring the
order of statements and of list values, because AWS may hand them back reordered.

Some states can't be repaired safely by a script (a transit key pending deletion, a
table with another key schema, an event subscription limited to some sources): those
raise ``BootstrapError`` with what the operator should do, rather than guess.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from chalicelib_shared import config as cfg
from chalicelib_shared.jobs import table_definition

DEFAULT_TAG_KEY = cfg.DEFAULT_TAG_KEY
DEFAULT_TAG_VALUE = cfg.DEFAULT_TAG_VALUE

# Chalice names an app's Lambda role ``<app_name>-<stage>``; these are the app names.
PRODUCER_APP_NAME = "draco-producer"
CONSUMER_APP_NAME = "draco-consumer"

# The Chalice projects, found next to this package (the repository root).
REPO_ROOT = Path(__file__).resolve().parent.parent
PRODUCER_APP_DIR = REPO_ROOT / "producer_app"
CONSUMER_APP_DIR = REPO_ROOT / "consumer_app"

RDS_EVENTS_PRINCIPAL = "events.rds.amazonaws.com"
# What the owning account may do with its own topic (the actions of SNS's default policy).
_TOPIC_OWNER_ACTIONS = [
    "sns:AddPermission",
    "sns:DeleteTopic",
    "sns:GetTopicAttributes",
    "sns:ListSubscriptionsByTopic",
    "sns:Publish",
    "sns:RemovePermission",
    "sns:SetTopicAttributes",
    "sns:Subscribe",
]
_TRANSIT_KEY_DESCRIPTION = (
    "DRACO transit key: re-encrypts RDS snapshot copies so they can be shared with the DR account"
)

_ACCOUNT = re.compile(r"\d{12}")
_STAGE = re.compile(r"[A-Za-z0-9_]+")
# AWS tag rules (the same the apps check when they read TAG_KEY/TAG_VALUE).
_TAG_KEY = re.compile(r"(?!aws:)[\w .:/=+@-]{1,128}")


class BootstrapError(Exception):
    """The account is in a state bootstrap won't repair on its own; the message says what to do."""


@dataclass(frozen=True)
class Step:
    """One change: the line an operator reads, and the call that makes it so."""

    description: str
    action: Callable[[], object]
    document: Mapping[str, Any] | None = None  # the policy this step sets, shown by --dry-run

    def __str__(self) -> str:
        return self.description


@dataclass(frozen=True)
class Bootstrap:
    """A plan and how to read the app's environment once it is applied (the CLI shows one, then the other)."""

    account: str
    region: str
    plan: list[Step]
    env: Callable[[], dict[str, str]]


def apply(plan: Sequence[Step]) -> None:
    """Run the steps in order (later steps rely on earlier ones, e.g. a policy on a new topic)."""
    for step in plan:
        step.action()


# --------------------------------------------------------------------------- the account


class _Account:
    """The account being bootstrapped: its id, region and partition, and cached clients."""

    def __init__(self, session: boto3.Session) -> None:
        self.session = session
        self.region: str = session.region_name  # checked by _validate before we get here
        self._clients: dict[str, Any] = {}
        identity = self.client("sts").get_caller_identity()
        self.account: str = identity["Account"]
        self.partition: str = identity["Arn"].split(":")[1]

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session.client(service, region_name=self.region)
        return self._clients[service]

    def arn(self, service: str, resource: str, account: str | None = None) -> str:
        """An ARN in this region, in this account unless ``account`` is given."""
        return f"arn:{self.partition}:{service}:{self.region}:{account or self.account}:{resource}"

    def root(self, account: str) -> str:
        return f"arn:{self.partition}:iam::{account}:root"


def _validate(session: boto3.Session, peers: Sequence[str], stage: str, tag_key: str, tag_value: str) -> None:
    """Reject bad input before any AWS call, so a typo never half-bootstraps an account."""
    if not session.region_name:
        raise ValueError("no AWS region: pass --region or set AWS_DEFAULT_REGION (session.region_name is None)")
    if not peers:
        raise ValueError("no peer account given: name at least one 12-digit AWS account id")
    for peer in peers:
        if not _ACCOUNT.fullmatch(peer):
            raise ValueError(f"{peer!r} is not a 12-digit AWS account id")
    if not _STAGE.fullmatch(stage):
        raise ValueError(f"stage {stage!r} must be letters, digits and underscores only")
    if not _TAG_KEY.fullmatch(tag_key):
        raise ValueError(f"tag key {tag_key!r} must be 1-128 letters, digits, spaces or _.:/=+-@, not starting aws:")
    if len(tag_value) > 256:
        raise ValueError("tag value is longer than 256 characters")


def _connect(session: boto3.Session, peers: Sequence[str]) -> _Account:
    acct = _Account(session)
    if acct.account in peers:
        raise ValueError(f"account {acct.account} is the account being bootstrapped; name the other account")
    return acct


# --------------------------------------------------------------------------- policies


def _canonical(value: Any) -> Any:
    """A policy in a form where order doesn't matter and ``"x"`` equals ``["x"]``."""
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        items = [_canonical(v) for v in value]
        return items[0] if len(items) == 1 else sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    return value


def _same_policy(current: str | None, wanted: Mapping[str, Any]) -> bool:
    return current is not None and _canonical(json.loads(current)) == _canonical(dict(wanted))


def _topic_policy(acct: _Account, topic_arn: str, publishers: Sequence[str]) -> dict[str, Any]:
    """The owner uses its topic; the peer accounts and RDS (for this account's events) publish to it."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OwnerAccountUsesTopic",
                "Effect": "Allow",
                "Principal": {"AWS": acct.root(acct.account)},
                "Action": _TOPIC_OWNER_ACTIONS,
                "Resource": topic_arn,
            },
            {
                "Sid": "PeerAccountsSendDracoMessages",
                "Effect": "Allow",
                "Principal": {"AWS": [acct.root(a) for a in publishers]},
                "Action": "sns:Publish",
                "Resource": topic_arn,
            },
            {
                "Sid": "RdsSendsThisAccountsSnapshotEvents",
                "Effect": "Allow",
                "Principal": {"Service": RDS_EVENTS_PRINCIPAL},
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": {"StringEquals": {"aws:SourceAccount": acct.account}},
            },
        ],
    }


def _transit_key_policy(acct: _Account, dr_account: str) -> dict[str, Any]:
    """The owner administers the key; the DR account may only use it to copy shared transit snapshots."""
    dr = {"AWS": acct.root(dr_account)}
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OwnerAccountAdministersKey",
                "Effect": "Allow",
                "Principal": {"AWS": acct.root(acct.account)},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "DrAccountReadsSharedTransitSnapshots",
                "Effect": "Allow",
                "Principal": dr,
                "Action": ["kms:Decrypt", "kms:DescribeKey"],
                "Resource": "*",
            },
            {
                "Sid": "DrAccountLetsRdsUseKeyForCopyOnly",
                "Effect": "Allow",
                "Principal": dr,
                "Action": "kms:CreateGrant",
                "Resource": "*",
                "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
            },
        ],
    }


# --------------------------------------------------------------------------- shared steps


def _error_code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def _topic_steps(acct: _Account, name: str, publishers: Sequence[str]) -> list[Step]:
    """The topic and its policy; a new topic always gets our policy in place of SNS's default."""
    sns = acct.client("sns")
    arn = acct.arn("sns", name)
    wanted = _topic_policy(acct, arn, publishers)
    steps: list[Step] = []
    try:
        current = sns.get_topic_attributes(TopicArn=arn)["Attributes"].get("Policy")
    except ClientError as err:
        if _error_code(err) != "NotFound":
            raise
        current = None
        steps.append(Step(f"create SNS topic {name}", lambda: sns.create_topic(Name=name)))
    if not _same_policy(current, wanted):
        who = ", ".join([*publishers, "RDS"])
        steps.append(
            Step(
                f"set topic policy of {name} (allow publish from {who})",
                lambda: sns.set_topic_attributes(TopicArn=arn, AttributeName="Policy", AttributeValue=json.dumps(wanted)),
                wanted,
            )
        )
    return steps


def _subscription_steps(acct: _Account, app: str, topic: str, source_types: Sequence[str]) -> list[Step]:
    """One RDS event subscription per source type, all events of all sources, to ``topic``.

    Event categories are not compared: the subscriptions are created without any (all
    categories) and DRACO filters event ids itself. A subscription limited to some
    sources can't be widened by ModifyEventSubscription, so that is an error.
    """
    rds = acct.client("rds")
    topic_arn = acct.arn("sns", topic)
    pages = rds.get_paginator("describe_event_subscriptions").paginate()
    existing = {s["CustSubscriptionId"]: s for page in pages for s in page["EventSubscriptionsList"]}
    steps: list[Step] = []
    for source_type in source_types:
        name = f"{app}-{source_type}"
        wanted = {"SnsTopicArn": topic_arn, "SourceType": source_type, "Enabled": True}
        found = existing.get(name)
        if found is None:
            steps.append(
                Step(
                    f"create RDS event subscription {name} ({source_type} events to {topic})",
                    lambda name=name, wanted=wanted: rds.create_event_subscription(SubscriptionName=name, **wanted),
                )
            )
            continue
        if found.get("SourceIdsList"):
            raise BootstrapError(
                f"RDS event subscription {name} only covers {', '.join(found['SourceIdsList'])}; "
                f"delete it (aws rds delete-event-subscription --subscription-name {name}) and run bootstrap again"
            )
        differs = [k for k, v in wanted.items() if found.get(k) != v]
        if differs:
            steps.append(
                Step(
                    f"update RDS event subscription {name} ({', '.join(differs)})",
                    lambda name=name, wanted=wanted: rds.modify_event_subscription(SubscriptionName=name, **wanted),
                )
            )
    return steps


def _table_steps(acct: _Account, name: str) -> list[Step]:
    """The app's job table, from ``table_definition``; one with other keys or indexes is an error."""
    dynamodb = acct.client("dynamodb")
    wanted = table_definition(name)
    try:
        table = dynamodb.describe_table(TableName=name)["Table"]
    except ClientError as err:
        if _error_code(err) != "ResourceNotFoundException":
            raise
        indexes = ", ".join(i["IndexName"] for i in wanted["GlobalSecondaryIndexes"])

        def create() -> None:
            dynamodb.create_table(**wanted)
            dynamodb.get_waiter("table_exists").wait(TableName=name)

        return [Step(f"create DynamoDB table {name} (on-demand, indexes {indexes})", create)]
    have = {i["IndexName"]: i["KeySchema"] for i in table.get("GlobalSecondaryIndexes", [])}
    want = {i["IndexName"]: i["KeySchema"] for i in wanted["GlobalSecondaryIndexes"]}
    if table["KeySchema"] != wanted["KeySchema"] or any(have.get(k) != v for k, v in want.items()):
        raise BootstrapError(
            f"DynamoDB table {name} exists with other keys or indexes than DRACO's; "
            f"delete or rename it (it holds only job records) and run bootstrap again"
        )
    return []


def _transit_key_steps(acct: _Account, dr_account: str) -> list[Step]:
    """The transit key behind TRANSIT_KEY_ALIAS: created with its policy and rotation, or brought in line.

    The alias is how a rerun finds the key, so it is made last in the same step; a run
    killed between CreateKey and CreateAlias leaves an unnamed key behind (costs a month
    of key storage until scheduled for deletion) and the next run makes a new one.
    """
    kms = acct.client("kms")
    alias = cfg.TRANSIT_KEY_ALIAS
    wanted = _transit_key_policy(acct, dr_account)
    key_id = _alias_target(kms, alias)
    if key_id is None:

        def create() -> None:
            key = kms.create_key(
                Policy=json.dumps(wanted),
                Description=_TRANSIT_KEY_DESCRIPTION,
                KeyUsage="ENCRYPT_DECRYPT",
                KeySpec="SYMMETRIC_DEFAULT",
            )["KeyMetadata"]
            kms.enable_key_rotation(KeyId=key["KeyId"])
            kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])

        return [Step(f"create KMS key {alias} (rotation on, DR account {dr_account} may decrypt)", create, wanted)]
    state = kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"]
    if state != "Enabled":
        raise BootstrapError(
            f"KMS key {alias} ({key_id}) is {state}; enable it (or cancel its deletion) and run bootstrap again"
        )
    steps: list[Step] = []
    if not _same_policy(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"], wanted):
        steps.append(
            Step(
                f"update key policy of {alias} (DR account {dr_account} may decrypt)",
                lambda: kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=json.dumps(wanted)),
                wanted,
            )
        )
    if not kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"]:
        steps.append(Step(f"enable rotation of KMS key {alias}", lambda: kms.enable_key_rotation(KeyId=key_id)))
    return steps


def _alias_target(kms: Any, alias: str) -> str | None:
    """The key id behind ``alias``, or None; ListAliases pages at 50, so read every page."""
    for page in kms.get_paginator("list_aliases").paginate():
        for entry in page["Aliases"]:
            if entry["AliasName"] == alias:
                return entry.get("TargetKeyId")
    return None


# --------------------------------------------------------------------------- producer


def _producer_env(acct: _Account, dr_account: str, tag_key: str, tag_value: str) -> dict[str, str]:
    """The producer Lambda's environment; reads the transit key's ARN, so call it after applying."""
    key_arn = acct.client("kms").describe_key(KeyId=cfg.TRANSIT_KEY_ALIAS)["KeyMetadata"]["Arn"]
    return {
        cfg.DR_ACCT: dr_account,
        cfg.DR_TOPIC_ARN: acct.arn("sns", cfg.CONSUMER_TOPIC, account=dr_account),
        cfg.TRANSIT_KEY_ARN: key_arn,
        cfg.TAG_KEY: tag_key,
        cfg.TAG_VALUE: tag_value,
        cfg.JOB_TABLE: cfg.PRODUCER_TABLE,
    }


def prepare_producer(
    session: boto3.Session,
    dr_account: str,
    *,
    stage: str = "dev",
    tag_key: str = DEFAULT_TAG_KEY,
    tag_value: str = DEFAULT_TAG_VALUE,
) -> Bootstrap:
    """Validate, read the production account, and plan; changes nothing."""
    _validate(session, [dr_account], stage, tag_key, tag_value)
    acct = _connect(session, [dr_account])
    plan = [
        *_topic_steps(acct, cfg.PRODUCER_TOPIC, [dr_account]),
        *_subscription_steps(acct, PRODUCER_APP_NAME, cfg.PRODUCER_TOPIC, ["db-snapshot", "db-cluster-snapshot"]),
        *_transit_key_steps(acct, dr_account),
        *_table_steps(acct, cfg.PRODUCER_TABLE),
    ]
    return Bootstrap(
        acct.account,
        acct.region,
        plan,
        lambda: _producer_env(acct, dr_account, tag_key, tag_value),
    )


def plan_producer(session: boto3.Session, dr_account: str, **options: str) -> list[Step]:
    """What ``producer`` (same arguments) would change in this account; empty once it is bootstrapped."""
    return prepare_producer(session, dr_account, **options).plan


def producer(
    session: boto3.Session,
    dr_account: str,
    *,
    stage: str = "dev",
    tag_key: str = DEFAULT_TAG_KEY,
    tag_value: str = DEFAULT_TAG_VALUE,
) -> dict[str, str]:
    """Bootstrap the production account for ``dr_account``; returns the producer's Lambda environment."""
    boot = prepare_producer(session, dr_account, stage=stage, tag_key=tag_key, tag_value=tag_value)
    apply(boot.plan)
    return boot.env()


# --------------------------------------------------------------------------- consumer


def prepare_consumer(
    session: boto3.Session,
    source_accounts: Sequence[str],
    *,
    stage: str = "dev",
    tag_key: str = DEFAULT_TAG_KEY,
    tag_value: str = DEFAULT_TAG_VALUE,
    default_lifecycle: str = "",
    custom_lifecycles: str = "",
    no_dry_run: bool = False,
) -> Bootstrap:
    """Validate, read the DR account, and plan; changes nothing.

    The lifecycle settings are checked by the consumer's own config reader (with the
    role left out, as it needs the account id), so bootstrap and the Lambda agree.
    """
    sources = sorted(set(source_accounts))
    _validate(session, sources, stage, tag_key, tag_value)
    env = {
        cfg.SOURCE_ACCTS: ",".join(sources),
        cfg.TAG_KEY: tag_key,
        cfg.TAG_VALUE: tag_value,
        cfg.NO_DRY_RUN: "1" if no_dry_run else "",
        cfg.DEFAULT_LIFECYCLE: default_lifecycle,
        cfg.CUSTOM_LIFECYCLES: custom_lifecycles,
        cfg.JOB_TABLE: cfg.CONSUMER_TABLE,
        cfg.PRODUCER_TOPIC_NAME: cfg.PRODUCER_TOPIC,
    }
    problems = cfg.ConsumerConfig.from_env(env).problems
    if problems:
        raise ValueError("; ".join(problems))
    acct = _connect(session, sources)
    role = f"arn:{acct.partition}:iam::{acct.account}:role/{CONSUMER_APP_NAME}-{stage}"
    plan = [
        *_topic_steps(acct, cfg.CONSUMER_TOPIC, sources),
        # DR-side copy-finished events (RDS-EVENT-0197); DB cluster copies have none, they are polled.
        *_subscription_steps(acct, CONSUMER_APP_NAME, cfg.CONSUMER_TOPIC, ["db-snapshot"]),
        *_table_steps(acct, cfg.CONSUMER_TABLE),
    ]
    return Bootstrap(acct.account, acct.region, plan, lambda: {**env, cfg.CONSUMER_ROLE_ARN: role})


def plan_consumer(session: boto3.Session, source_accounts: Sequence[str], **options: Any) -> list[Step]:
    """What ``consumer`` (same arguments) would change in this account; empty once it is bootstrapped."""
    return prepare_consumer(session, source_accounts, **options).plan


def consumer(
    session: boto3.Session,
    source_accounts: Sequence[str],
    *,
    stage: str = "dev",
    tag_key: str = DEFAULT_TAG_KEY,
    tag_value: str = DEFAULT_TAG_VALUE,
    default_lifecycle: str = "",
    custom_lifecycles: str = "",
    no_dry_run: bool = False,
) -> dict[str, str]:
    """Bootstrap the DR account for ``source_accounts``; returns the consumer's Lambda environment.

    Per-source DR keys are not made here: the consumer creates each on first use.
    """
    boot = prepare_consumer(
        session,
        source_accounts,
        stage=stage,
        tag_key=tag_key,
        tag_value=tag_value,
        default_lifecycle=default_lifecycle,
        custom_lifecycles=custom_lifecycles,
        no_dry_run=no_dry_run,
    )
    apply(boot.plan)
    return boot.env()


# --------------------------------------------------------------------------- chalice config


def write_stage_config(app_dir: Path, stage: str, env: Mapping[str, str]) -> None:
    """Merge ``env`` into ``stages.<stage>.environment_variables`` of the app's ``.chalice/config.json``.

    Every other key and stage is kept; the file is replaced atomically and only when it
    changes, with a stable layout (indent 2, trailing newline) so diffs stay small.
    """
    path = Path(app_dir) / ".chalice" / "config.json"
    old_text = path.read_text()
    config = json.loads(old_text)
    stage_config = config.setdefault("stages", {}).setdefault(stage, {})
    stage_config.setdefault("environment_variables", {}).update(env)
    new_text = json.dumps(config, indent=2) + "\n"
    if new_text == old_text:
        return
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".config.", suffix=".json")
    with os.fdopen(fd, "w") as out:
        out.write(new_text)
    os.replace(tmp, path)


# --------------------------------------------------------------------------- CLI


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``bootstrap producer`` and ``bootstrap consumer`` to the operator's CLI."""
    parser = subparsers.add_parser("bootstrap", help="create the topics, key and tables an account needs")
    kinds = parser.add_subparsers(dest="account_kind", required=True, metavar="ACCOUNT")

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--profile", help="AWS profile of the account to bootstrap")
        sub.add_argument("--region", help="AWS region (default: the profile's)")
        sub.add_argument("--stage", default="dev", help="Chalice stage to write (default: dev)")
        sub.add_argument("--tag-key", default=DEFAULT_TAG_KEY, help=f"snapshot tag to copy (default: {DEFAULT_TAG_KEY})")
        sub.add_argument("--tag-value", default=DEFAULT_TAG_VALUE, help=f"its value (default: {DEFAULT_TAG_VALUE})")
        sub.add_argument("--dry-run", action="store_true", help="show the plan and policies; change nothing")

    prod = kinds.add_parser("producer", help="bootstrap the production account")
    prod.add_argument("--dr-account", required=True, help="the DR account's 12-digit id")
    common(prod)
    prod.set_defaults(func=_run_producer)

    cons = kinds.add_parser("consumer", help="bootstrap the DR account")
    cons.add_argument("--source-accounts", required=True, help="production account ids, comma-separated")
    cons.add_argument("--default-lifecycle", default="", help="lifecycle for sources without a Draco_Lifecycle tag")
    cons.add_argument("--custom-lifecycles", default="", help="extra lifecycles, as JSON")
    cons.add_argument("--no-dry-run", action="store_true", help="let the consumer really delete expired DR copies")
    common(cons)
    cons.set_defaults(func=_run_consumer)


def _run_producer(args: argparse.Namespace) -> int:
    return _run(
        args,
        PRODUCER_APP_DIR,
        lambda session: prepare_producer(
            session, args.dr_account, stage=args.stage, tag_key=args.tag_key, tag_value=args.tag_value
        ),
    )


def _run_consumer(args: argparse.Namespace) -> int:
    return _run(
        args,
        CONSUMER_APP_DIR,
        lambda session: prepare_consumer(
            session,
            [a.strip() for a in args.source_accounts.split(",") if a.strip()],
            stage=args.stage,
            tag_key=args.tag_key,
            tag_value=args.tag_value,
            default_lifecycle=args.default_lifecycle,
            custom_lifecycles=args.custom_lifecycles,
            no_dry_run=args.no_dry_run,
        ),
    )


def _run(args: argparse.Namespace, app_dir: Path, prepare: Callable[[boto3.Session], Bootstrap]) -> int:
    """Plan, show, apply, write the stage config; every expected failure is one line and exit code 2."""
    config_path = app_dir / ".chalice" / "config.json"
    try:
        if not config_path.is_file():
            raise BootstrapError(f"{config_path} not found: run from a complete DRACO checkout")
        boot = prepare(boto3.Session(profile_name=args.profile, region_name=args.region))
        _print_plan(boot, show_documents=args.dry_run)
        if args.dry_run:
            print("dry run: nothing changed")
            return 0
        apply(boot.plan)
        env = boot.env()
        write_stage_config(app_dir, args.stage, env)
    except (ValueError, BootstrapError) as err:
        return _fail(str(err))
    except NoCredentialsError:
        return _fail("no AWS credentials found: pass --profile, or set AWS_PROFILE or AWS_ACCESS_KEY_ID")
    except ClientError as err:
        error = err.response.get("Error", {})
        return _fail(
            f"AWS refused {err.operation_name}: {error.get('Code')}: {error.get('Message')} "
            f"(check the credentials' permissions and run bootstrap again; it resumes where it stopped)"
        )
    except BotoCoreError as err:
        return _fail(f"AWS error: {err} (check --profile, --region and the network, then run again)")
    except OSError as err:
        return _fail(f"cannot write {config_path}: {err}")
    print(f"wrote stages.{args.stage}.environment_variables in {config_path}:")
    for name, value in env.items():
        print(f"  {name}={value}")
    return 0


def _print_plan(boot: Bootstrap, *, show_documents: bool) -> None:
    if not boot.plan:
        print(f"account {boot.account} in {boot.region}: nothing to change")
        return
    print(f"account {boot.account} in {boot.region}: {len(boot.plan)} step(s)")
    for step in boot.plan:
        print(f"  - {step}")
    if show_documents:
        for step in boot.plan:
            if step.document is not None:
                print(f"\n{step}:\n{json.dumps(step.document, indent=2)}")


def _fail(message: str) -> int:
    print(f"bootstrap: {message}", file=sys.stderr)
    return 2
