"""The DRACO protocol: ``parse_message`` accepts what ``Message.body`` writes, and rejects
every malformed or hostile body with a reason, never by raising.

The expected fields per event type are written out here from the protocol (the
original DRACO's field names plus SourceTime), not read from the module, so a
change to the protocol shows up as a failing test.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest

from chalicelib_shared.messages import (
    MAX_BODY,
    SUBJECT,
    EventType,
    Message,
    Rejection,
    parse_message,
    publish,
)
from tests.properties import examples

UTC = timezone.utc
ACCT = "111111111111"
OTHER_ACCT = "333333333333"
REGION = "us-east-1"
KMS_KEY = "arn:aws:kms:us-east-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab"
SOURCE_TIME = "2026-01-31T23:59:59Z"
QUICK = examples(1 / 2)

RESOURCE = {"RDS": "snapshot", "RDS Cluster": "cluster-snapshot"}
# What each event type carries besides the common fields, as the protocol defines it.
CARRIES = {
    EventType.COPY_REQUEST: ("SourceTime", "TagList"),
    EventType.COPY_INITIATE: (),  # TargetKmsId is optional: DR makes keys only for verified transit copies
    EventType.NO_COPY: ("Reason",),
    EventType.COPY_SHARED: ("SourceTime", "TagList", "TransitArn", "TransitId", "Encrypted"),
    EventType.DELETE_SHARED: ("TransitArn", "TransitId"),
}
COMMON = ("EventType", "SnapshotType", "SourceAcct", "SourceArn", "SourceId", "SourceName")


def arn(snapshot_id: str, kind: str = "RDS", account: str = ACCT, partition: str = "aws", region: str = REGION) -> str:
    return f"arn:{partition}:rds:{region}:{account}:{RESOURCE[kind]}:{snapshot_id}"


def valid_doc(event_type: EventType, kind: str = "RDS", source_id: str = "db1-snap-1") -> dict[str, Any]:
    """A valid message body (as a dict) of this event type, with every field it must carry."""
    doc: dict[str, Any] = {
        "EventType": event_type.value,
        "SnapshotType": kind,
        "SourceAcct": ACCT,
        "SourceArn": arn(source_id, kind),
        "SourceId": source_id,
        "SourceName": "db1",
    }
    optional = {
        "SourceTime": SOURCE_TIME,
        "TagList": [{"Key": "Draco_Lifecycle", "Value": "Standard"}, {"Key": "team", "Value": ""}],
        "TransitArn": arn("draco-transit-db1-snap-1", kind),
        "TransitId": "draco-transit-db1-snap-1",
        "Encrypted": True,
        "TargetKmsId": KMS_KEY,
        "Reason": "Draco_Lifecycle is Ignore",
    }
    doc.update({name: optional[name] for name in CARRIES[event_type]})
    return doc


def parse_doc(doc: Any) -> Message | Rejection:
    return parse_message(SUBJECT, json.dumps(doc))


def rejected(result: Message | Rejection, *words: str) -> Rejection:
    assert isinstance(result, Rejection), f"expected a rejection, got {result!r}"
    for word in words:
        assert word in result.reason, f"{word!r} not in reason {result.reason!r}"
    return result


def valid_message(event_type: EventType, kind: str = "RDS", source_id: str = "db1-snap-1", **extra: Any) -> Message:
    """A valid Message carrying exactly the fields its event type carries."""
    fields: dict[str, Any] = {
        "event_type": event_type,
        "snapshot_type": kind,
        "source_acct": ACCT,
        "source_arn": arn(source_id, kind),
        "source_id": source_id,
        "source_name": "db1",
    }
    carried = CARRIES[event_type]
    if "SourceTime" in carried:
        fields["source_time"] = datetime(2026, 1, 31, 23, 59, 59, tzinfo=UTC)
    if "TagList" in carried:
        fields["tags"] = (("Draco_Lifecycle", "Standard"), ("aws:cloudformation:stack-name", "prod"), ("empty", ""))
    if "TransitArn" in carried:
        fields["transit_arn"] = arn("draco-transit-db1-snap-1", kind)
        fields["transit_id"] = "draco-transit-db1-snap-1"
    if "TargetKmsId" in carried:
        fields["target_kms_id"] = KMS_KEY
    if "Reason" in carried:
        fields["reason"] = "Draco_Lifecycle is Ignore"
    fields.update(extra)
    return Message(**fields)


# --- accepting ------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["RDS", "RDS Cluster"])
@pytest.mark.parametrize("event_type", list(EventType))
def test_body_then_parse_round_trips_every_event_type(event_type: EventType, kind: str) -> None:
    message = valid_message(event_type, kind)
    assert parse_message(SUBJECT, message.body()) == message


def test_copy_shared_round_trips_an_unencrypted_transit_copy() -> None:
    message = valid_message(EventType.COPY_SHARED, "RDS Cluster", encrypted=False)
    parsed = parse_message(SUBJECT, message.body())
    assert isinstance(parsed, Message) and parsed.encrypted is False
    assert parsed == message


@pytest.mark.parametrize("event_type", list(EventType))
def test_valid_documents_parse_with_their_field_values(event_type: EventType) -> None:
    doc = valid_doc(event_type, "RDS Cluster")
    message = parse_doc(doc)
    assert isinstance(message, Message), message
    assert (message.event_type, message.snapshot_type, message.source_acct) == (event_type, "RDS Cluster", ACCT)
    assert (message.source_arn, message.source_id, message.source_name) == (doc["SourceArn"], "db1-snap-1", "db1")
    assert message.region == REGION
    if "SourceTime" in doc:
        assert message.source_time == datetime(2026, 1, 31, 23, 59, 59, tzinfo=UTC)
    if "TagList" in doc:
        assert message.tags == (("Draco_Lifecycle", "Standard"), ("team", ""))
    if "TransitArn" in doc:
        assert (message.transit_arn, message.transit_id) == (doc["TransitArn"], doc["TransitId"])


def test_fields_an_event_type_does_not_carry_are_ignored() -> None:
    doc = valid_doc(EventType.COPY_INITIATE) | {"Reason": 42, "TagList": "junk", "Unknown": [1, 2]}
    message = parse_doc(doc)
    assert isinstance(message, Message)
    assert (message.reason, message.tags) == ("", ())


@pytest.mark.parametrize(
    ("kind", "source_id"),
    [
        ("RDS", "rds:db-2026-01-01-03-00"),
        ("RDS Cluster", "rds:tpc-data-cluster-1cyxlg7w55kzf-2020-07-28-03-50"),
        ("RDS", "awsbackup:job-1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d"),
        ("RDS Cluster", "awsbackup:job-1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d"),
    ],
)
@pytest.mark.parametrize("event_type", [EventType.COPY_REQUEST, EventType.COPY_SHARED])
def test_automated_and_aws_backup_snapshot_arns_parse(event_type: EventType, kind: str, source_id: str) -> None:
    message = parse_doc(valid_doc(event_type, kind, source_id))
    assert isinstance(message, Message), message
    assert message.source_id == source_id
    assert message.source_arn.endswith(f":{RESOURCE[kind]}:{source_id}")


@pytest.mark.parametrize("partition", ["aws-cn", "aws-us-gov"])
def test_other_partitions_parse(partition: str) -> None:
    region = "cn-north-1" if partition == "aws-cn" else "us-gov-west-1"
    doc = valid_doc(EventType.DELETE_SHARED)
    doc["SourceArn"] = arn("db1-snap-1", partition=partition, region=region)
    doc["TransitArn"] = arn("draco-transit-db1-snap-1", partition=partition, region=region)
    message = parse_doc(doc)
    assert isinstance(message, Message), message
    assert message.region == region


def test_source_id_matches_an_arn_in_lower_case() -> None:
    """RDS identifiers are case-insensitive (AWS stores them lower-case)."""
    doc = valid_doc(EventType.COPY_REQUEST)
    doc["SourceId"] = "DB1-Snap-1"
    assert isinstance(parse_doc(doc), Message)


def test_source_id_matches_its_arn_when_both_have_the_same_capitals() -> None:
    """An id and ARN that agree exactly must match: the check lower-cases only the SourceId."""
    doc = valid_doc(EventType.COPY_REQUEST, source_id="DB1-Snap-1")
    assert doc["SourceArn"].endswith(":DB1-Snap-1")
    assert isinstance(parse_doc(doc), Message), parse_doc(doc)


def test_a_tag_without_value_has_the_empty_value() -> None:
    doc = valid_doc(EventType.COPY_REQUEST) | {"TagList": [{"Key": "flag"}]}
    message = parse_doc(doc)
    assert isinstance(message, Message) and message.tags == (("flag", ""),)


def test_tag_limits_are_inclusive() -> None:
    tags = [{"Key": f"k{i:03d}" + "x" * 124, "Value": "v" * 256} for i in range(50)]
    message = parse_doc(valid_doc(EventType.COPY_REQUEST) | {"TagList": tags})
    assert isinstance(message, Message), message
    assert len(message.tags) == 50 and all(len(k) == 128 for k, _ in message.tags)


def test_reason_may_be_as_long_as_1024_characters() -> None:
    assert isinstance(parse_doc(valid_doc(EventType.NO_COPY) | {"Reason": "r" * 1024}), Message)
    rejected(parse_doc(valid_doc(EventType.NO_COPY) | {"Reason": "r" * 1025}), "Reason")


def test_a_body_of_exactly_max_body_characters_is_accepted_and_one_more_is_not() -> None:
    doc = valid_doc(EventType.DELETE_SHARED) | {"Pad": ""}
    doc["Pad"] = "p" * (MAX_BODY - len(json.dumps(doc)))
    body = json.dumps(doc)
    assert len(body) == MAX_BODY
    assert isinstance(parse_message(SUBJECT, body), Message)
    rejected(parse_message(SUBJECT, body + " "), "body", str(MAX_BODY))


def test_a_message_with_the_largest_valid_non_ascii_tags_round_trips() -> None:
    """50 tags of 128/256 characters are valid AWS tags in any script; body() escapes
    non-ASCII as \\uXXXX (6 characters each) and then exceeds MAX_BODY, so the peer
    rejects a legitimate snapshot's message."""
    tags = tuple((f"{i:02d}" + "鍵" * 126, "値" * 256) for i in range(50))
    message = valid_message(EventType.COPY_REQUEST, tags=tags)
    assert parse_message(SUBJECT, message.body()) == message


