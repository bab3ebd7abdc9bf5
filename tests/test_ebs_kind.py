"""The EBS kind: its API against moto (with DRACO's moto gaps filled) and against a stubbed EC2
client for the exact parameters, its ARNs, events, event rules, IAM statements and settings."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
import botocore
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws
from moto.ec2.models import ec2_backends

from chalicelib_shared.config import ConsumerConfig, Limits
from chalicelib_shared.kinds import KINDS, EventType, InvalidNotice, Phase, events_in, parse_arn
from chalicelib_shared.kinds.base import EventRule, PolicyContext, Side
from chalicelib_shared.kinds.ebs import EBS, description
from chalicelib_shared.kinds.notices import parse_notice
from chalicelib_shared.messages import parse_message
from chalicelib_shared.naming import COPY_NAME_TAG
from chalicelib_shared.rejection import Rejection
from draco import moto_gaps

PROD, DR, REGION = "111111111111", "222222222222", "us-east-1"
EVENTS = Path(__file__).parent / "data" / "ebs-events"
UTC = timezone.utc


def client(account: str, region: str = REGION) -> Any:
    ec2 = boto3.client("ec2", region_name=region)
    ec2.meta.events.register(
        "before-sign.*.*", lambda request, **_: request.headers.__setitem__("x-moto-account-id", account)
    )
    return ec2


@pytest.fixture
def world(aws_credentials: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    """EC2 clients of production and DR in one moto, without moto's public snapshots."""
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    with mock_aws():
        moto_gaps.install()
        try:
            yield client(PROD), client(DR)
        finally:
            moto_gaps.uninstall()


