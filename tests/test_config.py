"""Each app's configuration from its environment: a valid environment has no problems;
every invalid setting is reported as a problem that names its variable, and reading
never raises."""

from __future__ import annotations

import pytest

from chalicelib_shared.config import (
    CONSUMER_TABLE,
    DEFAULT_TAG_KEY,
    DEFAULT_TAG_VALUE,
    PRODUCER_TABLE,
    PRODUCER_TOPIC,
    ConsumerConfig,
    ProducerConfig,
)

PROD = "111111111111"
DR = "222222222222"
OTHER = "333333333333"

PRODUCER_ENV = {
    "DR_ACCT": DR,
    "OUTBOX_TOPIC_ARN": f"arn:aws:sns:us-east-1:{PROD}:DracoOutbox",
    "TRANSIT_KEY_ARN": f"arn:aws:kms:us-east-1:{PROD}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
}
CONSUMER_ENV = {
    "SOURCE_ACCTS": f"{PROD},{OTHER}",
    "DEFAULT_LIFECYCLE": "Standard",
    "CUSTOM_LIFECYCLES": '{"Gold": "daily=35 monthly=24"}',
    "CONSUMER_ROLE_ARN": f"arn:aws:iam::{DR}:role/draco-consumer-dev",
}


def problems_naming(problems: tuple[str, ...], variable: str) -> list[str]:
    assert problems, "expected at least one problem"
    named = [p for p in problems if variable in p]
    assert named, f"no problem names {variable}: {problems}"
    return named


# --- producer --------------------------------------------------------------------------


def test_a_valid_producer_environment_has_no_problems_and_defaults() -> None:
    config = ProducerConfig.from_env(PRODUCER_ENV)
    assert config.problems == ()
    assert config.dr_account == DR
    assert config.outbox_topic_arn == PRODUCER_ENV["OUTBOX_TOPIC_ARN"]
    assert config.transit_key_arn == PRODUCER_ENV["TRANSIT_KEY_ARN"]
    assert (config.job_table, config.tag_key, config.tag_value) == (PRODUCER_TABLE, DEFAULT_TAG_KEY, DEFAULT_TAG_VALUE)


def test_producer_settings_are_stripped_and_overridable() -> None:
    env = {k: f"  {v} " for k, v in PRODUCER_ENV.items()} | {
        "JOB_TABLE": "MyJobs",
        "TAG_KEY": "Backup copy",
        "TAG_VALUE": "",
    }
    config = ProducerConfig.from_env(env)
    assert config.problems == ()
    assert (config.dr_account, config.job_table, config.tag_key, config.tag_value) == (DR, "MyJobs", "Backup copy", "")


def test_a_transit_key_alias_arn_is_accepted() -> None:
    env = PRODUCER_ENV | {"TRANSIT_KEY_ARN": f"arn:aws:kms:us-east-1:{PROD}:alias/DRACO-Transit"}
    assert ProducerConfig.from_env(env).problems == ()


def test_other_partitions_are_accepted() -> None:
    env = {
        "DR_ACCT": DR,
        "OUTBOX_TOPIC_ARN": f"arn:aws-cn:sns:cn-north-1:{PROD}:DracoOutbox",
        "TRANSIT_KEY_ARN": f"arn:aws-cn:kms:cn-north-1:{PROD}:key/1234abcd",
    }
    assert ProducerConfig.from_env(env).problems == ()


def test_the_producer_reads_the_process_environment_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in PRODUCER_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("JOB_TABLE", "FromEnviron")
    config = ProducerConfig.from_env()
    assert (config.problems, config.job_table) == ((), "FromEnviron")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DR_ACCT", None),
        ("DR_ACCT", ""),
        ("DR_ACCT", "abcdefghijkl"),
        ("DR_ACCT", "22222222222"),
        ("DR_ACCT", "2222222222222"),
        ("OUTBOX_TOPIC_ARN", None),
        ("OUTBOX_TOPIC_ARN", "DracoOutbox"),
        ("OUTBOX_TOPIC_ARN", f"arn:aws:sqs:us-east-1:{PROD}:DracoOutbox"),
        ("OUTBOX_TOPIC_ARN", f"arn:aws:sns:us-east-1:{PROD}:DracoConsumer"),
        ("OUTBOX_TOPIC_ARN", f"arn:aws:sns:us-east-1:{DR}:DracoOutbox"),
        ("TRANSIT_KEY_ARN", None),
        ("TRANSIT_KEY_ARN", "alias/DRACO-Transit"),
        ("TRANSIT_KEY_ARN", "1234abcd-12ab-34cd-56ef-1234567890ab"),
        ("TRANSIT_KEY_ARN", f"arn:aws:iam::{PROD}:role/x"),
        ("TAG_KEY", "aws:copy"),
        ("TAG_KEY", "k" * 129),
        ("TAG_KEY", "tab\there"),
        ("TAG_VALUE", "v" * 257),
    ],
)
def test_each_invalid_producer_setting_is_a_problem_naming_it(variable: str, value: str | None) -> None:
    env = dict(PRODUCER_ENV)
    if value is None:
        env.pop(variable, None)
    else:
        env[variable] = value
    problems_naming(ProducerConfig.from_env(env).problems, variable)