def test_publish_sends_the_body_under_the_draco_subject() -> None:
    sent: list[dict[str, str]] = []

    class FakeSns:
        def publish(self, **kwargs: str) -> None:
            sent.append(kwargs)

    message = valid_message(EventType.NO_COPY)
    publish(FakeSns(), "arn:aws:sns:us-east-1:111111111111:DracoProducer", message)
    assert sent == [
        {"TopicArn": "arn:aws:sns:us-east-1:111111111111:DracoProducer", "Subject": SUBJECT, "Message": message.body()}
    ]
    assert parse_message(sent[0]["Subject"], sent[0]["Message"]) == message


# --- rejecting: fields -----------------------------------------------------------------


@pytest.mark.parametrize("value", ["snapshot-copy-done", "SNAPSHOT-COPY-REQUEST", "", None, 42, [], {}])
def test_unknown_event_type_is_rejected(value: Any) -> None:
    doc = valid_doc(EventType.COPY_REQUEST) | {"EventType": value}
    rejected(parse_doc(doc), "EventType")


def test_missing_event_type_is_rejected() -> None:
    doc = valid_doc(EventType.COPY_REQUEST)
    del doc["EventType"]
    rejected(parse_doc(doc), "EventType")


def test_a_rejection_names_the_event_type_in_its_detail() -> None:
    doc = valid_doc(EventType.COPY_SHARED) | {"Encrypted": "yes"}
    assert rejected(parse_doc(doc)).detail == {"EventType": "snapshot-copy-shared"}


