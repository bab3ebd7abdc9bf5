"""Names DRACO reads and makes: identifiers, ARNs, derived snapshot ids, tags.

Derived ids are pure functions of the source snapshot, so every retry, repeat
or late message lands on the same transit copy, DR copy and job item: that is
what makes the pipeline idempotent without any lookup.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping

ACCOUNT_ID = re.compile(r"^[0-9]{12}\Z")
#: DB instance and cluster identifiers: a letter, then letters, digits, single hyphens.
DB_IDENTIFIER = re.compile(r"^[A-Za-z](?!.*--)[A-Za-z0-9-]{0,62}(?<!-)\Z")
#: Snapshot identifiers, with the prefix AWS gives automated (``rds:``) and AWS Backup snapshots.
SNAPSHOT_ID = re.compile(r"^(?=.{1,255}\Z)(?:rds:|awsbackup:)?[A-Za-z](?!.*--)[A-Za-z0-9-]*(?<!-)\Z")
TRANSIT_PREFIX = "draco-transit-"
DR_PREFIX = "draco-"
LIFECYCLE_TAG = "Draco_Lifecycle"
#: Tags DRACO puts on its own snapshots. They identify a snapshot as DRACO's before
#: anything is deleted, and let an operator trace any copy to its source.
SOURCE_ARN_TAG = "Draco_SourceArn"
SOURCE_TIME_TAG = "Draco_SourceTime"
SOURCE_NAME_TAG = "Draco_Source"
TRANSIT_TAG = "Draco_Transit"
#: The name DRACO gives a copy, as a tag, for kinds whose snapshot ids AWS chooses (EBS).
COPY_NAME_TAG = "Draco_Name"
MAX_TAGS = 50
RESERVED_TAG_PREFIXES = ("aws:", "rds:")


def _derived_id(prefix: str, source_id: str) -> str:
    """``prefix`` + the source id, made a valid manual snapshot id, one per source id.

    A plain manual id (letters, digits, single hyphens) is kept as it is. Any
    other id (``rds:`` and ``awsbackup:`` ids hold a colon) or one too long for
    255 characters becomes a 10-digit hash of it, then a readable remainder.
    Plain ids start with a letter and hashed ones with a digit, so the two
    forms never meet, and two sources never map to one name.
    """
    body = source_id.lower()
    if re.fullmatch(r"[a-z](?!.*--)[a-z0-9-]*(?<!-)", body) and len(prefix) + len(body) <= 255:
        return prefix + body
    digest = str(int(hashlib.sha256(body.encode()).hexdigest(), 16))[-10:]
    readable = re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9-]", "-", body)).strip("-")
    room = 255 - len(prefix) - len(digest) - 1
    return f"{prefix}{digest}-{readable[:room]}".rstrip("-")


def transit_id(source_id: str) -> str:
    """The production-side transit copy of a source snapshot (one account, one namespace)."""
    return _derived_id(TRANSIT_PREFIX, source_id)


def dr_copy_id(source_account: str, source_id: str) -> str:
    """The DR copy of a source snapshot; the account keeps several producers apart."""
    return _derived_id(f"{DR_PREFIX}{source_account}-", source_id)


def is_transit_id(snapshot_id: str) -> bool:
    return snapshot_id.lower().startswith(TRANSIT_PREFIX)


def key_alias(source_name: str) -> str:
    """The per-source DR key alias, as in the original: ``alias/DRACO-<source>``."""
    return f"alias/DRACO-{source_name}"


def tag_dict(tags: Iterable[tuple[str, str]] | Iterable[Mapping[str, str]]) -> dict[str, str]:
    """Tags as a dict, from (key, value) pairs or AWS ``[{"Key", "Value"}]`` lists."""
    out: dict[str, str] = {}
    for tag in tags:
        if isinstance(tag, Mapping):
            out[tag["Key"]] = tag.get("Value", "")
        else:
            out[tag[0]] = tag[1]
    return out


def aws_tags(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def dr_copy_tags(source_tags: Mapping[str, str], own: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """Tags for a DR copy: the source's, with reserved keys renamed, plus DRACO's own.

    AWS reserves the ``aws:`` and ``rds:`` prefixes, so such keys become
    ``origin:aws:...``. DRACO's own tags (``own``) always fit and win a clash.
    Source tags that can't be kept (a clash, a renamed key over 128 characters,
    beyond AWS's 50-tag limit) are left out and returned, so the caller can log them.
    """
    merged = dict(own)
    dropped = []
    for key, value in source_tags.items():
        new_key = f"origin:{key}" if key.lower().startswith(RESERVED_TAG_PREFIXES) else key
        if new_key in merged or len(new_key) > 128 or len(merged) >= MAX_TAGS:
            dropped.append(key)
            continue
        merged[new_key] = value
    return merged, dropped
