"""Bootstrap against two moto accounts: what it makes, that a rerun changes nothing, drift, refusals."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from chalicelib_shared import config as cfg
from chalicelib_shared.kinds import KINDS
from draco import bootstrap
from draco.bootstrap import policies
from draco.bootstrap.models import producer_stack
from draco.bootstrap.names import Account
from draco.bootstrap.options import producer_options

pytestmark = pytest.mark.e2e  # whole accounts bootstrapped in moto: run with -m e2e (see the README)

PROD = "111111111111"
DR = "222222222222"
OTHER = "333333333333"
REGION = "us-east-1"


@pytest.fixture
def session(mocked_aws: None) -> boto3.Session:
    return boto3.Session(region_name=REGION)


def statements(policy: str | dict[str, Any]) -> dict[str, dict[str, Any]]:
    doc = json.loads(policy) if isinstance(policy, str) else policy
    return {s["Sid"]: s for s in doc["Statement"]}


def topic_attributes(session: boto3.Session, account: str, name: str) -> dict[str, str]:
    return session.client("sns").get_topic_attributes(TopicArn=f"arn:aws:sns:{REGION}:{account}:{name}")["Attributes"]


def key_behind(session: boto3.Session, alias: str) -> dict[str, Any]:
    kms = session.client("kms")
    return kms.describe_key(KeyId=alias)["KeyMetadata"]


def key_policy(session: boto3.Session, alias: str) -> dict[str, dict[str, Any]]:
    kms = session.client("kms")
    return statements(kms.get_key_policy(KeyId=key_behind(session, alias)["KeyId"], PolicyName="default")["Policy"])


def descriptions(steps: list[bootstrap.Step]) -> list[str]:
    return [str(step) for step in steps]


# --------------------------------------------------------------------------- producer


def test_producer_makes_what_it_plans(session, as_account) -> None:
    as_account(PROD)
    consumer_role = f"arn:aws:iam::{DR}:role/draco-consumer-dev"
    assert descriptions(bootstrap.plan_producer(session, DR)) == [
        f"create KMS key alias/DRACO/Topics ({consumer_role}, RDS, EventBridge may publish with it; rotation on)",
        "create SNS topic DracoProducer (encrypted with alias/DRACO/Topics)",
        f"set topic policy of DracoProducer (publish: {consumer_role}, RDS, EventBridge)",
        "create RDS event subscription draco-producer-db-snapshot (db-snapshot events to DracoProducer)",
        "create RDS event subscription draco-producer-db-cluster-snapshot "
        "(db-cluster-snapshot events to DracoProducer)",
        "create EventBridge rule draco-producer-ebs-snapshots (matching events to DracoProducer)",
        f"create KMS key alias/DRACO-Transit (only {consumer_role} may use it, through EC2, RDS; rotation on)",
        "create SNS topic DracoOutbox (encrypted with alias/DRACO/Topics)",
        "set topic policy of DracoOutbox (publish: this account)",
        f"subscribe DR's inbox arn:aws:sqs:{REGION}:{DR}:DracoInbox to DracoOutbox (DR confirms it)",
        "create DynamoDB table DracoProducerJobs (on-demand, indexes due, inventory, point-in-time recovery, "
        "deletion protection)",
        "create IAM role draco-producer-dev (for the draco-producer Lambda functions of stage dev)",
        "create SNS topic DracoAlerts (alarm notifications)",
        "create CloudWatch alarm draco-producer-dev-JobsFailed (DRACO JobsFailed Sum > 0)",
        "create CloudWatch alarm draco-producer-dev-SnapshotQuota (DRACO SnapshotQuotaUsedPercent Maximum > 80)",
        "create CloudWatch alarm draco-producer-dev-PollerErrors (AWS/Lambda Errors Sum > 0)",
    ]
    env = bootstrap.producer(session, DR)

    transit = key_behind(session, "alias/DRACO-Transit")
    assert env == {
        "DR_ACCT": DR,
        "OUTBOX_TOPIC_ARN": f"arn:aws:sns:{REGION}:{PROD}:DracoOutbox",
        "TRANSIT_KEY_ARN": transit["Arn"],
        "TAG_KEY": "Draco_Copy",
        "TAG_VALUE": "DR",
        "JOB_TABLE": "DracoProducerJobs",
        "POLLER_RULE": "draco-producer-dev-poll_jobs-event",
        "WAKE_RULE": "draco-producer-dev-wake_poller-event",
        "TRANSIT_LIMIT": "10",
        "TRANSIT_KEEP_DAYS": "7",
    }
    assert cfg.ProducerConfig.from_env(env).problems == ()

    topic = topic_attributes(session, PROD, "DracoProducer")
    assert topic["KmsMasterKeyId"] == "alias/DRACO/Topics"
    topic_policy = statements(topic["Policy"])
    peer = topic_policy["OnlyThePeerAppRolesSendDracoMessages"]
    assert peer["Principal"] == {"AWS": [f"arn:aws:iam::{DR}:root"]}
    assert peer["Condition"] == {"ArnEquals": {"aws:PrincipalArn": [consumer_role]}}
    rds = topic_policy["RdsSendsThisAccountsSnapshotEvents"]
    assert rds["Condition"]["StringEquals"] == {"aws:SourceAccount": PROD}
    assert rds["Condition"]["ArnLike"]["aws:SourceArn"] == [
        f"arn:aws:rds:{REGION}:{PROD}:es:draco-producer-db-snapshot",
        f"arn:aws:rds:{REGION}:{PROD}:es:draco-producer-db-cluster-snapshot",
        f"arn:aws:rds:{REGION}:{PROD}:cluster-snapshot:*",
        f"arn:aws:rds:{REGION}:{PROD}:snapshot:*",
    ]

    kms = session.client("kms")
    for alias in ("alias/DRACO-Transit", "alias/DRACO/Topics"):
        key = key_behind(session, alias)
        assert key["KeySpec"] == "SYMMETRIC_DEFAULT" and key["KeyState"] == "Enabled"
        assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is True
    dr_use = key_policy(session, "alias/DRACO-Transit")["DrConsumerReadsSharedTransitCopiesThroughTheKindsServices"]
    assert dr_use["Principal"] == {"AWS": f"arn:aws:iam::{DR}:root"}
    assert dr_use["Condition"] == {
        "ArnEquals": {"aws:PrincipalArn": consumer_role},
        "StringEquals": {"kms:ViaService": ["ec2.us-east-1.amazonaws.com", "rds.us-east-1.amazonaws.com"]},
    }
    # Each service held to this topic by SNS's encryption context; RDS also to this account, EventBridge
    # by the context only (SNS's key management guide: aws:Source* keys fail EventBridge's deliveries).
    topic_key = key_policy(session, "alias/DRACO/Topics")
    context = {"kms:EncryptionContext:aws:sns:topicArn": f"arn:aws:sns:{REGION}:{PROD}:DracoProducer"}
    rds_key = topic_key["RdsPublishesThisAccountsEvents"]
    assert rds_key["Principal"] == {"Service": "events.rds.amazonaws.com"}
    assert rds_key["Condition"] == {"StringEquals": {**context, "aws:SourceAccount": PROD}}
    eventbridge_key = topic_key["EventBridgePublishesDracoRulesEvents"]
    assert eventbridge_key["Principal"] == {"Service": "events.amazonaws.com"}
    assert eventbridge_key["Condition"] == {"StringEquals": context}
    eventbridge = topic_policy["DracoEventBridgeRulesSendEvents"]
    rule_arn = f"arn:aws:events:{REGION}:{PROD}:rule/draco-producer-ebs-snapshots"
    assert eventbridge["Condition"] == {"ArnEquals": {"aws:SourceArn": [rule_arn]}}
    events = session.client("events")
    assert events.list_targets_by_rule(Rule="draco-producer-ebs-snapshots")["Targets"] == [
        {"Id": "DracoTopic", "Arn": f"arn:aws:sns:{REGION}:{PROD}:DracoProducer"}
    ]

    dynamodb = session.client("dynamodb")
    table = dynamodb.describe_table(TableName=cfg.PRODUCER_TABLE)["Table"]
    assert table["DeletionProtectionEnabled"] is True
    backups = dynamodb.describe_continuous_backups(TableName=cfg.PRODUCER_TABLE)["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"

    iam = session.client("iam")
    role = iam.get_role(RoleName="draco-producer-dev")["Role"]
    assert role["AssumeRolePolicyDocument"] == policies.lambda_trust()
    assert iam.list_role_policies(RoleName="draco-producer-dev")["PolicyNames"] == ["draco"]
    acct = Account("aws", PROD, REGION)
    wanted = policies.producer_role_policy(producer_options(REGION, DR), acct, transit["Arn"], tuple(KINDS.values()))
    assert iam.get_role_policy(RoleName="draco-producer-dev", PolicyName="draco")["PolicyDocument"] == wanted

    alarms = session.client("cloudwatch").describe_alarms()["MetricAlarms"]
    assert sorted(a["AlarmName"] for a in alarms) == [
        "draco-producer-dev-JobsFailed",
        "draco-producer-dev-PollerErrors",
        "draco-producer-dev-SnapshotQuota",
    ]


def test_second_run_plans_nothing_and_returns_the_same_environment(session, as_account, account_state) -> None:
    as_account(PROD)
    first = bootstrap.producer(session, DR, tag_key="Backup", tag_value="yes")
    state = account_state(session)
    assert bootstrap.plan_producer(session, DR, tag_key="Backup", tag_value="yes") == []
    assert bootstrap.producer(session, DR, tag_key="Backup", tag_value="yes") == first
    assert account_state(session) == state
    as_account(DR)
    first = bootstrap.consumer(session, [PROD])
    assert bootstrap.plan_consumer(session, [PROD]) == []
    assert bootstrap.consumer(session, [PROD]) == first


def test_a_new_dr_account_changes_the_policies_and_keeps_the_keys(session, as_account) -> None:
    as_account(PROD)
    first = bootstrap.producer(session, DR)
    other_role = f"arn:aws:iam::{OTHER}:role/draco-consumer-dev"
    assert descriptions(bootstrap.plan_producer(session, OTHER)) == [
        f"update key policy of alias/DRACO/Topics ({other_role}, RDS, EventBridge may publish with it)",
        f"set topic policy of DracoProducer (publish: {other_role}, RDS, EventBridge)",
        f"update key policy of alias/DRACO-Transit (only {other_role} may use it, through EC2, RDS)",
        f"unsubscribe arn:aws:sqs:{REGION}:{DR}:DracoInbox from DracoOutbox (not the DR account's inbox)",
        f"subscribe DR's inbox arn:aws:sqs:{REGION}:{OTHER}:DracoInbox to DracoOutbox (DR confirms it)",
    ]
    env = bootstrap.producer(session, OTHER)
    assert env[cfg.TRANSIT_KEY_ARN] == first[cfg.TRANSIT_KEY_ARN]
    assert env[cfg.OUTBOX_TOPIC_ARN] == first[cfg.OUTBOX_TOPIC_ARN]
    text = json.dumps(key_policy(session, "alias/DRACO-Transit"))
    assert OTHER in text and DR not in text
    assert bootstrap.plan_producer(session, OTHER) == []


def test_the_peer_stage_names_the_peer_role(session, as_account) -> None:
    as_account(PROD)
    bootstrap.producer(session, DR, stage="live", peer_stage="prod")
    policy = topic_attributes(session, PROD, "DracoProducer")["Policy"]
    peer = statements(policy)["OnlyThePeerAppRolesSendDracoMessages"]
    assert peer["Condition"] == {"ArnEquals": {"aws:PrincipalArn": [f"arn:aws:iam::{DR}:role/draco-consumer-prod"]}}
    session.client("iam").get_role(RoleName="draco-producer-live")


def test_drift_is_repaired_and_reordered_documents_are_equal(session, as_account) -> None:
    as_account(PROD)
    key = bootstrap.producer(session, DR)[cfg.TRANSIT_KEY_ARN]
    kms, iam, dynamodb = session.client("kms"), session.client("iam"), session.client("dynamodb")
    kms.disable_key_rotation(KeyId=key)
    policy = json.loads(kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"])
    policy["Statement"].reverse()
    for statement in policy["Statement"]:
        if isinstance(statement["Action"], list):
            statement["Action"].reverse()
    kms.put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps(policy))
    dynamodb.update_table(TableName=cfg.PRODUCER_TABLE, DeletionProtectionEnabled=False)
    dynamodb.update_continuous_backups(
        TableName=cfg.PRODUCER_TABLE, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False}
    )
    iam.put_role_policy(RoleName="draco-producer-dev", PolicyName="extra", PolicyDocument=json.dumps(policy_doc()))
    iam.put_role_policy(RoleName="draco-producer-dev", PolicyName="draco", PolicyDocument=json.dumps(policy_doc()))
    topic = f"arn:aws:sns:{REGION}:{PROD}:DracoProducer"
    session.client("sns").set_topic_attributes(TopicArn=topic, AttributeName="KmsMasterKeyId", AttributeValue="")

    assert descriptions(bootstrap.plan_producer(session, DR)) == [
        "encrypt SNS topic DracoProducer with alias/DRACO/Topics",
        "enable rotation of KMS key alias/DRACO-Transit",
        "turn on deletion protection of DynamoDB table DracoProducerJobs",
        "turn on point-in-time recovery of DynamoDB table DracoProducerJobs",
        "update the policy of IAM role draco-producer-dev",
        "remove other inline policies of IAM role draco-producer-dev (extra)",
    ]
    bootstrap.producer(session, DR)
    assert bootstrap.plan_producer(session, DR) == []
    assert iam.list_role_policies(RoleName="draco-producer-dev")["PolicyNames"] == ["draco"]


def policy_doc() -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}


@pytest.mark.parametrize(
    "damage", ["key pending deletion", "key disabled", "table with other keys", "subscription for some sources"]
)
def test_states_bootstrap_wont_guess_about_are_errors(session, as_account, damage: str) -> None:
    as_account(PROD)
    kms = session.client("kms")
    if damage == "key pending deletion":
        key = bootstrap.producer(session, DR)[cfg.TRANSIT_KEY_ARN]
        kms.schedule_key_deletion(KeyId=key.split("/")[-1], PendingWindowInDays=7)  # moto wants the bare id
    elif damage == "key disabled":
        kms.disable_key(KeyId=bootstrap.producer(session, DR)[cfg.TRANSIT_KEY_ARN].split("/")[-1])
    elif damage == "table with other keys":
        session.client("dynamodb").create_table(
            TableName=cfg.PRODUCER_TABLE,
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        )
    else:
        session.client("sns").create_topic(Name="DracoProducer")
        session.client("rds").create_event_subscription(
            SubscriptionName="draco-producer-db-snapshot",
            SnsTopicArn=f"arn:aws:sns:{REGION}:{PROD}:DracoProducer",
            SourceType="db-snapshot",
            SourceIds=["one-db-snapshot"],
            Enabled=True,
        )
    with pytest.raises(bootstrap.BootstrapError, match="run bootstrap again"):
        bootstrap.plan_producer(session, DR)


# --------------------------------------------------------------------------- consumer


def test_consumer_makes_its_topic_table_role_and_alarms(session, as_account) -> None:
    as_account(DR)
    options = dict(
        stage="prod", default_lifecycle="Gold", custom_lifecycles='{"Gold": "daily=35 monthly=24"}', no_dry_run=True
    )
    steps = descriptions(bootstrap.plan_consumer(session, [OTHER, PROD], **options))
    assert steps[:8] == [
        "create KMS key alias/DRACO/Topics (RDS, EventBridge may publish with it; rotation on)",
        "create SNS topic DracoConsumer (encrypted with alias/DRACO/Topics)",
        "set topic policy of DracoConsumer (publish: RDS, EventBridge)",  # production's messages: the inbox
        "create RDS event subscription draco-consumer-db-snapshot (db-snapshot events to DracoConsumer)",
        "create EventBridge rule draco-consumer-ebs-snapshots (matching events to DracoConsumer)",
        f"create SQS queue DracoInbox (SNS may send from the outboxes of accounts {PROD}, {OTHER})",
        "create DynamoDB table DracoConsumerJobs (on-demand, indexes due, inventory, point-in-time recovery, "
        "deletion protection)",
        "create IAM role draco-consumer-prod (for the draco-consumer Lambda functions of stage prod)",
    ]
    assert len(steps) == 8 + 1 + 9 + 1 + 2  # DracoAlerts, the nine DR alarms, the drill role and its two alarms
    assert "create IAM role draco-drill-prod (for the consumer's restore drills (run_drills) of stage prod)" in steps
    env = bootstrap.consumer(session, [OTHER, PROD], **options)
    assert env == {
        "SOURCE_ACCTS": f"{PROD},{OTHER}",
        "SOURCE_ORG": "",
        "SOURCE_OUS": "",
        "TAG_KEY": "Draco_Copy",
        "TAG_VALUE": "DR",
        "NO_DRY_RUN": "1",
        "DEFAULT_LIFECYCLE": "Gold",
        "CUSTOM_LIFECYCLES": '{"Gold": "daily=35 monthly=24"}',
        "JOB_TABLE": "DracoConsumerJobs",
        "PRODUCER_TOPIC_NAME": "DracoProducer",
        # The one role of the consumer's functions: it creates DR keys and starts DR copies.
        "CONSUMER_ROLE_ARN": f"arn:aws:iam::{DR}:role/draco-consumer-prod",
        "POLLER_RULE": "draco-consumer-prod-poll_jobs-event",
        "DRILL_RULE": "draco-consumer-prod-run_drills-event",
        "SOURCE_REGION": "",  # the sources are in DR's own Region (written, so a rerun can clear it)
        # DR's own safeguards, at their defaults
        "RETENTION_LOCK": "on",
        "MIN_KEEP": "3",
        "KEY_CAP": "10",
        "MAX_KEEP": "40",
        "RPO_HOURS": "26",
        "KEY_SCOPE": "database",
    }
    parsed = cfg.ConsumerConfig.from_env(env)
    assert parsed.problems == () and parsed.live and parsed.source_accounts == {PROD, OTHER}
    assert session.client("iam").get_role(RoleName="draco-consumer-prod")["Role"]["Arn"] == env["CONSUMER_ROLE_ARN"]
    assert list(statements(topic_attributes(session, DR, "DracoConsumer")["Policy"])) == [
        "OwnerAccountUsesTopic",
        "RdsSendsThisAccountsSnapshotEvents",
        "DracoEventBridgeRulesSendEvents",
    ]  # no production account may publish there
    aliases = [a["AliasName"] for a in session.client("kms").list_aliases()["Aliases"]]
    assert [a for a in aliases if a.startswith("alias/DRACO")] == [
        "alias/DRACO/Topics"
    ]  # per-source DR keys are the consumer's to make


def test_both_accounts_in_one_world(session, as_account) -> None:
    """Each account sees only its own resources; production's outbox sends to DR's inbox."""
    as_account(DR)
    bootstrap.consumer(session, [PROD], alarms=None)
    as_account(PROD)
    producer_env = bootstrap.producer(session, DR, alarms=None)
    outbox = producer_env[cfg.OUTBOX_TOPIC_ARN]
    subscribed = session.client("sns").list_subscriptions_by_topic(TopicArn=outbox)["Subscriptions"]
    assert [s["Endpoint"] for s in subscribed] == [f"arn:aws:sqs:{REGION}:{DR}:DracoInbox"]
    as_account(DR)
    topics = [t["TopicArn"] for t in session.client("sns").list_topics()["Topics"]]
    assert topics == [f"arn:aws:sns:{REGION}:{DR}:DracoConsumer"]
    roles = sorted(r["RoleName"] for r in session.client("iam").list_roles()["Roles"])
    assert roles == ["draco-consumer-dev", "draco-drill-dev"]


# --------------------------------------------------------------------------- refused before any change


class NoAws(boto3.Session):
    """A session that fails the test on any AWS client."""

    def client(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an AWS client was made before the input was checked")


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda s: bootstrap.producer(s, "22222222222"), "DR_ACCT='22222222222' must be a 12-digit"),
        (lambda s: bootstrap.producer(s, "22222222222a"), "12-digit"),
        (lambda s: bootstrap.producer(s, DR, stage="dev-1"), "stage 'dev-1' must be"),
        (lambda s: bootstrap.producer(s, DR, stage="s" * 26), "must be 1-25 letters"),
        (lambda s: bootstrap.producer(s, DR, peer_stage="a b"), "peer stage 'a b'"),
        (lambda s: bootstrap.producer(s, DR, tag_key="aws:copy"), "producer would refuse this configuration: TAG_KEY"),
        (lambda s: bootstrap.producer(s, DR, tag_key="rds:x"), "TAG_KEY='rds:x' is not a valid tag key"),
        (lambda s: bootstrap.producer(s, DR, tag_value="x" * 257), "TAG_VALUE is longer"),
        (lambda s: bootstrap.producer(s, DR, alarms=bootstrap.Alarms(email="nope")), "not an e-mail address"),
        (lambda s: bootstrap.plan_producer(s, "nope"), "12-digit"),
        (lambda s: bootstrap.consumer(s, []), "SOURCE_ACCTS and SOURCE_ORG are empty"),
        (lambda s: bootstrap.consumer(s, [], source_org="o-short"), "not an AWS Organization id"),
        (lambda s: bootstrap.consumer(s, [], source_ous=["ou-ab12-11111111"]), "SOURCE_OUS needs SOURCE_ORG"),
        (lambda s: bootstrap.consumer(s, [PROD, "1"]), "'1', which is not a 12-digit"),
        (lambda s: bootstrap.consumer(s, [PROD], custom_lifecycles="{not json"), "CUSTOM_LIFECYCLES"),
        (lambda s: bootstrap.consumer(s, [PROD], default_lifecycle="NoSuchLifecycle"), "DEFAULT_LIFECYCLE"),
        (lambda s: bootstrap.consumer(s, [PROD], alarms=bootstrap.Alarms(rpo_hours=0)), "--rpo-hours 0"),
    ],
)
def test_invalid_input_is_refused_before_any_aws_call(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call(NoAws(region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"))


def test_what_the_producer_would_refuse_changes_nothing(session, as_account, account_state) -> None:
    """Before, bootstrap took ``rds:x`` and the producer then refused its config at every cold start."""
    as_account(PROD)
    before = account_state(session)
    with pytest.raises(ValueError, match="rds:x"):
        bootstrap.producer(session, DR, tag_key="rds:x")
    assert account_state(session) == before


def test_missing_region_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    session = NoAws(aws_access_key_id="x", aws_secret_access_key="x")
    assert session.region_name is None
    with pytest.raises(ValueError, match="region"):
        bootstrap.producer(session, DR)


def test_own_account_as_peer_is_refused_and_changes_nothing(session, as_account, account_state) -> None:
    as_account(PROD)
    before = account_state(session)
    with pytest.raises(ValueError, match=f"{PROD} is the account being bootstrapped"):
        bootstrap.producer(session, PROD)
    as_account(DR)
    with pytest.raises(ValueError, match=f"{DR} is the account being bootstrapped"):
        bootstrap.consumer(session, [PROD, DR])
    assert account_state(session) == before


def test_the_stack_names_the_roles_both_deployment_paths_use() -> None:
    acct = Account("aws", PROD, REGION)
    stack = producer_stack(producer_options(REGION, DR, stage="prod"), acct)
    assert stack.deployment.role_arn == f"arn:aws:iam::{PROD}:role/draco-producer-prod"
    assert stack.deployment.functions == {
        "on_producer_topic": "draco-producer-prod-on_producer_topic",
        "poll_jobs": "draco-producer-prod-poll_jobs",
        "wake_poller": "draco-producer-prod-wake_poller",
        "sweep_snapshots": "draco-producer-prod-sweep_snapshots",
    }
    assert (
        stack.deployment.switched
        == {
            "poll_jobs": stack.env["POLLER_RULE"],
            "wake_poller": stack.env["WAKE_RULE"],
        }
        == {"poll_jobs": "draco-producer-prod-poll_jobs-event", "wake_poller": "draco-producer-prod-wake_poller-event"}
    )


def test_dr_safeguards_are_set_at_bootstrap_and_checked_as_the_consumer_checks_them(session: boto3.Session) -> None:
    env = bootstrap.consumer(session, [PROD], retention_lock=False, min_keep=5, key_cap=2, key_scope="account")
    parsed = cfg.ConsumerConfig.from_env(env)
    assert (parsed.retention_lock, parsed.min_keep, parsed.key_cap, parsed.key_scope) == (False, 5, 2, "account")
    with pytest.raises(ValueError, match="MIN_KEEP"):
        bootstrap.consumer(session, [PROD], min_keep=-1)
