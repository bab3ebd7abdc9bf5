"""The RDS snapshot kinds against moto's RDS (describe, copy, share, delete, shared, quota), against
a stubbed RDS client where moto can't tell (pagination markers, the exact API parameters, errors),
and as data (ARNs, events, IAM statements, event sources)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from chalicelib_shared.kinds import KINDS, EventType, InvalidNotice, Notice, Phase, SnapshotKind, events_in, parse_arn
from chalicelib_shared.kinds.base import NoticeFormat, PolicyContext, RdsEventSubscription, Side
from chalicelib_shared.kinds.rds import CLUSTER, INSTANCE

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


def test_the_rds_kinds_are_registered_by_snapshot_type() -> None:
    assert KINDS["RDS"] is INSTANCE and KINDS["RDS Cluster"] is CLUSTER


def test_kind_rules_match_aws() -> None:
    assert (INSTANCE.encrypts_on_copy, CLUSTER.encrypts_on_copy) == (True, False)
    assert (INSTANCE.default_copy_limit, CLUSTER.default_copy_limit) == (20, 5)
    assert (INSTANCE.copy_limit_variable, CLUSTER.copy_limit_variable) == ("INSTANCE_COPY_LIMIT", "CLUSTER_COPY_LIMIT")
    assert INSTANCE.names.copy_finished_events == {"RDS-EVENT-0197", "RDS-EVENT-0060"}
    assert CLUSTER.names.copy_finished_events == set()
    assert INSTANCE.names.created_events == {"RDS-EVENT-0042", "RDS-EVENT-0091"}
    assert CLUSTER.names.created_events == {"RDS-EVENT-0075", "RDS-EVENT-0169"}


@pytest.mark.parametrize(
    ("arn", "kind", "snapshot_id"),
    [
        ("arn:aws:rds:us-east-1:111111111111:snapshot:snap1", "RDS", "snap1"),
        ("arn:aws:rds:eu-west-1:111111111111:snapshot:rds:db1-2026-01-01-03-00", "RDS", "rds:db1-2026-01-01-03-00"),
        ("arn:aws-cn:rds:cn-north-1:111111111111:cluster-snapshot:c1", "RDS Cluster", "c1"),
    ],
)
def test_each_kind_parses_its_own_arns_and_only_those(arn: str, kind: str, snapshot_id: str) -> None:
    parsed = parse_arn(arn)
    assert parsed is not None and (parsed.kind, parsed.snapshot_id, parsed.account) == (
        kind,
        snapshot_id,
        "111111111111",
    )
    other = CLUSTER if kind == "RDS" else INSTANCE
    assert other.parse_arn(arn) is None
    assert KINDS[kind].arn(arn.split(":")[1], parsed.region, parsed.account, snapshot_id) == arn


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:rds:us-east-1:111111111111:db:db1",
        "arn:aws:rds:us-east-1:11111111111:snapshot:s",
        "arn:aws:rds:us-east-1:111111111111:snapshot:bad--id",
        "arn:aws:ec2:us-east-1:111111111111:snapshot/snap-0123",
        "",
    ],
)
def test_anything_else_is_no_rds_snapshot_arn(arn: str) -> None:
    assert INSTANCE.parse_arn(arn) is None and CLUSTER.parse_arn(arn) is None


def notification(source: str, event_id: str, source_id: str = "snap1") -> Notice:
    doc = {"Event Source": source, "Event ID": f"http://docs/USER_Events.html#{event_id}", "Source ID": source_id}
    return Notice(NoticeFormat.RDS_NOTIFICATION, doc)


@pytest.mark.parametrize(
    ("source", "event_id", "kind", "type_"),
    [
        ("db-snapshot", "RDS-EVENT-0042", "RDS", EventType.CREATED),
        ("db-snapshot", "RDS-EVENT-0091", "RDS", EventType.CREATED),
        ("db-snapshot", "RDS-EVENT-0197", "RDS", EventType.COPY_FINISHED),
        ("db-cluster-snapshot", "RDS-EVENT-0075", "RDS Cluster", EventType.CREATED),
        ("db-cluster-snapshot", "RDS-EVENT-0169", "RDS Cluster", EventType.CREATED),
    ],
)
def test_events_are_picked_by_their_kind(source: str, event_id: str, kind: str, type_: EventType) -> None:
    (event,) = events_in(notification(source, event_id))
    assert (event.kind, event.type, event.snapshot_id) == (kind, type_, "snap1")


def test_other_events_and_formats_are_no_rds_events() -> None:
    assert events_in(notification("db-snapshot", "RDS-EVENT-0040")) == ()
    assert events_in(notification("db-instance", "RDS-EVENT-0042")) == ()
    assert INSTANCE.events(Notice(NoticeFormat.EVENTBRIDGE, {"Event Source": "db-snapshot"})) == ()


def test_a_malformed_rds_event_is_invalid() -> None:
    with pytest.raises(InvalidNotice):
        events_in(notification("db-snapshot", "RDS-EVENT-0042", source_id="bad--id"))


def test_event_sources_per_side() -> None:
    assert INSTANCE.event_sources(Side.PRODUCER) == (RdsEventSubscription("db-snapshot"),)
    assert CLUSTER.event_sources(Side.PRODUCER) == (RdsEventSubscription("db-cluster-snapshot"),)
    assert INSTANCE.event_sources(Side.CONSUMER) == (RdsEventSubscription("db-snapshot"),)  # copy-finished
    assert CLUSTER.event_sources(Side.CONSUMER) == ()  # AWS sends none for cluster copies


@pytest.mark.parametrize("kind", [INSTANCE, CLUSTER])
def test_deletes_are_scoped_by_name_and_by_tag(kind: SnapshotKind) -> None:
    ctx = PolicyContext("aws", "us-east-1", "222222222222", ("111111111111",), "Draco_Copy", "DR")
    (delete,) = [s for s in kind.statements(Side.CONSUMER, ctx) if s["Sid"].startswith("Delete")]
    assert delete["Resource"] == [f"arn:aws:rds:us-east-1:222222222222:{kind.names.resource}:draco-111111111111-*"]
    assert delete["Condition"] == {"StringEquals": {f"rds:{kind.names.tag_condition}/Draco_Copy": "DR"}}
    prod = PolicyContext("aws", "us-east-1", "111111111111", ("222222222222",), "Draco_Copy", "DR")
    (delete,) = [s for s in kind.statements(Side.PRODUCER, prod) if s["Sid"].startswith("Delete")]
    assert delete["Resource"] == f"arn:aws:rds:us-east-1:111111111111:{kind.names.resource}:draco-transit-*"
    assert delete["Condition"] == {"StringEquals": {f"rds:{kind.names.tag_condition}/Draco_Transit": "true"}}


# --- against moto ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", KIND_NAMES)
def test_describe_reads_a_snapshot(rds: Any, name: str) -> None:
    seed(rds, name)
    snapshot = KINDS[name].api(rds).describe(SOURCE[name])
    assert snapshot is not None
    assert (snapshot.snapshot_id, snapshot.source_name, snapshot.status) == (SOURCE[name], DB[name], "available")
    assert (snapshot.phase, snapshot.name, snapshot.owner) == (Phase.READY, SOURCE[name], "123456789012")
    assert (snapshot.snapshot_type, snapshot.encrypted) == ("manual", False)
    assert snapshot.tags == {"Draco_Lifecycle": "Test"}
    parsed = parse_arn(snapshot.arn)
    assert parsed is not None and (parsed.kind, parsed.snapshot_id) == (name, SOURCE[name])
    assert snapshot.created.tzinfo is not None and snapshot.created.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


@pytest.mark.parametrize("name", KIND_NAMES)
def test_describe_of_a_missing_snapshot_is_none(rds: Any, name: str) -> None:
    seed(rds, name)
    assert KINDS[name].api(rds).describe("no-such-snapshot") is None


@pytest.mark.parametrize("name", KIND_NAMES)
def test_copy_starts_once_and_a_repeat_finds_it(rds: Any, kms_key: str, name: str) -> None:
    seed(rds, name)
    api = KINDS[name].api(rds)
    first = api.copy(SOURCE[name], "copy1", kms_key, {"Draco_Copy": "DR", "team": "a"})
    again = api.copy(SOURCE[name], "copy1", kms_key, {"Draco_Copy": "DR"})
    assert (first.copy_id, first.started, again.copy_id, again.started) == ("copy1", True, "copy1", False)
    assert first.arn == again.arn and parse_arn(first.arn) is not None
    copy = api.find_copy("copy1")
    assert copy is not None
    assert copy.tags == {"Draco_Copy": "DR", "team": "a"}
    assert copy.encrypted is True
    assert copy.source_name == DB[name]


def test_an_instance_copy_without_a_key_stays_unencrypted(rds: Any) -> None:
    seed(rds, "RDS")
    api = INSTANCE.api(rds)
    assert api.copy("snap1", "copy1", None, {}).started
    copy = api.describe("copy1")
    assert copy is not None and copy.encrypted is False


@pytest.mark.parametrize("name", KIND_NAMES)
def test_share_adds_the_account_to_restore_and_repeats_harmlessly(rds: Any, name: str) -> None:
    seed(rds, name)
    kind = KINDS[name]
    kind.api(rds).share(SOURCE[name], DR)
    kind.api(rds).share(SOURCE[name], DR)
    assert restore_accounts(rds, kind, SOURCE[name]) == {DR}


@pytest.mark.parametrize("name", KIND_NAMES)
def test_delete_removes_the_snapshot_and_returns_false_when_gone(rds: Any, name: str) -> None:
    seed(rds, name)
    api = KINDS[name].api(rds)
    assert api.delete(SOURCE[name]) is True
    assert api.describe(SOURCE[name]) is None
    assert api.delete(SOURCE[name]) is False


@pytest.mark.parametrize("name", KIND_NAMES)
def test_owned_and_recent_list_the_kind_and_no_other(rds: Any, kms_key: str, name: str) -> None:
    seed(rds, "RDS")
    seed(rds, "RDS Cluster")
    api = KINDS[name].api(rds)
    api.copy(SOURCE[name], "copy1", kms_key, {})
    listed = {s.snapshot_id: s for s in api.owned()}
    assert {SOURCE[name], "copy1"} <= set(listed)
    assert all(parse_arn(s.arn).kind == name for s in listed.values())  # type: ignore[union-attr]
    since = min(s.created for s in listed.values())
    assert {s.snapshot_id for s in api.recent(since)} == set(listed)
    assert list(api.recent(since + timedelta(days=1))) == []


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
    stub.add_response(operation, {list_key: [stub_item(name, "a"), stub_item(name, "b")], "Marker": "m1"}, {})
    stub.add_response(operation, {list_key: [stub_item(name, "c")], "Marker": "m2"}, {"Marker": "m1"})
    stub.add_response(operation, {list_key: [stub_item(name, "d")]}, {"Marker": "m2"})
    since = datetime(2026, 1, 1, tzinfo=UTC)
    assert [s.snapshot_id for s in KINDS[name].api(rds).recent(since)] == ["a", "b", "c", "d"]


@pytest.mark.parametrize("name", KIND_NAMES)
def test_list_of_an_empty_account_is_empty(stubbed_rds: tuple[Any, Stubber], name: str) -> None:
    rds, stub = stubbed_rds
    operation, list_key, *_ = PAGED[name]
    stub.add_response(operation, {list_key: []}, {})
    assert list(KINDS[name].api(rds).owned()) == []


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
    snapshot = INSTANCE.api(rds).describe("copy1")
    assert snapshot is not None
    assert (snapshot.created, snapshot.original_time, snapshot.encrypted, snapshot.size_gb, snapshot.tags) == (
        original,
        True,
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
    snapshot = CLUSTER.api(rds).describe("c1")
    assert snapshot is not None and snapshot.encrypted is True
    assert snapshot.created == datetime(2026, 1, 2, 3, 0, tzinfo=UTC) and not snapshot.original_time


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
    result_key, arn_field = KINDS[name].names.result_key, KINDS[name].names.arn_field
    stub.add_response(operation, {result_key: {arn_field: "arn:copy1"}}, expected)
    assert KINDS[name].api(rds).copy("arn:src", "copy1", key, {"t": "v"}).arn == "arn:copy1"


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
    stub.add_response(KINDS[name].names.describe, {KINDS[name].names.list_key: []}, None)
    assert KINDS[name].api(rds).copy("arn:src", "copy1", None, {}).started is False


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
    assert KINDS[name].api(rds).delete("gone") is False


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
    api = KINDS[name].api(rds)
    action = {
        "describe": lambda: api.describe("s1"),
        "copy": lambda: api.copy("arn:src", "copy1", None, {}),
        "delete": lambda: api.delete("s1"),
        "share": lambda: api.share("s1", DR),
    }[call]
    with pytest.raises(ClientError) as raised:
        action()
    assert raised.value.response["Error"]["Code"] == code


@pytest.mark.parametrize("name", KIND_NAMES)
def test_describe_many_answers_for_the_ids_that_exist_in_one_call(rds: Any, name: str) -> None:
    seed(rds, name)
    api = KINDS[name].api(rds)
    calls: list[str] = []
    rds.meta.events.register("before-send.rds.*", lambda event_name, **_: calls.append(event_name))
    found = api.describe_many([SOURCE[name], "not-there-1", SOURCE[name]])
    assert list(found) == [SOURCE[name]] and found[SOURCE[name]].source_name == DB[name]
    assert len(calls) == 1
    assert api.describe_many([]) == {}


@pytest.mark.parametrize("name", KIND_NAMES)
def test_quota_reads_the_kinds_manual_snapshot_quota(stubbed_rds: tuple[Any, Stubber], name: str) -> None:
    rds, stub = stubbed_rds
    quotas = [
        {"AccountQuotaName": "ManualSnapshots", "Used": 7, "Max": 100},
        {"AccountQuotaName": "ManualClusterSnapshots", "Used": 3, "Max": 50},
    ]
    stub.add_response("describe_account_attributes", {"AccountQuotas": quotas}, {})
    quota = KINDS[name].api(rds).quota()
    assert quota is not None and (quota.used, quota.max) == ((7, 100) if name == "RDS" else (3, 50))


@pytest.mark.parametrize("name", KIND_NAMES)
def test_shared_finds_only_a_snapshot_shared_with_this_account(stubbed_rds: tuple[Any, Stubber], name: str) -> None:
    rds, stub = stubbed_rds
    operation, list_key, *_ = PAGED[name]
    shared = stub_item(name, "draco-transit-s1", SnapshotType="shared")
    params = {"SnapshotType": "shared", "IncludeShared": True}
    stub.add_response(operation, {list_key: [stub_item(name, "other", SnapshotType="shared"), shared]}, params)
    stub.add_response(operation, {list_key: [shared]}, params)
    api = KINDS[name].api(rds)
    found = api.shared(shared[PAGED[name][3]])
    assert found is not None and (found.snapshot_id, found.owner) == ("draco-transit-s1", "111111111111")
    assert api.shared(shared[PAGED[name][3]].replace("s1", "s2")) is None


def test_rds_snapshots_cannot_be_locked(rds: Any) -> None:
    with pytest.raises(NotImplementedError):
        INSTANCE.api(rds).lock("snap1", 7, "governance")
