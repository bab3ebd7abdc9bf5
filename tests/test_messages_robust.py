"""The wire protocol under odd input: a bad envelope is rejected, every valid message round-trips, and no
input, however odd, raises."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib_shared.messages import MAX_BODY, MAX_REASON, SUBJECT, EventType, Message, Rejection, parse_message
from tests.test_messages import CARRIES, COMMON, QUICK, UTC, arn, rejected, valid_doc, valid_message

# --- rejecting: the envelope ----------------------------------------------------------


@pytest.mark.parametrize("subject", [None, "", "RDS Notification Message", "draco event", "DRACO Event ", 42])
def test_wrong_subject_is_rejected(subject: Any) -> None:
    rejected(parse_message(subject, json.dumps(valid_doc(EventType.COPY_REQUEST))), "subject")


@pytest.mark.parametrize("body", [None, 42, b"{}", {"EventType": "snapshot-copy-request"}, ["x"]])
def test_a_body_that_is_not_text_is_rejected(body: Any) -> None:
    rejected(parse_message(SUBJECT, body), "body must be JSON text")


@pytest.mark.parametrize("body", ["", "{", "not json", "{'EventType': 1}", '{"a": 1,}', "\x00"])
def test_a_body_that_is_not_json_is_rejected(body: str) -> None:
    rejected(parse_message(SUBJECT, body), "not JSON")


@pytest.mark.parametrize("body", ["[]", "42", '"text"', "null", "true", "[{}]"])
def test_a_json_body_that_is_not_an_object_is_rejected(body: str) -> None:
    rejected(parse_message(SUBJECT, body), "not a JSON object")


@pytest.mark.parametrize("body", ["[" * 5000, '{"a":' * 3000 + "1" + "}" * 3000])
def test_deeply_nested_json_is_rejected_not_raised(body: str) -> None:
    """json.loads raises RecursionError (not ValueError) past ~1000 levels; 64 KiB allows far more."""
    assert len(body) <= MAX_BODY
    rejected(parse_message(SUBJECT, body))


# --- properties ---------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=20), children, max_size=5),
    max_leaves=25,
)
LETTERS = "abcdefghijklmnopqrstuvwxyz"
SEGMENT = st.text(alphabet=LETTERS + "0123456789", min_size=1, max_size=12)


@st.composite
def snapshot_ids(draw: st.DrawFn) -> str:
    """Manual, automated (rds:) and AWS Backup ids, lower-case as AWS reports them."""
    prefix = draw(st.sampled_from(["", "rds:", "awsbackup:"]))
    first = draw(st.sampled_from(LETTERS)) + draw(st.text(alphabet=LETTERS + "0123456789", max_size=12))
    rest = draw(st.lists(SEGMENT, max_size=8))
    return prefix + "-".join([first, *rest])


@st.composite
def messages(draw: st.DrawFn) -> Message:
    event_type = draw(st.sampled_from(list(EventType)))
    kind = draw(st.sampled_from(["RDS", "RDS Cluster"]))
    source_id = draw(snapshot_ids())
    transit = draw(snapshot_ids().filter(lambda s: ":" not in s))
    extra: dict[str, Any] = {
        "source_acct": draw(st.from_regex(r"\A[0-9]{12}\Z")),
        "source_name": draw(st.from_regex(r"\A[a-zA-Z](-?[a-zA-Z0-9]){0,20}\Z")),
    }
    extra["source_arn"] = arn(source_id, kind, extra["source_acct"])
    carried = CARRIES[event_type]
    if "SourceTime" in carried:
        moment = draw(st.datetimes(datetime(1990, 1, 1), datetime(2200, 1, 1), timezones=st.just(UTC)))
        extra["source_time"] = moment.replace(microsecond=0)
    if "TagList" in carried:
        pairs = st.tuples(st.text(min_size=1, max_size=128), st.text(max_size=256))
        extra["tags"] = tuple(draw(st.lists(pairs, max_size=8, unique_by=lambda pair: pair[0])))
    if "TransitArn" in carried:
        extra["transit_arn"] = arn(transit, kind, extra["source_acct"])
        extra["transit_id"] = transit
    if "Reason" in carried:
        extra["reason"] = draw(st.text(min_size=1, max_size=MAX_REASON))
    if "Encrypted" in carried:
        extra["encrypted"] = draw(st.booleans())
    return valid_message(event_type, kind, source_id, **extra)


@QUICK
@given(messages())
def test_every_valid_message_round_trips(message: Message) -> None:
    assert parse_message(SUBJECT, message.body()) == message


@QUICK
@given(st.text(max_size=300))
def test_arbitrary_text_never_raises(body: str) -> None:
    assert isinstance(parse_message(SUBJECT, body), Rejection | Message)


@QUICK
@given(JSON_VALUES)
def test_arbitrary_json_never_raises(value: Any) -> None:
    result = parse_message(SUBJECT, json.dumps(value))
    assert isinstance(result, Rejection)  # no arbitrary value has the fields of a message


@QUICK
@given(
    st.sampled_from(list(EventType)),
    st.sampled_from(["RDS", "RDS Cluster"]),
    st.sampled_from(
        [*COMMON, "SourceTime", "TagList", "TransitArn", "TransitId", "Encrypted", "TargetKmsId", "Reason"]
    ),
    JSON_VALUES,
)
def test_a_valid_message_with_one_field_replaced_never_raises(
    event_type: EventType, kind: str, name: str, value: Any
) -> None:
    doc = valid_doc(event_type, kind) | {name: value}
    result = parse_message(SUBJECT, json.dumps(doc))
    assert isinstance(result, Rejection | Message)
    if isinstance(result, Message):  # whatever is accepted is written back unchanged
        assert parse_message(SUBJECT, result.body()) == result
