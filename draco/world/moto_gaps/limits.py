"""AWS's documented limits that DRACO can hit and moto doesn't enforce: the strict local AWS.

moto accepts what AWS refuses: a 64-character cluster snapshot id, a 51st tag,
a 20 KB inline role policy. A deployment tested only against moto would then
fail on its first real account. ``install`` makes moto refuse each of these as
AWS does, with AWS's error code, before moto's own handler runs; each limit
below names the AWS page it is read from. ``tests/test_strict_limits.py``
shows moto accepting and the strict world refusing, for every one.

Sizes of policies are counted as AWS counts them: IAM leaves white space out,
KMS and SNS count the document's bytes. Where AWS lets an account raise a quota
(manual snapshots, Lambda concurrency), the quota is a setting of the world:
``MOTO_RDS_SNAPSHOT_LIMIT`` and ``MOTO_LAMBDA_CONCURRENCY_QUOTA`` (moto's own
names), else AWS's default for a new account.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from moto.awslambda.exceptions import InvalidParameterValueException
from moto.awslambda.models import LambdaBackend
from moto.core.exceptions import ServiceException
from moto.core.model import ServiceModel
from moto.core.parse import PROTOCOL_PARSERS
from moto.core.request import determine_request_protocol
from moto.core.responses import ActionResult, BaseResponse
from moto.core.utils import get_service_model


class _AwsError(ServiceException):
    """Refused's answer on the wire (a class of this module: moto then serialises it as the service's)."""


class Refused(Exception):
    """AWS's answer to a request over a limit: its error code and message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# --- the limits, each with its AWS source ---------------------------------------------------
#: RDS identifiers: letters, digits, hyphens; a letter first; no "--", no trailing "-".
#: DBSnapshotIdentifier (CreateDBSnapshot, CopyDBSnapshot's target): 1-255,
#: https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CopyDBSnapshot.html
#: DBClusterSnapshotIdentifier (CreateDBClusterSnapshot, CopyDBClusterSnapshot's target): 1-63,
#: https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CopyDBClusterSnapshot.html
#: DBInstanceIdentifier, DBClusterIdentifier: 1-63,
#: https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBCluster.html
RDS_IDENTIFIER = re.compile(r"[A-Za-z](?!.*--)[A-Za-z0-9-]*(?<!-)")
RDS_ID_LIMITS = {
    "CreateDBSnapshot": ("DBSnapshotIdentifier", 255),
    "CopyDBSnapshot": ("TargetDBSnapshotIdentifier", 255),
    "CreateDBClusterSnapshot": ("DBClusterSnapshotIdentifier", 63),
    "CopyDBClusterSnapshot": ("TargetDBClusterSnapshotIdentifier", 63),
    "CreateDBInstance": ("DBInstanceIdentifier", 63),
    "CreateDBCluster": ("DBClusterIdentifier", 63),
}
#: RDS tags: 50 per resource, keys 1-128 and values 0-256 characters, no ``aws:`` or ``rds:`` prefix.
#: https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_Tagging.html
#: EC2 tags: 50 per resource, keys 1-127 and values 0-255 characters, no ``aws:`` prefix.
#: https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/Using_Tags.html#tag-restrictions
TAGS_PER_RESOURCE = 50
RDS_TAG = (128, 256, ("aws:", "rds:"))
EC2_TAG = (127, 255, ("aws:",))
#: Manual DB instance snapshots and manual DB cluster snapshots: 100 each per account and Region
#: by default (adjustable). https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Limits.html
DEFAULT_SNAPSHOT_QUOTA = 100
#: IAM: a role's inline policies together at most 10,240 characters, a managed policy 6,144, a
#: role trust policy 2,048 (default); white space not counted.
#: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
ROLE_INLINE_POLICIES = 10_240
MANAGED_POLICY = 6_144
TRUST_POLICY = 2_048
#: KMS key policy document: 32 KB (32,768 bytes).
#: https://docs.aws.amazon.com/kms/latest/developerguide/resource-limits.html#key-policy-limit
KEY_POLICY = 32_768
#: SNS topic policy: 30 KB.
#: https://docs.aws.amazon.com/sns/latest/dg/sns-access-policy-language-api-permissions-reference.html
TOPIC_POLICY = 30 * 1024
#: Lambda keeps unreserved concurrency for functions without a reservation: the guide says a
#: reservation may leave no less than 100 unreserved; an account whose quota is lower (new
#: accounts get 10) keeps all of it ("below its minimum value of [10]").
#: https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html
LAMBDA_UNRESERVED_FLOOR = 100
NEW_ACCOUNT_CONCURRENCY = 10
#: DynamoDB's 400 KB item (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/
#: ServiceQuotas.html#limits-items) moto enforces itself: no fill (the test shows it).


def snapshot_quota() -> int:
    """The manual snapshot quota per kind, account and Region of the world (raised: the env var)."""
    return int(os.environ.get("MOTO_RDS_SNAPSHOT_LIMIT") or DEFAULT_SNAPSHOT_QUOTA)