def test_a_tag_key_with_a_trailing_newline_is_a_problem() -> None:
    """``_TAG_KEY`` ends in ``$``, which also matches before a final newline; AWS refuses such keys."""
    problems_naming(ProducerConfig.from_env(PRODUCER_ENV | {"TAG_KEY": "Draco_Copy\n"}).problems, "TAG_KEY")


def test_an_empty_producer_environment_reports_every_missing_setting() -> None:
    problems = ProducerConfig.from_env({}).problems
    for variable in ("DR_ACCT", "OUTBOX_TOPIC_ARN", "TRANSIT_KEY_ARN"):
        problems_naming(problems, variable)


# --- consumer --------------------------------------------------------------------------


def test_a_valid_consumer_environment_has_no_problems() -> None:
    config = ConsumerConfig.from_env(CONSUMER_ENV)
    assert config.problems == ()
    assert config.source_accounts == frozenset({PROD, OTHER})
    assert config.default_lifecycle == "Standard"
    assert config.custom_lifecycles == {"Gold": "daily=35 monthly=24"}
    assert config.consumer_role_arn == CONSUMER_ENV["CONSUMER_ROLE_ARN"]
    assert (config.job_table, config.producer_topic_name) == (CONSUMER_TABLE, PRODUCER_TOPIC)
    assert (config.tag_key, config.tag_value) == (DEFAULT_TAG_KEY, DEFAULT_TAG_VALUE)
    assert config.live is False


def test_the_least_consumer_environment_is_the_source_accounts() -> None:
    config = ConsumerConfig.from_env({"SOURCE_ACCTS": PROD})
    assert config.problems == ()
    assert (config.default_lifecycle, config.custom_lifecycles, config.consumer_role_arn) == ("", {}, "")


def test_the_consumer_reads_the_process_environment_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_ACCTS", OTHER)
    monkeypatch.setenv("NO_DRY_RUN", "1")
    for name in ("DEFAULT_LIFECYCLE", "CUSTOM_LIFECYCLES", "CONSUMER_ROLE_ARN", "TAG_KEY", "TAG_VALUE"):
        monkeypatch.delenv(name, raising=False)
    config = ConsumerConfig.from_env()
    assert (config.problems, config.source_accounts, config.live) == ((), frozenset({OTHER}), True)


@pytest.mark.parametrize(
    ("raw", "accounts"),
    [
        (PROD, {PROD}),
        (f"{PROD},{OTHER}", {PROD, OTHER}),
        (f" {PROD} , {OTHER} ,,", {PROD, OTHER}),
        (f"{PROD},{PROD}", {PROD}),
    ],
)
def test_source_accounts_are_a_comma_separated_list(raw: str, accounts: set[str]) -> None:
    config = ConsumerConfig.from_env({"SOURCE_ACCTS": raw})
    assert config.problems == ()
    assert config.source_accounts == frozenset(accounts)


@pytest.mark.parametrize("raw", [None, "", " , ,"])
def test_no_source_account_is_a_problem(raw: str | None) -> None:
    env = {} if raw is None else {"SOURCE_ACCTS": raw}
    config = ConsumerConfig.from_env(env)
    problems_naming(config.problems, "SOURCE_ACCTS")
    assert config.source_accounts == frozenset()


@pytest.mark.parametrize("bad", ["abc", "11111111111", "1111111111111", "111111111111;333333333333"])
def test_a_bad_source_account_is_a_problem_and_is_not_allowed(bad: str) -> None:
    config = ConsumerConfig.from_env({"SOURCE_ACCTS": f"{OTHER},{bad}"})
    assert any(bad in problem for problem in problems_naming(config.problems, "SOURCE_ACCTS"))
    assert config.source_accounts == frozenset({OTHER})


@pytest.mark.parametrize(
    ("raw", "live"),
    [
        (None, False),
        ("", False),
        ("0", False),
        ("false", False),
        ("False", False),
        ("FALSE", False),
        (" no ", False),
        ("No", False),
        ("1", True),
        ("true", True),
        ("TRUE", True),
        ("yes", True),
        ("anything else", True),
    ],
)
def test_no_dry_run_is_set_by_any_value_but_empty_0_false_no(raw: str | None, live: bool) -> None:
    env = {"SOURCE_ACCTS": PROD} | ({} if raw is None else {"NO_DRY_RUN": raw})
    config = ConsumerConfig.from_env(env)
    assert config.live is live
    assert config.problems == ()


