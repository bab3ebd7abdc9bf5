"""The Lambda roles' IAM policies: exactly the actions the code calls.

Two kinds of check (the policies as documents, resources and conditions,
are read in ``test_policy_documents.py``):

* **Against the code.** ``called_actions(app)`` reads ``chalicelib_shared`` with ``ast``:
  the calls each app's use-cases make on their ports, followed into the AWS adapter
  behind each port (the job table, SNS, keys, the poller's switch, every kind's
  ``SnapshotApi``, whose operations may be named through a kind's table of API names),
  so adding a call without a permission, or keeping a permission nobody calls, fails here.
* **Enforced by moto**, in ``test_policies_enforced.py``: both use-cases run end to end as
  roles holding the generated policies, with moto's IAM enforcement on.
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from collections.abc import Callable, Iterator
from typing import Any

import botocore.session
import pytest
from test_policy_documents import POLICIES, allowed

from chalicelib_shared import (
    consumer,
    consumer_copies,
    consumer_lifecycle,
    consumer_relay,
    consumer_requests,
    consumer_side,
    handlers,
    job_table,
    keys,
    pacing,
    pipeline,
    ports,
    producer,
)
from chalicelib_shared.kinds import KINDS
from chalicelib_shared.kinds.ebs import EbsSnapshots
from chalicelib_shared.kinds.rds import RdsSnapshots

PROD = "111111111111"
DR = "222222222222"
OTHER = "333333333333"
REGION = "us-east-1"
STAGE = "dev"
SERVICES = ("rds", "ec2", "sns", "kms", "sts", "dynamodb", "events")
# How the adapters name their clients, and the service each is of.
CLIENTS = {
    "_rds": "rds", "_ec2": "ec2", "_kms": "kms", "_sts": "sts", "_events": "events", "sns": "sns", "_table": "dynamodb",
}  # fmt: skip
# The use-cases' ports, and the AWS adapter behind each (kinds: every kind's API).
PORTS: dict[str, tuple[type, ...]] = {
    "jobs": (job_table.JobTable,),
    "slots": (job_table.JobTable,),
    "inventory": (job_table.JobTable,),
    "publisher": (ports.SnsPublisher,),
    "keys": (keys.SourceKeys,),
    "relay_keys": (keys.SourceKeys,),
    "switch": (pacing.RuleSwitch,),
    "api": (RdsSnapshots, EbsSnapshots),
}
CONSUMER_PARTS = (consumer, consumer_side, consumer_requests, consumer_copies, consumer_relay, consumer_lifecycle)
USE_CASES = {"producer": (producer, pipeline), "consumer": (*CONSUMER_PARTS, pipeline)}
# Called, but not an IAM action of its own: STS's "No permissions are required to perform this
# operation"; a DynamoDB transaction is authorised as the PutItem/UpdateItem it contains.
NEEDS_NO_PERMISSION = {"sts:GetCallerIdentity", "dynamodb:TransactWriteItems"}
# Permissions AWS checks for a call, besides the call's own action.
_KEY_USE = {"kms:CreateGrant", "kms:DescribeKey", "kms:Decrypt"}
IMPLIED = {
    # Tags= on a copy needs AddTagsToResource (RDS) / CreateTags (EC2); the copy uses the KMS keys
    # of the source and the target with the caller's permissions (EC2 also re-encrypts).
    "rds:CopyDBSnapshot": {"rds:AddTagsToResource", *_KEY_USE},
    "rds:CopyDBClusterSnapshot": {"rds:AddTagsToResource", *_KEY_USE},
    "ec2:CopySnapshot": {"ec2:CreateTags", *_KEY_USE, *KINDS["EBS"].key_actions},
    # Tags= on CreateKey needs TagResource.
    "kms:CreateKey": {"kms:TagResource"},
    "dynamodb:TransactWriteItems": {"dynamodb:PutItem", "dynamodb:UpdateItem"},
    # Publishing to the peer's topic, which is encrypted with the peer's topic key.
    "sns:Publish": {"kms:GenerateDataKey", "kms:Decrypt"},
}
LAMBDA_LOGS = {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}
# Lambda reads the consumer's inbox queue as its role (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html).
LAMBDA_SQS = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}


# --------------------------------------------------------------------------- what the code calls


def _operations() -> dict[str, set[str]]:
    """snake_case client method -> IAM actions of that name in the services DRACO uses."""
    session = botocore.session.get_session()
    found: dict[str, set[str]] = {}
    for service in SERVICES:
        model = session.get_service_model(service)
        for name in model.operation_names:
            found.setdefault(botocore.xform_name(name), set()).add(f"{model.signing_name}:{name}")
    return found


OPERATIONS = _operations()


def _tree(function: Callable[..., Any]) -> ast.AST:
    return ast.parse(textwrap.dedent(inspect.getsource(function)))


def _calls(tree: ast.AST) -> Iterator[ast.Call]:
    return (node for node in ast.walk(tree) if isinstance(node, ast.Call))


def _client_of(receiver: ast.expr) -> str | None:
    """The service of a call's receiver, by the client's name (``self._rds``, ``self._table.meta.client``)."""
    text = ast.unparse(receiver)
    return next((service for name, service in CLIENTS.items() if name in text), None)


def _api_names(expr: ast.expr) -> set[str]:
    """An operation named through a kind's table of names (``n.copy``, ``self.names.describe``), for every kind."""
    text = ast.unparse(expr)
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return {expr.value}
    if not (text.startswith("n.") or text.startswith("self.names.")):
        return set()
    field = text.rsplit(".", 1)[1]
    return {getattr(kind.names, field) for kind in KINDS.values() if hasattr(kind, "names")}


