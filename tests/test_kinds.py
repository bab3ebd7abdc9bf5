"""Snapshot kinds against moto's RDS (describe, copy, share, delete), and against a stubbed
RDS client where moto can't tell (pagination markers, the exact API parameters, errors)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from chalicelib_shared.kinds import KINDS, KINDS_BY_EVENT_SOURCE, ClusterSnapshots, InstanceSnapshots, SnapshotKind
from chalicelib_shared.naming import parse_snapshot_arn

UTC = timezone.utc
REGION = "us-east-1"
DR = "222222222222"
SOURCE = {"RDS": "snap1", "RDS Cluster": "csnap1"}
DB = {"RDS": "db1", "RDS Cluster": "cl1"}
KIND_NAMES = ["RDS", "RDS Cluster"]


@pytest.fixture
def rds(mocked_aws: None) -> Iterator[Any]:
    yield boto3.client("rds", region_name=REGION)


def seed(client: Any, name: str) -> None:
    """One snapshot of the kind: instance snapshot ``snap1`` of ``db1``, or cluster snapshot ``csnap1`` of ``cl1``."""
    tags = [{"Key": "Draco_Lifecycle", "Value": "Test"}]
    if name == "RDS":
        client.create_db_instance(
            DBInstanceIdentifier="db1",
            DBInstanceClass="db.t3.micro",
            Engine="postgres",
            MasterUsername="admin1",
            MasterUserPassword="password123",
            AllocatedStorage=20,
        )
        client.create_db_snapshot(DBInstanceIdentifier="db1", DBSnapshotIdentifier="snap1", Tags=tags)
    else:
        client.create_db_cluster(
            DBClusterIdentifier="cl1",
            Engine="aurora-postgresql",
            MasterUsername="admin1",
            MasterUserPassword="password123",
        )
        client.create_db_cluster_snapshot(DBClusterIdentifier="cl1", DBClusterSnapshotIdentifier="csnap1", Tags=tags)


@pytest.fixture
def kms_key(rds: Any) -> str:
    return boto3.client("kms", region_name=REGION).create_key(Description="DR key")["KeyMetadata"]["Arn"]


@pytest.fixture
def stubbed_rds(aws_credentials: None) -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("rds", region_name=REGION)
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def restore_accounts(rds: Any, kind: SnapshotKind, snapshot_id: str) -> set[str]:
    if kind.name == "RDS":
        result = rds.describe_db_snapshot_attributes(DBSnapshotIdentifier=snapshot_id)["DBSnapshotAttributesResult"]
        attributes = result["DBSnapshotAttributes"]
    else:
        result = rds.describe_db_cluster_snapshot_attributes(DBClusterSnapshotIdentifier=snapshot_id)
        attributes = result["DBClusterSnapshotAttributesResult"]["DBClusterSnapshotAttributes"]
    return {value for a in attributes if a["AttributeName"] == "restore" for value in a["AttributeValues"]}


# --- the registry ------------------------------------------------------------------------------


def test_kinds_are_registered_by_snapshot_type_and_event_source() -> None:
    assert isinstance(KINDS["RDS"], InstanceSnapshots) and isinstance(KINDS["RDS Cluster"], ClusterSnapshots)
    assert KINDS_BY_EVENT_SOURCE == {"db-snapshot": KINDS["RDS"], "db-cluster-snapshot": KINDS["RDS Cluster"]}


def test_kind_rules_match_aws() -> None:
    instance, cluster = KINDS["RDS"], KINDS["RDS Cluster"]
    assert (instance.encrypts_on_copy, cluster.encrypts_on_copy) == (True, False)
    assert (instance.default_copy_limit, cluster.default_copy_limit) == (20, 5)
    assert instance.copy_finished_events == {"RDS-EVENT-0197"} and cluster.copy_finished_events == frozenset()
    assert instance.created_events == {"RDS-EVENT-0042", "RDS-EVENT-0091"}
    assert cluster.created_events == {"RDS-EVENT-0075", "RDS-EVENT-0169"}


# --- against moto ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", KIND_NAMES)
def test_describe_reads_a_snapshot(rds: Any, name: str) -> None:
    seed(rds, name)
    kind = KINDS[name]
    snapshot = kind.describe(rds, SOURCE[name])
    assert snapshot is not None
    assert (snapshot.snapshot_id, snapshot.source_name, snapshot.status) == (SOURCE[name], DB[name], "available")
    assert (snapshot.snapshot_type, snapshot.encrypted) == ("manual", False)
    assert snapshot.tags == {"Draco_Lifecycle": "Test"}
    parsed = parse_snapshot_arn(snapshot.arn)
    assert parsed is not None and (parsed.snapshot_type, parsed.snapshot_id) == (name, SOURCE[name])
    assert snapshot.created.tzinfo is not None and snapshot.created.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


@pytest.mark.parametrize("name", KIND_NAMES)
def test_describe_of_a_missing_snapshot_is_none(rds: Any, name: str) -> None:
    seed(rds, name)
    assert KINDS[name].describe(rds, "no-such-snapshot") is None


@pytest.mark.parametrize("name", KIND_NAMES)
def test_copy_starts_once_and_a_repeat_returns_false(rds: Any, kms_key: str, name: str) -> None:
    seed(rds, name)
    kind = KINDS[name]
    assert kind.copy(rds, SOURCE[name], "copy1", kms_key, {"Draco_Copy": "DR", "team": "a"}) is True
    assert kind.copy(rds, SOURCE[name], "copy1", kms_key, {"Draco_Copy": "DR"}) is False
    copy = kind.describe(rds, "copy1")
    assert copy is not None
    assert copy.tags == {"Draco_Copy": "DR", "team": "a"}
    assert copy.encrypted is True
    assert copy.source_name == DB[name]


def test_an_instance_copy_without_a_key_stays_unencrypted(rds: Any) -> None:
    seed(rds, "RDS")
    kind = KINDS["RDS"]
    assert kind.copy(rds, "snap1", "copy1", None, {}) is True
    copy = kind.describe(rds, "copy1")
    assert copy is not None and copy.encrypted is False


@pytest.mark.parametrize("name", KIND_NAMES)
def test_share_adds_the_account_to_restore_and_repeats_harmlessly(rds: Any, name: str) -> None:
    seed(rds, name)
    kind = KINDS[name]
    kind.share(rds, SOURCE[name], DR)
    kind.share(rds, SOURCE[name], DR)
    assert restore_accounts(rds, kind, SOURCE[name]) == {DR}


@pytest.mark.parametrize("name", KIND_NAMES)
def test_delete_removes_the_snapshot_and_returns_false_when_gone(rds: Any, name: str) -> None:
    seed(rds, name)
    kind = KINDS[name]
    assert kind.delete(rds, SOURCE[name]) is True
    assert kind.describe(rds, SOURCE[name]) is None
    assert kind.delete(rds, SOURCE[name]) is False


@pytest.mark.parametrize("name", KIND_NAMES)
def test_list_returns_every_snapshot_of_the_kind_and_no_other(rds: Any, kms_key: str, name: str) -> None:
    seed(rds, "RDS")
    seed(rds, "RDS Cluster")
    kind = KINDS[name]
    kind.copy(rds, SOURCE[name], "copy1", kms_key, {})
    listed = {s.snapshot_id: s for s in kind.list(rds)}
    assert {SOURCE[name], "copy1"} <= set(listed)
    assert all(parse_snapshot_arn(s.arn).snapshot_type == name for s in listed.values())  # type: ignore[union-attr]
    manual = {s.snapshot_id for s in kind.list(rds, SnapshotType="manual")}
    assert manual == {SOURCE[name], "copy1"}


# --- against a stubbed client: paging, parameters, errors ------------------------------------

PAGED = {
    "RDS": ("describe_db_snapshots", "DBSnapshots", "DBSnapshotIdentifier", "DBSnapshotArn", "DBInstanceIdentifier"),
    "RDS Cluster": (
        "describe_db_cluster_snapshots",
        "DBClusterSnapshots",
        "DBClusterSnapshotIdentifier",
        "DBClusterSnapshotArn",
        "DBClusterIdentifier",
    ),
}


def stub_item(name: str, snapshot_id: str, **extra: Any) -> dict[str, Any]:
    _, _, id_field, arn_field, source_field = PAGED[name]
    resource = "snapshot" if name == "RDS" else "cluster-snapshot"
    return {
        id_field: snapshot_id,
        arn_field: f"arn:aws:rds:{REGION}:111111111111:{resource}:{snapshot_id}",
        source_field: "db1",
        "Status": "available",
        "SnapshotCreateTime": datetime(2026, 1, 2, 3, 0, tzinfo=UTC),
        "SnapshotType": "manual",
        **extra,
    }


@pytest.mark.parametrize("name", KIND_NAMES)
def test_list_follows_pagination_markers(stubbed_rds: tuple[Any, Stubber], name: str) -> None:
    rds, stub = stubbed_rds
    operation, list_key, *_ = PAGED[name]
    stub.add_response(
        operation, {list_key: [stub_item(name, "a"), stub_item(name, "b")], "Marker": "m1"}, {"SnapshotType": "manual"}
    )
    stub.add_response(
        operation, {list_key: [stub_item(name, "c")], "Marker": "m2"}, {"SnapshotType": "manual", "Marker": "m1"}
    )
    stub.add_response(operation, {list_key: [stub_item(name, "d")]}, {"SnapshotType": "manual", "Marker": "m2"})
    assert [s.snapshot_id for s in KINDS[name].list(rds, SnapshotType="manual")] == ["a", "b", "c", "d"]


@pytest.mark.parametrize("name", KIND_NAMES)
def test_list_of_an_empty_account_is_empty(stubbed_rds: tuple[Any, Stubber], name: str) -> None:
    rds, stub = stubbed_rds
    operation, list_key, *_ = PAGED[name]
    stub.add_response(operation, {list_key: []}, {})
    assert list(KINDS[name].list(rds)) == []


def test_a_copy_ages_by_its_original_create_time(stubbed_rds: tuple[Any, Stubber]) -> None:
    rds, stub = stubbed_rds
    original = datetime(2025, 12, 31, 23, 0, tzinfo=UTC)
    item = stub_item(
        "RDS",
        "copy1",
        OriginalSnapshotCreateTime=original,
        Encrypted=True,
        AllocatedStorage=100,
        TagList=[{"Key": "a", "Value": "1"}],
    )
    stub.add_response("describe_db_snapshots", {"DBSnapshots": [item]}, {"DBSnapshotIdentifier": "copy1"})
    snapshot = KINDS["RDS"].describe(rds, "copy1")
    assert snapshot is not None
    assert (snapshot.created, snapshot.encrypted, snapshot.allocated_gb, snapshot.tags) == (
        original,
        True,
        100,
        {"a": "1"},
    )


def test_a_cluster_snapshot_is_encrypted_by_storage_encrypted(stubbed_rds: tuple[Any, Stubber]) -> None:
    rds, stub = stubbed_rds
    item = stub_item("RDS Cluster", "c1", StorageEncrypted=True)
    stub.add_response(
        "describe_db_cluster_snapshots", {"DBClusterSnapshots": [item]}, {"DBClusterSnapshotIdentifier": "c1"}
    )
    snapshot = KINDS["RDS Cluster"].describe(rds, "c1")
    assert snapshot is not None and snapshot.encrypted is True
    assert snapshot.created == datetime(2026, 1, 2, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "operation", "params"),
    [
        ("RDS", "copy_db_snapshot", ("SourceDBSnapshotIdentifier", "TargetDBSnapshotIdentifier")),
        (
            "RDS Cluster",
            "copy_db_cluster_snapshot",
            ("SourceDBClusterSnapshotIdentifier", "TargetDBClusterSnapshotIdentifier"),
        ),
    ],
)
@pytest.mark.parametrize("key", ["arn:aws:kms:us-east-1:222222222222:key/k1", None])
def test_copy_sends_the_key_only_when_given(
    stubbed_rds: tuple[Any, Stubber], name: str, operation: str, params: tuple[str, str], key: str | None
) -> None:
    rds, stub = stubbed_rds
    source_param, target_param = params
    expected = {source_param: "arn:src", target_param: "copy1", "Tags": [{"Key": "t", "Value": "v"}]}
    if key:
        expected["KmsKeyId"] = key
    stub.add_response(operation, {}, expected)
    assert KINDS[name].copy(rds, "arn:src", "copy1", key, {"t": "v"}) is True


@pytest.mark.parametrize(
    ("name", "operation", "code"),
    [
        ("RDS", "copy_db_snapshot", "DBSnapshotAlreadyExists"),
        ("RDS Cluster", "copy_db_cluster_snapshot", "DBClusterSnapshotAlreadyExistsFault"),
    ],
)
def test_copy_returns_false_on_the_already_exists_code_aws_sends(
    stubbed_rds: tuple[Any, Stubber], name: str, operation: str, code: str
) -> None:
    rds, stub = stubbed_rds
    stub.add_client_error(operation, service_error_code=code, http_status_code=400)
    assert KINDS[name].copy(rds, "arn:src", "copy1", None, {}) is False


@pytest.mark.parametrize(
    ("name", "operation", "code"),
    [
        ("RDS", "delete_db_snapshot", "DBSnapshotNotFound"),
        ("RDS Cluster", "delete_db_cluster_snapshot", "DBClusterSnapshotNotFoundFault"),
    ],
)
def test_delete_returns_false_on_the_not_found_code_aws_sends(
    stubbed_rds: tuple[Any, Stubber], name: str, operation: str, code: str
) -> None:
    rds, stub = stubbed_rds
    stub.add_client_error(operation, service_error_code=code, http_status_code=404)
    assert KINDS[name].delete(rds, "gone") is False


@pytest.mark.parametrize(
    ("name", "call", "operation", "code"),
    [
        ("RDS", "describe", "describe_db_snapshots", "Throttling"),
        ("RDS Cluster", "describe", "describe_db_cluster_snapshots", "AccessDenied"),
        ("RDS", "copy", "copy_db_snapshot", "SnapshotQuotaExceeded"),
        ("RDS Cluster", "copy", "copy_db_cluster_snapshot", "KMSKeyNotAccessibleFault"),
        ("RDS", "delete", "delete_db_snapshot", "InvalidDBSnapshotState"),
        ("RDS Cluster", "delete", "delete_db_cluster_snapshot", "InvalidDBClusterSnapshotStateFault"),
        ("RDS", "share", "modify_db_snapshot_attribute", "SharedSnapshotQuotaExceeded"),
    ],
)
def test_other_aws_errors_are_raised(
    stubbed_rds: tuple[Any, Stubber], name: str, call: str, operation: str, code: str
) -> None:
    rds, stub = stubbed_rds
    stub.add_client_error(operation, service_error_code=code, http_status_code=400)
    kind = KINDS[name]
    action = {
        "describe": lambda: kind.describe(rds, "s1"),
        "copy": lambda: kind.copy(rds, "arn:src", "copy1", None, {}),
        "delete": lambda: kind.delete(rds, "s1"),
        "share": lambda: kind.share(rds, "s1", DR),
    }[call]
    with pytest.raises(ClientError) as raised:
        action()
    assert raised.value.response["Error"]["Code"] == code


@pytest.mark.parametrize("name", KIND_NAMES)
def test_describe_many_answers_for_the_ids_that_exist_in_one_call(rds: Any, name: str) -> None:
    seed(rds, name)
    kind = KINDS[name]
    calls: list[str] = []
    rds.meta.events.register("before-send.rds.*", lambda event_name, **_: calls.append(event_name))
    found = kind.describe_many(rds, [SOURCE[name], "not-there-1", SOURCE[name]])
    assert list(found) == [SOURCE[name]] and found[SOURCE[name]].source_name == DB[name]
    assert len(calls) == 1
    assert kind.describe_many(rds, []) == {}
