"""``python -m draco plan``: see what a lifecycle keeps before it deletes real copies.

The schedule is synthetic (a snapshot every ``--every`` for ``--days``, ending
now) or read from a file of ISO-8601 timestamps. The result is printed as a
calendar, one line per month and one character per day, and optionally drawn
as an SVG timeline. Rendering functions are pure and return strings.
"""

from __future__ import annotations

import argparse
import calendar
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from xml.sax.saxutils import escape

from chalicelib_shared import clock
from chalicelib_shared.retention import Policy, RetentionResult, apply_policy, parse_duration, parse_policy
from draco.outputs import OutputError, check_writable, write_text

Snapshots = list[tuple[str, datetime]]

# Reason families, most long-lived first: a calendar day shows the first that applies.
# family: (calendar letter, label, note or "", colour)
FAMILIES = {
    "future": ("F", "future", "dated after now: always kept", "#4a90c2"),
    "all": ("A", "all kept", "Ignore or an unknown lifecycle: nothing is deleted", "#1b9e77"),
    "yearly": ("Y", "yearly", "", "#6a3d9a"),
    "monthly": ("M", "monthly", "", "#1f78b4"),
    "weekly": ("W", "weekly", "", "#33a02c"),
    "daily": ("D", "daily", "", "#e6750a"),
    "hourly": ("H", "hourly", "", "#d62728"),
    "within": ("R", "within", "every snapshot in the recent window", "#8c564b"),
    "last": ("L", "last", "", "#e377c2"),
    "oldest": ("O", "oldest", "a rule with fewer periods than it asks for keeps the oldest snapshot", "#222222"),
}
DELETED, EMPTY = "-", "."
DELETED_COLOR = "#b0b0b0"
KEPT_LIST_LIMIT = 40


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "plan",
        help="preview what a lifecycle keeps and deletes",
        description="Show which snapshots a lifecycle keeps from a schedule, as a calendar "
        "(and optionally an SVG timeline). Nothing in AWS is read or changed.",
    )
    parser.add_argument(
        "policy", metavar="POLICY", help="lifecycle name or rule text, e.g. Standard or 'daily=7 weekly=4'"
    )
    parser.add_argument("--days", type=int, default=400, help="length of the synthetic schedule (default 400)")
    parser.add_argument(
        "--every", default="1d", help="spacing of the synthetic schedule: 1d, 6h, 1d12h... (default 1d)"
    )
    parser.add_argument(
        "--from",
        dest="source",
        metavar="FILE",
        help="read the schedule from FILE ('-' for stdin): one ISO-8601 timestamp per line",
    )
    parser.add_argument("--svg", metavar="FILE", help="also draw the result as an SVG timeline into FILE")
    parser.add_argument("--now", metavar="ISO", help="judge as of this moment (default: the clock); naive means UTC")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        svg = check_writable(args.svg) if args.svg else None
        policy = parse_policy(args.policy)
        now = parse_moment(args.now) if args.now else clock.now()
        if args.source:
            snapshots = read_schedule(sys.stdin.read() if args.source == "-" else Path(args.source).read_text())
        else:
            snapshots = synthetic_schedule(now, args.days, parse_every(args.every))
    except (ValueError, OSError) as err:
        print(f"draco plan: {err}", file=sys.stderr)
        return 2
    result = apply_policy(policy, snapshots, now)
    print(render_calendar(policy, snapshots, result, now))
    if svg:
        try:
            write_text(svg, render_svg(policy, snapshots, result, now))
        except OutputError as err:
            print(f"draco plan: {err}", file=sys.stderr)
            return 2
        print(f"\nwrote {svg}")
    return 0


# Schedules


