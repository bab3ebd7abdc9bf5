"""What the README states about alarms and settings, kept equal to what bootstrap makes and takes."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import boto3
import pytest

from chalicelib_shared.kinds.base import Side
from draco.bootstrap import settings
from draco.bootstrap.alarms import alarm_definitions
from draco.bootstrap.deploy import prepare_consumer, prepare_producer
from draco.bootstrap.drill_alarms import drill_alarm_definitions
from draco.cli import build_parser

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def section(title: str) -> str:
    start = README.index(title)
    return README[start : README.index("\n## ", start + 1)]


def table_names(text: str) -> list[str]:
    """The backticked names in the first column of every table row of ``text``."""
    return [name for row in re.findall(r"^\| ([^|]+) \|", text, re.M) for name in re.findall(r"`([A-Z_a-z]+)`", row)]


def test_the_alarm_table_lists_every_alarm_bootstrap_makes() -> None:
    topic = "arn:aws:sns:us-east-1:111111111111:DracoAlerts"
    made = {
        alarm["AlarmName"].rsplit("-", 1)[1]
        for side in Side
        for alarm in [
            *alarm_definitions(side, "dev", topic, 26.0),
            *drill_alarm_definitions(side, "dev", topic, timedelta(hours=4)),
        ]
    }
    listed = table_names(section("### Alarms"))
    assert sorted(listed) == sorted(made)


def test_each_setting_is_documented_once_per_table() -> None:
    for table in section("## Configuration").split("\n\n"):
        names = table_names(table)
        assert len(names) == len(set(names)), [n for n in names if names.count(n) > 1]


@pytest.mark.parametrize("side", list(Side))
def test_every_documented_setting_is_written_by_bootstrap_or_taken_by_an_option(mocked_aws: None, side: Side) -> None:
    session = boto3.Session(region_name="us-east-1")
    if side is Side.PRODUCER:
        written = prepare_producer(session, "222222222222").preview_env()
        tables = ("Producer (production account):", "Both apps:")
    else:
        written = prepare_consumer(session, ["111111111111"]).preview_env()
        tables = ("Consumer (DR account):", "Both apps:")
    config = section("## Configuration")
    documented = set()
    for title in tables:
        start = config.index(title)
        documented |= set(table_names(config[start : config.index("\n\n", config.index("| ---", start))]))
    written_or_set = set(written) | set(settings.SETTABLE[side])
    optional = {"NO_DRY_RUN", "DEFAULT_LIFECYCLE", "CUSTOM_LIFECYCLES", "SOURCE_REGION"}  # options, when given
    missing = documented - written_or_set - optional - set(settings.SETTABLE[peer(side)])
    assert missing == set()


def peer(side: Side) -> Side:
    return Side.CONSUMER if side is Side.PRODUCER else Side.PRODUCER


def test_the_descriptions_name_what_draco_copies() -> None:
    description = build_parser().description or ""
    pyproject = (Path(__file__).resolve().parent.parent / "pyproject.toml").read_text()
    for text in (description, pyproject):
        assert "every RDS snapshot" not in text
    assert "EBS" in description
