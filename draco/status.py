"""``python -m draco status``: is every database protected, and how recent is its DR copy?

Run against the DR account. A pure function over data (``build_status``) and a
thin AWS reader (``collect``): one Scan of the consumer's job table (paged; the
``#slots#`` items, which have no ``state``, are skipped) and one listing per
snapshot kind of the DR account (for each copy's allocated storage and to notice
copies deleted behind DRACO's back). The local world and the tests call the same
functions with the world's DR clients.

One row per protected source (source account, kind and name: the job table's
``inventory_key``), i.e. any source with a job that is not ``skipped``:

* **lifecycle** in force: the newest DR copy's ``Draco_Lifecycle`` tag, resolved
  as the consumer does (``resolve_lifecycle`` with the stage's
  ``CUSTOM_LIFECYCLES`` and ``DEFAULT_LIFECYCLE``).
* **newest copy** and **RPO**: hours from when the newest existing DR copy's
  source snapshot was taken (the data's time) to now. Over ``--rpo-hours``
  (default 26: a daily snapshot plus two hours of copying) the row is ``late``;
  a source with no copy yet is late once its first snapshot is that old.
* **copies**, the **oldest**, their **allocated storage** (sum of
  ``AllocatedStorage``) and an estimated **monthly cost** at
  ``PRICE_PER_GB_MONTH``. AWS bills snapshot storage incrementally, so this is an
  upper bound (the first copy of a source is full size, later ones mostly smaller).
* **pending** jobs (active states) and **failed** jobs, each with its reason.
* **to delete next**: the lifecycle applied now to the existing copies (a dry
  run of ``apply_policy``; nothing is deleted by this command). With
  ``NO_DRY_RUN`` set, the consumer deletes them at its next pass for that source.

``health`` summarises a row, worst first: ``late`` (RPO over the threshold),
``failed`` (a failed job waits for an operator), ``check`` (unknown lifecycle:
nothing is deleted until the tag is fixed; or copies missing from DR),
``pending`` (no copy yet, still in time), ``ok``.

Sources whose every job is ``skipped`` (no tag and no default, ``Ignore``, a
refused account) are listed apart with the latest reason.

JSON schema (``--json``, ``to_json``), times ISO 8601 UTC (``...Z``)::

    {
      "schema": 1,
      "generated_at": time, "table": str, "live": bool (NO_DRY_RUN set),
      "rpo_threshold_hours": float, "price_per_gb_month_usd": float,
      "totals": {"sources", "late", "failed_jobs", "pending_jobs", "copies",
                 "storage_gb", "would_delete", "skipped_sources": int,
                 "monthly_cost_usd": float},
      "sources": [{
        "source_acct", "source_name", "kind", "inventory_key": str,
        "health": "late" | "failed" | "check" | "pending" | "ok",
        "lifecycle": str, "lifecycle_problem": str | null,
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
"""

from __future__ import annotations

import argparse
import html
import json
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from chalicelib_shared import clock
from chalicelib_shared.config import ConsumerConfig
from chalicelib_shared.jobs import Job, State
from chalicelib_shared.kinds import KINDS, Snapshot
from chalicelib_shared.naming import DR_PREFIX, LIFECYCLE_TAG
from chalicelib_shared.retention import Policy, RetentionResult, apply_policy, resolve_lifecycle
from draco import ops, plan

#: RDS snapshot storage, USD per GB-month (us-east-1 "backup storage" beyond the free
#: allowance; a DR account has no databases, so no allowance). Other Regions differ.
PRICE_PER_GB_MONTH = 0.095
DEFAULT_RPO_HOURS = 26.0
SCHEMA_VERSION = 1
HEALTH_ORDER = ("late", "failed", "check", "pending", "ok")
HEALTH_COLORS = {"late": "#c62828", "failed": "#e65100", "check": "#b08800", "pending": "#1565c0", "ok": "#2e7d32"}
_RICH_STYLES = {"late": "bold red", "failed": "bold dark_orange", "check": "yellow", "pending": "blue", "ok": "green"}