@pytest.mark.parametrize(("event_type", "name"), [(e, name) for e in EventType for name in COMMON[1:] + CARRIES[e]])
def test_every_required_field_missing_is_rejected_by_name(event_type: EventType, name: str) -> None:
    doc = valid_doc(event_type)
    del doc[name]
    rejected(parse_doc(doc), name)


BAD_TYPES = [None, 42, 1.5, True, [], {}, ["x"], {"Key": "v"}]


@pytest.mark.parametrize("value", BAD_TYPES)
@pytest.mark.parametrize(
    ("event_type", "name"),
    [(e, name) for e in EventType for name in COMMON[1:] + CARRIES[e] if name not in ("TagList", "Encrypted")],
)
def test_every_text_field_of_the_wrong_type_is_rejected_by_name(event_type: EventType, name: str, value: Any) -> None:
    doc = valid_doc(event_type) | {name: value}
    rejected(parse_doc(doc), name)


@pytest.mark.parametrize("value", ["EBS", "rds", "RDS cluster", "", None, 1])
def test_unknown_snapshot_type_is_rejected(value: Any) -> None:
    rejected(parse_doc(valid_doc(EventType.COPY_REQUEST) | {"SnapshotType": value}), "SnapshotType")


@pytest.mark.parametrize(
    "account", ["11111111111", "1111111111111", "abcdefghijkl", "", " 111111111111", "111111111111\n", 111111111111]
)
def test_bad_account_ids_are_rejected(account: Any) -> None:
    rejected(parse_doc(valid_doc(EventType.COPY_REQUEST) | {"SourceAcct": account}), "SourceAcct")