def volume(ec2: Any, tags: dict[str, str] | None = None) -> str:
    params: dict[str, Any] = {"Size": 8, "AvailabilityZone": f"{REGION}a"}
    if tags:
        params["TagSpecifications"] = [
            {"ResourceType": "volume", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
        ]
    return ec2.create_volume(**params)["VolumeId"]


def snapshot_of(ec2: Any, volume_id: str, tags: dict[str, str] | None = None) -> str:
    params: dict[str, Any] = {"VolumeId": volume_id}
    if tags:
        params["TagSpecifications"] = [
            {"ResourceType": "snapshot", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
        ]
    return ec2.create_snapshot(**params)["SnapshotId"]


def arn(account: str, snapshot_id: str) -> str:
    return f"arn:aws:ec2:{REGION}:{account}:snapshot/{snapshot_id}"


# --- against moto ---------------------------------------------------------------------------


def test_describe_reads_a_volume_snapshot(world: tuple[Any, Any]) -> None:
    prod, _ = world
    vol = volume(prod, {"Draco_Lifecycle": "Test"})
    sid = snapshot_of(prod, vol)
    snap = EBS.api(prod).describe(sid)
    assert snap is not None
    assert (snap.snapshot_id, snap.name, snap.source_name, snap.owner) == (sid, sid, vol, PROD)
    assert (snap.status, snap.phase, snap.encrypted, snap.size_gb, snap.tags) == (
        "completed",
        Phase.READY,
        False,
        8,
        {},
    )
    assert snap.arn == arn(PROD, sid) and parse_arn(snap.arn).snapshot_id == sid  # type: ignore[union-attr]
    assert snap.created.utcoffset() == timedelta(0) and not snap.original_time


def test_a_missing_snapshot_is_none_and_does_not_fail_the_others(world: tuple[Any, Any]) -> None:
    prod, _ = world
    sid = snapshot_of(prod, volume(prod))
    api = EBS.api(prod)
    assert api.describe("snap-0123456789abcdef0") is None
    assert set(api.describe_many([sid, "snap-0123456789abcdef0"])) == {sid}


def test_announce_adds_the_volumes_tags_under_the_snapshots_own(world: tuple[Any, Any]) -> None:
    prod, _ = world
    vol = volume(prod, {"Draco_Lifecycle": "Weekly", "team": "storage", "owner": "volume"})
    api = EBS.api(prod)
    plain = api.describe(snapshot_of(prod, vol, {"owner": "snapshot"}))
    assert plain is not None
    assert api.announce(plain).tags == {"Draco_Lifecycle": "Weekly", "team": "storage", "owner": "snapshot"}
    named = api.describe(snapshot_of(prod, vol, {"Draco_Lifecycle": "Test"}))
    assert named is not None and api.announce(named).tags == {"Draco_Lifecycle": "Test"}


def test_announce_of_a_snapshot_whose_volume_is_gone_keeps_its_own_tags(world: tuple[Any, Any]) -> None:
    prod, _ = world
    vol = volume(prod, {"Draco_Lifecycle": "Weekly"})
    snap = EBS.api(prod).describe(snapshot_of(prod, vol, {"team": "a"}))
    prod.delete_volume(VolumeId=vol)
    assert snap is not None and EBS.api(prod).announce(snap).tags == {"team": "a"}


def test_copy_encrypts_an_unencrypted_snapshot_and_a_repeat_finds_the_same_copy(world: tuple[Any, Any]) -> None:
    prod, _ = world
    sid = snapshot_of(prod, volume(prod))
    key = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
    api = EBS.api(prod)
    first = api.copy(arn(PROD, sid), "draco-transit-" + sid, key, {"team": "a"})
    again = api.copy(arn(PROD, sid), "draco-transit-" + sid, key, {"team": "a"})
    assert first.started and not again.started and again.copy_id == first.copy_id
    assert {s.snapshot_id for s in api.owned()} == {sid, first.copy_id}
    item = prod.describe_snapshots(SnapshotIds=[first.copy_id])["Snapshots"][0]
    assert item["Encrypted"] and item["KmsKeyId"] == key
    assert item["Description"] == description("draco-transit-" + sid, arn(PROD, sid))
    copy = api.find_copy("draco-transit-" + sid)
    assert copy is not None and copy.snapshot_id == first.copy_id
    assert copy.tags == {"team": "a", COPY_NAME_TAG: "draco-transit-" + sid}
    assert api.find_copy("draco-transit-snap-0123456789abcdef0") is None


def test_a_copy_without_a_key_keeps_the_snapshots_encryption(world: tuple[Any, Any]) -> None:
    prod, _ = world
    sid = snapshot_of(prod, volume(prod))
    started = EBS.api(prod).copy(arn(PROD, sid), "draco-transit-" + sid, None, {})
    copy = EBS.api(prod).describe(started.copy_id)
    assert copy is not None and not copy.encrypted


def test_the_shared_account_reads_the_copys_name_from_its_description(world: tuple[Any, Any]) -> None:
    """The owner reads DRACO's name from the tag; DR, which can't see the tags, from the description."""
    prod, dr = world
    sid = snapshot_of(prod, volume(prod))
    name = "draco-transit-" + sid
    transit_id = EBS.api(prod).copy(arn(PROD, sid), name, None, {"Draco_Transit": "true"}).copy_id
    assert EBS.api(dr).shared(arn(PROD, transit_id)) is None  # not shared yet
    EBS.api(prod).share(transit_id, DR)
    EBS.api(prod).share(transit_id, DR)  # repeats are harmless
    owners_view = EBS.api(prod).describe(transit_id)
    drs_view = EBS.api(dr).shared(arn(PROD, transit_id))
    assert owners_view is not None and drs_view is not None
    assert owners_view.name == drs_view.name == name
    assert owners_view.tags and drs_view.tags == {}
    assert (drs_view.owner, drs_view.arn, drs_view.source_name) == (PROD, arn(PROD, transit_id), "")
    assert EBS.api(dr).describe(transit_id) is None  # not DR's own
    assert [s.snapshot_id for s in EBS.api(dr).owned()] == []


def test_shared_refuses_a_wrong_owner_or_region(world: tuple[Any, Any]) -> None:
    prod, dr = world
    sid = snapshot_of(prod, volume(prod))
    EBS.api(prod).share(sid, DR)
    assert EBS.api(dr).shared(arn(PROD, sid)) is not None
    assert EBS.api(dr).shared(arn("333333333333", sid)) is None
    assert EBS.api(dr).shared(f"arn:aws:ec2:eu-west-1:{PROD}:snapshot/{sid}") is None
    assert EBS.api(dr).shared(f"arn:aws:rds:{REGION}:{PROD}:snapshot:{sid}") is None


def test_dr_copies_a_shared_snapshot_into_its_own_account_under_its_key(world: tuple[Any, Any]) -> None:
    prod, dr = world
    sid = snapshot_of(prod, volume(prod))
    EBS.api(prod).share(sid, DR)
    key = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
    name = f"draco-{PROD}-{sid}"
    started = EBS.api(dr).copy(arn(PROD, sid), name, key, {"Draco_Copy": "DR"})
    copy = EBS.api(dr).describe(started.copy_id)
    assert copy is not None
    assert (copy.owner, copy.name, copy.encrypted, copy.tags["Draco_Copy"]) == (DR, name, True, "DR")


def test_delete_returns_false_once_the_snapshot_is_gone(world: tuple[Any, Any]) -> None:
    prod, _ = world
    sid = snapshot_of(prod, volume(prod))
    assert EBS.api(prod).delete(sid) is True
    assert EBS.api(prod).delete(sid) is False


def test_a_locked_snapshot_cannot_be_deleted_until_the_lock_expires(world: tuple[Any, Any]) -> None:
    prod, _ = world
    sid = snapshot_of(prod, volume(prod))
    EBS.api(prod).lock(sid, 7, "compliance")
    (lock,) = prod.describe_locked_snapshots(SnapshotIds=[sid])["Snapshots"]
    assert (lock["LockState"], lock["LockDuration"]) == ("compliance", 7)
    with pytest.raises(ClientError):
        EBS.api(prod).delete(sid)
    assert EBS.api(prod).describe(sid) is not None


def test_recent_lists_finished_own_snapshots_since_a_time(world: tuple[Any, Any]) -> None:
    prod, dr = world
    done = snapshot_of(prod, volume(prod))
    EBS.api(dr).share(snapshot_of(dr, volume(dr)), PROD)  # shared with production, not its own
    pending = snapshot_of(prod, volume(prod))
    ec2_backends[PROD][REGION].snapshots[pending].status = "pending"
    prod.copy_snapshot(SourceSnapshotId=done, SourceRegion=REGION)  # a copy names no volume: no source's
    now = datetime.now(UTC)
    assert [s.snapshot_id for s in EBS.api(prod).recent(now - timedelta(hours=1))] == [done]
    assert list(EBS.api(prod).recent(now + timedelta(hours=1))) == []


def test_ebs_has_no_snapshot_quota_to_read(world: tuple[Any, Any]) -> None:
    assert EBS.api(world[0]).quota() is None


# --- against a stubbed client: the exact API parameters ---------------------------------------


@pytest.fixture
def stubbed(aws_credentials: None) -> Iterator[tuple[Any, Stubber]]:
    ec2 = boto3.client("ec2", region_name=REGION)
    with Stubber(ec2) as stub:
        yield ec2, stub
        stub.assert_no_pending_responses()


def item(snapshot_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "SnapshotId": snapshot_id,
        "VolumeId": "vol-0123456789abcdef0",
        "State": "completed",
        "StartTime": datetime(2026, 1, 2, 3, 0, tzinfo=UTC),
        "OwnerId": PROD,
        "VolumeSize": 8,
        "Encrypted": False,
        **extra,
    }


SID, COPY = "snap-0123456789abcdef0", "snap-0fedcba9876543210"
NAMED = {"OwnerIds": ["self"], "Filters": [{"Name": "tag:Draco_Name", "Values": ["draco-transit-" + SID]}]}


@pytest.mark.parametrize(
    ("key", "source_region", "asked_region"),
    [("arn:aws:kms:us-east-1:111111111111:key/k", "", "eu-west-1"), (None, "us-west-2", "us-west-2")],
    ids=["with a key, from the ARN's Region", "without a key, from the Region given"],
)
def test_copy_asks_aws_for_a_tagged_described_copy_encrypted_when_a_key_is_given(
    stubbed: tuple[Any, Stubber], key: str | None, source_region: str, asked_region: str
) -> None:
    ec2, stub = stubbed
    source, name = f"arn:aws:ec2:eu-west-1:{PROD}:snapshot/{SID}", "draco-transit-" + SID
    stub.add_response("describe_snapshots", {"Snapshots": []}, NAMED)
    tags = [{"Key": "Draco_Transit", "Value": "true"}, {"Key": "Draco_Name", "Value": name}]
    params: dict[str, Any] = {
        "SourceSnapshotId": SID,
        "SourceRegion": asked_region,
        "Description": f"DRACO copy {name} of {source}",
        "TagSpecifications": [{"ResourceType": "snapshot", "Tags": tags}],
    }
    if key:
        params.update(Encrypted=True, KmsKeyId=key)
    stub.add_response("copy_snapshot", {"SnapshotId": COPY}, params)
    started = EBS.api(ec2).copy(source, name, key, {"Draco_Transit": "true"}, source_region=source_region)
    assert (started.copy_id, started.arn, started.started) == (COPY, "", True)


def test_copy_of_a_name_that_exists_starts_nothing(stubbed: tuple[Any, Stubber]) -> None:
    ec2, stub = stubbed
    stub.add_response("describe_snapshots", {"Snapshots": [item(COPY, State="pending")]}, NAMED)
    started = EBS.api(ec2).copy(arn(PROD, SID), "draco-transit-" + SID, "k", {})
    assert (started.copy_id, started.started) == (COPY, False)


def test_share_lock_and_delete_parameters(stubbed: tuple[Any, Stubber]) -> None:
    ec2, stub = stubbed
    stub.add_response(
        "modify_snapshot_attribute",
        {},
        {"SnapshotId": SID, "Attribute": "createVolumePermission", "OperationType": "add", "UserIds": [DR]},
    )
    stub.add_response(
        "lock_snapshot", {"SnapshotId": SID}, {"SnapshotId": SID, "LockMode": "governance", "LockDuration": 30}
    )
    stub.add_client_error("delete_snapshot", "InvalidSnapshot.NotFound", expected_params={"SnapshotId": SID})
    stub.add_client_error("delete_snapshot", "SnapshotLocked", expected_params={"SnapshotId": SID})
    api = EBS.api(ec2)
    api.share(SID, DR)
    api.lock(SID, 30, "governance")
    assert api.delete(SID) is False
    with pytest.raises(ClientError):
        api.delete(SID)


def test_describe_many_asks_by_filter_a_hundred_ids_a_call(stubbed: tuple[Any, Stubber]) -> None:
    ec2, stub = stubbed
    ids = [f"snap-{n:017x}" for n in range(250)]
    for start in (0, 100, 200):
        chunk = ids[start : start + 100]
        expected = {"OwnerIds": ["self"], "Filters": [{"Name": "snapshot-id", "Values": chunk}]}
        stub.add_response("describe_snapshots", {"Snapshots": [item(sid) for sid in chunk[:2]]}, expected)
    assert len(EBS.api(ec2).describe_many(reversed(ids))) == 6


def test_shared_asks_for_the_owners_snapshots_this_account_may_use(stubbed: tuple[Any, Stubber]) -> None:
    ec2, stub = stubbed
    expected = {
        "OwnerIds": [PROD],
        "RestorableByUserIds": ["self"],
        "Filters": [{"Name": "snapshot-id", "Values": [SID]}],
    }
    shown = item(
        SID, VolumeId="vol-ffffffff", Description=f"DRACO copy draco-transit-snap-0aaaaaaaaaaaaaaaa of {arn(PROD, SID)}"
    )
    stub.add_response("describe_snapshots", {"Snapshots": [shown]}, expected)
    snap = EBS.api(ec2).shared(arn(PROD, SID))
    assert snap is not None and (snap.name, snap.source_name) == ("draco-transit-snap-0aaaaaaaaaaaaaaaa", "")


def test_owned_follows_next_tokens_and_reads_each_state(stubbed: tuple[Any, Stubber]) -> None:
    ec2, stub = stubbed
    stub.add_response(
        "describe_snapshots", {"Snapshots": [item(SID, State="error")], "NextToken": "t"}, {"OwnerIds": ["self"]}
    )
    stub.add_response(
        "describe_snapshots", {"Snapshots": [item(COPY, State="pending")]}, {"OwnerIds": ["self"], "NextToken": "t"}
    )
    phases = {s.snapshot_id: s.phase for s in EBS.api(ec2).owned()}
    assert phases == {SID: Phase.FAILED, COPY: Phase.IN_PROGRESS}


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
    assert unscoped == {"ec2:DescribeSnapshots", "ec2:DescribeVolumes", "ec2:DescribeLockedSnapshots"}


def test_the_kind_is_registered() -> None:
    assert KINDS["EBS"] is EBS and (EBS.service, EBS.lock_variable, EBS.copy_limit_variable) == (
        "ec2",
        "EBS_LOCK",
        "EBS_COPY_LIMIT",
    )