@dataclass(frozen=True)
class Copy:
    """One DR copy the job table lists as done."""

    copy_id: str
    source_time: datetime
    allocated_gb: int | None  # None when the snapshot is not in DR (or DR was not read)
    status: str  # the snapshot's status in DR; "missing" when it is gone
    to_delete: bool
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class FailedJob:
    job_id: str
    source_id: str
    failed_from: str
    reason: str
    updated: str


@dataclass(frozen=True)
class SourceStatus:
    source_acct: str
    source_name: str
    kind: str
    policy: Policy
    retention: RetentionResult
    copies: tuple[Copy, ...]  # newest first
    pending: Mapping[str, int]
    failed: tuple[FailedJob, ...]
    skipped: int
    last_skip_reason: str | None
    first_seen: datetime  # the oldest source snapshot DRACO heard of for this source
    rpo_threshold: float
    now: datetime

    @property
    def inventory_key(self) -> str:
        return f"{self.source_acct}#{self.kind}#{self.source_name}"

    @property
    def existing(self) -> list[Copy]:
        return [copy for copy in self.copies if copy.status != "missing"]

    @property
    def missing(self) -> list[Copy]:
        return [copy for copy in self.copies if copy.status == "missing"]

    @property
    def newest(self) -> Copy | None:
        return self.existing[0] if self.existing else None

    @property
    def oldest(self) -> Copy | None:
        return self.existing[-1] if self.existing else None

    @property
    def rpo_hours(self) -> float | None:
        newest = self.newest
        return None if newest is None else _hours(self.now - newest.source_time)

    @property
    def over_rpo(self) -> bool:
        rpo = self.rpo_hours
        if rpo is None:
            return _hours(self.now - self.first_seen) > self.rpo_threshold
        return rpo > self.rpo_threshold

    @property
    def storage_gb(self) -> int:
        return sum(copy.allocated_gb or 0 for copy in self.existing)

    @property
    def monthly_cost(self) -> float:
        return round(self.storage_gb * PRICE_PER_GB_MONTH, 2)

    @property
    def would_delete(self) -> list[str]:
        return [copy.copy_id for copy in self.existing if copy.to_delete]

    @property
    def lifecycle(self) -> str:
        return str(self.policy)

    @property
    def health(self) -> str:
        if self.over_rpo:
            return "late"
        if self.failed:
            return "failed"
        if self.policy.keep_all or self.missing:
            return "check"
        if self.newest is None:
            return "pending"
        return "ok"


@dataclass(frozen=True)
class SkippedSource:
    source_acct: str
    source_name: str
    kind: str
    reason: str
    snapshots: int
    last_seen: datetime


@dataclass(frozen=True)
class Status:
    generated_at: datetime
    table: str
    live: bool
    rpo_threshold: float
    sources: tuple[SourceStatus, ...]
    skipped: tuple[SkippedSource, ...]

    @property
    def totals(self) -> dict[str, Any]:
        return {
            "sources": len(self.sources),
            "late": sum(s.over_rpo for s in self.sources),
            "failed_jobs": sum(len(s.failed) for s in self.sources),
            "pending_jobs": sum(sum(s.pending.values()) for s in self.sources),
            "copies": sum(len(s.existing) for s in self.sources),
            "storage_gb": sum(s.storage_gb for s in self.sources),
            "monthly_cost_usd": round(sum(s.storage_gb for s in self.sources) * PRICE_PER_GB_MONTH, 2),
            "would_delete": sum(len(s.would_delete) for s in self.sources),
            "skipped_sources": len(self.skipped),
        }


def _hours(delta: Any) -> float:
    return round(delta.total_seconds() / 3600, 1)


# --------------------------------------------------------------------------- the pure core


