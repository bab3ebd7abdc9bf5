"""Fixtures of general use: fake AWS credentials and a moto-mocked AWS.

* ``aws_credentials``: fake credentials and region ``us-east-1`` in the
  environment (no profile, no account override), so no test can reach a real
  AWS account; and, as in the local world, no public AMIs in moto's EC2 (some
  1,300 public snapshots, seconds per account).
* ``public_amis``: moto's public AMIs and their snapshots, for a test that needs them
  (ask for it before the fixture that starts moto).
* ``mocked_aws``: ``aws_credentials`` plus moto's ``mock_aws`` for the test's
  duration, as the local world has it (``moto_gaps``: gaps filled, AWS's limits enforced);
  every boto3 client made inside the test talks to moto.
* ``as_account``: switches the moto account every client talks to (existing
  clients too), for tests with a production and a DR account.
* ``account_state``: what an account holds of the kinds of resource bootstrap
  makes, to show that something changed nothing.
* ``travel``: the clock stopped at ``T0`` (move it with ``travel.shift``), and no
  metrics left from an earlier test: the unit tests on fakes (``fakes``) start from here.
* ``log``: what the apps log during the test, as a list of JSON documents.

Property tests search as hard as the Hypothesis profile says (``tests.properties``).
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any

import boto3
import pytest
import time_machine
from moto import mock_aws

from chalicelib_shared import metrics
from chalicelib_shared.log import logger
from draco.world import moto_gaps, speed
from tests import properties  # noqa: F401  (registers the Hypothesis profiles, loads "dev")

speed.install()  # botocore's models read once per process, KMS key pairs made on demand (draco.world.speed)

TEST_REGION = "us-east-1"
T0 = datetime(2026, 3, 2, 12, 0, 0, tzinfo=timezone.utc)


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": TEST_REGION,
        "AWS_REGION": TEST_REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")  # as the local world: no public AMIs unless asked
    for name in ("AWS_PROFILE", "MOTO_ACCOUNT_ID", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def public_amis(aws_credentials: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "true")


@pytest.fixture
def mocked_aws(aws_credentials: None) -> Iterator[None]:
    """moto as the local world has it: its gaps filled and AWS's limits enforced (``draco.world.moto_gaps``)."""
    with mock_aws():
        moto_gaps.install()
        try:
            yield
        finally:
            moto_gaps.uninstall()


@pytest.fixture
def as_account(mocked_aws: None, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    def switch(account: str) -> None:
        monkeypatch.setenv("MOTO_ACCOUNT_ID", account)

    return switch


@pytest.fixture
def account_state() -> Callable[[boto3.Session], dict[str, Any]]:
    def state(session: boto3.Session) -> dict[str, Any]:
        kms = session.client("kms")
        keys = {k["KeyId"]: kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"] for k in kms.list_keys()["Keys"]}
        return {
            "topics": sorted(t["TopicArn"] for t in session.client("sns").list_topics()["Topics"]),
            "keys": sorted((k["KeyId"], k["KeyState"]) for k in keys.values() if k["KeyManager"] == "CUSTOMER"),
            "aliases": sorted(a["AliasName"] for a in kms.list_aliases()["Aliases"] if a.get("TargetKeyId") in keys),
            "tables": sorted(session.client("dynamodb").list_tables()["TableNames"]),
            "roles": sorted(r["RoleName"] for r in session.client("iam").list_roles()["Roles"]),
            "event subscriptions": sorted(
                s["CustSubscriptionId"]
                for s in session.client("rds").describe_event_subscriptions()["EventSubscriptionsList"]
            ),
            "rules": sorted(r["Name"] for r in session.client("events").list_rules()["Rules"]),
            "alarms": sorted(a["AlarmName"] for a in session.client("cloudwatch").describe_alarms()["MetricAlarms"]),
            "snapshots": sorted(
                s["DBSnapshotIdentifier"] for s in session.client("rds").describe_db_snapshots()["DBSnapshots"]
            ),
        }

    return state


@pytest.fixture
def travel() -> Iterator[time_machine.Coordinates]:
    metrics.metrics.clear_metrics()
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller
    metrics.metrics.clear_metrics()


@pytest.fixture
def log() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    stream = io.StringIO()
    handler = logger.registered_handler
    if getattr(handler.stream, "closed", False):  # the capture of an earlier pytest run in this process (mutmut)
        handler.stream = sys.stderr
    previous = handler.setStream(stream)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logger.registered_handler.setStream(previous)
