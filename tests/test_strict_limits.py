"""Each AWS limit ``draco.world.moto_gaps.limits`` enforces: moto accepting first, then the strict world refusing."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws

from draco.world.moto_gaps import limits

REGION = "us-east-1"
INVALID = "InvalidParameterValue"


@pytest.fixture
def aws(aws_credentials: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto as it is; each test installs the limits itself after showing moto accept."""
    monkeypatch.delenv("MOTO_RDS_SNAPSHOT_LIMIT", raising=False)
    monkeypatch.delenv("MOTO_LAMBDA_CONCURRENCY_QUOTA", raising=False)
    with mock_aws():
        try:
            yield
        finally:
            limits.uninstall()


def refused(call: Callable[[], Any], code: str) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    assert caught.value.response["Error"]["Code"] == code
    return str(caught.value.response["Error"]["Message"])


def rds_cluster(rds: Any) -> None:
    rds.create_db_cluster(
        DBClusterIdentifier="c1", Engine="aurora-postgresql", MasterUsername="admin", MasterUserPassword="secret-pw-1"
    )


def rds_instance(rds: Any) -> None:
    rds.create_db_instance(
        DBInstanceIdentifier="db1",
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        MasterUsername="admin",
        MasterUserPassword="secret-pw-1",
    )


# --- identifiers --------------------------------------------------------------------------------------


def test_cluster_snapshot_ids_are_at_most_63_characters(aws: None) -> None:
    rds = boto3.client("rds", region_name=REGION)
    rds_cluster(rds)
    rds.create_db_cluster_snapshot(DBClusterIdentifier="c1", DBClusterSnapshotIdentifier="a" * 64)  # moto: fine
    limits.install()
    refused(
        lambda: rds.create_db_cluster_snapshot(DBClusterIdentifier="c1", DBClusterSnapshotIdentifier="b" * 64),
        "InvalidParameterValue",
    )
    refused(
        lambda: rds.copy_db_cluster_snapshot(
            SourceDBClusterSnapshotIdentifier="a" * 64, TargetDBClusterSnapshotIdentifier="c" * 64
        ),
        "InvalidParameterValue",
    )
    rds.create_db_cluster_snapshot(DBClusterIdentifier="c1", DBClusterSnapshotIdentifier="d" * 63)


def test_db_snapshot_ids_are_at_most_255_characters_and_plain_as_moto_already_says(aws: None) -> None:
    rds = boto3.client("rds", region_name=REGION)
    rds_instance(rds)
    refused(lambda: rds.create_db_snapshot(DBInstanceIdentifier="db1", DBSnapshotIdentifier="b" * 256), INVALID)
    limits.install()  # no gap: the strict world says the same
    for bad in ("b" * 256, "c--d", "e-", "1f", "g:h"):
        refused(lambda bad=bad: rds.create_db_snapshot(DBInstanceIdentifier="db1", DBSnapshotIdentifier=bad), INVALID)
    rds.create_db_snapshot(DBInstanceIdentifier="db1", DBSnapshotIdentifier="k" * 255)
    refused(
        lambda: rds.copy_db_snapshot(SourceDBSnapshotIdentifier="k" * 255, TargetDBSnapshotIdentifier="x" * 256),
        "InvalidParameterValue",
    )


# --- tags ---------------------------------------------------------------------------------------------


def tags(n: int, key_len: int = 8, value_len: int = 1) -> list[dict[str, str]]:
    return [{"Key": f"{i:0{key_len}d}", "Value": "v" * value_len} for i in range(n)]