@pytest.mark.parametrize(
    "lifecycle", ["Standard", "standard", "Test", "Extreme", "Ignore", "daily=7 weekly=4", "within=5d", "Gold", "gold"]
)
def test_valid_default_lifecycles(lifecycle: str) -> None:
    config = ConsumerConfig.from_env(CONSUMER_ENV | {"DEFAULT_LIFECYCLE": lifecycle})
    assert config.problems == ()
    assert config.default_lifecycle == lifecycle


@pytest.mark.parametrize("lifecycle", ["Platinum", "daily=0", "daily", "daily=7 daily=8", "within=5x", "keep=3"])
def test_an_invalid_default_lifecycle_is_a_problem(lifecycle: str) -> None:
    problems_naming(
        ConsumerConfig.from_env(CONSUMER_ENV | {"DEFAULT_LIFECYCLE": lifecycle}).problems, "DEFAULT_LIFECYCLE"
    )


def test_a_default_lifecycle_naming_an_undefined_custom_lifecycle_is_a_problem() -> None:
    env = {"SOURCE_ACCTS": PROD, "DEFAULT_LIFECYCLE": "Gold"}
    problems_naming(ConsumerConfig.from_env(env).problems, "DEFAULT_LIFECYCLE")


@pytest.mark.parametrize(
    "custom",
    [
        "{",
        "[]",
        '"Gold"',
        '{"Gold": "daily=7", "Gold": "daily=8"}',
        '{"Standard": "daily=7"}',
        '{"ignore": "daily=7"}',
        '{"Gold": "daily=7", "gold": "daily=8"}',
        '{"Go ld": "daily=7"}',
        '{"Gold": "daily=0"}',
        '{"Gold": "sometimes"}',
        '{"Gold": 7}',
        '{"Gold": ""}',
    ],
)
def test_invalid_custom_lifecycles_are_a_problem(custom: str) -> None:
    config = ConsumerConfig.from_env({"SOURCE_ACCTS": PROD, "CUSTOM_LIFECYCLES": custom})
    problems_naming(config.problems, "CUSTOM_LIFECYCLES")
    assert config.custom_lifecycles == {}


@pytest.mark.parametrize("role", ["draco-consumer", f"arn:aws:iam::{DR}:user/someone", "arn:aws:iam::12:role/x"])
def test_an_invalid_consumer_role_arn_is_a_problem(role: str) -> None:
    problems_naming(ConsumerConfig.from_env(CONSUMER_ENV | {"CONSUMER_ROLE_ARN": role}).problems, "CONSUMER_ROLE_ARN")


@pytest.mark.parametrize(("variable", "value"), [("TAG_KEY", "aws:copy"), ("TAG_VALUE", "v" * 257)])
def test_invalid_consumer_tags_are_a_problem(variable: str, value: str) -> None:
    problems_naming(ConsumerConfig.from_env(CONSUMER_ENV | {variable: value}).problems, variable)


@pytest.mark.parametrize("key", ["AWS:copy", "Aws:copy", "rds:copy"])
def test_tag_keys_with_a_reserved_prefix_in_any_case_are_a_problem(key: str) -> None:
    """RDS refuses tag keys prefixed ``aws:`` or ``rds:`` (API reference, Tag); AWS reserves
    ``aws:`` in any case, as ``naming.dr_copy_tags`` already assumes. ``_TAG_KEY`` only refuses
    lower-case ``aws:``, so every copy DRACO tags with such a key would fail."""
    problems_naming(ConsumerConfig.from_env(CONSUMER_ENV | {"TAG_KEY": key}).problems, "TAG_KEY")


def test_job_table_and_producer_topic_can_be_overridden() -> None:
    config = ConsumerConfig.from_env(CONSUMER_ENV | {"JOB_TABLE": "Jobs", "PRODUCER_TOPIC_NAME": "Prod"})
    assert (config.job_table, config.producer_topic_name) == ("Jobs", "Prod")


# --- limits (both apps) ------------------------------------------------------------------------


@pytest.mark.parametrize("app", ["producer", "consumer"])
def test_limits_default_to_the_aws_copy_limits(app: str) -> None:
    config = ProducerConfig.from_env(PRODUCER_ENV) if app == "producer" else ConsumerConfig.from_env(CONSUMER_ENV)
    assert config.problems == ()
    assert config.limits.copies.items() >= {"RDS": 20, "RDS Cluster": 5}.items()
    assert config.limits.max_attempts == 8


def test_the_producer_sweeps_seven_days_by_default() -> None:
    assert ProducerConfig.from_env(PRODUCER_ENV).sweep_days == 7


