"""The apps' role policies as documents: each destructive action on DRACO's own resources only.

moto can't check any of this (it authorises actions, never resources or
conditions), so these tests read the documents. ``test_policies.py`` checks the
action lists against the code and runs both use-cases under them.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib_shared import keys as dr_keys
from chalicelib_shared.kinds import KINDS
from draco.bootstrap import policies
from draco.bootstrap.names import Account
from draco.bootstrap.options import consumer_options, producer_options

PROD = "111111111111"
DR = "222222222222"
OTHER = "333333333333"
REGION = "us-east-1"
STAGE = "dev"


def producer_policy(partition: str = "aws") -> dict[str, Any]:
    acct = Account(partition, PROD, REGION)
    key = acct.arn("kms", "key/transit")
    return policies.producer_role_policy(producer_options(REGION, DR), acct, key, tuple(KINDS.values()))


def consumer_policy(partition: str = "aws") -> dict[str, Any]:
    acct = Account(partition, DR, REGION)
    return policies.consumer_role_policy(consumer_options(REGION, [OTHER, PROD]), acct, tuple(KINDS.values()))


POLICIES = {"producer": producer_policy, "consumer": consumer_policy}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def allowed(policy: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """action -> the Allow statements that grant it."""
    found: dict[str, list[dict[str, Any]]] = {}
    for statement in policy["Statement"]:
        if statement["Effect"] == "Allow":
            for action in as_list(statement["Action"]):
                found.setdefault(action, []).append(statement)
    return found


def resources(policy: dict[str, Any], action: str) -> list[str]:
    return sorted(r for s in allowed(policy)[action] for r in as_list(s["Resource"]))


@pytest.mark.parametrize("app", POLICIES)
def test_statements_are_named_and_use_no_wildcard_actions(app: str) -> None:
    policy = POLICIES[app]()
    sids = [s.get("Sid", "") for s in policy["Statement"]]
    assert all(sid.isalnum() and len(sid) > 12 for sid in sids), sids
    assert len(set(sids)) == len(sids)
    assert not [a for a in allowed(policy) if "*" in a]
    assert policy["Version"] == "2012-10-17"


# Allowed on "*": actions AWS can't scope by resource, and read-only listings.
READS = {"rds:DescribeAccountAttributes", "rds:DescribeDBSnapshots", "rds:DescribeDBClusterSnapshots"}
ON_STAR = {
    "producer": READS | {"ec2:DescribeSnapshots", "ec2:DescribeVolumes"},
    "consumer": READS | {"ec2:DescribeSnapshots", "kms:CreateKey"},
}


@pytest.mark.parametrize("app", POLICIES)
def test_only_reads_and_create_key_are_on_star_and_create_key_is_conditioned(app: str) -> None:
    on_star = set()
    for statement in (s for s in POLICIES[app]()["Statement"] if s["Effect"] == "Allow"):
        if "*" in as_list(statement["Resource"]):
            on_star |= set(as_list(statement["Action"]))
            if "kms:CreateKey" in as_list(statement["Action"]):
                assert statement["Condition"] == {"Null": {"aws:RequestTag/Draco_Source": "false"}}
    assert on_star == ON_STAR[app]


def test_producer_destroys_only_snapshots_tagged_as_its_transit_copies() -> None:
    policy = producer_policy()
    for action, kind in (("rds:DeleteDBSnapshot", "snapshot"), ("rds:DeleteDBClusterSnapshot", "cluster-snapshot")):
        (statement,) = allowed(policy)[action]
        assert statement["Resource"] == f"arn:aws:rds:{REGION}:{PROD}:{kind}:draco-transit-*"
        assert statement["Condition"] == {"StringEquals": {f"rds:{kind}-tag/Draco_Transit": "true"}}
    assert resources(policy, "rds:ModifyDBSnapshotAttribute") == [
        f"arn:aws:rds:{REGION}:{PROD}:snapshot:draco-transit-*"
    ]
    assert resources(policy, "sns:Publish") == [f"arn:aws:sns:{REGION}:{PROD}:DracoOutbox"]  # its own only
    grants = allowed(policy)["kms:CreateGrant"]
    assert all(s["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}} for s in grants)


def test_consumer_destroys_only_snapshots_tagged_as_its_dr_copies() -> None:
    policy = consumer_policy()
    for action, kind in (("rds:DeleteDBSnapshot", "snapshot"), ("rds:DeleteDBClusterSnapshot", "cluster-snapshot")):
        (statement,) = allowed(policy)[action]
        assert statement["Resource"] == [f"arn:aws:rds:{REGION}:{DR}:{kind}:draco-*-*"]  # DR's own copies
        assert statement["Condition"] == {"StringEquals": {f"rds:{kind}-tag/Draco_Copy": "DR"}}
    assert "rds:ModifyDBSnapshotAttribute" not in allowed(policy)
    # Any account's DracoProducer, bounded by the Deny to the trusted ones (test_trust.py).
    assert resources(policy, "sns:Publish") == [f"arn:aws:sns:{REGION}:*:DracoProducer"]


@pytest.mark.parametrize("app", POLICIES)
def test_each_app_uses_the_peers_topic_keys_only_through_sns(app: str) -> None:
    (statement,) = allowed(POLICIES[app]())["kms:GenerateDataKey"]
    assert as_list(statement["Action"]) == ["kms:GenerateDataKey", "kms:Decrypt"]
    # The producer's own topic key (its outbox); the consumer's: production's, bounded by the Deny.
    assert statement["Resource"] == f"arn:aws:kms:{REGION}:{PROD if app == 'producer' else '*'}:key/*"
    assert statement["Condition"] == {"StringEquals": {"kms:ViaService": ["sns.us-east-1.amazonaws.com"]}}


def test_consumer_uses_only_draco_keys_and_can_never_destroy_a_key() -> None:
    policy = consumer_policy()
    own = next(s for s in allowed(policy)["kms:CreateGrant"] if DR in json.dumps(s["Resource"]))
    assert own["Condition"]["ForAnyValue:StringLike"] == {"kms:ResourceAliases": "alias/DRACO-*"}
    destructive = {"kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:DeleteAlias", "kms:UpdateAlias"}
    assert not destructive & set(allowed(policy))
    (deny,) = [s for s in policy["Statement"] if s.get("Sid") == "NeverDestroyOrRepointKeys"]
    assert deny["Effect"] == "Deny" and destructive <= set(deny["Action"]) and deny["Resource"] == "*"


@pytest.mark.parametrize("app", POLICIES)
def test_tables_and_logs_are_the_apps_own(app: str) -> None:
    policy = POLICIES[app]()
    account, table = (PROD, "DracoProducerJobs") if app == "producer" else (DR, "DracoConsumerJobs")
    table_arn = f"arn:aws:dynamodb:{REGION}:{account}:table/{table}"
    assert resources(policy, "dynamodb:PutItem") == [table_arn]
    assert resources(policy, "dynamodb:Query") == [f"{table_arn}/index/*"]
    own = ["sweep_snapshots"] if app == "producer" else ["on_inbox", "run_drills"]
    handlers = [f"on_{app}_topic", "poll_jobs", "wake_poller", *own]
    groups = [f"arn:aws:logs:{REGION}:{account}:log-group:/aws/lambda/draco-{app}-{STAGE}-{h}" for h in handlers]
    assert resources(policy, "logs:PutLogEvents") == sorted([*groups, *(f"{g}:*" for g in groups)])


@pytest.mark.parametrize("app", POLICIES)
def test_each_app_switches_only_its_own_poller_and_production_its_wake_up(app: str) -> None:
    account = PROD if app == "producer" else DR
    switched = ["poll_jobs", "wake_poller"] if app == "producer" else ["poll_jobs"]  # DR's wake-up reports hourly
    rules = [f"arn:aws:events:{REGION}:{account}:rule/draco-{app}-{STAGE}-{handler}-event" for handler in switched]
    assert resources(POLICIES[app](), "events:DisableRule") == resources(POLICIES[app](), "events:EnableRule") == rules


@pytest.mark.parametrize("app", POLICIES)
def test_partition_reaches_every_arn(app: str) -> None:
    text = json.dumps(POLICIES[app]("aws-us-gov"))
    assert "arn:aws:" not in text and "arn:aws-us-gov:" in text


def test_dr_keys_name_the_consumer_role_bootstrap_makes() -> None:
    """keys.py: a per-source DR key lets the DR root administer it and the consumer's one role use it."""
    env = consumer_options(REGION, [PROD]).env(Account("aws", DR, REGION))
    role = env["CONSUMER_ROLE_ARN"]
    assert role == f"arn:aws:iam::{DR}:role/draco-consumer-{STAGE}"
    statements = dr_keys.key_policy("aws", DR, role)["Statement"]
    principals = {s["Principal"]["AWS"] for s in statements}
    assert principals == {f"arn:aws:iam::{DR}:root", role}
    grants = [s for s in statements if "kms:CreateGrant" in as_list(s["Action"]) and s["Principal"]["AWS"] == role]
    assert grants and all(s["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}} for s in grants)


# --------------------------------------------------------------------------- DR in another Region

DR_REGION = "us-west-2"


def across_producer_policy() -> dict[str, Any]:
    acct = Account("aws", PROD, REGION)
    options = producer_options(REGION, DR, dr_region=DR_REGION)
    return policies.producer_role_policy(options, acct, acct.arn("kms", "key/transit"), tuple(KINDS.values()))


def across_consumer_policy() -> dict[str, Any]:
    options = consumer_options(DR_REGION, [OTHER, PROD], source_region=REGION)
    return policies.consumer_role_policy(options, Account("aws", DR, DR_REGION), tuple(KINDS.values()))


def test_across_regions_the_producer_publishes_to_its_own_outbox_in_its_region() -> None:
    policy = across_producer_policy()
    assert resources(policy, "sns:Publish") == [f"arn:aws:sns:{REGION}:{PROD}:DracoOutbox"]
    (statement,) = allowed(policy)["kms:GenerateDataKey"]
    assert statement["Resource"] == f"arn:aws:kms:{REGION}:{PROD}:key/*"
    assert statement["Condition"] == {"StringEquals": {"kms:ViaService": [f"sns.{REGION}.amazonaws.com"]}}
    # Everything the producer touches is its own, in its own Region (SNS carries the message to DR's inbox).
    assert DR_REGION not in json.dumps(policy) and "rds:CrossRegionCommunication" not in json.dumps(policy)


def test_across_regions_the_consumer_answers_on_the_producer_topics_in_the_source_region() -> None:
    policy = across_consumer_policy()
    assert resources(policy, "sns:Publish") == [f"arn:aws:sns:{REGION}:*:DracoProducer"]
    (statement,) = allowed(policy)["kms:GenerateDataKey"]
    assert statement["Resource"] == f"arn:aws:kms:{REGION}:*:key/*"
    assert statement["Condition"] == {"StringEquals": {"kms:ViaService": [f"sns.{REGION}.amazonaws.com"]}}


def test_across_regions_dr_copies_are_in_dr_s_region_and_relay_copies_of_two_step_kinds_in_the_source_region() -> None:
    policy = across_consumer_policy()

    def dr_copies(kind: str, region: str) -> list[str]:
        return [f"arn:aws:rds:{region}:{DR}:{kind}:draco-*-*"]

    def transit(kind: str) -> list[str]:
        return [f"arn:aws:rds:{REGION}:*:{kind}:draco-transit-*"]

    # DB instance snapshots cross in one step: DR copies only in DR's Region.
    assert resources(policy, "rds:CopyDBSnapshot") == sorted([*transit("snapshot"), *dr_copies("snapshot", DR_REGION)])
    assert resources(policy, "rds:DeleteDBSnapshot") == sorted(dr_copies("snapshot", DR_REGION))
    # DB cluster snapshots in two: the relay copy, named as the DR copy, in the source Region too.
    relayed = [*dr_copies("cluster-snapshot", DR_REGION), *dr_copies("cluster-snapshot", REGION)]
    assert resources(policy, "rds:CopyDBClusterSnapshot") == sorted([*transit("cluster-snapshot"), *relayed])
    assert resources(policy, "rds:DeleteDBClusterSnapshot") == sorted(relayed)
    (delete,) = allowed(policy)["rds:DeleteDBClusterSnapshot"]
    assert delete["Condition"] == {"StringEquals": {"rds:cluster-snapshot-tag/Draco_Copy": "DR"}}
    assert resources(policy, "rds:CrossRegionCommunication") == ["*"]
    assert resources(policy, "ec2:CopySnapshot") == [
        f"arn:aws:ec2:{REGION}::snapshot/*",
        f"arn:aws:ec2:{DR_REGION}::snapshot/*",
    ]
    assert "rds:CrossRegionCommunication" not in allowed(consumer_policy())  # in one Region: not needed


def test_across_regions_the_consumer_keys_are_in_dr_s_region_and_the_relay_key_in_the_source_region() -> None:
    policy = across_consumer_policy()
    own = [f"arn:aws:kms:{DR_REGION}:{DR}:key/*", f"arn:aws:kms:{REGION}:{DR}:key/*"]
    assert resources(policy, "kms:EnableKeyRotation") == sorted(own)
    assert resources(policy, "kms:CreateAlias") == sorted(
        [*own, f"arn:aws:kms:{DR_REGION}:{DR}:alias/DRACO-*", f"arn:aws:kms:{REGION}:{DR}:alias/DRACO-*"]
    )
    grants = {json.dumps(s["Resource"]): s for s in allowed(policy)["kms:CreateGrant"]}
    (draco_keys,) = [s for text, s in grants.items() if f":{DR}:" in text]
    assert draco_keys["Resource"] == own
    assert draco_keys["Condition"]["ForAnyValue:StringLike"] == {"kms:ResourceAliases": "alias/DRACO-*"}
    # The sources' transit keys, in the source Region, only through the kinds' services.
    (reads,) = [s for s in allowed(policy)["kms:Decrypt"] if s["Sid"] == "RdsReadsTransitKeysOfSourceAccounts"]
    assert reads["Resource"] == [f"arn:aws:kms:{REGION}:*:key/*"]  # bounded by the Deny
    assert reads["Condition"]["StringEquals"]["kms:ViaService"] == [
        f"{service}.{region}.amazonaws.com" for service in ("ec2", "rds") for region in (REGION, DR_REGION)
    ]


def test_across_regions_only_reads_create_key_and_cross_region_communication_are_on_star() -> None:
    on_star = {
        action
        for statement in across_consumer_policy()["Statement"]
        if statement["Effect"] == "Allow" and "*" in as_list(statement["Resource"])
        for action in as_list(statement["Action"])
    }
    assert on_star == ON_STAR["consumer"] | {"rds:CrossRegionCommunication"}
