"""Names DRACO reads and makes: identifiers, ARNs, derived snapshot ids, tags.

Derived ids are pure functions of the source snapshot, so every retry, repeat
or late message lands on the same transit copy, DR copy and job item: that is
what makes the pipeline idempotent without any lookup.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

ACCOUNT_ID = re.compile(r"^\d{12}$")
#: DB instance and cluster identifiers: a letter, then letters, digits, single hyphens.
DB_IDENTIFIER = re.compile(r"^[A-Za-z](?!.*--)[A-Za-z0-9-]{0,62}(?<!-)$")
#: Snapshot identifiers, with the prefix AWS gives automated (``rds:``) and AWS Backup snapshots.
SNAPSHOT_ID = re.compile(r"^(?:rds:|awsbackup:)?[A-Za-z](?!.*--)[A-Za-z0-9-]{0,254}(?<!-)$")
_ARN = re.compile(
    r"^arn:(?P<partition>aws|aws-cn|aws-us-gov):rds:(?P<region>[a-z]{2}(?:-[a-z]+)+-\d):"
    r"(?P<account>\d{12}):(?P<resource>snapshot|cluster-snapshot):(?P<snapshot_id>.+)$"
)
_RESOURCE_TYPES = {"snapshot": "RDS", "cluster-snapshot": "RDS Cluster"}

TRANSIT_PREFIX = "draco-transit-"
DR_PREFIX = "draco-"
LIFECYCLE_TAG = "Draco_Lifecycle"
#: Tags DRACO puts on its own snapshots. They identify a snapshot as DRACO's before
#: anything is deleted, and let an operator trace any copy to its source.
SOURCE_ARN_TAG = "Draco_SourceArn"
SOURCE_TIME_TAG = "Draco_SourceTime"
SOURCE_NAME_TAG = "Draco_Source"
TRANSIT_TAG = "Draco_Transit"
MAX_TAGS = 50


@dataclass(frozen=True)
class SnapshotArn:
    partition: str
    region: str
    account: str
    snapshot_type: str  # "RDS" or "RDS Cluster", as in messages
    snapshot_id: str


def parse_snapshot_arn(arn: str) -> SnapshotArn | None:
    """Split an RDS snapshot ARN; ``None`` when it is not one.

    Automated snapshot ids hold a colon (``rds:db-2026-...``), so the id is
    everything after the resource type.
    """
    match = _ARN.match(arn)
    if not match or not SNAPSHOT_ID.match(match["snapshot_id"]):
        return None
    return SnapshotArn(
        partition=match["partition"],
        region=match["region"],
        account=match["account"],
        snapshot_type=_RESOURCE_TYPES[match["resource"]],
        snapshot_id=match["snapshot_id"],
    )


def _derived_id(prefix: str, source_id: str) -> str:
    """``prefix`` + the source id, made a valid manual snapshot id.

    Ids with a prefix such as ``rds:`` (colons are not allowed in manual ids) or
    too long for 255 characters get an 8-character hash of the full source id,
    so two different sources never map to one name.
    """
    body = source_id.lower()
    readable = re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9-]", "-", body)).strip("-")
    if readable == body and len(prefix) + len(body) <= 255:
        return prefix + body
    digest = hashlib.sha256(source_id.encode()).hexdigest()[:8]
    room = 255 - len(prefix) - len(digest) - 1
    return f"{prefix}{readable[:room].rstrip('-')}-{digest}"


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
    """Tags for a DR copy: the source's, with ``aws:`` keys renamed, plus DRACO's own.

    AWS reserves the ``aws:`` prefix, so such keys become ``origin:aws:...``.
    DRACO's own tags (``own``) win a clash and always fit; source tags beyond
    AWS's 50-tag limit are dropped and returned so the caller can log them.
    """
    renamed = {(f"origin:{k}" if k.lower().startswith("aws:") else k): v for k, v in source_tags.items()}
    merged = dict(own)
    dropped = []
    for key, value in renamed.items():
        if key in merged:
            continue
        if len(merged) >= MAX_TAGS:
            dropped.append(key)
            continue
        merged[key] = value
    return merged, dropped
