"""The edge between Lambda and the use-cases, on fakes: routing DRACO messages, RDS notifications
and EventBridge events, junk that must change nothing and never raise, an invalid configuration,
the schedules; and the apps' wiring through Chalice's test client."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chalice.test import Client

from chalicelib_shared import handlers, metrics
from chalicelib_shared.container import Container
from chalicelib_shared.handlers import on_schedule, on_sns, on_sweep
from chalicelib_shared.job_table import JobTable
from chalicelib_shared.jobs import State
from chalicelib_shared.kinds import KINDS
from chalicelib_shared.messages import SUBJECT
from chalicelib_shared.pacing import AlwaysOn, PacedJobs, RuleSwitch
from tests.conftest import T0
from tests.fakes import CONSUMER_ENV, DR_TOPIC, ELSEWHERE, PROD, PRODUCER_ENV, copy_request, job_of
from tests.rigs import build_consumer, build_producer

pytestmark = pytest.mark.usefixtures("travel")
EVENTS = Path(__file__).parent / "data" / "rds-events"
REPO = Path(__file__).parent.parent


def sample(name: str) -> tuple[str, str]:
    """The subject and message of a real RDS notification, as SNS delivers it."""
    sns = json.loads((EVENTS / name).read_text())["Records"][0]["Sns"]
    return sns["Subject"], sns["Message"]


def eventbridge(detail_type: str = "RDS DB Snapshot Event") -> str:
    return json.dumps(
        {
            "version": "0",
            "detail-type": detail_type,
            "source": "aws.rds",
            "account": PROD,
            "region": "us-east-1",
            "time": "2026-03-02T12:00:00Z",
            "detail": {"EventID": "RDS-EVENT-0042", "SourceIdentifier": "snap-1"},
        }
    )


# --- on_sns ---------------------------------------------------------------------------------------


def test_a_draco_message_is_handled_and_its_outcome_returned(log) -> None:
    rig = build_consumer()
    source = rig.prod().add("snap-1")
    assert on_sns(lambda: rig.app, SUBJECT, copy_request(source).body()) == "copy initiated"
    assert rig.table.state("draco-111111111111-snap-1") is State.INITIATED
    line = next(line for line in log() if line["message"] == "copy initiated")
    assert line["correlation_id"] == source.arn


@pytest.mark.parametrize(
    ("name", "kind", "returned"),
    [
        ("created_0042.json", "RDS", "copy requested"),
        ("created_0091.json", "RDS", "copy requested"),
        ("created_cluster_0169.json", "RDS Cluster", "copy requested"),
        ("creating_0040.json", "RDS", "ignored: 0 snapshot events"),
        ("initial_event.json", "RDS", "ignored: 0 snapshot events"),
    ],
)
def test_rds_notifications_reach_the_producer(name: str, kind: str, returned: str) -> None:
    rig = build_producer()
    subject, message = sample(name)
    rig.snaps(kind).add(json.loads(message)["Source ID"] if message.startswith("{") else "unnamed")
    assert on_sns(lambda: rig.app, subject, message) == returned
    assert len(rig.sent.sent) == (returned == "copy requested")


def test_an_rds_event_about_a_snapshot_that_is_gone_is_ignored() -> None:
    rig = build_producer()
    assert on_sns(lambda: rig.app, *sample("created_0042.json")) == "ignored: snapshot manual-postgresql not found"


def test_an_eventbridge_event_is_read_and_what_no_kind_claims_is_ignored() -> None:
    rig = build_producer()
    rig.snaps().add("snap-1")
    assert on_sns(lambda: rig.app, None, eventbridge()) == "ignored: 0 snapshot events"
    assert rig.table.items == {} and rig.sent.sent == []


def test_a_message_the_use_case_refuses_is_rejected_and_counted(log, capsys) -> None:
    rig = build_consumer()
    source = rig.cloud.api("333333333333").add("snap-1")
    returned = on_sns(lambda: rig.app, SUBJECT, copy_request(source).body())
    assert returned == "rejected: account 333333333333 is not an allowed source account"
    warning = next(line for line in log() if line["message"] == "message rejected")
    assert warning["reason"] == "account 333333333333 is not an allowed source account"
    assert '"MessagesRejected"' in capsys.readouterr().out  # flushed as an embedded metric
    assert metrics.metrics.metric_set == {}
    assert rig.table.items == {} and rig.sent.sent == []


JUNK: list[tuple[Any, Any]] = [
    (SUBJECT, "not json"),
    (SUBJECT, "[1, 2]"),
    (SUBJECT, json.dumps({"EventType": "snapshot-copy-request", "SnapshotType": "RDS"})),
    (SUBJECT, None),
    (SUBJECT, 42),
    (SUBJECT, "x" * 300_000),
    ("RDS Notification Message", '{"Event Source": "db-snapshot", "Event ID": "#RDS-EVENT-0042"}'),
    ("RDS Notification Message", "{not json"),
    ("RDS Notification Message", '{"Event Source": "db-snapshot", "Source ID": "a--b", "Event ID": "#RDS-EVENT-0042"}'),
    (None, "{}"),
    ("Anything", "plain text"),
    (None, None),
    ({"a": 1}, ["b"]),
]


@pytest.mark.parametrize(("subject", "body"), JUNK)
def test_junk_is_rejected_never_raises_and_changes_nothing(subject: Any, body: Any) -> None:
    for rig in (build_producer(), build_consumer()):
        rig.snaps().add("snap-1")
        returned = on_sns(lambda rig=rig: rig.app, subject, body)
        assert returned.startswith("rejected: ")
        assert rig.table.items == {} and rig.sent.sent == []
        assert rig.snaps().ops() == []


@pytest.mark.parametrize(
    ("app", "variable", "value", "problem"),
    [
        ("producer", "DR_ACCT", "not-an-account", "DR_ACCT='not-an-account'"),
        ("consumer", "SOURCE_ACCTS", "", "SOURCE_ACCTS is empty"),
    ],
)
def test_an_invalid_configuration_is_logged_once_and_nothing_is_done(monkeypatch, log, app, variable, value, problem):
    for name in {**PRODUCER_ENV, **CONSUMER_ENV}:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, value)
    built = []
    monkeypatch.setattr(handlers, f"make_{app}", lambda *args: built.append(args))
    container = Container()
    build = lambda: getattr(handlers, app)(container)  # noqa: E731
    for _ in range(2):
        assert on_sns(build, SUBJECT, "{}") == "ignored: invalid configuration"
        assert on_schedule(build) == {}
    assert built == []
    errors = [line for line in log() if line["message"].startswith("configuration is invalid")]
    assert len(errors) == 1 and errors[0]["service"] == f"draco-{app}"
    assert getattr(handlers, app)(Container()) is None  # a new container logs it again
    assert len([line for line in log() if line["message"].startswith("configuration is invalid")]) == 2
    assert any(problem in text for text in errors[0]["problems"])
    if app == "producer":
        assert on_sweep(build) == {}


# --- the schedules ---------------------------------------------------------------------------------


def test_a_poll_returns_and_logs_its_counts(log) -> None:
    rig = build_producer()
    assert on_schedule(lambda: rig.app) == {}
    assert not any(line["message"] == "poll" for line in log())
    rig.table.put(job_of(rig.snaps().add("snap-1"), State.REQUESTED))
    assert on_schedule(lambda: rig.app) == {"re-sent": 1}
    assert next(line for line in log() if line["message"] == "poll")["outcomes"] == {"re-sent": 1}


def test_the_hourly_wake_up_makes_the_hourly_checks_unless_the_configuration_is_invalid() -> None:
    rig = build_consumer()
    handlers.on_wake(lambda: rig.app)
    assert rig.snaps().ops() == ["quota"] and metrics.metrics.metric_set == {}  # flushed
    handlers.on_wake(lambda: None)


def test_a_sweep_returns_and_logs_its_counts(log) -> None:
    rig = build_producer()
    rig.snaps().add("snap-1", created=T0)
    assert on_sweep(lambda: rig.app) == {"seen": 1, "started": 1}
    line = next(line for line in log() if line["message"] == "sweep")
    assert (line["seen"], line["started"]) == (1, 1)


@pytest.mark.parametrize(
    ("raw", "minutes", "hours"),
    [(None, 1, 6), ("5", 5, 5), ("60", 60, 6), ("24", 24, 24), ("0", 1, 6), ("61", 1, 6), ("x", 1, 6), ("-2", 1, 6)],
)
def test_schedules_read_from_the_deploying_shell(monkeypatch, raw: str | None, minutes: int, hours: int) -> None:
    for variable in (handlers.POLL_MINUTES_VARIABLE, handlers.SWEEP_HOURS_VARIABLE):
        if raw is None:
            monkeypatch.delenv(variable, raising=False)
        else:
            monkeypatch.setenv(variable, raw)
    assert (handlers.poll_minutes(), handlers.sweep_hours()) == (minutes, hours)


# --- building the apps -------------------------------------------------------------------------------


class StandIn:
    """A boto3 client of one service in one Region: records each call, answers nothing."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, operation: str) -> Any:
        return lambda **params: self.calls.append((operation, params)) or {}


