"""The status as one JSON document (``--json``, ``to_json``).

Schema, times ISO 8601 UTC (``...Z``); fields are only ever added within one
``schema`` number::

    {
      "schema": 2,
      "generated_at": time, "table": str, "live": bool (NO_DRY_RUN set),
      "rpo_threshold_hours": float, "price_per_gb_month_usd": {SnapshotType: float},
      "totals": {"sources", "late", "failed_jobs", "pending_jobs", "copies",
                 "storage_gb", "would_delete", "skipped_sources",
                 "lifecycle_changes_pending": int,
                 "monthly_cost_usd": float},
      "sources": [{
        "source_acct", "source_name", "kind", "inventory_key": str,
        "health": "late" | "failed" | "check" | "pending" | "ok",
        "lifecycle": str  (in force), "lifecycle_problem": str | null,
        "lifecycle_pending": str | null  (a shorter lifecycle production asked for,
                    waiting for draco approve in DR), "lifecycle_pending_since": time | null,
        "lifecycle_approved_by": str | null, "lifecycle_approved_at": time | null,
        "held": [copy id]  (what the asked-for lifecycle would delete that is kept),
        "encrypted": bool | null  (are its DR copies encrypted, from the newest copy's
                    job: an unencrypted Aurora cluster's copies are not; null until
                    a transit copy was shared),
        "newest_copy": str | null, "newest_copy_time": time | null,
        "rpo_hours": float | null, "over_rpo": bool,
        "copy_count": int, "oldest_copy_time": time | null,
        "storage_gb": int, "monthly_cost_usd": float,
        "pending": {state: int}, "pending_total": int,
        "failed": [{"job_id", "source_id", "failed_from", "reason", "updated"}],
        "would_delete": [copy id, newest first],
        "missing_copies": [copy id]  (done in the table, gone from DR),
        "skipped": int, "last_skip_reason": str | null,
        "copies": [{"copy_id", "source_time", "allocated_gb" (int | null),
                    "status", "to_delete": bool, "reasons": [str]}]  (newest first)
      }],
      "skipped": [{"source_acct", "source_name", "kind", "reason": str,
                   "snapshots": int, "last_seen": time}]
    }

No source yet: ``sources`` and ``skipped`` are empty lists.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib_shared import clock
from draco.status.model import PRICES_PER_GB_MONTH, SourceStatus, Status

SCHEMA_VERSION = 2  # 2: price_per_gb_month_usd is by kind


def _iso(moment: datetime | None) -> str | None:
    return clock.iso(moment) if moment else None


def to_json(status: Status) -> dict[str, Any]:
    """The status as plain JSON data; its schema is in this module's docstring."""
    return {
        "schema": SCHEMA_VERSION,
        "generated_at": _iso(status.generated_at),
        "table": status.table,
        "live": status.live,
        "rpo_threshold_hours": status.rpo_threshold,
        "price_per_gb_month_usd": PRICES_PER_GB_MONTH,
        "totals": status.totals,
        "sources": [_source_json(source) for source in status.sources],
        "drills": [drill.to_json() for drill in status.drills],
        "drills_overdue": sum(drill.overdue for drill in status.drills),
        "drills_failed": sum(drill.last is not None and drill.last.result == "failed" for drill in status.drills),
        "skipped": [
            {
                "source_acct": s.source_acct,
                "source_name": s.source_name,
                "kind": s.kind,
                "reason": s.reason,
                "snapshots": s.snapshots,
                "last_seen": _iso(s.last_seen),
            }
            for s in status.skipped
        ],
    }


def _source_json(source: SourceStatus) -> dict[str, Any]:
    newest, oldest = source.newest, source.oldest
    return {
        "source_acct": source.source_acct,
        "source_name": source.source_name,
        "kind": source.kind,
        "inventory_key": source.inventory_key,
        "health": source.health,
        "lifecycle": source.lifecycle,
        "lifecycle_problem": source.policy.problem,
        "lifecycle_pending": source.pending_lifecycle or None,
        "lifecycle_pending_since": source.record.pending_since or None,
        "lifecycle_approved_by": source.record.approved_by or None,
        "lifecycle_approved_at": source.record.approved_at or None,
        "held": list(source.decided.held),
        "encrypted": source.encrypted,
        "newest_copy": newest.copy_id if newest else None,
        "newest_copy_time": _iso(newest.source_time if newest else None),
        "rpo_hours": source.rpo_hours,
        "over_rpo": source.over_rpo,
        "copy_count": len(source.existing),
        "oldest_copy_time": _iso(oldest.source_time if oldest else None),
        "storage_gb": source.storage_gb,
        "monthly_cost_usd": source.monthly_cost,
        "pending": dict(source.pending),
        "pending_total": sum(source.pending.values()),
        "failed": [
            {
                "job_id": f.job_id,
                "source_id": f.source_id,
                "failed_from": f.failed_from,
                "reason": f.reason,
                "updated": f.updated,
            }
            for f in source.failed
        ],
        "would_delete": source.would_delete,
        "missing_copies": [copy.copy_id for copy in source.missing],
        "skipped": source.skipped,
        "last_skip_reason": source.last_skip_reason,
        "copies": [
            {
                "copy_id": copy.copy_id,
                "source_time": _iso(copy.source_time),
                "allocated_gb": copy.allocated_gb,
                "status": copy.status,
                "to_delete": copy.to_delete,
                "reasons": list(copy.reasons),
            }
            for copy in source.copies
        ],
    }