def build_status(
    jobs: Iterable[Job],
    snapshots: Mapping[str, Snapshot] | None,
    config: ConsumerConfig,
    *,
    now: datetime,
    rpo_hours: float = DEFAULT_RPO_HOURS,
    table: str = "",
) -> Status:
    """The operator's view from the consumer's jobs and the DR account's snapshots (by DRACO's name: the job id).

    ``snapshots`` None means DR was not read: every done copy counts as existing.
    """
    groups: dict[tuple[str, str, str], list[Job]] = defaultdict(list)
    for job in jobs:
        groups[(job.source_acct, job.kind, job.source_name)].append(job)
    sources, skipped = [], []
    for (acct, kind, name), group in groups.items():
        group.sort(key=lambda job: (job.source_time, job.job_id), reverse=True)  # newest first
        not_skipped = [job for job in group if job.state is not State.SKIPPED]
        skips = [job for job in group if job.state is State.SKIPPED]
        if not not_skipped:
            skipped.append(SkippedSource(acct, name, kind, skips[0].reason, len(skips), skips[0].source_created))
            continue
        sources.append(_source(acct, kind, name, group, not_skipped, skips, snapshots, config, now, rpo_hours))
    sources.sort(key=lambda s: (HEALTH_ORDER.index(s.health), s.source_name, s.kind, s.source_acct))
    skipped.sort(key=lambda s: (s.source_name, s.kind, s.source_acct))
    return Status(now, table, config.live, rpo_hours, tuple(sources), tuple(skipped))


def _source(
    acct: str,
    kind: str,
    name: str,
    group: list[Job],
    not_skipped: list[Job],
    skips: list[Job],
    snapshots: Mapping[str, Snapshot] | None,
    config: ConsumerConfig,
    now: datetime,
    rpo_hours: float,
) -> SourceStatus:
    done = [job for job in group if job.state is State.DONE]
    found = {job.job_id: (snapshots.get(job.job_id) if snapshots is not None else None) for job in done}
    existing = [job for job in done if snapshots is None or found[job.job_id] is not None]
    newest = (existing or done or not_skipped)[0]
    policy = resolve_lifecycle(newest.tags.get(LIFECYCLE_TAG), config.custom_lifecycles, config.default_lifecycle)
    result = apply_policy(policy, [(job.job_id, job.source_created) for job in existing], now)
    to_delete = set(result.delete)
    copies = []
    for job in done:
        snapshot = found[job.job_id]
        missing = snapshots is not None and snapshot is None
        copies.append(
            Copy(
                copy_id=job.job_id,
                source_time=job.source_created,
                allocated_gb=snapshot.size_gb if snapshot else None,
                status="missing" if missing else (snapshot.status if snapshot else "done"),
                to_delete=job.job_id in to_delete,
                reasons=tuple(result.reasons.get(job.job_id, ())),
            )
        )
    return SourceStatus(
        source_acct=acct,
        source_name=name,
        kind=kind,
        policy=policy,
        retention=result,
        copies=tuple(copies),
        pending=dict(Counter(job.state.value for job in group if job.state.is_active)),
        failed=tuple(
            FailedJob(job.job_id, job.source_id, job.failed_from, job.reason, job.updated)
            for job in group
            if job.state is State.FAILED
        ),
        skipped=len(skips),
        last_skip_reason=skips[0].reason if skips else None,
        first_seen=min(job.source_created for job in not_skipped),
        rpo_threshold=rpo_hours,
        now=now,
    )


# --------------------------------------------------------------------------- the AWS reader


def dr_snapshots(clients: Callable[[str], Any]) -> dict[str, Snapshot]:
    """DRACO's copies in the DR account (every kind, each through a client of its service), by DRACO's name."""
    return {
        snapshot.name: snapshot
        for kind in KINDS.values()
        for snapshot in kind.api(clients(kind.service)).owned()
        if snapshot.name.startswith(DR_PREFIX)
    }


def collect(
    table: Any,
    clients: Callable[[str], Any],
    config: ConsumerConfig,
    *,
    now: datetime | None = None,
    rpo_hours: float = DEFAULT_RPO_HOURS,
) -> Status:
    """Read the consumer's job table (a boto3 ``Table``) and the DR account's snapshots (``clients``: by service)."""
    jobs = ops.scan_jobs(table)
    snapshots = dr_snapshots(clients)
    return build_status(
        jobs, snapshots, config, now=now or clock.now(), rpo_hours=rpo_hours, table=getattr(table, "name", "")
    )


# --------------------------------------------------------------------------- JSON


def _iso(moment: datetime | None) -> str | None:
    return clock.iso(moment) if moment else None


