"""The Lambda roles' IAM policies, enforced by moto: both use-cases run under them.

Both use-cases run end to end (instance, cluster and EBS snapshots, copy, share, DR
copy, lifecycle deletion, EBS locks, transit deletion) as IAM roles that hold the
generated policies (bootstrap makes both roles; each gets its policy widened), with
moto's IAM enforcement on. Because moto compares every statement's Resource with "*",
the roles get the policies with each Resource widened to "*" and conditions dropped,
which leaves exactly the action lists to check (``test_policies.py`` checks them
against the code).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core import disable_iam_authentication, enable_iam_authentication
from moto.iam.access_control import IAMRequestBase
from moto.rds.models import rds_backends
from test_policies import DR, PROD, REGION, STAGE, called_actions
from test_policy_documents import as_list

from chalicelib_shared import config as cfg
from chalicelib_shared import (
    inbox,
)
from chalicelib_shared.config import ConsumerConfig, ProducerConfig
from chalicelib_shared.handlers import make_consumer, make_producer
from chalicelib_shared.jobs import State
from chalicelib_shared.kinds import KINDS, EventType, SnapshotEvent
from chalicelib_shared.kinds.base import Side
from chalicelib_shared.messages import parse_message
from chalicelib_shared.outcomes import Outcome
from draco import bootstrap, ops
from draco.bootstrap.names import role_name
from draco.world import moto_gaps


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
        monkeypatch.setenv("MOTO_ACCOUNT_ID", DR)  # DR first: production's outbox subscribes DR's inbox
        self.consumer_env = bootstrap.consumer(session, [PROD], default_lifecycle="last=1", no_dry_run=True)
        self.consumer_env["MIN_KEEP"] = "0"  # no floor: last=1 deletes
        monkeypatch.setenv("MOTO_ACCOUNT_ID", PROD)
        self.producer_env = bootstrap.producer(session, DR)
        monkeypatch.delenv("MOTO_ACCOUNT_ID")
        for account, env in ((PROD, self.producer_env), (DR, self.consumer_env)):  # as chalice deploy makes it
            self.admin("events", account).put_rule(Name=env[cfg.POLLER_RULE], ScheduleExpression="rate(1 minute)")
        prod = self._role(PROD, Side.PRODUCER, drop.get("producer"))
        self.dr = dr = self._role(DR, Side.CONSUMER, drop.get("consumer"))
        inbox_url = self.admin("sqs", DR).get_queue_url(QueueName=cfg.INBOX_QUEUE)["QueueUrl"]
        self.queues = {PROD: self._queue(PROD, cfg.PRODUCER_TOPIC), DR: inbox_url}  # SNS delivers to the inbox
        self.producer = build_producer(prod, self.producer_env)
        self.consumer = build_consumer(dr, self.consumer_env)

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

    def drain(self, account: str) -> list[str]:
        """The SNS envelopes waiting in the account's queue, taken off it."""
        sqs = self.admin("sqs", account)
        found = []
        while messages := sqs.receive_message(QueueUrl=self.queues[account], MaxNumberOfMessages=10).get("Messages"):
            for message in messages:
                found.append(message["Body"])
                sqs.delete_message(QueueUrl=self.queues[account], ReceiptHandle=message["ReceiptHandle"])
        return found

    def deliver(self) -> None:
        """Hand every published DRACO message to the other side, until none is left (DR reads its inbox)."""
        while True:
            with disable_iam_authentication():
                batch = [(self.consumer, m) for m in self.drain(DR)] + [(self.producer, m) for m in self.drain(PROD)]
            if not batch:
                return
            for side, body in batch:
                if side is self.consumer:
                    message = inbox.read(body, self.consumer.config, REGION)
                else:
                    envelope = json.loads(body)
                    message = parse_message(envelope.get("Subject"), envelope["Message"])
                with enable_iam_authentication():
                    side.on_message(message)

    def created(self, kind: str, snapshot_id: str) -> None:
        """The kind's "snapshot created" event, handed to the producer."""
        with enable_iam_authentication():
            result = self.producer.on_event(SnapshotEvent(kind, EventType.CREATED, snapshot_id))
        assert result.outcome is Outcome.COPY_REQUESTED, result

    def lock_ebs_copies(self, days: int) -> None:
        """From now on, DR copies of EBS snapshots are locked (the consumer, restarted with EBS_LOCK_DAYS)."""
        self.consumer = build_consumer(self.dr, {**self.consumer_env, "EBS_LOCK_DAYS": str(days)})

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


def _clients(session: boto3.Session) -> Callable[[str, str], Any]:
    return lambda service, region: session.client(service, region_name=region)


def build_producer(session: boto3.Session, env: dict[str, str]) -> Any:
    config = ProducerConfig.from_env(env)
    return make_producer(config, _clients(session), session.resource("dynamodb").Table(config.job_table), REGION)