def test_limits_can_be_set() -> None:
    env = PRODUCER_ENV | {
        "INSTANCE_COPY_LIMIT": "100",
        "CLUSTER_COPY_LIMIT": " 1 ",
        "MAX_ATTEMPTS": "12",
        "SWEEP_DAYS": "35",
    }
    config = ProducerConfig.from_env(env)
    assert config.problems == ()
    assert config.limits.copies.items() >= {"RDS": 100, "RDS Cluster": 1}.items()
    assert (config.limits.max_attempts, config.sweep_days) == (12, 35)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("INSTANCE_COPY_LIMIT", "0"),
        ("INSTANCE_COPY_LIMIT", "101"),
        ("CLUSTER_COPY_LIMIT", "-1"),
        ("CLUSTER_COPY_LIMIT", "five"),
        ("MAX_ATTEMPTS", "2.5"),
        ("MAX_ATTEMPTS", "1e3"),
        ("SWEEP_DAYS", "36"),
        ("SWEEP_DAYS", "0"),
    ],
)
def test_an_invalid_limit_is_a_problem_and_keeps_its_default(variable: str, value: str) -> None:
    config = ProducerConfig.from_env(PRODUCER_ENV | {variable: value})
    problems_naming(config.problems, variable)
    assert config.limits.copies.items() >= {"RDS": 20, "RDS Cluster": 5}.items()
    assert (config.limits.max_attempts, config.sweep_days) == (8, 7)


@pytest.mark.parametrize("variable", ["INSTANCE_COPY_LIMIT", "CLUSTER_COPY_LIMIT", "MAX_ATTEMPTS"])
def test_invalid_consumer_limits_are_a_problem(variable: str) -> None:
    problems_naming(ConsumerConfig.from_env(CONSUMER_ENV | {variable: "0"}).problems, variable)


@pytest.mark.parametrize("value", ["²", "①"])
def test_a_limit_in_other_digit_characters_is_a_problem_not_an_exception(value: str) -> None:
    """``_int`` checks ``str.isdigit()``, which is true for '²' and '①' that ``int()`` refuses,
    so reading the configuration raises instead of reporting the problem."""
    problems_naming(ProducerConfig.from_env(PRODUCER_ENV | {"MAX_ATTEMPTS": value}).problems, "MAX_ATTEMPTS")


# --- safeguards -----------------------------------------------------------------------------


def test_the_safeguards_are_on_by_default() -> None:
    producer = ProducerConfig.from_env(PRODUCER_ENV)
    assert (producer.transit_limit, producer.transit_keep_days) == (10, 7)
    consumer = ConsumerConfig.from_env(CONSUMER_ENV)
    assert (consumer.retention_lock, consumer.min_keep, consumer.key_cap, consumer.locks) == (True, 3, 10, {})
    assert (
        consumer.key_scope == "database"
        and ConsumerConfig.from_env(CONSUMER_ENV | {"KEY_SCOPE": "Account"}).key_scope == "account"
    )
    lifecycles = consumer.lifecycles
    assert (lifecycles.lock, lifecycles.min_keep, lifecycles.default) == (True, 3, "Standard")


def test_the_safeguards_can_be_set_and_the_retention_lock_switched_off() -> None:
    producer = ProducerConfig.from_env(PRODUCER_ENV | {"TRANSIT_LIMIT": "4", "TRANSIT_KEEP_DAYS": "30"})
    assert (producer.problems, producer.transit_limit, producer.transit_keep_days) == ((), 4, 30)
    env = CONSUMER_ENV | {"RETENTION_LOCK": " OFF ", "MIN_KEEP": "0", "KEY_CAP": "2"}
    consumer = ConsumerConfig.from_env(env)
    assert (consumer.problems, consumer.retention_lock, consumer.min_keep, consumer.key_cap) == ((), False, 0, 2)


@pytest.mark.parametrize("value", ["no", "false", "0", "of", "disabled"])
def test_only_off_switches_the_retention_lock_off(value: str) -> None:
    config = ConsumerConfig.from_env(CONSUMER_ENV | {"RETENTION_LOCK": value})
    assert config.retention_lock is True  # a typo keeps the safeguard on
    problems_naming(config.problems, "RETENTION_LOCK")


@pytest.mark.parametrize(
    ("app", "variable", "value"),
    [
        ("consumer", "MIN_KEEP", "-1"),
        ("consumer", "MIN_KEEP", "1001"),
        ("consumer", "KEY_CAP", "0"),
        ("producer", "TRANSIT_LIMIT", "0"),
        ("producer", "TRANSIT_KEEP_DAYS", "366"),
        ("consumer", "KEY_SCOPE", "table"),
    ],
)
def test_invalid_safeguards_are_problems(app: str, variable: str, value: str) -> None:
    reader, env = (ConsumerConfig, CONSUMER_ENV) if app == "consumer" else (ProducerConfig, PRODUCER_ENV)
    problems_naming(reader.from_env(env | {variable: value}).problems, variable)