def parse_moment(text: str) -> datetime:
    """An ISO-8601 moment; naive ones are taken as UTC."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text.strip()!r} is not an ISO-8601 timestamp (e.g. 2025-06-18T06:00Z)") from None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def parse_every(text: str) -> timedelta:
    """A fixed spacing in days and hours (months and years have no fixed length)."""
    spacing = parse_duration(text)
    if spacing.years or spacing.months:
        raise ValueError(f"--every {text!r}: use days and hours (e.g. 1d, 6h, 1d12h), not months or years")
    return timedelta(days=spacing.days, hours=spacing.hours)


def synthetic_schedule(now: datetime, days: int, every: timedelta) -> Snapshots:
    """A snapshot at ``now``, then one every ``every``, for ``days`` days back (newest first)."""
    if days < 1:
        raise ValueError(f"--days must be at least 1, not {days}")
    count = -(-timedelta(days=days) // every)  # ceiling: moments strictly after now - days
    return [(_stamp(now - i * every), now - i * every) for i in range(count)]


def read_schedule(text: str) -> Snapshots:
    """One timestamp per line; blank lines and ``#`` comments are skipped. Ids are ``line N``."""
    snapshots = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if line and not line.startswith("#"):
            try:
                snapshots.append((f"line {number}", parse_moment(line)))
            except ValueError as err:
                raise ValueError(f"line {number}: {err}") from None
    if not snapshots:
        raise ValueError("the schedule holds no timestamps")
    return snapshots


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%MZ")


# Reasons


def family(reason: str) -> str:
    """The family a reason belongs to: ``within_daily 1m`` is daily, ``within 5d`` is within."""
    word = reason.split()[0]
    if word in ("ignore", "keep_all"):
        return "all"
    return word.removeprefix("within_")


def primary_family(reasons: Iterable[str]) -> str:
    """The most long-lived family among ``reasons`` (it says how long the copy lives)."""
    found = {family(r) for r in reasons}
    return next(f for f in FAMILIES if f in found)


# Calendar


def render_calendar(policy: Policy, snapshots: Snapshots, result: RetentionResult, now: datetime) -> str:
    """One line per month, one character per day: a kept family letter, deleted, or no snapshot."""
    created = dict(snapshots)
    lines = [str(policy), _summary(snapshots, result, now), ""]
    if not snapshots:
        return "\n".join(lines)
    days: dict[date, list[str]] = defaultdict(list)  # per day: families of kept, "-" per deleted
    for sid in result.delete:
        days[created[sid].date()].append(DELETED)
    for sid in result.keep:
        days[created[sid].date()].append(primary_family(result.reasons[sid]))
    lines.append(" " * 9 + _ruler())
    for year, month in _months(min(days), max(days)):
        lines.append(_month_line(year, month, days))
    used = {f for marks in days.values() for f in marks if f in FAMILIES}
    legend = [f"{FAMILIES[f][0]} {FAMILIES[f][1]}" for f in FAMILIES if f in used]
    notes = [f"{FAMILIES[f][1]}: {FAMILIES[f][2]}" for f in FAMILIES if f in used and FAMILIES[f][2]]
    lines += ["", "   ".join([*legend, f"{DELETED} deleted", f"{EMPTY} no snapshot"])]
    lines += [*notes, "A day with several kept snapshots shows the longest-lived reason."]
    return "\n".join(lines + ["", *_kept_list(result, created)])


def _summary(snapshots: Snapshots, result: RetentionResult, now: datetime, deleted: str = "deleted") -> str:
    if not snapshots:
        return f"no snapshots (now {_stamp(now)})"
    times = [t for _, t in snapshots]
    return (
        f"{len(snapshots)} snapshots from {_stamp(min(times))} to {_stamp(max(times))}, "
        f"now {_stamp(now)}: {len(result.keep)} kept, {len(result.delete)} {deleted}"
    )


def _ruler() -> str:
    ruler = [" "] * 31
    for day in (1, 5, 10, 15, 20, 25, 30):
        ruler[day - 1 : day - 1 + len(str(day))] = str(day)
    return "".join(ruler)


