"""The status as one self-contained HTML page (no scripts, no network): the sources table,
failed jobs and skipped sources, and per source a timeline of its DR copies."""

from __future__ import annotations

import html

from chalicelib_shared.kinds import KINDS
from draco import plan
from draco.status.cells import COLUMNS, NUMERIC, headline, row, short
from draco.status.drills import HEADERS as DRILL_HEADERS
from draco.status.model import Status

e = html.escape
HEALTH_COLORS = {
    "late": "#c62828",
    "failed": "#e65100",
    "approve": "#6a1b9a",
    "check": "#b08800",
    "pending": "#1565c0",
    "ok": "#2e7d32",
}

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
        "late: RPO over the threshold; failed: a job needs an operator; approve: a shorter lifecycle "
        "waits for approval in DR; check: unknown lifecycle "
        "(nothing deleted) or copies gone from DR; pending: first copy on its way; ok",
    ),
    ("newest DR copy", "when the source snapshot of the newest DR copy was taken (UTC)"),
    ("RPO h", "hours since then: how much data a restore from DR would lose today"),
    ("copies / oldest", "DR copies that exist, and the oldest one's source time"),
    (
        "GB, $/month",
        "allocated storage of the copies, and its cost at the kind's storage price per GB-month "
        f"({', '.join(f'{name} ${kind.storage_price}' for name, kind in KINDS.items())}) "
        "(an upper bound: AWS bills snapshots incrementally)",
    ),
    (
        "encrypted",
        "whether the DR copies are encrypted, under the source's DR key alias/DRACO-<source>: "
        "an unencrypted Aurora cluster's copies are not (a cluster snapshot can't be encrypted by copying it)",
    ),
    ("pending / failed", "jobs still moving / jobs that gave up (reasons below)"),
    ("to delete next", "copies the lifecycle would delete now (marked grey in the timelines)"),
)


def render_html(status: Status) -> str:
    """One self-contained page: the table, failed and skipped sources, one timeline per source."""
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>DRACO status {e(short(status.generated_at))}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>DRACO status{': ' + e(status.table) if status.table else ''}</h1>",
        f'<p class="headline">{e(headline(status))}</p>',
    ]
    if status.sources:
        out += _sources(status)
    out += _approvals(status) + _failed(status) + _skipped(status) + _drills(status)
    if status.sources:
        out += _timelines(status)
    out.append("</body></html>\n")
    return "\n".join(out)


def _sources(status: Status) -> list[str]:
    out = ['<table id="sources"><thead><tr>', *(f"<th>{e(column)}</th>" for column in COLUMNS), "</tr></thead><tbody>"]
    for source in status.sources:
        cells = row(source)
        color = HEALTH_COLORS[source.health]
        out.append(f'<tr data-source="{e(source.inventory_key)}" data-health="{source.health}">')
        out.append(f'<td><span class="badge" style="background:{color}">{e(cells["health"])}</span></td>')
        for column in COLUMNS[1:]:
            classes = ["num"] if column in NUMERIC else []
            if column == "RPO h" and source.over_rpo:
                classes.append("late")
            attr = f' class="{" ".join(classes)}"' if classes else ""
            out.append(f"<td{attr}>{e(cells[column])}</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    out.append("<dl>" + "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in _COLUMN_NOTES) + "</dl>")
    return out


def _table(table_id: str, headers: tuple[str, ...], rows: list[tuple[str, ...]], numeric: str = "") -> str:
    """A plain table; every cell is escaped, the ``numeric`` column right-aligned."""
    out = [f'<table id="{table_id}"><tr>' + "".join(f"<th>{e(h)}</th>" for h in headers) + "</tr>"]
    for cells in rows:
        tds = (
            f'<td class="num">{e(c)}</td>' if h == numeric else f"<td>{e(c)}</td>"
            for h, c in zip(headers, cells, strict=True)
        )
        out.append("<tr>" + "".join(tds) + "</tr>")
    return "\n".join([*out, "</table>"])


def _approvals(status: Status) -> list[str]:
    waiting = [source for source in status.sources if source.pending_lifecycle]
    if not waiting:
        return []
    rows = [
        (s.source_name, s.lifecycle, s.pending_lifecycle, s.record.pending_since or "-", str(len(s.decided.held)))
        for s in waiting
    ]
    return [
        '<h2>Shorter lifecycles waiting for approval</h2><p class="note">Production asked for a lifecycle '
        "that keeps less. Until it is approved in DR (<code>draco approve SOURCE</code>, with DR credentials) "
        "only what both lifecycles delete is deleted.</p>",
        _table("approvals", ("source", "in force", "asked for", "since", "held"), rows, numeric="held"),
    ]


def _failed(status: Status) -> list[str]:
    failed = [(source, job) for source in status.sources for job in source.failed]
    if not failed:
        return []
    rows = [(s.source_name, job.job_id, job.failed_from or "?", job.updated, job.reason) for s, job in failed]
    return [
        '<h2>Failed jobs</h2><p class="note">Fix the cause, then '
        "<code>python -m draco retry JOB</code> (or <code>--all-failed</code>).</p>",
        _table("failed", ("source", "job", "failed in", "since", "reason"), rows),
    ]


def _drills(status: Status) -> list[str]:
    if not status.drills:
        return []
    rows = [drill.cells() for drill in status.drills]
    return [
        '<h2>Restore drills</h2><p class="note">Each source\'s last drill: its newest DR copy restored in DR, '
        "checked and deleted; RTO from the restore call to validated. "
        "<code>python -m draco drill --source SOURCE</code> runs one.</p>",
        _table("drills", DRILL_HEADERS, rows),
    ]


def _skipped(status: Status) -> list[str]:
    if not status.skipped:
        return []
    rows = [(s.source_name, s.kind, str(s.snapshots), short(s.last_seen), s.reason) for s in status.skipped]
    headers = ("source", "kind", "snapshots", "last seen", "reason")
    return ["<h2>Seen but not copied</h2>", _table("skipped", headers, rows, numeric="snapshots")]


def _timelines(status: Status) -> list[str]:
    out = [
        "<h2>DR copies per source</h2>",
        '<p class="note">Each mark is one DR copy at the time its source snapshot was taken; coloured '
        "lanes are the lifecycle's reasons to keep it, the grey lane the copies it would delete next.</p>",
    ]
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
    return out
