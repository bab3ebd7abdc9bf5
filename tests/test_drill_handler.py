"""The consumer's scheduled drill (``run_drills``): off by default (nothing built; its one AWS call rests its
own schedule rule, ``DRILL_RULE``), an invalid
setting logged and nothing done, and when on, a round through the Chalice app starts the sources due."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import boto3
import pytest
from chalice.test import Client

from chalicelib_shared import handlers
from chalicelib_shared.container import Container
from chalicelib_shared.drills.model import PASSED
from chalicelib_shared.drills.settings import DrillSettings
from tests.drill_rig import Rig, dr_account

REPO = Path(__file__).resolve().parent.parent
CONSUMER_ENV = {"SOURCE_ACCTS": "111111111111", "JOB_TABLE": "DracoConsumerJobs"}


@pytest.fixture(autouse=True)
def consumer_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in CONSUMER_ENV.items():
        monkeypatch.setenv(name, value)


def test_off_by_default_nothing_is_built_and_no_aws_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handlers.aws, "client", lambda *a: pytest.fail("no AWS client while drills are off"))
    monkeypatch.setattr(handlers.aws, "table", lambda *a: pytest.fail("no table while drills are off"))
    monkeypatch.delenv("DRILL_EVERY_DAYS", raising=False)
    assert handlers.drills(Container()) is None
    assert handlers.on_drills(lambda: handlers.drills(Container())) == {}


DRILL_RULE = "draco-consumer-dev-run_drills-event"


def test_drills_off_the_run_rests_its_own_schedule_and_makes_no_other_call(
    mocked_aws: None, monkeypatch: pytest.MonkeyPatch, log
) -> None:
    events = boto3.client("events")
    events.put_rule(Name=DRILL_RULE, ScheduleExpression="rate(10 minutes)")  # as chalice deploy leaves it: enabled
    monkeypatch.setenv("DRILL_RULE", DRILL_RULE)
    monkeypatch.delenv("DRILL_EVERY_DAYS", raising=False)
    made: list[str] = []
    client = handlers.aws.client
    monkeypatch.setattr(handlers.aws, "client", lambda service, region: made.append(service) or client(service, region))
    monkeypatch.setattr(handlers.aws, "table", lambda *a: pytest.fail("no table while drills are off"))
    assert handlers.on_drills(lambda: handlers.drills(Container())) == {}
    assert events.describe_rule(Name=DRILL_RULE)["State"] == "DISABLED" and made == ["events"]
    assert [line["message"] for line in log()] == [
        "drills are off: their schedule rests until the app is deployed again"
    ]


def test_a_drill_schedule_that_cannot_be_rested_is_logged_and_tried_again_next_run(
    mocked_aws: None, monkeypatch: pytest.MonkeyPatch, log
) -> None:
    monkeypatch.setenv("DRILL_RULE", DRILL_RULE)  # no such rule: EventBridge refuses
    assert handlers.drills(Container()) is None
    assert [line["message"] for line in log()] == ["could not rest the drill schedule"]


def test_an_invalid_drill_setting_is_logged_and_nothing_done(monkeypatch: pytest.MonkeyPatch, log) -> None:
    monkeypatch.setattr(handlers.aws, "client", lambda *a: pytest.fail("no AWS client with a bad setting"))
    monkeypatch.setenv("DRILL_EVERY_DAYS", "30")
    monkeypatch.setenv("DRILL_SECURITY_GROUPS", "not-a-group")
    assert handlers.on_drills(lambda: handlers.drills(Container())) == {}
    assert any("not a security group id" in str(line.get("problems")) for line in log())


def test_drill_minutes_read_from_the_deploying_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(handlers.DRILL_MINUTES_VARIABLE, "5")
    assert handlers.drill_minutes() == 5
    monkeypatch.setenv(handlers.DRILL_MINUTES_VARIABLE, "0")
    assert handlers.drill_minutes() == 10


@pytest.fixture
def rig(aws_credentials: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Rig]:
    with dr_account(monkeypatch) as made:
        yield made


def test_the_app_s_scheduled_rounds_drill_each_due_source_once(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    rig.add_copy("RDS", "orders")
    settings = DrillSettings(every_days=30)
    monkeypatch.setattr(handlers, "drills", lambda container: handlers.make_drills(settings, lambda s, r: rig.client(s),
                                                                         rig.table, "us-east-1"))  # fmt: skip
    app = importlib.import_module("consumer_app.app").app
    with Client(app, stage_name="dev", project_dir=str(REPO / "consumer_app")) as client:
        tick = client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event", detail={},
                                               resources=[])  # fmt: skip
        assert client.lambda_.invoke("run_drills", tick).payload == {"swept": 0, "stepped": 0, "started": 1}
        for _ in range(30):
            rig.traveller.shift(timedelta(minutes=10))
            client.lambda_.invoke("run_drills", tick)
        [drill] = rig.drills().table.history()
        assert drill.result == PASSED and rig.leftovers() == []
        rig.traveller.shift(timedelta(days=29))
        assert client.lambda_.invoke("run_drills", tick).payload["started"] == 0  # not due yet
        rig.traveller.shift(timedelta(days=1))
        assert client.lambda_.invoke("run_drills", tick).payload["started"] == 1
