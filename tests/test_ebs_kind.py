"""The EBS kind's API against moto (with DRACO's moto gaps filled) for what it does, and against
a stubbed EC2 client for the exact parameters it sends (``test_ebs_kind_rules``: the rest)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws
from moto.ec2.models import ec2_backends

from chalicelib_shared.kinds import Phase, parse_arn
from chalicelib_shared.kinds.ebs import EBS, description
from chalicelib_shared.naming import COPY_NAME_TAG
from draco.world import moto_gaps

PROD, DR, REGION = "111111111111", "222222222222", "us-east-1"
UTC = timezone.utc


def client(account: str, region: str = REGION) -> Any:
    ec2 = boto3.client("ec2", region_name=region)
    ec2.meta.events.register(
        "before-sign.*.*", lambda request, **_: request.headers.__setitem__("x-moto-account-id", account)
    )
    return ec2


@pytest.fixture
def world(aws_credentials: None) -> Iterator[tuple[Any, Any]]:
    """EC2 clients of production and DR in one moto, without moto's public snapshots (``aws_credentials``)."""
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
PAGE = {"MaxResults": 1000}  # from the first call: without it EC2 answers everything at once
NAMED = {"OwnerIds": ["self"], "Filters": [{"Name": "tag:Draco_Name", "Values": ["draco-transit-" + SID]}], **PAGE}


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
        expected = {"OwnerIds": ["self"], "Filters": [{"Name": "snapshot-id", "Values": chunk}], **PAGE}
        stub.add_response("describe_snapshots", {"Snapshots": [item(sid) for sid in chunk[:2]]}, expected)
    assert len(EBS.api(ec2).describe_many(reversed(ids))) == 6


def test_shared_asks_for_the_owners_snapshots_this_account_may_use(stubbed: tuple[Any, Stubber]) -> None:
    ec2, stub = stubbed
    expected = {
        "OwnerIds": [PROD],
        "RestorableByUserIds": ["self"],
        "Filters": [{"Name": "snapshot-id", "Values": [SID]}],
        **PAGE,
    }
    shown = item(
        SID, VolumeId="vol-ffffffff", Description=f"DRACO copy draco-transit-snap-0aaaaaaaaaaaaaaaa of {arn(PROD, SID)}"
    )
    stub.add_response("describe_snapshots", {"Snapshots": [shown]}, expected)
    snap = EBS.api(ec2).shared(arn(PROD, SID))
    assert snap is not None and (snap.name, snap.source_name) == ("draco-transit-snap-0aaaaaaaaaaaaaaaa", "")


def test_owned_pages_from_the_first_call_and_follows_next_tokens_and_reads_each_state(
    stubbed: tuple[Any, Stubber],
) -> None:
    ec2, stub = stubbed
    first = {"Snapshots": [item(SID, State="error")], "NextToken": "t"}
    stub.add_response("describe_snapshots", first, {"OwnerIds": ["self"], **PAGE})
    stub.add_response(
        "describe_snapshots",
        {"Snapshots": [item(COPY, State="pending")]},
        {"OwnerIds": ["self"], "NextToken": "t", **PAGE},
    )
    phases = {s.snapshot_id: s.phase for s in EBS.api(ec2).owned()}
    assert phases == {SID: Phase.FAILED, COPY: Phase.IN_PROGRESS}
