"""The Lambda roles' IAM policies: exactly the actions the code calls, scoped to DRACO's resources.

Three kinds of check:

* **Against the code.** ``called_actions(app)`` reads ``chalicelib_shared`` with ``ast``
  and finds every AWS operation an app's use-cases call (client methods, and the
  operation names each ``SnapshotKind`` method reaches through ``getattr``), so adding
  a call without a permission, or keeping a permission nobody calls, fails here.
* **As documents.** Destructive actions only on DRACO's own snapshots and keys, KMS use
  only for grants to AWS services, SNS only to the peer topics, and so on. moto can't
  check any of this: it authorises actions, never resources or conditions.
* **Enforced by moto.** Both use-cases run end to end (instance and cluster snapshots,
  copy, share, DR copy, lifecycle deletion, transit deletion) as IAM roles that hold
  the generated policies, with moto's IAM enforcement on. Because moto compares every
  statement's Resource with "*", the roles get the policies with each Resource widened
  to "*" and conditions dropped, which leaves exactly the action lists to check.
"""

from __future__ import annotations

import ast
import inspect
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.exceptions import ClientError
from chalicelib_shared.rds_events import parse_rds_event
from chalicelib_shared.slots import CopySlots
from moto import mock_aws
from moto.core import disable_iam_authentication, enable_iam_authentication
from moto.iam.access_control import IAMRequestBase
from moto.rds.models import rds_backends

import chalicelib_shared
from chalicelib_shared import config as cfg
from chalicelib_shared import keys as dr_keys
from chalicelib_shared.config import ConsumerConfig, ProducerConfig
from chalicelib_shared.consumer import Consumer
from chalicelib_shared.jobs import JobTable, State
from chalicelib_shared.keys import SourceKeys
from chalicelib_shared.kinds import KINDS, ClusterSnapshots, InstanceSnapshots, SnapshotKind
from chalicelib_shared.messages import parse_message
from chalicelib_shared.pipeline import forget_hourly_checks
from chalicelib_shared.producer import Producer
from draco import bootstrap, moto_gaps

PROD = "111111111111"
DR = "222222222222"
OTHER = "333333333333"
REGION = "us-east-1"
STAGE = "dev"
SHARED = Path(chalicelib_shared.__file__).parent
SERVICES = ("rds", "sns", "kms", "sts", "dynamodb")

# The modules each app's use-cases run (keys.py: only the consumer makes DR keys).
APP_MODULES = {
    "producer": ("producer.py", "pipeline.py", "jobs.py", "slots.py", "messages.py"),
    "consumer": ("consumer.py", "pipeline.py", "jobs.py", "slots.py", "messages.py", "keys.py"),
}
# Called, but not an IAM action of its own: STS's "No permissions are required to perform this
# operation"; a DynamoDB transaction is authorised as the PutItem/UpdateItem it contains.
NEEDS_NO_PERMISSION = {"sts:GetCallerIdentity", "dynamodb:TransactWriteItems"}
# Permissions AWS checks for a call, besides the call's own action.
IMPLIED = {
    # Tags= on a copy needs AddTagsToResource; RDS uses the KMS keys of the source and
    # the target with the caller's permissions (grants, DescribeKey, Decrypt).
    "rds:CopyDBSnapshot": {"rds:AddTagsToResource", "kms:CreateGrant", "kms:DescribeKey", "kms:Decrypt"},
    "rds:CopyDBClusterSnapshot": {"rds:AddTagsToResource", "kms:CreateGrant", "kms:DescribeKey", "kms:Decrypt"},
    # Tags= on CreateKey needs TagResource.
    "kms:CreateKey": {"kms:TagResource"},
    "dynamodb:TransactWriteItems": {"dynamodb:PutItem", "dynamodb:UpdateItem"},
}
LAMBDA_LOGS = {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}


# --------------------------------------------------------------------------- what the code calls


def _operations() -> dict[str, set[str]]:
    """snake_case client method -> IAM actions of that name in the services DRACO uses."""
    session = botocore.session.get_session()
    found: dict[str, set[str]] = {}
    for service in SERVICES:
        model = session.get_service_model(service)
        for name in model.operation_names:
            found.setdefault(botocore.xform_name(name), set()).add(f"{model.signing_name}:{name}")
    return found


