"""Per-source DR keys: one KMS key per source, only the DR account holds it.

Found by alias (``alias/DRACO-<source>``, one DescribeKey call) or created with
rotation on. The alias is made last, so any key found through its alias is
complete. Two consumers racing to create the same key: the loser's alias call
fails, it uses the winner's key and logs the id of the spare key it made.
The consumer creates a key only for a source of which it has verified a shared
transit copy, and at most ``KEY_CAP`` a day per source account (``consumer``).
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from chalicelib_shared.log import logger
from chalicelib_shared.naming import SOURCE_NAME_TAG, key_alias

COPY_ACTIONS = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
GRANT_ACTIONS = ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"]


def key_policy(partition: str, account: str, consumer_role_arn: str) -> dict[str, Any]:
    """The DR account's root administers; the consumer's role only uses the key for RDS."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "DRAccountAdministersTheKey",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:{partition}:iam::{account}:root"},
            "Action": "kms:*",
            "Resource": "*",
        }
    ]
    if consumer_role_arn:
        statements += [
            {
                "Sid": "ConsumerEncryptsDRCopies",
                "Effect": "Allow",
                "Principal": {"AWS": consumer_role_arn},
                "Action": COPY_ACTIONS,
                "Resource": "*",
            },
            {
                "Sid": "ConsumerLetsRDSUseTheKey",
                "Effect": "Allow",
                "Principal": {"AWS": consumer_role_arn},
                "Action": GRANT_ACTIONS,
                "Resource": "*",
                "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
            },
        ]
    return {"Version": "2012-10-17", "Statement": statements}


class SourceKeys:
    """Finds or creates the DR key of a source.

    Not remembered between invocations: one DescribeKey per new snapshot is cheap,
    and a key ARN remembered from an earlier account (a test's previous world) would
    be wrong.
    """

    def __init__(self, kms: Any, sts: Any, consumer_role_arn: str) -> None:
        self._kms = kms
        self._sts = sts
        self._role = consumer_role_arn

    def find(self, source_name: str) -> str | None:
        return self._find(key_alias(source_name))

    def create(self, source_name: str) -> str:
        alias = key_alias(source_name)
        return self._find(alias) or self._create(alias, source_name)

    def _find(self, alias: str) -> str | None:
        try:
            return self._kms.describe_key(KeyId=alias)["KeyMetadata"]["Arn"]
        except ClientError as err:
            if err.response["Error"]["Code"] == "NotFoundException":
                return None
            raise

    def _create(self, alias: str, source_name: str) -> str:
        caller = self._sts.get_caller_identity()
        partition = caller["Arn"].split(":")[1]
        # The lockout check guards against a policy that locks the account out; this one
        # gives the account root kms:*, so it is skipped (and the consumer needs no PutKeyPolicy).
        key = self._kms.create_key(
            Policy=json.dumps(key_policy(partition, caller["Account"], self._role)),
            BypassPolicyLockoutSafetyCheck=True,
            Description=f"DRACO: DR copies of source {source_name}",
            Tags=[{"TagKey": SOURCE_NAME_TAG, "TagValue": source_name}],
        )["KeyMetadata"]
        self._kms.enable_key_rotation(KeyId=key["KeyId"])
        try:
            self._kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
        except ClientError as err:
            if err.response["Error"]["Code"] != "AlreadyExistsException":
                raise
            logger.warning("lost a race to create a DR key; the spare key is unused", alias=alias, spare_key=key["Arn"])
            return self._find(alias) or key["Arn"]
        logger.info("created DR key", alias=alias, key=key["Arn"])
        return key["Arn"]