def concurrency_quota() -> int:
    return int(os.environ.get("MOTO_LAMBDA_CONCURRENCY_QUOTA") or NEW_ACCOUNT_CONCURRENCY)


def iam_size(document: str) -> int:
    """A policy's size as IAM counts it: every character but white space."""
    return len(re.sub(r"\s", "", document))


# --- checks ---------------------------------------------------------------------------------
def _rds_identifier(params: Mapping[str, Any], action: str) -> None:
    name, limit = RDS_ID_LIMITS[action]
    value = params.get(name)
    if value is None:
        return
    if not (1 <= len(value) <= limit and RDS_IDENTIFIER.fullmatch(value)):
        raise Refused(
            "InvalidParameterValue",
            f"{name} must be 1 to {limit} letters, digits or hyphens, start with a letter, "
            f"and neither end with a hyphen nor hold two in a row: {value!r}",
        )


def _tags(tags: Iterable[Mapping[str, str]], rule: tuple[int, int, tuple[str, ...]], code: str) -> None:
    key_max, value_max, reserved = rule
    for tag in tags:
        key, value = tag.get("Key", ""), tag.get("Value", "")
        if not 1 <= len(key) <= key_max:
            raise Refused(code, f"Tag key must be 1 to {key_max} characters: {key[:40]!r}... ({len(key)})")
        if len(value) > value_max:
            raise Refused(code, f"Tag value of {key!r} must be at most {value_max} characters ({len(value)})")
        if key.lower().startswith(reserved):
            raise Refused(code, f"Tag keys may not start with {' or '.join(reserved)}: {key!r}")


def _tag_count(existing: Iterable[str], added: Iterable[Mapping[str, str]], code: str) -> None:
    keys = set(existing) | {tag.get("Key", "") for tag in added}
    if len(keys) > TAGS_PER_RESOURCE:
        raise Refused(code, f"A resource has at most {TAGS_PER_RESOURCE} tags; this would make {len(keys)}")


def _rds_tags(response: Any, params: Mapping[str, Any], action: str) -> None:
    tags = params.get("Tags") or []
    _tags(tags, RDS_TAG, "InvalidParameterValue")
    existing: list[str] = []
    if action == "AddTagsToResource":
        existing = [t["Key"] for t in response.backend.list_tags_for_resource(params["ResourceName"])]
    _tag_count(existing, tags, "TagQuotaPerResourceExceeded")


_QUOTA_STORES = {
    "CreateDBSnapshot": ("database_snapshots", "DBSnapshotIdentifier"),
    "CopyDBSnapshot": ("database_snapshots", "TargetDBSnapshotIdentifier"),
    "CreateDBClusterSnapshot": ("cluster_snapshots", "DBClusterSnapshotIdentifier"),
    "CopyDBClusterSnapshot": ("cluster_snapshots", "TargetDBClusterSnapshotIdentifier"),
}


def _rds_quota(response: Any, params: Mapping[str, Any], action: str) -> None:
    store, name = _QUOTA_STORES[action]
    snapshots = getattr(response.backend, store)
    if params.get(name) in snapshots:
        return  # AWS answers "already exists", which DRACO's idempotent copies rely on
    manual = sum(s.snapshot_type == "manual" for s in snapshots.values())
    if manual >= snapshot_quota():
        raise Refused("SnapshotQuotaExceeded", f"Manual snapshot quota of {snapshot_quota()} reached ({manual})")


def _ec2_tags(response: Any, params: Mapping[str, Any], action: str) -> None:
    if action == "CreateTags":
        groups = [params.get("Tags") or []]
        for resource in params.get("Resources") or []:
            existing = [t["key"] for t in response.ec2_backend.describe_tags({"resource-id": [resource]})]
            _tag_count(existing, groups[0], "TagLimitExceeded")
    else:
        groups = [spec.get("Tags") or [] for spec in params.get("TagSpecifications") or []]
        for group in groups:
            _tag_count([], group, "TagLimitExceeded")
    for group in groups:
        _tags(group, EC2_TAG, "InvalidParameterValue")


def _role_inline(response: Any, params: Mapping[str, Any], action: str) -> None:
    try:
        role = response.backend.get_role(params["RoleName"])
    except Exception:  # noqa: BLE001 - moto answers "no such role" itself
        return
    others = sum(iam_size(doc) for name, doc in role.policies.items() if name != params["PolicyName"])
    total = others + iam_size(params["PolicyDocument"])
    if total > ROLE_INLINE_POLICIES:
        raise Refused(
            "LimitExceeded",
            f"Maximum policy size of {ROLE_INLINE_POLICIES} bytes exceeded for role {params['RoleName']} ({total})",
        )


def _managed(response: Any, params: Mapping[str, Any], action: str) -> None:
    size = iam_size(params["PolicyDocument"])
    if size > MANAGED_POLICY:
        raise Refused("LimitExceeded", f"Cannot exceed quota for PolicySize: {MANAGED_POLICY} ({size})")


def _trust(response: Any, params: Mapping[str, Any], action: str) -> None:
    size = iam_size(params.get("AssumeRolePolicyDocument") or params.get("PolicyDocument") or "")
    if size > TRUST_POLICY:
        raise Refused("LimitExceeded", f"Cannot exceed quota for ACLSizePerRole: {TRUST_POLICY} ({size})")


