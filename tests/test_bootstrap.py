"""Bootstrap against two moto accounts: what it creates, that a rerun changes nothing, the CLI."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from chalicelib_shared import config as cfg
from draco import bootstrap

PROD = "111111111111"
DR = "222222222222"
OTHER = "333333333333"
REGION = "us-east-1"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield


@pytest.fixture
def session(aws: None) -> boto3.Session:
    return boto3.Session(region_name=REGION)


@pytest.fixture
def as_account(monkeypatch: pytest.MonkeyPatch, aws: None):
    """Switch the moto account every client (existing ones too) talks to."""

    def switch(account: str) -> None:
        monkeypatch.setenv("MOTO_ACCOUNT_ID", account)

    return switch


def statements(policy: str) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in json.loads(policy)["Statement"]}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def topic_policy(session: boto3.Session, account: str, name: str) -> dict[str, dict[str, Any]]:
    arn = f"arn:aws:sns:{REGION}:{account}:{name}"
    return statements(session.client("sns").get_topic_attributes(TopicArn=arn)["Attributes"]["Policy"])


def publishers(policy: dict[str, dict[str, Any]]) -> set[str]:
    """Every principal the policy lets publish, as ARNs or service names."""
    found: set[str] = set()
    for statement in policy.values():
        if "sns:Publish" in as_list(statement["Action"]):
            for principals in statement["Principal"].values():
                found.update(as_list(principals))
    return found


def subscriptions(session: boto3.Session) -> dict[str, dict[str, Any]]:
    listed = session.client("rds").describe_event_subscriptions()["EventSubscriptionsList"]
    return {s["CustSubscriptionId"]: s for s in listed}


def transit_key(session: boto3.Session) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(every customer key, every DRACO alias) in the account."""
    kms = session.client("kms")
    aliases = [a for a in kms.list_aliases()["Aliases"] if a["AliasName"] == cfg.TRANSIT_KEY_ALIAS]
    keys = [kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"] for k in kms.list_keys()["Keys"]]
    return [k for k in keys if k["KeyManager"] == "CUSTOMER"], aliases


def descriptions(plan: list[bootstrap.Step]) -> list[str]:
    return [str(step) for step in plan]


# --------------------------------------------------------------------------- producer


def test_producer_creates_topic_subscriptions_key_and_table(session, as_account) -> None:
    as_account(PROD)
    assert descriptions(bootstrap.plan_producer(session, DR)) == [
        "create SNS topic DracoProducer",
        f"set topic policy of DracoProducer (allow publish from {DR}, RDS)",
        "create RDS event subscription draco-producer-db-snapshot (db-snapshot events to DracoProducer)",
        "create RDS event subscription draco-producer-db-cluster-snapshot "
        "(db-cluster-snapshot events to DracoProducer)",
        f"create KMS key alias/DRACO-Transit (rotation on, DR account {DR} may decrypt)",
        "create DynamoDB table DracoProducerJobs (on-demand, indexes due, inventory)",
    ]
    env = bootstrap.producer(session, DR)

    topic_arn = f"arn:aws:sns:{REGION}:{PROD}:DracoProducer"
    policy = topic_policy(session, PROD, "DracoProducer")
    assert publishers(policy) == {f"arn:aws:iam::{PROD}:root", f"arn:aws:iam::{DR}:root", "events.rds.amazonaws.com"}
    rds = next(s for s in policy.values() if s["Principal"] == {"Service": "events.rds.amazonaws.com"})
    assert rds["Condition"] == {"StringEquals": {"aws:SourceAccount": PROD}}
    assert all(s["Resource"] == topic_arn for s in policy.values())

    subs = subscriptions(session)
    found = {n: (s["SourceType"], s["SnsTopicArn"], s["Enabled"], s["EventCategoriesList"]) for n, s in subs.items()}
    assert found == {
        "draco-producer-db-snapshot": ("db-snapshot", topic_arn, True, []),
        "draco-producer-db-cluster-snapshot": ("db-cluster-snapshot", topic_arn, True, []),
    }

    keys, aliases = transit_key(session)
    assert len(keys) == 1 and len(aliases) == 1
    key = keys[0]
    assert aliases[0]["TargetKeyId"] == key["KeyId"]
    assert key["KeySpec"] == "SYMMETRIC_DEFAULT" and "transit" in key["Description"]
    kms = session.client("kms")
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is True
    key_policy = statements(kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"])
    by_principal = {(s["Principal"]["AWS"], a): s for s in key_policy.values() for a in as_list(s["Action"])}
    assert (f"arn:aws:iam::{PROD}:root", "kms:*") in by_principal
    dr_root = f"arn:aws:iam::{DR}:root"
    assert {a for (p, a) in by_principal if p == dr_root} == {"kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant"}
    assert by_principal[(dr_root, "kms:CreateGrant")]["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}
    assert "Condition" not in by_principal[(dr_root, "kms:Decrypt")]

    table = session.client("dynamodb").describe_table(TableName=cfg.PRODUCER_TABLE)["Table"]
    assert {i["IndexName"] for i in table["GlobalSecondaryIndexes"]} == {"due", "inventory"}

    assert env == {
        "DR_ACCT": DR,
        "DR_TOPIC_ARN": f"arn:aws:sns:{REGION}:{DR}:DracoConsumer",
        "TRANSIT_KEY_ARN": key["Arn"],
        "TAG_KEY": "Draco_Copy",
        "TAG_VALUE": "DR",
        "JOB_TABLE": "DracoProducerJobs",
    }
    assert cfg.ProducerConfig.from_env(env).problems == ()


def test_producer_second_run_changes_nothing(session, as_account) -> None:
    as_account(PROD)
    first = bootstrap.producer(session, DR, tag_key="Backup", tag_value="yes")
    assert bootstrap.plan_producer(session, DR, tag_key="Backup", tag_value="yes") == []
    assert bootstrap.producer(session, DR, tag_key="Backup", tag_value="yes") == first
    keys, aliases = transit_key(session)
    assert len(keys) == 1 and len(aliases) == 1
    assert len(subscriptions(session)) == 2
    assert len(session.client("sns").list_topics()["Topics"]) == 1


def test_new_dr_account_updates_both_policies_and_keeps_the_key(session, as_account) -> None:
    as_account(PROD)
    first = bootstrap.producer(session, DR)
    assert descriptions(bootstrap.plan_producer(session, OTHER)) == [
        f"set topic policy of DracoProducer (allow publish from {OTHER}, RDS)",
        f"update key policy of alias/DRACO-Transit (DR account {OTHER} may decrypt)",
    ]
    env = bootstrap.producer(session, OTHER)
    assert env[cfg.TRANSIT_KEY_ARN] == first[cfg.TRANSIT_KEY_ARN]
    assert env[cfg.DR_TOPIC_ARN] == f"arn:aws:sns:{REGION}:{OTHER}:DracoConsumer"
    assert f"arn:aws:iam::{OTHER}:root" in publishers(topic_policy(session, PROD, "DracoProducer"))
    assert f"arn:aws:iam::{DR}:root" not in publishers(topic_policy(session, PROD, "DracoProducer"))
    kms = session.client("kms")
    key_policy = kms.get_key_policy(KeyId=env[cfg.TRANSIT_KEY_ARN], PolicyName="default")["Policy"]
    assert OTHER in key_policy and DR not in key_policy
    assert bootstrap.plan_producer(session, OTHER) == []


def test_drift_in_rotation_is_repaired_and_reordered_policies_are_equal(session, as_account) -> None:
    as_account(PROD)
    key = bootstrap.producer(session, DR)[cfg.TRANSIT_KEY_ARN]
    kms = session.client("kms")
    kms.disable_key_rotation(KeyId=key)
    # The same policy with statements and actions in another order is no change.
    policy = json.loads(kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"])
    policy["Statement"].reverse()
    for statement in policy["Statement"]:
        if isinstance(statement["Action"], list):
            statement["Action"].reverse()
    kms.put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps(policy))

    assert descriptions(bootstrap.plan_producer(session, DR)) == ["enable rotation of KMS key alias/DRACO-Transit"]
    bootstrap.producer(session, DR)
    assert kms.get_key_rotation_status(KeyId=key)["KeyRotationEnabled"] is True


def test_changed_event_subscription_is_an_update_step(session, as_account) -> None:
    as_account(PROD)
    session.client("sns").create_topic(Name="elsewhere")
    session.client("rds").create_event_subscription(
        SubscriptionName="draco-producer-db-snapshot",
        SnsTopicArn=f"arn:aws:sns:{REGION}:{PROD}:elsewhere",
        SourceType="db-snapshot",
        Enabled=False,
    )
    plan = descriptions(bootstrap.plan_producer(session, DR))
    assert "update RDS event subscription draco-producer-db-snapshot (SnsTopicArn, Enabled)" in plan
    assert not any("create RDS event subscription draco-producer-db-snapshot " in line for line in plan)


@pytest.mark.parametrize("damage", ["key pending deletion", "table with other keys", "subscription for some sources"])
def test_states_bootstrap_wont_guess_about_are_errors(session, as_account, damage: str) -> None:
    as_account(PROD)
    if damage == "key pending deletion":
        key = bootstrap.producer(session, DR)[cfg.TRANSIT_KEY_ARN]
        # moto wants the bare key id here
        session.client("kms").schedule_key_deletion(KeyId=key.split("/")[-1], PendingWindowInDays=7)
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


def test_list_aliases_is_read_page_by_page() -> None:
    """moto answers ListAliases in one page; AWS pages at 50, so page with a stub."""
    kms = boto3.client("kms", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(kms) as stub:
        stub.add_response(
            "list_aliases",
            {
                "Aliases": [{"AliasName": f"alias/other-{i}", "TargetKeyId": f"k{i}"} for i in range(50)],
                "Truncated": True,
                "NextMarker": "page2",
            },
            {},
        )
        stub.add_response(
            "list_aliases",
            {"Aliases": [{"AliasName": cfg.TRANSIT_KEY_ALIAS, "TargetKeyId": "transit"}], "Truncated": False},
            {"Marker": "page2"},
        )
        assert bootstrap._alias_target(kms, cfg.TRANSIT_KEY_ALIAS) == "transit"
        stub.assert_no_pending_responses()


# --------------------------------------------------------------------------- consumer


def test_consumer_creates_topic_subscription_and_table(session, as_account) -> None:
    as_account(DR)
    options = dict(
        stage="prod", default_lifecycle="Gold", custom_lifecycles='{"Gold": "daily=35 monthly=24"}', no_dry_run=True
    )
    assert descriptions(bootstrap.plan_consumer(session, [OTHER, PROD], **options)) == [
        "create SNS topic DracoConsumer",
        f"set topic policy of DracoConsumer (allow publish from {PROD}, {OTHER}, RDS)",
        "create RDS event subscription draco-consumer-db-snapshot (db-snapshot events to DracoConsumer)",
        "create DynamoDB table DracoConsumerJobs (on-demand, indexes due, inventory)",
    ]
    env = bootstrap.consumer(session, [OTHER, PROD], **options)

    policy = topic_policy(session, DR, "DracoConsumer")
    assert publishers(policy) == {
        f"arn:aws:iam::{DR}:root",
        f"arn:aws:iam::{PROD}:root",
        f"arn:aws:iam::{OTHER}:root",
        "events.rds.amazonaws.com",
    }
    rds = next(s for s in policy.values() if s["Principal"] == {"Service": "events.rds.amazonaws.com"})
    assert rds["Condition"] == {"StringEquals": {"aws:SourceAccount": DR}}
    subs = subscriptions(session)
    assert list(subs) == ["draco-consumer-db-snapshot"]
    assert subs["draco-consumer-db-snapshot"]["SourceType"] == "db-snapshot"
    assert subs["draco-consumer-db-snapshot"]["SnsTopicArn"] == f"arn:aws:sns:{REGION}:{DR}:DracoConsumer"
    session.client("dynamodb").describe_table(TableName=cfg.CONSUMER_TABLE)
    assert transit_key(session) == ([], [])  # per-source DR keys are the consumer's job

    assert env == {
        "SOURCE_ACCTS": f"{PROD},{OTHER}",
        "TAG_KEY": "Draco_Copy",
        "TAG_VALUE": "DR",
        "NO_DRY_RUN": "1",
        "DEFAULT_LIFECYCLE": "Gold",
        "CUSTOM_LIFECYCLES": '{"Gold": "daily=35 monthly=24"}',
        "JOB_TABLE": "DracoConsumerJobs",
        "PRODUCER_TOPIC_NAME": "DracoProducer",
        "CONSUMER_ROLE_ARN": f"arn:aws:iam::{DR}:role/draco-consumer-prod-on_consumer_topic",
    }
    parsed = cfg.ConsumerConfig.from_env(env)
    assert parsed.problems == () and parsed.live and parsed.source_accounts == {PROD, OTHER}


def test_consumer_second_run_changes_nothing_and_new_source_updates_policy(session, as_account) -> None:
    as_account(DR)
    first = bootstrap.consumer(session, [PROD])
    assert bootstrap.plan_consumer(session, [PROD]) == []
    assert bootstrap.consumer(session, [PROD]) == first
    assert first[cfg.NO_DRY_RUN] == ""
    assert len(subscriptions(session)) == 1

    assert descriptions(bootstrap.plan_consumer(session, [PROD, OTHER])) == [
        f"set topic policy of DracoConsumer (allow publish from {PROD}, {OTHER}, RDS)"
    ]
    bootstrap.consumer(session, [PROD, OTHER])
    assert f"arn:aws:iam::{OTHER}:root" in publishers(topic_policy(session, DR, "DracoConsumer"))


def test_both_accounts_in_one_world(session, as_account) -> None:
    """Each account sees only its own resources; the producer's env points at the consumer's topic."""
    as_account(PROD)
    producer_env = bootstrap.producer(session, DR)
    as_account(DR)
    bootstrap.consumer(session, [PROD])
    topics = [t["TopicArn"] for t in session.client("sns").list_topics()["Topics"]]
    assert topics == [producer_env[cfg.DR_TOPIC_ARN]]
    assert transit_key(session) == ([], [])


# --------------------------------------------------------------------------- validation


class NoAws(boto3.Session):
    """A session that fails the test on any AWS client."""

    def client(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an AWS client was made before the input was checked")


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda s: bootstrap.producer(s, "22222222222"), "12-digit"),
        (lambda s: bootstrap.producer(s, "22222222222a"), "12-digit"),
        (lambda s: bootstrap.producer(s, DR, stage="dev-1"), "stage"),
        (lambda s: bootstrap.producer(s, DR, tag_key="aws:copy"), "tag key"),
        (lambda s: bootstrap.producer(s, DR, tag_value="x" * 257), "tag value"),
        (lambda s: bootstrap.plan_producer(s, "nope"), "12-digit"),
        (lambda s: bootstrap.consumer(s, []), "no peer account"),
        (lambda s: bootstrap.consumer(s, [PROD, "1"]), "12-digit"),
        (lambda s: bootstrap.consumer(s, [PROD], stage="a b"), "stage"),
        (lambda s: bootstrap.consumer(s, [PROD], custom_lifecycles="{not json"), "CUSTOM_LIFECYCLES"),
        (lambda s: bootstrap.consumer(s, [PROD], default_lifecycle="NoSuchLifecycle"), "DEFAULT_LIFECYCLE"),
    ],
)
def test_invalid_input_is_refused_before_any_aws_call(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call(NoAws(region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"))


def test_missing_region_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    session = NoAws(aws_access_key_id="x", aws_secret_access_key="x")
    assert session.region_name is None
    with pytest.raises(ValueError, match="region"):
        bootstrap.producer(session, DR)


def test_own_account_as_peer_is_refused_and_changes_nothing(session, as_account) -> None:
    as_account(PROD)
    with pytest.raises(ValueError, match=f"{PROD} is the account being bootstrapped"):
        bootstrap.producer(session, PROD)
    as_account(DR)
    with pytest.raises(ValueError, match=f"{DR} is the account being bootstrapped"):
        bootstrap.consumer(session, [PROD, DR])
    assert session.client("sns").list_topics()["Topics"] == []


# --------------------------------------------------------------------------- chalice config


BASE_CONFIG = {
    "version": "2.0",
    "app_name": "draco-producer",
    "autogen_policy": False,
    "stages": {
        "dev": {
            "iam_policy_file": "policy-dev.json",
            "environment_variables": {"LOG_LEVEL": "DEBUG", "TAG_KEY": "old"},
        },
        "prod": {"environment_variables": {"TAG_KEY": "prod-key"}},
    },
}


def app_dir_with(tmp_path: Path, config: dict[str, Any]) -> Path:
    app_dir = tmp_path / "producer_app"
    (app_dir / ".chalice").mkdir(parents=True)
    (app_dir / ".chalice" / "config.json").write_text(json.dumps(config, indent=4))
    return app_dir


def test_write_stage_config_merges_and_keeps_everything_else(tmp_path: Path) -> None:
    app_dir = app_dir_with(tmp_path, BASE_CONFIG)
    bootstrap.write_stage_config(app_dir, "dev", {"TAG_KEY": "Draco_Copy", "DR_ACCT": DR})
    bootstrap.write_stage_config(app_dir, "qa", {"DR_ACCT": OTHER})

    path = app_dir / ".chalice" / "config.json"
    text = path.read_text()
    written = json.loads(text)
    assert text == json.dumps(written, indent=2) + "\n"
    assert {k: v for k, v in written.items() if k != "stages"} == {
        "version": "2.0",
        "app_name": "draco-producer",
        "autogen_policy": False,
    }
    assert written["stages"]["dev"] == {
        "iam_policy_file": "policy-dev.json",
        "environment_variables": {"LOG_LEVEL": "DEBUG", "TAG_KEY": "Draco_Copy", "DR_ACCT": DR},
    }
    assert written["stages"]["prod"] == BASE_CONFIG["stages"]["prod"]
    assert written["stages"]["qa"] == {"environment_variables": {"DR_ACCT": OTHER}}

    bootstrap.write_stage_config(app_dir, "dev", {"DR_ACCT": DR})
    assert path.read_text() == text
    assert sorted(p.name for p in path.parent.iterdir()) == ["config.json"]  # no temporary files left


# --------------------------------------------------------------------------- CLI


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    bootstrap.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture
def app_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Temporary Chalice projects in place of the repository's."""
    dirs = {}
    for kind in ("producer", "consumer"):
        app_dir = tmp_path / f"{kind}_app"
        (app_dir / ".chalice").mkdir(parents=True)
        (app_dir / ".chalice" / "config.json").write_text(
            json.dumps({"version": "2.0", "app_name": f"draco-{kind}", "stages": {}}, indent=2) + "\n"
        )
        monkeypatch.setattr(bootstrap, f"{kind.upper()}_APP_DIR", app_dir)
        dirs[kind] = app_dir
    return dirs


def test_cli_dry_run_prints_plan_and_policies_and_changes_nothing(session, as_account, app_dirs, capsys) -> None:
    as_account(PROD)
    config = app_dirs["producer"] / ".chalice" / "config.json"
    before = config.read_text()
    assert run_cli(["bootstrap", "producer", "--dr-account", DR, "--region", REGION, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"account {PROD} in {REGION}: 6 step(s)" in out
    assert "  - create SNS topic DracoProducer\n" in out
    assert "  - create KMS key alias/DRACO-Transit" in out
    assert '"kms:GrantIsForAWSResource": "true"' in out
    assert f'"aws:SourceAccount": "{PROD}"' in out
    assert "dry run: nothing changed" in out
    assert config.read_text() == before
    assert session.client("sns").list_topics()["Topics"] == []
    assert transit_key(session) == ([], [])


def test_cli_applies_and_writes_the_stage_environment(session, as_account, app_dirs, capsys) -> None:
    as_account(DR)
    argv = ["bootstrap", "consumer", "--source-accounts", f"{OTHER},{PROD}", "--region", REGION, "--stage", "prod"]
    assert run_cli([*argv, "--no-dry-run"]) == 0
    out = capsys.readouterr().out
    assert "  - create SNS topic DracoConsumer\n" in out
    assert "wrote stages.prod.environment_variables" in out
    written = json.loads((app_dirs["consumer"] / ".chalice" / "config.json").read_text())
    env = written["stages"]["prod"]["environment_variables"]
    assert env["SOURCE_ACCTS"] == f"{PROD},{OTHER}" and env["NO_DRY_RUN"] == "1"
    assert env["CONSUMER_ROLE_ARN"] == f"arn:aws:iam::{DR}:role/draco-consumer-prod-on_consumer_topic"
    assert written["app_name"] == "draco-consumer"

    assert run_cli([*argv, "--no-dry-run"]) == 0
    assert f"account {DR} in {REGION}: nothing to change" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["producer", "--dr-account", "123", "--region", REGION], "not a 12-digit AWS account id"),
        (["consumer", "--source-accounts", PROD, "--region", REGION, "--stage", "a-b"], "stage"),
        (["producer", "--dr-account", DR, "--region", REGION, "--profile", "no-such-profile"], "no-such-profile"),
        (["producer", "--dr-account", DR], "no AWS region"),
    ],
)
def test_cli_errors_are_one_line_and_exit_2(app_dirs, monkeypatch, capsys, argv: list[str], message: str) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    assert run_cli(["bootstrap", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and message in captured.err and "Traceback" not in captured.err


def test_cli_without_credentials_says_what_to_do(app_dirs, monkeypatch, capsys) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    monkeypatch.delenv("AWS_WEB_IDENTITY_TOKEN_FILE", raising=False)
    assert run_cli(["bootstrap", "producer", "--dr-account", DR, "--region", REGION]) == 2
    err = capsys.readouterr().err
    assert err.startswith("bootstrap: no AWS credentials found") and err.count("\n") == 1


# --------------------------------------------------------------------------- IAM policy files


def test_write_stage_config_with_policy_writes_the_file_and_names_it(tmp_path: Path) -> None:
    app_dir = app_dir_with(tmp_path, {"version": "2.0", "app_name": "draco-consumer", "stages": {}})
    policy = bootstrap.consumer_policy(partition="aws", region=REGION, account=DR, stage="prod", source_accounts=[PROD])
    bootstrap.write_stage_config(app_dir, "prod", {"SOURCE_ACCTS": PROD}, policy)

    chalice_dir = app_dir / ".chalice"
    written = json.loads((chalice_dir / "config.json").read_text())
    assert written["stages"]["prod"] == {
        "environment_variables": {"SOURCE_ACCTS": PROD},
        "autogen_policy": False,
        "iam_policy_file": "policy-prod.json",
    }
    text = (chalice_dir / "policy-prod.json").read_text()
    assert json.loads(text) == policy and text.endswith("}\n")
    assert sorted(p.name for p in chalice_dir.iterdir()) == ["config.json", "policy-prod.json"]
    before = {p.name: p.stat().st_mtime_ns for p in chalice_dir.iterdir()}
    bootstrap.write_stage_config(app_dir, "prod", {"SOURCE_ACCTS": PROD}, policy)
    assert {p.name: p.stat().st_mtime_ns for p in chalice_dir.iterdir()} == before  # unchanged: not rewritten


def test_cli_writes_each_apps_policy_next_to_its_config(session, as_account, app_dirs, capsys) -> None:
    as_account(PROD)
    argv = ["bootstrap", "producer", "--dr-account", DR, "--region", REGION, "--stage", "prod"]
    assert run_cli(argv) == 0
    chalice_dir = app_dirs["producer"] / ".chalice"
    config = json.loads((chalice_dir / "config.json").read_text())
    stage = config["stages"]["prod"]
    assert stage["autogen_policy"] is False and stage["iam_policy_file"] == "policy-prod.json"
    policy = json.loads((chalice_dir / "policy-prod.json").read_text())
    key_arn = stage["environment_variables"][cfg.TRANSIT_KEY_ARN]
    assert policy == bootstrap.producer_policy(
        partition="aws", region=REGION, account=PROD, stage="prod", dr_account=DR, transit_key_arn=key_arn
    )
    assert f"wrote the Lambda role's IAM policy to {chalice_dir / 'policy-prod.json'}" in capsys.readouterr().out

    # A dry run once bootstrapped: nothing to change, the same environment and policy.
    assert run_cli([*argv, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"account {PROD} in {REGION}: nothing to change" in out
    assert f"  TRANSIT_KEY_ARN={key_arn}\n" in out
    assert f"policy to {chalice_dir / 'policy-prod.json'} (unchanged)" in out


def test_cli_dry_run_shows_the_policy_it_would_write_and_writes_nothing(session, as_account, app_dirs, capsys) -> None:
    as_account(DR)
    argv = ["bootstrap", "consumer", "--source-accounts", PROD, "--default-lifecycle", "Standard", "--region", REGION]
    assert run_cli([*argv, "--stage", "prod", "--no-dry-run", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "  DEFAULT_LIFECYCLE=Standard\n" in out and "  NO_DRY_RUN=1\n" in out
    chalice_dir = app_dirs["consumer"] / ".chalice"
    assert f"would write stages.prod.environment_variables in {chalice_dir / 'config.json'}:" in out
    assert f"  CONSUMER_ROLE_ARN=arn:aws:iam::{DR}:role/draco-consumer-prod-on_consumer_topic\n" in out
    assert f"policy to {chalice_dir / 'policy-prod.json'} (new file):" in out
    assert '"Sid": "DeleteOnlyDrCopiesExpiredByTheirLifecycle"' in out
    assert f'"arn:aws:rds:{REGION}:{DR}:snapshot:draco-{PROD}-*"' in out
    assert out.rstrip().endswith("dry run: nothing changed")
    assert sorted(p.name for p in chalice_dir.iterdir()) == ["config.json"]
    assert session.client("sns").list_topics()["Topics"] == []


def test_producer_dry_run_before_the_transit_key_exists_shows_a_placeholder(session, as_account, app_dirs, capsys):
    as_account(PROD)
    assert run_cli(["bootstrap", "producer", "--dr-account", DR, "--region", REGION, "--dry-run"]) == 0
    out = capsys.readouterr().out
    placeholder = f"arn:aws:kms:{REGION}:{PROD}:{bootstrap.NEW_TRANSIT_KEY}"
    assert f"  TRANSIT_KEY_ARN={placeholder}\n" in out
    assert f'"Resource": "{placeholder}"' in out
    assert transit_key(session) == ([], [])
