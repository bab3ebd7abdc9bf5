"""Each gap ``draco.world.moto_gaps`` fills: moto's own answer first (the gap), then the filled one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
import time_machine
from botocore.exceptions import ClientError
from moto import mock_aws

from draco.world import moto_gaps
from draco.world.moto_gaps import sns as moto_sns

PROD, DR, REGION = "111111111111", "222222222222", "us-east-1"
DR_REGION = "us-west-2"


def client(service: str, account: str, region: str = REGION) -> Any:
    made = boto3.client(service, region_name=region)
    made.meta.events.register(
        "before-sign.*.*", lambda request, **_: request.headers.__setitem__("x-moto-account-id", account)
    )
    return made


@pytest.fixture
def aws(aws_credentials: None) -> Iterator[None]:
    """moto without its gaps filled; each test installs the fills itself, after showing the gap."""
    with mock_aws():
        try:
            yield
        finally:
            moto_gaps.uninstall()


# --- RDS ------------------------------------------------------------------------------------


def rds_snapshot(rds: Any, snapshot_id: str = "snap1") -> str:
    if not rds.describe_db_instances()["DBInstances"]:
        rds.create_db_instance(
            DBInstanceIdentifier="db1",
            Engine="postgres",
            DBInstanceClass="db.t3.micro",
            AllocatedStorage=20,
            MasterUsername="admin",
            MasterUserPassword="not-a-secret-1",
        )
    return rds.create_db_snapshot(DBInstanceIdentifier="db1", DBSnapshotIdentifier=snapshot_id)["DBSnapshot"][
        "DBSnapshotArn"
    ]


def test_1_rds_copy_of_a_snapshot_shared_from_another_account(aws: None) -> None:
    prod, dr = client("rds", PROD), client("rds", DR)
    shared, unshared = rds_snapshot(prod, "shared"), rds_snapshot(prod, "unshared")
    prod.modify_db_snapshot_attribute(DBSnapshotIdentifier="shared", AttributeName="restore", ValuesToAdd=[DR])
    with pytest.raises(ClientError, match="DBSnapshotNotFound"):
        dr.copy_db_snapshot(SourceDBSnapshotIdentifier=shared, TargetDBSnapshotIdentifier="copy")
    moto_gaps.install()
    dr.copy_db_snapshot(SourceDBSnapshotIdentifier=shared, TargetDBSnapshotIdentifier="copy")
    assert dr.describe_db_snapshots(DBSnapshotIdentifier="copy")["DBSnapshots"]
    with pytest.raises(ClientError, match="DBSnapshotNotFound"):
        dr.copy_db_snapshot(SourceDBSnapshotIdentifier=unshared, TargetDBSnapshotIdentifier="copy2")


def test_1b_rds_copy_of_a_shared_snapshot_into_another_region(aws: None) -> None:
    """DR copies a DB instance snapshot production shared straight into its own Region (one step);
    a DB cluster snapshot of its own from another Region (the relay step) moto copies itself."""
    prod, dr_west = client("rds", PROD), client("rds", DR, DR_REGION)
    shared = rds_snapshot(prod, "shared")
    prod.modify_db_snapshot_attribute(DBSnapshotIdentifier="shared", AttributeName="restore", ValuesToAdd=[DR])
    with pytest.raises(ClientError, match="DBSnapshotNotFound"):
        dr_west.copy_db_snapshot(
            SourceDBSnapshotIdentifier=shared, TargetDBSnapshotIdentifier="copy", SourceRegion=REGION
        )
    moto_gaps.install()
    made = dr_west.copy_db_snapshot(
        SourceDBSnapshotIdentifier=shared, TargetDBSnapshotIdentifier="copy", SourceRegion=REGION
    )["DBSnapshot"]
    assert made["DBSnapshotArn"] == f"arn:aws:rds:{DR_REGION}:{DR}:snapshot:copy"
    assert client("rds", DR).describe_db_snapshots()["DBSnapshots"] == []  # nothing in the source Region
    with pytest.raises(ClientError, match="DBSnapshotNotFound"):  # not shared: still refused
        dr_west.copy_db_snapshot(
            SourceDBSnapshotIdentifier=rds_snapshot(prod, "unshared"), TargetDBSnapshotIdentifier="copy2",
            SourceRegion=REGION,
        )  # fmt: skip
    dr_east = client("rds", DR, REGION)
    dr_east.create_db_cluster(
        DBClusterIdentifier="c1",
        Engine="aurora-postgresql",
        MasterUsername="admin",
        MasterUserPassword="not-a-secret-1",
    )
    relay = dr_east.create_db_cluster_snapshot(DBClusterIdentifier="c1", DBClusterSnapshotIdentifier="relay")
    dr_west.copy_db_cluster_snapshot(
        SourceDBClusterSnapshotIdentifier=relay["DBClusterSnapshot"]["DBClusterSnapshotArn"],
        TargetDBClusterSnapshotIdentifier="final",
        SourceRegion=REGION,
    )
    assert dr_west.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier="final")["DBClusterSnapshots"]


def test_2_rds_describe_returns_pages(aws: None) -> None:
    rds = client("rds", PROD)
    for n in range(25):
        rds_snapshot(rds, f"snap{n}")
    gap = rds.describe_db_snapshots(SnapshotType="manual", MaxRecords=20)
    assert len(gap["DBSnapshots"]) == 25 and "Marker" not in gap
    moto_gaps.install()
    first = rds.describe_db_snapshots(SnapshotType="manual", MaxRecords=20)
    second = rds.describe_db_snapshots(SnapshotType="manual", MaxRecords=20, Marker=first["Marker"])
    assert (len(first["DBSnapshots"]), len(second["DBSnapshots"]), "Marker" in second) == (20, 5, False)


def test_3_rds_account_attributes_report_the_snapshot_quotas(aws: None) -> None:
    rds = client("rds", PROD)
    rds_snapshot(rds)
    with pytest.raises(NotImplementedError):
        rds.describe_account_attributes()
    moto_gaps.install()
    quotas = {q["AccountQuotaName"]: q for q in rds.describe_account_attributes()["AccountQuotas"]}
    assert quotas["ManualSnapshots"]["Used"] == 1 and quotas["ManualSnapshots"]["Max"] > 1
    assert quotas["ManualClusterSnapshots"]["Used"] == 0


# --- EBS ------------------------------------------------------------------------------------


def ebs_snapshot(ec2: Any, tags: dict[str, str] | None = None) -> str:
    volume = ec2.create_volume(Size=8, AvailabilityZone=f"{REGION}a")["VolumeId"]
    spec = [{"ResourceType": "snapshot", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}] if tags else []
    return ec2.create_snapshot(VolumeId=volume, TagSpecifications=spec)["SnapshotId"]


def share(ec2: Any, snapshot_id: str, account: str) -> None:
    ec2.modify_snapshot_attribute(
        SnapshotId=snapshot_id, Attribute="createVolumePermission", OperationType="add", UserIds=[account]
    )


def test_4_ebs_copy_of_a_snapshot_shared_from_another_account(aws: None) -> None:
    prod, dr = client("ec2", PROD), client("ec2", DR)
    shared, unshared = ebs_snapshot(prod), ebs_snapshot(prod)
    share(prod, shared, DR)
    with pytest.raises(ClientError, match="InvalidSnapshot.NotFound"):
        dr.copy_snapshot(SourceSnapshotId=shared, SourceRegion=REGION)
    moto_gaps.install()
    key = client("kms", DR).create_key()["KeyMetadata"]["Arn"]
    copy = dr.copy_snapshot(SourceSnapshotId=shared, SourceRegion=REGION, Encrypted=True, KmsKeyId=key)
    (item,) = dr.describe_snapshots(SnapshotIds=[copy["SnapshotId"]])["Snapshots"]
    assert (item["OwnerId"], item["VolumeId"], item["VolumeSize"], item["Encrypted"]) == (DR, "vol-ffffffff", 8, True)
    with pytest.raises(ClientError, match="InvalidSnapshot.NotFound"):
        dr.copy_snapshot(SourceSnapshotId=unshared, SourceRegion=REGION)


def test_4b_ebs_copy_of_a_shared_snapshot_into_another_region(aws: None) -> None:
    prod, dr_west = client("ec2", PROD), client("ec2", DR, DR_REGION)
    shared = ebs_snapshot(prod)
    share(prod, shared, DR)
    with pytest.raises(ClientError, match="InvalidSnapshot.NotFound"):
        dr_west.copy_snapshot(SourceSnapshotId=shared, SourceRegion=REGION)
    moto_gaps.install()
    copy_id = dr_west.copy_snapshot(SourceSnapshotId=shared, SourceRegion=REGION)["SnapshotId"]
    (item,) = dr_west.describe_snapshots(OwnerIds=["self"])["Snapshots"]
    assert (item["SnapshotId"], item["OwnerId"], item["State"]) == (copy_id, DR, "completed")
    assert client("ec2", DR).describe_snapshots(OwnerIds=["self"])["Snapshots"] == []


def test_5a_ebs_describe_snapshots_of_self_leaves_out_public_snapshots(public_amis: None, aws: None) -> None:
    """moto's public snapshots (one per AMI it knows) come back for OwnerIds=["self"]."""
    prod = client("ec2", PROD)
    own = ebs_snapshot(prod)
    gap = prod.describe_snapshots(OwnerIds=["self"])["Snapshots"]
    assert len(gap) > 1000
    moto_gaps.install()
    assert [s["SnapshotId"] for s in prod.describe_snapshots(OwnerIds=["self"])["Snapshots"]] == [own]


