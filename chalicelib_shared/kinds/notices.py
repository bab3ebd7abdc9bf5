"""AWS notifications on the apps' topics, read as far as their format, then handed to the kinds.

Two formats reach the topics besides DRACO's own messages:

* an RDS event subscription's message: SNS Subject ``RDS Notification Message``,
  a JSON body with "Event Source", "Source ID" and an "Event ID" ending in
  ``#RDS-EVENT-0042``; RDS also sends one plain-English notice when a
  subscription is created, which is not an event;
* an EventBridge rule's message: no Subject, the body is the event itself
  (``detail-type``, ``source``, ``account``, ``region``, ``detail``).

``parse_notice`` returns the ``Notice``, ``None`` for what DRACO ignores on
purpose, or a ``Rejection``; each kind then picks its own events out of a
notice (``SnapshotKind.events``), raising ``InvalidNotice`` for one of its own
that is malformed.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib_shared.kinds.base import Notice, NoticeFormat
from chalicelib_shared.rejection import Rejection

RDS_SUBJECT = "RDS Notification Message"
MAX_BODY = 16 * 1024
_EVENTBRIDGE_FIELDS = ("detail-type", "source", "account", "region", "detail")


class InvalidNotice(ValueError):
    """A kind's own event that lacks what the kind needs; the message says what."""


def parse_notice(subject: str | None, body: Any) -> Notice | Rejection | None:
    """Read an SNS message as an AWS notification; see the module docstring."""
    if not isinstance(body, str) or len(body) > MAX_BODY:
        return Rejection("an AWS notification must be text of at most 16 KiB")
    if subject == RDS_SUBJECT and not body.lstrip().startswith("{"):
        return None  # the notice RDS sends when a subscription is created
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as err:
        return Rejection(f"notification is not JSON: {err}")
    if not isinstance(doc, dict):
        return Rejection("notification is not a JSON object")
    if subject == RDS_SUBJECT:
        return Notice(NoticeFormat.RDS_NOTIFICATION, doc)
    if all(name in doc for name in _EVENTBRIDGE_FIELDS) and isinstance(doc["detail"], dict):
        return Notice(NoticeFormat.EVENTBRIDGE, doc)
    return Rejection(f"unknown subject {str(subject)[:80]!r} and not an EventBridge event")