@pytest.mark.parametrize("event_type", [EventType.COPY_REQUEST, EventType.DELETE_SHARED])
def test_a_cluster_snapshot_arn_with_snapshot_type_rds_is_rejected(event_type: EventType) -> None:
    doc = valid_doc(event_type) | {"SourceArn": arn("db1-snap-1", "RDS Cluster")}
    rejected(parse_doc(doc), "SourceArn", "RDS Cluster", "SnapshotType is RDS")


def test_an_instance_snapshot_arn_with_snapshot_type_cluster_is_rejected() -> None:
    doc = valid_doc(EventType.COPY_REQUEST, "RDS Cluster") | {"SourceArn": arn("db1-snap-1", "RDS")}
    rejected(parse_doc(doc), "SourceArn", "SnapshotType is RDS Cluster")


def test_a_transit_arn_of_the_other_kind_is_rejected() -> None:
    doc = valid_doc(EventType.COPY_SHARED) | {"TransitArn": arn("draco-transit-db1-snap-1", "RDS Cluster")}
    rejected(parse_doc(doc), "TransitArn", "SnapshotType is RDS")


@pytest.mark.parametrize(
    "value",
    [
        "not an arn",
        "arn:aws:ec2:us-east-1:111111111111:snapshot/snap-0123456789abcdef0",
        "arn:aws:rds:us-east-1:111111111111:db:db1",
        "arn:aws:rds:us-east-1:111111111111:snapshot:",
        "arn:aws:rds:us-east-1:111111111111:snapshot:1-starts-with-digit",
        "arn:aws:rds:us-east-1:111111111111:snapshot:double--hyphen",
        "arn:aws:rds:us-east-1:111111111111:snapshot:trailing-",
        "arn:aws:rds:us-east-1:111111111111:snapshot:under_score",
        "arn:aws:rds:us-east-1:11111111111:snapshot:db1-snap-1",
        "arn:aws:rds:useast1:111111111111:snapshot:db1-snap-1",
        "arn:azure:rds:us-east-1:111111111111:snapshot:db1-snap-1",
        "ARN:AWS:RDS:us-east-1:111111111111:snapshot:db1-snap-1",
        "arn:aws:rds:us-east-1:111111111111:snapshot:" + "a" * 600,
    ],
)
def test_a_source_arn_that_is_not_an_rds_snapshot_arn_is_rejected(value: str) -> None:
    rejected(parse_doc(valid_doc(EventType.COPY_REQUEST) | {"SourceArn": value}), "SourceArn")