def test_5b_ebs_describe_snapshots_shows_what_is_shared_without_the_owners_tags(aws: None) -> None:
    prod, dr = client("ec2", PROD), client("ec2", DR)
    shared, unshared = ebs_snapshot(prod, {"secret": "tag"}), ebs_snapshot(prod)
    share(prod, shared, DR)
    assert dr.describe_snapshots(RestorableByUserIds=["self"])["Snapshots"] == []
    moto_gaps.install()
    (seen,) = dr.describe_snapshots(OwnerIds=[PROD], RestorableByUserIds=["self"])["Snapshots"]
    assert (seen["SnapshotId"], seen["OwnerId"], seen["Tags"]) == (shared, PROD, [])
    assert dr.describe_snapshots(OwnerIds=["self"])["Snapshots"] == []
    assert dr.describe_snapshots(Filters=[{"Name": "tag:secret", "Values": ["tag"]}])["Snapshots"] == []
    assert prod.describe_snapshots(SnapshotIds=[shared])["Snapshots"][0]["Tags"] == [{"Key": "secret", "Value": "tag"}]
    with pytest.raises(ClientError, match="InvalidSnapshot.NotFound"):
        dr.describe_snapshots(SnapshotIds=[unshared])


def test_6_ebs_snapshot_lock_keeps_a_snapshot_until_it_expires(aws: None) -> None:
    dr = client("ec2", DR)
    snapshot_id = ebs_snapshot(dr)
    with pytest.raises(NotImplementedError):
        dr.lock_snapshot(SnapshotId=snapshot_id, LockMode="governance", LockDuration=1)
    moto_gaps.install()
    with time_machine.travel("2026-01-01T00:00:00Z", tick=False) as traveller:
        locked = dr.lock_snapshot(SnapshotId=snapshot_id, LockMode="compliance", LockDuration=2)
        assert (locked["LockState"], locked["LockDuration"]) == ("compliance", 2)
        with pytest.raises(ClientError, match="SnapshotLocked"):
            dr.delete_snapshot(SnapshotId=snapshot_id)
        with pytest.raises(ClientError, match="InvalidParameterValue"):  # compliance: extend only
            dr.lock_snapshot(SnapshotId=snapshot_id, LockMode="compliance", LockDuration=1)
        assert [s["SnapshotId"] for s in dr.describe_locked_snapshots()["Snapshots"]] == [snapshot_id]
        traveller.shift(timedelta(days=2, seconds=1))
        (expired,) = dr.describe_locked_snapshots(SnapshotIds=[snapshot_id])["Snapshots"]
        assert expired["LockState"] == "expired"
        dr.delete_snapshot(SnapshotId=snapshot_id)
    assert dr.describe_snapshots(OwnerIds=["self"])["Snapshots"] == []


