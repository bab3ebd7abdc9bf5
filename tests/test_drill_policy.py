"""The drill role's policy as a document: it restores only DR copies, deletes only what carries Draco_Drill,
never deletes or modifies a DR copy or a key; and it covers every call a drill makes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest

from chalicelib_shared.naming import DR_PREFIX
from draco.bootstrap.drill_policy import PROTECTED_ACTIONS, drill_role_policy
from draco.bootstrap.models import consumer_stack
from draco.bootstrap.names import Account
from draco.bootstrap.options import Alarms, consumer_options
from tests.drill_rig import Rig, dr_account

PROD, OTHER, DR, REGION = "111111111111", "333333333333", "222222222222", "us-east-1"
ACCT = Account("aws", DR, REGION)


def policy(validator: str = "") -> dict[str, Any]:
    return drill_role_policy(consumer_options(REGION, [PROD, OTHER]), ACCT, "DracoConsumerJobs", validator)


def statements(doc: dict[str, Any], effect: str = "Allow") -> list[dict[str, Any]]:
    return [s for s in doc["Statement"] if s["Effect"] == effect]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def allowed(doc: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for statement in statements(doc):
        for action in as_list(statement["Action"]):
            found.setdefault(action, []).append(statement)
    return found


def test_no_allow_deletes_or_modifies_a_snapshot_or_a_key_and_a_deny_says_so() -> None:
    doc = policy()
    granted = set(allowed(doc))
    assert not granted & set(PROTECTED_ACTIONS)
    assert not any("Snapshot" in a and a.split(":")[1].startswith(("Delete", "Modify", "Copy")) for a in granted)
    assert not any(a.startswith("kms:") and a not in {"kms:DescribeKey", "kms:Decrypt", "kms:CreateGrant",
                   "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncrypt*"} for a in granted)  # fmt: skip
    [deny] = statements(doc, "Deny")
    assert set(PROTECTED_ACTIONS) <= set(deny["Action"]) and deny["Resource"] == "*"


def test_deletes_only_drill_resources_that_carry_the_tag() -> None:
    for action in ("rds:DeleteDBInstance", "rds:DeleteDBCluster", "ec2:DeleteVolume"):
        for statement in allowed(policy())[action]:
            assert statement["Condition"] == {"Null": {"aws:ResourceTag/Draco_Drill": "false"}}
            if action.startswith("rds:"):
                assert all(":draco-drill-*" in r for r in as_list(statement["Resource"]))


def test_restores_only_dr_copies_into_tagged_drill_resources() -> None:
    doc = policy()
    for action in ("rds:RestoreDBInstanceFromDBSnapshot", "rds:RestoreDBClusterFromSnapshot", "rds:CreateDBInstance"):
        [statement] = allowed(doc)[action]
        assert statement["Condition"] == {"Null": {"aws:RequestTag/Draco_Drill": "false"}}
        snapshots = [r for r in statement["Resource"] if "snapshot:" in r]
        assert all(any(f"snapshot:{DR_PREFIX}{peer}-*" in r for peer in (PROD, OTHER)) for r in snapshots)
        made = [r for r in statement["Resource"] if ":db:" in r or ":cluster:" in r]
        assert made and all(r.endswith(":draco-drill-*") for r in made)
    from_snapshots, into_volumes = allowed(doc)["ec2:CreateVolume"]
    assert from_snapshots["Condition"] == {"StringEquals": {"ec2:ResourceTag/Draco_Copy": "DR"}}
    assert into_volumes["Condition"] == {"Null": {"aws:RequestTag/Draco_Drill": "false"}}


def test_keys_only_through_rds_and_ec2_and_dr_aliases() -> None:
    [statement] = allowed(policy())["kms:CreateGrant"]
    assert statement["Condition"]["StringEquals"]["kms:ViaService"] == ["ec2.us-east-1.amazonaws.com",
                                                                        "rds.us-east-1.amazonaws.com"]  # fmt: skip
    assert statement["Condition"]["ForAnyValue:StringLike"] == {"kms:ResourceAliases": "alias/DRACO-*"}


def test_table_writes_only_drill_records_and_the_validator_only_when_named() -> None:
    [write] = allowed(policy())["dynamodb:PutItem"]
    assert write["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["#drill#*", "#drilling#*"]}}
    assert "lambda:InvokeFunction" not in allowed(policy())
    [invoke] = allowed(policy("check-orders"))["lambda:InvokeFunction"]
    assert invoke["Resource"] == f"arn:aws:lambda:{REGION}:{DR}:function:check-orders"


def test_bootstrap_makes_the_drill_role_for_run_drills_and_its_alarms() -> None:
    opts = consumer_options(REGION, [PROD], alarms=Alarms(email=""),
                            drill_settings=(("DRILL_EVERY_DAYS", "30"), ("RTO_TARGET_MINUTES", "45")))  # fmt: skip
    stack = consumer_stack(opts, ACCT)
    names = [getattr(r, "name", "") for r in stack.resources]
    assert "draco-drill-dev" in names and "draco-consumer-dev" in names
    assert stack.deployment.function_roles == {"run_drills": f"arn:aws:iam::{DR}:role/draco-drill-dev"}
    assert stack.env["DRILL_EVERY_DAYS"] == "30"
    rto = [r for r in stack.resources if getattr(r, "name", "") == "draco-consumer-dev-RtoTargetMissed"]
    assert rto and rto[0].definition["Threshold"] == 45 * 60
    with pytest.raises(ValueError, match="DRILL_EVERY_DAYS"):
        consumer_options(REGION, [PROD], drill_settings=(("DRILL_EVERY_DAYS", "often"),))


@pytest.fixture
def rig(aws_credentials: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Rig]:
    with dr_account(monkeypatch) as made:
        yield made


def test_every_call_a_drill_makes_is_allowed(rig: Rig) -> None:
    called: set[str] = set()

    def record(model: Any, **_: Any) -> None:
        called.add(f"{model.service_model.signing_name}:{model.name}")

    boto3._get_default_session()._session.register("before-call.*.*", record)  # noqa: SLF001
    for kind, engine in (("RDS", "postgres"), ("RDS Cluster", "aurora-postgresql"), ("EBS", "")):
        rig.add_copy(kind, f"src-{kind.replace(' ', '')}".lower(), engine=engine or "postgres")
    called.clear()
    drills = rig.drills()
    results = drills.run(drills.choose(), wait=rig.traveller.shift, poll=timedelta(minutes=1))
    drills.sweep()
    assert len(results) == 3
    granted = set(allowed(policy()))
    assert called - granted == set(), "calls the drill role may not make"


def test_bootstrap_options_become_drill_settings() -> None:
    from draco.bootstrap import drill_options
    from draco.cli import build_parser

    args = build_parser().parse_args(["bootstrap", "consumer", "--source-accounts", PROD, "--drill-every-days", "30",
                                      "--drill-subnet-group", "isolated", "--rto-target-minutes", "45"])  # fmt: skip
    assert drill_options.from_args(args) == (
        ("DRILL_EVERY_DAYS", "30"),
        ("DRILL_SUBNET_GROUP", "isolated"),
        ("RTO_TARGET_MINUTES", "45"),
    )
