"""Where moto differs from AWS in a way DRACO's local world depends on: filled here, only here.

Gap: AWS lets account B copy a snapshot that account A shared with it, naming
it by ARN (``CopyDBSnapshot`` / ``CopyDBClusterSnapshot``). moto 5.2 looks the
ARN up in account B's own backend and answers "not found". The fill looks in
the ARN's account and allows the copy only when the snapshot's ``restore``
attribute names account B (or ``all``), so an unshared snapshot still fails as
it does in AWS. ``tests/test_moto_gaps.py`` shows the gap and the fill.
"""

from __future__ import annotations

from typing import Any

from moto.rds.models import RDSBackend, rds_backends
from moto.rds.utils import split_arn

_original_get_snapshot = RDSBackend.get_snapshot


def _get_snapshot(self: RDSBackend, identifier: str, resource_type: Any, not_found_exception: Any) -> Any:
    if identifier.startswith("arn:"):
        region, account, _, snapshot_id = split_arn(identifier)
        if account != self.account_id:
            snapshot = rds_backends[account][region].resource_map[resource_type].get(snapshot_id)
            if snapshot is None or not {self.account_id, "all"} & set(snapshot.attributes["restore"]):
                raise not_found_exception(identifier)
            return snapshot
    return _original_get_snapshot(self, identifier, resource_type, not_found_exception)


def install() -> None:
    """Fill the gap; calling it again changes nothing."""
    RDSBackend.get_snapshot = _get_snapshot  # type: ignore[method-assign]


def uninstall() -> None:
    RDSBackend.get_snapshot = _original_get_snapshot  # type: ignore[method-assign]
