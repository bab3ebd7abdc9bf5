"""The text of the status's cells and headline, shared by the terminal table and the HTML page."""

from __future__ import annotations

from datetime import datetime

from draco.status.model import SourceStatus, Status

#: Every column, in order; the HTML shows all of them, a terminal as many as fit (``draco.status.terminal``).
COLUMNS = (
    "health",
    "account",
    "source",
    "kind",
    "lifecycle",
    "newest DR copy",
    "RPO h",
    "copies",
    "oldest",
    "GB",
    "$/month",
    "encrypted",
    "pending",
    "failed",
    "to delete next",
)
NUMERIC = frozenset({"RPO h", "copies", "GB", "$/month", "pending", "failed", "to delete next"})


def short(moment: datetime | None, *, year: bool = True) -> str:
    if moment is None:
        return "-"
    return moment.strftime("%Y-%m-%d %H:%M" if year else "%m-%d %H:%M")


def lifecycle_cell(source: SourceStatus) -> str:
    policy = source.policy
    if policy.keep_all:
        return "unknown: keeps all"
    name = policy.name or policy.describe()
    return f"{name} (asks {source.pending_lifecycle}: approve)" if source.pending_lifecycle else name


def encrypted_cell(source: SourceStatus) -> str:
    return {True: "yes", False: "no", None: "-"}[source.encrypted]


def row(source: SourceStatus, *, year: bool = True) -> dict[str, str]:
    """One source's cells by column name (``year`` False: times without the year)."""
    rpo = source.rpo_hours
    return {
        "health": source.health,
        "account": source.source_acct,
        "source": source.source_name,
        "kind": source.kind,
        "lifecycle": lifecycle_cell(source),
        "newest DR copy": short(source.newest.source_time if source.newest else None, year=year),
        "RPO h": "-" if rpo is None else f"{rpo:.1f}",
        "copies": str(len(source.existing)),
        "oldest": short(source.oldest.source_time if source.oldest else None, year=year),
        "GB": str(source.storage_gb),
        "$/month": f"{source.monthly_cost:.2f}",
        "encrypted": encrypted_cell(source),
        "pending": str(sum(source.pending.values())),
        "failed": str(len(source.failed)),
        "to delete next": str(len(source.would_delete)),
    }


def headline(status: Status) -> str:
    as_of = f"As of {short(status.generated_at)} UTC."
    if not status.sources:
        if status.skipped:
            return f"No protected sources yet: {len(status.skipped)} source(s) seen but not copied. {as_of}"
        return f"No sources yet: no snapshot has reached the consumer's job table. {as_of}"
    totals = status.totals
    mode = "NO_DRY_RUN: the lifecycle deletes" if status.live else "dry run: the lifecycle deletes nothing"
    return (
        f"{totals['sources']} protected source(s), {totals['late']} over the RPO threshold of "
        f"{status.rpo_threshold:g} h, {totals['failed_jobs']} failed job(s), {totals['pending_jobs']} pending; "
        f"{totals['copies']} DR copies, {totals['storage_gb']} GB allocated, about "
        f"${totals['monthly_cost_usd']:.2f}/month at each kind's storage price; "
        f"{totals['would_delete']} to delete next ({mode}){_pending(totals)}. {as_of}"
    )


def _pending(totals: dict[str, int]) -> str:
    count = totals["lifecycle_changes_pending"]
    if not count:
        return ""
    return f"; {count} lifecycle change(s) wait for approval in DR (draco approve SOURCE --lifecycle TEXT)"