def reached(owner: type, method: str, seen: set[str] | None = None) -> set[str]:
    """IAM actions a method of an adapter reaches: its client calls, ``getattr`` and paginators,
    and the methods of its own class and the functions of its own module it calls."""
    seen = set() if seen is None else seen
    if f"{owner.__qualname__}.{method}" in seen:
        return set()
    seen.add(f"{owner.__qualname__}.{method}")
    function = getattr(owner, method)
    module = inspect.getmodule(function)
    actions: set[str] = set()
    for call in _calls(_tree(function)):
        func = call.func
        if isinstance(func, ast.Attribute):
            service = _client_of(func.value)
            if service and func.attr in OPERATIONS:
                actions |= {a for a in OPERATIONS[func.attr] if a.startswith(f"{service}:")}
            if service and func.attr == "get_paginator":
                actions |= {a for name in _api_names(call.args[0]) for a in OPERATIONS.get(name, ())}
            if ast.unparse(func.value) == "self" and hasattr(owner, func.attr):
                actions |= reached(owner, func.attr, seen)
        elif isinstance(func, ast.Name):
            if func.id == "getattr" and len(call.args) == 2 and _client_of(call.args[0]):
                service = _client_of(call.args[0])
                names = _api_names(call.args[1])
                actions |= {a for name in names for a in OPERATIONS.get(name, ()) if a.startswith(f"{service}:")}
            elif module is not None and inspect.isfunction(getattr(module, func.id, None)):
                actions |= reached_function(getattr(module, func.id), seen)
    return actions


def reached_function(function: Callable[..., Any], seen: set[str]) -> set[str]:
    """As ``reached``, for a module-level function (``messages.publish``)."""
    if f"{function.__module__}.{function.__qualname__}" in seen:
        return set()
    seen.add(f"{function.__module__}.{function.__qualname__}")
    actions: set[str] = set()
    for call in _calls(_tree(function)):
        if isinstance(call.func, ast.Attribute):
            service = _client_of(call.func.value)
            if service and call.func.attr in OPERATIONS:
                actions |= {a for a in OPERATIONS[call.func.attr] if a.startswith(f"{service}:")}
    return actions


def port_calls(module: Any) -> set[tuple[str, str]]:
    """(port, method) for every call a use-case module makes on a port: ``self.jobs.get``,
    ``self.api(kind).copy``, ``api.share``; the consumer's parts reach them through their ``side``."""
    found = set()
    for call in _calls(_tree(module)):
        if not isinstance(call.func, ast.Attribute):
            continue
        receiver = re.sub(r"^(self\.)?(side\.)?", "", ast.unparse(call.func.value))
        port = receiver
        if receiver == "api" or receiver.startswith("api("):
            port = "api"
        if port in PORTS:
            found.add((port, call.func.attr))
    return found


def called_actions(app: str) -> set[str]:
    """Every AWS action the app's use-cases reach through their ports, derived from the code."""
    actions: set[str] = set()
    for module in USE_CASES[app]:
        for port, method in port_calls(module):
            for adapter in PORTS[port]:
                if hasattr(adapter, method):
                    actions |= reached(adapter, method)
    if app == "producer":  # the producer's sweep asks the job table which snapshots have jobs
        actions |= reached(job_table.JobTable, "existing")
    else:  # the inbox handler confirms production outboxes' subscriptions of the inbox
        actions |= reached_function(handlers.confirm_subscription, set())
    return actions


def test_the_scan_finds_the_calls_it_should() -> None:
    """The scan itself, against what a reader of the code finds."""
    both = {
        "rds:DescribeDBSnapshots", "rds:DescribeDBClusterSnapshots", "rds:DescribeAccountAttributes",
        "rds:CopyDBSnapshot", "rds:CopyDBClusterSnapshot", "rds:DeleteDBSnapshot", "rds:DeleteDBClusterSnapshot",
        "ec2:DescribeSnapshots", "ec2:CopySnapshot", "ec2:DeleteSnapshot",
        "sns:Publish", "events:EnableRule", "events:DisableRule",
        "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query", "dynamodb:TransactWriteItems",
    }  # fmt: skip
    assert called_actions("producer") == both | {
        "rds:ModifyDBSnapshotAttribute", "rds:ModifyDBClusterSnapshotAttribute",
        "ec2:ModifySnapshotAttribute", "ec2:DescribeVolumes", "dynamodb:BatchGetItem",
    }  # fmt: skip
    assert called_actions("consumer") == both | {
        "kms:DescribeKey", "kms:CreateKey", "kms:EnableKeyRotation", "kms:CreateAlias", "sts:GetCallerIdentity",
        "ec2:LockSnapshot", "sns:ConfirmSubscription",
    }  # fmt: skip


# --------------------------------------------------------------------------- the documents


@pytest.mark.parametrize("app", POLICIES)
def test_every_called_action_is_allowed_and_nothing_else(app: str) -> None:
    policy = POLICIES[app]()
    called = called_actions(app)
    granted = set(allowed(policy))
    assert called - NEEDS_NO_PERMISSION <= granted, f"missing: {sorted(called - NEEDS_NO_PERMISSION - granted)}"
    implied = set().union(*(IMPLIED.get(action, set()) for action in called))
    unused = granted - called - implied - LAMBDA_LOGS - (LAMBDA_SQS if app == "consumer" else set())
    assert not unused, f"granted but never used: {sorted(unused)}"
    assert not NEEDS_NO_PERMISSION & granted
