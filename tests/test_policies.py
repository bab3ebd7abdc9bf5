"""The Lambda roles' IAM policies: exactly the actions the code calls.

Two kinds of check here (the policies as documents, resources and conditions,
are read in ``test_policy_documents.py``):

* **Against the code.** ``called_actions(app)`` reads ``chalicelib_shared`` with ``ast``
  and finds every AWS operation an app's use-cases call (client methods, and the
  operation names each ``SnapshotKind`` method reaches through ``getattr``), so adding
  a call without a permission, or keeping a permission nobody calls, fails here.
* **Enforced by moto.** Both use-cases run end to end (instance and cluster snapshots,
  copy, share, DR copy, lifecycle deletion, transit deletion) as IAM roles that hold
  the generated policies (bootstrap makes both roles; each gets its policy widened), with
  moto's IAM enforcement on. Because moto compares every
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
from test_policy_documents import POLICIES, allowed, as_list

import chalicelib_shared
from chalicelib_shared import config as cfg
from chalicelib_shared.config import ConsumerConfig, ProducerConfig
from chalicelib_shared.consumer import Consumer
from chalicelib_shared.jobs import JobTable, State
from chalicelib_shared.keys import SourceKeys
from chalicelib_shared.kinds import KINDS, ClusterSnapshots, InstanceSnapshots, SnapshotKind
from chalicelib_shared.kinds.base import Side
from chalicelib_shared.messages import parse_message
from chalicelib_shared.pipeline import forget_hourly_checks
from chalicelib_shared.producer import Producer
from draco import bootstrap, moto_gaps
from draco.bootstrap.names import role_name

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
    # Publishing to the peer's topic, which is encrypted with the peer's topic key.
    "sns:Publish": {"kms:GenerateDataKey", "kms:Decrypt"},
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


class TwoAccounts:
    """Both accounts bootstrapped in moto, each app running as a role that holds its policy."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, drop: dict[str, str]) -> None:
        session = boto3.Session(region_name=REGION)
        monkeypatch.setenv("MOTO_ACCOUNT_ID", PROD)
        self.producer_env = bootstrap.producer(session, DR)
        monkeypatch.setenv("MOTO_ACCOUNT_ID", DR)
        self.consumer_env = bootstrap.consumer(session, [PROD], default_lifecycle="last=1", no_dry_run=True)
        monkeypatch.delenv("MOTO_ACCOUNT_ID")
        prod = self._role(PROD, Side.PRODUCER, drop.get("producer"))
        dr = self._role(DR, Side.CONSUMER, drop.get("consumer"))
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

    def _role(self, account: str, side: Side, drop: str | None) -> boto3.Session:
        """Bootstrap's role of the app, its policy widened for moto, as the app's session."""
        iam = self.admin("iam", account)
        name = role_name(side, STAGE)
        document = widened(iam.get_role_policy(RoleName=name, PolicyName="draco")["PolicyDocument"])
        if drop:
            for statement in document["Statement"]:
                statement["Action"] = [a for a in as_list(statement["Action"]) if a != drop] or ["none:None"]
        iam.put_role_policy(RoleName=name, PolicyName="draco", PolicyDocument=json.dumps(document))
        arn = iam.get_role(RoleName=name)["Role"]["Arn"]
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