def _months(first: date, last: date) -> Iterable[tuple[int, int]]:
    for index in range(first.year * 12 + first.month - 1, last.year * 12 + last.month):
        yield index // 12, index % 12 + 1


def _month_line(year: int, month: int, days: dict[date, list[str]]) -> str:
    cells, kept, total = [], 0, 0
    for day in range(1, calendar.monthrange(year, month)[1] + 1):
        marks = days.get(date(year, month, day), [])
        families = [m for m in marks if m != DELETED]
        kept, total = kept + len(families), total + len(marks)
        if families:
            cells.append(FAMILIES[next(f for f in FAMILIES if f in families)][0])
        else:
            cells.append(DELETED if marks else EMPTY)
    counts = f"kept {kept} of {total}" if total else ""
    return f"{year:04d}-{month:02d}  {''.join(cells):<31}  {counts}".rstrip()


def _kept_list(result: RetentionResult, created: dict[str, datetime]) -> list[str]:
    lines = [f"kept, newest first ({len(result.keep)}):"]
    for sid in result.keep[:KEPT_LIST_LIMIT]:
        stamp = _stamp(created[sid])
        name = "" if sid == stamp else f"  ({sid})"
        lines.append(f"  {stamp}  {', '.join(result.reasons[sid])}{name}")
    if len(result.keep) > KEPT_LIST_LIMIT:
        lines.append(f"  ... and {len(result.keep) - KEPT_LIST_LIMIT} more")
    return lines


# SVG timeline

WIDTH, LEFT, RIGHT, TOP, LANE = 960, 150, 24, 58, 24
MARK = 14  # height of a mark inside its lane


def render_svg(
    policy: Policy,
    snapshots: Snapshots,
    result: RetentionResult,
    now: datetime,
    *,
    title: str | None = None,
    deleted_label: str = "deleted",
) -> str:
    """A self-contained SVG: one lane per kept reason family, one grey lane of deleted marks.

    Each kept snapshot is a ``rect`` of class ``kept`` (with a tooltip of its
    reasons); the deleted ones are the segments of one ``path`` of class
    ``deleted`` (``data-count`` holds how many). ``title`` replaces the policy
    as the heading and ``deleted_label`` names the grey lane (``draco status``
    draws real DR copies, where the lane is "due for deletion").
    """
    created = dict(snapshots)
    times = [t for _, t in snapshots] or [now]
    start, end = min(times), max(max(times), now)
    if end - start < timedelta(days=1):
        start, end = start - timedelta(hours=12), end + timedelta(hours=12)
    span = (end - start).total_seconds()

    def x(moment: datetime) -> float:
        return LEFT + (moment - start).total_seconds() / span * (WIDTH - LEFT - RIGHT)

    lanes: dict[str, list[str]] = {f: [] for f in FAMILIES}
    for sid in result.keep:
        lanes[primary_family(result.reasons[sid])].append(sid)
    shown = [f for f in FAMILIES if lanes[f]]
    axis_y = TOP + LANE * (len(shown) + 1) + 6
    notes = [f"{FAMILIES[f][1]}: {FAMILIES[f][2]}" for f in shown if FAMILIES[f][2]]
    height = axis_y + 44 + 16 * len(notes)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="Helvetica, Arial, sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>',
        f'<text x="10" y="20" font-size="15" font-weight="bold">{escape(title or str(policy))}</text>',
        f'<text x="10" y="40" fill="#555555">{escape(_summary(snapshots, result, now, deleted_label))}</text>',
    ]
    for row, name in enumerate(shown):
        y = TOP + row * LANE
        _, label, _, color = FAMILIES[name]
        out.append(
            f'<text x="{LEFT - 8}" y="{y + 12}" text-anchor="end" fill="{color}">'
            f"{escape(label)} ({len(lanes[name])})</text>"
        )
        for sid in lanes[name]:
            tip = f"{sid}  {_stamp(created[sid])}: {', '.join(result.reasons[sid])}"
            out.append(
                f'<rect class="kept {name}" x="{x(created[sid]) - 1.5:.1f}" y="{y}" width="3" '
                f'height="{MARK}" fill="{color}"><title>{escape(tip)}</title></rect>'
            )
    y = TOP + len(shown) * LANE
    segments = "".join(f"M{x(created[sid]):.1f} {y}v{MARK}" for sid in result.delete)
    out.append(
        f'<text x="{LEFT - 8}" y="{y + 12}" text-anchor="end" fill="#777777">'
        f"{escape(deleted_label)} ({len(result.delete)})</text>"
    )
    out.append(
        f'<path class="deleted" data-count="{len(result.delete)}" d="{segments}" '
        f'stroke="{DELETED_COLOR}" stroke-width="1"/>'
    )
    out += _axis(start, end, axis_y, x)
    out += [
        f'<text x="10" y="{axis_y + 52 + 16 * i}" fill="#555555">{escape(note)}</text>' for i, note in enumerate(notes)
    ]
    now_x = x(now)
    out.append(
        f'<line x1="{now_x:.1f}" y1="{TOP - 4}" x2="{now_x:.1f}" y2="{axis_y}" stroke="#d62728" '
        f'stroke-dasharray="3,3"/><text x="{now_x:.1f}" y="{TOP - 7}" text-anchor="end" '
        f'fill="#d62728">now</text>'
    )
    return "\n".join([*out, "</svg>", ""])


