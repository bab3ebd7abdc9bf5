"""Per-source DR keys against moto's KMS: one key per source, found by its alias, rotated,
and a key policy that lets the consumer's role use the key for RDS only.

moto does not enforce key policies, so the policy is checked as a document here."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from chalicelib_shared.keys import SourceKeys, key_policy

REGION = "us-east-1"
MOTO_ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{MOTO_ACCOUNT}:role/draco-consumer-dev"
# What the consumer's role may do with a DR key, written from the design (copy under the key,
# let RDS hold grants on it), not from the module's constants.
ROLE_USE_ACTIONS = {"kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"}
ROLE_GRANT_ACTIONS = {"kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"}


@pytest.fixture
def clients(mocked_aws: None) -> Iterator[tuple[Any, Any]]:
    yield boto3.client("kms", region_name=REGION), boto3.client("sts", region_name=REGION)


def key_count(kms: Any) -> int:
    return len(kms.list_keys()["Keys"])


def actions(statement: dict[str, Any]) -> set[str]:
    value = statement["Action"]
    return {value} if isinstance(value, str) else set(value)


def statements_for(policy: dict[str, Any], principal: str) -> list[dict[str, Any]]:
    return [s for s in policy["Statement"] if s["Principal"] == {"AWS": principal}]


def test_create_creates_a_key_with_the_source_alias(clients: tuple[Any, Any]) -> None:
    kms, sts = clients
    assert key_count(kms) == 0
    arn = SourceKeys(kms, sts, ROLE).create("db1")
    assert kms.describe_key(KeyId="alias/DRACO-db1")["KeyMetadata"]["Arn"] == arn
    assert arn.startswith(f"arn:aws:kms:{REGION}:{MOTO_ACCOUNT}:key/")
    assert key_count(kms) == 1
    aliases = [a["AliasName"] for a in kms.list_aliases()["Aliases"] if a["AliasName"].startswith("alias/DRACO")]
    assert aliases == ["alias/DRACO-db1"]


def test_the_key_rotates_and_is_tagged_with_its_source(clients: tuple[Any, Any]) -> None:
    kms, sts = clients
    arn = SourceKeys(kms, sts, ROLE).create("db1")
    assert kms.get_key_rotation_status(KeyId=arn)["KeyRotationEnabled"] is True
    tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=arn)["Tags"]}
    assert tags == {"Draco_Source": "db1"}
    assert "db1" in kms.describe_key(KeyId=arn)["KeyMetadata"]["Description"]


def test_the_key_policy_lets_the_root_administer_and_the_role_only_use_it(clients: tuple[Any, Any]) -> None:
    kms, sts = clients
    arn = SourceKeys(kms, sts, ROLE).create("db1")
    policy = json.loads(kms.get_key_policy(KeyId=arn, PolicyName="default")["Policy"])
    root = statements_for(policy, f"arn:aws:iam::{MOTO_ACCOUNT}:root")
    assert len(root) == 1 and actions(root[0]) == {"kms:*"} and root[0]["Effect"] == "Allow"
    role = statements_for(policy, ROLE)
    assert all(s["Effect"] == "Allow" for s in role)
    assert set().union(*(actions(s) for s in role)) == ROLE_USE_ACTIONS | ROLE_GRANT_ACTIONS
    for statement in role:
        if actions(statement) & ROLE_GRANT_ACTIONS:
            assert statement["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}
            assert not actions(statement) & ROLE_USE_ACTIONS
        else:
            assert "Condition" not in statement
    assert len(root) + len(role) == len(policy["Statement"])  # nobody else is named


def test_without_a_role_only_the_root_is_in_the_policy() -> None:
    policy = key_policy("aws", MOTO_ACCOUNT, "")
    assert [s["Principal"] for s in policy["Statement"]] == [{"AWS": f"arn:aws:iam::{MOTO_ACCOUNT}:root"}]


def test_the_root_principal_is_in_the_roles_partition() -> None:
    """In aws-cn or aws-us-gov the root principal must be ``arn:aws-cn:iam::...`` (or -us-gov);
    key_policy always writes ``arn:aws:``, which KMS refuses there."""
    policy = key_policy("aws-cn", "222222222222", "arn:aws-cn:iam::222222222222:role/draco-consumer")
    principals = {s["Principal"]["AWS"] for s in policy["Statement"]}
    assert principals == {"arn:aws-cn:iam::222222222222:root", "arn:aws-cn:iam::222222222222:role/draco-consumer"}


def test_a_second_call_makes_no_new_key(clients: tuple[Any, Any]) -> None:
    kms, sts = clients
    keys = SourceKeys(kms, sts, ROLE)
    first = keys.create("db1")
    assert keys.create("db1") == first
    assert key_count(kms) == 1


def test_a_second_instance_finds_the_existing_key_by_alias(clients: tuple[Any, Any]) -> None:
    kms, sts = clients
    first = SourceKeys(kms, sts, ROLE).create("db1")
    assert SourceKeys(kms, sts, ROLE).create("db1") == first
    assert key_count(kms) == 1


def test_each_source_gets_its_own_key(clients: tuple[Any, Any]) -> None:
    kms, sts = clients
    keys = SourceKeys(kms, sts, ROLE)
    one, two = keys.create("db1"), keys.create("db2")
    assert one != two and key_count(kms) == 2
    assert kms.describe_key(KeyId="alias/DRACO-db2")["KeyMetadata"]["Arn"] == two


class LateKms:
    """KMS as a consumer sees it when another consumer creates the alias just after this
    one looked for it: the first describe_key by alias says NotFound."""

    def __init__(self, kms: Any) -> None:
        self._kms = kms
        self._missed = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._kms, name)

    def describe_key(self, **params: Any) -> Any:
        if not self._missed and params["KeyId"].startswith("alias/"):
            self._missed = True
            raise ClientError({"Error": {"Code": "NotFoundException", "Message": "gone"}}, "DescribeKey")
        return self._kms.describe_key(**params)


def test_the_loser_of_a_race_uses_the_winners_key(clients: tuple[Any, Any]) -> None:
    kms, sts = clients
    winner = SourceKeys(kms, sts, ROLE).create("db1")
    loser = SourceKeys(LateKms(kms), sts, ROLE).create("db1")
    assert loser == winner
    assert kms.describe_key(KeyId="alias/DRACO-db1")["KeyMetadata"]["Arn"] == winner
    assert key_count(kms) == 2  # the loser's spare key exists, unused


def test_other_kms_errors_are_raised(clients: tuple[Any, Any]) -> None:
    _, sts = clients

    class DeniedKms:
        def describe_key(self, **params: Any) -> Any:
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "DescribeKey")

    with pytest.raises(ClientError):
        SourceKeys(DeniedKms(), sts, ROLE).create("db1")