def test_7_ebs_copy_under_a_key_of_another_region_fails(aws: None) -> None:
    dr_east, dr_west = client("ec2", DR), client("ec2", DR, DR_REGION)
    snapshot_id = ebs_snapshot(dr_east)
    east_key = client("kms", DR).create_key()["KeyMetadata"]["Arn"]
    west_key = client("kms", DR, DR_REGION).create_key()["KeyMetadata"]["Arn"]

    def copy(key: str) -> str:
        made = dr_west.copy_snapshot(SourceSnapshotId=snapshot_id, SourceRegion=REGION, Encrypted=True, KmsKeyId=key)
        return str(dr_west.describe_snapshots(SnapshotIds=[made["SnapshotId"]])["Snapshots"][0]["State"])

    assert copy(east_key) == "completed"
    moto_gaps.install()
    assert (copy(east_key), copy("alias/nowhere"), copy(west_key)) == ("error", "error", "completed")


def test_8_rds_cluster_snapshot_copy_names_its_source(aws: None) -> None:
    rds = client("rds", PROD)
    rds.create_db_cluster(
        DBClusterIdentifier="c", Engine="aurora-postgresql", MasterUsername="admin", MasterUserPassword="not-a-secret-1"
    )
    source = rds.create_db_cluster_snapshot(DBClusterIdentifier="c", DBClusterSnapshotIdentifier="s1")
    arn = source["DBClusterSnapshot"]["DBClusterSnapshotArn"]

    def copied_from(target: str) -> str | None:
        rds.copy_db_cluster_snapshot(SourceDBClusterSnapshotIdentifier=arn, TargetDBClusterSnapshotIdentifier=target)
        found = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=target)["DBClusterSnapshots"][0]
        return found.get("SourceDBClusterSnapshotArn")

    assert copied_from("before") is None
    moto_gaps.install()
    assert copied_from("after") == arn