def to_json(status: Status) -> dict[str, Any]:
    """The status as plain JSON data; the schema is in the module docstring."""
    return {
        "schema": SCHEMA_VERSION,
        "generated_at": _iso(status.generated_at),
        "table": status.table,
        "live": status.live,
        "rpo_threshold_hours": status.rpo_threshold,
        "price_per_gb_month_usd": PRICE_PER_GB_MONTH,
        "totals": status.totals,
        "sources": [_source_json(source) for source in status.sources],
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


# --------------------------------------------------------------------------- terminal


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
    "pending",
    "failed",
    "to delete next",
)


_NUMERIC = frozenset({"RPO h", "copies", "GB", "$/month", "pending", "failed", "to delete next"})
_SHORT_HEADERS = {"newest DR copy": "newest copy", "pending": "pend.", "to delete next": "to delete"}


def _short(moment: datetime | None, *, year: bool = True) -> str:
    if moment is None:
        return "-"
    return moment.strftime("%Y-%m-%d %H:%M" if year else "%m-%d %H:%M")


def _lifecycle_cell(source: SourceStatus) -> str:
    policy = source.policy
    if policy.keep_all:
        return "unknown: keeps all"
    return policy.name or policy.describe()


def _row(source: SourceStatus, *, short: bool = False) -> list[str]:
    rpo = source.rpo_hours
    return [
        source.health,
        source.source_acct,
        source.source_name,
        source.kind,
        _lifecycle_cell(source),
        _short(source.newest.source_time if source.newest else None, year=not short),
        "-" if rpo is None else f"{rpo:.1f}",
        str(len(source.existing)),
        _short(source.oldest.source_time if source.oldest else None, year=not short),
        str(source.storage_gb),
        f"{source.monthly_cost:.2f}",
        str(sum(source.pending.values())),
        str(len(source.failed)),
        str(len(source.would_delete)),
    ]


def _headline(status: Status) -> str:
    totals = status.totals
    mode = "NO_DRY_RUN: the lifecycle deletes" if status.live else "dry run: the lifecycle deletes nothing"
    return (
        f"{totals['sources']} protected source(s), {totals['late']} over the RPO threshold of "
        f"{status.rpo_threshold:g} h, {totals['failed_jobs']} failed job(s), {totals['pending_jobs']} pending; "
        f"{totals['copies']} DR copies, {totals['storage_gb']} GB allocated, about "
        f"${totals['monthly_cost_usd']:.2f}/month at ${PRICE_PER_GB_MONTH}/GB-month; "
        f"{totals['would_delete']} to delete next ({mode}). As of {_short(status.generated_at)} UTC."
    )


def render_table(status: Status) -> Group:
    """The status for a terminal: the sources table, failed jobs with reasons, skipped sources.

    Narrower than the HTML table: the account column only when sources come from
    several accounts (else it is in the title), times without the year.
    """
    accounts = sorted({source.source_acct for source in status.sources})
    title = f"DRACO status: {status.table}" if status.table else "DRACO status"
    if len(accounts) == 1:
        title += f" (source account {accounts[0]})"
    table = Table(title=title, title_justify="left")
    shown = [i for i, column in enumerate(COLUMNS) if column != "account" or len(accounts) > 1]
    for index in shown:
        column = COLUMNS[index]
        numeric = column in _NUMERIC
        table.add_column(
            _SHORT_HEADERS.get(column, column),
            justify="right" if numeric else "left",
            no_wrap=column != "lifecycle",
            min_width=8 if column == "lifecycle" else None,
            overflow="fold",
        )
    for source in status.sources:
        cells = _row(source, short=True)
        styles = {0: _RICH_STYLES[source.health], 6: "bold red" if source.over_rpo else ""}
        styles[12] = "bold dark_orange" if source.failed else ""
        table.add_row(*(Text(cells[i], style=styles.get(i, "")) for i in shown))
    parts: list[Any] = [Text(_headline(status)), table]
    failed = [(source, job) for source in status.sources for job in source.failed]
    if failed:
        jobs = Table(title="failed jobs (python -m draco retry JOB, once the cause is fixed)", title_justify="left")
        for column in ("source", "job", "failed in", "since", "reason"):
            jobs.add_column(column, overflow="fold")
        for source, job in failed:
            jobs.add_row(source.source_name, job.job_id, job.failed_from or "?", job.updated, job.reason)
        parts.append(jobs)
    if status.skipped:
        skipped = Table(title="seen but not copied", title_justify="left")
        for column in ("source", "kind", "snapshots", "last seen", "reason"):
            skipped.add_column(column, overflow="fold")
        for s in status.skipped:
            skipped.add_row(s.source_name, s.kind, str(s.snapshots), _short(s.last_seen), s.reason)
        parts.append(skipped)
    return Group(*parts)


