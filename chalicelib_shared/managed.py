"""Snapshots another AWS feature made: asked about only when the operator says so.

An EBS snapshot backing an AMI, an AWS Backup recovery point or a Data Lifecycle
Manager snapshot already has an owner that keeps and deletes it (each kind says
which of its snapshots these are: ``Snapshot.managed_by``). Copying them because
``DEFAULT_LIFECYCLE`` says "every snapshot" would protect them twice, or protect
an AMI's parts without the image. So production asks DR about such a snapshot
only when it carries ``Draco_Lifecycle`` itself (AWS Backup, and DLM with
``CopyTags``, copy the volume's tags onto their snapshots) or when the producer's
``COPY_MANAGED_SNAPSHOTS`` names its feature (``ami``, ``backup``, ``dlm``, or
``all``); the events and the sweep alike.
"""

from __future__ import annotations

from chalicelib_shared.kinds import MANAGERS, Snapshot
from chalicelib_shared.naming import LIFECYCLE_TAG

COPY_MANAGED_SNAPSHOTS = "COPY_MANAGED_SNAPSHOTS"


def copy_managed(raw: str, problems: list[str]) -> frozenset[str]:
    """The features whose snapshots are asked about like any other (``COPY_MANAGED_SNAPSHOTS``)."""
    named = {part.strip().lower() for part in raw.split(",") if part.strip()}
    if named == {"all"}:
        return frozenset(MANAGERS)
    unknown = sorted(named - set(MANAGERS))
    if unknown:
        problems.append(f"{COPY_MANAGED_SNAPSHOTS} names {', '.join(unknown)}: use {', '.join(MANAGERS)} or all")
        return frozenset()
    return frozenset(named)


def left_to_its_feature(snapshot: Snapshot, opted_in: frozenset[str]) -> str:
    """Why production does not ask DR about this snapshot ("": it does)."""
    feature = snapshot.managed_by
    if not feature or feature in opted_in or LIFECYCLE_TAG in snapshot.tags:
        return ""
    return f"made by {MANAGERS[feature]}, without {LIFECYCLE_TAG} ({COPY_MANAGED_SNAPSHOTS} to copy it)"
