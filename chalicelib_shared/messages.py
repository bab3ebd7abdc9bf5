"""The DRACO protocol: the JSON messages the two apps send each other over SNS.

Kept from the original: SNS Subject ``DRACO Event`` and a JSON body with an
``EventType`` and the original's field names. Added: ``SourceTime`` (when the
source snapshot was taken, so DR copies age by the data's time, not the copy's).

``parse_message`` is the only way in. It checks every field's type, size and
format and returns either a ``Message`` or a ``Rejection`` with the reason;
it never raises, so a malformed or hostile message can be logged and dropped
without making Lambda retry it.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib_shared import clock
from chalicelib_shared.kinds import KINDS, SnapshotKind, parse_arn
from chalicelib_shared.naming import ACCOUNT_ID, MAX_TAGS
from chalicelib_shared.rejection import Rejection

SUBJECT = "DRACO Event"
MAX_BODY = 256 * 1024  # bytes: the most SNS carries
MAX_REASON = 1024
_KMS_KEY = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]{1,128}\Z")
_TIME = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z\Z")


class EventType(enum.StrEnum):
    COPY_REQUEST = "snapshot-copy-request"  # producer -> consumer: a snapshot was taken
    COPY_INITIATE = "snapshot-copy-initiate"  # consumer -> producer: make the transit copy
    NO_COPY = "snapshot-no-copy"  # consumer -> producer: not copying, with Reason
    COPY_SHARED = "snapshot-copy-shared"  # producer -> consumer: transit copy shared
    DELETE_SHARED = "snapshot-delete-shared"  # consumer -> producer: DR copy done


# Fields each event type must carry, besides the ones every message carries
# (SnapshotType, SourceAcct, SourceArn, SourceId, SourceName). copy-initiate's
# TargetKmsId is optional: DR makes a source's key only once it has verified a
# shared transit copy, and production never needs it.
_REQUIRED: dict[EventType, tuple[str, ...]] = {
    EventType.COPY_REQUEST: ("SourceTime", "TagList"),
    EventType.COPY_INITIATE: (),
    EventType.NO_COPY: ("Reason",),
    EventType.COPY_SHARED: ("SourceTime", "TagList", "TransitArn", "TransitId", "Encrypted"),
    EventType.DELETE_SHARED: ("TransitArn", "TransitId"),
}


@dataclass(frozen=True)
class Message:
    """A validated DRACO message. Optional fields are empty when not carried."""

    event_type: EventType
    snapshot_type: str
    source_acct: str
    source_arn: str
    source_id: str
    source_name: str
    source_time: datetime | None = None
    tags: tuple[tuple[str, str], ...] = ()
    transit_arn: str = ""
    transit_id: str = ""
    target_kms_id: str = ""
    reason: str = ""
    encrypted: bool = True  # copy-shared: False for an unencrypted cluster transit copy

    @property
    def kind(self) -> SnapshotKind:
        return KINDS[self.snapshot_type]

    @property
    def region(self) -> str:
        """The Region of the source snapshot (and so of the transit copy)."""
        parsed = self.kind.parse_arn(self.source_arn)
        return parsed.region if parsed else ""

    def body(self) -> str:
        """The JSON body, with the original's field names."""
        doc: dict[str, Any] = {
            "EventType": self.event_type.value,
            "SnapshotType": self.snapshot_type,
            "SourceAcct": self.source_acct,
            "SourceArn": self.source_arn,
            "SourceId": self.source_id,
            "SourceName": self.source_name,
        }
        optional = {
            "SourceTime": clock.iso(self.source_time) if self.source_time else "",
            "TransitArn": self.transit_arn,
            "TransitId": self.transit_id,
            "TargetKmsId": self.target_kms_id,
            "Reason": self.reason,
        }
        doc.update({k: v for k, v in optional.items() if v})
        if self.event_type in (EventType.COPY_REQUEST, EventType.COPY_SHARED):
            doc["TagList"] = [{"Key": k, "Value": v} for k, v in self.tags]
        if self.event_type is EventType.COPY_SHARED:
            doc["Encrypted"] = self.encrypted
        return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


def parse_message(subject: str | None, body: Any) -> Message | Rejection:
    """Validate one SNS message; see the module docstring."""
    if subject != SUBJECT:
        return Rejection(f"subject {str(subject)[:80]!r} is not {SUBJECT!r}")
    if not isinstance(body, str) or len(body.encode("utf-8", "surrogatepass")) > MAX_BODY:
        return Rejection(f"body must be JSON text of at most {MAX_BODY} bytes")
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as err:
        return Rejection(f"body is not JSON: {err}")
    if not isinstance(doc, dict):
        return Rejection("body is not a JSON object")
    try:
        return _message(doc)
    except _Invalid as err:
        return Rejection(str(err), {"EventType": str(doc.get("EventType"))[:64]})


class _Invalid(Exception):
    pass