def build_consumer(session: boto3.Session, env: dict[str, str]) -> Any:
    config = ConsumerConfig.from_env(env)
    return make_consumer(config, _clients(session), session.resource("dynamodb").Table(config.job_table), REGION)


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
    """Two snapshots each of a DB instance, a cluster and an EBS volume, in production."""
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
    ec2 = world.admin("ec2", PROD)
    volume = ec2.create_volume(AvailabilityZone=f"{REGION}a", Size=8)["VolumeId"]
    made: dict[str, list[str]] = {"RDS": [], "RDS Cluster": [], "EBS": []}
    for n in (1, 2):
        rds.create_db_snapshot(DBInstanceIdentifier="orders", DBSnapshotIdentifier=f"orders-{n}")
        rds.create_db_cluster_snapshot(DBClusterIdentifier="ledger", DBClusterSnapshotIdentifier=f"ledger-{n}")
        made["RDS"].append(f"orders-{n}")
        made["RDS Cluster"].append(f"ledger-{n}")
        made["EBS"].append(ec2.create_snapshot(VolumeId=volume)["SnapshotId"])
    return made


def snapshot_names(world: TwoAccounts, account: str, kind: str) -> list[str]:
    client = world.admin(KINDS[kind].service, account)
    return [snapshot.name for snapshot in KINDS[kind].api(client).owned()]


@pytest.mark.e2e
def test_both_use_cases_run_under_their_policies_and_moto_checks_every_called_action(enforced) -> None:
    make, checked = enforced
    world = make()
    snapshots = take_snapshots(world)
    for kind in ("RDS", "RDS Cluster"):  # the first of each through its event
        world.created(kind, snapshots[kind][0])
        world.settle()
    world.sweep()  # the others: their events were lost, the sweep finds them
    world.settle()
    world.lock_ebs_copies(days=1)
    with disable_iam_authentication():
        volume = world.admin("ec2", PROD).describe_snapshots(SnapshotIds=snapshots["EBS"][:1])["Snapshots"][0]
        world.admin("ec2", PROD).create_snapshot(VolumeId=volume["VolumeId"])
    world.sweep()
    world.settle()

    with disable_iam_authentication():
        dr = {kind: snapshot_names(world, DR, kind) for kind in KINDS}
        transits = [name for kind in KINDS for name in snapshot_names(world, PROD, kind) if "transit" in name]
        waiting = (world.producer.jobs.next_due(), world.consumer.jobs.next_due())
    # last=1 and no floor: one DR copy of each source is kept, the others were deleted by the lifecycle
    # (the volume's third copy, made while EBS copies are locked, is the one kept).
    assert (len(dr["RDS"]), len(dr["RDS Cluster"]), len(dr["EBS"])) == (1, 1, 1)
    assert dr["RDS"][0] in {f"draco-{PROD}-orders-1", f"draco-{PROD}-orders-2"}
    assert dr["RDS Cluster"][0] in {f"draco-{PROD}-ledger-1", f"draco-{PROD}-ledger-2"}
    assert transits == [] and waiting == (None, None)  # every transit copy deleted, no job left waiting
    with disable_iam_authentication():
        for source in ("orders", "ledger"):
            states = {world.consumer.jobs.get(f"draco-{PROD}-{source}-{n}").state for n in (1, 2)}
            assert states == {State.DONE, State.EXPIRED}

    # moto enforced each call; every action the code calls was checked (and allowed).
    assert checked[PROD] == called_actions("producer")
    # moto confirms a queue's subscription at once: no confirmation reaches the inbox to confirm.
    assert checked[DR] == called_actions("consumer") - {"sns:ConfirmSubscription"}


@pytest.mark.e2e
@pytest.mark.parametrize(
    "app, action",
    [("producer", "rds:DeleteDBClusterSnapshot"), ("consumer", "kms:CreateAlias"), ("consumer", "sns:Publish")],
)
def test_a_policy_missing_an_action_fails(enforced, app: str, action: str) -> None:
    """Refused by AWS: the call raises, or (a refusal that won't pass by itself) fails its job with AWS's words."""
    make, _ = enforced
    world = make(**{app: action})
    snapshots = take_snapshots(world)
    denial = f"not authorized to perform: {action}"
    try:
        for kind in ("RDS", "RDS Cluster"):
            world.created(kind, snapshots[kind][0])
            world.settle()
        world.sweep()
        world.settle()
    except ClientError as raised:
        # moto answers KMS (a JSON API) with an XML error body, so botocore reports code "403" there.
        error = raised.response["Error"]
        assert error["Code"] in ("AccessDenied", "AccessDeniedException", "403"), error
        assert denial in error["Message"] and action.split(":")[1] == raised.operation_name
        return
    account, env = (PROD, world.producer_env) if app == "producer" else (DR, world.consumer_env)
    with disable_iam_authentication():
        resource = boto3.resource("dynamodb", region_name=REGION)
        resource.meta.client.meta.events.register(
            "before-sign.*.*", lambda request, **_: request.headers.__setitem__("x-moto-account-id", account)
        )
        failed = [job for job in ops.scan_jobs(resource.Table(env[cfg.JOB_TABLE])) if job.state is State.FAILED]
    assert any(denial in job.reason for job in failed), [job.reason for job in failed]