class Clients:
    """Stand-ins for boto3 clients, one per service and Region, remembered."""

    def __init__(self) -> None:
        self.made: dict[tuple[str, str], StandIn] = {}

    def __call__(self, service: str, region: str) -> StandIn:
        return self.made.setdefault((service, region), StandIn())


class TableStandIn:
    name = "Jobs"


def test_make_producer_wires_the_ports_to_aws_in_its_region() -> None:
    rig, clients = build_producer(), Clients()
    app = handlers.make_producer(rig.app.config, clients, TableStandIn(), "eu-west-1")
    assert isinstance(app.jobs, PacedJobs) and isinstance(app.slots, JobTable) and isinstance(app.switch, AlwaysOn)
    api = app.snapshots("RDS Cluster")
    assert api.kind is KINDS["RDS Cluster"] and api._rds is clients.made[("rds", "eu-west-1")]  # type: ignore[attr-defined]
    assert app.api("EBS", "us-west-2")._ec2 is clients.made[("ec2", "us-west-2")]  # type: ignore[attr-defined]
    app.publisher.publish(DR_TOPIC, copy_request(rig.snaps().add("snap-1")))
    assert [call[0] for call in clients.made[("sns", "us-east-1")].calls] == ["publish"]  # the topic's Region


def test_make_consumer_wires_dr_keys_in_its_region_and_the_relay_key_in_the_source_region() -> None:
    rig, clients = build_consumer(SOURCE_REGION=ELSEWHERE), Clients()
    app = handlers.make_consumer(rig.app.config, clients, TableStandIn(), "us-east-1")
    assert app.inventory is app.slots and isinstance(app.slots, JobTable) and app.region == "us-east-1"
    assert app.keys._kms is clients.made[("kms", "us-east-1")]  # type: ignore[attr-defined]
    assert app.relay_keys._kms is clients.made[("kms", ELSEWHERE)]  # type: ignore[union-attr]