def publish(sns: Any, topic_arn: str, message: Message) -> None:
    sns.publish(TopicArn=topic_arn, Subject=SUBJECT, Message=message.body())


def _text(doc: Mapping[str, Any], name: str, pattern: re.Pattern[str] | None = None, limit: int = 256) -> str:
    value = doc.get(name)
    if not isinstance(value, str) or not value or len(value) > limit:
        raise _Invalid(f"{name} must be a non-empty string of at most {limit} characters")
    if pattern is not None and not pattern.match(value):
        raise _Invalid(f"{name} {value[:80]!r} is not a valid {name}")
    return value


def _tags(value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, list) or len(value) > MAX_TAGS:
        raise _Invalid(f"TagList must be a list of at most {MAX_TAGS} tags")
    tags: dict[str, str] = {}
    for tag in value:
        if not isinstance(tag, dict) or set(tag) - {"Key", "Value"}:
            raise _Invalid("each tag must be an object with Key and Value")
        key, val = tag.get("Key"), tag.get("Value", "")
        if not isinstance(key, str) or not 1 <= len(key) <= 128:
            raise _Invalid("a tag Key must be a string of 1 to 128 characters")
        if not isinstance(val, str) or len(val) > 256:
            raise _Invalid(f"the value of tag {key[:40]!r} must be a string of at most 256 characters")
        if key in tags:
            raise _Invalid(f"tag {key[:40]!r} appears twice")
        tags[key] = val
    return tuple(tags.items())


def _time(doc: Mapping[str, Any]) -> datetime:
    text = _text(doc, "SourceTime", limit=32)
    try:
        if not _TIME.match(text):
            raise ValueError(text)
        return clock.parse_iso(text)
    except ValueError:
        raise _Invalid(f"SourceTime {text!r} is not of the form 2026-01-31T23:59:59Z") from None


def _message(doc: Mapping[str, Any]) -> Message:
    try:
        event_type = EventType(doc.get("EventType"))
    except ValueError:
        raise _Invalid(f"unknown EventType {str(doc.get('EventType'))[:64]!r}") from None
    snapshot_type = doc.get("SnapshotType")
    kind = KINDS.get(snapshot_type) if isinstance(snapshot_type, str) else None
    if kind is None:
        raise _Invalid(f"SnapshotType must be one of {', '.join(KINDS)}")
    source_acct = _text(doc, "SourceAcct", ACCOUNT_ID, 12)
    source_arn = _snapshot_arn(doc, "SourceArn", kind, source_acct)
    source_id = _text(doc, "SourceId", kind.snapshot_id)
    if _arn_id(kind, source_arn) != source_id.lower():
        raise _Invalid("SourceId does not match SourceArn")
    fields: dict[str, Any] = {
        "event_type": event_type,
        "snapshot_type": kind.name,
        "source_acct": source_acct,
        "source_arn": source_arn,
        "source_id": source_id,
        "source_name": _text(doc, "SourceName", kind.source_name, 63),
    }
    required = _REQUIRED[event_type]
    if "SourceTime" in required:
        fields["source_time"] = _time(doc)
    if "TagList" in required:
        fields["tags"] = _tags(doc.get("TagList"))
    if "TransitArn" in required:
        fields["transit_arn"] = _snapshot_arn(doc, "TransitArn", kind, source_acct)
        fields["transit_id"] = _text(doc, "TransitId", kind.snapshot_id)
        if _arn_id(kind, fields["transit_arn"]) != fields["transit_id"].lower():
            raise _Invalid("TransitId does not match TransitArn")
    if event_type is EventType.COPY_INITIATE and doc.get("TargetKmsId") is not None:
        fields["target_kms_id"] = _text(doc, "TargetKmsId", _KMS_KEY, 2048)
    if "Reason" in required:
        fields["reason"] = _text(doc, "Reason", limit=MAX_REASON)
    if "Encrypted" in required:
        if not isinstance(doc.get("Encrypted"), bool):
            raise _Invalid("Encrypted must be true or false")
        fields["encrypted"] = doc["Encrypted"]
    return Message(**fields)


def _arn_id(kind: SnapshotKind, arn: str) -> str:
    parsed = kind.parse_arn(arn)
    return parsed.snapshot_id.lower() if parsed else ""


def _snapshot_arn(doc: Mapping[str, Any], name: str, kind: SnapshotKind, account: str) -> str:
    """A snapshot ARN of the message's kind, in the message's source account."""
    value = _text(doc, name, limit=512)
    arn = kind.parse_arn(value)
    if arn is None:
        other = parse_arn(value)
        if other is not None:
            raise _Invalid(f"{name} is a {other.kind} snapshot, but SnapshotType is {kind.name}")
        raise _Invalid(f"{name} {value[:80]!r} is not a {kind.name} snapshot ARN")
    if arn.account != account:
        raise _Invalid(f"{name} is in account {arn.account}, not SourceAcct {account}")
    return value
