"""Where moto differs from AWS in a way DRACO's local world depends on: filled here, only here.

1. **Copying a snapshot shared from another account.** AWS lets account B copy
   a snapshot that account A shared with it, naming it by ARN. moto 5.2 looks
   the ARN up in B's own backend and answers "not found". The fill looks in the
   ARN's account and allows it only when the snapshot's ``restore`` attribute
   names B (or ``all``), so an unshared snapshot still fails, as in AWS.
2. **Paging.** AWS returns at most ``MaxRecords`` (default and maximum 100)
   snapshots per DescribeDBSnapshots / DescribeDBClusterSnapshots call, with a
   ``Marker`` for the next page; moto returns everything at once, which hides
   the cost of listing. The fill pages moto's answer by position.
3. **DescribeAccountAttributes.** moto lacks it. The fill reports the
   ``ManualSnapshots`` and ``ManualClusterSnapshots`` quotas, used against
   moto's own snapshot limit (``MOTO_RDS_SNAPSHOT_LIMIT``), as AWS reports them.

``tests/test_moto_gaps.py`` shows each gap and its fill.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.core.responses import ActionResult
from moto.rds.models import RDSBackend, rds_backends
from moto.rds.responses import RDSResponse
from moto.rds.utils import split_arn

PAGE_SIZE = 100
_originals: dict[tuple[type, str], Any] = {}


def _get_snapshot(self: RDSBackend, identifier: str, resource_type: Any, not_found_exception: Any) -> Any:
    if identifier.startswith("arn:"):
        region, account, _, snapshot_id = split_arn(identifier)
        if account != self.account_id:
            snapshot = rds_backends[account][region].resource_map[resource_type].get(snapshot_id)
            if snapshot is None or not {self.account_id, "all"} & set(snapshot.attributes["restore"]):
                raise not_found_exception(identifier)
            return snapshot
    return _originals[(RDSBackend, "get_snapshot")](self, identifier, resource_type, not_found_exception)


def _paged(operation: str, list_key: str) -> Callable[[RDSResponse], ActionResult]:
    """Wrap a Describe* response so it returns one page and a ``Marker``, as AWS does."""

    def describe(self: RDSResponse) -> ActionResult:
        result = _originals[(RDSResponse, operation)](self)
        records = list(result.result[list_key])
        size = min(int(self.params.get("MaxRecords") or PAGE_SIZE), PAGE_SIZE)
        start = int(self.params.get("Marker") or 0)
        page: dict[str, Any] = {list_key: records[start : start + size]}
        if start + size < len(records):
            page["Marker"] = str(start + size)
        return ActionResult(page)

    return describe


def _describe_account_attributes(self: RDSResponse) -> ActionResult:
    backend = self.backend
    quotas = [
        ("ManualSnapshots", backend.database_snapshots),
        ("ManualClusterSnapshots", backend.cluster_snapshots),
    ]
    return ActionResult(
        {
            "AccountQuotas": [
                {
                    "AccountQuotaName": name,
                    "Used": sum(s.snapshot_type == "manual" for s in snapshots.values()),
                    "Max": backend.SNAPSHOT_QUOTA,
                }
                for name, snapshots in quotas
            ]
        }
    )


_FILLS: dict[tuple[type, str], Any] = {
    (RDSBackend, "get_snapshot"): _get_snapshot,
    (RDSResponse, "describe_db_snapshots"): _paged("describe_db_snapshots", "DBSnapshots"),
    (RDSResponse, "describe_db_cluster_snapshots"): _paged("describe_db_cluster_snapshots", "DBClusterSnapshots"),
    (RDSResponse, "describe_account_attributes"): _describe_account_attributes,
}


def install() -> None:
    """Fill the gaps; calling it again changes nothing."""
    for (owner, name), fill in _FILLS.items():
        _originals.setdefault((owner, name), owner.__dict__.get(name))
        setattr(owner, name, fill)


def uninstall() -> None:
    for (owner, name), original in _originals.items():
        if original is None:
            delattr(owner, name)
        else:
            setattr(owner, name, original)