# --------------------------------------------------------------------------- HTML


_CSS = """
body { font-family: Helvetica, Arial, sans-serif; margin: 24px; color: #222; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; }
h3 { font-size: 15px; margin: 20px 0 4px; }
p.headline { color: #444; max-width: 1200px; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
#sources td { white-space: nowrap; }
td.late { color: #c62828; font-weight: bold; }
.badge { color: #fff; border-radius: 3px; padding: 1px 6px; font-weight: bold; }
.timeline svg { max-width: 100%; height: auto; border: 1px solid #eee; }
.timeline path.deleted { stroke: #8a8a8a; stroke-width: 3; }
.note { color: #555; font-size: 12px; }
dl { font-size: 13px; } dt { font-weight: bold; float: left; width: 130px; } dd { margin-left: 140px; }
"""

_COLUMN_NOTES = (
    (
        "health",
        "late: RPO over the threshold; failed: a job needs an operator; check: unknown lifecycle "
        "(nothing deleted) or copies gone from DR; pending: first copy on its way; ok",
    ),
    ("newest DR copy", "when the source snapshot of the newest DR copy was taken (UTC)"),
    ("RPO h", "hours since then: how much data a restore from DR would lose today"),
    ("copies / oldest", "DR copies that exist, and the oldest one's source time"),
    (
        "GB, $/month",
        f"allocated storage of the copies, and its cost at ${PRICE_PER_GB_MONTH}/GB-month "
        "(an upper bound: AWS bills snapshots incrementally)",
    ),
    ("pending / failed", "jobs still moving / jobs that gave up (reasons below)"),
    ("to delete next", "copies the lifecycle would delete now (marked grey in the timelines)"),
)


def render_html(status: Status) -> str:
    """One self-contained page: the table, failed and skipped sources, one timeline per source."""
    e = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>DRACO status {e(_short(status.generated_at))}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>DRACO status{': ' + e(status.table) if status.table else ''}</h1>",
        f'<p class="headline">{e(_headline(status))}</p>',
        '<table id="sources"><thead><tr>',
        *(f"<th>{e(column)}</th>" for column in COLUMNS),
        "</tr></thead><tbody>",
    ]
    for source in status.sources:
        cells = _row(source)
        color = HEALTH_COLORS[source.health]
        out.append(f'<tr data-source="{e(source.inventory_key)}" data-health="{source.health}">')
        out.append(f'<td><span class="badge" style="background:{color}">{e(cells[0])}</span></td>')
        for index, cell in enumerate(cells[1:], start=1):
            classes = []
            if COLUMNS[index] in _NUMERIC:
                classes.append("num")
            if COLUMNS[index] == "RPO h" and source.over_rpo:
                classes.append("late")
            attr = f' class="{" ".join(classes)}"' if classes else ""
            out.append(f"<td{attr}>{e(cell)}</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    out.append("<dl>" + "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in _COLUMN_NOTES) + "</dl>")
    failed = [(source, job) for source in status.sources for job in source.failed]
    if failed:
        out.append(
            '<h2>Failed jobs</h2><p class="note">Fix the cause, then '
            "<code>python -m draco retry JOB</code> (or <code>--all-failed</code>).</p>"
        )
        out.append(
            '<table id="failed"><tr><th>source</th><th>job</th><th>failed in</th><th>since</th><th>reason</th></tr>'
        )
        for source, job in failed:
            out.append(
                f"<tr><td>{e(source.source_name)}</td><td>{e(job.job_id)}</td><td>{e(job.failed_from or '?')}</td>"
                f"<td>{e(job.updated)}</td><td>{e(job.reason)}</td></tr>"
            )
        out.append("</table>")
    if status.skipped:
        out.append(
            '<h2>Seen but not copied</h2><table id="skipped"><tr><th>source</th><th>kind</th>'
            "<th>snapshots</th><th>last seen</th><th>reason</th></tr>"
        )
        for s in status.skipped:
            out.append(
                f'<tr><td>{e(s.source_name)}</td><td>{e(s.kind)}</td><td class="num">{s.snapshots}</td>'
                f"<td>{e(_short(s.last_seen))}</td><td>{e(s.reason)}</td></tr>"
            )
        out.append("</table>")
    out.append("<h2>DR copies per source</h2>")
    out.append(
        '<p class="note">Each mark is one DR copy at the time its source snapshot was taken; coloured '
        "lanes are the lifecycle's reasons to keep it, the grey lane the copies it would delete next.</p>"
    )
    for source in status.sources:
        out.append(f'<div class="timeline" data-source="{e(source.inventory_key)}">')
        where = f"{e(source.kind)}, account {e(source.source_acct)}"
        out.append(f"<h3>{e(source.source_name)} <small>({where})</small></h3>")
        if source.existing:
            snapshots = [(copy.copy_id, copy.source_time) for copy in source.existing]
            out.append(
                plan.render_svg(
                    source.policy,
                    snapshots,
                    source.retention,
                    status.generated_at,
                    title=f"{source.source_name}: {source.lifecycle}",
                    deleted_label="to delete",
                )
            )
        else:
            out.append('<p class="note">No DR copy yet.</p>')
        out.append("</div>")
    out.append("</body></html>\n")
    return "\n".join(out)