OPERATIONS = _operations()


def _receiver_service(node: ast.expr) -> str | None:
    """Which service a call's receiver is, by its name: ``self.rds``, ``sns``, ``self._table``..."""
    text = ast.unparse(node).lower()
    if "table" in text:
        return "dynamodb"
    return next((s for s in SERVICES if s in text), None)


def _method_calls(tree: ast.AST) -> Iterator[ast.Call]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            yield node


def _client_calls(path: Path) -> set[str]:
    """IAM actions of every ``<client>.<operation>(...)`` call in one module."""
    actions: set[str] = set()
    for call in _method_calls(ast.parse(path.read_text())):
        candidates = OPERATIONS.get(call.func.attr, set())
        if len(candidates) > 1:
            service = _receiver_service(call.func.value)
            candidates = {a for a in candidates if a.split(":")[0] == service}
        if candidates and _receiver_service(call.func.value):
            actions |= candidates
    return actions


def _kind_methods_used(path: Path) -> set[str]:
    """SnapshotKind methods a use-case module calls with its RDS client: ``kind.copy(self.rds, ...)``."""
    methods = {name for name, _ in inspect.getmembers(SnapshotKind, inspect.isfunction) if not name.startswith("_")}
    used = set()
    for call in _method_calls(ast.parse(path.read_text())):
        if call.func.attr in methods and call.args and ast.unparse(call.args[0]) == "self.rds":
            used.add(call.func.attr)
    return used


def _kind_operations(method: str) -> set[str]:
    """IAM actions a SnapshotKind method reaches through ``getattr(rds, self._x)`` or a paginator, for every kind."""
    tree = ast.parse(inspect.getsource(getattr(SnapshotKind, method)).strip().replace("\n    ", "\n"))
    names = {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and ast.unparse(node.value) == "self" and node.attr.startswith("_")
    }
    actions: set[str] = set()
    for kind in KINDS.values():
        for name in names:
            value = getattr(kind, name, None)
            if isinstance(value, str) and value in OPERATIONS:
                actions |= {a for a in OPERATIONS[value] if a.startswith("rds:")}
    return actions


def called_actions(app: str) -> set[str]:
    """Every AWS action the app's use-cases call, derived from the code."""
    actions: set[str] = set()
    for module in APP_MODULES[app]:
        actions |= _client_calls(SHARED / module)
    for module in APP_MODULES[app]:
        for method in _kind_methods_used(SHARED / module):
            actions |= _kind_operations(method)
    return actions


def test_the_scan_finds_the_calls_it_should() -> None:
    """The scan itself, against what a reader of the code finds."""
    assert called_actions("producer") == {
        "rds:DescribeDBSnapshots", "rds:DescribeDBClusterSnapshots",
        "rds:CopyDBSnapshot", "rds:CopyDBClusterSnapshot",
        "rds:ModifyDBSnapshotAttribute", "rds:ModifyDBClusterSnapshotAttribute",
        "rds:DeleteDBSnapshot", "rds:DeleteDBClusterSnapshot",
        "rds:DescribeAccountAttributes",
        "sns:Publish", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query",
        "dynamodb:TransactWriteItems", "dynamodb:BatchGetItem",
    }  # fmt: skip
    assert called_actions("consumer") == {
        "rds:DescribeDBSnapshots", "rds:DescribeDBClusterSnapshots",
        "rds:CopyDBSnapshot", "rds:CopyDBClusterSnapshot",
        "rds:DeleteDBSnapshot", "rds:DeleteDBClusterSnapshot",
        "kms:DescribeKey", "kms:CreateKey", "kms:EnableKeyRotation", "kms:CreateAlias",
        "sts:GetCallerIdentity", "rds:DescribeAccountAttributes",
        "sns:Publish", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query",
        "dynamodb:TransactWriteItems",
    }  # fmt: skip


# --------------------------------------------------------------------------- the documents


def producer_policy(partition: str = "aws") -> dict[str, Any]:
    return bootstrap.producer_policy(
        partition=partition,
        region=REGION,
        account=PROD,
        stage=STAGE,
        dr_account=DR,
        transit_key_arn=f"arn:{partition}:kms:{REGION}:{PROD}:key/transit",
    )