def _axis(start: datetime, end: datetime, y: int, x: Callable[[datetime], float]) -> list[str]:
    """A time axis: month ticks labelled to fit, and day ticks when days are wide enough."""
    px_per_day = (WIDTH - LEFT - RIGHT) / ((end - start).total_seconds() / 86400)
    fine = px_per_day * 28 >= 30  # a month is wide enough for its name
    out = [f'<line x1="{LEFT}" y1="{y}" x2="{WIDTH - RIGHT}" y2="{y}" stroke="#333333"/>']
    if px_per_day >= 6:
        label_every = next(n for n in (1, 2, 7, 14) if n * px_per_day >= 18)
        day = datetime(start.year, start.month, start.day, tzinfo=timezone.utc) + timedelta(days=1)
        while day <= end:
            out.append(_tick(x(day), y, 4))
            if (day.day - 1) % label_every == 0 and day.day < 30:
                out.append(_label(x(day), y + 15, str(day.day), "#777777"))
            day += timedelta(days=1)
    ticks = [datetime(yr, mo, 1, tzinfo=timezone.utc) for yr, mo in _months(start.date(), end.date())]
    ticks = [t for t in ticks if t > start]
    named_year = not ticks or x(ticks[0]) - LEFT > 70  # then name where the axis starts too
    if named_year:
        out.append(_label(LEFT, y + 28, _month_label(start, fine, True), "#222222", "start"))
    for tick in ticks:
        out.append(_tick(x(tick), y, 12 if tick.month == 1 else 8))
        if fine or tick.month == 1:
            with_year = tick.month == 1 or not named_year
            out.append(_label(x(tick), y + 28, _month_label(tick, fine, with_year), "#222222", "start"))
            named_year = True
    return out


def _month_label(moment: datetime, fine: bool, with_year: bool) -> str:
    if not fine:
        return str(moment.year)
    return f"{calendar.month_abbr[moment.month]} {moment.year}" if with_year else calendar.month_abbr[moment.month]


def _tick(at_x: float, y: int, length: int) -> str:
    return f'<line x1="{at_x:.1f}" y1="{y}" x2="{at_x:.1f}" y2="{y + length}" stroke="#333333"/>'


def _label(at_x: float, y: int, text: str, color: str, anchor: str = "middle") -> str:
    place = f'x="{at_x:.1f}" y="{y}" text-anchor="{anchor}"'
    return f'<text {place} fill="{color}" font-size="10">{escape(text)}</text>'