@pytest.mark.parametrize(
    "value",
    [
        "arn:aws:rds:us-east-1:111111111111:snapshot:db1-snap-1\n",
        "arn:aws:rds:us-east-1:111111111111:snapshot:db1-snap-1\nsecond line",
    ],
)
def test_a_source_arn_with_a_line_break_is_rejected(value: str) -> None:
    """The validating regexes end in ``$``, which also matches before a final newline."""
    rejected(parse_doc(valid_doc(EventType.COPY_REQUEST) | {"SourceArn": value}), "SourceArn")


def test_a_transit_arn_with_a_trailing_newline_is_rejected() -> None:
    doc = valid_doc(EventType.COPY_SHARED)
    doc["TransitArn"] += "\n"
    rejected(parse_doc(doc), "TransitArn")


def test_a_source_name_with_a_trailing_newline_is_rejected() -> None:
    rejected(parse_doc(valid_doc(EventType.COPY_REQUEST) | {"SourceName": "db1\n"}), "SourceName")


def test_a_kms_key_arn_with_a_trailing_newline_is_rejected() -> None:
    rejected(parse_doc(valid_doc(EventType.COPY_INITIATE) | {"TargetKmsId": KMS_KEY + "\n"}), "TargetKmsId")


@pytest.mark.parametrize("name", ["1db", "db--1", "db1-", "d" * 64, "db_1", "db 1", ""])
def test_a_bad_source_name_is_rejected(name: str) -> None:
    rejected(parse_doc(valid_doc(EventType.COPY_REQUEST) | {"SourceName": name}), "SourceName")


def test_a_source_arn_in_another_account_is_rejected() -> None:
    doc = valid_doc(EventType.COPY_REQUEST) | {"SourceArn": arn("db1-snap-1", account=OTHER_ACCT)}
    rejected(parse_doc(doc), "SourceArn", OTHER_ACCT, "SourceAcct")


def test_a_transit_arn_in_another_account_is_rejected() -> None:
    doc = valid_doc(EventType.DELETE_SHARED) | {"TransitArn": arn("draco-transit-db1-snap-1", account=OTHER_ACCT)}
    rejected(parse_doc(doc), "TransitArn", OTHER_ACCT, "SourceAcct")


@pytest.mark.parametrize("source_id", ["db1-snap-2", "rds:db1-snap-1", "db1", "db1-snap-1-"])
def test_a_source_id_that_does_not_match_the_source_arn_is_rejected(source_id: str) -> None:
    rejected(parse_doc(valid_doc(EventType.COPY_REQUEST) | {"SourceId": source_id}), "SourceId")


def test_source_id_not_matching_source_arn_names_both() -> None:
    doc = valid_doc(EventType.COPY_REQUEST) | {"SourceId": "db1-snap-2"}
    rejected(parse_doc(doc), "SourceId does not match SourceArn")


@pytest.mark.parametrize("event_type", [EventType.COPY_SHARED, EventType.DELETE_SHARED])
def test_a_transit_id_that_does_not_match_the_transit_arn_is_rejected(event_type: EventType) -> None:
    doc = valid_doc(event_type) | {"TransitId": "draco-transit-other"}
    rejected(parse_doc(doc), "TransitId does not match TransitArn")