def consumer_policy(partition: str = "aws") -> dict[str, Any]:
    return bootstrap.consumer_policy(
        partition=partition, region=REGION, account=DR, stage=STAGE, source_accounts=[OTHER, PROD]
    )


POLICIES = {"producer": producer_policy, "consumer": consumer_policy}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def allowed(policy: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """action -> the Allow statements that grant it."""
    found: dict[str, list[dict[str, Any]]] = {}
    for statement in policy["Statement"]:
        if statement["Effect"] == "Allow":
            for action in as_list(statement["Action"]):
                found.setdefault(action, []).append(statement)
    return found


def resources(policy: dict[str, Any], action: str) -> list[str]:
    return sorted(r for s in allowed(policy)[action] for r in as_list(s["Resource"]))


@pytest.mark.parametrize("app", POLICIES)
def test_every_called_action_is_allowed_and_nothing_else(app: str) -> None:
    policy = POLICIES[app]()
    called = called_actions(app)
    granted = set(allowed(policy))
    assert called - NEEDS_NO_PERMISSION <= granted, f"missing: {sorted(called - NEEDS_NO_PERMISSION - granted)}"
    implied = set().union(*(IMPLIED.get(action, set()) for action in called))
    unused = granted - called - implied - LAMBDA_LOGS
    assert not unused, f"granted but never used: {sorted(unused)}"
    assert not NEEDS_NO_PERMISSION & granted


@pytest.mark.parametrize("app", POLICIES)
def test_statements_are_named_and_use_no_wildcard_actions(app: str) -> None:
    policy = POLICIES[app]()
    sids = [s.get("Sid", "") for s in policy["Statement"]]
    assert all(sid.isalnum() and len(sid) > 12 for sid in sids), sids
    assert len(set(sids)) == len(sids)
    assert not [a for a in allowed(policy) if "*" in a]
    assert policy["Version"] == "2012-10-17"


# Allowed on "*": actions AWS can't scope by resource, and read-only listings (the producer's sweep,
# both pollers' one Describe call for all copies in flight).
ON_STAR = {
    "producer": {"rds:DescribeAccountAttributes", "rds:DescribeDBSnapshots", "rds:DescribeDBClusterSnapshots"},
    "consumer": {
        "rds:DescribeAccountAttributes",
        "kms:CreateKey",
        "rds:DescribeDBSnapshots",
        "rds:DescribeDBClusterSnapshots",
    },
}


@pytest.mark.parametrize("app", POLICIES)
def test_only_reads_and_create_key_are_on_star_and_create_key_is_conditioned(app: str) -> None:
    on_star = set()
    for statement in (s for s in POLICIES[app]()["Statement"] if s["Effect"] == "Allow"):
        if "*" in as_list(statement["Resource"]):
            on_star |= set(as_list(statement["Action"]))
            if "kms:CreateKey" in as_list(statement["Action"]):
                assert statement["Condition"] == {"Null": {"aws:RequestTag/Draco_Source": "false"}}
    assert on_star == ON_STAR[app]
    assert all(a.split(":")[1].startswith("Describe") for a in on_star - {"kms:CreateKey"})


def test_producer_destroys_and_shares_only_transit_copies() -> None:
    policy = producer_policy()
    transit = [
        f"arn:aws:rds:{REGION}:{PROD}:cluster-snapshot:draco-transit-*",
        f"arn:aws:rds:{REGION}:{PROD}:snapshot:draco-transit-*",
    ]
    for action in (
        "rds:DeleteDBSnapshot", "rds:DeleteDBClusterSnapshot", "rds:ModifyDBSnapshotAttribute",
        "rds:ModifyDBClusterSnapshotAttribute", "rds:AddTagsToResource",
    ):  # fmt: skip
        assert resources(policy, action) == transit, action
    # Copies read any snapshot of this account (the source) and write a transit copy.
    assert resources(policy, "rds:CopyDBSnapshot") == [
        f"arn:aws:rds:{REGION}:{PROD}:cluster-snapshot:*",
        f"arn:aws:rds:{REGION}:{PROD}:snapshot:*",
    ]
    assert resources(policy, "sns:Publish") == [f"arn:aws:sns:{REGION}:{DR}:DracoConsumer"]
    grants = allowed(policy)["kms:CreateGrant"]
    assert all(s["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}} for s in grants)
    assert {r for s in grants for r in as_list(s["Resource"])} == {
        f"arn:aws:kms:{REGION}:{PROD}:key/transit",
        f"arn:aws:kms:{REGION}:{PROD}:key/*",
    }
    assert not any(a.startswith("kms:") and a not in ("kms:CreateGrant", "kms:DescribeKey") for a in allowed(policy))


def test_consumer_destroys_only_its_dr_copies_and_copies_only_transit_copies() -> None:
    policy = consumer_policy()
    dr_copies = sorted(
        f"arn:aws:rds:{REGION}:{DR}:{kind}:draco-{source}-*"
        for kind in ("snapshot", "cluster-snapshot")
        for source in (PROD, OTHER)
    )
    for action in ("rds:DeleteDBSnapshot", "rds:DeleteDBClusterSnapshot", "rds:AddTagsToResource"):
        assert resources(policy, action) == dr_copies, action
    transits = sorted(
        f"arn:aws:rds:{REGION}:{source}:{kind}:draco-transit-*"
        for kind in ("snapshot", "cluster-snapshot")
        for source in (PROD, OTHER)
    )
    assert resources(policy, "rds:CopyDBSnapshot") == sorted(dr_copies + transits)
    assert "rds:ModifyDBSnapshotAttribute" not in allowed(policy)
    assert resources(policy, "sns:Publish") == sorted(
        f"arn:aws:sns:{REGION}:{source}:DracoProducer" for source in (PROD, OTHER)
    )


def test_consumer_uses_only_draco_keys_and_can_never_destroy_a_key() -> None:
    policy = consumer_policy()
    grants = allowed(policy)["kms:CreateGrant"]
    for statement in grants:
        assert statement["Condition"]["Bool"] == {"kms:GrantIsForAWSResource": "true"}
    own = next(s for s in grants if DR in json.dumps(s["Resource"]))
    assert own["Condition"]["ForAnyValue:StringLike"] == {"kms:ResourceAliases": "alias/DRACO-*"}
    assert resources(policy, "kms:CreateAlias") == [
        f"arn:aws:kms:{REGION}:{DR}:alias/DRACO-*",
        f"arn:aws:kms:{REGION}:{DR}:key/*",
    ]
    destructive = {"kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:DeleteAlias", "kms:UpdateAlias"}
    assert not destructive & set(allowed(policy))
    (deny,) = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
    assert destructive <= set(deny["Action"]) and deny["Resource"] == "*"


@pytest.mark.parametrize("app", POLICIES)
def test_tables_and_logs_are_the_apps_own(app: str) -> None:
    policy = POLICIES[app]()
    account, table = (PROD, "DracoProducerJobs") if app == "producer" else (DR, "DracoConsumerJobs")
    table_arn = f"arn:aws:dynamodb:{REGION}:{account}:table/{table}"
    for action in ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"):
        assert resources(policy, action) == [table_arn]
    assert resources(policy, "dynamodb:Query") == [f"{table_arn}/index/*"]
    group = f"arn:aws:logs:{REGION}:{account}:log-group:/aws/lambda/draco-{app}-{STAGE}-*"
    for action in LAMBDA_LOGS:
        assert resources(policy, action) == [group, f"{group}:*"]


@pytest.mark.parametrize("app", POLICIES)
def test_partition_reaches_every_arn(app: str) -> None:
    text = json.dumps(POLICIES[app]("aws-us-gov"))
    assert "arn:aws:" not in text and "arn:aws-us-gov:" in text


def test_dr_key_policy_lets_the_root_administer_and_the_consumer_role_only_use() -> None:
    """keys.py (the lead's): what a per-source DR key's policy allows."""
    role = f"arn:aws:iam::{DR}:role/draco-consumer-{STAGE}-on_consumer_topic"
    statements = dr_keys.key_policy("aws", DR, role)["Statement"]
    by_principal: dict[str, set[str]] = {}
    for statement in statements:
        by_principal.setdefault(statement["Principal"]["AWS"], set()).update(as_list(statement["Action"]))
    assert by_principal[f"arn:aws:iam::{DR}:root"] == {"kms:*"}
    assert set(by_principal) == {f"arn:aws:iam::{DR}:root", role}
    assert not {
        a
        for a in by_principal[role]
        if not a.startswith(
            (
                "kms:Encrypt",
                "kms:Decrypt",
                "kms:ReEncrypt",
                "kms:GenerateDataKey",
                "kms:DescribeKey",
                "kms:CreateGrant",
                "kms:ListGrants",
                "kms:RevokeGrant",
            )
        )
    }
    grants = [s for s in statements if "kms:CreateGrant" in as_list(s["Action"]) and s["Principal"]["AWS"] == role]
    assert all(s["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}} for s in grants)


# --------------------------------------------------------------------------- enforced by moto


def widened(policy: dict[str, Any]) -> dict[str, Any]:
    """The policy as moto can check it: moto matches Resource against "*" and ignores most conditions.

    moto also asks for ``dynamodb:TransactWriteItems``, which AWS doesn't have as an IAM
    action (a transaction is authorised as the PutItem/UpdateItem it contains): a
    statement that allows both of those allows it here too.
    """
    statements = []
    for statement in policy["Statement"]:
        statement = {k: v for k, v in statement.items() if k != "Condition"}
        statement["Resource"] = "*"
        actions = [statement["Action"]] if isinstance(statement["Action"], str) else list(statement["Action"])
        if statement["Effect"] == "Allow" and {"dynamodb:PutItem", "dynamodb:UpdateItem"} <= set(actions):
            statement["Action"] = [*actions, "dynamodb:TransactWriteItems"]
        statements.append(statement)
    return {"Version": policy["Version"], "Statement": statements}


LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


class TwoAccounts:
    """Both accounts bootstrapped in moto, each app running as a role that holds its policy."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, drop: dict[str, str]) -> None:
        session = boto3.Session(region_name=REGION)
        monkeypatch.setenv("MOTO_ACCOUNT_ID", PROD)
        self.producer_env = bootstrap.producer(session, DR)
        monkeypatch.setenv("MOTO_ACCOUNT_ID", DR)
        self.consumer_env = bootstrap.consumer(session, [PROD], default_lifecycle="last=1", no_dry_run=True)
        monkeypatch.delenv("MOTO_ACCOUNT_ID")
        producer_doc = bootstrap.producer_policy(
            partition="aws", region=REGION, account=PROD, stage=STAGE, dr_account=DR,
            transit_key_arn=self.producer_env[cfg.TRANSIT_KEY_ARN],
        )  # fmt: skip
        consumer_doc = bootstrap.consumer_policy(
            partition="aws", region=REGION, account=DR, stage=STAGE, source_accounts=[PROD]
        )
        role_name = self.consumer_env[cfg.CONSUMER_ROLE_ARN].split("/")[-1]
        prod = self._role(PROD, "draco-producer-dev-on_producer_topic", producer_doc, drop.get("producer"))
        dr = self._role(DR, role_name, consumer_doc, drop.get("consumer"))
        self.queues = {PROD: self._queue(PROD, cfg.PRODUCER_TOPIC), DR: self._queue(DR, cfg.CONSUMER_TOPIC)}
        self.producer = build_producer(prod, self.producer_env)
        self.consumer = build_consumer(dr, self.consumer_env)
        # The quota and recovery-point checks run at most hourly per process: make the
        # first poll of this world make them, whatever ran before in this process.
        forget_hourly_checks()

    def admin(self, service: str, account: str) -> Any:
        """A client that acts in ``account`` without a role (used with IAM enforcement off)."""
        client = boto3.client(service, region_name=REGION)
        client.meta.events.register(
            "before-sign.*.*", lambda request, **_: request.headers.__setitem__("x-moto-account-id", account)
        )
        return client

    def _role(self, account: str, name: str, policy: dict[str, Any], drop: str | None) -> boto3.Session:
        document = widened(policy)
        if drop:
            for statement in document["Statement"]:
                statement["Action"] = [a for a in as_list(statement["Action"]) if a != drop] or ["none:None"]
        iam = self.admin("iam", account)
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))["Role"]["Arn"]
        iam.put_role_policy(RoleName=name, PolicyName="draco", PolicyDocument=json.dumps(document))
        creds = self.admin("sts", account).assume_role(RoleArn=arn, RoleSessionName="lambda")["Credentials"]
        return boto3.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            region_name=REGION,
        )

    def _queue(self, account: str, topic: str) -> str:
        sqs = self.admin("sqs", account)
        url = sqs.create_queue(QueueName=f"{topic}-lambda")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.admin("sns", account).subscribe(
            TopicArn=f"arn:aws:sns:{REGION}:{account}:{topic}", Protocol="sqs", Endpoint=arn
        )
        return url

    def drain(self, account: str) -> list[tuple[str, str]]:
        sqs = self.admin("sqs", account)
        found = []
        while messages := sqs.receive_message(QueueUrl=self.queues[account], MaxNumberOfMessages=10).get("Messages"):
            for message in messages:
                envelope = json.loads(message["Body"])
                found.append((envelope.get("Subject", ""), envelope["Message"]))
                sqs.delete_message(QueueUrl=self.queues[account], ReceiptHandle=message["ReceiptHandle"])
        return found

    def deliver(self) -> None:
        """Hand every published DRACO message to the other side, until none is left."""
        while True:
            with disable_iam_authentication():
                batch = [(self.consumer, m) for m in self.drain(DR)] + [(self.producer, m) for m in self.drain(PROD)]
            if not batch:
                return
            for side, (subject, body) in batch:
                message = parse_message(subject, body)
                with enable_iam_authentication():
                    side.on_message(message)

    def created(self, kind: SnapshotKind, snapshot_id: str) -> None:
        """RDS's "snapshot created" notification, handed to the producer."""
        event_id = "RDS-EVENT-0075" if kind.name == "RDS Cluster" else "RDS-EVENT-0042"
        body = {
            "Event Source": kind.event_source,
            "Source ID": snapshot_id,
            "Event ID": f"http://docs.amazonwebservices.com/AmazonRDS/latest/UserGuide/USER_Events.html#{event_id}",
            "Event Message": "Manual snapshot created",
        }
        event = parse_rds_event(json.dumps(body))
        with enable_iam_authentication():
            assert self.producer.on_rds_event(event) == "copy requested"

    def sweep(self) -> None:
        with enable_iam_authentication():
            self.producer.sweep()

    def settle(self, rounds: int = 4) -> None:
        """Deliver messages and run both pollers until every job has finished."""
        for _ in range(rounds):
            self.deliver()
            for side in (self.producer, self.consumer):
                with enable_iam_authentication():
                    side.poll()
                self.deliver()


def build_producer(session: boto3.Session, env: dict[str, str]) -> Any:
    config = ProducerConfig.from_env(env)
    return Producer(
        config=config,
        rds=session.client("rds"),
        sns=session.client("sns"),
        jobs=JobTable(session.resource("dynamodb").Table(config.job_table)),
        slots=CopySlots(session.resource("dynamodb").Table(config.job_table), config.limits.copies),
    )


def build_consumer(session: boto3.Session, env: dict[str, str]) -> Any:
    config = ConsumerConfig.from_env(env)
    return Consumer(
        config=config,
        rds=session.client("rds"),
        sns=session.client("sns"),
        keys=SourceKeys(session.client("kms"), session.client("sts"), config.consumer_role_arn),
        jobs=JobTable(session.resource("dynamodb").Table(config.job_table), inventory=True),
        slots=CopySlots(session.resource("dynamodb").Table(config.job_table), config.limits.copies),
        region=REGION,
    )


@pytest.fixture
def enforced(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A factory of TwoAccounts (optionally with one action dropped from an app's policy), and what moto checked."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "MOTO_ACCOUNT_ID"):
        monkeypatch.delenv(name, raising=False)
    checked: dict[str, set[str]] = {PROD: set(), DR: set()}
    original = IAMRequestBase.check_action_permitted

    def recording(self: IAMRequestBase, resource: str) -> None:
        original(self, resource)
        checked.setdefault(self.account_id, set()).add(self._action)

    monkeypatch.setattr(IAMRequestBase, "check_action_permitted", recording)
    with mock_aws():
        moto_gaps.install()
        try:
            with disable_iam_authentication():
                yield lambda **drop: TwoAccounts(monkeypatch, drop), checked
        finally:
            moto_gaps.uninstall()


def take_snapshots(world: TwoAccounts) -> dict[str, list[str]]:
    """Two snapshots of one DB instance and two of one cluster, in production."""
    rds = world.admin("rds", PROD)
    rds.create_db_instance(
        DBInstanceIdentifier="orders", Engine="postgres", DBInstanceClass="db.t3.micro", AllocatedStorage=20,
        MasterUsername="admin", MasterUserPassword="not-a-secret-1",
    )  # fmt: skip
    rds.create_db_cluster(
        DBClusterIdentifier="ledger", Engine="aurora-postgresql", MasterUsername="admin",
        MasterUserPassword="not-a-secret-1",
    )  # fmt: skip
    # moto takes an automated snapshot when a database is created; AWS, with backups off, doesn't.
    backend = rds_backends[PROD][REGION]
    for snapshots in (backend.database_snapshots, backend.cluster_snapshots):
        for snapshot_id in [sid for sid in snapshots if sid.startswith("rds:")]:
            del snapshots[snapshot_id]
    made: dict[str, list[str]] = {"RDS": [], "RDS Cluster": []}
    for n in (1, 2):
        rds.create_db_snapshot(DBInstanceIdentifier="orders", DBSnapshotIdentifier=f"orders-{n}")
        rds.create_db_cluster_snapshot(DBClusterIdentifier="ledger", DBClusterSnapshotIdentifier=f"ledger-{n}")
        made["RDS"].append(f"orders-{n}")
        made["RDS Cluster"].append(f"ledger-{n}")
    return made


def snapshot_ids(rds: Any, kind: SnapshotKind) -> list[str]:
    return [snapshot.snapshot_id for snapshot in kind.list(rds)]


def test_both_use_cases_run_under_their_policies_and_moto_checks_every_called_action(enforced) -> None:
    make, checked = enforced
    world = make()
    snapshots = take_snapshots(world)
    for kind in (InstanceSnapshots(), ClusterSnapshots()):  # the first of each through its RDS event
        world.created(kind, snapshots[kind.name][0])
        world.settle()
    world.sweep()  # the second of each: its event was lost, the sweep finds it
    world.settle()

    with disable_iam_authentication():
        dr_instances = snapshot_ids(world.admin("rds", DR), InstanceSnapshots())
        dr_clusters = snapshot_ids(world.admin("rds", DR), ClusterSnapshots())
        prod = world.admin("rds", PROD)
        transits = snapshot_ids(prod, InstanceSnapshots()) + snapshot_ids(prod, ClusterSnapshots())
    # last=1: one DR copy of each source is kept, the other was deleted by the lifecycle
    # (both snapshots are taken in the same second, so which one is a tie).
    assert len(dr_instances) == len(dr_clusters) == 1
    assert dr_instances[0] in {f"draco-{PROD}-orders-1", f"draco-{PROD}-orders-2"}
    assert dr_clusters[0] in {f"draco-{PROD}-ledger-1", f"draco-{PROD}-ledger-2"}
    assert not [t for t in transits if t.startswith("draco-transit-")]  # every transit copy deleted
    with disable_iam_authentication():
        for source in ("orders", "ledger"):
            states = {world.consumer.jobs.get(f"draco-{PROD}-{source}-{n}").state for n in (1, 2)}
            assert states == {State.DONE, State.EXPIRED}
            assert {world.producer.jobs.get(f"draco-transit-{source}-{n}").state for n in (1, 2)} == {State.DONE}

    # moto enforced each call; every action the code calls was checked (and allowed).
    assert checked[PROD] == called_actions("producer")
    assert checked[DR] == called_actions("consumer")


@pytest.mark.parametrize(
    "app, action",
    [("producer", "rds:DeleteDBClusterSnapshot"), ("consumer", "kms:CreateAlias"), ("consumer", "sns:Publish")],
)
def test_a_policy_missing_an_action_fails(enforced, app: str, action: str) -> None:
    make, _ = enforced
    world = make(**{app: action})
    snapshots = take_snapshots(world)
    with pytest.raises(ClientError) as raised:
        for kind in (InstanceSnapshots(), ClusterSnapshots()):
            world.created(kind, snapshots[kind.name][0])
            world.settle()
        world.sweep()
        world.settle()
    # moto answers KMS (a JSON API) with an XML error body, so botocore reports code "403" there.
    error = raised.value.response["Error"]
    assert error["Code"] in ("AccessDenied", "AccessDeniedException", "403"), error
    assert f"not authorized to perform: {action}" in error["Message"]
    assert action.split(":")[1] == raised.value.operation_name
