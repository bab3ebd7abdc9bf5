"""Names DRACO reads and makes: identifiers, ARNs, derived snapshot ids, tags.

Derived ids are pure functions of the source snapshot, so every retry, repeat
or late message lands on the same transit copy, DR copy and job item: that is
what makes the pipeline idempotent without any lookup.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping

ACCOUNT_ID = re.compile(r"^[0-9]{12}\Z")
#: DB instance and cluster identifiers: a letter, then letters, digits, single hyphens.
DB_IDENTIFIER = re.compile(r"^[A-Za-z](?!.*--)[A-Za-z0-9-]{0,62}(?<!-)\Z")
#: Snapshot identifiers, with the prefix AWS gives automated (``rds:``) and AWS Backup snapshots.
SNAPSHOT_ID = re.compile(r"^(?=.{1,255}\Z)(?:rds:|awsbackup:)?[A-Za-z](?!.*--)[A-Za-z0-9-]*(?<!-)\Z")
#: The longest id DRACO derives: DBClusterSnapshotIdentifier's 63, the strictest kind's API
#: (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CopyDBClusterSnapshot.html).
NAME_LIMIT = 63
TRANSIT_PREFIX = "draco-transit-"
DR_PREFIX = "draco-"
LIFECYCLE_TAG = "Draco_Lifecycle"
#: Tags DRACO puts on its own snapshots. They identify a snapshot as DRACO's before
#: anything is deleted, and let an operator trace any copy to its source.
SOURCE_ARN_TAG = "Draco_SourceArn"
SOURCE_ID_TAG = "Draco_SourceId"  # the full source snapshot id, however its copy's name was shortened
SOURCE_TIME_TAG = "Draco_SourceTime"
SOURCE_NAME_TAG = "Draco_Source"
TRANSIT_TAG = "Draco_Transit"
#: The name DRACO gives a copy, as a tag, for kinds whose snapshot ids AWS chooses (EBS).
COPY_NAME_TAG = "Draco_Name"
#: Tags per resource, and the longest key and value, the strictest of the kinds' APIs (EC2's):
#: https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/Using_Tags.html#tag-restrictions (50, 127, 255);
#: RDS allows 50, 128 and 256 (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_Tagging.html).
MAX_TAGS = 50
TAG_KEY_MAX = 127
TAG_VALUE_MAX = 255
#: On a copy whose source tags didn't all fit: the keys left out, comma-separated.
TAGS_DROPPED_TAG = "Draco_TagsDropped"
RESERVED_TAG_PREFIXES = ("aws:", "rds:")


def _derived_id(prefix: str, source_id: str) -> str:
    """``prefix`` + the source id, made a valid manual snapshot id of every kind, one per source id.

    Every derived id fits ``NAME_LIMIT`` (63), the strictest of the kinds' APIs
    (``DBClusterSnapshotIdentifier``: 1-63; ``DBSnapshotIdentifier``: 1-255), so a
    long cluster name or an AWS Backup id (``awsbackup:job-<uuid>``) can never make
    RDS refuse the copy. A plain manual id (letters, digits, single hyphens) that fits
    is kept as it is. Any other (``rds:`` and ``awsbackup:`` ids hold a colon) or one
    too long becomes a 10-digit hash of it, then a readable remainder: its start and,
    past an elision, its end (where automated ids keep their time). Plain ids start
    with a letter and hashed ones with a digit, so the two forms never meet; two
    sources share a name only if their hashes and remainders both agree. The full
    source id is on every copy as a tag (``SOURCE_ID_TAG``).
    """
    body = source_id.lower()
    if re.fullmatch(r"[a-z](?!.*--)[a-z0-9-]*(?<!-)", body) and len(prefix) + len(body) <= NAME_LIMIT:
        return prefix + body
    digest = str(int(hashlib.sha256(body.encode()).hexdigest(), 16))[-10:]
    readable = _tidy(re.sub(r"[^a-z0-9-]", "-", body))
    room = NAME_LIMIT - len(prefix) - len(digest) - 1
    if len(readable) > room:
        tail = room // 2
        readable = _tidy(f"{readable[: room - tail - 1]}-{readable[-tail:]}")
    return _tidy(f"{prefix}{digest}-{readable}")


def _tidy(name: str) -> str:
    return re.sub(r"-{2,}", "-", name).strip("-")


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


def carried_tags(source_tags: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """The source's tags as a copy-request carries them: at most ``MAX_TAGS``, each within AWS's lengths.

    EBS merges a volume's tags with its snapshot's, which can pass 50. Kept first:
    ``Draco_Lifecycle``, then the other tags in key order; dropped: a key over
    ``TAG_KEY_MAX`` or a value over ``TAG_VALUE_MAX`` characters, then, past the
    49th, the last in key order. What was dropped is named in ``TAGS_DROPPED_TAG``
    (which takes the 50th place) and returned for the caller's log line.
    """
    return _fit(source_tags, {}, lambda key: key)


def dr_copy_tags(source_tags: Mapping[str, str], own: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """Tags for a DR copy: DRACO's own, then the source's, at most ``MAX_TAGS`` together.

    AWS reserves the ``aws:`` and ``rds:`` prefixes, so such keys become
    ``origin:aws:...``. DRACO's own tags (``own``) always fit and win a clash. Then,
    as ``carried_tags``: the lifecycle (and a note of tags production already
    dropped) first, the rest in key order, the last in key order dropped when there
    is no room, and what was dropped named in ``TAGS_DROPPED_TAG`` and returned.
    """
    return _fit(source_tags, own, lambda key: f"origin:{key}" if key.lower().startswith(RESERVED_TAG_PREFIXES) else key)


def _fit(
    source_tags: Mapping[str, str], own: Mapping[str, str], rename: Callable[[str], str]
) -> tuple[dict[str, str], list[str]]:
    merged = dict(own)
    earlier = source_tags.get(TAGS_DROPPED_TAG, "")
    first = (LIFECYCLE_TAG,)
    ordered = sorted(
        ((k, v) for k, v in source_tags.items() if k != TAGS_DROPPED_TAG), key=lambda kv: (kv[0] not in first, kv[0])
    )
    kept: list[str] = []
    dropped: list[str] = []
    for key, value in ordered:
        new_key = rename(key)
        if new_key in merged or len(new_key) > TAG_KEY_MAX or len(value) > TAG_VALUE_MAX:
            dropped.append(key)
            continue
        merged[new_key] = value
        kept.append(key)
    while kept and len(merged) + bool(dropped or earlier or len(merged) > MAX_TAGS) > MAX_TAGS:
        key = kept.pop()
        del merged[rename(key)]
        dropped.insert(0, key)
    if dropped or earlier:
        note = ",".join(filter(None, [earlier, *sorted(dropped)]))
        merged[TAGS_DROPPED_TAG] = note if len(note) <= TAG_VALUE_MAX else note[: TAG_VALUE_MAX - 3] + "..."
    return merged, dropped


def arn_tag(arn: str) -> str:
    """A snapshot ARN as a tag value: whole when it fits ``TAG_VALUE_MAX``, else cut, with a hash of the whole."""
    if len(arn) <= TAG_VALUE_MAX:
        return arn
    return f"{arn[: TAG_VALUE_MAX - 11]}#{str(int(hashlib.sha256(arn.encode()).hexdigest(), 16))[-10:]}"