# --------------------------------------------------------------------------- CLI


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "status",
        help="DR protection at a glance: newest copy and RPO per source, failures, what the lifecycle deletes next",
        description="Run against the DR account: reads the consumer's job table and the DR snapshots.",
    )
    ops.common_options(parser)
    parser.add_argument("--json", action="store_true", help="print the status as one JSON document")
    parser.add_argument("--html", metavar="FILE", help="also write a self-contained HTML report to FILE")
    parser.add_argument(
        "--rpo-hours",
        type=float,
        default=DEFAULT_RPO_HOURS,
        help=f"flag sources whose newest DR copy is older than this (default {DEFAULT_RPO_HOURS:g})",
    )
    parser.set_defaults(func=run)


def consumer_config(stage: str, table: str | None) -> ConsumerConfig:
    """The stage's consumer configuration; with ``--table``, a missing stage is fine."""
    try:
        env = ops.stage_env("consumer", stage)
    except ops.OperatorError:
        if not table:
            raise
        env = {}
    if table:
        env["JOB_TABLE"] = table
    config = ConsumerConfig.from_env(env)
    lifecycle_problems = [p for p in config.problems if "LIFECYCLE" in p]
    for problem in lifecycle_problems:
        print(f"draco status: warning: {problem}", file=sys.stderr)
    return config


def run(args: argparse.Namespace) -> int:
    def go() -> int:
        if args.rpo_hours <= 0:
            raise ops.OperatorError("--rpo-hours must be more than 0")
        config = consumer_config(args.stage, args.table)
        session = ops.session_for(args)
        err = Console(stderr=True)
        with err.status(f"reading job table {config.job_table}", spinner="dots") as spin:
            table = session.resource("dynamodb").Table(config.job_table)
            jobs = ops.scan_jobs(table)
            spin.update(f"listing DR snapshots ({len(jobs)} jobs read)")
            snapshots = dr_snapshots(session.client)
        status = build_status(
            jobs, snapshots, config, now=clock.now(), rpo_hours=args.rpo_hours, table=config.job_table
        )
        if args.html:
            Path(args.html).write_text(render_html(status))
            err.print(f"wrote {args.html}")
        if args.json:
            print(json.dumps(to_json(status), indent=2))
        else:
            Console(width=max(Console().width, 160)).print(render_table(status))
        return 0

    return ops.guarded("status", go)


def from_world(world: Any, *, rpo_hours: float = DEFAULT_RPO_HOURS) -> Status:
    """The status of the DR account of a local world (``draco.world.LocalWorld``), as of its clock."""
    from draco.world import DR

    config = ConsumerConfig.from_env(world.env["consumer"])
    clients = lambda service: world.client(service, DR)  # noqa: E731
    return collect(ops.world_job_table(world, DR), clients, config, rpo_hours=rpo_hours)