@pytest.mark.parametrize(
    "value",
    [
        "2026-01-31",
        "2026-01-31T23:59:59",
        "2026-01-31T23:59:59+00:00",
        "2026-01-31T23:59:59.123Z",
        "2026-13-01T00:00:00Z",
        "2026-02-30T00:00:00Z",
        "2026-01-31 23:59:59Z",
        "yesterday",
        "",
        "2" * 40,
        1769903999,
        None,
    ],
)
@pytest.mark.parametrize("event_type", [EventType.COPY_REQUEST, EventType.COPY_SHARED])
def test_a_bad_source_time_is_rejected(event_type: EventType, value: Any) -> None:
    rejected(parse_doc(valid_doc(event_type) | {"SourceTime": value}), "SourceTime")


@pytest.mark.parametrize(
    ("tags", "words"),
    [
        ([{"Key": f"k{i}", "Value": "v"} for i in range(51)], ("TagList", "50")),
        ({"Key": "k", "Value": "v"}, ("TagList",)),
        ("Key=v", ("TagList",)),
        (None, ("TagList",)),
        (["k=v"], ("each tag",)),
        ([["k", "v"]], ("each tag",)),
        ([None], ("each tag",)),
        ([{"Key": "k", "Value": "v", "Extra": "x"}], ("each tag",)),
        ([{"key": "k", "value": "v"}], ("each tag",)),
        ([{"Value": "v"}], ("Key",)),
        ([{"Key": "", "Value": "v"}], ("Key",)),
        ([{"Key": "k" * 129, "Value": "v"}], ("Key", "128")),
        ([{"Key": 7, "Value": "v"}], ("Key",)),
        ([{"Key": "k", "Value": "v" * 257}], ("value of tag", "256")),
        ([{"Key": "k", "Value": 7}], ("value of tag",)),
        ([{"Key": "k", "Value": None}], ("value of tag",)),
        ([{"Key": "k", "Value": ["v"]}], ("value of tag",)),
    ],
)
@pytest.mark.parametrize("event_type", [EventType.COPY_REQUEST, EventType.COPY_SHARED])
def test_tag_list_errors_are_rejected(event_type: EventType, tags: Any, words: tuple[str, ...]) -> None:
    rejected(parse_doc(valid_doc(event_type) | {"TagList": tags}), *words)


@pytest.mark.parametrize("value", ["true", "false", 1, 0, None, [], {}])
def test_encrypted_must_be_a_boolean(value: Any) -> None:
    rejected(parse_doc(valid_doc(EventType.COPY_SHARED) | {"Encrypted": value}), "Encrypted")


@pytest.mark.parametrize(
    "value",
    [
        "alias/DRACO-db1",
        "1234abcd-12ab-34cd-56ef-1234567890ab",
        "arn:aws:kms:us-east-1:222222222222:alias/DRACO-db1",
        "arn:aws:iam::222222222222:role/DracoConsumer",
        "arn:aws:kms:us-east-1:22222222222:key/1234abcd",
        "arn:aws:kms:us-east-1:222222222222:key/",
        "arn:aws:kms:us-east-1:222222222222:key/" + "a" * 129,
    ],
)
def test_a_target_kms_id_that_is_not_a_key_arn_is_rejected(value: str) -> None:
    rejected(parse_doc(valid_doc(EventType.COPY_INITIATE) | {"TargetKmsId": value}), "TargetKmsId")


def test_an_empty_reason_is_rejected() -> None:
    rejected(parse_doc(valid_doc(EventType.NO_COPY) | {"Reason": ""}), "Reason")


def test_copy_initiate_may_carry_a_target_key_and_then_it_is_checked() -> None:
    doc = valid_doc(EventType.COPY_INITIATE)
    assert "TargetKmsId" not in doc
    with_key = parse_doc(doc | {"TargetKmsId": KMS_KEY})
    assert isinstance(with_key, Message) and with_key.target_kms_id == KMS_KEY
    assert parse_message(SUBJECT, with_key.body()) == with_key
    rejected(parse_doc(doc | {"TargetKmsId": "alias/DRACO-db1"}), "TargetKmsId")
