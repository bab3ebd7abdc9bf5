"""The EBS kind as data: its ARNs, the messages about its snapshots, its settings, its
EventBridge events (from sample events), the rules that bring them and its IAM statements."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import botocore
import pytest

from chalicelib_shared.config import ConsumerConfig, Limits
from chalicelib_shared.kinds import KINDS, EventType, InvalidNotice, events_in
from chalicelib_shared.kinds.base import EventRule, PolicyContext, Side
from chalicelib_shared.kinds.ebs import EBS
from chalicelib_shared.kinds.notices import parse_notice
from chalicelib_shared.messages import parse_message
from chalicelib_shared.rejection import Rejection

PROD, DR, REGION = "111111111111", "222222222222", "us-east-1"
SID = "snap-0123456789abcdef0"
EVENTS = Path(__file__).parent / "data" / "ebs-events"


def arn(account: str, snapshot_id: str) -> str:
    return f"arn:aws:ec2:{REGION}:{account}:snapshot/{snapshot_id}"


# --- ARNs, messages, settings -----------------------------------------------------------------


def test_arns_carry_the_owner_and_other_forms_are_refused() -> None:
    assert EBS.arn("aws", REGION, PROD, SID) == f"arn:aws:ec2:{REGION}:{PROD}:snapshot/{SID}"
    parsed = EBS.parse_arn(EBS.arn("aws-us-gov", "us-gov-west-1", PROD, SID))
    assert parsed is not None and (parsed.partition, parsed.region, parsed.account, parsed.kind) == (
        "aws-us-gov",
        "us-gov-west-1",
        PROD,
        "EBS",
    )
    for other in (
        f"arn:aws:ec2:{REGION}::snapshot/{SID}",  # IAM's: no account
        f"arn:aws:ec2::{REGION}:snapshot/{SID}",  # the events': the Region where the account goes
        f"arn:aws:ec2:{REGION}:{PROD}:volume/vol-0123456789abcdef0",
        f"arn:aws:ec2:{REGION}:{PROD}:snapshot/snap-0123",
        f"arn:aws:rds:{REGION}:{PROD}:snapshot:{SID}",
    ):
        assert EBS.parse_arn(other) is None, other


def copy_request(**changes: str) -> str:
    doc = {
        "EventType": "snapshot-copy-request",
        "SnapshotType": "EBS",
        "SourceAcct": PROD,
        "SourceArn": arn(PROD, SID),
        "SourceId": SID,
        "SourceName": "vol-0123456789abcdef0",
        "SourceTime": "2026-01-02T03:00:00Z",
        "TagList": [{"Key": "Draco_Lifecycle", "Value": "Test"}],
        **changes,
    }
    return json.dumps(doc)


def test_messages_about_ebs_snapshots_are_validated_through_the_kind() -> None:
    message = parse_message("DRACO Event", copy_request())
    assert not isinstance(message, Rejection) and message.kind is EBS
    for bad in (
        {"SourceName": "orders"},
        {"SourceArn": arn("333333333333", SID)},
        {"SourceId": "snap-0fedcba9876543210"},
        {"SourceArn": f"arn:aws:ec2:{REGION}::snapshot/{SID}"},
    ):
        assert isinstance(parse_message("DRACO Event", copy_request(**bad)), Rejection), bad


def test_settings_come_from_the_kind() -> None:
    problems: list[str] = []
    assert Limits.from_env({}, problems).copies["EBS"] == 20
    assert Limits.from_env({"EBS_COPY_LIMIT": "5"}, problems).copies["EBS"] == 5 and not problems
    config = ConsumerConfig.from_env({"SOURCE_ACCTS": PROD, "EBS_LOCK_DAYS": "30", "EBS_LOCK_MODE": "compliance"})
    assert not config.problems and (config.locks["EBS"].days, config.locks["EBS"].mode) == (30, "compliance")
    assert ConsumerConfig.from_env({"SOURCE_ACCTS": PROD, "EBS_LOCK_MODE": "forever", "EBS_LOCK_DAYS": "3"}).problems


# --- events ---------------------------------------------------------------------------------


def sample(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


def read(doc: dict[str, Any]) -> Any:
    notice = parse_notice("", json.dumps(doc))
    assert notice is not None and not isinstance(notice, Rejection)
    return events_in(notice)


def test_sample_events_are_read_as_aws_sends_them() -> None:
    (created,) = read(sample("create_snapshot.json"))
    assert (created.kind, created.type, created.snapshot_id) == ("EBS", EventType.CREATED, "snap-0a1b2c3d4e5f60718")
    assert (created.account, created.region, created.failed) == (PROD, REGION, False)
    (copied,) = read(sample("copy_snapshot.json"))
    assert (copied.type, copied.snapshot_id, copied.account) == (EventType.COPY_FINISHED, "snap-0f1e2d3c4b5a69788", DR)
    assert read(sample("share_snapshot.json")) == ()
    multi = read(sample("create_snapshots.json"))
    assert [(e.type, e.snapshot_id) for e in multi] == [
        (EventType.CREATED, "snap-01234567890abcdef"),
        (EventType.CREATED, "snap-0fedcba0987654321"),
    ]


def test_failures_create_nothing_and_a_failed_copy_says_so() -> None:
    created = sample("create_snapshot.json")
    created["detail"]["result"] = "failed"
    assert read(created) == ()
    copied = sample("copy_snapshot.json")
    copied["detail"]["result"] = "failed"
    (event,) = read(copied)
    assert event.type is EventType.COPY_FINISHED and event.failed


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("detail", "snapshot_id"), "snap-0a1b2c3d4e5f60718"),
        (("detail", "snapshot_id"), "arn:aws:ec2::us-east-1:volume/vol-0123456789abcdef0"),
        (("detail", "snapshot_id"), None),
        (("account",), "1111"),
        (("region",), 7),
    ],
)
def test_a_malformed_ebs_event_is_invalid(path: tuple[str, ...], value: Any) -> None:
    doc = sample("create_snapshot.json")
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(InvalidNotice):
        read(doc)


def test_a_multi_volume_event_without_its_list_is_invalid() -> None:
    doc = sample("create_snapshots.json")
    doc["detail"]["snapshots"] = {"snapshot_id": "x"}
    with pytest.raises(InvalidNotice):
        read(doc)


def test_other_sources_and_formats_are_not_ebs_events() -> None:
    doc = sample("create_snapshot.json")
    doc["source"] = "aws.s3"
    assert read(doc) == ()
    rds = parse_notice("RDS Notification Message", json.dumps({"Event Source": "db-snapshot"}))
    assert rds is not None and not isinstance(rds, Rejection) and EBS.events(rds) == ()


# --- event rules and IAM ----------------------------------------------------------------------


def test_each_app_gets_one_rule_for_the_events_it_needs() -> None:
    (producer,) = EBS.event_sources(Side.PRODUCER)
    (consumer,) = EBS.event_sources(Side.CONSUMER)
    assert isinstance(producer, EventRule) and isinstance(consumer, EventRule) and producer.name != consumer.name
    assert producer.pattern["detail"]["event"] == ["createSnapshot", "createSnapshots", "copySnapshot"]
    assert set(producer.pattern["detail-type"]) == {
        sample("create_snapshots.json")["detail-type"],
        "EBS Snapshot Notification",
    }
    assert consumer.pattern == {
        "source": ["aws.ec2"],
        "detail-type": ["EBS Snapshot Notification"],
        "detail": {"event": ["copySnapshot"]},
    }


CTX = PolicyContext("aws", REGION, PROD, (DR,), "Draco_Copy", "DR")


def by_action(statements: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out = {}
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        out.update({action: statement for action in actions})
    return out


def test_every_action_is_an_ec2_operation() -> None:
    model = json.loads(gzip.open(Path(botocore.__file__).parent / "data/ec2/2016-11-15/service-2.json.gz").read())
    for side in Side:
        for action in by_action(EBS.statements(side, CTX)):
            service, name = action.split(":")
            assert service == "ec2" and name in model["operations"], action


def test_production_shares_and_deletes_only_transit_copies() -> None:
    statements = by_action(EBS.statements(Side.PRODUCER, CTX))
    for action in ("ec2:ModifySnapshotAttribute", "ec2:DeleteSnapshot"):
        assert statements[action]["Condition"] == {"StringEquals": {"ec2:ResourceTag/Draco_Transit": "true"}}
        assert statements[action]["Resource"] == f"arn:aws:ec2:{REGION}::snapshot/*"
    assert statements["ec2:CreateTags"]["Condition"] == {"StringEquals": {"ec2:CreateAction": "CopySnapshot"}}
    assert "ec2:LockSnapshot" not in statements
    unscoped = {action for action, s in statements.items() if s["Resource"] == "*"}
    assert unscoped == {"ec2:DescribeSnapshots", "ec2:DescribeVolumes"}


def test_dr_deletes_and_locks_only_its_own_copies() -> None:
    ctx = PolicyContext("aws", REGION, DR, (PROD,), "Draco_Copy", "DR", peer_region="us-west-2")
    statements = by_action(EBS.statements(Side.CONSUMER, ctx))
    for action in ("ec2:LockSnapshot", "ec2:DeleteSnapshot"):
        assert statements[action]["Condition"] == {"StringEquals": {"ec2:ResourceTag/Draco_Copy": "DR"}}
    assert statements["ec2:CopySnapshot"]["Resource"] == [
        f"arn:aws:ec2:{REGION}::snapshot/*",
        "arn:aws:ec2:us-west-2::snapshot/*",
    ]
    assert statements["ec2:CreateTags"]["Condition"] == {"StringEquals": {"ec2:CreateAction": "CopySnapshot"}}
    assert "ec2:ModifySnapshotAttribute" not in statements
    unscoped = {action for action, s in statements.items() if s["Resource"] == "*"}
    assert unscoped == {"ec2:DescribeSnapshots"}


def test_the_kind_is_registered() -> None:
    assert KINDS["EBS"] is EBS and (EBS.service, EBS.lock_variable, EBS.copy_limit_variable) == (
        "ec2",
        "EBS_LOCK",
        "EBS_COPY_LIMIT",
    )