def test_a_poller_rule_is_switched_through_eventbridge_in_the_app_s_region() -> None:
    rig, clients = build_producer(POLLER_RULE="draco-producer-poll"), Clients()
    app = handlers.make_producer(rig.app.config, clients, TableStandIn(), "eu-west-1")
    assert isinstance(app.switch, RuleSwitch) and app.switch._events is clients.made[("events", "eu-west-1")]  # type: ignore[attr-defined]


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, str]]]:
    """A valid environment for both apps; the clients and tables asked for (service or table, Region)."""
    for name, value in {**PRODUCER_ENV, **CONSUMER_ENV, "AWS_REGION": "eu-west-1"}.items():
        monkeypatch.setenv(name, value)
    asked: list[tuple[str, str]] = []
    monkeypatch.setattr(handlers.aws, "client", lambda service, region: asked.append((service, region)) or StandIn())
    monkeypatch.setattr(handlers.aws, "table", lambda name, region: asked.append((name, region)) or TableStandIn())
    yield asked


def test_each_app_is_built_from_its_environment_in_its_region(environment: list[tuple[str, str]]) -> None:
    producer = handlers.producer(Container())
    assert producer is not None and producer.config.dr_account == "222222222222"
    consumer = handlers.consumer(Container())
    assert consumer is not None and consumer.region == "eu-west-1" and consumer.config.source_accounts == {PROD}
    assert ("DracoProducerJobs", "eu-west-1") in environment and ("DracoConsumerJobs", "eu-west-1") in environment
    assert {region for _, region in environment} == {"eu-west-1"}


@pytest.mark.parametrize(("name", "handler"), [("producer", "on_producer_topic"), ("consumer", "on_consumer_topic")])
def test_the_chalice_apps_route_their_topic_and_schedule_to_the_handlers(monkeypatch, name: str, handler: str) -> None:
    rig = build_producer() if name == "producer" else build_consumer()
    monkeypatch.setattr(handlers, name, lambda container: rig.app)
    app = importlib.import_module(f"{name}_app.app").app
    with Client(app, stage_name="dev", project_dir=str(REPO / f"{name}_app")) as client:
        sns = client.events.generate_sns_event(message="not json", subject=SUBJECT)
        assert client.lambda_.invoke(handler, sns).payload.startswith("rejected: body is not JSON")
        tick = client.events.generate_cw_event(
            source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
        )
        assert client.lambda_.invoke("poll_jobs", tick).payload == {}
        rig.snaps().calls.clear()
        assert client.lambda_.invoke("wake_poller", tick).payload is None
        assert rig.snaps().ops() == ["quota"]  # the hourly checks
