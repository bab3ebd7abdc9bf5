"""The status in a terminal: the sources table, failed jobs with reasons, skipped sources.

Fits the terminal it is printed on: the view is laid out at render time for the
console's width, showing fewer columns on narrow terminals (``_SHOWN_FROM``),
without vertical rules, and folding long cells (names, reasons) rather than
running past the edge. The account column appears only when sources come from
several accounts (else the account is in the title); times drop the year.
"""

from __future__ import annotations

from collections.abc import Iterator

from rich import box
from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table
from rich.text import Text

from draco.status.cells import COLUMNS, NUMERIC, headline, row, short
from draco.status.drills import HEADERS as DRILL_HEADERS
from draco.status.model import SourceStatus, Status

#: The narrowest terminal (in columns) that shows a column; the others are always shown.
_SHOWN_FROM = {"kind": 100, "pending": 100, "newest DR copy": 120, "GB": 140, "$/month": 140, "oldest": 150}
_SHORT_HEADERS = {"newest DR copy": "newest copy", "encrypted": "enc.", "pending": "pend.", "to delete next": "delete"}
_HEALTH_STYLES = {
    "late": "bold red",
    "failed": "bold dark_orange",
    "approve": "bold magenta",
    "check": "yellow",
    "pending": "blue",
    "ok": "green",
}


def _table(title: str) -> Table:
    return Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)


def _styles(source: SourceStatus) -> dict[str, str]:
    return {
        "health": _HEALTH_STYLES[source.health],
        "RPO h": "bold red" if source.over_rpo else "",
        "failed": "bold dark_orange" if source.failed else "",
    }


class StatusView:
    """A rich renderable of a ``Status``, laid out for the width it is rendered at."""

    def __init__(self, status: Status) -> None:
        self.status = status

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Text(headline(self.status))
        if self.status.sources:
            yield self._sources(options.max_width)
        yield from self._approvals()
        yield from self._failed()
        yield from self._skipped()
        yield from self._drills()

    def _sources(self, width: int) -> Table:
        status = self.status
        accounts = sorted({source.source_acct for source in status.sources})
        title = f"DRACO status: {status.table}" if status.table else "DRACO status"
        if len(accounts) == 1:
            title += f" (source account {accounts[0]})"
        shown = [
            column
            for column in COLUMNS
            if width >= _SHOWN_FROM.get(column, 0) and (column != "account" or len(accounts) > 1)
        ]
        table = _table(title)
        for column in shown:
            table.add_column(
                _SHORT_HEADERS.get(column, column),
                justify="right" if column in NUMERIC else "left",
                overflow="fold",
                no_wrap=column not in ("source", "lifecycle"),
            )
        for source in status.sources:
            cells, styles = row(source, year=False), _styles(source)
            table.add_row(*(Text(cells[column], style=styles.get(column, "")) for column in shown))
        return table

    def _approvals(self) -> Iterator[Table]:
        waiting = [source for source in self.status.sources if source.pending_lifecycle]
        if waiting:
            table = _table("shorter lifecycles waiting for approval (draco approve SOURCE, with DR credentials)")
            for column in ("source", "in force", "asked for", "since", "held"):
                table.add_column(column, overflow="fold")
            for source in waiting:
                since = source.record.pending_since or "-"
                table.add_row(
                    source.source_name, source.lifecycle, source.pending_lifecycle, since, str(len(source.decided.held))
                )
            yield table

    def _failed(self) -> Iterator[Table]:
        failed = [(source, job) for source in self.status.sources for job in source.failed]
        if failed:
            jobs = _table("failed jobs (python -m draco retry JOB, once the cause is fixed)")
            for column in ("job", "failed in", "since", "reason"):
                jobs.add_column(column, overflow="fold")
            for _, job in failed:
                jobs.add_row(job.job_id, job.failed_from or "?", job.updated, job.reason)
            yield jobs

    def _skipped(self) -> Iterator[Table]:
        if self.status.skipped:
            skipped = _table("seen but not copied")
            for column in ("source", "kind", "snapshots", "last seen", "reason"):
                skipped.add_column(column, overflow="fold")
            for s in self.status.skipped:
                skipped.add_row(s.source_name, s.kind, str(s.snapshots), short(s.last_seen), s.reason)
            yield skipped

    def _drills(self) -> Iterator[Table]:
        if self.status.drills:
            table = _table("restore drills (python -m draco drill, with DR credentials)")
            for column in DRILL_HEADERS:
                table.add_column(column, overflow="fold")
            for drill in self.status.drills:
                table.add_row(*drill.cells())
            yield table


def render_table(status: Status) -> StatusView:
    """The status for a terminal (see the module docstring)."""
    return StatusView(status)