def test_rds_resources_hold_at_most_50_tags_of_128_and_256_characters(aws: None) -> None:
    rds = boto3.client("rds", region_name=REGION)
    rds_instance(rds)
    arn = rds.create_db_snapshot(DBInstanceIdentifier="db1", DBSnapshotIdentifier="s1", Tags=tags(51))["DBSnapshot"][
        "DBSnapshotArn"
    ]
    rds.add_tags_to_resource(ResourceName=arn, Tags=tags(1, key_len=129, value_len=257))  # moto: fine
    limits.install()
    refused(
        lambda: rds.create_db_snapshot(DBInstanceIdentifier="db1", DBSnapshotIdentifier="s2", Tags=tags(51)),
        "TagQuotaPerResourceExceeded",
    )
    refused(lambda: rds.add_tags_to_resource(ResourceName=arn, Tags=tags(1, key_len=129)), INVALID)
    refused(lambda: rds.add_tags_to_resource(ResourceName=arn, Tags=tags(1, value_len=257)), INVALID)
    refused(lambda: rds.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": "rds:x", "Value": ""}]), INVALID)
    third = rds.create_db_snapshot(DBInstanceIdentifier="db1", DBSnapshotIdentifier="s3", Tags=tags(49))
    third_arn = third["DBSnapshot"]["DBSnapshotArn"]
    rds.add_tags_to_resource(ResourceName=third_arn, Tags=[{"Key": "k" * 128, "Value": "v" * 256}])  # the 50th
    refused(
        lambda: rds.add_tags_to_resource(ResourceName=third_arn, Tags=[{"Key": "one-more", "Value": ""}]),
        "TagQuotaPerResourceExceeded",
    )


def test_ec2_tag_keys_are_at_most_127_and_values_255_characters(aws: None) -> None:
    ec2 = boto3.client("ec2", region_name=REGION)
    volume = ec2.create_volume(Size=1, AvailabilityZone=f"{REGION}a")["VolumeId"]
    snapshot = ec2.create_snapshot(VolumeId=volume)["SnapshotId"]
    ec2.create_tags(Resources=[snapshot], Tags=[{"Key": "k" * 128, "Value": "v" * 256}])  # moto: fine
    ec2.copy_snapshot(
        SourceSnapshotId=snapshot,
        SourceRegion=REGION,
        TagSpecifications=[{"ResourceType": "snapshot", "Tags": [{"Key": "k" * 128, "Value": ""}]}],
    )  # moto: fine (moto counts tags itself: 51 it refuses)
    limits.install()
    refused(lambda: ec2.create_tags(Resources=[snapshot], Tags=[{"Key": "a" * 128, "Value": ""}]), INVALID)
    refused(lambda: ec2.create_tags(Resources=[snapshot], Tags=[{"Key": "a", "Value": "v" * 256}]), INVALID)
    refused(
        lambda: ec2.copy_snapshot(
            SourceSnapshotId=snapshot,
            SourceRegion=REGION,
            TagSpecifications=[{"ResourceType": "snapshot", "Tags": tags(51)}],
        ),
        "TagLimitExceeded",
    )
    ec2.create_tags(Resources=[snapshot], Tags=[{"Key": "b" * 127, "Value": "v" * 255}])


# --- quotas -------------------------------------------------------------------------------------------


def test_manual_snapshots_are_limited_per_kind_account_and_region(aws: None) -> None:
    rds = boto3.client("rds", region_name=REGION)
    rds_instance(rds)
    rds_cluster(rds)
    for i in range(limits.DEFAULT_SNAPSHOT_QUOTA + 1):  # moto's own default: 1,000
        rds.create_db_snapshot(DBInstanceIdentifier="db1", DBSnapshotIdentifier=f"s{i}")
    limits.install()
    refused(
        lambda: rds.create_db_snapshot(DBInstanceIdentifier="db1", DBSnapshotIdentifier="one-more"),
        "SnapshotQuotaExceeded",
    )
    refused(
        lambda: rds.copy_db_snapshot(SourceDBSnapshotIdentifier="s0", TargetDBSnapshotIdentifier="one-more"),
        "SnapshotQuotaExceeded",
    )
    # a copy that exists already is answered as such, whatever the quota: the kinds' idempotent copies rely on it
    refused(
        lambda: rds.copy_db_snapshot(SourceDBSnapshotIdentifier="s0", TargetDBSnapshotIdentifier="s1"),
        "DBSnapshotAlreadyExists",
    )
    rds.create_db_cluster_snapshot(DBClusterIdentifier="c1", DBClusterSnapshotIdentifier="another-kind")
    west = boto3.client("rds", region_name="us-west-2")
    west.create_db_cluster(
        DBClusterIdentifier="c2", Engine="aurora-postgresql", MasterUsername="admin", MasterUserPassword="secret-pw-1"
    )
    west.create_db_cluster_snapshot(DBClusterIdentifier="c2", DBClusterSnapshotIdentifier="another-region")


def test_reserving_lambda_concurrency_keeps_the_unreserved_floor(aws: None) -> None:
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lam = boto3.client("lambda", region_name=REGION)
    lam.create_function(
        FunctionName="poll_jobs", Runtime="python3.11", Role=role, Handler="app.handler", Code={"ZipFile": b"x"}
    )
    lam.put_function_concurrency(FunctionName="poll_jobs", ReservedConcurrentExecutions=1)  # moto: fine
    lam.delete_function_concurrency(FunctionName="poll_jobs")
    limits.install()
    message = refused(
        lambda: lam.put_function_concurrency(FunctionName="poll_jobs", ReservedConcurrentExecutions=1),
        "InvalidParameterValueException",
    )
    assert "[10]" in message  # a new account's quota of 10 is all unreserved
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MOTO_LAMBDA_CONCURRENCY_QUOTA", "1000")  # AWS's usual default keeps 100 unreserved
        lam.put_function_concurrency(FunctionName="poll_jobs", ReservedConcurrentExecutions=900)
        refused(
            lambda: lam.put_function_concurrency(FunctionName="poll_jobs", ReservedConcurrentExecutions=901),
            "InvalidParameterValueException",
        )


def test_dynamodb_items_over_400_kb_are_refused_by_moto_itself(aws: None) -> None:
    ddb = boto3.client("dynamodb", region_name=REGION)
    ddb.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    refused(
        lambda: ddb.put_item(TableName="t", Item={"k": {"S": "a"}, "v": {"S": "x" * 410_000}}), "ValidationException"
    )


# --- policy sizes -------------------------------------------------------------------------------------


def policy(n_resources: int) -> str:
    statement = {
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": [f"arn:aws:s3:::b{i:05d}/*" for i in range(n_resources)],
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]}, indent=4)


def test_a_roles_inline_policies_together_are_at_most_10240_characters_without_white_space(aws: None) -> None:
    iam = boto3.client("iam", region_name=REGION)
    iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")
    iam.put_role_policy(RoleName="r", PolicyName="big", PolicyDocument=policy(600))  # moto: fine
    iam.delete_role_policy(RoleName="r", PolicyName="big")
    limits.install()
    half = policy(205)
    assert 4_900 < limits.iam_size(half) < 5_120 < len(half)  # white space doesn't count
    iam.put_role_policy(RoleName="r", PolicyName="one", PolicyDocument=half)
    iam.put_role_policy(RoleName="r", PolicyName="two", PolicyDocument=half)
    iam.put_role_policy(RoleName="r", PolicyName="two", PolicyDocument=half)  # replacing one isn't adding
    refused(lambda: iam.put_role_policy(RoleName="r", PolicyName="three", PolicyDocument=policy(10)), "LimitExceeded")


def test_managed_policies_are_at_most_6144_and_trust_policies_2048_characters(aws: None) -> None:
    iam = boto3.client("iam", region_name=REGION)
    iam.create_policy(PolicyName="big", PolicyDocument=policy(300))  # moto: fine
    limits.install()
    refused(lambda: iam.create_policy(PolicyName="bigger", PolicyDocument=policy(300)), "LimitExceeded")
    iam.create_policy(PolicyName="fits", PolicyDocument=policy(200))
    refused(lambda: iam.create_role(RoleName="r", AssumeRolePolicyDocument=policy(100)), "LimitExceeded")


def test_key_policies_are_at_most_32_kb_and_topic_policies_30_kb(aws: None) -> None:
    once = Config(retries={"total_max_attempts": 1})  # botocore retries LimitExceededException as throttling
    kms = boto3.client("kms", region_name=REGION, config=once)
    sns = boto3.client("sns", region_name=REGION)
    topic = sns.create_topic(Name="t")["TopicArn"]
    big = policy(1_500)
    assert len(big.encode()) > limits.KEY_POLICY
    key = kms.create_key(Policy=big)["KeyMetadata"]["KeyId"]  # moto: fine
    sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=big)  # moto: fine
    limits.install()
    refused(lambda: kms.create_key(Policy=big), "LimitExceededException")
    refused(lambda: kms.put_key_policy(KeyId=key, PolicyName="default", Policy=big), "LimitExceededException")
    refused(
        lambda: sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=big), "InvalidParameter"
    )
    refused(lambda: sns.create_topic(Name="u", Attributes={"Policy": policy(1_100)}), "InvalidParameter")
    assert len(policy(600).encode()) < limits.TOPIC_POLICY < limits.KEY_POLICY
    kms.put_key_policy(KeyId=key, PolicyName="default", Policy=policy(600))
    sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=policy(600))


def test_uninstall_gives_moto_back_its_leniency(aws: None) -> None:
    limits.install()
    limits.install()
    limits.uninstall()
    limits.uninstall()
    rds = boto3.client("rds", region_name=REGION)
    rds_cluster(rds)
    rds.create_db_cluster_snapshot(DBClusterIdentifier="c1", DBClusterSnapshotIdentifier="a" * 64)
