"""RDS event notifications as SNS delivers them: the real samples in tests/data/rds-events
(captured by the original DRACO from live accounts) parse as they are; malformed
notifications are rejected with a reason, and nothing makes the parser raise.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib_shared.kinds import EventType, SnapshotEvent, read_notice
from chalicelib_shared.kinds.notices import RDS_SUBJECT as SUBJECT
from chalicelib_shared.rejection import Rejection
from tests.properties import examples

SAMPLES = Path(__file__).parent / "data" / "rds-events"
QUICK = examples(2 / 3)
EVENT_ID_URL = "http://docs.amazonwebservices.com/AmazonRDS/latest/UserGuide/USER_Events.html#"

# file -> (kind, source id) of a "created" event; None: nothing for DRACO (ignored quietly).
EXPECTED: dict[str, tuple[str, str] | None] = {
    "created_0042.json": ("RDS", "manual-postgresql"),
    "created_0091.json": ("RDS", "rds:database-1-2020-02-19-08-03"),
    "created_cluster_0169.json": (
        "RDS Cluster",
        "rds:tpc-data-cluster-tpcdatabasecluster-1cyxlg7w55kzf-2020-07-28-03-50",
    ),
    "creating_0040.json": None,  # "creating": not yet a snapshot
    "initial_event.json": None,
}


def parse_rds_event(body: Any) -> SnapshotEvent | Rejection | None:
    """What an RDS notification holds for DRACO: its one snapshot event, nothing (``None``), or a rejection."""
    events = read_notice(SUBJECT, body)
    if isinstance(events, Rejection):
        return events
    assert len(events) <= 1
    return events[0] if events else None


def sns_record(name: str) -> dict[str, Any]:
    record = json.loads((SAMPLES / name).read_text())["Records"][0]
    assert record["EventSource"] == "aws:sns"
    return record["Sns"]


def notification(event_source: str, event_id: str, source_id: str) -> str:
    """A notification body of the shape RDS sends (as in the samples)."""
    return json.dumps(
        {
            "Event Source": event_source,
            "Event Time": "2026-01-01 03:00:00.000",
            "Identifier Link": f"https://console.aws.amazon.com/rds/home?region=us-east-1#snapshot:id={source_id}",
            "Source ID": source_id,
            "Event ID": EVENT_ID_URL + event_id,
            "Event Message": "whatever RDS says",
        }
    )


def test_every_sample_file_has_an_expectation() -> None:
    assert sorted(p.name for p in SAMPLES.glob("*.json")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_sample_is_an_rds_notification(name: str) -> None:
    assert sns_record(name)["Subject"] == SUBJECT


@pytest.mark.parametrize("name", [name for name, expected in EXPECTED.items() if expected])
def test_samples_parse_as_they_are(name: str) -> None:
    kind, source_id = EXPECTED[name]  # type: ignore[misc]
    event = parse_rds_event(sns_record(name)["Message"])
    assert isinstance(event, SnapshotEvent), event
    assert (event.kind, event.type, event.snapshot_id) == (kind, EventType.CREATED, source_id)


def test_a_creating_sample_is_nothing_for_draco() -> None:
    assert parse_rds_event(sns_record("creating_0040.json")["Message"]) is None


def test_the_subscription_notice_is_ignored_quietly() -> None:
    body = sns_record("initial_event.json")["Message"]
    assert not body.lstrip().startswith("{")
    assert parse_rds_event(body) is None


@pytest.mark.parametrize(
    ("event_source", "event_id", "kind", "type_"),
    [
        ("db-cluster-snapshot", "RDS-EVENT-0075", "RDS Cluster", EventType.CREATED),  # manual cluster snapshot
        ("db-cluster-snapshot", "RDS-EVENT-0074", "RDS Cluster", None),  # cluster snapshot creating
        ("db-cluster-snapshot", "RDS-EVENT-0168", "RDS Cluster", None),
        ("db-snapshot", "RDS-EVENT-0090", "RDS", None),  # automated snapshot creating
        ("db-snapshot", "RDS-EVENT-0196", "RDS", None),  # copy started
        ("db-snapshot", "RDS-EVENT-0197", "RDS", EventType.COPY_FINISHED),
        ("db-snapshot", "RDS-EVENT-0190", "RDS", None),  # copy cancelled
        ("db-snapshot", "RDS-EVENT-0059", "RDS", None),  # cross-Region copy started
        ("db-snapshot", "RDS-EVENT-0060", "RDS", EventType.COPY_FINISHED),  # cross-Region copy finished
        ("db-snapshot", "RDS-EVENT-0061", "RDS", None),  # cross-Region copy cancelled
    ],
)
def test_other_snapshot_events_are_classified(
    event_source: str, event_id: str, kind: str, type_: EventType | None
) -> None:
    event = parse_rds_event(notification(event_source, event_id, "draco-transit-db1"))
    if type_ is None:
        assert event is None
    else:
        assert isinstance(event, SnapshotEvent) and (event.kind, event.type) == (kind, type_)


def test_a_cluster_has_no_copy_finished_event() -> None:
    assert parse_rds_event(notification("db-cluster-snapshot", "RDS-EVENT-0197", "draco-transit-cl1")) is None


@pytest.mark.parametrize("event_source", ["db-instance", "db-cluster", "db-parameter-group", "", None])
def test_events_not_about_snapshots_are_ignored(event_source: Any) -> None:
    body = json.loads(notification("db-snapshot", "RDS-EVENT-0042", "db1"))
    body["Event Source"] = event_source
    assert parse_rds_event(json.dumps(body)) is None


def test_leading_whitespace_before_json_is_parsed() -> None:
    assert isinstance(parse_rds_event("\n  " + notification("db-snapshot", "RDS-EVENT-0042", "db1")), SnapshotEvent)


@pytest.mark.parametrize("body", [None, 42, b"{}", {"Event Source": "db-snapshot"}, ["{"]])
def test_a_body_that_is_not_text_is_rejected(body: Any) -> None:
    assert isinstance(parse_rds_event(body), Rejection)


def test_an_oversized_body_is_rejected() -> None:
    body = json.loads(notification("db-snapshot", "RDS-EVENT-0042", "db1"))
    body["Event Message"] = "x" * 16 * 1024
    result = parse_rds_event(json.dumps(body))
    assert isinstance(result, Rejection) and "16 KiB" in result.reason


@pytest.mark.parametrize("body", ["{", "{not json}", '{"Event Source": "db-snapshot",}', "{'a': 1}"])
def test_a_body_that_looks_like_json_but_is_not_is_rejected(body: str) -> None:
    result = parse_rds_event(body)
    assert isinstance(result, Rejection) and "not JSON" in result.reason


@pytest.mark.parametrize(
    "change",
    [
        {"Event ID": "RDS-EVENT-42"},
        {"Event ID": EVENT_ID_URL},
        {"Event ID": EVENT_ID_URL + "RDS-EVENT-0042-extra"},
        {"Event ID": None},
        {"Source ID": None},
        {"Source ID": 42},
        {"Source ID": ""},
        {"Source ID": "1db"},
        {"Source ID": "db--1"},
        {"Source ID": "db1-"},
        {"Source ID": "db 1"},
        {"Source ID": "shared:db1"},
        {"Source ID": "a" * 256},
    ],
)
def test_a_snapshot_event_without_a_valid_event_id_or_source_id_is_rejected(change: dict[str, Any]) -> None:
    body = json.loads(notification("db-snapshot", "RDS-EVENT-0042", "db1")) | change
    result = parse_rds_event(json.dumps(body))
    assert isinstance(result, Rejection) and "Event ID or Source ID" in result.reason


@pytest.mark.parametrize("missing", ["Event ID", "Source ID"])
def test_a_snapshot_event_missing_a_field_is_rejected(missing: str) -> None:
    body = json.loads(notification("db-snapshot", "RDS-EVENT-0042", "db1"))
    del body[missing]
    assert isinstance(parse_rds_event(json.dumps(body)), Rejection)


def test_a_source_id_with_a_trailing_newline_is_rejected() -> None:
    """``SNAPSHOT_ID`` ends in ``$``, which also matches before a final newline."""
    result = parse_rds_event(notification("db-snapshot", "RDS-EVENT-0042", "db1\n"))
    assert isinstance(result, Rejection), result


def test_deeply_nested_json_is_rejected_not_raised() -> None:
    """json.loads raises RecursionError, not ValueError, past ~1000 levels; 16 KiB allows far more."""
    body = '{"a":' + "[" * 16000
    assert len(body) <= 16 * 1024
    assert isinstance(parse_rds_event(body), Rejection)


# --- properties -------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=20), children, max_size=5),
    max_leaves=25,
)


@QUICK
@given(st.text(max_size=300))
def test_arbitrary_text_never_raises(body: str) -> None:
    result = parse_rds_event(body)
    assert result is None or isinstance(result, Rejection | SnapshotEvent)
    if not body.lstrip().startswith("{"):  # plain text is the subscription notice
        assert result is None


@QUICK
@given(st.text(max_size=300))
def test_arbitrary_text_opening_like_json_is_parsed_or_rejected_never_raised(text: str) -> None:
    result = parse_rds_event("{" + text)
    assert result is None or isinstance(result, Rejection | SnapshotEvent)
    if result is None:  # only a JSON object about no snapshot is ignored
        assert "Event Source" not in text or json.loads("{" + text).get("Event Source") not in (
            "db-snapshot",
            "db-cluster-snapshot",
        )


@QUICK
@given(st.sampled_from(["Event Source", "Event ID", "Source ID", "Event Time"]), JSON_VALUES)
def test_a_real_notification_with_one_field_replaced_never_raises(name: str, value: Any) -> None:
    body = json.loads(sns_record("created_0091.json")["Message"]) | {name: value}
    result = parse_rds_event(json.dumps(body))
    assert result is None or isinstance(result, Rejection | SnapshotEvent)
    if isinstance(result, SnapshotEvent):
        assert isinstance(result.snapshot_id, str) and result.type in EventType