def test_install_twice_and_uninstall_restore_moto(aws: None) -> None:
    moto_gaps.install()
    moto_gaps.install()
    moto_gaps.uninstall()
    with pytest.raises(NotImplementedError):
        client("ec2", DR).lock_snapshot(SnapshotId="snap-0123456789abcdef0", LockMode="governance", LockDuration=1)


# --- SNS across accounts ----------------------------------------------------------------------


def inbox_with_policy(condition: dict[str, Any]) -> str:
    sqs = client("sqs", DR)
    url = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    arn = f"arn:aws:sqs:{REGION}:{DR}:inbox"
    policy = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": arn,
                "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:sns:{REGION}:*:out"}, **condition},
            }
        ]
    }
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    return url


def publish_from(account: str, url: str) -> list[str]:
    """Account ``account`` subscribes the DR queue to its topic ``out`` and publishes; the queue's topic ARNs."""
    sns = client("sns", account)
    topic = sns.create_topic(Name="out")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=f"arn:aws:sqs:{REGION}:{DR}:inbox")
    sns.publish(TopicArn=topic, Message="hello")
    received = client("sqs", DR).receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"])["TopicArn"] for m in received]


def test_9_sns_delivers_to_a_queue_of_another_account_as_its_policy_allows(aws: None) -> None:
    url = inbox_with_policy({"StringEquals": {"aws:SourceOrgID": "o-a1b2c3d4e5"}})
    with pytest.raises(ClientError, match="NonExistentQueue"):  # moto looks for the queue in PROD
        publish_from(PROD, url)
    moto_gaps.install()
    assert publish_from(PROD, url) == []  # PROD is in no Organization: the policy refuses it
    moto_sns.ORGANIZATIONS[PROD] = ("o-a1b2c3d4e5", "o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/")
    try:
        assert publish_from(PROD, url) == [f"arn:aws:sns:{REGION}:{PROD}:out"]  # the topic's ARN, as SNS sets it
    finally:
        moto_sns.ORGANIZATIONS.clear()


def test_10_publishing_to_another_account_s_topic_needs_its_policy(aws: None) -> None:
    topic = client("sns", PROD).create_topic(Name="own")["TopicArn"]
    client("sns", DR).publish(TopicArn=topic, Message="moto lets anyone publish")
    moto_gaps.install()
    with pytest.raises(ClientError, match="AuthorizationError"):
        client("sns", DR).publish(TopicArn=topic, Message="refused")
    policy = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{DR}:root"},
                             "Action": "sns:Publish", "Resource": topic}]}  # fmt: skip
    client("sns", PROD).set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps(policy))
    client("sns", DR).publish(TopicArn=topic, Message="allowed")


# --- DynamoDB -------------------------------------------------------------------------------


def jobs_table() -> Any:
    from chalicelib_shared.job_table import table_definition

    ddb = boto3.resource("dynamodb", region_name=REGION)
    return ddb.create_table(**table_definition("jobs"))


def due_ids(table: Any) -> list[str]:
    from boto3.dynamodb.conditions import Key

    found = table.query(IndexName="due", KeyConditionExpression=Key("active").eq("1") & Key("due").lte("9"))
    return [item["job_id"] for item in found["Items"]]