def _key_policy(response: Any, params: Mapping[str, Any], action: str) -> None:
    size = len((params.get("Policy") or "").encode())
    if size > KEY_POLICY:
        raise Refused("LimitExceededException", f"Key policy is {size} bytes; at most {KEY_POLICY}")


def _topic_policy(response: Any, params: Mapping[str, Any], action: str) -> None:
    if action == "SetTopicAttributes":
        policy = params.get("AttributeValue") if params.get("AttributeName") == "Policy" else None
    else:
        policy = (params.get("Attributes") or {}).get("Policy")
    size = len((policy or "").encode())
    if size > TOPIC_POLICY:
        raise Refused("InvalidParameter", f"Invalid parameter: Policy Error: {size} bytes, at most {TOPIC_POLICY}")


Check = Callable[[Any, Mapping[str, Any], str], None]
_RULES: dict[tuple[str, str], tuple[Check, ...]] = {
    **{("rds", action): (lambda r, p, a: _rds_identifier(p, a),) for action in RDS_ID_LIMITS},
    **{("rds", action): (lambda r, p, a: _rds_identifier(p, a), _rds_tags, _rds_quota) for action in _QUOTA_STORES},
    ("rds", "AddTagsToResource"): (_rds_tags,),
    ("ec2", "CreateTags"): (_ec2_tags,),
    ("ec2", "CreateSnapshot"): (_ec2_tags,),
    ("ec2", "CopySnapshot"): (_ec2_tags,),
    ("iam", "PutRolePolicy"): (_role_inline,),
    ("iam", "CreatePolicy"): (_managed,),
    ("iam", "CreatePolicyVersion"): (_managed,),
    ("iam", "CreateRole"): (_trust,),
    ("iam", "UpdateAssumeRolePolicy"): (_trust,),
    ("kms", "CreateKey"): (_key_policy,),
    ("kms", "PutKeyPolicy"): (_key_policy,),
    ("sns", "CreateTopic"): (_topic_policy,),
    ("sns", "SetTopicAttributes"): (_topic_policy,),
}

_SERVICES = {service for service, _ in _RULES}


def _params(response: BaseResponse, action: str) -> dict[str, Any]:
    """The request's parameters, parsed by botocore's model as moto's newer handlers parse them."""
    service_model: ServiceModel = get_service_model(response.boto3_service_name)
    request = response.normalized_request
    parser = PROTOCOL_PARSERS[determine_request_protocol(service_model, request.content_type)](
        service_model.operation_model(action), map_type=dict
    )
    return dict(
        parser.parse(
            {
                "method": request.method,
                "values": request.values,
                "headers": request.headers,
                "body": request.data,
                "url_path": request.path,
                "url_params": getattr(response, "uri_match", None),
            }
        )
    )


_original_call_action: Callable[[BaseResponse], Any] | None = None


def _strict_call_action(self: BaseResponse) -> Any:
    assert _original_call_action is not None
    service = getattr(self, "service_name", None)
    checks = _RULES.get((service, self._get_action()), ()) if service in _SERVICES else ()
    if checks:
        action = self._get_action()
        params = _params(self, action)
        try:
            for check in checks:
                check(self, params, action)
        except Refused as refused:
            status, headers, body = self.serialized(ActionResult(_AwsError(refused.code, refused.message)))
            headers["status"] = status
            return status, headers, body
    return _original_call_action(self)


def _put_function_concurrency(self: LambdaBackend, function_name: str, reserved_concurrency: str) -> str:
    quota = concurrency_quota()
    floor = min(LAMBDA_UNRESERVED_FLOOR, quota)
    reserved = sum(
        int(fn.reserved_concurrency)
        for fn in self.list_functions()
        if fn.reserved_concurrency and fn.function_name != function_name
    )
    if quota - reserved - int(reserved_concurrency) < floor:
        raise InvalidParameterValueException(
            "Specified ReservedConcurrentExecutions for function decreases account's "
            f"UnreservedConcurrentExecution below its minimum value of [{floor}]."
        )
    return _originals["put_function_concurrency"](self, function_name, reserved_concurrency)


_originals: dict[str, Any] = {}


def install() -> None:
    """Enforce the limits; calling it again changes nothing."""
    global _original_call_action
    if _original_call_action is None:
        _original_call_action = BaseResponse.call_action
        _originals["put_function_concurrency"] = LambdaBackend.put_function_concurrency
    BaseResponse.call_action = _strict_call_action  # type: ignore[method-assign]
    LambdaBackend.put_function_concurrency = _put_function_concurrency  # type: ignore[method-assign]


def uninstall() -> None:
    """Give moto back its own leniency; calling it again (or before ``install``) changes nothing."""
    if _original_call_action is not None:
        BaseResponse.call_action = _original_call_action  # type: ignore[method-assign]
        LambdaBackend.put_function_concurrency = _originals["put_function_concurrency"]  # type: ignore[method-assign]