def test_8a_dynamodb_index_query_reads_its_partition_only(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.dynamodb.models.table import Table

    table = jobs_table()
    for n in range(30):
        table.put_item(Item={"job_id": f"old{n:02}", "state": "done"})  # history: in no partition of "due"
    table.put_item(Item={"job_id": "a", "active": "1", "due": "2"})
    table.put_item(Item={"job_id": "b", "active": "1", "due": "1"})
    read: list[int] = []
    every = Table.all_items
    monkeypatch.setattr(Table, "all_items", lambda self: read.append(len(every(self))) or every(self))
    assert due_ids(table) == ["b", "a"]
    assert read == [32]  # the gap: moto reads (and sorts) every item of the table for an index Query
    moto_gaps.install()
    read.clear()
    assert due_ids(table) == ["b", "a"]
    table.update_item(Key={"job_id": "b"}, UpdateExpression="REMOVE active")  # leaves the partition
    table.put_item(Item={"job_id": "c", "active": "1", "due": "0"})  # enters it
    table.delete_item(Key={"job_id": "a"})
    table.put_item(Item={"job_id": "old00", "active": "1", "due": "3"})  # a done item made due again
    assert due_ids(table) == ["c", "old00"]
    assert read == []  # the fill: only the partition's items reach moto's Query


def test_8b_dynamodb_transaction_backs_up_the_items_it_names(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    import copy

    from moto.dynamodb.models.table import Table

    table = jobs_table()
    for n in range(20):
        table.put_item(Item={"job_id": f"old{n:02}", "state": "done"})
    table.put_item(Item={"job_id": "a", "active": "1", "due": "1", "version": 1})
    client = table.meta.client  # the resource's client: plain values, as the job table writes them
    copied: list[str] = []
    deepcopy = copy.deepcopy

    def counted(x: Any, memo: Any = None) -> Any:
        made = deepcopy(x, memo)
        copied.extend(["Table"] if isinstance(x, Table) and made is not x else [])
        return made

    monkeypatch.setattr(copy, "deepcopy", counted)

    def cancelled() -> None:
        with pytest.raises(ClientError, match="TransactionCanceled"):
            client.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": "jobs", "Item": {"job_id": "a", "state": "moved"}}},
                    {"Put": {"TableName": "jobs", "Item": {"job_id": "new", "active": "1", "due": "0"}}},
                    {
                        "Update": {
                            "TableName": "jobs",
                            "Key": {"job_id": "old00"},
                            "UpdateExpression": "SET #v = :v",
                            "ConditionExpression": "attribute_exists(nothing)",
                            "ExpressionAttributeNames": {"#v": "version"},
                            "ExpressionAttributeValues": {":v": 2},
                        }
                    },
                ]
            )

    cancelled()
    assert "Table" in copied  # the gap: moto deep-copies the whole table to back a transaction up
    moto_gaps.install()
    assert due_ids(table) == ["a"]
    copied.clear()
    cancelled()
    assert "Table" not in copied  # the fill backs up the three items named, and puts them back
    assert table.get_item(Key={"job_id": "a"})["Item"] == {"job_id": "a", "active": "1", "due": "1", "version": 1}
    assert "Item" not in table.get_item(Key={"job_id": "new"})
    assert due_ids(table) == ["a"]
    client.transact_write_items(
        TransactItems=[{"Put": {"TableName": "jobs", "Item": {"job_id": "a", "state": "done"}}}]
    )
    assert due_ids(table) == []


def test_8c_dynamodb_item_reads_are_answered_as_the_json_they_are(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from decimal import Decimal

    from moto.core import serialize

    table = jobs_table()
    table.put_item(Item={"job_id": "a", "active": "1", "due": "1", "n": 3, "tags": {"k": "v"}, "ids": {"x", "y"}})
    table.put_item(Item={"job_id": "b", "blob": b"\x00\x01"})
    walked: list[str] = []
    every = serialize.JSONSerializer.serialize
    monkeypatch.setattr(serialize.JSONSerializer, "serialize", lambda self, r: walked.append("x") or every(self, r))

    def reads() -> list[Any]:
        batch = table.meta.client.batch_get_item(RequestItems={"jobs": {"Keys": [{"job_id": "a"}]}})
        return [due_ids(table), table.get_item(Key={"job_id": "a"})["Item"], batch["Responses"]["jobs"]]

    before = reads()
    assert len(walked) == 3  # the gap: every read's answer is walked member by member through the model
    assert before[1]["n"] == Decimal(3) and before[1]["ids"] == {"x", "y"}
    moto_gaps.install()
    walked.clear()
    assert reads() == before  # the fill: the same answers, as the JSON moto made them
    assert walked == []
    assert table.get_item(Key={"job_id": "b"})["Item"]["blob"].value == b"\x00\x01"  # bytes, whichever way
